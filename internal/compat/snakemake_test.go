package compat

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// snakefile: a chain a -> b, four parallel jobs, a final job that needs
// them all; a rule that fails; a rule that waits to be cancelled. Every
// rule's shell runs inside srun (Snakemake's job step), and records the
// Slurm variables it saw.
const snakefile = `
rule all:
    input: "final.txt"

rule a:
    output: "a.txt"
    shell: "echo a $SLURM_JOB_ID > {output}"

rule b:
    input: "a.txt"
    output: "b.txt"
    shell: "cat {input} > {output}; echo b $SLURM_JOB_ID >> {output}"

rule par:
    output: "par/{i}.txt"
    shell: "echo {wildcards.i} job=$SLURM_JOB_ID step=$SLURM_STEP_ID procid=$SLURM_PROCID ntasks=$SLURM_NTASKS > {output}"

rule final:
    input: "b.txt", expand("par/{i}.txt", i=range(4))
    output: "final.txt"
    shell: "cat {input} > {output}"

rule fail:
    output: "fail.txt"
    shell: "echo failing on purpose; exit 3"

rule slow:
    output: "slow.txt"
    shell: "echo $SLURM_JOB_ID > slow.started; sleep 600; touch {output}"
`

func TestCompatSnakemake(t *testing.T) {
	need(t, "/usr/bin/snakemake")
	r := newRig(t)
	wf := filepath.Join(r.home, "wf")
	r.mkdir(wf)
	r.mkdir(filepath.Join(r.home, "tmp"))
	r.write(filepath.Join(wf, "Snakefile"), snakefile, 0o644)

	// One run: the chain and the parallel jobs succeed, "fail" fails, and
	// "slow" is cancelled with scancel while it runs; --keep-going lets the
	// rest finish, and Snakemake reports both failures and exits 1.
	sm := r.start(wf, "/usr/bin/snakemake", "--slurm", "--jobs", "10", "--keep-going",
		"--default-resources", "mem_mb=100", "runtime=10", "--max-status-checks-per-second", "5",
		"--latency-wait", "10", "final.txt", "fail.txt", "slow.txt")
	slowID := r.waitFile(filepath.Join(wf, "slow.started"), 5*time.Minute, sm)
	if code, o := r.run(wf, nil, filepath.Join(r.names, "scancel"), slowID); code != 0 {
		t.Errorf("scancel %s: exit %d: %s", slowID, code, o)
	}
	code := sm.wait(t, 10*time.Minute)
	log := sm.out.String()
	t.Logf("snakemake's output:\n%s", tail(log, 120))
	if code != 1 {
		t.Errorf("snakemake exited %d, want 1 (two jobs failed)", code)
	}

	// The chain ran in order, in two jobs; the parallel jobs in four more.
	final := readFile(t, filepath.Join(wf, "final.txt"))
	re := regexp.MustCompile(`^a (\d+)\nb (\d+)\n` +
		`0 job=(\d+) step=0 procid=0 ntasks=1\n1 job=(\d+) step=0 procid=0 ntasks=1\n2 job=(\d+) step=0 procid=0 ntasks=1\n3 job=(\d+) step=0 procid=0 ntasks=1\n$`)
	m := re.FindStringSubmatch(final)
	if m == nil {
		t.Fatalf("final.txt:\n%s", final)
	}
	if m[1] == m[2] {
		t.Errorf("a and b should be two jobs: %q", final)
	}
	jobs := map[string]bool{m[1]: true, m[2]: true}
	for _, id := range m[3:] {
		jobs[id] = true
	}
	if len(jobs) != 6 {
		t.Errorf("want 6 distinct jobs for a, b and par/0-3: %q", final)
	}
	for id := range jobs {
		if got := r.sacct(id); got != id+"|COMPLETED|0:0" {
			t.Errorf("sacct for job %s: %q", id, got)
		}
	}

	// The failing job is reported failed, with its exit code; the
	// cancelled one cancelled.
	mustContain(t, "snakemake's output", log,
		"Error in rule fail:",
		"Error in rule slow:",
		"SLURM status is: 'FAILED'",
		"SLURM status is: 'CANCELLED'",
		"Exiting because a job execution failed.")
	failID := regexp.MustCompile(`SLURM-job '(\d+)' failed, SLURM status is: 'FAILED'`).FindStringSubmatch(log)
	if failID == nil {
		t.Fatal("no failed SLURM-job line")
	}
	// The rule's exit 3 ends the job step's Snakemake with 1, and the
	// batch script with it.
	if got := r.sacct(failID[1]); got != failID[1]+"|FAILED|1:0" {
		t.Errorf("sacct for the failed job: %q", got)
	}
	if got := r.sacct(slowID); !strings.HasPrefix(got, slowID+"|CANCELLED") {
		t.Errorf("sacct for the cancelled job: %q", got)
	}
	for _, f := range []string{"fail.txt", "slow.txt"} {
		if _, err := os.Stat(filepath.Join(wf, f)); err == nil {
			t.Errorf("%s exists", f)
		}
	}
	// The failed job's log (sbatch -o .snakemake/slurm_logs/rule_fail/%j.log).
	mustContain(t, "the failed job's log", readFile(t, filepath.Join(wf, ".snakemake", "slurm_logs", "rule_fail", failID[1]+".log")), "failing on purpose")
}

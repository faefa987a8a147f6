package compat

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// toilWorkflow: in "ok" mode a chain of three jobs (each a follow-on of the
// one before, reading its output) and four parallel children; in "fail"
// mode a job that raises and one that waits to be cancelled.
const toilWorkflow = `
import os, sys, time
from toil.common import Toil
from toil.job import Job

OUT = os.path.dirname(os.path.abspath(__file__))

def write(name, text):
    with open(os.path.join(OUT, name), "w") as f:
        f.write(text)

def read(name):
    with open(os.path.join(OUT, name)) as f:
        return f.read()

def chain(job, i):
    prev = read("chain-%d.txt" % (i - 1)) if i > 0 else ""
    write("chain-%d.txt" % i, prev + "step %d job %s\n" % (i, os.environ.get("SLURM_JOB_ID")))
    if i < 2:
        job.addFollowOnJobFn(chain, i + 1)

def par(job, i):
    write("par-%d.txt" % i, "%d job %s\n" % (i, os.environ.get("SLURM_JOB_ID")))

def fail(job):
    raise RuntimeError("failing on purpose")

def slow(job):
    write("slow.started", os.environ.get("SLURM_JOB_ID", ""))
    time.sleep(600)

def root(job, mode):
    if mode == "ok":
        job.addChildJobFn(chain, 0)
        for i in range(4):
            job.addChildJobFn(par, i)
    else:
        job.addChildJobFn(fail)
        job.addChildJobFn(slow)

if __name__ == "__main__":
    parser = Job.Runner.getDefaultArgumentParser()
    parser.add_argument("--mode", default="ok")
    options = parser.parse_args()
    with Toil(options) as t:
        t.start(Job.wrapJobFn(root, options.mode))
`

func toilArgs(wf, store, mode string) []string {
	return []string{filepath.Join(wf, "workflow.py"), "file:" + filepath.Join(wf, store),
		"--mode", mode, "--batchSystem", "slurm", "--retryCount", "0", "--statePollingWait", "1",
		"--defaultMemory", "100M", "--defaultDisk", "10M", "--defaultCores", "1",
		"--workDir", filepath.Join(wf, "work"), "--clean", "never", "--logLevel", "INFO",
		"--disableChaining"} // each job its own Slurm job, the chain too
}

func TestCompatToil(t *testing.T) {
	need(t, "/usr/bin/toil", "/usr/bin/_toil_worker")
	r := newRig(t)
	wf := filepath.Join(r.home, "wf")
	r.mkdir(wf)
	r.mkdir(filepath.Join(wf, "work"))
	r.mkdir(filepath.Join(r.home, "tmp"))
	r.write(filepath.Join(wf, "workflow.py"), toilWorkflow, 0o644)

	// The chain and the parallel jobs.
	code, log := r.run(wf, nil, "/usr/bin/python3", toilArgs(wf, "js-ok", "ok")...)
	t.Logf("toil (ok) output:\n%s", tail(log, 60))
	if code != 0 {
		t.Fatalf("toil (ok) exited %d", code)
	}
	chain := readFile(t, filepath.Join(wf, "chain-2.txt"))
	m := regexp.MustCompile(`^step 0 job (\d+)\nstep 1 job (\d+)\nstep 2 job (\d+)\n$`).FindStringSubmatch(chain)
	if m == nil || m[1] == m[2] || m[2] == m[3] {
		t.Errorf("chain-2.txt: three jobs in order, each its own Slurm job:\n%s", chain)
	}
	ids := map[string]bool{}
	for _, id := range m[1:] {
		ids[id] = true
	}
	for i := range 4 {
		p := readFile(t, filepath.Join(wf, "par-"+string(rune('0'+i))+".txt"))
		if pm := regexp.MustCompile(`^\d job (\d+)\n$`).FindStringSubmatch(p); pm != nil {
			ids[pm[1]] = true
		} else {
			t.Errorf("par-%d.txt: %q", i, p)
		}
	}
	if len(ids) != 7 {
		t.Errorf("want 7 distinct Slurm jobs, got %v", ids)
	}
	for id := range ids {
		if got := r.sacct(id); got != id+"|COMPLETED|0:0" {
			t.Errorf("sacct for job %s: %q", id, got)
		}
	}

	// A failing job and a cancelled one: Toil reports both and fails.
	tl := r.start(wf, "/usr/bin/python3", toilArgs(wf, "js-fail", "fail")...)
	slowID := r.waitFile(filepath.Join(wf, "slow.started"), 5*time.Minute, tl)
	if code, o := r.run(wf, nil, filepath.Join(r.names, "scancel"), slowID); code != 0 {
		t.Errorf("scancel %s: exit %d: %s", slowID, code, o)
	}
	code = tl.wait(t, 10*time.Minute)
	log = tl.out.String()
	t.Logf("toil (fail) output:\n%s", tail(log, 80))
	if code == 0 {
		t.Errorf("toil (fail) exited 0")
	}
	mustContain(t, "toil's output", log, "failing on purpose", "FailedJobsException")
	if n := strings.Count(log, "exit code 143") + strings.Count(log, "exit value 143"); n == 0 {
		t.Errorf("toil does not report the cancelled job (exit 143):\n%s", tail(log, 80))
	}
	if got := r.sacct(slowID); !strings.HasPrefix(got, slowID+"|CANCELLED") {
		t.Errorf("sacct for the cancelled job: %q", got)
	}
	if _, err := os.Stat(filepath.Join(wf, "slow.done")); err == nil {
		t.Error("the cancelled job ran to its end")
	}
}

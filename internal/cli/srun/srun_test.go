package srun

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/cli"
)

// testEnv is a Factory inside job 7 on node n1 with 4 CPUs, working in dir.
type testEnv struct {
	f    *cli.Factory
	vars map[string]string
}

func newTestEnv(t *testing.T, dir string) *testEnv {
	ios, _, out, errOut := cli.Test()
	e := &testEnv{vars: map[string]string{
		"RCQ_JOB_ID": "7", "SLURM_JOB_ID": "7", "SLURM_JOB_NAME": "sim", "RCQ_WORKER": "n1.lab",
		"SLURM_CPUS_ON_NODE": "4", "USER": "ann", "PATH": os.Getenv("PATH"), "TMPDIR": dir,
		"SLURM_JOB_START_TIME": "1700000000", "HOME": "/home/ann",
	}}
	f := cli.NewFactory("srun", ios)
	f.Getenv = func(k string) string { return e.vars[k] }
	f.Environ = func() []string {
		var env []string
		for k, v := range e.vars {
			env = append(env, k+"="+v)
		}
		return env
	}
	f.Getwd = func() (string, error) { return dir, nil }
	e.f = f
	_ = out
	_ = errOut
	return e
}

func (e *testEnv) run(args ...string) (int, string, string) {
	ios, _, out, errOut := cli.Test()
	e.f.IO = ios
	code := cli.Run(context.Background(), e.f, NewRootCmd(e.f), args)
	return code, out.String(), errOut.String()
}

func TestFlagParsing(t *testing.T) {
	e := newTestEnv(t, t.TempDir())
	var got *Options
	code := cli.Run(context.Background(), e.f, NewCmd(e.f, func(o *Options) error { got = o; return nil }),
		[]string{"-n", "4", "-c2", "--cpu-bind=q", "-u", "-o", "out-%t", "-J", "step", "-lK", "--export=ALL,A=1", "prog", "-n", "9", "--x"})
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := &Options{F: e.f, NTasks: 4, CPUsPerTask: 2, CPUBind: "q", Output: "out-%t", JobName: "step", Label: true, KillOnBadExit: 1,
		Export: "ALL,A=1", Argv: []string{"prog", "-n", "9", "--x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("options = %+v\nwant %+v", got, want)
	}
	// SLURM_NTASKS and SRUN_CPUS_PER_TASK are the defaults, as in Slurm;
	// SLURM_CPUS_PER_TASK (the job's) is not.
	e.vars["SLURM_NTASKS"], e.vars["SRUN_CPUS_PER_TASK"], e.vars["SLURM_CPUS_PER_TASK"] = "3", "1", "4"
	cli.Run(context.Background(), e.f, NewCmd(e.f, func(o *Options) error { got = o; return nil }), []string{"true"})
	if got.NTasks != 3 || got.CPUsPerTask != 1 {
		t.Errorf("defaults from the environment: %+v", got)
	}
}

func TestRefused(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--pty", "bash"}, "srun: --pty is not supported"},
		{[]string{"-N", "2", "true"}, "srun: --nodes 2: rcq runs a job step on the job's one node"},
		{[]string{"--nodes=2-4", "true"}, "srun: --nodes 2-4"},
		{[]string{"--multi-prog", "conf"}, "srun: --multi-prog is not supported"},
		{[]string{"--mpi=pmix", "true"}, "srun: --mpi=pmix is not supported"},
		{[]string{"--jobid", "8", "true"}, "srun: --jobid 8: rcq's srun runs steps only in its own job, 7"},
		{[]string{"-w", "other", "true"}, "srun: --nodelist other: this job runs on n1.lab only"},
		{[]string{"-n", "0", "true"}, "srun: --ntasks: give a number of tasks of 1 or more"},
		{[]string{"--export=1BAD", "true"}, "srun: --export: \"1BAD\" is not a variable name"},
		{[]string{"--frobnicate", "true"}, "srun: unknown flag: --frobnicate"},
		{[]string{}, "srun: no command given"},
	} {
		e := newTestEnv(t, t.TempDir())
		code, out, errOut := e.run(c.args...)
		if code != cli.ExitUsage || out != "" || !strings.HasPrefix(errOut, c.msg) {
			t.Errorf("srun %q: exit %d, stdout %q, stderr %q; want 2 and %q", c.args, code, out, errOut, c.msg)
		}
	}
	// Accepted: one node, this node, this job, no MPI.
	e := newTestEnv(t, t.TempDir())
	if code, _, errOut := e.run("-N", "1", "-w", "n1.lab", "--jobid", "7", "--mpi=none", "true"); code != 0 || errOut != "" {
		t.Errorf("accepted options: exit %d, %q", code, errOut)
	}
}

func TestOutsideAJob(t *testing.T) {
	e := newTestEnv(t, t.TempDir())
	delete(e.vars, "RCQ_JOB_ID")
	e.vars["SLURM_JOB_ID"] = "99" // a real Slurm job's: still not ours
	marker := filepath.Join(t.TempDir(), "ran")
	code, _, errOut := e.run("touch", marker)
	if code != cli.ExitUsage || !strings.HasPrefix(errOut, "srun: not inside an rcq job (RCQ_JOB_ID is not set)") {
		t.Errorf("exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the command ran outside a job")
	}
}

func TestIgnoredOptionsWarnOnce(t *testing.T) {
	e := newTestEnv(t, t.TempDir())
	code, _, errOut := e.run("--mem", "1G", "--mem=2G", "-p", "rcq", "--exclusive", "-u", "--cpu-bind=cores", "-v", "true")
	want := []string{
		"srun: warning: --cpu-bind=cores is not supported by rcq's srun and is ignored: the tasks share the job's CPUs",
		"srun: warning: --exclusive is not supported by rcq's srun and is ignored",
		"srun: warning: --mem is not supported by rcq's srun and is ignored",
		"srun: warning: --partition is not supported by rcq's srun and is ignored",
	}
	got := strings.Split(strings.TrimSpace(errOut), "\n")
	slices.Sort(got)
	if code != 0 || !slices.Equal(got, want) {
		t.Errorf("exit %d, warnings:\n%s", code, errOut)
	}
}

func TestTasks(t *testing.T) {
	dir := t.TempDir()
	e := newTestEnv(t, dir)
	code, out, errOut := e.run("-n", "3", "-c", "1", "sh", "-c", `echo "$SLURM_PROCID/$SLURM_LOCALID/$SLURM_NTASKS/$SLURM_STEP_ID/$SLURM_CPUS_PER_TASK/$SLURM_STEP_NODELIST/$SLURM_GTIDS/$RCQ_TASK_ID"`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(lines)
	want := []string{"0/0/3/0/1/n1.lab/0,1,2/0", "1/1/3/0/1/n1.lab/0,1,2/1", "2/2/3/0/1/n1.lab/0,1,2/2"}
	if code != 0 || errOut != "" || !slices.Equal(lines, want) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// The next step is 1, and -o with %t gives each task its file, %J the
	// step; stderr follows stdout.
	code, out, _ = e.run("-n", "2", "-o", "o-%J-%2t-%x-%u-%N.txt", "sh", "-c", `echo "out $SLURM_PROCID"; echo "err $SLURM_PROCID" >&2`)
	if code != 0 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	for _, task := range []string{"0", "1"} {
		b, err := os.ReadFile(filepath.Join(dir, "o-7.1-0"+task+"-sim-ann-n1.txt"))
		if err != nil || string(b) != "out "+task+"\nerr "+task+"\n" {
			t.Errorf("task %s's file: %q %v", task, b, err)
		}
	}
	// Without %t the tasks share one file; -e splits stderr off.
	code, _, _ = e.run("-n", "2", "-o", "all.txt", "-e", "none", "sh", "-c", `echo "x"; echo "hidden" >&2`)
	if b, _ := os.ReadFile(filepath.Join(dir, "all.txt")); code != 0 || string(b) != "x\nx\n" {
		t.Errorf("shared file: exit %d, %q", code, b)
	}
}

func TestWorstExitCode(t *testing.T) {
	e := newTestEnv(t, t.TempDir())
	code, _, errOut := e.run("-n", "4", "sh", "-c", `exit $((SLURM_PROCID * 2))`)
	want := "srun: error: n1.lab: task 1: Exited with exit code 2\nsrun: error: n1.lab: task 2: Exited with exit code 4\nsrun: error: n1.lab: task 3: Exited with exit code 6\n"
	if code != 6 || errOut != want {
		t.Errorf("exit %d, %q", code, errOut)
	}
	// A signal counts as 128+N, above any exit code below it.
	code, _, errOut = e.run("-n", "2", "sh", "-c", `test $SLURM_PROCID = 0 && kill -TERM $$; exit 100`)
	if code != 143 || !strings.Contains(errOut, "task 0: Terminated") {
		t.Errorf("signal: exit %d, %q", code, errOut)
	}
	// --kill-on-bad-exit ends the others when one fails.
	code, _, errOut = e.run("-K", "-n", "2", "sh", "-c", `test $SLURM_PROCID = 0 && exit 5; exec sleep 60`)
	if code != 137 || !strings.Contains(errOut, "task 1: Killed") {
		t.Errorf("kill on bad exit: exit %d, %q", code, errOut)
	}
	code, _, errOut = e.run("/nonexistent/prog")
	if code != 2 || errOut != "srun: error: n1.lab: task 0: execve(): /nonexistent/prog: No such file or directory\n" {
		t.Errorf("missing program: exit %d, %q", code, errOut)
	}
}

func TestLabel(t *testing.T) {
	e := newTestEnv(t, t.TempDir())
	code, out, _ := e.run("-l", "-n", "2", "sh", "-c", `printf 'a\nb'`)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(lines)
	if code != 0 || !slices.Equal(lines, []string{"0: a", "0: b", "1: a", "1: b"}) {
		t.Errorf("exit %d, %q", code, out)
	}
}

func TestTooManyCPUs(t *testing.T) {
	e := newTestEnv(t, t.TempDir())
	code, _, errOut := e.run("-n", "3", "-c", "2", "true")
	if code != 1 || !strings.HasPrefix(errOut, "srun: error: Unable to create step for job 7: More processors requested than permitted") {
		t.Errorf("exit %d, %q", code, errOut)
	}
	if code, _, _ := e.run("-O", "-n", "3", "-c", "2", "true"); code != 0 {
		t.Errorf("--overcommit: exit %d", code)
	}
}

func TestExpand(t *testing.T) {
	s := &step{JobID: "42", StepID: 3, Node: "n1.lab", JobName: "a/b", User: "ann", ArrayID: "40", Index: "2"}
	for p, want := range map[string]string{
		"plain":               "plain",
		"%j-%J-%s-%t-%n-%N":   "42-42.3-3-5-0-n1",
		"%4t-%3j":             "0005-042",
		"%x-%u-%A_%a-%%-%q":   "a_b-ann-40_2-%-%q",
		"end%":                "end%",
		"%2%":                 "%2%",
		"slurm-%j.%t.out.log": "slurm-42.5.out.log",
	} {
		if got := s.expand(p, 5); got != want {
			t.Errorf("expand(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestExportEnv(t *testing.T) {
	base := []string{"HOME=/h", "PATH=/bin", "SLURM_JOB_ID=7", "RCQ_JOB_ID=7", "X=1"}
	for export, want := range map[string][]string{
		"":                base,
		"ALL":             base,
		"ALL,Y=2,Z=a,1,2": append(slices.Clone(base), "Y=2", "Z=a,1,2"),
		"NONE":            {"SLURM_JOB_ID=7", "RCQ_JOB_ID=7"},
		"X,Y=3":           {"SLURM_JOB_ID=7", "RCQ_JOB_ID=7", "X=1", "Y=3"},
		"NONE,X=9":        {"SLURM_JOB_ID=7", "RCQ_JOB_ID=7", "X=9"},
	} {
		got := exportEnv(base, export)
		slices.Sort(got)
		w := slices.Clone(want)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("--export=%s: %q, want %q", export, got, w)
		}
	}
}

func TestStepIDsCount(t *testing.T) {
	e := newTestEnv(t, t.TempDir())
	for want := range 3 {
		if got := nextStepID(e.f); got != want {
			t.Errorf("step %d, want %d", got, want)
		}
	}
	// Another job (or the same id after a restart: another start time)
	// starts again at 0.
	e.vars["SLURM_JOB_START_TIME"] = "1700000001"
	if got := nextStepID(e.f); got != 0 {
		t.Errorf("another job's first step is %d", got)
	}
}

package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rcq-project/rcq/internal/rcq"
)

func newJob(id rcq.JobID, dir, script string) *rcq.Job {
	return &rcq.Job{ID: id, Name: "t" + strconv.Itoa(int(id)), Script: script, WorkingDir: dir, UnixUser: testUser(), Umask: rcq.DefaultUmask}
}

func gone(pid int) bool {
	err := unix.Kill(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return true
	}
	// A zombie still answers kill(0): look at its state.
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] == 'Z'
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	startExec(t, st, t.TempDir(), nil)
	cases := []struct {
		script   string
		state    rcq.JobState
		reason   string
		code     int
		signal   string
		scriptOK bool
	}{
		{"#!/bin/sh\nexit 0\n", rcq.JobCompleted, rcq.ReasonNone, 0, "", true},
		{"exit 1\n", rcq.JobFailed, rcq.ReasonNonZeroExit, 1, "", true},
		{"#!/bin/bash\nkill -9 $$\n", rcq.JobFailed, rcq.ReasonNonZeroExit, 137, "KILL", true},
		{"#!/bin/sh\nexit 137\n", rcq.JobFailed, rcq.ReasonNonZeroExit, 137, "", true},
		// Signals reach the job with their default actions (none ignored).
		{"#!/bin/bash\nkill -PIPE $$\necho survived\n", rcq.JobFailed, rcq.ReasonNonZeroExit, 141, "PIPE", true},
		{"#!/bin/bash\nkill -HUP $$\necho survived\n", rcq.JobFailed, rcq.ReasonNonZeroExit, 129, "HUP", true},
	}
	for i, c := range cases {
		st.add(newJob(rcq.JobID(i+1), dir, c.script))
	}
	for i, c := range cases {
		j := st.wait(t, rcq.JobID(i+1), 30*time.Second)
		if j.State != c.state || j.Reason != c.reason || j.ExitCode == nil || *j.ExitCode != c.code || j.Signal != c.signal {
			t.Errorf("job %d (%q): state %s reason %s code %v signal %q; want %s %s %d %q",
				j.ID, c.script, j.State, j.Reason, deref(j.ExitCode), j.Signal, c.state, c.reason, c.code, c.signal)
		}
		if n := st.finishCount(j.ID); n != 1 {
			t.Errorf("job %d finished %d times", j.ID, n)
		}
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestEnvironmentWorkingDirStdinAndUser(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	startExec(t, st, t.TempDir(), nil)
	j := newJob(7, dir, `#!/bin/bash
#SBATCH -J ignored
echo "args=$*"
echo "pwd=$(pwd)"
echo "stdin=$(readlink /proc/$$/fd/0)"
echo "uid=$(id -u)"
echo "groups=$(id -G)"
env | sort
`)
	j.Args = []string{"a b", "c"}
	j.Env = []string{"FOO=bar baz", "PATH=/usr/bin:/bin", "RCQ_DATABASE_URL=postgres://secret", "DATABASE_URL=x",
		"JWT_SECRET=s3cret", "RCQ_JWT_SECRET=s3cret", "RCQ_ADMIN_PASSWORD_FILE=/root/pw", "SLURM_JOB_ID=999"}
	j.Resources = rcq.Resources{CPUCores: 2, MemoryGB: 3, GPUs: 2}
	j.GPUIndices = []int{0, 2}
	j.EstimatedHours = 2
	st.add(j)
	got := st.wait(t, 7, 30*time.Second)
	if got.State != rcq.JobCompleted {
		t.Fatalf("state %s reason %s", got.State, got.Reason)
	}
	out := readFile(t, filepath.Join(dir, "rcq-7.out"))
	want := []string{
		"args=a b c", "pwd=" + dir, "stdin=/dev/null",
		"FOO=bar baz", "RCQ_JOB_ID=7", "RCQ_JOB_NAME=t7", "RCQ_SUBMIT_DIR=" + dir, "RCQ_CPUS=2",
		"RCQ_MEM_GB=3", "RCQ_GPUS=2", "RCQ_WORKER=w1", "RCQ_TIME_LIMIT_SECONDS=7200",
		"CUDA_VISIBLE_DEVICES=0,2", "SLURM_JOB_ID=7", "SLURM_JOB_NAME=t7", "SLURM_CPUS_PER_TASK=2",
		"SLURM_CPUS_ON_NODE=2", "SLURM_SUBMIT_DIR=" + dir, "SLURM_MEM_PER_NODE=3072", "SLURM_JOB_GPUS=0,2",
		"SLURM_JOB_START_TIME=", "SLURM_JOB_END_TIME=",
	}
	if os.Geteuid() == 0 {
		want = append(want, "uid=65534", "groups=65534")
	}
	for _, w := range want {
		if !strings.Contains(out, "\n"+w) && !strings.HasPrefix(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	for _, bad := range []string{"secret", "DATABASE_URL", "JWT_SECRET", "ADMIN_PASSWORD", "SLURM_JOB_ID=999"} {
		if strings.Contains(out, bad) {
			t.Errorf("job saw %q:\n%s", bad, out)
		}
	}
}

func TestOutputPatternsAndErrorFile(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	startExec(t, st, t.TempDir(), nil)
	j := newJob(42, dir, "#!/bin/sh\necho to-out\necho to-err >&2\n")
	j.Name = "train"
	j.Output = "o-%x-%6j-%u-%%.log"
	j.Error = dir + "/e-%j.log"
	st.add(j)
	if got := st.wait(t, 42, 30*time.Second); got.State != rcq.JobCompleted {
		t.Fatalf("state %s", got.State)
	}
	u := testUser()
	if u == "" {
		u = "alice"
	}
	if out := readFile(t, filepath.Join(dir, "o-train-000042-"+u+"-%.log")); out != "to-out\n" {
		t.Errorf("stdout file holds %q", out)
	}
	if out := readFile(t, filepath.Join(dir, "e-42.log")); out != "to-err\n" {
		t.Errorf("stderr file holds %q", out)
	}
	if os.Geteuid() == 0 {
		var s unix.Stat_t
		unix.Stat(filepath.Join(dir, "e-42.log"), &s)
		if s.Uid != 65534 {
			t.Errorf("output file owned by uid %d, want the job's user 65534", s.Uid)
		}
	}
}

func TestLaunchFailures(t *testing.T) {
	t.Parallel()
	st := newMemStore()
	startExec(t, st, t.TempDir(), nil)
	st.add(newJob(3, "/nonexistent/rcq-test", "true\n"))
	dir := openDir(t)
	st.add(newJob(4, dir, "#!/nonexistent/interpreter\ntrue\n"))
	for _, id := range []rcq.JobID{3, 4} {
		j := st.wait(t, id, 30*time.Second)
		if j.State != rcq.JobFailed || j.Reason != rcq.ReasonLaunchFailed {
			t.Errorf("job %d: state %s reason %s, want failed LaunchFailed", id, j.State, j.Reason)
		}
	}
	if out := readFile(t, filepath.Join(dir, "rcq-4.out")); !strings.Contains(out, "cannot start interpreter /nonexistent/interpreter") {
		t.Errorf("the output file does not say why job 4 failed: %q", out)
	}
}

func TestTimeLimitIgnoringTERM(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	startExec(t, st, t.TempDir(), nil)
	j := newJob(5, dir, "#!/bin/bash\ntrap '' TERM\nsleep 600 &\necho $! > child.pid\nwait\nwait\n")
	j.EstimatedHours = 1.0 / 3600 // one second; the grace is one second too
	st.add(j)
	child, _ := strconv.Atoi(waitFile(t, filepath.Join(dir, "child.pid"), 30*time.Second))
	got := st.wait(t, 5, 60*time.Second)
	if got.State != rcq.JobTimeout || got.Reason != rcq.ReasonTimeLimit || got.Signal != "KILL" {
		t.Fatalf("state %s reason %s signal %q, want timeout TimeLimit KILL", got.State, got.Reason, got.Signal)
	}
	if !gone(child) {
		t.Errorf("background process %d survived the time limit", child)
	}
}

func TestCancelKillsGrandchild(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	e := startExec(t, st, t.TempDir(), nil)
	// The grandchild even leaves the job's process group: the supervisor, a
	// subreaper, still finds and kills it.
	st.add(newJob(9, dir, "#!/bin/bash\nsleep 600 &\necho $! > child.pid\nsetsid sleep 600 &\necho $! > escaped.pid\nwait\n"))
	child, _ := strconv.Atoi(waitFile(t, filepath.Join(dir, "child.pid"), 30*time.Second))
	escaped, _ := strconv.Atoi(waitFile(t, filepath.Join(dir, "escaped.pid"), 30*time.Second))
	st.cancel(9)
	e.Notify()
	got := st.wait(t, 9, 30*time.Second)
	if got.State != rcq.JobCancelled {
		t.Fatalf("state %s", got.State)
	}
	o := st.outcome(9)
	if o.State != rcq.JobCancelled || o.Reason != rcq.ReasonCancelledByUser || o.Signal != "TERM" {
		t.Errorf("outcome %+v, want cancelled CancelledByUser TERM", o)
	}
	for _, p := range []int{child, escaped} {
		if !gone(p) {
			t.Errorf("process %d survived the cancel", p)
		}
	}
}

func TestCancelledBeforeLaunch(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	j := newJob(4, dir, "#!/bin/sh\ntouch ran\n")
	st.add(j)
	st.cancel(4)
	startExec(t, st, t.TempDir(), nil)
	got := st.wait(t, 4, 30*time.Second)
	if got.State != rcq.JobCancelled || got.ExitCode != nil {
		t.Fatalf("state %s code %v", got.State, deref(got.ExitCode))
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("a job cancelled before launch ran")
	}
}

// TestAffinity: a one-core job runs on one CPU, by its CPU affinity or
// (cgroup v1) its cpuset.
func TestAffinity(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	e := startExec(t, st, t.TempDir(), nil)
	if _, v2 := e.cgroups.(cgroupV2); v2 {
		t.Skip("cgroup v2 limits CPU with cpu.max here, not a pinning: " + e.Enforcement())
	}
	if len(allowedCPUs()) < 2 {
		t.Skip("needs two CPUs to see a pinning")
	}
	st.add(newJob(1, dir, "#!/bin/sh\ngrep Cpus_allowed_list /proc/self/status\n"))
	st.wait(t, 1, 30*time.Second)
	out := readFile(t, filepath.Join(dir, "rcq-1.out"))
	f := strings.Fields(out)
	if len(f) != 2 || strings.ContainsAny(f[1], ",-") {
		t.Errorf("a one-core job may run on %q, want one CPU", out)
	}
}

func TestPickCPUs(t *testing.T) {
	got := pickCPUs([]int{0, 1, 2, 3}, map[int]int{0: 2, 1: 0, 2: 1, 3: 0}, 2)
	if fmt.Sprint(got) != "[1 3]" {
		t.Errorf("pickCPUs = %v, want the two idle CPUs [1 3]", got)
	}
	if got := pickCPUs([]int{0, 1}, nil, 8); fmt.Sprint(got) != "[0 1]" {
		t.Errorf("pickCPUs over capacity = %v", got)
	}
}

// TestCancelRacingLaunch cancels jobs at once after they are started: however
// the cancel meets the launch, each ends cancelled exactly once, never lost.
func TestCancelRacingLaunch(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	e := startExec(t, st, t.TempDir(), nil)
	const n = 20
	for i := range rcq.JobID(n) {
		st.add(newJob(100+i, dir, "#!/bin/sh\nsleep 600\n"))
		e.Notify()
		if i%2 == 1 {
			runtime.Gosched()
		}
		st.cancel(100 + i)
		e.Notify()
	}
	for i := range rcq.JobID(n) {
		j := st.wait(t, 100+i, 60*time.Second)
		if j.State != rcq.JobCancelled || st.outcome(j.ID).Reason != rcq.ReasonCancelledByUser {
			t.Errorf("job %d: state %s, outcome %+v; want cancelled by the user", j.ID, j.State, st.outcome(j.ID))
		}
		if c := st.finishCount(j.ID); c != 1 {
			t.Errorf("job %d finished %d times", j.ID, c)
		}
	}
}

package executor

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// waitExists waits for a file another process creates.
func waitExists(t *testing.T, path string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not created within %v", path, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRestartAdoptsAndFinishes drops an Executor while its jobs run (as a
// killed rcqd would), lets things happen while none runs, and checks that a
// new Executor on the same state directory ends every job in its true state.
func TestRestartAdoptsAndFinishes(t *testing.T) {
	t.Parallel()
	st, dir, state := newMemStore(), openDir(t), t.TempDir()
	wait := func(name string) string {
		return "echo $$ > " + name + ".started\nwhile [ ! -e go-" + name + " ]; do sleep 0.05; done\n"
	}
	jobs := map[rcq.JobID]string{
		1: "#!/bin/bash\n" + wait("a") + "exit 7\n",                                   // exits while no rcqd runs
		2: "#!/bin/bash\n" + wait("b") + "exit 0\n",                                   // exits after adoption
		3: "#!/bin/bash\nsleep 600 &\necho $! > c.child\necho $$ > c.started\nwait\n", // cancelled after adoption
		4: "#!/bin/bash\nsleep 600 &\necho $! > d.child\necho $$ > d.started\nwait\n", // its supervisor is killed
		5: "#!/bin/bash\ntrap '' TERM\necho $$ > e.started\nsleep 600\n",              // time limit after adoption
	}
	for id, script := range jobs {
		j := newJob(id, dir, script)
		if id == 5 {
			j.EstimatedHours = 3.0 / 3600
		}
		st.add(j)
	}
	first := startExec(t, st, state, nil)
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		waitFile(t, filepath.Join(dir, n+".started"), 30*time.Second)
	}
	first.stop() // rcqd goes away; the jobs keep running

	// While no rcqd runs: job 1 exits, job 4's supervisor dies by kill -9,
	// and the scheduler starts job 6 on this node.
	os.WriteFile(filepath.Join(dir, "go-a"), nil, 0o644)
	waitExists(t, filepath.Join(state, "jobs", "1", statusFile), 30*time.Second)
	supPid, _, err := readPid(filepath.Join(state, "jobs", "4", pidFile))
	if err != nil {
		t.Fatal(err)
	}
	syscall.Kill(supPid, syscall.SIGKILL)
	var ws syscall.WaitStatus
	syscall.Wait4(supPid, &ws, 0, nil) // the test process is its parent here
	dChild, _ := strconv.Atoi(waitFile(t, filepath.Join(dir, "d.child"), time.Second))
	st.add(newJob(6, dir, "#!/bin/sh\nexit 0\n"))
	// Job 7 was started before the machine booted (its directory is gone
	// with a tmpfs run directory): it cannot have survived the reboot.
	st.add(newJob(7, dir, "#!/bin/sh\ntouch ran-7\n"))
	st.mu.Lock()
	before := bootTime().Add(-time.Minute)
	st.jobs[7].StartedAt = &before
	st.mu.Unlock()

	second := startExec(t, st, state, nil)

	check := func(id rcq.JobID, state rcq.JobState, reason string, code any) {
		t.Helper()
		j := st.wait(t, id, 60*time.Second)
		if j.State != state || j.Reason != reason || deref(j.ExitCode) != code {
			t.Errorf("job %d: state %s reason %s code %v; want %s %s %v", id, j.State, j.Reason, deref(j.ExitCode), state, reason, code)
		}
	}
	check(1, rcq.JobFailed, rcq.ReasonNonZeroExit, 7)
	check(4, rcq.JobFailed, rcq.ReasonWorkerLost, nil)
	waitGone(t, dChild, "job 4's process, after its supervisor was lost")
	check(6, rcq.JobCompleted, rcq.ReasonNone, 0)
	check(7, rcq.JobFailed, rcq.ReasonWorkerLost, nil)
	if _, err := os.Stat(filepath.Join(dir, "ran-7")); err == nil {
		t.Error("a job started before the machine booted was launched again")
	}

	os.WriteFile(filepath.Join(dir, "go-b"), nil, 0o644)
	check(2, rcq.JobCompleted, rcq.ReasonNone, 0)

	cChild, _ := strconv.Atoi(waitFile(t, filepath.Join(dir, "c.child"), time.Second))
	st.cancel(3)
	second.Notify()
	check(3, rcq.JobCancelled, rcq.ReasonCancelledByUser, 128+int(syscall.SIGTERM))
	waitGone(t, cChild, "job 3's process, after the cancel")
	check(5, rcq.JobTimeout, rcq.ReasonTimeLimit, 128+int(syscall.SIGKILL))

	for id := range rcq.JobID(8) {
		if id > 0 && st.finishCount(id) != 1 {
			t.Errorf("job %d finished %d times, want once", id, st.finishCount(id))
		}
	}
	second.stop() // lets its last goroutines finish their clean-up
	entries, _ := os.ReadDir(filepath.Join(state, "jobs"))
	for _, e := range entries {
		t.Errorf("job directory %s left after every job ended", e.Name())
	}
}

// waitGone waits for an external process to die (SIGKILL is delivered
// asynchronously).
func waitGone(t *testing.T, pid int, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Errorf("%s (pid %d) still alive", what, pid)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

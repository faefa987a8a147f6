package executor

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// nodeFail ends job id node_fail in the store, as the scheduler's sweep does
// while this node's rcqd is cut off.
func (s *memStore) nodeFail(id rcq.JobID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	j := s.jobs[id]
	j.State, j.Reason, j.CompletedAt = rcq.JobNodeFail, rcq.ReasonNodeFail, &now
	close(s.changed)
	s.changed = make(chan struct{})
}

// A job the store ended node_fail while its supervisor still ran here (this
// rcqd was paused) is killed on the next pass, without a grace period, and
// its end is not recorded over the decision.
func TestStaleRunKilled(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	e := startExec(t, st, t.TempDir(), func(c *Config) { c.KillGrace = time.Hour })
	st.add(newJob(5, dir, "#!/bin/sh\necho $$ > job.pid\nexec sleep 600\n"))
	pid, _ := strconv.Atoi(waitFile(t, filepath.Join(dir, "job.pid"), 30*time.Second))
	st.nodeFail(5)
	e.Notify()
	deadline := time.Now().Add(30 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("job process %d still runs 30 s after its job ended node_fail", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling an external process
	}
	if j := st.wait(t, 5, time.Second); j.State != rcq.JobNodeFail || j.ExitCode != nil {
		t.Errorf("job after the kill: %s exit %v, want node_fail without an exit code", j.State, j.ExitCode)
	}
}

// At start, a job directory whose job the store no longer gives this node
// (ended node_fail or requeued while no rcqd ran here) has its supervisor
// and job killed and is removed.
func TestOrphanStoppedAtStart(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	state := t.TempDir()
	first := startExec(t, st, state, func(c *Config) { c.KillGrace = time.Hour })
	st.add(newJob(6, dir, "#!/bin/sh\necho $$ > job.pid\nexec sleep 600\n"))
	pid, _ := strconv.Atoi(waitFile(t, filepath.Join(dir, "job.pid"), 30*time.Second))
	first.stop() // rcqd dies; the supervisor lives on
	if gone(pid) {
		t.Fatal("the job died with its executor")
	}
	st.nodeFail(6)
	startExec(t, st, state, nil)
	deadline := time.Now().Add(30 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("job process %d still runs 30 s after a new rcqd started", pid)
		}
		time.Sleep(10 * time.Millisecond) // polling an external process
	}
	jobDir := filepath.Join(state, jobsSubdir, "6")
	for {
		if _, err := os.Stat(jobDir); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not removed", jobDir)
		}
		time.Sleep(10 * time.Millisecond) // polling the directory the executor removes
	}
}

// A job requeued while no rcqd ran here and placed here again: the new rcqd
// finds the earlier run's directory (and its supervisor still running),
// kills that run, and launches the current one. One copy at a time.
func TestEarlierRunStoppedBeforeRelaunch(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	state := t.TempDir()
	first := startExec(t, st, state, func(c *Config) { c.KillGrace = time.Hour })
	st.add(newJob(7, dir, "#!/bin/sh\necho $$ >> runs\nexec sleep 600\n"))
	old, _ := strconv.Atoi(waitFile(t, filepath.Join(dir, "runs"), 30*time.Second))
	first.stop()
	st.mu.Lock()
	st.jobs[7].Restarts = 1 // requeued, and started here again
	delete(st.launchedBy, 7)
	st.mu.Unlock()
	startExec(t, st, state, nil)
	deadline := time.Now().Add(30 * time.Second)
	for {
		pids := strings.Fields(readFile(t, filepath.Join(dir, "runs")))
		if len(pids) == 2 {
			if !gone(old) {
				t.Errorf("run 0 (pid %d) still runs beside run 1 (pid %s)", old, pids[1])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs %q: run 1 was not launched", pids)
		}
		time.Sleep(10 * time.Millisecond) // polling a file a job writes
	}
}

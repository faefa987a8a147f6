package executor

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// TestRequeueWithPostgres: requeues by hand through the real store, with
// real processes. A running job requeued has its run killed at once (the
// store no longer gives it to this node; no grace, so a kill grace of an
// hour changes nothing) and that run's end is not recorded; started again,
// it runs a second time under its id. A job that ended here and was
// requeued and started again before this executor looked runs again too.
// The executor passes only when told (a tick of an hour), as rcqd tells it
// on the store's job_cancelled and jobs_started events.
func TestRequeueWithPostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const node = "node-rq"
	p := newPGNode(t, ctx, node, 8)
	st, worker, dir := p.st, p.worker, p.dir
	// long's first run waits; its second ends at once.
	long := p.submit(t, ctx, "#!/bin/sh\necho $$ >> long.pids\n[ $(grep -c . long.pids) -ge 2 ] || exec sleep 600\n")
	short := p.submit(t, ctx, "#!/bin/sh\necho run >> short.runs\n")
	state := t.TempDir()
	holder := node + ":" + state
	if got, err := st.AcquireLease(ctx, store.NodeLease(node), holder, time.Hour); err != nil || !got {
		t.Fatalf("node lease: %v %v", got, err)
	}
	start := func(id rcq.JobID) {
		t.Helper()
		if done, err := st.StartJobs(ctx, "scheduler", "test", []rcq.Start{{JobID: id, WorkerID: worker}}); err != nil || len(done) != 1 {
			t.Fatalf("start job %d: %v %v", id, done, err)
		}
	}
	requeue := func(id rcq.JobID) {
		t.Helper()
		if _, err := st.RequeueJob(ctx, id, 0, rcq.HoldNone, "requeued by test"); err != nil {
			t.Fatalf("requeue job %d: %v", id, err)
		}
	}
	start(long)
	start(short)

	obs := &observedStore{Store: st, finished: make(chan rcq.JobID, 10)}
	e := startExec(t, obs, state, func(c *Config) {
		c.Node, c.Holder, c.KillGrace, c.Tick = node, holder, time.Hour, time.Hour
	})
	waitFinished := func(ids ...rcq.JobID) {
		t.Helper()
		left := map[rcq.JobID]bool{}
		for _, id := range ids {
			left[id] = true
		}
		for len(left) > 0 {
			select {
			case id := <-obs.finished:
				delete(left, id)
			case <-ctx.Done():
				t.Fatalf("jobs %v not finished", left)
			}
		}
	}
	waitFinished(short)
	first, err := strconv.Atoi(waitFile(t, filepath.Join(dir, "long.pids"), 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// short ended here; it is requeued and started again before the
	// executor looks (it has not passed since it recorded the end).
	requeue(short)
	start(short)

	// long, running, is requeued: its run is killed without waiting for
	// the grace period.
	requeue(long)
	e.Notify()
	deadline := time.Now().Add(30 * time.Second)
	for !gone(first) {
		if time.Now().After(deadline) {
			t.Fatalf("run 0 of job %d (pid %d) still runs 30 s after its requeue", long, first)
		}
		time.Sleep(10 * time.Millisecond) // polling an external process
	}
	if j, err := st.JobByID(ctx, long, 0); err != nil || j.State != rcq.JobPending || j.ExitCode != nil {
		t.Fatalf("job %d after its killed run: %+v %v, want pending with no exit code recorded", long, j, err)
	}

	// long started again: both run a second time.
	start(long)
	e.Notify()
	waitFinished(short, long)
	for _, id := range []rcq.JobID{short, long} {
		j, err := st.JobByID(ctx, id, 0)
		if err != nil || j.State != rcq.JobCompleted || j.Restarts != 1 || j.ExitCode == nil || *j.ExitCode != 0 {
			t.Errorf("job %d after its second run: %+v %v, want completed with exit 0 after 1 restart", id, j, err)
		}
	}
	if runs := readFile(t, filepath.Join(dir, "short.runs")); runs != "run\nrun\n" {
		t.Errorf("job %d ran %q, want twice", short, runs)
	}
	pids := strings.Fields(readFile(t, filepath.Join(dir, "long.pids")))
	if len(pids) != 2 || pids[0] == pids[1] {
		t.Errorf("job %d's runs: pids %q, want two runs", long, pids)
	}
}

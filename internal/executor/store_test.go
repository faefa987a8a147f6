package executor

import (
	"context"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// observedStore is the real store, with a channel that tells the test when
// FinishJob committed (so the test waits on an event, not a poll).
type observedStore struct {
	*store.Store
	finished chan rcq.JobID
}

func (s *observedStore) FinishJob(ctx context.Context, o rcq.Outcome) error {
	err := s.Store.FinishJob(ctx, o)
	if err == nil {
		s.finished <- o.JobID
	}
	return err
}

// TestWithPostgres runs jobs through the real store: started by StartJobs,
// launched from NodeJobs, ended by FinishJob with usage charged to the group.
func TestWithPostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, dbtest.URL(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		t.Fatal(err)
	}
	const node = "node-pg"
	worker, err := st.RegisterWorker(ctx, rcq.Worker{Name: "w-pg", Node: node, Capacity: rcq.Resources{CPUCores: 8, MemoryGB: 16}})
	if err != nil {
		t.Fatal(err)
	}
	user, err := st.CreateUser(ctx, rcq.User{Email: "ada@example.org", GroupID: 1, UnixUser: testUser()}, "x")
	if err != nil {
		t.Fatal(err)
	}
	dir := openDir(t)
	submit := func(script string) rcq.JobID {
		t.Helper()
		id, _, err := st.CreateJob(ctx, &rcq.Job{UserID: user, GroupID: 1, Name: "pg", Script: script, WorkingDir: dir,
			Env: []string{"PATH=/usr/bin:/bin"}, Resources: rcq.Resources{CPUCores: 2, MemoryGB: 1}, EstimatedHours: 1, Priority: 1}, "")
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	ok := submit("#!/bin/sh\necho \"hello from $RCQ_JOB_ID\"\n")
	bad := submit("#!/bin/sh\nexit 3\n")
	long := submit("#!/bin/sh\nsleep 600\n")
	if got, err := st.AcquireLease(ctx, "scheduler", "test", time.Minute); err != nil || !got {
		t.Fatalf("lease: %v %v", got, err)
	}
	state := t.TempDir()
	holder := node + ":" + state
	if got, err := st.AcquireLease(ctx, store.NodeLease(node), holder, time.Minute); err != nil || !got {
		t.Fatalf("node lease: %v %v", got, err)
	}
	starts := []rcq.Start{{JobID: ok, WorkerID: worker}, {JobID: bad, WorkerID: worker}, {JobID: long, WorkerID: worker}}
	if done, err := st.StartJobs(ctx, "scheduler", "test", starts); err != nil || len(done) != 3 {
		t.Fatalf("start: %v %v", done, err)
	}

	obs := &observedStore{Store: st, finished: make(chan rcq.JobID, 10)}
	e := startExec(t, obs, state, func(c *Config) { c.Node, c.Holder = node, holder })
	waitFinished := func(id rcq.JobID) *rcq.Job {
		t.Helper()
		for {
			select {
			case got := <-obs.finished:
				if got != id {
					continue
				}
				j, err := st.JobByID(ctx, id, 0)
				if err != nil {
					t.Fatal(err)
				}
				return j
			case <-ctx.Done():
				t.Fatalf("job %d not finished", id)
			}
		}
	}
	// ok and bad end by themselves, in either order.
	ends := map[rcq.JobID]*rcq.Job{}
	for len(ends) < 2 {
		select {
		case id := <-obs.finished:
			j, err := st.JobByID(ctx, id, 0)
			if err != nil {
				t.Fatal(err)
			}
			ends[id] = j
		case <-ctx.Done():
			t.Fatal("jobs not finished")
		}
	}
	if j := ends[ok]; j == nil || j.State != rcq.JobCompleted || j.ExitCode == nil || *j.ExitCode != 0 {
		t.Errorf("job %d: %+v", ok, j)
	}
	if j := ends[bad]; j == nil || j.State != rcq.JobFailed || j.Reason != rcq.ReasonNonZeroExit || j.ExitCode == nil || *j.ExitCode != 3 {
		t.Errorf("job %d: %+v", bad, j)
	}
	if out := readFile(t, dir+"/rcq-"+itoa(ok)+".out"); out != "hello from "+itoa(ok)+"\n" {
		t.Errorf("output %q", out)
	}

	if _, err := st.CancelJob(ctx, long, 0); err != nil {
		t.Fatal(err)
	}
	e.Notify()
	if j := waitFinished(long); j.State != rcq.JobCancelled || j.ExitCode == nil || *j.ExitCode != 143 || j.Signal != "TERM" {
		t.Errorf("cancelled job %d: state %s exit %v signal %q", long, j.State, deref(j.ExitCode), j.Signal)
	}
	if nodeJobs, err := st.NodeJobs(ctx, node, holder); err != nil || len(nodeJobs) != 0 {
		t.Errorf("NodeJobs after every job ended: %v %v", nodeJobs, err)
	}
	used, err := st.GroupUsage(ctx, 1, time.Now().Add(-time.Hour))
	if err != nil || used <= 0 {
		t.Errorf("group usage after three jobs: %v %v, want CPU-hours charged", used, err)
	}
}

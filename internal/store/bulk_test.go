package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

func TestAddWorkersAndSetTheirState(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	ws := make([]rcq.Worker, 50)
	for i := range ws {
		ws[i] = rcq.Worker{Name: fmt.Sprintf("bulk-%02d", i), Node: "absent", Capacity: rcq.Resources{CPUCores: 1 + i%4, MemoryGB: 16, GPUs: i % 2}}
	}
	ws[7].State = rcq.WorkerDrained
	ids, err := f.st.AddWorkers(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(ws) {
		t.Fatalf("%d ids for %d workers", len(ids), len(ws))
	}
	for i, id := range ids {
		w, err := f.st.WorkerByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := rcq.WorkerOnline
		if i == 7 {
			want = rcq.WorkerDrained
		}
		if w.Name != ws[i].Name || w.Node != "absent" || w.Capacity != ws[i].Capacity || w.State != want {
			t.Errorf("worker %d (id %d) = %+v, want %+v in state %s", i, id, w, ws[i], want)
		}
	}
	// One name taken: a Conflict, and none of the others is added.
	before := f.count(t, `SELECT count(*) FROM workers`)
	_, err = f.st.AddWorkers(ctx, []rcq.Worker{{Name: "fresh", Node: "absent", Capacity: rcq.Resources{CPUCores: 1, MemoryGB: 1}}, ws[3]})
	if rcq.KindOf(err) != rcq.KindConflict {
		t.Fatalf("a taken name: err %v, want a conflict", err)
	}
	if n := f.count(t, `SELECT count(*) FROM workers`); n != before {
		t.Errorf("a refused load added %d workers", n-before)
	}

	n, err := f.st.SetWorkersState(ctx, ids[:10], rcq.WorkerDrained)
	if err != nil || n != 10 {
		t.Fatalf("drain 10: n %d err %v", n, err)
	}
	if got := f.count(t, `SELECT count(*) FROM workers WHERE node = 'absent' AND status = 'drained'`); got != 10 {
		t.Errorf("%d drained workers, want 10", got)
	}
	if got := f.count(t, `SELECT count(*) FROM workers WHERE node = 'absent' AND status = 'online'`); got != 40 {
		t.Errorf("%d online workers, want 40", got)
	}
}

func TestAddFinishedJobsAndCountJobs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	f.submit(t, f.alice, rcq.Resources{CPUCores: 1, MemoryGB: 1})
	end := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
	start, sub := end.Add(-time.Second), end.Add(-2*time.Second)
	zero, two := 0, 2
	w := f.worker
	done := rcq.Job{UserID: f.bob, GroupID: f.group, Name: "old", Script: "#!/bin/sh\ntrue\n", WorkingDir: "/tmp",
		Resources: rcq.Resources{CPUCores: 2, MemoryGB: 3}, EstimatedHours: 1, Priority: 5, State: rcq.JobCompleted,
		SubmittedAt: sub, StartedAt: &start, CompletedAt: &end, ExitCode: &zero, WorkerID: &w,
		CPUSeconds: 0.25, PeakMemoryKB: 1234, Output: "/tmp/old.out"}
	failed := done
	failed.State, failed.ExitCode, failed.Reason = rcq.JobFailed, &two, rcq.ReasonNonZeroExit
	cancelled := done // cancelled before it started
	cancelled.State, cancelled.StartedAt, cancelled.WorkerID, cancelled.ExitCode = rcq.JobCancelled, nil, nil, nil
	js := []rcq.Job{done, failed, cancelled}
	for range 97 {
		js = append(js, done)
	}
	n, err := f.st.AddFinishedJobs(ctx, js)
	if err != nil || n != 100 {
		t.Fatalf("add 100 finished jobs: n %d err %v", n, err)
	}
	for _, c := range []struct {
		states []rcq.JobState
		want   int64
	}{
		{nil, 101},
		{[]rcq.JobState{rcq.JobPending}, 1},
		{[]rcq.JobState{rcq.JobPending, rcq.JobRunning}, 1},
		{[]rcq.JobState{rcq.JobCompleted}, 98},
		{[]rcq.JobState{rcq.JobFailed, rcq.JobCancelled}, 2},
	} {
		if got, err := f.st.CountJobs(ctx, c.states...); err != nil || got != c.want {
			t.Errorf("CountJobs(%v) = %d, %v; want %d", c.states, got, err, c.want)
		}
	}
	// What was stored reads back through the store as it was given.
	list, err := f.st.ListJobs(ctx, rcq.JobFilter{UserID: f.bob, States: []rcq.JobState{rcq.JobFailed}})
	if err != nil || len(list) != 1 {
		t.Fatalf("list bob's failed jobs: %d jobs, %v", len(list), err)
	}
	got := list[0]
	if got.Name != "old" || got.Reason != rcq.ReasonNonZeroExit || got.ExitCode == nil || *got.ExitCode != 2 ||
		got.WorkerID == nil || *got.WorkerID != w || got.CPUSeconds != 0.25 || got.PeakMemoryKB != 1234 ||
		!got.SubmittedAt.Equal(sub) || got.StartedAt == nil || !got.StartedAt.Equal(start) ||
		got.CompletedAt == nil || !got.CompletedAt.Equal(end) || got.Resources != done.Resources || got.Output != "/tmp/old.out" {
		t.Errorf("read back %+v", got)
	}

	// A job that has not ended is refused, and nothing of the load is stored.
	bad := append([]rcq.Job{done}, rcq.Job{UserID: f.bob, GroupID: f.group, Name: "p", Script: "x", State: rcq.JobPending, SubmittedAt: sub})
	if _, err := f.st.AddFinishedJobs(ctx, bad); rcq.KindOf(err) != rcq.KindInvalid {
		t.Errorf("a pending job in the load: err %v, want invalid", err)
	}
	if got, _ := f.st.CountJobs(ctx); got != 101 {
		t.Errorf("a refused load changed the job count to %d", got)
	}
}

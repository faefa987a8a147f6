package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// usage is a job's usage row of one run: cpu and gpu hours.
func (f *fixture) usage(t *testing.T, id rcq.JobID, run int) (cpu, gpu float64) {
	t.Helper()
	if err := f.db.QueryRow(ctxT(t), `SELECT cpu_hours, gpu_hours FROM usage_logs WHERE job_id = $1 AND run = $2`, id, run).Scan(&cpu, &gpu); err != nil {
		t.Fatalf("usage of job %d run %d: %v", id, run, err)
	}
	return cpu, gpu
}

// launch claims a started job for node1's rcqd, as its executor does.
func (f *fixture) launch(t *testing.T, id rcq.JobID) {
	t.Helper()
	if err := f.st.ClaimJob(ctxT(t), id, "node1", nodeHolder); err != nil {
		t.Fatal(err)
	}
}

// end reports run of job id ended, as node1's executor does.
func (f *fixture) end(id rcq.JobID, run int, st rcq.JobState) error {
	return f.st.FinishJob(context.Background(), rcq.Outcome{JobID: id, State: st, ExitCode: ptr(0),
		CPUSeconds: 12, PeakMemoryKB: 3456, Holder: nodeHolder, Restarts: run})
}

// wantRequeued fails unless job id is pending again after a requeue by
// hand: same id, priority and submit time as before, the run's traces
// cleared, restarts one more, reason Requeued with detail.
func wantRequeued(t *testing.T, j, before *rcq.Job, detail string) {
	t.Helper()
	if j.State != rcq.JobPending || j.Reason != rcq.ReasonRequeued || j.ReasonDetail != detail ||
		j.Restarts != before.Restarts+1 || j.RequeuedAt == nil || j.ID != before.ID || j.Priority != before.Priority ||
		!j.SubmittedAt.Equal(before.SubmittedAt) {
		t.Errorf("job %d after requeue: %s %s %q restarts %d requeued_at %v priority %d submitted %v; want pending Requeued %q restarts %d priority %d submitted %v",
			j.ID, j.State, j.Reason, j.ReasonDetail, j.Restarts, j.RequeuedAt, j.Priority, j.SubmittedAt,
			detail, before.Restarts+1, before.Priority, before.SubmittedAt)
	}
	if j.StartedAt != nil || j.CompletedAt != nil || j.WorkerID != nil || len(j.GPUIndices) != 0 || j.ExitCode != nil ||
		j.Signal != "" || j.CPUSeconds != 0 || j.PeakMemoryKB != 0 {
		t.Errorf("job %d after requeue keeps its run: started %v completed %v worker %v gpus %v exit %v signal %q cpu %v rss %v",
			j.ID, j.StartedAt, j.CompletedAt, j.WorkerID, j.GPUIndices, j.ExitCode, j.Signal, j.CPUSeconds, j.PeakMemoryKB)
	}
}

// A finished job goes back to pending under its id, keeps the usage row
// its run got when it ended, refuses a late end report of that run, and
// runs again: its second run has a usage row of its own.
func TestRequeueJobFinished(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submitRequeue(t, nil) // priority 7
	f.start(t, id)
	f.launch(t, id)
	if err := f.end(id, 0, rcq.JobCompleted); err != nil {
		t.Fatal(err)
	}
	before := f.job(t, id)
	cpu, gpu := f.usage(t, id, 0)

	prev, err := f.st.RequeueJob(ctx, id, f.alice, rcq.HoldNone, "requeued by alice@example.org")
	if err != nil || prev != rcq.JobCompleted {
		t.Fatalf("RequeueJob = %s, %v; want completed before", prev, err)
	}
	j := f.job(t, id)
	wantRequeued(t, j, before, "requeued by alice@example.org")
	if j.Hold != rcq.HoldNone {
		t.Errorf("hold %q, want none", j.Hold)
	}
	if by := f.launchedBy(t, id); by != "" {
		t.Errorf("launched by %q after the requeue", by)
	}
	if runs := f.usageRuns(t, id); !slices.Equal(runs, []int{0}) {
		t.Errorf("usage rows by run: %v, want [0] (the finished run's, untouched)", runs)
	}
	if c, g := f.usage(t, id, 0); c != cpu || g != gpu {
		t.Errorf("run 0 usage %v/%v after the requeue, was %v/%v", c, g, cpu, gpu)
	}
	if err := f.end(id, 0, rcq.JobFailed); !errors.Is(err, store.ErrStaleRun) {
		t.Fatalf("late end report of run 0: %v, want ErrStaleRun", err)
	}
	if j := f.job(t, id); j.State != rcq.JobPending {
		t.Fatalf("a stale report changed the requeued job: %s", j.State)
	}

	// It runs again, as run 1.
	f.start(t, id)
	f.launch(t, id)
	if err := f.end(id, 1, rcq.JobCompleted); err != nil {
		t.Fatal(err)
	}
	if j := f.job(t, id); j.State != rcq.JobCompleted || j.Restarts != 1 {
		t.Errorf("second run: %s restarts %d", j.State, j.Restarts)
	}
	if runs := f.usageRuns(t, id); !slices.Equal(runs, []int{0, 1}) {
		t.Errorf("usage rows by run: %v, want [0 1]", runs)
	}
}

// A running job requeued (by an admin here) has its run charged up to now,
// its GPUs and claim freed, its node's executor woken to stop it, and the
// run's own end report refused.
func TestRequeueJobRunning(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(2, 1, 2))
	f.start(t, id, 0, 1)
	f.launch(t, id)
	f.exec(t, `UPDATE jobs SET started_at = now() - interval '2 hours' WHERE id = $1`, id)
	if err := f.st.SignalJob(ctx, id, 0, "USR1"); err != nil {
		t.Fatal(err)
	}
	before := f.job(t, id)

	events := f.listen(t, ctx)

	prev, err := f.st.RequeueJob(ctx, id, 0, rcq.HoldNone, "requeued by admin@localhost")
	if err != nil || prev != rcq.JobRunning {
		t.Fatalf("RequeueJob = %s, %v; want running before", prev, err)
	}
	wantRequeued(t, f.job(t, id), before, "requeued by admin@localhost")
	cpu, gpu := f.usage(t, id, 0)
	if math.Abs(cpu-4) > 0.01 || math.Abs(gpu-4) > 0.01 {
		t.Errorf("run 0 charged %v CPU-hours and %v GPU-hours, want 4 and 4 (2 cores, 2 GPUs, 2 hours)", cpu, gpu)
	}
	if js, err := f.st.NodeJobs(ctx, "node1", nodeHolder); err != nil || len(js) != 0 {
		t.Errorf("node1's jobs after the requeue: %v %v, want none", js, err)
	}
	if sigs, err := f.st.PendingSignals(ctx, "node1", nodeHolder); err != nil || len(sigs) != 0 {
		t.Errorf("signals after the requeue: %+v %v, want none", sigs, err)
	}
	heard := map[rcq.EventKind]bool{}
	for !heard[rcq.EventJobSubmitted] || !heard[rcq.EventJobCancelled] {
		select {
		case ev := <-events:
			if ev.JobID == id && (ev.Kind != rcq.EventJobCancelled || ev.Node == "node1") {
				heard[ev.Kind] = true
			}
		case <-ctx.Done():
			t.Fatalf("events heard %v: want job_submitted (the scheduler) and job_cancelled for node1 (its executor)", heard)
		}
	}
	if err := f.end(id, 0, rcq.JobCompleted); !errors.Is(err, store.ErrStaleRun) {
		t.Fatalf("end report of the requeued run: %v, want ErrStaleRun", err)
	}
	if runs := f.usageRuns(t, id); !slices.Equal(runs, []int{0}) {
		t.Errorf("usage rows by run after the stale report: %v, want [0]", runs)
	}
	// Its GPUs are free: a job needing both starts.
	other := f.submit(t, f.bob, res(1, 1, 2))
	f.start(t, other, 0, 1)
}

// A job cancelled while it ran whose processes have not ended yet is
// requeued like a running one: charged up to now, its node told.
func TestRequeueJobCancelledStillEnding(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(1, 1, 0))
	f.start(t, id)
	f.launch(t, id)
	if _, err := f.st.CancelJob(ctx, id, f.alice); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.RequeueJob(ctx, id, f.alice, rcq.HoldNone, "requeued by alice@example.org"); err != nil {
		t.Fatal(err)
	}
	if j := f.job(t, id); j.State != rcq.JobPending || j.Restarts != 1 || j.Reason != rcq.ReasonRequeued {
		t.Fatalf("job: %s restarts %d %s", j.State, j.Restarts, j.Reason)
	}
	if runs := f.usageRuns(t, id); !slices.Equal(runs, []int{0}) {
		t.Errorf("usage rows by run: %v, want [0] (charged at the requeue)", runs)
	}
	if err := f.end(id, 0, rcq.JobCancelled); !errors.Is(err, store.ErrStaleRun) {
		t.Fatalf("the cancelled run's end report: %v, want ErrStaleRun", err)
	}
}

// Refusals change nothing: a pending job (held or not), a job cancelled
// before it started, a job submitted with --no-requeue; another user's
// job is not found, word for word like a missing one.
func TestRequeueJobRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	requeue := func(id rcq.JobID, owner rcq.UserID) error {
		_, err := f.st.RequeueJob(ctx, id, owner, rcq.HoldNone, "requeued by test")
		return err
	}
	pending := f.submit(t, f.alice, res(1, 1, 0))
	held := f.submit(t, f.alice, res(1, 1, 0))
	if err := f.st.SetHold(ctx, held, f.alice, rcq.HoldUser, false); err != nil {
		t.Fatal(err)
	}
	cancelled := f.submit(t, f.alice, res(1, 1, 0))
	if _, err := f.st.CancelJob(ctx, cancelled, f.alice); err != nil {
		t.Fatal(err)
	}
	never := f.submitRequeue(t, ptr(false))
	f.start(t, never)
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: never, State: rcq.JobFailed, ExitCode: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	done := f.submit(t, f.alice, res(1, 1, 0))
	f.start(t, done)
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: done, State: rcq.JobCompleted, ExitCode: ptr(0)}); err != nil {
		t.Fatal(err)
	}

	wantKind(t, requeue(pending, f.alice), rcq.KindConflict, "job_pending")
	wantKind(t, requeue(held, 0), rcq.KindConflict, "job_pending")
	wantKind(t, requeue(cancelled, f.alice), rcq.KindConflict, "job_never_ran")
	wantKind(t, requeue(never, f.alice), rcq.KindConflict, "requeue_disabled")
	other := requeue(done, f.bob)
	wantKind(t, other, rcq.KindNotFound, "not_found")
	missing := requeue(done+1000, f.bob)
	if rcq.MessageOf(other) != fmt.Sprintf("job %d not found", done) || rcq.MessageOf(missing) != fmt.Sprintf("job %d not found", done+1000) {
		t.Errorf("another user's job: %q; a missing one: %q", rcq.MessageOf(other), rcq.MessageOf(missing))
	}
	for id, st := range map[rcq.JobID]rcq.JobState{pending: rcq.JobPending, held: rcq.JobPending, cancelled: rcq.JobCancelled,
		never: rcq.JobFailed, done: rcq.JobCompleted} {
		if j := f.job(t, id); j.State != st || j.Restarts != 0 {
			t.Errorf("job %d after a refused requeue: %s restarts %d, want %s restarts 0", id, j.State, j.Restarts, st)
		}
	}
	if j := f.job(t, held); j.Hold != rcq.HoldUser {
		t.Errorf("held job's hold after a refused requeue: %q", j.Hold)
	}
}

// requeuehold: the job goes back held, and is released as any held job.
func TestRequeueJobHeld(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(1, 1, 0))
	f.start(t, id)
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: rcq.JobFailed, ExitCode: ptr(2)}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.RequeueJob(ctx, id, f.alice, rcq.HoldUser, "requeued by alice@example.org"); err != nil {
		t.Fatal(err)
	}
	if j := f.job(t, id); j.State != rcq.JobPending || j.Hold != rcq.HoldUser || j.Restarts != 1 {
		t.Fatalf("requeued held: %s hold %q restarts %d", j.State, j.Hold, j.Restarts)
	}
	if err := f.st.SetHold(ctx, id, f.alice, rcq.HoldNone, false); err != nil {
		t.Fatal(err)
	}
	if j := f.job(t, id); j.Hold != rcq.HoldNone {
		t.Fatalf("released: hold %q", j.Hold)
	}
}

// A requeue counts against the pending caps as a submit of one job of the
// job's owner: at the cap it is refused (429, nothing changed), and the
// total cap binds too.
func TestRequeueJobPendingCaps(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	ended := func(owner rcq.UserID) rcq.JobID {
		t.Helper()
		id := f.submit(t, owner, res(1, 1, 0))
		f.start(t, id)
		if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: rcq.JobCompleted, ExitCode: ptr(0)}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	a1, a2, b1 := ended(f.alice), ended(f.alice), ended(f.bob)
	f.submit(t, f.alice, res(1, 1, 0)) // alice: 1 pending
	st := f.capped(t, 2, 0)
	if _, err := st.RequeueJob(ctx, a1, 0, rcq.HoldNone, "requeued by admin@localhost"); err != nil {
		t.Fatalf("requeue to the cap: %v", err)
	}
	_, err := st.RequeueJob(ctx, a2, 0, rcq.HoldNone, "requeued by admin@localhost")
	if !isCode(err, "too_many_pending_jobs") {
		t.Fatalf("requeue past alice's cap: %v, want too_many_pending_jobs", err)
	}
	if j := f.job(t, a2); j.State != rcq.JobCompleted || j.Restarts != 0 || f.pending(t, f.alice) != 2 {
		t.Errorf("refused requeue changed things: job %s restarts %d, alice has %d pending", j.State, j.Restarts, f.pending(t, f.alice))
	}
	// Bob has room of his own, but not in a total cap of 2.
	total := f.capped(t, 0, 2)
	if _, err := total.RequeueJob(ctx, b1, f.bob, rcq.HoldNone, "requeued by bob@example.org"); !isCode(err, "too_many_pending_jobs_total") {
		t.Fatalf("requeue past the total cap: %v, want too_many_pending_jobs_total", err)
	}
	if _, err := f.capped(t, 0, 3).RequeueJob(ctx, b1, f.bob, rcq.HoldNone, "requeued by bob@example.org"); err != nil {
		t.Fatalf("requeue within a total cap of 3: %v", err)
	}
}

// An element of an array that ran is requeued in its own row; it runs
// again as an element (same index), and the array's other elements are
// untouched.
func TestRequeueJobArrayElement(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	arr := f.submitArray(t, f.alice, "0-2")
	f.takeLease(t)
	task := 1
	done, err := f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: arr, WorkerID: f.worker, ArrayTask: &task}})
	if err != nil || len(done) != 1 {
		t.Fatalf("start element 1: %v %v", done, err)
	}
	el := done[0].JobID
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: el, State: rcq.JobFailed, ExitCode: ptr(1)}); err != nil {
		t.Fatal(err)
	}
	wantKind(t, func() error { _, err := f.st.RequeueJob(ctx, arr, f.alice, rcq.HoldNone, "x"); return err }(),
		rcq.KindConflict, "job_pending") // the array's row stands for elements 0 and 2, not started
	if _, err := f.st.RequeueJob(ctx, el, f.alice, rcq.HoldNone, "requeued by alice@example.org"); err != nil {
		t.Fatal(err)
	}
	j := f.job(t, el)
	if j.State != rcq.JobPending || j.Restarts != 1 || j.Array == nil || j.Array.TaskID == nil || *j.Array.TaskID != 1 || j.Array.ID != arr {
		t.Fatalf("requeued element: %s restarts %d array %+v", j.State, j.Restarts, j.Array)
	}
	if a := f.job(t, arr); a.State != rcq.JobPending || a.Array.Pending.String() != "0,2" {
		t.Errorf("the array's row: %s pending %s, want pending 0,2", a.State, a.Array.Pending)
	}
	f.start(t, el)
	if j := f.job(t, el); j.State != rcq.JobRunning || *j.Array.TaskID != 1 {
		t.Errorf("element after its second start: %s", j.State)
	}
}

// An admin's requeue of another user's job is audited; the owner's own is
// not.
func TestRequeueJobAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ended := func() rcq.JobID {
		t.Helper()
		id := f.submit(t, f.alice, res(1, 1, 0))
		f.start(t, id)
		if err := f.st.FinishJob(ctxT(t), rcq.Outcome{JobID: id, State: rcq.JobCompleted, ExitCode: ptr(0)}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	byAdmin, byOwner := ended(), ended()
	admin := rcq.WithActor(ctxT(t), rcq.Actor{ID: f.admin, Email: "admin@localhost"})
	if _, err := f.st.RequeueJob(admin, byAdmin, 0, rcq.HoldNone, "requeued by admin@localhost"); err != nil {
		t.Fatal(err)
	}
	alice := rcq.WithActor(ctxT(t), rcq.Actor{ID: f.alice, Email: "alice@example.org"})
	if _, err := f.st.RequeueJob(alice, byOwner, f.alice, rcq.HoldNone, "requeued by alice@example.org"); err != nil {
		t.Fatal(err)
	}
	rows, err := f.st.AuditEvents(ctxT(t), rcq.AuditFilter{Action: "job.requeue"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].TargetID != fmt.Sprint(byAdmin) || rows[0].ActorID != f.admin ||
		rows[0].Detail != fmt.Sprintf("owner %d", f.alice) {
		t.Fatalf("audit rows %+v, want one for job %d by the admin", rows, byAdmin)
	}
	var before, after map[string]any
	if json.Unmarshal(rows[0].Before, &before) != nil || json.Unmarshal(rows[0].After, &after) != nil ||
		fmt.Sprint(before) != "map[restarts:0 state:completed]" || fmt.Sprint(after) != "map[hold: restarts:1 state:pending]" {
		t.Errorf("audit before %s after %s", rows[0].Before, rows[0].After)
	}
}

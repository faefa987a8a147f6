package store_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

func TestCancelPendingEndsAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(1, 1, 0))
	prev, err := f.st.CancelJob(ctx, id, f.alice)
	if err != nil || prev != rcq.JobPending {
		t.Fatalf("cancel pending job: prev %q err %v", prev, err)
	}
	j := f.job(t, id)
	if j.State != rcq.JobCancelled || j.CompletedAt == nil || j.StartedAt != nil || j.Reason != rcq.ReasonCancelledByUser {
		t.Errorf("cancelled pending job: state %s completed %v started %v reason %q", j.State, j.CompletedAt, j.StartedAt, j.Reason)
	}
	// A second cancel is a conflict naming the state, and changes nothing.
	_, err = f.st.CancelJob(ctx, id, f.alice)
	wantKind(t, err, rcq.KindConflict, "job_finished")
	if !strings.Contains(rcq.MessageOf(err), "cancelled") {
		t.Errorf("second cancel message %q does not name the state", rcq.MessageOf(err))
	}
	if j2 := f.job(t, id); !j2.CompletedAt.Equal(*j.CompletedAt) {
		t.Errorf("second cancel moved completed_at %v -> %v", j.CompletedAt, j2.CompletedAt)
	}
}

func TestCancelRunningKeepsResourcesUntilFinish(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(4, 4, 1))
	f.start(t, id, 1)
	prev, err := f.st.CancelJob(ctx, id, f.alice)
	if err != nil || prev != rcq.JobRunning {
		t.Fatalf("cancel running job: prev %q err %v", prev, err)
	}
	j := f.job(t, id)
	if j.State != rcq.JobCancelled || j.CompletedAt != nil || j.StartedAt == nil {
		t.Fatalf("cancelled running job: state %s completed %v started %v; want cancelled, completed NULL until FinishJob",
			j.State, j.CompletedAt, j.StartedAt)
	}
	// Still holds its resources: the executor sees it, the snapshot counts it.
	node, err := f.st.NodeJobs(ctx, "node1", nodeHolder)
	if err != nil || len(node) != 1 || node[0].ID != id {
		t.Errorf("NodeJobs after cancel = %v, %v; want the cancelled job still there", node, err)
	}
	snap, err := f.st.Snapshot(ctx, 30*24*time.Hour, 0)
	if err != nil || len(snap.Running) != 1 || snap.Running[0].ID != id {
		t.Fatalf("snapshot running after cancel = %+v, %v", snap.Running, err)
	}
	exit := 143
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: rcq.JobFailed, Reason: rcq.ReasonNonZeroExit, ExitCode: &exit, Signal: "TERM"}); err != nil {
		t.Fatal(err)
	}
	j = f.job(t, id)
	if j.State != rcq.JobCancelled || j.CompletedAt == nil || j.ExitCode == nil || *j.ExitCode != 143 || j.Reason != rcq.ReasonCancelledByUser {
		t.Errorf("finished cancelled job: state %s completed %v exit %v reason %q; want cancelled, completed, 143, CancelledByUser",
			j.State, j.CompletedAt, j.ExitCode, j.Reason)
	}
	if n := f.count(t, `SELECT count(*) FROM usage_logs WHERE job_id = $1`, id); n != 1 {
		t.Errorf("%d usage rows for the cancelled job, want 1", n)
	}
}

func TestCancelFinishedAndOthersJobs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(1, 1, 0))
	f.start(t, id)
	exit := 0
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: rcq.JobCompleted, ExitCode: &exit}); err != nil {
		t.Fatal(err)
	}
	_, err := f.st.CancelJob(ctx, id, f.alice)
	wantKind(t, err, rcq.KindConflict, "job_finished")
	if j := f.job(t, id); j.State != rcq.JobCompleted {
		t.Errorf("cancel of a finished job changed it to %s", j.State)
	}

	other := f.submit(t, f.alice, res(1, 1, 0))
	_, err = f.st.CancelJob(ctx, other, f.bob)
	wantKind(t, err, rcq.KindNotFound, "")
	if !errors.Is(err, rcq.ErrNotFound) {
		t.Errorf("errors.Is(%v, ErrNotFound) is false", err)
	}
	if j := f.job(t, other); j.State != rcq.JobPending {
		t.Errorf("bob's cancel of alice's job changed it to %s", j.State)
	}
	_, err = f.st.CancelJob(ctx, 999999, f.bob)
	wantKind(t, err, rcq.KindNotFound, "")
	// An admin (owner 0) may cancel anyone's job.
	if _, err := f.st.CancelJob(ctx, other, 0); err != nil {
		t.Errorf("admin cancel: %v", err)
	}
}

func TestJobByIDOwnership(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(1, 1, 0))
	if _, err := f.st.JobByID(ctx, id, f.alice); err != nil {
		t.Errorf("owner reads own job: %v", err)
	}
	_, err := f.st.JobByID(ctx, id, f.bob)
	wantKind(t, err, rcq.KindNotFound, "")
	_, errMissing := f.st.JobByID(ctx, id+1000, f.bob)
	wantKind(t, errMissing, rcq.KindNotFound, "")
	if strings.ReplaceAll(rcq.MessageOf(err), fmt.Sprint(id), "N") != strings.ReplaceAll(rcq.MessageOf(errMissing), fmt.Sprint(id+1000), "N") {
		t.Errorf("another user's job and a missing one differ: %q vs %q", rcq.MessageOf(err), rcq.MessageOf(errMissing))
	}
}

func TestHoldAndRelease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(1, 1, 0))

	if err := f.st.SetHold(ctx, id, f.alice, rcq.HoldUser, false); err != nil {
		t.Fatal(err)
	}
	if j := f.job(t, id); j.Hold != rcq.HoldUser {
		t.Fatalf("hold = %q after a user hold", j.Hold)
	}
	// A held job is never started.
	f.takeLease(t)
	done, err := f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: id, WorkerID: f.worker}})
	if err != nil || len(done) != 0 {
		t.Fatalf("StartJobs on a held job: done %v err %v", done, err)
	}
	if err := f.st.SetHold(ctx, id, f.alice, rcq.HoldNone, false); err != nil {
		t.Fatalf("user releases own hold: %v", err)
	}

	// An admin's hold: the user cannot release it, the admin can.
	if err := f.st.SetHold(ctx, id, 0, rcq.HoldAdmin, true); err != nil {
		t.Fatal(err)
	}
	err = f.st.SetHold(ctx, id, f.alice, rcq.HoldNone, false)
	wantKind(t, err, rcq.KindForbidden, "held_by_admin")
	err = f.st.SetHold(ctx, id, f.alice, rcq.HoldUser, false)
	wantKind(t, err, rcq.KindForbidden, "held_by_admin")
	if j := f.job(t, id); j.Hold != rcq.HoldAdmin {
		t.Fatalf("hold = %q after the user's refused release", j.Hold)
	}
	if err := f.st.SetHold(ctx, id, 0, rcq.HoldNone, true); err != nil {
		t.Fatalf("admin release: %v", err)
	}

	// Another user's job is not found; a running job cannot be held.
	wantKind(t, f.st.SetHold(ctx, id, f.bob, rcq.HoldUser, false), rcq.KindNotFound, "")
	f.start(t, id)
	wantKind(t, f.st.SetHold(ctx, id, f.alice, rcq.HoldUser, false), rcq.KindConflict, "job_not_pending")
	if j := f.job(t, id); j.Hold != rcq.HoldNone || j.State != rcq.JobRunning {
		t.Errorf("running job after refused hold: hold %q state %s", j.Hold, j.State)
	}
	// Cancelling a held pending job clears the hold (the schema allows a hold only on pending jobs).
	id2 := f.submit(t, f.alice, res(1, 1, 0))
	if err := f.st.SetHold(ctx, id2, f.alice, rcq.HoldUser, false); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.CancelJob(ctx, id2, f.alice); err != nil {
		t.Fatalf("cancel a held job: %v", err)
	}
}

func TestStartJobsOnlyPendingUnheld(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	pending := f.submit(t, f.alice, res(1, 1, 0))
	held := f.submit(t, f.alice, res(1, 1, 0))
	if err := f.st.SetHold(ctx, held, f.alice, rcq.HoldUser, false); err != nil {
		t.Fatal(err)
	}
	cancelled := f.submit(t, f.alice, res(1, 1, 0))
	if _, err := f.st.CancelJob(ctx, cancelled, 0); err != nil {
		t.Fatal(err)
	}
	running := f.submit(t, f.alice, res(1, 1, 0))
	f.start(t, running)
	before := f.job(t, running)

	var starts []rcq.Start
	for _, id := range []rcq.JobID{pending, held, cancelled, running, 987654} {
		starts = append(starts, rcq.Start{JobID: id, WorkerID: f.worker})
	}
	done, err := f.st.StartJobs(ctx, lease, holder, starts)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 || done[0].JobID != pending {
		t.Fatalf("started %v, want only job %d", done, pending)
	}
	if j := f.job(t, pending); j.State != rcq.JobRunning || j.StartedAt == nil || j.WorkerID == nil || *j.WorkerID != f.worker {
		t.Errorf("started job: state %s started %v worker %v", j.State, j.StartedAt, j.WorkerID)
	}
	for id, want := range map[rcq.JobID]rcq.JobState{held: rcq.JobPending, cancelled: rcq.JobCancelled} {
		if j := f.job(t, id); j.State != want || j.StartedAt != nil {
			t.Errorf("job %d: state %s started %v, want %s never started", id, j.State, j.StartedAt, want)
		}
	}
	if after := f.job(t, running); !after.StartedAt.Equal(*before.StartedAt) {
		t.Errorf("a running job was started again: started_at %v -> %v", before.StartedAt, after.StartedAt)
	}
}

func TestStartJobsNeverOverCommits(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	f.takeLease(t)
	// CPU: 6 + 6 > 8 in one call.
	a, b := f.submit(t, f.alice, res(6, 1, 0)), f.submit(t, f.alice, res(6, 1, 0))
	done, err := f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: a, WorkerID: f.worker}, {JobID: b, WorkerID: f.worker}})
	if err != nil || len(done) != 1 || done[0].JobID != a {
		t.Fatalf("6+6 cores on an 8-core worker: done %v err %v, want only %d", done, err, a)
	}
	// CPU against what already runs: 6 running, 3 more does not fit.
	c := f.submit(t, f.alice, res(3, 1, 0))
	if done, err := f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: c, WorkerID: f.worker}}); err != nil || len(done) != 0 {
		t.Fatalf("3 cores next to 6 running on 8: done %v err %v", done, err)
	}
	// Memory: a (1 GB) runs; 1 + 31 fits in 32 GB once, not twice.
	d := f.submit(t, f.alice, res(1, 31, 0))
	e := f.submit(t, f.alice, res(1, 31, 0))
	done, err = f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: d, WorkerID: f.worker}, {JobID: e, WorkerID: f.worker}})
	if err != nil || len(done) != 1 || done[0].JobID != d {
		t.Fatalf("two 31 GB jobs next to 1 GB on 32 GB: done %v err %v, want only %d", done, err, d)
	}
	if n := f.count(t, `SELECT count(*) FROM jobs WHERE status = 'running'`); n != 2 {
		t.Errorf("%d running jobs, want 2 (a and d)", n)
	}
	var cpu, mem int
	if err := f.db.QueryRow(ctx, `SELECT sum(cpu_cores), sum(memory_gb) FROM jobs WHERE started_at IS NOT NULL AND completed_at IS NULL`).Scan(&cpu, &mem); err != nil {
		t.Fatal(err)
	}
	if cpu > 8 || mem > 32 {
		t.Errorf("worker over-committed: %d cores, %d GB on 8 cores, 32 GB", cpu, mem)
	}
}

func TestStartJobsGPUIndices(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	f.takeLease(t)
	try := func(id rcq.JobID, gpus ...int) bool {
		t.Helper()
		done, err := f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: id, WorkerID: f.worker, GPUIndices: gpus}})
		if err != nil {
			t.Fatal(err)
		}
		return len(done) == 1
	}
	one := f.submit(t, f.alice, res(1, 1, 1))
	two := f.submit(t, f.alice, res(1, 1, 2))
	if try(one, 2) {
		t.Error("GPU index 2 on a 2-GPU worker was accepted")
	}
	if try(one, -1) {
		t.Error("GPU index -1 was accepted")
	}
	if try(one) {
		t.Error("a 1-GPU job started with no GPU index")
	}
	if try(two, 1, 1) {
		t.Error("a 2-GPU job started on GPU 1 twice")
	}
	if !try(one, 1) {
		t.Fatal("a 1-GPU job on free GPU 1 did not start")
	}
	if j := f.job(t, one); !slices.Equal(j.GPUIndices, []int{1}) {
		t.Errorf("gpu_indices = %v, want [1]", j.GPUIndices)
	}
	other := f.submit(t, f.alice, res(1, 1, 1))
	if try(other, 1) {
		t.Error("GPU 1 given to a second running job")
	}
	if try(two, 0, 1) {
		t.Error("a 2-GPU job started while GPU 1 is in use")
	}
	if !try(other, 0) {
		t.Error("a 1-GPU job on free GPU 0 did not start")
	}
	// Two starts in one call competing for one GPU: only the first.
	exit := 0
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: one, State: rcq.JobCompleted, ExitCode: &exit}); err != nil {
		t.Fatal(err)
	}
	x, y := f.submit(t, f.alice, res(1, 1, 1)), f.submit(t, f.alice, res(1, 1, 1))
	done, err := f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: x, WorkerID: f.worker, GPUIndices: []int{1}}, {JobID: y, WorkerID: f.worker, GPUIndices: []int{1}}})
	if err != nil || len(done) != 1 || done[0].JobID != x {
		t.Errorf("two starts on GPU 1 in one call: done %v err %v", done, err)
	}
}

func TestStartJobsSkipsDrainedAndUnknownWorkers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	f.takeLease(t)
	drained := rcq.WorkerDrained
	if _, err := f.st.UpdateWorker(ctx, f.worker, rcq.WorkerPatch{State: &drained}); err != nil {
		t.Fatal(err)
	}
	id := f.submit(t, f.alice, res(1, 1, 0))
	done, err := f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: id, WorkerID: f.worker}, {JobID: id, WorkerID: 4242}})
	if err != nil || len(done) != 0 {
		t.Fatalf("start on a drained or unknown worker: done %v err %v", done, err)
	}
	if j := f.job(t, id); j.State != rcq.JobPending {
		t.Errorf("job is %s", j.State)
	}
}

func TestStartJobsSameJobTwiceInOneCall(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	f.takeLease(t)
	w2, err := f.st.RegisterWorker(ctx, rcq.Worker{Name: "w2", Node: "node2", Capacity: res(8, 32, 2)})
	if err != nil {
		t.Fatal(err)
	}
	id := f.submit(t, f.alice, res(2, 1, 1))
	done, err := f.st.StartJobs(ctx, lease, holder, []rcq.Start{
		{JobID: id, WorkerID: f.worker, GPUIndices: []int{0}},
		{JobID: id, WorkerID: w2, GPUIndices: []int{1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 1 {
		t.Fatalf("one job listed twice was reported started %d times: %v", len(done), done)
	}
	j := f.job(t, id)
	if j.WorkerID == nil || *j.WorkerID != done[0].WorkerID || !slices.Equal(j.GPUIndices, done[0].GPUIndices) {
		t.Errorf("reported start %+v, stored worker %v gpus %v", done[0], j.WorkerID, j.GPUIndices)
	}
}

func TestStartJobsFencedByLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(1, 1, 0))
	starts := []rcq.Start{{JobID: id, WorkerID: f.worker}}

	// No lease at all.
	if _, err := f.st.StartJobs(ctx, lease, holder, starts); !isLeaseLost(err) {
		t.Fatalf("StartJobs without a lease: %v, want ErrLeaseLost", err)
	}
	// Another holder has it.
	if ok, err := f.st.AcquireLease(ctx, lease, "other", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, err := f.st.StartJobs(ctx, lease, holder, starts); !isLeaseLost(err) {
		t.Fatalf("StartJobs under another holder's lease: %v, want ErrLeaseLost", err)
	}
	// Our lease, expired.
	f.exec(t, `UPDATE leases SET holder = $2, expires_at = now() - interval '1 second' WHERE name = $1`, lease, holder)
	if _, err := f.st.StartJobs(ctx, lease, holder, starts); !isLeaseLost(err) {
		t.Fatalf("StartJobs under an expired lease: %v, want ErrLeaseLost", err)
	}
	if j := f.job(t, id); j.State != rcq.JobPending || j.StartedAt != nil {
		t.Fatalf("a fenced StartJobs changed the job: %s", j.State)
	}
	// CancelJobs is fenced too.
	if err := f.st.CancelJobs(ctx, lease, holder, []rcq.DependencyCancel{{JobID: id}}); !isLeaseLost(err) {
		t.Fatalf("CancelJobs under an expired lease: %v", err)
	}
	if j := f.job(t, id); j.State != rcq.JobPending {
		t.Fatalf("a fenced CancelJobs changed the job: %s", j.State)
	}
	f.takeLease(t)
	if done, err := f.st.StartJobs(ctx, lease, holder, starts); err != nil || len(done) != 1 {
		t.Fatalf("StartJobs with the lease: %v %v", done, err)
	}
}

func TestAcquireLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	acq := func(who string) bool {
		t.Helper()
		ok, err := f.st.AcquireLease(ctx, lease, who, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !acq("a") {
		t.Fatal("first holder refused a free lease")
	}
	if acq("b") {
		t.Fatal("second holder got a live lease")
	}
	var exp1 time.Time
	if err := f.db.QueryRow(ctx, `SELECT expires_at FROM leases WHERE name = $1`, lease).Scan(&exp1); err != nil {
		t.Fatal(err)
	}
	if !acq("a") {
		t.Fatal("the holder could not renew")
	}
	var exp2 time.Time
	var who string
	if err := f.db.QueryRow(ctx, `SELECT holder, expires_at FROM leases WHERE name = $1`, lease).Scan(&who, &exp2); err != nil {
		t.Fatal(err)
	}
	if who != "a" || exp2.Before(exp1) {
		t.Errorf("after renewal: holder %q, expiry %v -> %v", who, exp1, exp2)
	}
	// Releasing someone else's lease does nothing.
	if err := f.st.ReleaseLease(ctx, lease, "b"); err != nil {
		t.Fatal(err)
	}
	if acq("b") {
		t.Fatal("b got the lease after releasing a's")
	}
	f.exec(t, `UPDATE leases SET expires_at = now() - interval '1 second' WHERE name = $1`, lease)
	if !acq("b") {
		t.Fatal("b could not take an expired lease")
	}
	if acq("a") {
		t.Fatal("a took back b's live lease")
	}
	if err := f.st.ReleaseLease(ctx, lease, "b"); err != nil {
		t.Fatal(err)
	}
	if !acq("a") {
		t.Fatal("a could not take a released lease")
	}
}

func TestFinishJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(4, 2, 1))
	f.start(t, id, 0)
	started := f.job(t, id).StartedAt
	exit := 3
	o := rcq.Outcome{JobID: id, State: rcq.JobFailed, Reason: rcq.ReasonNonZeroExit, ExitCode: &exit,
		EndedAt: started.Add(90 * time.Minute), CPUSeconds: 12.5, PeakMemoryKB: 2048}
	if err := f.st.FinishJob(ctx, o); err != nil {
		t.Fatal(err)
	}
	j := f.job(t, id)
	if j.State != rcq.JobFailed || j.Reason != rcq.ReasonNonZeroExit || j.ExitCode == nil || *j.ExitCode != 3 ||
		j.CompletedAt == nil || !j.CompletedAt.Equal(o.EndedAt) || j.CPUSeconds != 12.5 || j.PeakMemoryKB != 2048 {
		t.Fatalf("finished job: %+v", j)
	}
	var cpuHours, gpuHours float64
	var n int
	if err := f.db.QueryRow(ctx, `SELECT count(*), sum(cpu_hours), sum(gpu_hours) FROM usage_logs WHERE job_id = $1`, id).Scan(&n, &cpuHours, &gpuHours); err != nil {
		t.Fatal(err)
	}
	if n != 1 || !near(cpuHours, 4*1.5) || !near(gpuHours, 1.5) {
		t.Errorf("usage: %d rows, %v CPU-hours, %v GPU-hours; want 1 row, 6, 1.5", n, cpuHours, gpuHours)
	}
	// Idempotent: a retry changes nothing.
	other := 0
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: rcq.JobCompleted, ExitCode: &other}); err != nil {
		t.Fatal(err)
	}
	if j2 := f.job(t, id); j2.State != rcq.JobFailed || *j2.ExitCode != 3 || !j2.CompletedAt.Equal(*j.CompletedAt) {
		t.Errorf("a repeated FinishJob changed the job: %s exit %v", j2.State, *j2.ExitCode)
	}
	if n := f.count(t, `SELECT count(*) FROM usage_logs WHERE job_id = $1`, id); n != 1 {
		t.Errorf("%d usage rows after a repeated FinishJob", n)
	}
	// Capacity is free again.
	if snap, err := f.st.Snapshot(ctx, time.Hour, 0); err != nil || len(snap.Running) != 0 {
		t.Errorf("running after finish: %+v %v", snap.Running, err)
	}
	// Not an end state.
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: rcq.JobRunning}); err == nil {
		t.Error("FinishJob accepted a non-terminal state")
	}
	// A pending job cannot be finished.
	p := f.submit(t, f.alice, res(1, 1, 0))
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: p, State: rcq.JobCompleted, ExitCode: &other}); err != nil {
		t.Fatal(err)
	}
	if j := f.job(t, p); j.State != rcq.JobPending || j.CompletedAt != nil {
		t.Errorf("FinishJob on a pending job changed it: %s", j.State)
	}
}

func near(a, b float64) bool { return a-b < 1e-6 && b-a < 1e-6 }

func TestSnapshot(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	g2, err := f.st.CreateGroup(ctx, rcq.Group{Name: "physics", CPUQuota: 500, Priority: 5})
	if err != nil {
		t.Fatal(err)
	}
	done := f.submit(t, f.alice, res(1, 1, 0))
	f.start(t, done)
	exit := 0
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: done, State: rcq.JobCompleted, ExitCode: &exit}); err != nil {
		t.Fatal(err)
	}
	running := f.submit(t, f.alice, res(2, 3, 1))
	f.start(t, running, 1)
	cancelledRunning := f.submit(t, f.alice, res(1, 1, 0))
	f.start(t, cancelledRunning)
	if _, err := f.st.CancelJob(ctx, cancelledRunning, 0); err != nil {
		t.Fatal(err)
	}
	dep := f.newJob(f.alice, res(1, 1, 0))
	dep.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: done}, {Type: rcq.AfterAny, JobID: running}}
	depID, _, err := f.st.CreateJob(ctx, dep, "")
	if err != nil {
		t.Fatal(err)
	}
	held := f.submit(t, f.bob, res(1, 1, 0))
	if err := f.st.SetHold(ctx, held, f.bob, rcq.HoldUser, false); err != nil {
		t.Fatal(err)
	}

	// Usage: group 1 has 10 CPU-hours 10 days ago and 100 CPU-hours 40 days ago;
	// physics has 8 now. The finished job's own row is removed to keep numbers round.
	f.exec(t, `DELETE FROM usage_logs`)
	f.exec(t, `INSERT INTO usage_logs (group_id, user_id, job_id, cpu_hours, gpu_hours, logged_at) VALUES
		(1, $1, $2, 10, 0, now() - interval '10 days'),
		(1, $1, $3, 100, 0, now() - interval '40 days'),
		($4, $1, $5, 8, 0, now())`, f.alice, done, running, g2, cancelledRunning)

	snap, err := f.st.Snapshot(ctx, 30*24*time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Now.IsZero() || time.Since(snap.Now) > time.Hour || time.Until(snap.Now) > time.Hour {
		t.Errorf("snapshot now = %v", snap.Now)
	}
	var pendingIDs []rcq.JobID
	for _, p := range snap.Pending {
		pendingIDs = append(pendingIDs, p.ID)
	}
	if !slices.Equal(pendingIDs, []rcq.JobID{depID, held}) {
		t.Errorf("pending = %v, want [%d %d]", pendingIDs, depID, held)
	}
	for _, p := range snap.Pending {
		switch p.ID {
		case depID:
			if len(p.Dependencies) != 2 || p.Resources != res(1, 1, 0) || p.UserID != f.alice || p.GroupID != 1 {
				t.Errorf("dependent job in snapshot: %+v", p)
			}
		case held:
			if p.Hold != rcq.HoldUser {
				t.Errorf("held job's hold in snapshot = %q", p.Hold)
			}
		}
	}
	if snap.DepStates[done] != rcq.JobCompleted || snap.DepStates[running] != rcq.JobRunning || len(snap.DepStates) != 2 {
		t.Errorf("DepStates = %v", snap.DepStates)
	}
	var runIDs []rcq.JobID
	for _, r := range snap.Running {
		runIDs = append(runIDs, r.ID)
		if r.ID == running && (r.Resources != res(2, 3, 1) || !slices.Equal(r.GPUIndices, []int{1}) || r.WorkerID != f.worker || r.StartedAt.IsZero()) {
			t.Errorf("running job in snapshot: %+v", r)
		}
	}
	if !slices.Equal(runIDs, []rcq.JobID{running, cancelledRunning}) {
		t.Errorf("running = %v, want [%d %d] (started, not completed)", runIDs, running, cancelledRunning)
	}
	if len(snap.Workers) != 1 || snap.Workers[0].Capacity != res(8, 32, 2) {
		t.Errorf("workers = %+v", snap.Workers)
	}
	usage := map[rcq.GroupID]float64{}
	for _, g := range snap.Groups {
		usage[g.ID] = g.UsageCPUHours
		if g.ID == g2 && (g.Name != "physics" || g.CPUQuota != 500 || g.Priority != 5) {
			t.Errorf("group in snapshot: %+v", g)
		}
	}
	if len(snap.Groups) != 2 || !near(usage[1], 10) || !near(usage[g2], 8) {
		t.Errorf("usage within 30 days = %v, want group 1: 10, group %d: 8", usage, g2)
	}

	// Half-life of 10 days: the 10-day-old 10 CPU-hours count as 5.
	snap, err = f.st.Snapshot(ctx, 30*24*time.Hour, 10*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range snap.Groups {
		want := map[rcq.GroupID]float64{1: 5, g2: 8}[g.ID]
		if d := g.UsageCPUHours - want; d > 0.01 || d < -0.01 {
			t.Errorf("decayed usage of group %d = %v, want about %v", g.ID, g.UsageCPUHours, want)
		}
	}
}

func TestCancelVersusStartMovesOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	f.takeLease(t)
	const rounds = 60
	var cancelledFirst, startedFirst int
	for i := range rounds {
		id := f.submit(t, f.alice, res(1, 1, 0))
		var (
			wg      sync.WaitGroup
			go_     = make(chan struct{})
			prev    rcq.JobState
			cErr    error
			started []rcq.Start
			sErr    error
		)
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-go_
			prev, cErr = f.st.CancelJob(ctx, id, f.alice)
		}()
		go func() {
			defer wg.Done()
			<-go_
			started, sErr = f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: id, WorkerID: f.worker}})
		}()
		close(go_)
		wg.Wait()
		if cErr != nil || sErr != nil {
			t.Fatalf("round %d: cancel %v, start %v", i, cErr, sErr)
		}
		j := f.job(t, id)
		if j.State != rcq.JobCancelled {
			t.Fatalf("round %d: job is %s, want cancelled", i, j.State)
		}
		switch {
		case prev == rcq.JobPending && len(started) == 0:
			cancelledFirst++
			if j.StartedAt != nil || j.CompletedAt == nil || j.WorkerID != nil {
				t.Fatalf("round %d: cancelled before start, but started %v completed %v", i, j.StartedAt, j.CompletedAt)
			}
		case prev == rcq.JobRunning && len(started) == 1:
			startedFirst++
			if j.StartedAt == nil || j.CompletedAt != nil {
				t.Fatalf("round %d: started then cancelled, but started %v completed %v", i, j.StartedAt, j.CompletedAt)
			}
			exit := 143
			if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: rcq.JobFailed, ExitCode: &exit}); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("round %d: cancel saw %s and start reported %v: moved twice or not at all", i, prev, started)
		}
	}
	t.Logf("%d rounds: cancel first %d, start first %d", rounds, cancelledFirst, startedFirst)
	if n := f.count(t, `SELECT count(*) FROM jobs WHERE status <> 'cancelled' OR completed_at IS NULL`); n != 0 {
		t.Errorf("%d jobs not cancelled and ended", n)
	}
}

func TestTwoSchedulersNeverStartAJobTwice(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	w2, err := f.st.RegisterWorker(ctx, rcq.Worker{Name: "w2", Node: "node2", Capacity: res(8, 32, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := f.st.AcquireLease(ctx, store.NodeLease("node2"), "node2:/state", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	workers := []rcq.WorkerID{f.worker, w2}
	// Two holders of two leases: fencing lets both write, so only the
	// conditional updates and worker locks keep them apart.
	for _, h := range []string{"h1", "h2"} {
		if ok, err := f.st.AcquireLease(ctx, "lease-"+h, h, time.Minute); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	const jobs = 40
	var ids []rcq.JobID
	for range jobs {
		ids = append(ids, f.submit(t, f.alice, res(1, 1, 1)))
	}
	var (
		mu      sync.Mutex
		started = map[rcq.JobID]int{}
		wg      sync.WaitGroup
		gate    = make(chan struct{})
	)
	for g := range 4 {
		h := []string{"h1", "h2"}[g%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			// Each plans every job on every worker with a GPU index of its own choosing.
			var starts []rcq.Start
			for i, id := range ids {
				starts = append(starts, rcq.Start{JobID: id, WorkerID: workers[(i+g)%2], GPUIndices: []int{(i / 2) % 2}})
			}
			for i := 0; i < len(starts); i += 5 {
				done, err := f.st.StartJobs(ctx, "lease-"+h, h, starts[i:i+5])
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, d := range done {
					started[d.JobID]++
				}
				mu.Unlock()
			}
		}()
	}
	close(gate)
	wg.Wait()
	for id, n := range started {
		if n > 1 {
			t.Errorf("job %d reported started %d times", id, n)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM jobs WHERE status = 'running'`); n != len(started) {
		t.Errorf("%d running jobs, %d reported started", n, len(started))
	}
	if n := f.count(t, `SELECT count(*) FROM jobs WHERE status = 'running'`); n != 4 {
		t.Errorf("%d jobs running on 2 workers of 2 GPUs, want 4", n)
	}
	// No GPU index on two running jobs of one worker; no worker over its size.
	if n := f.count(t, `SELECT count(*) FROM (SELECT worker_id, g FROM jobs, unnest(gpu_indices) g
		WHERE started_at IS NOT NULL AND completed_at IS NULL GROUP BY 1, 2 HAVING count(*) > 1) x`); n != 0 {
		t.Errorf("%d GPU indices held by two running jobs", n)
	}
	if n := f.count(t, `SELECT count(*) FROM workers w WHERE
		(SELECT coalesce(sum(gpu_count), 0) FROM jobs j WHERE j.worker_id = w.id AND started_at IS NOT NULL AND completed_at IS NULL) > w.gpu_count`); n != 0 {
		t.Errorf("%d workers over-committed", n)
	}
}

// Cancels fired while a scheduler starts jobs and an executor ends them: every
// job ends in exactly one terminal state, with its processes' end recorded
// once, and repeated cancels change nothing.
func TestCancelsWhileJobsStartAndEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	f.takeLease(t)
	const n = 60
	var ids []rcq.JobID
	for range n {
		ids = append(ids, f.submit(t, f.alice, res(1, 1, 0)))
	}
	var wg sync.WaitGroup
	cancelsDone := make(chan struct{})
	startsDone := make(chan struct{})
	fail := func(format string, args ...any) { t.Errorf(format, args...) }

	// Cancellers: each job in the first two thirds is cancelled twice, from two goroutines.
	var cw sync.WaitGroup
	for c := range 4 {
		cw.Add(1)
		go func() {
			defer cw.Done()
			for i, id := range ids[:2*n/3] {
				if i%2 != c%2 {
					continue
				}
				if _, err := f.st.CancelJob(ctx, id, f.alice); err != nil && rcq.CodeOf(err) != "job_finished" {
					fail("cancel %d: %v", id, err)
				}
			}
		}()
	}
	wg.Add(3)
	go func() { defer wg.Done(); cw.Wait(); close(cancelsDone) }()
	// Scheduler: starts what is pending and fits, until nothing is pending and cancels are over.
	go func() {
		defer wg.Done()
		defer close(startsDone)
		for {
			snap, err := f.st.Snapshot(ctx, time.Hour, 0)
			if err != nil {
				fail("snapshot: %v", err)
				return
			}
			free := 8 - len(snap.Running)
			var starts []rcq.Start
			for _, p := range snap.Pending {
				if len(starts) < free {
					starts = append(starts, rcq.Start{JobID: p.ID, WorkerID: f.worker})
				}
			}
			if len(snap.Pending) == 0 {
				select {
				case <-cancelsDone:
					return
				default:
				}
			}
			if _, err := f.st.StartJobs(ctx, lease, holder, starts); err != nil {
				fail("start: %v", err)
				return
			}
		}
	}()
	// Executor: ends whatever holds resources, until the scheduler is done and nothing runs.
	go func() {
		defer wg.Done()
		for {
			js, err := f.st.NodeJobs(ctx, "node1", nodeHolder)
			if err != nil {
				fail("node jobs: %v", err)
				return
			}
			if len(js) == 0 {
				select {
				case <-startsDone:
					if js, _ := f.st.NodeJobs(ctx, "node1", nodeHolder); len(js) == 0 {
						return
					}
				default:
				}
			}
			for _, j := range js {
				exit := int(j.ID % 2)
				st := rcq.JobCompleted
				if exit != 0 {
					st = rcq.JobFailed
				}
				if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: j.ID, State: st, ExitCode: &exit}); err != nil {
					fail("finish %d: %v", j.ID, err)
				}
			}
		}
	}()
	wg.Wait()
	if t.Failed() {
		return
	}
	// Every job is terminal and its end recorded; usage once per job that ran.
	if c := f.count(t, `SELECT count(*) FROM jobs WHERE status IN ('pending', 'running') OR completed_at IS NULL`); c != 0 {
		t.Errorf("%d jobs not ended", c)
	}
	if c := f.count(t, `SELECT count(*) FROM jobs j WHERE (started_at IS NOT NULL) <> EXISTS (SELECT 1 FROM usage_logs u WHERE u.job_id = j.id)`); c != 0 {
		t.Errorf("%d jobs whose usage row does not match whether they ran", c)
	}
	if c := f.count(t, `SELECT count(*) FROM jobs WHERE status IN ('completed', 'failed') AND (started_at IS NULL OR exit_code IS NULL)`); c != 0 {
		t.Errorf("%d jobs completed or failed without having run", c)
	}
	for _, id := range ids[2*n/3:] {
		if j := f.job(t, id); j.State == rcq.JobCancelled {
			t.Errorf("job %d was never cancelled but is cancelled", id)
		}
	}
}

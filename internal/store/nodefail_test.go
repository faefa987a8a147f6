package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// policy is the sweep's policy in these tests: dead after a minute without a
// heartbeat, unlaunched jobs given a minute, array elements requeued.
var policy = rcq.LostJobPolicy{DeadAfter: time.Minute, StartTimeout: time.Minute, RequeueArrays: true}

// killNode makes node look dead for ago: its lease expired and its rcqd
// (lease renewals, heartbeats) last seen ago.
func (f *fixture) killNode(t *testing.T, node string, ago time.Duration) {
	t.Helper()
	secs := ago.Seconds()
	f.exec(t, `UPDATE leases SET expires_at = now() - make_interval(secs => $2 - 1), renewed_at = now() - make_interval(secs => $2)
		WHERE name = $1`, store.NodeLease(node), secs)
	f.exec(t, `UPDATE nodes SET last_seen = now() - make_interval(secs => $2) WHERE name = $1`, node, secs)
	f.exec(t, `UPDATE workers SET last_heartbeat = now() - make_interval(secs => $2) WHERE node = $1`, node, secs)
}

// reviveNode gives node a live lease again (its rcqd is back), as holder.
func (f *fixture) reviveNode(t *testing.T, node, holder string) {
	t.Helper()
	if ok, err := f.st.AcquireLease(ctxT(t), store.NodeLease(node), holder, time.Hour); err != nil || !ok {
		t.Fatalf("revive %s: %v %v", node, ok, err)
	}
}

func (f *fixture) sweep(t *testing.T, p rcq.LostJobPolicy) map[rcq.JobID]rcq.LostJob {
	t.Helper()
	f.takeLease(t)
	lost, err := f.st.EndLostJobs(ctxT(t), lease, holder, p)
	if err != nil {
		t.Fatalf("EndLostJobs: %v", err)
	}
	out := map[rcq.JobID]rcq.LostJob{}
	for _, j := range lost.Jobs {
		out[j.JobID] = j
	}
	return out
}

func (f *fixture) submitRequeue(t *testing.T, requeue *bool) rcq.JobID {
	t.Helper()
	j := f.newJob(f.alice, res(1, 1, 0))
	j.Requeue, j.Priority = requeue, 7
	id, _, err := f.st.CreateJob(ctxT(t), j, "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ptr[T any](v T) *T { return &v }

// A dead node's running jobs end node_fail with NodeFail, naming the node
// and when it was last seen; a requeueable one goes back to pending once
// (same id and priority, restarts 1, its start cleared); a job cancelled
// there gets its end recorded; a job of a live node is untouched; a second
// loss of the requeued job ends it node_fail.
func TestEndLostJobsNodeFail(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	w2, err := f.st.RegisterWorker(ctx, rcq.Worker{Name: "w2", Node: "node2", Capacity: res(8, 32, 0)})
	if err != nil {
		t.Fatal(err)
	}
	f.reviveNode(t, "node2", "node2:/state")

	plain := f.submitRequeue(t, nil)
	again := f.submitRequeue(t, ptr(true))
	never := f.submitRequeue(t, ptr(false))
	cancelled := f.submitRequeue(t, ptr(true))
	for _, id := range []rcq.JobID{plain, again, never, cancelled} {
		f.start(t, id)
		if err := f.st.ClaimJob(ctx, id, "node1", nodeHolder); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.st.CancelJob(ctx, cancelled, 0); err != nil {
		t.Fatal(err)
	}
	elsewhere := f.submitRequeue(t, nil)
	if done, err := f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: elsewhere, WorkerID: w2}}); err != nil || len(done) != 1 {
		t.Fatalf("start on node2: %v %v", done, err)
	}

	// Expired, but seen 30 s ago: not dead yet.
	f.killNode(t, "node1", 30*time.Second)
	if got := f.sweep(t, policy); len(got) != 0 {
		t.Fatalf("a node seen 30 s ago (dead_after 1m) lost jobs: %+v", got)
	}
	f.killNode(t, "node1", 2*time.Minute)
	got := f.sweep(t, policy)
	if len(got) != 4 {
		t.Fatalf("swept %+v, want the 4 jobs of node1", got)
	}
	for _, id := range []rcq.JobID{plain, never} {
		j := f.job(t, id)
		if j.State != rcq.JobNodeFail || j.Reason != rcq.ReasonNodeFail || j.CompletedAt == nil ||
			!strings.Contains(j.ReasonDetail, "node node1 was last seen at ") || j.Restarts != 0 {
			t.Errorf("job %d: %s %s %q restarts %d, want node_fail NodeFail naming node1", id, j.State, j.Reason, j.ReasonDetail, j.Restarts)
		}
		if n := f.count(t, `SELECT count(*) FROM usage_logs WHERE job_id = $1`, id); n != 1 {
			t.Errorf("job %d: %d usage rows, want 1", id, n)
		}
	}
	j := f.job(t, again)
	if j.State != rcq.JobPending || j.Restarts != 1 || j.RequeuedAt == nil || j.StartedAt != nil || j.WorkerID != nil ||
		j.Priority != 7 || j.Reason != rcq.ReasonRequeued || !strings.Contains(j.ReasonDetail, "NodeFail: node node1") {
		t.Fatalf("requeued job: %s restarts %d requeued %v started %v worker %v priority %d %s %q",
			j.State, j.Restarts, j.RequeuedAt, j.StartedAt, j.WorkerID, j.Priority, j.Reason, j.ReasonDetail)
	}
	if by := f.launchedBy(t, again); by != "" {
		t.Fatalf("requeued job still launched by %q", by)
	}
	// The lost run is charged, as Slurm charges it: its own usage row.
	if runs := f.usageRuns(t, again); !slices.Equal(runs, []int{0}) {
		t.Errorf("requeued job's usage rows by run: %v, want [0] (the lost run)", runs)
	}
	if !got[again].Requeued || got[plain].Requeued || got[never].Requeued {
		t.Errorf("requeued flags: %+v", got)
	}
	if j := f.job(t, cancelled); j.State != rcq.JobCancelled || j.CompletedAt == nil {
		t.Errorf("cancelled job on the dead node: %s completed %v, want cancelled and ended", j.State, j.CompletedAt)
	}
	if j := f.job(t, elsewhere); j.State != rcq.JobRunning {
		t.Errorf("job of the live node2: %s", j.State)
	}
	if got := f.sweep(t, policy); len(got) != 0 {
		t.Fatalf("a second sweep found %+v", got)
	}

	// node1 is back; the requeued job runs there again and the node dies again:
	// it was requeued once, so now it ends node_fail.
	f.reviveNode(t, "node1", nodeHolder)
	f.start(t, again)
	f.killNode(t, "node1", 2*time.Minute)
	got = f.sweep(t, policy)
	if j := f.job(t, again); len(got) != 1 || got[again].Requeued || j.State != rcq.JobNodeFail || j.Restarts != 1 {
		t.Fatalf("second loss: %+v; job %s restarts %d, want node_fail after 1 restart", got, j.State, j.Restarts)
	}
	if runs := f.usageRuns(t, again); !slices.Equal(runs, []int{0, 1}) {
		t.Errorf("usage rows by run after the second loss: %v, want [0 1]", runs)
	}
}

// usageRuns are the runs of job id that have a usage row, in order.
func (f *fixture) usageRuns(t *testing.T, id rcq.JobID) []int {
	t.Helper()
	rows, err := f.db.Query(ctxT(t), `SELECT run FROM usage_logs WHERE job_id = $1 ORDER BY run`, id)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

// Array elements are requeued by default (jobs.requeue_array_elements), not
// when that is off, and never when submitted with --no-requeue.
func TestEndLostJobsArrayElements(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	start := func(arr rcq.JobID, task int) rcq.JobID {
		t.Helper()
		f.takeLease(t)
		done, err := f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: arr, WorkerID: f.worker, ArrayTask: &task}})
		if err != nil || len(done) != 1 {
			t.Fatalf("start element %d: %v %v", task, done, err)
		}
		return done[0].JobID
	}
	arr := f.submitArray(t, f.alice, "0-3")
	e0, e1 := start(arr, 0), start(arr, 1)
	j := f.newJob(f.alice, res(1, 1, 0))
	sp, _ := rcq.ParseArraySpec("0-1", 10)
	j.Array, j.Requeue = rcq.NewJobArray(sp), ptr(false)
	noRequeue, _, err := f.st.CreateJob(ctx, j, "")
	if err != nil {
		t.Fatal(err)
	}
	n0 := start(noRequeue, 0)

	f.killNode(t, "node1", 2*time.Minute)
	got := f.sweep(t, rcq.LostJobPolicy{DeadAfter: time.Minute, StartTimeout: time.Minute, RequeueArrays: true})
	if !got[e0].Requeued || !got[e1].Requeued || got[n0].Requeued {
		t.Fatalf("array elements: %+v; want %d and %d requeued, %d (--no-requeue) not", got, e0, e1, n0)
	}
	if j := f.job(t, e0); j.State != rcq.JobPending || j.Array == nil || j.Array.TaskID == nil || *j.Array.TaskID != 0 {
		t.Fatalf("requeued element: %s %+v", j.State, j.Array)
	}

	f.reviveNode(t, "node1", nodeHolder)
	e2 := start(arr, 2)
	f.killNode(t, "node1", 2*time.Minute)
	got = f.sweep(t, rcq.LostJobPolicy{DeadAfter: time.Minute, StartTimeout: time.Minute, RequeueArrays: false})
	if got[e2].Requeued || f.job(t, e2).State != rcq.JobNodeFail {
		t.Fatalf("with requeue_array_elements off: %+v, %s", got, f.job(t, e2).State)
	}
}

// A running job no rcqd launched within the start timeout ends failed
// LaunchFailed, or is requeued once; a launched one is left alone.
func TestEndLostJobsStartTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	stuck := f.submitRequeue(t, nil)
	retried := f.submitRequeue(t, ptr(true))
	launched := f.submitRequeue(t, nil)
	fresh := f.submitRequeue(t, nil)
	for _, id := range []rcq.JobID{stuck, retried, launched, fresh} {
		f.start(t, id)
	}
	if err := f.st.ClaimJob(ctx, launched, "node1", nodeHolder); err != nil {
		t.Fatal(err)
	}
	f.exec(t, `UPDATE jobs SET started_at = now() - interval '2 minutes' WHERE id = ANY($1)`, []int64{int64(stuck), int64(retried), int64(launched)})
	got := f.sweep(t, policy)
	if len(got) != 2 {
		t.Fatalf("swept %+v, want the 2 unlaunched jobs started 2 minutes ago", got)
	}
	if j := f.job(t, stuck); j.State != rcq.JobFailed || j.Reason != rcq.ReasonLaunchFailed ||
		!strings.Contains(j.ReasonDetail, "did not launch it within jobs.start_timeout (1m0s)") {
		t.Errorf("unlaunched job: %s %s %q", j.State, j.Reason, j.ReasonDetail)
	}
	if j := f.job(t, retried); j.State != rcq.JobPending || j.Restarts != 1 || !strings.Contains(j.ReasonDetail, "LaunchFailed") {
		t.Errorf("unlaunched requeueable job: %s restarts %d %q", j.State, j.Restarts, j.ReasonDetail)
	}
	if runs := f.usageRuns(t, retried); len(runs) != 0 {
		t.Errorf("a run never launched was charged: usage rows %v", runs)
	}
	for _, id := range []rcq.JobID{launched, fresh} {
		if j := f.job(t, id); j.State != rcq.JobRunning {
			t.Errorf("job %d: %s, want still running", id, j.State)
		}
	}
}

// The sweep is fenced by the scheduler lease: a former leader decides nothing.
func TestEndLostJobsFencedByLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submitRequeue(t, nil)
	f.start(t, id)
	f.killNode(t, "node1", 2*time.Minute)
	f.exec(t, `UPDATE leases SET holder = 'another', expires_at = now() + interval '1 minute' WHERE name = $1`, lease)
	if _, err := f.st.EndLostJobs(ctx, lease, holder, policy); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("sweep without the lease: %v, want ErrLeaseLost", err)
	}
	if j := f.job(t, id); j.State != rcq.JobRunning {
		t.Fatalf("a fenced sweep changed the job: %s", j.State)
	}
}

// A late end report of a paused node never overwrites the sweep's decision:
// a node_fail stays node_fail; a requeued run's report is refused as stale,
// also once the job runs again, here or launched by another holder.
func TestFinishJobFencedByRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	ended := f.submitRequeue(t, nil)
	requeued := f.submitRequeue(t, ptr(true))
	for _, id := range []rcq.JobID{ended, requeued} {
		f.start(t, id)
		if err := f.st.ClaimJob(ctx, id, "node1", nodeHolder); err != nil {
			t.Fatal(err)
		}
	}
	f.killNode(t, "node1", 2*time.Minute)
	f.sweep(t, policy)
	late := func(id rcq.JobID, run int) error {
		return f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: rcq.JobCompleted, ExitCode: ptr(0), Holder: nodeHolder, Restarts: run})
	}
	if err := late(ended, 0); err != nil {
		t.Fatalf("late report of a job ended node_fail: %v, want nil (nothing to record)", err)
	}
	if j := f.job(t, ended); j.State != rcq.JobNodeFail || j.ExitCode != nil {
		t.Fatalf("a late report overwrote node_fail: %s exit %v", j.State, j.ExitCode)
	}
	if err := late(requeued, 0); !errors.Is(err, store.ErrStaleRun) {
		t.Fatalf("late report of a requeued run: %v, want ErrStaleRun", err)
	}
	f.reviveNode(t, "node1", "node1:/elsewhere")
	f.start(t, requeued)
	if err := late(requeued, 0); !errors.Is(err, store.ErrStaleRun) {
		t.Fatalf("late report of run 0 while run 1 is running: %v, want ErrStaleRun", err)
	}
	if err := f.st.ClaimJob(ctx, requeued, "node1", "node1:/elsewhere"); err != nil {
		t.Fatal(err)
	}
	if err := late(requeued, 1); !errors.Is(err, store.ErrStaleRun) {
		t.Fatalf("report of run 1 by a holder that did not launch it: %v, want ErrStaleRun", err)
	}
	if j := f.job(t, requeued); j.State != rcq.JobRunning {
		t.Fatalf("stale reports changed the job: %s", j.State)
	}
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: requeued, State: rcq.JobCompleted, ExitCode: ptr(0), Holder: "node1:/elsewhere", Restarts: 1}); err != nil {
		t.Fatal(err)
	}
	if j := f.job(t, requeued); j.State != rcq.JobCompleted || j.Restarts != 1 {
		t.Fatalf("the current run's report: %s restarts %d", j.State, j.Restarts)
	}
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: requeued, State: rcq.JobPending}); err == nil {
		t.Fatal("FinishJob accepted pending as an end state")
	}
}

// A signal asked of a run that the sweep requeues before the run's node
// sent it is dropped with the run: the next run never gets it.
func TestEndLostJobsDropsUnsentSignals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submitRequeue(t, ptr(true))
	f.start(t, id)
	if err := f.st.ClaimJob(ctx, id, "node1", nodeHolder); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SignalJob(ctx, id, 0, "USR1"); err != nil {
		t.Fatal(err)
	}
	if sigs, err := f.st.PendingSignals(ctx, "node1", nodeHolder); err != nil || len(sigs) != 1 {
		t.Fatalf("signals before the sweep: %+v %v, want the USR1", sigs, err)
	}
	f.killNode(t, "node1", 2*time.Minute)
	if got := f.sweep(t, policy); !got[id].Requeued {
		t.Fatalf("sweep: %+v, want job %d requeued", got, id)
	}
	f.reviveNode(t, "node1", nodeHolder)
	f.start(t, id)
	if sigs, err := f.st.PendingSignals(ctx, "node1", nodeHolder); err != nil || len(sigs) != 0 {
		t.Fatalf("signals for run 1: %+v %v, want none (the USR1 was run 0's)", sigs, err)
	}
}

// Nothing is placed on a worker whose node has no live lease: the snapshot
// shows it offline, HasRoom finds no room, StartJobs refuses the start.
func TestPlacementNeedsLiveNodeLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(1, 1, 0))
	f.releaseNodeLease(t)
	snap, err := f.st.Snapshot(ctx, time.Hour, 0)
	if err != nil || len(snap.Workers) != 1 || snap.Workers[0].State != rcq.WorkerOffline {
		t.Fatalf("snapshot workers %+v %v, want w1 offline", snap.Workers, err)
	}
	if room, err := f.st.HasRoom(ctx, 0); err != nil || room {
		t.Fatalf("HasRoom = %v %v, want false", room, err)
	}
	f.takeLease(t)
	if done, err := f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: id, WorkerID: f.worker}}); err != nil || len(done) != 0 {
		t.Fatalf("start on a node without a lease: %v %v", done, err)
	}
	f.reviveNode(t, "node1", nodeHolder)
	f.start(t, id)
}

// A worker with running jobs is not deleted (409 naming them); an idle one
// is, with its audit row; it leaves every list, its name is free again, and
// the jobs that ran there still name it.
func TestDeleteWorker(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(1, 1, 0))
	f.start(t, id)
	wantKind(t, f.st.DeleteWorker(ctx, f.worker), rcq.KindConflict, "worker_busy")
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: rcq.JobCompleted, ExitCode: ptr(0)}); err != nil {
		t.Fatal(err)
	}
	actx := rcq.WithActor(ctx, rcq.Actor{ID: f.admin, Email: "admin@localhost", Peer: "uid:0", RequestID: "req-1"})
	if err := f.st.DeleteWorker(actx, f.worker); err != nil {
		t.Fatal(err)
	}
	wantKind(t, f.st.DeleteWorker(ctx, f.worker), rcq.KindNotFound, "worker_not_found")
	if _, err := f.st.WorkerByID(ctx, f.worker); rcq.KindOf(err) != rcq.KindNotFound {
		t.Fatalf("WorkerByID of a deleted worker: %v", err)
	}
	if ws, err := f.st.Workers(ctx); err != nil || len(ws) != 0 {
		t.Fatalf("workers after delete: %v %v", ws, err)
	}
	if j := f.job(t, id); j.WorkerName != "w1" {
		t.Fatalf("the job that ran there names worker %q", j.WorkerName)
	}
	audit, err := f.st.AuditEvents(ctx, rcq.AuditFilter{Action: "worker.delete"})
	if err != nil || len(audit) != 1 || audit[0].TargetID != "1" || audit[0].ActorEmail != "admin@localhost" || !strings.Contains(string(audit[0].Before), `"w1"`) {
		t.Fatalf("audit rows %+v %v", audit, err)
	}
	w, err := f.st.CreateWorker(ctx, rcq.Worker{Name: "w1", Node: "node1", Capacity: res(2, 4, 0), State: rcq.WorkerOnline})
	if err != nil || w.ID == f.worker {
		t.Fatalf("a new worker named like the deleted one: %+v %v", w, err)
	}
	// Heartbeats of its node leave the deleted row alone.
	f.exec(t, `UPDATE workers SET last_heartbeat = now() - interval '1 hour' WHERE deleted_at IS NOT NULL`)
	if err := f.st.Heartbeat(ctx, "node1"); err != nil {
		t.Fatal(err)
	}
	if n := f.count(t, `SELECT count(*) FROM workers WHERE deleted_at IS NOT NULL AND last_heartbeat > now() - interval '1 minute'`); n != 0 {
		t.Fatalf("a heartbeat touched the deleted worker")
	}
}

// KnownNodes lists the nodes whose rcqd heartbeated (or registered its
// worker), with whether their lease is live.
func TestKnownNodes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	if err := f.st.Heartbeat(ctx, "node3"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.CreateWorker(ctx, rcq.Worker{Name: "typo", Node: "nodee1", Capacity: res(1, 1, 0), State: rcq.WorkerOffline}); err != nil {
		t.Fatal(err)
	}
	ns, err := f.st.KnownNodes(ctx)
	if err != nil || len(ns) != 2 || ns[0].Name != "node1" || !ns[0].Live || ns[1].Name != "node3" || ns[1].Live {
		t.Fatalf("KnownNodes = %+v %v, want node1 (live) and node3", ns, err)
	}
}

// The event log says a deleted worker is deleted, and a requeued job pending
// again (GET /api/events streams both).
func TestLostAndDeletedEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submitRequeue(t, ptr(true))
	f.start(t, id)
	var before int64
	if err := f.db.QueryRow(ctx, `SELECT coalesce(max(id), 0) FROM events`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	f.killNode(t, "node1", 2*time.Minute)
	f.sweep(t, policy)
	f.reviveNode(t, "node1", nodeHolder)
	w, err := f.st.CreateWorker(ctx, rcq.Worker{Name: "spare", Node: "node1", Capacity: res(1, 1, 0), State: rcq.WorkerOnline})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.st.DeleteWorker(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	evs, err := f.st.EventsAfter(ctx, before, 0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Kind+":"+ev.State)
	}
	if want := "job:pending worker:online worker:deleted"; strings.Join(got, " ") != want {
		t.Errorf("events %q, want %q", got, want)
	}
}

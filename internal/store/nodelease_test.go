package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// nodeHolder is the fixture's rcqd on node1, as rcqd names itself
// (node:state directory).
const nodeHolder = "node1:/var/lib/rcq"

func (f *fixture) takeNodeLease(t *testing.T, who string) {
	t.Helper()
	ok, err := f.st.AcquireLease(ctxT(t), store.NodeLease("node1"), who, time.Minute)
	if err != nil || !ok {
		t.Fatalf("take node1's lease for %s: %v %v", who, ok, err)
	}
}

// releaseNodeLease stops the fixture's rcqd on node1 (newFixture took its lease).
func (f *fixture) releaseNodeLease(t *testing.T) {
	t.Helper()
	if err := f.st.ReleaseLease(ctxT(t), store.NodeLease("node1"), nodeHolder); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) launchedBy(t *testing.T, id rcq.JobID) string {
	t.Helper()
	var by *string
	if err := f.db.QueryRow(ctxT(t), `SELECT launched_by FROM jobs WHERE id = $1`, id).Scan(&by); err != nil {
		t.Fatal(err)
	}
	if by == nil {
		return ""
	}
	return *by
}

// A second rcqd with the same node name is refused the node's lease while the
// first one's is live, and learns who holds it; it gets the lease once the
// first's has expired or been released. The holder itself (a restart on the
// same state directory) takes it back at once.
func TestNodeLeaseOneHolder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	name := store.NodeLease("node1")
	f.releaseNodeLease(t) // the fixture's rcqd stops
	acq := func(who string) bool {
		t.Helper()
		ok, err := f.st.AcquireLease(ctx, name, who, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if who, _, err := f.st.LeaseHolder(ctx, name); err != nil || who != "" {
		t.Fatalf("holder of a lease never taken: %q %v", who, err)
	}
	if !acq("node1:/a") {
		t.Fatal("the first rcqd was refused a free node lease")
	}
	if acq("node1:/b") {
		t.Fatal("a second rcqd with the same node name got the live node lease")
	}
	who, left, err := f.st.LeaseHolder(ctx, name)
	if err != nil || who != "node1:/a" || left <= 0 || left > time.Minute {
		t.Fatalf("LeaseHolder = %q %v %v, want node1:/a with up to a minute left", who, left, err)
	}
	if !acq("node1:/a") {
		t.Fatal("the holder, restarted on its state directory, could not take its own lease back")
	}
	// Another node's lease is another row.
	if ok, err := f.st.AcquireLease(ctx, store.NodeLease("node2"), "node2:/b", time.Minute); err != nil || !ok {
		t.Fatalf("node2's lease: %v %v", ok, err)
	}
	f.exec(t, `UPDATE leases SET expires_at = now() - interval '1 second' WHERE name = $1`, name)
	if !acq("node1:/b") {
		t.Fatal("the second rcqd could not take an expired node lease")
	}
	if acq("node1:/a") {
		t.Fatal("the first rcqd took back a lease another holds")
	}
	if err := f.st.ReleaseLease(ctx, name, "node1:/b"); err != nil {
		t.Fatal(err)
	}
	if !acq("node1:/a") {
		t.Fatal("a released node lease could not be taken")
	}
}

// A launch is claimed under the node lease: not without it, not after it is
// lost, never a job another holder launched, never a job that is no longer
// running or is not on the node.
func TestClaimJobFencedByNodeLease(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(1, 1, 0))
	f.start(t, id)
	f.releaseNodeLease(t)

	if err := f.st.ClaimJob(ctx, id, "node1", nodeHolder); !errors.Is(err, store.ErrNodeLeaseLost) {
		t.Fatalf("claim without the node lease: %v, want ErrNodeLeaseLost", err)
	}
	f.takeNodeLease(t, nodeHolder)
	// Our lease, expired (we were paused): fenced.
	f.exec(t, `UPDATE leases SET expires_at = now() - interval '1 second' WHERE name = $1`, store.NodeLease("node1"))
	if err := f.st.ClaimJob(ctx, id, "node1", nodeHolder); !errors.Is(err, store.ErrNodeLeaseLost) {
		t.Fatalf("claim under an expired node lease: %v, want ErrNodeLeaseLost", err)
	}
	if by := f.launchedBy(t, id); by != "" {
		t.Fatalf("a fenced claim marked the job launched by %q", by)
	}
	f.takeNodeLease(t, nodeHolder)
	if err := f.st.ClaimJob(ctx, id, "node1", nodeHolder); err != nil {
		t.Fatalf("claim with the node lease: %v", err)
	}
	if by := f.launchedBy(t, id); by != nodeHolder {
		t.Fatalf("launched_by = %q, want %q", by, nodeHolder)
	}
	// The same holder again (a restart relaunching a job whose supervisor never ran).
	if err := f.st.ClaimJob(ctx, id, "node1", nodeHolder); err != nil {
		t.Fatalf("the holder claiming its own job again: %v", err)
	}

	// Another rcqd with the same node name takes the lease over.
	other := "node1:/elsewhere"
	f.exec(t, `UPDATE leases SET expires_at = now() - interval '1 second' WHERE name = $1`, store.NodeLease("node1"))
	f.takeNodeLease(t, other)
	second := f.submit(t, f.alice, res(1, 1, 0))
	f.start(t, second)
	if err := f.st.ClaimJob(ctx, second, "node1", nodeHolder); !errors.Is(err, store.ErrNodeLeaseLost) {
		t.Fatalf("claim after the node lease was lost: %v, want ErrNodeLeaseLost", err)
	}
	wantKind(t, f.st.ClaimJob(ctx, id, "node1", other), rcq.KindConflict, "job_launched_elsewhere")
	if by := f.launchedBy(t, id); by != nodeHolder {
		t.Fatalf("launched_by = %q after another holder's claim, want %q", by, nodeHolder)
	}
	// The new holder never sees the first one's job as its own.
	js, err := f.st.NodeJobs(ctx, "node1", other)
	if err != nil || len(js) != 1 || js[0].ID != second {
		t.Fatalf("NodeJobs of the new holder = %v %v, want only job %d", js, err, second)
	}
	if err := f.st.ClaimJob(ctx, second, "node1", other); err != nil {
		t.Fatal(err)
	}

	// Cancelled before launch, a pending job, a job on another node: nothing to launch.
	cancelled := f.submit(t, f.alice, res(1, 1, 0))
	f.start(t, cancelled)
	if _, err := f.st.CancelJob(ctx, cancelled, 0); err != nil {
		t.Fatal(err)
	}
	wantKind(t, f.st.ClaimJob(ctx, cancelled, "node1", other), rcq.KindConflict, "job_not_running")
	pending := f.submit(t, f.alice, res(1, 1, 0))
	wantKind(t, f.st.ClaimJob(ctx, pending, "node1", other), rcq.KindConflict, "job_not_running")
	if ok, err := f.st.AcquireLease(ctx, store.NodeLease("node2"), "node2:/x", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	onNode1 := f.submit(t, f.alice, res(1, 1, 0))
	f.start(t, onNode1)
	wantKind(t, f.st.ClaimJob(ctx, onNode1, "node2", "node2:/x"), rcq.KindConflict, "job_not_running")
	for _, j := range []rcq.JobID{cancelled, pending, onNode1} {
		if by := f.launchedBy(t, j); by != "" {
			t.Errorf("job %d marked launched by %q by a refused claim", j, by)
		}
	}
}

// Two rcqd with the same node name claim the same jobs while the node's lease
// passes back and forth between them: each job is claimed by exactly one,
// and a claim that succeeded is the one the store kept.
func TestClaimJobRaceTwoHolders(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	const n = 40
	ids := make([]rcq.JobID, n)
	for i := range ids {
		ids[i] = f.submit(t, f.alice, res(1, 1, 0))
	}
	f.exec(t, `UPDATE workers SET cpu_cores = 1000, memory_gb = 1000 WHERE id = $1`, f.worker) // room for every job
	f.takeLease(t)
	starts := make([]rcq.Start, n)
	for i, id := range ids {
		starts[i] = rcq.Start{JobID: id, WorkerID: f.worker}
	}
	if done, err := f.st.StartJobs(ctx, lease, holder, starts); err != nil || len(done) != n {
		t.Fatalf("start %d jobs: %d started, %v", n, len(done), err)
	}

	holders := []string{"node1:/a", "node1:/b"}
	name := store.NodeLease("node1")
	var mu sync.Mutex
	won := map[rcq.JobID][]string{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// The lease flips between the two holders while they claim.
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			cur, next := holders[i%2], holders[(i+1)%2]
			if err := f.st.ReleaseLease(ctx, name, cur); err != nil {
				t.Error(err)
				return
			}
			if _, err := f.st.AcquireLease(ctx, name, next, time.Minute); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var claimers sync.WaitGroup
	for _, h := range holders {
		for range 2 {
			claimers.Go(func() {
				for _, id := range ids {
					err := f.st.ClaimJob(ctx, id, "node1", h)
					switch {
					case err == nil:
						mu.Lock()
						won[id] = append(won[id], h)
						mu.Unlock()
					case errors.Is(err, store.ErrNodeLeaseLost), rcq.CodeOf(err) == "job_launched_elsewhere":
					default:
						t.Errorf("claim job %d as %s: %v", id, h, err)
					}
				}
			})
		}
	}
	claimers.Wait()
	close(stop)
	wg.Wait()
	claimed := 0
	for _, id := range ids {
		ws := won[id]
		if len(ws) == 0 {
			continue
		}
		claimed++
		for _, w := range ws {
			if w != ws[0] {
				t.Errorf("job %d claimed by both %v", id, ws)
			}
		}
		if by := f.launchedBy(t, id); by != ws[0] {
			t.Errorf("job %d: claimed by %s, stored launched_by %q", id, ws[0], by)
		}
	}
	t.Logf("%d of %d jobs claimed while the lease flipped", claimed, n)
}

// A holder paused inside a fenced transaction (SIGSTOP, a frozen machine)
// holds the lease row's lock. Its session ends once the lease has run out,
// so another rcqd takes over then, not after the pool's 60 s idle limit;
// and the paused transaction can commit nothing.
func TestPausedFenceLetsTheLeaseGoWhenItRunsOut(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	const lease = "paused-fence"
	if ok, err := f.st.AcquireLease(ctx, lease, "a", time.Second); err != nil || !ok {
		t.Fatalf("a takes the lease: %v %v", ok, err)
	}
	tx, err := f.st.FencedTx(ctx, lease, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	took := time.Now()
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	// b tries as the elector does, again and again: each try waits on the
	// lock while a's transaction holds it.
	for {
		ok, err := f.st.AcquireLease(actx, lease, "b", time.Minute)
		if err != nil {
			t.Fatalf("b could not take the lease %v after a paused: %v", time.Since(took).Round(time.Millisecond), err)
		}
		if ok {
			break
		}
	}
	t.Logf("b took the lease %v after a paused", time.Since(took).Round(time.Millisecond))
	if err := tx.Commit(ctx); err == nil {
		t.Error("a's fenced transaction committed after b took the lease")
	}
}

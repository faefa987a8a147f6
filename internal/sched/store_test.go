package sched

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// Store-level tests: the loop against PostgreSQL through internal/store.

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

type dbFixture struct {
	url     string
	st      *store.Store
	user    rcq.UserID
	workers []rcq.WorkerID
}

func openStore(t testing.TB, url string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), url, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	return st
}

// newDB is a fresh database with the default group, a user and n workers of
// 8 cores, 32 GB and 2 GPUs.
func newDB(t testing.TB, n int) *dbFixture {
	return newDBOf(t, n, func(int) rcq.Resources { return res(8, 32, 2) })
}

func newDBOf(t testing.TB, n int, capacity func(i int) rcq.Resources) *dbFixture {
	t.Helper()
	ctx := t.Context()
	f := &dbFixture{url: dbtest.URL(t)}
	f.st = openStore(t, f.url)
	if err := f.st.EnsureDefaultGroup(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.user, err = f.st.CreateUser(ctx, rcq.User{Email: "alice@example.org", GroupID: 1}, "hash"); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id, err := f.st.RegisterWorker(ctx, rcq.Worker{Name: fmt.Sprintf("w%d", i+1), Node: "node1", Capacity: capacity(i)})
		if err != nil {
			t.Fatal(err)
		}
		f.workers = append(f.workers, id)
	}
	// node1's rcqd is up: jobs are placed only on nodes whose rcqd holds
	// the node's lease.
	if ok, err := f.st.AcquireLease(ctx, store.NodeLease("node1"), "node1:/state", time.Hour); err != nil || !ok {
		t.Fatalf("take node1's lease: %v %v", ok, err)
	}
	return f
}

func (f *dbFixture) submit(t *testing.T, r rcq.Resources) rcq.JobID {
	t.Helper()
	id, _, err := f.st.CreateJob(context.Background(), &rcq.Job{UserID: f.user, GroupID: 1, Name: "j",
		Script: "#!/bin/sh\ntrue\n", Resources: r, EstimatedHours: 1, Priority: 5}, "")
	if err != nil {
		t.Error(err)
	}
	return id
}

// checkDB asserts that no worker is over-committed and no GPU index is held
// twice, as the database sees it.
func checkDB(t *testing.T, st *store.Store) *rcq.Snapshot {
	t.Helper()
	snap, err := st.Snapshot(t.Context(), DefaultFairShareWindow, 0)
	if err != nil {
		t.Fatal(err)
	}
	used := map[rcq.WorkerID]rcq.Resources{}
	gpus := map[rcq.WorkerID]map[int]bool{}
	for _, r := range snap.Running {
		used[r.WorkerID] = used[r.WorkerID].Add(r.Resources)
		if gpus[r.WorkerID] == nil {
			gpus[r.WorkerID] = map[int]bool{}
		}
		for _, g := range r.GPUIndices {
			if gpus[r.WorkerID][g] {
				t.Errorf("GPU %d of worker %d held twice", g, r.WorkerID)
			}
			gpus[r.WorkerID][g] = true
		}
	}
	for _, w := range snap.Workers {
		if !used[w.ID].Fits(w.Capacity) {
			t.Errorf("worker %d over-committed: %v of %v", w.ID, used[w.ID], w.Capacity)
		}
	}
	return snap
}

// Three schedulers on one database (three rcqd processes, each with its own
// pool), cycling concurrently while jobs are submitted and the lease changes
// hands under them: no job is started twice and no worker is over-committed.
func TestStoreSchedulersNeverDoubleStart(t *testing.T) {
	f := newDB(t, 3)
	for range 40 {
		f.submit(t, res(1, 2, 0))
	}
	var mu sync.Mutex
	started := map[rcq.JobID]string{}
	var dup []string
	cfg := DefaultConfig()
	cfg.MaxConcurrentJobs = 0
	names := []string{"a", "b", "c"}
	loops := make([]*Loop, len(names))
	for i, name := range names {
		c := cfg
		c.OnStarted = func(ss []rcq.Start) {
			mu.Lock()
			defer mu.Unlock()
			for _, s := range ss {
				if by, ok := started[s.JobID]; ok {
					dup = append(dup, fmt.Sprintf("job %d started by %s and %s", s.JobID, by, name))
				}
				started[s.JobID] = name
			}
		}
		loops[i] = New(openStore(t, f.url), c, nil, name)
	}

	// Rounds of the three schedulers cycling at once, while jobs are
	// submitted and finish. Every other round the lease is handed to the next
	// scheduler (the others still believe they lead until their commit is
	// refused); every third round it is also taken away in the middle of the
	// cycles, as when a paused holder's lease expires.
	releaseAll := func() {
		for _, name := range names {
			if err := f.st.ReleaseLease(t.Context(), LeaseName, name); err != nil {
				t.Error(err)
			}
		}
	}
	leaders := make([]int, len(loops))
	lost := 0
	var submits sync.WaitGroup
	submits.Go(func() {
		for i := range 60 {
			f.submit(t, res(1+i%3, 1+i%5, i%2))
		}
	})
	for round := range 36 {
		if round%2 == 0 {
			releaseAll()
			loops[(round/2)%len(loops)].renew(t.Context())
		}
		results := make([]CycleResult, len(loops))
		var wg sync.WaitGroup
		for i, l := range loops {
			wg.Go(func() {
				var err error
				if results[i], err = l.runOnce(t.Context()); err != nil {
					t.Errorf("%s: %v", names[i], err)
				}
			})
		}
		if round%3 == 1 {
			wg.Go(releaseAll)
		}
		wg.Go(func() { // half the running jobs end
			snap, err := f.st.Snapshot(t.Context(), DefaultFairShareWindow, 0)
			if err != nil {
				t.Error(err)
				return
			}
			for k, r := range snap.Running {
				if k%2 == round%2 {
					if err := f.st.FinishJob(t.Context(), rcq.Outcome{JobID: r.ID, State: rcq.JobCompleted}); err != nil {
						t.Error(err)
					}
				}
			}
		})
		wg.Wait()
		for i, r := range results {
			if r.Leader {
				leaders[i]++
			}
			if r.LeaseLost {
				lost++
			}
		}
	}
	submits.Wait()

	if len(dup) > 0 {
		t.Errorf("double starts: %v", dup)
	}
	checkDB(t, f.st)
	// Every job the schedulers reported started is started in the database,
	// and no other job is.
	jobs, err := f.st.ListJobs(t.Context(), rcq.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	inDB := 0
	for _, j := range jobs {
		if j.StartedAt != nil {
			inDB++
			if _, ok := started[j.ID]; !ok {
				t.Errorf("job %d started in the database, reported by no scheduler", j.ID)
			}
		}
	}
	if inDB != len(started) {
		t.Errorf("%d jobs started in the database, %d reported", inDB, len(started))
	}
	led := 0
	for _, n := range leaders {
		if n > 0 {
			led++
		}
	}
	if len(started) <= 24 || led < 2 {
		t.Errorf("the test did not contend: %d started, leaders per scheduler %v", len(started), leaders)
	}
	t.Logf("cycles as leader: %v; commits refused for a lost lease: %d; %d started", leaders, lost, len(started))
}

// cancelOnSnapshot cancels a job right after the cycle's snapshot is taken:
// the cancel commits between the plan and its starts.
type cancelOnSnapshot struct {
	*store.Store
	t    *testing.T
	jobs []rcq.JobID
}

func (c *cancelOnSnapshot) Snapshot(ctx context.Context, w, h time.Duration) (*rcq.Snapshot, error) {
	snap, err := c.Store.Snapshot(ctx, w, h)
	for _, id := range c.jobs {
		if _, err := c.Store.CancelJob(ctx, id, 0); err != nil {
			c.t.Errorf("cancel job %d: %v", id, err)
		}
	}
	c.jobs = nil
	return snap, err
}

// A job cancelled between the snapshot and the commit is never started; the
// others of the plan are.
func TestStoreCancelMidCycle(t *testing.T) {
	f := newDB(t, 1)
	a, b := f.submit(t, res(2, 2, 1)), f.submit(t, res(2, 2, 1))
	cs := &cancelOnSnapshot{Store: f.st, t: t, jobs: []rcq.JobID{a}}
	l := New(cs, DefaultConfig(), nil, "a")
	res, err := l.runOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if res.Planned != 2 || len(res.Started) != 1 || res.Started[0].JobID != b || res.Rejected != 1 {
		t.Fatalf("result %+v: want 2 planned, only job %d started", res, b)
	}
	ja, err := f.st.JobByID(t.Context(), a, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ja.State != rcq.JobCancelled || ja.StartedAt != nil || ja.WorkerID != nil {
		t.Errorf("cancelled job: state %s, started %v, worker %v; want cancelled, never started", ja.State, ja.StartedAt, ja.WorkerID)
	}
	checkDB(t, f.st)
}

// Cancels racing starts: each job ends either cancelled and never started,
// or started (reported by the scheduler) and then cancelled; never both
// counted.
func TestStoreCancelRacingStart(t *testing.T) {
	f := newDB(t, 2)
	l := New(openStore(t, f.url), DefaultConfig(), nil, "a")
	reported := map[rcq.JobID]bool{}
	for round := range 30 {
		id := f.submit(t, res(1, 1, round%2))
		var wg sync.WaitGroup
		var res CycleResult
		var cerr error
		wg.Go(func() { res, cerr = l.runOnce(t.Context()) })
		wg.Go(func() {
			if _, err := f.st.CancelJob(t.Context(), id, 0); err != nil {
				t.Errorf("cancel %d: %v", id, err)
			}
		})
		wg.Wait()
		if cerr != nil {
			t.Fatal(cerr)
		}
		for _, s := range res.Started {
			reported[s.JobID] = true
		}
		j, err := f.st.JobByID(t.Context(), id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if j.State != rcq.JobCancelled {
			t.Errorf("job %d: state %s, want cancelled", id, j.State)
		}
		if started := j.StartedAt != nil; started != reported[id] {
			t.Errorf("job %d: started in the database %v, reported started %v", id, started, reported[id])
		}
	}
	checkDB(t, f.st)
}

// BenchmarkCycle is a full cycle against PostgreSQL: snapshot, plan, commit.
// The first cycle (not timed) fills workers of 64 cores and 256 GB (one in
// four with 8 GPUs) from a queue of mixed jobs; the timed cycles are the
// steady state of a full cluster, as on every event and every interval.
func BenchmarkCycle(b *testing.B) {
	for _, jobs := range []int{1_000, 10_000, 100_000} {
		for _, workers := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("%dkx%d", jobs/1000, workers), func(b *testing.B) {
				f := newDBOf(b, workers, func(i int) rcq.Resources {
					if i%4 == 0 {
						return res(64, 256, 8)
					}
					return res(64, 256, 0)
				})
				rng := rand.New(rand.NewPCG(uint64(jobs), uint64(workers)))
				batch := make([]*rcq.Job, 0, 10_000)
				for i := range jobs {
					r := res(1+rng.IntN(16), 1+rng.IntN(64), 0)
					if rng.IntN(10) == 0 {
						r.GPUs = 1 + rng.IntN(4)
					}
					batch = append(batch, &rcq.Job{UserID: f.user, GroupID: 1, Name: "bench", Script: "#!/bin/sh\ntrue\n",
						Resources: r, EstimatedHours: 0.5 + float64(rng.IntN(48))/2, Priority: 1 + rng.IntN(10)})
					if len(batch) == cap(batch) || i == jobs-1 {
						if _, err := f.st.CreateJobs(b.Context(), batch); err != nil {
							b.Fatal(err)
						}
						batch = batch[:0]
					}
				}
				cfg := DefaultConfig()
				cfg.MaxConcurrentJobs = 0
				l := New(f.st, cfg, nil, "bench")
				first, err := l.runOnce(b.Context())
				if err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := l.runOnce(b.Context()); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(first.Started)), "running")
			})
		}
	}
}

// The leader's cycle sweeps lost jobs before its snapshot: a requeueable job
// of a dead node goes back to pending and is started again in the same
// cycle, on a worker of a live node, keeping its id; nothing is placed on the
// dead node's worker. Another process's cycle (no lease) sweeps nothing.
func TestStoreCycleRequeuesLostJobs(t *testing.T) {
	f := newDB(t, 1)
	ctx := t.Context()
	w2, err := f.st.RegisterWorker(ctx, rcq.Worker{Name: "w2", Node: "node2", Capacity: res(8, 32, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := f.st.AcquireLease(ctx, store.NodeLease("node2"), "node2:/state", time.Hour); err != nil || !ok {
		t.Fatal(ok, err)
	}
	requeue := true
	id, _, err := f.st.CreateJob(ctx, &rcq.Job{UserID: f.user, GroupID: 1, Name: "rq", Script: "#!/bin/sh\ntrue\n",
		Resources: res(8, 1, 0), EstimatedHours: 1, Priority: 5, Requeue: &requeue}, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Lost = rcq.LostJobPolicy{DeadAfter: time.Minute, StartTimeout: time.Minute}
	cfg.LostGrace = -1 // the new leader sweeps at once
	if ok, err := f.st.AcquireLease(ctx, LeaseName, "a", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if done, err := f.st.StartJobs(ctx, LeaseName, "a", []rcq.Start{{JobID: id, WorkerID: f.workers[0]}}); err != nil || len(done) != 1 {
		t.Fatal(done, err)
	}
	// node1's rcqd stops (its lease released) and is not heard of again:
	// with a dead_after of a microsecond, it is dead at once.
	if err := f.st.ReleaseLease(ctx, store.NodeLease("node1"), "node1:/state"); err != nil {
		t.Fatal(err)
	}
	cfg.Lost.DeadAfter = time.Microsecond
	follower := New(f.st, cfg, nil, "b")
	if res, err := follower.runOnce(ctx); err != nil || res.Leader || len(res.Lost.Jobs) != 0 {
		t.Fatalf("a follower's cycle: %+v %v", res, err)
	}
	// A leader of a moment (after a database outage every lease lapsed)
	// judges no node before it held the lease a lease time.
	patient := cfg
	patient.LostGrace = 0 // LeaseTTL
	if res, err := New(f.st, patient, nil, "a").runOnce(ctx); err != nil || !res.Leader || len(res.Lost.Jobs) != 0 {
		t.Fatalf("a new leader's first cycle: %+v %v, want no sweep yet", res, err)
	}
	l := New(f.st, cfg, nil, "a")
	res, err := l.runOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Lost.Jobs) != 1 || !res.Lost.Jobs[0].Requeued || res.Lost.Jobs[0].Reason != rcq.ReasonNodeFail {
		t.Fatalf("lost %+v, want job %d requeued after NodeFail", res.Lost, id)
	}
	if len(res.Started) != 1 || res.Started[0].JobID != id || res.Started[0].WorkerID != w2 {
		t.Fatalf("started %+v, want job %d again on w2 (node2)", res.Started, id)
	}
	j, err := f.st.JobByID(ctx, id, 0)
	if err != nil || j.State != rcq.JobRunning || j.Restarts != 1 || j.WorkerName != "w2" {
		t.Fatalf("job %+v %v", j, err)
	}
}

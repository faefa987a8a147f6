package sched

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// memStore is an in-memory Store for the loop's mechanics only: leases timed
// by a clock the test moves, starts that re-check pending state and the lease.
// Store-level behaviour is tested against PostgreSQL in store_test.go.
type memStore struct {
	mu        sync.Mutex
	now       time.Time
	workers   []rcq.Worker
	pending   []rcq.PendingJob
	running   []rcq.RunningJob
	cancelled []rcq.JobID
	leases    map[string]lease
	snapshots int

	// beforeSnapshot, when set, runs (unlocked) at the start of Snapshot.
	beforeSnapshot func(ctx context.Context)
}

type lease struct {
	holder  string
	expires time.Time
}

func newMemStore(workers []rcq.Worker, jobs ...rcq.PendingJob) *memStore {
	return &memStore{now: now, workers: workers, pending: jobs, leases: map[string]lease{}}
}

func (m *memStore) Snapshot(ctx context.Context, window, halfLife time.Duration) (*rcq.Snapshot, error) {
	if m.beforeSnapshot != nil {
		m.beforeSnapshot(ctx)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.snapshots++
	return &rcq.Snapshot{Now: m.now, Pending: slices.Clone(m.pending), Running: slices.Clone(m.running),
		Workers: slices.Clone(m.workers), DepStates: map[rcq.JobID]rcq.JobState{},
		Groups: []rcq.GroupShare{{Group: rcq.Group{ID: 1, CPUQuota: 1000, Priority: 5}}}}, nil
}

func (m *memStore) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[name]
	if ok && l.holder != holder && l.expires.After(m.now) {
		return false, nil
	}
	m.leases[name] = lease{holder, m.now.Add(ttl)}
	return true, nil
}

func (m *memStore) ReleaseLease(ctx context.Context, name, holder string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.leases[name].holder == holder {
		delete(m.leases, name)
	}
	return nil
}

// EndLostJobs finds nothing lost: the memStore has no nodes. It is fenced
// like the other writes.
func (m *memStore) EndLostJobs(ctx context.Context, lease, holder string, p rcq.LostJobPolicy) (rcq.LostJobs, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return rcq.LostJobs{}, m.fenced(lease, holder)
}

func (m *memStore) fenced(name, holder string) error {
	if l := m.leases[name]; l.holder != holder || !l.expires.After(m.now) {
		return &rcq.Error{Kind: rcq.KindConflict, Code: CodeLeaseLost, Msg: "lease lost"}
	}
	return nil
}

func (m *memStore) StartJobs(ctx context.Context, name, holder string, starts []rcq.Start) ([]rcq.Start, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fenced(name, holder); err != nil {
		return nil, err
	}
	var done []rcq.Start
	for _, s := range starts {
		i := slices.IndexFunc(m.pending, func(j rcq.PendingJob) bool { return j.ID == s.JobID && j.Hold == rcq.HoldNone })
		if i < 0 {
			continue
		}
		j := m.pending[i]
		m.pending = slices.Delete(m.pending, i, i+1)
		m.running = append(m.running, rcq.RunningJob{ID: j.ID, GroupID: j.GroupID, WorkerID: s.WorkerID, Resources: j.Resources,
			GPUIndices: s.GPUIndices, StartedAt: m.now, EstimatedHours: j.EstimatedHours})
		done = append(done, s)
	}
	return done, nil
}

func (m *memStore) CancelJobs(ctx context.Context, name, holder string, cancels []rcq.DependencyCancel) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fenced(name, holder); err != nil {
		return err
	}
	for _, c := range cancels {
		m.pending = slices.DeleteFunc(m.pending, func(j rcq.PendingJob) bool { return j.ID == c.JobID })
		m.cancelled = append(m.cancelled, c.JobID)
	}
	return nil
}

// GroupUsages gives group 1 as Snapshot does, with usage 4000 CPU-hours
// when the window is at least a day (and none otherwise).
func (m *memStore) GroupUsages(ctx context.Context, window, halfLife time.Duration) ([]rcq.GroupUsage, error) {
	g := rcq.GroupUsage{GroupShare: rcq.GroupShare{Group: rcq.Group{ID: 1, CPUQuota: 1000, Priority: 5}}}
	if window >= 24*time.Hour {
		g.UsageCPUHours = 4000
	}
	return []rcq.GroupUsage{g}, nil
}

func (m *memStore) HasRoom(ctx context.Context, maxRunning int) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if maxRunning > 0 && len(m.running) >= maxRunning {
		return false, nil
	}
	for _, w := range m.workers {
		if w.State != rcq.WorkerOnline {
			continue
		}
		used := 0
		for _, r := range m.running {
			if r.WorkerID == w.ID {
				used += r.Resources.CPUCores
			}
		}
		if used < w.Capacity.CPUCores {
			return true, nil
		}
	}
	return false, nil
}

func (m *memStore) runningIDs() []rcq.JobID {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []rcq.JobID
	for _, r := range m.running {
		ids = append(ids, r.ID)
	}
	return ids
}

func (m *memStore) snapshotCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.snapshots
}

func testConfig() Config {
	cfg := DefaultConfig()
	cfg.Interval = time.Hour // no periodic cycle during a test
	cfg.LeaseTTL = 15 * time.Second
	return cfg
}

func TestRunOnceStartsAndCallsOnStarted(t *testing.T) {
	st := newMemStore([]rcq.Worker{worker(1, res(8, 32, 2))}, pending(1, res(4, 8, 1), 1), pending(2, res(4, 8, 1), 1), pending(3, res(4, 8, 0), 1))
	var hooked []rcq.Start
	cfg := testConfig()
	cfg.OnStarted = func(s []rcq.Start) { hooked = append(hooked, s...) }
	l := New(st, cfg, nil, "a")
	res, err := l.runOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Leader || len(res.Started) != 2 || res.Planned != 2 || res.Pending != 3 {
		t.Fatalf("result = %+v, want leader, 2 of 3 started", res)
	}
	if got := st.runningIDs(); !slices.Equal(got, []rcq.JobID{1, 2}) {
		t.Errorf("running in store = %v, want [1 2]", got)
	}
	if !slices.EqualFunc(hooked, res.Started, func(a, b rcq.Start) bool { return a.JobID == b.JobID }) {
		t.Errorf("OnStarted got %+v, want %+v", hooked, res.Started)
	}
	// Nothing more fits: the next cycle starts nothing and calls no hook.
	hooked = nil
	if res, err := l.runOnce(t.Context()); err != nil || len(res.Started) != 0 || hooked != nil {
		t.Errorf("second cycle: %+v %v, hook %v; want nothing started", res, err, hooked)
	}
}

func TestRunOnceFollowerStartsNothing(t *testing.T) {
	st := newMemStore([]rcq.Worker{worker(1, res(8, 32, 0))}, pending(1, res(1, 1, 0), 1))
	b := New(st, testConfig(), nil, "b")
	if held, _ := st.AcquireLease(t.Context(), LeaseName, "a", time.Minute); !held {
		t.Fatal("a could not take the lease")
	}
	res, err := b.runOnce(t.Context())
	if err != nil || res.Leader || len(st.runningIDs()) != 0 {
		t.Fatalf("follower cycle: %+v %v, running %v; want not leader, nothing started", res, err, st.runningIDs())
	}
	// The holder dies (stops renewing); once its lease expires on the
	// database clock, b takes over and schedules.
	st.mu.Lock()
	st.now = st.now.Add(time.Minute + time.Second)
	st.mu.Unlock()
	res, err = b.runOnce(t.Context())
	if err != nil || !res.Leader || len(res.Started) != 1 || !b.Leader() {
		t.Fatalf("after expiry: %+v %v; want b to lead and start job 1", res, err)
	}
}

func TestRunOnceLeaseLostAtCommit(t *testing.T) {
	st := newMemStore([]rcq.Worker{worker(1, res(8, 32, 0))}, pending(1, res(1, 1, 0), 1), pending(2, res(1, 1, 0), 1))
	called := false
	cfg := testConfig()
	cfg.OnStarted = func([]rcq.Start) { called = true }
	l := New(st, cfg, nil, "a")
	// Between the snapshot and the commit, a's lease expires and b takes it
	// (a was paused longer than the TTL).
	st.beforeSnapshot = func(context.Context) {
		st.mu.Lock()
		defer st.mu.Unlock()
		st.now = st.now.Add(time.Hour)
		st.leases[LeaseName] = lease{"b", st.now.Add(time.Minute)}
	}
	res, err := l.runOnce(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !res.LeaseLost || res.Leader || len(res.Started) != 0 || l.Leader() || called {
		t.Fatalf("result %+v, leader %v, hook called %v; want lease lost, nothing started", res, l.Leader(), called)
	}
	if got := st.runningIDs(); len(got) != 0 {
		t.Errorf("jobs %v started without the lease", got)
	}
}

func TestRunOnceCancelsUnsatisfiable(t *testing.T) {
	j := pending(1, res(1, 1, 0), 1)
	j.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: 99}}
	st := newMemStore([]rcq.Worker{worker(1, res(8, 32, 0))}, j)
	l := New(&depStore{st, map[rcq.JobID]rcq.JobState{99: rcq.JobFailed}}, testConfig(), nil, "a")
	res, err := l.runOnce(t.Context())
	if err != nil || res.Cancelled != 1 || !slices.Equal(st.cancelled, []rcq.JobID{1}) || len(st.runningIDs()) != 0 {
		t.Fatalf("result %+v %v, cancelled %v; want job 1 cancelled, not started", res, err, st.cancelled)
	}
}

// depStore adds dependency states to a memStore's snapshots.
type depStore struct {
	*memStore
	deps map[rcq.JobID]rcq.JobState
}

func (d *depStore) Snapshot(ctx context.Context, w, h time.Duration) (*rcq.Snapshot, error) {
	s, err := d.memStore.Snapshot(ctx, w, h)
	if s != nil {
		s.DepStates = d.deps
	}
	return s, err
}

// A burst of Notify calls during a cycle is served by one more cycle.
func TestRunCoalescesNotifies(t *testing.T) {
	st := newMemStore([]rcq.Worker{worker(1, res(8, 32, 0))})
	entered, proceed := make(chan struct{}), make(chan struct{})
	var cycles atomic.Int32
	st.beforeSnapshot = func(ctx context.Context) {
		cycles.Add(1)
		select {
		case entered <- struct{}{}:
		case <-ctx.Done():
			return
		}
		select {
		case <-proceed:
		case <-ctx.Done():
		}
	}
	l := New(st, testConfig(), nil, "a")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()

	<-entered // the first cycle is in its snapshot
	for range 100 {
		l.Notify()
	}
	proceed <- struct{}{}
	<-entered // one more cycle for the whole burst
	proceed <- struct{}{}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := cycles.Load(); n != 2 {
		t.Errorf("%d cycles for a burst of 100 notifies during one cycle, want 2", n)
	}
	st.mu.Lock()
	_, held := st.leases[LeaseName]
	st.mu.Unlock()
	if held {
		t.Errorf("the lease is still held after Run returned")
	}
}

// A submit wakes the loop: the job starts without waiting for the interval.
func TestRunStartsOnNotify(t *testing.T) {
	st := newMemStore([]rcq.Worker{worker(1, res(8, 32, 0))})
	startedCh := make(chan []rcq.Start, 1)
	cfg := testConfig()
	cfg.OnStarted = func(s []rcq.Start) { startedCh <- s }
	l := New(st, cfg, nil, "a")
	cycled := make(chan struct{}, 10)
	st.beforeSnapshot = func(context.Context) { cycled <- struct{}{} }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	<-cycled // the first cycle found nothing to do

	st.mu.Lock()
	st.pending = append(st.pending, pending(7, res(2, 2, 0), 1))
	st.mu.Unlock()
	l.Notify()
	if s := <-startedCh; len(s) != 1 || s[0].JobID != 7 {
		t.Errorf("started %+v, want job 7", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestPlanLeaderCachedFollowerFresh(t *testing.T) {
	st := newMemStore([]rcq.Worker{worker(1, res(4, 32, 0))}, pending(1, res(4, 1, 0), 1), pending(2, res(4, 1, 0), 1))
	a, b := New(st, testConfig(), nil, "a"), New(st, testConfig(), nil, "b")
	if _, err := a.runOnce(t.Context()); err != nil || !a.Leader() {
		t.Fatal("a did not lead", err)
	}
	n := st.snapshotCount()
	p, err := a.Plan(t.Context())
	if err != nil || st.snapshotCount() != n || len(p.Jobs) != 2 {
		t.Fatalf("leader Plan: %v, %d snapshots (was %d), %d jobs; want the cached plan", err, st.snapshotCount(), n, len(p.Jobs))
	}
	a.Notify() // something changed: the cached plan is stale
	if _, err := a.Plan(t.Context()); err != nil || st.snapshotCount() != n+1 {
		t.Errorf("after Notify, Plan took %d snapshots, want a fresh one", st.snapshotCount()-n)
	}

	// b follows: its Plan is fresh and starts nothing.
	p, err = b.Plan(t.Context())
	if err != nil || b.Leader() {
		t.Fatal(err)
	}
	if len(p.Jobs) != 1 || p.Jobs[0].JobID != 2 || p.Jobs[0].Reason != rcq.ReasonResources || p.Jobs[0].ExpectedStart == nil {
		t.Errorf("follower plan = %+v, want job 2 waiting for resources with an expected start", p.Jobs)
	}
	if got := st.runningIDs(); !slices.Equal(got, []rcq.JobID{1}) {
		t.Errorf("running = %v, want only job 1 (started by a)", got)
	}
}

func TestPreview(t *testing.T) {
	st := newMemStore([]rcq.Worker{worker(1, res(4, 32, 0))})
	st.running = []rcq.RunningJob{running(100, 1, res(4, 8, 0), time.Hour, 3)}
	l := New(st, testConfig(), nil, "a")
	got, err := l.Preview(t.Context(), rcq.PendingJob{GroupID: 1, Priority: 5, Resources: res(2, 2, 0), EstimatedHours: 1})
	if err != nil || got == nil || got.ExpectedStart == nil || !got.ExpectedStart.Equal(now.Add(2*time.Hour)) {
		t.Errorf("Preview = %+v, %v; want a start at %v", got, err, now.Add(2*time.Hour))
	}
	_, err = l.Preview(t.Context(), rcq.PendingJob{GroupID: 1, Priority: 5, Resources: res(64, 2, 0), EstimatedHours: 1})
	if !errors.Is(err, rcq.ErrUnprocessable) {
		t.Errorf("Preview of a job too big for every worker: %v, want unprocessable", err)
	}
	if n := len(st.runningIDs()); n != 1 || len(st.pending) != 0 {
		t.Errorf("Preview changed the store")
	}
}

// On a cluster whose only worker is drained a job would wait, not fail: the
// worker may be resumed.
func TestPreviewDrained(t *testing.T) {
	w := worker(1, res(4, 32, 0))
	w.State = rcq.WorkerDrained
	l := New(newMemStore([]rcq.Worker{w}), testConfig(), nil, "a")
	got, err := l.Preview(t.Context(), rcq.PendingJob{GroupID: 1, Priority: 5, Resources: res(2, 2, 0), EstimatedHours: 1})
	if err != nil || got == nil || got.ExpectedStart != nil || got.Reason != rcq.ReasonWorkerDrained {
		t.Errorf("Preview on a drained cluster = %+v, %v; want no start yet, reason %s", got, err, rcq.ReasonWorkerDrained)
	}
}

// noPlanWait makes Plan wait an hour for a cycle, and returns a context
// that ends within 10 s: a Plan that waits for a cycle fails the test.
func noPlanWait(t *testing.T) context.Context {
	t.Helper()
	w := planWait
	planWait = time.Hour
	t.Cleanup(func() { planWait = w })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// On a full cluster an event cycle skips the snapshot of the pending jobs,
// and Plan then plans on demand at once instead of waiting for a cycle.
func TestEventCycleSkipsWithoutRoom(t *testing.T) {
	st := newMemStore([]rcq.Worker{worker(1, res(4, 32, 0))}, pending(2, res(1, 1, 0), 1))
	st.running = []rcq.RunningJob{running(1, 1, res(4, 1, 0), time.Minute, 1)}
	a := New(st, testConfig(), nil, "a")
	if _, err := a.runOnce(t.Context()); err != nil || !a.Leader() {
		t.Fatal("a did not lead", err)
	}
	n := st.snapshotCount()
	a.Notify() // a submit
	a.cycle(t.Context(), true)
	if got := st.snapshotCount(); got != n {
		t.Fatalf("an event cycle with no room took %d snapshots", got-n)
	}
	ctx := noPlanWait(t)
	p, err := a.Plan(ctx)
	if err != nil {
		t.Fatalf("Plan after a skipped cycle: %v", err)
	}
	if len(p.Jobs) != 1 || p.Jobs[0].JobID != 2 || p.Jobs[0].Reason != rcq.ReasonResources {
		t.Errorf("plan = %+v, want job 2 waiting for resources", p.Jobs)
	}
	// Later readers share that plan until something changes.
	if _, err := a.Plan(ctx); err != nil || st.snapshotCount() != n+1 {
		t.Errorf("a second Plan took %d snapshots in all since the skip, want 1 (%v)", st.snapshotCount()-n, err)
	}

	// Room again (the running job ended): the next event cycle runs in full.
	st.mu.Lock()
	st.running = nil
	st.mu.Unlock()
	a.Notify()
	a.cycle(t.Context(), true)
	if got := st.runningIDs(); !slices.Equal(got, []rcq.JobID{2}) {
		t.Errorf("running = %v after an event cycle with room, want job 2 started", got)
	}
}

// A held submit that waits on no other job runs no cycle (none could
// start or cancel anything), yet the next Plan shows the job: it plans on
// a fresh snapshot at once, as after a cycle that found no room. Any other
// submit still asks for a cycle.
func TestEventHeldSubmitRunsNoCycle(t *testing.T) {
	st := newMemStore([]rcq.Worker{worker(1, res(4, 32, 0))})
	a := New(st, testConfig(), nil, "a")
	if _, err := a.runOnce(t.Context()); err != nil || !a.Leader() {
		t.Fatal("a did not lead", err)
	}
	n := st.snapshotCount()
	held := pending(2, res(1, 1, 0), 1)
	held.Hold = rcq.HoldUser
	st.mu.Lock()
	st.pending = append(st.pending, held)
	st.mu.Unlock()
	a.Event(rcq.Event{Kind: rcq.EventJobSubmitted, JobID: 2, Held: true})
	if len(a.wake) != 0 {
		t.Fatal("a held submit asked for a cycle")
	}
	p, err := a.Plan(noPlanWait(t))
	if err != nil {
		t.Fatalf("Plan after a held submit: %v", err)
	}
	if len(p.Jobs) != 1 || p.Jobs[0].JobID != 2 || p.Jobs[0].Reason != rcq.ReasonHeldUser {
		t.Errorf("plan = %+v, want held job 2", p.Jobs)
	}
	if got := st.snapshotCount(); got != n+1 {
		t.Errorf("%d snapshots since the held submit, want the plan's 1", got-n)
	}
	if len(st.runningIDs()) != 0 {
		t.Errorf("running = %v, want nothing started", st.runningIDs())
	}

	for _, ev := range []rcq.Event{
		{Kind: rcq.EventJobSubmitted, JobID: 3},
		{Kind: rcq.EventJobEnded, JobID: 1},
		{Kind: rcq.EventWorkerChanged},
	} {
		a.Event(ev)
		if len(a.wake) != 1 {
			t.Errorf("%+v asked for no cycle", ev)
		}
		<-a.wake
	}
	a.Event(rcq.Event{Kind: rcq.EventJobSignal, JobID: 1})
	if len(a.wake) != 0 {
		t.Error("a signal asked for a cycle")
	}
}

func TestSharesUseTheConfiguredFairShare(t *testing.T) {
	cfg := testConfig()
	cfg.FairShareWindow, cfg.FairShareMin, cfg.FairShareMax = 48*time.Hour, 0.1, 3
	l := New(newMemStore(nil), cfg, nil, "a")
	gs, err := l.Shares(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].FairShare != 0.25 {
		t.Fatalf("shares %+v, want group 1 with factor 1000/4000 = 0.25", gs)
	}
	cfg.FairShareWindow = time.Hour // no usage: the configured maximum
	if gs, _ = New(newMemStore(nil), cfg, nil, "a").Shares(context.Background()); gs[0].FairShare != 3 {
		t.Fatalf("unused group's factor %v, want the maximum 3", gs[0].FairShare)
	}
}

// TestOnCycleReportsWaits: the cycle hook (rcqd's metrics) gets each cycle
// the leader ran, with how long each started job waited since its submit by
// the snapshot's clock; a follower's cycle is not reported.
func TestOnCycleReportsWaits(t *testing.T) {
	st := newMemStore([]rcq.Worker{worker(1, res(8, 32, 0))}, pending(1, res(4, 8, 0), 1), pending(2, res(4, 8, 0), 1), pending(3, res(4, 8, 0), 1))
	var got []CycleResult
	cfg := testConfig()
	cfg.OnCycle = func(r CycleResult) { got = append(got, r) }
	l := New(st, cfg, nil, "a")
	l.cycle(t.Context(), false)
	if len(got) != 1 || got[0].Took <= 0 || got[0].Pending != 3 || len(got[0].Started) != 2 || len(got[0].Waits) != 2 {
		t.Fatalf("hook got %+v, want one cycle: 3 considered, 2 started with their waits", got)
	}
	for i, w := range got[0].Waits {
		// pending(id) was submitted an hour before the snapshot, plus id seconds.
		if least := time.Hour - time.Duration(i+1)*time.Second; w < least || w > least+time.Minute {
			t.Errorf("wait of job %d = %v, want %v and the cycle's own time", i+1, w, least)
		}
	}
	b := New(st, cfg, nil, "b") // a follower: "a" holds the lease
	got = nil
	b.cycle(t.Context(), false)
	if len(got) != 0 {
		t.Errorf("a follower's cycle was reported: %+v", got)
	}
}

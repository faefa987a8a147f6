package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/metrics"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/sched"
	"github.com/rcq-project/rcq/internal/store"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// clock is a settable clock for the state cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// value is the value of the series name{labels}, and whether it exists.
func value(t testing.TB, m *metrics.Metrics, name string, labels ...string) (float64, bool) {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range s.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue series
				}
			}
			return metricValue(s), true
		}
	}
	return 0, false
}

func metricValue(s *dto.Metric) float64 {
	switch {
	case s.Gauge != nil:
		return s.Gauge.GetValue()
	case s.Counter != nil:
		return s.Counter.GetValue()
	case s.Histogram != nil:
		return float64(s.Histogram.GetSampleCount())
	}
	return 0
}

func must(t *testing.T, m *metrics.Metrics, want float64, name string, labels ...string) {
	t.Helper()
	got, ok := value(t, m, name, labels...)
	if !ok || got != want {
		t.Errorf("%s%v = %v (present %v), want %v", name, labels, got, ok, want)
	}
}

type fixture struct {
	st     *store.Store
	url    string
	worker rcq.WorkerID
	alice  rcq.UserID
	bob    rcq.UserID
	phys   rcq.GroupID
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{url: dbtest.URL(t)}
	var err error
	if f.st, err = store.Open(ctx, f.url, store.Options{ConnectTimeout: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.st.Close)
	if err := f.st.EnsureDefaultGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if f.phys, err = f.st.CreateGroup(ctx, rcq.Group{Name: "physics", CPUQuota: 100, Priority: 1}); err != nil {
		t.Fatal(err)
	}
	if f.worker, err = f.st.RegisterWorker(ctx, rcq.Worker{Name: "w1", Node: "node1", Capacity: rcq.Resources{CPUCores: 8, MemoryGB: 32, GPUs: 2}}); err != nil {
		t.Fatal(err)
	}
	if f.alice, err = f.st.CreateUser(ctx, rcq.User{Email: "alice@example.org", GroupID: rcq.DefaultGroup}, "x"); err != nil {
		t.Fatal(err)
	}
	if f.bob, err = f.st.CreateUser(ctx, rcq.User{Email: "bob@example.org", GroupID: f.phys}, "x"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) submit(t testing.TB, u rcq.UserID, g rcq.GroupID, r rcq.Resources) rcq.JobID {
	t.Helper()
	id, _, err := f.st.CreateJob(t.Context(), &rcq.Job{UserID: u, GroupID: g, Script: "#!/bin/sh\ntrue\n", Resources: r, EstimatedHours: 1, Priority: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestStateFromStore: jobs by state and group, held jobs, workers with
// their capacity and what running jobs hold, the leases, the pool, and the
// Go runtime, read from a real store.
func TestStateFromStore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	run := f.submit(t, f.alice, rcq.DefaultGroup, rcq.Resources{CPUCores: 3, MemoryGB: 5, GPUs: 1})
	f.submit(t, f.alice, rcq.DefaultGroup, rcq.Resources{CPUCores: 1, MemoryGB: 1})
	held := f.submit(t, f.bob, f.phys, rcq.Resources{CPUCores: 1, MemoryGB: 1})
	f.submit(t, f.bob, f.phys, rcq.Resources{CPUCores: 1, MemoryGB: 1})
	if err := f.st.SetHold(ctx, held, 0, rcq.HoldUser, true); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.st.AcquireLease(ctx, sched.LeaseName, "node1:/state", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// The node's lease first: nothing is placed on a node without one.
	if ok, err := f.st.AcquireLease(ctx, store.NodeLease("node1"), "node1:/state", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if done, err := f.st.StartJobs(ctx, sched.LeaseName, "node1:/state", []rcq.Start{{JobID: run, WorkerID: f.worker, GPUIndices: []int{0}}}); err != nil || len(done) != 1 {
		t.Fatal(done, err)
	}

	m := metrics.New(metrics.Options{State: f.st.OpsState, Pool: f.st.PoolStats, Leader: func() bool { return true }})
	must(t, m, 1, "rcq_jobs", "state", "pending", "group", "default")
	must(t, m, 1, "rcq_jobs", "state", "running", "group", "default")
	must(t, m, 2, "rcq_jobs", "state", "pending", "group", "physics")
	must(t, m, 0, "rcq_jobs", "state", "running", "group", "physics")
	must(t, m, 1, "rcq_jobs_held", "group", "physics")
	must(t, m, 0, "rcq_jobs_held", "group", "default")
	must(t, m, 1, "rcq_workers", "state", "online")
	must(t, m, 0, "rcq_workers", "state", "offline")
	w := []string{"worker", "w1", "node", "node1", "state", "online"}
	must(t, m, 8, "rcq_worker_cpus", w...)
	must(t, m, 3, "rcq_worker_cpus_allocated", w...)
	must(t, m, 32<<30, "rcq_worker_memory_bytes", w...)
	must(t, m, 5<<30, "rcq_worker_memory_allocated_bytes", w...)
	must(t, m, 2, "rcq_worker_gpus", w...)
	must(t, m, 1, "rcq_worker_gpus_allocated", w...)
	must(t, m, 1, "rcq_worker_running_jobs", w...)
	must(t, m, 1, "rcq_lease_holder", "lease", "scheduler", "holder", "node1:/state")
	must(t, m, 1, "rcq_lease_holder", "lease", store.NodeLease("node1"), "holder", "node1:/state")
	if left, _ := value(t, m, "rcq_lease_expires_in_seconds", "lease", "scheduler"); left <= 0 || left > 60 {
		t.Errorf("scheduler lease expires in %v s, want (0, 60]", left)
	}
	must(t, m, 1, "rcq_scheduler_leader")
	must(t, m, 1, "rcq_state_up")
	must(t, m, 0, "rcq_state_read_errors_total")
	if n, ok := value(t, m, "rcq_db_pool_connections", "state", "max"); !ok || n < 1 {
		t.Errorf("rcq_db_pool_connections{state=max} = %v (%v)", n, ok)
	}
	if n, ok := value(t, m, "rcq_db_pool_acquires_total"); !ok || n < 1 {
		t.Errorf("rcq_db_pool_acquires_total = %v (%v)", n, ok)
	}
	if _, ok := value(t, m, "go_goroutines"); !ok {
		t.Error("no Go runtime metrics")
	}

	// The HTTP handler serves the text format.
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") || !strings.Contains(string(body), `rcq_jobs{group="physics",state="pending"} 2`) {
		t.Errorf("scrape: %s\n%s", res.Header.Get("Content-Type"), body)
	}
}

// TestFinishedJobCounters: jobs that end count once in their finished
// state and group, whatever path ends them (the executor's end, a cancel
// of a pending or a running job, a bulk cancel), from counters the
// database keeps (no scan of jobs).
func TestFinishedJobCounters(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	const holder = "node1:/state"
	if ok, err := f.st.AcquireLease(ctx, sched.LeaseName, holder, time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// The node's lease too: nothing is placed on a node without one.
	if ok, err := f.st.AcquireLease(ctx, store.NodeLease("node1"), holder, time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	one := rcq.Resources{CPUCores: 1, MemoryGB: 1}
	start := func(ids ...rcq.JobID) {
		t.Helper()
		var ss []rcq.Start
		for _, id := range ids {
			ss = append(ss, rcq.Start{JobID: id, WorkerID: f.worker})
		}
		if done, err := f.st.StartJobs(ctx, sched.LeaseName, holder, ss); err != nil || len(done) != len(ids) {
			t.Fatal(done, err)
		}
	}
	finish := func(id rcq.JobID, state rcq.JobState, code int) {
		t.Helper()
		if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: state, ExitCode: &code, EndedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	ok1, ok2, bad, late, killed := f.submit(t, f.alice, rcq.DefaultGroup, one), f.submit(t, f.alice, rcq.DefaultGroup, one),
		f.submit(t, f.bob, f.phys, one), f.submit(t, f.bob, f.phys, one), f.submit(t, f.alice, rcq.DefaultGroup, one)
	start(ok1, ok2, bad, late, killed)
	finish(ok1, rcq.JobCompleted, 0)
	finish(ok2, rcq.JobCompleted, 0)
	finish(ok2, rcq.JobCompleted, 0) // a retried report changes nothing
	finish(bad, rcq.JobFailed, 3)
	finish(late, rcq.JobTimeout, 143)
	// A running job cancelled counts at the cancel; the end of its
	// processes afterwards does not count it again.
	if _, err := f.st.CancelJob(ctx, killed, 0); err != nil {
		t.Fatal(err)
	}
	finish(killed, rcq.JobCancelled, 143)
	// Pending jobs cancelled one by one and in bulk.
	pend := f.submit(t, f.bob, f.phys, one)
	if _, err := f.st.CancelJob(ctx, pend, 0); err != nil {
		t.Fatal(err)
	}
	var bulk []rcq.JobID
	for range 3 {
		bulk = append(bulk, f.submit(t, f.bob, f.phys, one))
	}
	if err := f.st.CancelJobs(ctx, sched.LeaseName, holder, []rcq.DependencyCancel{{JobID: bulk[0]}, {JobID: bulk[1]}, {JobID: bulk[2]}}); err != nil {
		t.Fatal(err)
	}
	f.submit(t, f.alice, rcq.DefaultGroup, one) // pending: not finished

	m := metrics.New(metrics.Options{State: f.st.OpsState})
	must(t, m, 2, "rcq_jobs_finished_total", "state", "completed", "group", "default")
	must(t, m, 1, "rcq_jobs_finished_total", "state", "cancelled", "group", "default")
	must(t, m, 0, "rcq_jobs_finished_total", "state", "failed", "group", "default")
	must(t, m, 0, "rcq_jobs_finished_total", "state", "timeout", "group", "default")
	must(t, m, 1, "rcq_jobs_finished_total", "state", "failed", "group", "physics")
	must(t, m, 1, "rcq_jobs_finished_total", "state", "timeout", "group", "physics")
	must(t, m, 4, "rcq_jobs_finished_total", "state", "cancelled", "group", "physics")
	must(t, m, 0, "rcq_jobs_finished_total", "state", "completed", "group", "physics")
	must(t, m, 1, "rcq_jobs", "state", "pending", "group", "default")
}

// TestStateCachedOncePerSecond: scrapes within a second share one read;
// the next second reads again.
func TestStateCachedOncePerSecond(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var reads atomic.Int64
	m := metrics.New(metrics.Options{Now: c.now, Wait: time.Hour, State: func(context.Context) (*rcq.OpsState, error) {
		n := reads.Add(1)
		return &rcq.OpsState{Jobs: []rcq.JobCount{{State: rcq.JobPending, Group: "g", N: int(n)}}}, nil
	}})
	must(t, m, 1, "rcq_jobs", "state", "pending", "group", "g")
	c.add(999 * time.Millisecond)
	must(t, m, 1, "rcq_jobs", "state", "pending", "group", "g")
	must(t, m, 0.999, "rcq_state_age_seconds")
	c.add(time.Millisecond)
	must(t, m, 2, "rcq_jobs", "state", "pending", "group", "g")
	if n := reads.Load(); n != 2 {
		t.Errorf("%d reads, want 2", n)
	}
}

// TestScrapeDoesNotWaitForASlowRead: a scrape that starts a read waits for
// it at most Wait, then answers with the values it has; the read's values
// show once it ends. No second read starts while one is under way.
func TestScrapeDoesNotWaitForASlowRead(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var reads atomic.Int64
	release := make(chan struct{})
	m := metrics.New(metrics.Options{Now: c.now, Wait: time.Millisecond, State: func(context.Context) (*rcq.OpsState, error) {
		n := reads.Add(1)
		if n > 1 {
			<-release
		}
		return &rcq.OpsState{Jobs: []rcq.JobCount{{State: rcq.JobPending, Group: "g", N: int(n)}}}, nil
	}})
	must(t, m, 1, "rcq_jobs", "state", "pending", "group", "g") // the first scrape waits for its read
	c.add(3 * time.Second)
	must(t, m, 1, "rcq_jobs", "state", "pending", "group", "g") // the second read hangs: old values
	must(t, m, 3, "rcq_state_age_seconds")
	c.add(3 * time.Second)
	must(t, m, 1, "rcq_jobs", "state", "pending", "group", "g") // still under way: no new read
	close(release)
	m.Settle() // the read ends
	must(t, m, 2, "rcq_jobs", "state", "pending", "group", "g")
	if n := reads.Load(); n != 2 {
		t.Errorf("%d reads, want 2", n)
	}
}

// TestScrapeDuringDatabaseOutage: while PostgreSQL refuses connections the
// scrape answers with the last values, rcq_state_up 0 and a growing
// rcq_state_age_seconds; once it answers again the values are fresh.
func TestScrapeDuringDatabaseOutage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.submit(t, f.alice, rcq.DefaultGroup, rcq.Resources{CPUCores: 1, MemoryGB: 1})
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	m := metrics.New(metrics.Options{State: f.st.OpsState, Pool: f.st.PoolStats, Now: c.now, Wait: time.Hour})
	must(t, m, 1, "rcq_jobs", "state", "pending", "group", "default")
	must(t, m, 0, "rcq_state_age_seconds")

	// The outage: the database takes no connections and drops the open ones.
	cc, err := pgx.ParseConfig(f.url)
	if err != nil {
		t.Fatal(err)
	}
	db := cc.Database
	cc.Database = "postgres" // a database may not close itself to connections
	admin, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := admin.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("ALTER DATABASE " + pgx.Identifier{db}.Sanitize() + " ALLOW_CONNECTIONS false")
	exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", db)
	if err := f.st.Ping(ctx); err == nil {
		t.Fatal("the store still answers: no outage")
	}

	c.add(5 * time.Second)
	must(t, m, 1, "rcq_jobs", "state", "pending", "group", "default")
	must(t, m, 5, "rcq_state_age_seconds")
	must(t, m, 0, "rcq_state_up")
	c.add(10 * time.Second)
	must(t, m, 15, "rcq_state_age_seconds")
	must(t, m, 2, "rcq_state_read_errors_total")
	if _, ok := value(t, m, "rcq_db_pool_connections", "state", "idle"); !ok {
		t.Error("the pool's series went missing during the outage")
	}

	exec("ALTER DATABASE " + pgx.Identifier{db}.Sanitize() + " ALLOW_CONNECTIONS true")
	f.submit(t, f.alice, rcq.DefaultGroup, rcq.Resources{CPUCores: 1, MemoryGB: 1})
	c.add(time.Second)
	must(t, m, 2, "rcq_jobs", "state", "pending", "group", "default")
	must(t, m, 0, "rcq_state_age_seconds")
	must(t, m, 1, "rcq_state_up")
}

// TestCycle: the scheduler hook's counters and histograms.
func TestCycle(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	m.Cycle(sched.CycleResult{Leader: true, Pending: 100, Planned: 3, Started: make([]rcq.Start, 2), Took: 20 * time.Millisecond,
		Waits: []time.Duration{2 * time.Second, 90 * time.Second}})
	m.Cycle(sched.CycleResult{Leader: true}) // failed before its end
	m.Cycle(sched.CycleResult{LeaseLost: true})
	must(t, m, 1, "rcq_scheduler_cycles_total", "result", "ok")
	must(t, m, 1, "rcq_scheduler_cycles_total", "result", "failed")
	must(t, m, 1, "rcq_scheduler_cycles_total", "result", "lease_lost")
	must(t, m, 1, "rcq_scheduler_cycle_duration_seconds")
	must(t, m, 100, "rcq_scheduler_cycle_jobs_considered")
	must(t, m, 3, "rcq_scheduler_cycle_jobs_planned")
	must(t, m, 2, "rcq_scheduler_cycle_jobs_started")
	must(t, m, 2, "rcq_scheduler_jobs_started_total")
	must(t, m, 2, "rcq_job_start_wait_seconds")
	must(t, m, 0, "rcq_scheduler_leader")
	m.Request("GET", "/api/jobs/{id}", 404, time.Millisecond)
	m.Request("XYZZY123", "-", 405, time.Millisecond) // any token is a method to net/http
	must(t, m, 1, "rcq_http_requests_total", "method", "other", "route", "-", "status", "405")
	m.Submitted("/api/jobs/batch", 500, 30*time.Millisecond)
	must(t, m, 1, "rcq_http_requests_total", "method", "GET", "route", "/api/jobs/{id}", "status", "404")
	must(t, m, 1, "rcq_http_request_duration_seconds", "method", "GET", "route", "/api/jobs/{id}")
	must(t, m, 1, "rcq_submits_total", "route", "/api/jobs/batch")
	must(t, m, 500, "rcq_submitted_jobs_total", "route", "/api/jobs/batch")
	must(t, m, 1, "rcq_submit_duration_seconds", "route", "/api/jobs/batch")
}

// TestLostJobs: the sweep's node failures and launch failures, ended or
// requeued, counted from the cycles that made them (a failed cycle's sweep
// committed too); every series is present from the first scrape.
func TestLostJobs(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	must(t, m, 0, "rcq_scheduler_jobs_lost_total", "reason", rcq.ReasonNodeFail, "action", "requeued")
	m.Cycle(sched.CycleResult{Leader: true, Took: time.Millisecond, Lost: rcq.LostJobs{Jobs: []rcq.LostJob{
		{JobID: 1, Reason: rcq.ReasonNodeFail, State: rcq.JobNodeFail},
		{JobID: 2, Reason: rcq.ReasonNodeFail, State: rcq.JobPending, Requeued: true},
		{JobID: 3, Reason: rcq.ReasonNodeFail, State: rcq.JobNodeFail},
	}}})
	m.Cycle(sched.CycleResult{Leader: true, Lost: rcq.LostJobs{Jobs: []rcq.LostJob{
		{JobID: 4, Reason: rcq.ReasonLaunchFailed, State: rcq.JobFailed},
	}}})
	must(t, m, 2, "rcq_scheduler_jobs_lost_total", "reason", rcq.ReasonNodeFail, "action", "ended")
	must(t, m, 1, "rcq_scheduler_jobs_lost_total", "reason", rcq.ReasonNodeFail, "action", "requeued")
	must(t, m, 1, "rcq_scheduler_jobs_lost_total", "reason", rcq.ReasonLaunchFailed, "action", "ended")
	must(t, m, 0, "rcq_scheduler_jobs_lost_total", "reason", rcq.ReasonLaunchFailed, "action", "requeued")
}

// Package metrics is rcqd's Prometheus metrics: GET /metrics on the Unix
// socket, and on metrics.listen when set. docs/operations.md lists every
// series.
//
// What is counted where:
//   - HTTP requests and submits: the API calls Observer methods
//     (api.Observer) from its access-log middleware.
//   - Scheduler cycles and submit-to-start waits: the scheduler loop calls
//     Cycle after every cycle it ran as the leader (sched.Config.OnCycle).
//   - Jobs by state and group, workers, leases: one store read
//     (store.OpsState), cached and refreshed at most once a second, started
//     by a scrape, which waits for it at most Options.Wait (10 ms): many
//     scrapers cost no more than one, and neither a long queue nor a
//     database outage holds a scrape. When the read fails (PostgreSQL
//     restarting) the scrape answers with the last values, and
//     rcq_state_age_seconds says how old they are.
//   - Database pool and Go runtime: read at each scrape, from memory.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/sched"
	"github.com/rcq-project/rcq/internal/store"
)

// Options are the metrics' sources.
type Options struct {
	// State reads the cluster state (store.OpsState).
	State func(ctx context.Context) (*rcq.OpsState, error)
	// Pool reads the database pool's counters (store.PoolStats); nil: none.
	Pool func() store.PoolStats
	// Leader reports whether this rcqd holds the scheduler lease; nil: never.
	Leader func() bool
	// RefreshEvery bounds how often a scrape reads State: 0 means 1 s.
	RefreshEvery time.Duration
	// RefreshTimeout bounds one read of State: 0 means 5 s.
	RefreshTimeout time.Duration
	// Wait bounds how long a scrape waits for a read it started (or found
	// under way) before it answers with the values it has: 0 means 10 ms.
	Wait time.Duration
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Metrics is rcqd's registry and the counters the API and scheduler feed.
type Metrics struct {
	reg     *prometheus.Registry
	handler http.Handler
	state   *stateCollector // nil without Options.State

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	submits      *prometheus.CounterVec
	submitJobs   *prometheus.CounterVec
	submitTook   *prometheus.HistogramVec
	startWait    prometheus.Histogram
	cycles       *prometheus.CounterVec
	cycleTook    prometheus.Histogram
	considered   prometheus.Gauge
	planned      prometheus.Gauge
	started      prometheus.Gauge
	startedTotal prometheus.Counter
	lostJobs     *prometheus.CounterVec
}

// Latency buckets, in seconds: 1 ms to 10 s for requests and submits, 1 s
// to a week for the wait of a job.
var (
	requestBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	waitBuckets    = []float64{1, 5, 15, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400}
)

// New builds the registry.
func New(o Options) *Metrics {
	if o.RefreshEvery <= 0 {
		o.RefreshEvery = time.Second
	}
	if o.RefreshTimeout <= 0 {
		o.RefreshTimeout = 5 * time.Second
	}
	if o.Wait <= 0 {
		o.Wait = 10 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcq_http_requests_total", Help: "HTTP requests answered, by method, route pattern and status.",
	}, []string{"method", "route", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "rcq_http_request_duration_seconds", Help: "Time to answer an HTTP request, by method and route pattern.",
		Buckets: requestBuckets,
	}, []string{"method", "route"})
	m.submits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcq_submits_total", Help: "Successful submit requests, by route (POST /api/jobs or /api/jobs/batch).",
	}, []string{"route"})
	m.submitJobs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcq_submitted_jobs_total", Help: "Jobs stored by submits, by route (an array counts once).",
	}, []string{"route"})
	m.submitTook = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "rcq_submit_duration_seconds", Help: "Time to answer a successful submit request, by route.",
		Buckets: requestBuckets,
	}, []string{"route"})
	m.startWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "rcq_job_start_wait_seconds", Help: "Time from a job's submit to its start, for jobs this rcqd's scheduler started.",
		Buckets: waitBuckets,
	})
	m.cycles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcq_scheduler_cycles_total", Help: "Scheduling cycles this rcqd ran as the leader, by result (ok, failed, lease_lost).",
	}, []string{"result"})
	m.cycleTook = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "rcq_scheduler_cycle_duration_seconds", Help: "Wall time of a completed scheduling cycle.",
		Buckets: requestBuckets,
	})
	m.considered = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rcq_scheduler_cycle_jobs_considered", Help: "Pending jobs the latest completed cycle considered.",
	})
	m.planned = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rcq_scheduler_cycle_jobs_planned", Help: "Starts the latest completed cycle planned.",
	})
	m.started = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rcq_scheduler_cycle_jobs_started", Help: "Jobs the latest completed cycle started.",
	})
	m.startedTotal = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "rcq_scheduler_jobs_started_total", Help: "Jobs this rcqd's scheduler started.",
	})
	m.lostJobs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rcq_scheduler_jobs_lost_total",
		Help: "Started jobs this rcqd's scheduler gave up on, by reason (NodeFail: their node died; LaunchFailed: never launched within jobs.start_timeout) and action (ended, or requeued to pending).",
	}, []string{"reason", "action"})
	for _, r := range []string{rcq.ReasonNodeFail, rcq.ReasonLaunchFailed} {
		for _, a := range []string{"ended", "requeued"} {
			m.lostJobs.WithLabelValues(r, a) // every series present from the first scrape
		}
	}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.submits, m.submitJobs, m.submitTook, m.startWait,
		m.cycles, m.cycleTook, m.considered, m.planned, m.started, m.startedTotal, m.lostJobs)
	leader := o.Leader
	if leader == nil {
		leader = func() bool { return false }
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rcq_scheduler_leader", Help: "1 when this rcqd holds the scheduler lease (it plans and starts jobs), else 0.",
	}, func() float64 { return b2f(leader()) }))
	if o.State != nil {
		m.state = newStateCollector(o)
		m.reg.MustRegister(m.state)
	}
	if o.Pool != nil {
		m.reg.MustRegister(poolCollector(o.Pool))
	}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return m
}

// Handler serves the Prometheus text format.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry is the registry, for tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Request counts an HTTP request (api.Observer).
func (m *Metrics) Request(method, route string, status int, took time.Duration) {
	method = knownMethod(method)
	m.httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(method, route).Observe(took.Seconds())
}

// Submitted counts a successful submit (api.Observer).
func (m *Metrics) Submitted(route string, jobs int, took time.Duration) {
	m.submits.WithLabelValues(route).Inc()
	m.submitJobs.WithLabelValues(route).Add(float64(jobs))
	m.submitTook.WithLabelValues(route).Observe(took.Seconds())
}

// Cycle records a scheduling cycle (sched.Config.OnCycle).
func (m *Metrics) Cycle(res sched.CycleResult) {
	for _, j := range res.Lost.Jobs {
		action := "ended"
		if j.Requeued {
			action = "requeued"
		}
		m.lostJobs.WithLabelValues(j.Reason, action).Inc()
	}
	switch {
	case res.LeaseLost:
		m.cycles.WithLabelValues("lease_lost").Inc()
		return
	case res.Took == 0: // it failed before its end (the error is logged)
		m.cycles.WithLabelValues("failed").Inc()
		return
	}
	m.cycles.WithLabelValues("ok").Inc()
	m.cycleTook.Observe(res.Took.Seconds())
	m.considered.Set(float64(res.Pending))
	m.planned.Set(float64(res.Planned))
	m.started.Set(float64(len(res.Started)))
	m.startedTotal.Add(float64(len(res.Started)))
	for _, w := range res.Waits {
		m.startWait.Observe(w.Seconds())
	}
}

// knownMethod keeps the method label bounded: a client may send any token
// as a method, and each would be a series of its own.
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// stateCollector answers from the latest store.OpsState. A scrape that
// finds it older than RefreshEvery starts one read (never two at once) and
// waits for it at most Wait: a store that answers fast gives fresh values,
// and a slow one (the GROUP BY over 100,000 pending jobs takes ~100 ms on a
// loaded machine) or a database that is down cannot hold the scrape: it
// answers with what it has, and rcq_state_age_seconds says how old that is.
// Only the very first scrape waits for its read (up to RefreshTimeout).
type stateCollector struct {
	o Options

	mu        sync.Mutex
	state     *rcq.OpsState
	at        time.Time     // when state was read (zero: never)
	tried     time.Time     // when the latest read began
	reading   chan struct{} // closed when the read under way ends; nil: none
	failures  float64
	lastError bool

	jobs, held, finished, workers, wCPU, wCPUAlloc, wMem, wMemAlloc, wGPU, wGPUAlloc, wJobs,
	lease, leaseLeft, age, up, errs *prometheus.Desc
}

func newStateCollector(o Options) *stateCollector {
	d := prometheus.NewDesc
	return &stateCollector{o: o,
		jobs:      d("rcq_jobs", "Pending and running jobs, by state and group.", []string{"state", "group"}, nil),
		finished:  d("rcq_jobs_finished_total", "Jobs that ended in each finished state (completed, failed, cancelled, timeout, ...), by group, since the database was created: counters kept in the database by the transaction that ends the job, so every rcqd shows the same values.", []string{"state", "group"}, nil),
		held:      d("rcq_jobs_held", "Pending jobs on hold (user or admin), by group; they are also in rcq_jobs{state=\"pending\"}.", []string{"group"}, nil),
		workers:   d("rcq_workers", "Workers by state (online, drained, offline).", []string{"state"}, nil),
		wCPU:      d("rcq_worker_cpus", "CPU cores a worker offers.", []string{"worker", "node", "state"}, nil),
		wCPUAlloc: d("rcq_worker_cpus_allocated", "CPU cores its running jobs hold.", []string{"worker", "node", "state"}, nil),
		wMem:      d("rcq_worker_memory_bytes", "Memory a worker offers.", []string{"worker", "node", "state"}, nil),
		wMemAlloc: d("rcq_worker_memory_allocated_bytes", "Memory its running jobs hold.", []string{"worker", "node", "state"}, nil),
		wGPU:      d("rcq_worker_gpus", "GPUs a worker offers.", []string{"worker", "node", "state"}, nil),
		wGPUAlloc: d("rcq_worker_gpus_allocated", "GPUs its running jobs hold.", []string{"worker", "node", "state"}, nil),
		wJobs:     d("rcq_worker_running_jobs", "Jobs holding resources on a worker.", []string{"worker", "node", "state"}, nil),
		lease:     d("rcq_lease_holder", "1 for the holder of each lease (scheduler, node:<name>) while it is unexpired, 0 once expired.", []string{"lease", "holder"}, nil),
		leaseLeft: d("rcq_lease_expires_in_seconds", "Seconds until a lease expires unless renewed (negative: expired).", []string{"lease", "holder"}, nil),
		age:       d("rcq_state_age_seconds", "Age of the job, worker and lease values above: at most about 1 while the database answers; growing while it does not.", nil, nil),
		up:        d("rcq_state_up", "1 when the latest read of the job, worker and lease values succeeded, else 0.", nil, nil),
		errs:      d("rcq_state_read_errors_total", "Failed reads of the job, worker and lease values.", nil, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.jobs, c.held, c.finished, c.workers, c.wCPU, c.wCPUAlloc, c.wMem, c.wMemAlloc, c.wGPU, c.wGPUAlloc, c.wJobs,
		c.lease, c.leaseLeft, c.age, c.up, c.errs} {
		ch <- d
	}
}

// current returns the state to show, after starting a read when it is
// older than RefreshEvery and waiting for the read under way at most Wait.
func (c *stateCollector) current() (st *rcq.OpsState, age time.Duration, up bool, failures float64) {
	c.mu.Lock()
	if c.reading == nil && c.o.Now().Sub(c.tried) >= c.o.RefreshEvery {
		c.tried = c.o.Now()
		c.reading = make(chan struct{})
		go c.read(c.reading)
	}
	reading, wait := c.reading, c.o.Wait
	if c.at.IsZero() {
		wait = c.o.RefreshTimeout
	}
	c.mu.Unlock()
	if reading != nil {
		t := time.NewTimer(wait)
		select {
		case <-reading:
		case <-t.C:
		}
		t.Stop()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() {
		return nil, 0, !c.lastError, c.failures
	}
	return c.state, max(c.o.Now().Sub(c.at), 0), !c.lastError, c.failures
}

// read reads the state once and closes done.
func (c *stateCollector) read(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), c.o.RefreshTimeout)
	s, err := c.o.State(ctx)
	cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.failures++
		c.lastError = true
	} else {
		c.state, c.at, c.lastError = s, c.o.Now(), false
	}
	c.tried = c.o.Now() // a read slower than RefreshEvery does not run back to back
	c.reading = nil
	close(done)
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	st, age, up, failures := c.current()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, failures)
	gauge(c.up, b2f(up))
	if st == nil {
		return // never read: no values, and no age to claim
	}
	gauge(c.age, age.Seconds())
	// Every group shows pending and running, zero included, once it has a job.
	type key struct{ state, group string }
	seen := map[key]bool{}
	groups := map[string]bool{}
	for _, j := range st.Jobs {
		gauge(c.jobs, float64(j.N), string(j.State), j.Group)
		seen[key{string(j.State), j.Group}] = true
		groups[j.Group] = true
	}
	held := map[string]int{}
	for _, j := range st.Jobs {
		if j.State == rcq.JobPending {
			held[j.Group] += j.Held
		}
	}
	for g := range groups {
		for _, s := range []rcq.JobState{rcq.JobPending, rcq.JobRunning} {
			if !seen[key{string(s), g}] {
				gauge(c.jobs, 0, string(s), g)
			}
		}
		gauge(c.held, float64(held[g]), g)
	}
	// Every group with a job shows the usual finished states, zero
	// included, so rate() has a start.
	fin := map[key]bool{}
	for _, f := range st.Finished {
		ch <- prometheus.MustNewConstMetric(c.finished, prometheus.CounterValue, float64(f.N), string(f.State), f.Group)
		fin[key{string(f.State), f.Group}] = true
		groups[f.Group] = true
	}
	for g := range groups {
		for _, s := range []rcq.JobState{rcq.JobCompleted, rcq.JobFailed, rcq.JobCancelled, rcq.JobTimeout} {
			if !fin[key{string(s), g}] {
				ch <- prometheus.MustNewConstMetric(c.finished, prometheus.CounterValue, 0, string(s), g)
			}
		}
	}
	byState := map[rcq.WorkerState]int{rcq.WorkerOnline: 0, rcq.WorkerDrained: 0, rcq.WorkerOffline: 0}
	const gb = 1 << 30
	for _, w := range st.Workers {
		byState[w.State]++
		l := []string{w.Name, w.Node, string(w.State)}
		gauge(c.wCPU, float64(w.Capacity.CPUCores), l...)
		gauge(c.wCPUAlloc, float64(w.Allocated.CPUCores), l...)
		gauge(c.wMem, float64(w.Capacity.MemoryGB)*gb, l...)
		gauge(c.wMemAlloc, float64(w.Allocated.MemoryGB)*gb, l...)
		gauge(c.wGPU, float64(w.Capacity.GPUs), l...)
		gauge(c.wGPUAlloc, float64(w.Allocated.GPUs), l...)
		gauge(c.wJobs, float64(w.RunningJobs), l...)
	}
	for s, n := range byState {
		gauge(c.workers, float64(n), string(s))
	}
	for _, l := range st.Leases {
		left := l.Left - age // as of now, not as of the read
		gauge(c.lease, b2f(left > 0), l.Name, l.Holder)
		gauge(c.leaseLeft, left.Seconds(), l.Name, l.Holder)
	}
}

// poolCollector reads the database pool's counters at each scrape.
func poolCollector(read func() store.PoolStats) prometheus.Collector {
	return &pool{read: read,
		conns:    prometheus.NewDesc("rcq_db_pool_connections", "Database connections by state (acquired, idle, constructing) and the pool's maximum (max).", []string{"state"}, nil),
		acquires: prometheus.NewDesc("rcq_db_pool_acquires_total", "Connections acquired from the pool.", nil, nil),
		empty:    prometheus.NewDesc("rcq_db_pool_empty_acquires_total", "Acquires that had to wait for a connection (none was idle).", nil, nil),
		canceled: prometheus.NewDesc("rcq_db_pool_canceled_acquires_total", "Acquires cancelled before they got a connection.", nil, nil),
		wait:     prometheus.NewDesc("rcq_db_pool_acquire_seconds_total", "Total time spent acquiring connections.", nil, nil),
		opened:   prometheus.NewDesc("rcq_db_pool_new_connections_total", "Connections opened.", nil, nil),
	}
}

type pool struct {
	read                                           func() store.PoolStats
	conns, acquires, empty, canceled, wait, opened *prometheus.Desc
}

func (p *pool) Describe(ch chan<- *prometheus.Desc) {
	ch <- p.conns
	ch <- p.acquires
	ch <- p.empty
	ch <- p.canceled
	ch <- p.wait
	ch <- p.opened
}

func (p *pool) Collect(ch chan<- prometheus.Metric) {
	s := p.read()
	g := func(v int32, state string) {
		ch <- prometheus.MustNewConstMetric(p.conns, prometheus.GaugeValue, float64(v), state)
	}
	g(s.Acquired, "acquired")
	g(s.Idle, "idle")
	g(s.Constructing, "constructing")
	g(s.Max, "max")
	c := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	c(p.acquires, float64(s.Acquires))
	c(p.empty, float64(s.EmptyAcquires))
	c(p.canceled, float64(s.CanceledAcquires))
	c(p.wait, s.AcquireWait.Seconds())
	c(p.opened, float64(s.NewConns))
}

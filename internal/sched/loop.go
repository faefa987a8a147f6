package sched

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Store is what the loop needs of the database; internal/store implements it.
type Store interface {
	// Snapshot reads one consistent view (REPEATABLE READ): pending jobs, jobs
	// holding resources, workers, groups with usage over window (decayed with
	// halfLife when > 0), dependency states; Now is the database clock.
	Snapshot(ctx context.Context, window, halfLife time.Duration) (*rcq.Snapshot, error)
	// AcquireLease takes or renews the named lease for holder for ttl, timed by
	// the database clock; held=false when another holder's lease has not
	// expired.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (held bool, err error)
	ReleaseLease(ctx context.Context, name, holder string) error
	// StartJobs commits starts in one transaction that first re-checks that
	// holder still holds an unexpired lease `name` (else returns an *rcq.Error
	// with Code "lease_lost" and starts nothing); each start is a conditional
	// UPDATE (still pending, not held) that also re-checks the worker's free
	// capacity and GPU indices; it returns the starts that took effect.
	StartJobs(ctx context.Context, lease, holder string, starts []rcq.Start) ([]rcq.Start, error)
	// CancelJobs ends pending jobs as cancelled with the given reason and
	// detail (same lease check).
	CancelJobs(ctx context.Context, lease, holder string, cancels []rcq.DependencyCancel) error
	// HasRoom reports whether any job could start now: some online worker
	// has a free CPU core (every job needs one), and fewer than maxRunning
	// jobs hold resources (0: no cap).
	HasRoom(ctx context.Context, maxRunning int) (bool, error)
	// EndLostJobs ends the jobs of dead nodes node_fail and the jobs never
	// launched within the start timeout failed (LaunchFailed), or requeues
	// them (p), in one transaction fenced by the lease like StartJobs.
	EndLostJobs(ctx context.Context, lease, holder string, p rcq.LostJobPolicy) (rcq.LostJobs, error)
	// GroupUsages returns every group with its usage over window, decayed
	// with halfLife exactly as Snapshot counts it, and its users' part.
	GroupUsages(ctx context.Context, window, halfLife time.Duration) ([]rcq.GroupUsage, error)
}

// LeaseName is the name of the scheduler's lease row.
const LeaseName = "scheduler"

// CodeLeaseLost is the rcq.Error code of a fenced write whose lease is gone.
const CodeLeaseLost = "lease_lost"

// Log attribute keys.
const (
	logHolder   = "holder"
	logPending  = "pending"
	logStarted  = "started"
	logRejected = "rejected"
	logCancel   = "cancelled"
	logTook     = "took"
)

// CycleResult is what one cycle did.
type CycleResult struct {
	Leader    bool          // this process held the lease and planned
	LeaseLost bool          // the lease was gone at commit: nothing was written
	Pending   int           // pending jobs in the snapshot
	Planned   int           // starts in the plan
	Started   []rcq.Start   // starts that took effect
	Rejected  int           // planned starts the store refused (the job or worker changed)
	Cancelled int           // jobs cancelled because a dependency can never be met
	Took      time.Duration // wall time of a completed cycle
	// Lost is what the lost-job sweep did this cycle (node_fail, launch
	// failures, requeues); empty when it did nothing or did not run.
	Lost rcq.LostJobs
	// Waits is how long each started job waited, from its submit to its
	// start's commit (by the database's clock).
	Waits []time.Duration
	// Plan is the cycle's plan (queue positions for event streams); nil
	// when the cycle did not complete. Read only.
	Plan *rcq.Plan
}

// Loop runs scheduling cycles against a store: on Notify, every
// Config.Interval, and when it takes the lease. Only the holder of the lease
// starts jobs; every process can answer Plan and Preview.
type Loop struct {
	store  Store
	cfg    Config
	log    *slog.Logger
	holder string

	wake chan struct{}
	// notified counts Notify calls. A cycle records the count it began
	// with: its plan is current only while no Notify came after.
	notified atomic.Uint64

	leader    atomic.Bool
	renewedAt time.Time // monotonic; touched only by the Run goroutine
	sweptAt   time.Time // the last lost-job sweep; touched only by the Run goroutine
	// leaderSince is when this process last became the leader (monotonic;
	// touched only by the Run goroutine).
	leaderSince time.Time

	planMu sync.Mutex // one on-demand plan at a time

	mu      sync.Mutex
	last    *cycle
	skipped uint64        // notified when the latest cycle that found no room began, or at the latest Stale
	cycled  chan struct{} // closed and replaced when a cycle ends (planned or skipped), and by Stale
}

// cycle is the latest plan of the leader.
type cycle struct {
	plan *rcq.Plan
	at   time.Time // local monotonic time it was computed
	gen  uint64    // notified when the cycle began, before its snapshot
}

// New returns a loop; holder names this process in the lease (unique per
// rcqd, e.g. hostname:pid:random). Zero Interval, LeaseTTL and
// FairShareWindow take their defaults. logger is used as given: rcqd passes
// one that already carries component=sched.
func New(store Store, cfg Config, logger *slog.Logger, holder string) *Loop {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.FairShareWindow <= 0 {
		cfg.FairShareWindow = DefaultFairShareWindow
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Loop{store: store, cfg: cfg, log: logger, holder: holder, wake: make(chan struct{}, 1), cycled: make(chan struct{})}
}

// Notify asks for a cycle soon and never blocks: wake has capacity 1, so a
// burst of submits and job ends is served by one cycle.
func (l *Loop) Notify() {
	l.notified.Add(1)
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Event pokes the loop for an event it must see and never blocks: a
// submit or a job's end asks for a cycle (Notify), a held submit's only
// makes the plans stale (Stale); other events are not the scheduler's.
func (l *Loop) Event(ev rcq.Event) {
	switch {
	case ev.Kind == rcq.EventJobSubmitted && ev.Held:
		l.Stale()
	case ev.Kind == rcq.EventJobSubmitted, ev.Kind == rcq.EventJobEnded, ev.Kind == rcq.EventWorkerChanged:
		l.Notify()
	}
}

// Stale says the queue changed in a way no cycle needs to act on (a job
// stored held, waiting on no other job) and never blocks: no cycle runs,
// but the latest plan no longer shows every job, so the next Plan plans on
// a fresh snapshot, as after a cycle that found no room.
func (l *Loop) Stale() {
	gen := l.notified.Add(1)
	l.mu.Lock()
	l.skipped = max(l.skipped, gen)
	close(l.cycled) // a reader waiting for a cycle sees the skip
	l.cycled = make(chan struct{})
	l.mu.Unlock()
}

// Leader reports whether this process held the lease at its last check.
func (l *Loop) Leader() bool { return l.leader.Load() }

// Run runs cycles until ctx ends, then gives the lease up. It returns nil on
// a clean stop.
func (l *Loop) Run(ctx context.Context) error {
	defer l.release(ctx)
	tick := time.NewTicker(l.cfg.Interval)
	defer tick.Stop()
	renew := time.NewTicker(l.cfg.LeaseTTL / 3)
	defer renew.Stop()
	l.cycle(ctx, false)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-l.wake:
			l.cycle(ctx, true)
		case <-tick.C:
			l.cycle(ctx, false)
		case <-renew.C:
			if l.renew(ctx) {
				l.Notify() // newly the leader: plan at once
			}
		}
	}
}

// cycle runs one cycle, logs it, and asks for another when this one changed
// something the plan depended on (cancelled jobs may unblock or doom their
// dependents; refused starts leave room for others).
//
// A cycle woken by an event first asks the store whether anything could
// start at all; when nothing can (a full or drained cluster), it skips the
// snapshot of every pending job, which on a long queue would cost a core
// under a stream of submits. The periodic cycle always runs in full, so wait
// boosts, reservations and unsatisfiable dependencies stay fresh.
func (l *Loop) cycle(ctx context.Context, event bool) {
	if event && l.leader.Load() && time.Since(l.renewedAt) < l.cfg.LeaseTTL/3 {
		gen := l.notified.Load()
		room, err := l.store.HasRoom(ctx, l.cfg.MaxConcurrentJobs)
		if err == nil && !room {
			l.mu.Lock()
			l.skipped = max(l.skipped, gen) // a Stale meanwhile stays seen
			close(l.cycled)
			l.cycled = make(chan struct{})
			l.mu.Unlock()
			return
		}
	}
	res, err := l.runOnce(ctx)
	if res.Leader && l.cfg.OnCycle != nil {
		l.cfg.OnCycle(res)
	}
	switch {
	case err != nil && ctx.Err() == nil:
		l.log.Error("scheduling cycle failed", "err", err)
	case res.LeaseLost:
		l.log.Warn("scheduler lease lost at commit; another rcqd schedules", logHolder, l.holder)
	case res.Leader && (len(res.Started) > 0 || res.Cancelled > 0 || res.Rejected > 0):
		l.log.Debug("scheduling cycle", logPending, res.Pending, logStarted, len(res.Started),
			logRejected, res.Rejected, logCancel, res.Cancelled, logTook, res.Took)
	}
	if err == nil && (res.Cancelled > 0 || res.Rejected > 0 && len(res.Started) > 0) {
		l.Notify()
	}
}

// renew takes or renews the lease and reports whether this process just
// became the leader.
func (l *Loop) renew(ctx context.Context) bool {
	was := l.leader.Load()
	held, err := l.store.AcquireLease(ctx, LeaseName, l.holder, l.cfg.LeaseTTL)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Error("renew scheduler lease", "err", err)
		}
		held = false // the commit fence protects us; try again next time
	}
	if held {
		l.renewedAt = time.Now()
		if !was {
			l.leaderSince = l.renewedAt
		}
	}
	l.leader.Store(held)
	switch {
	case held && !was:
		l.log.Info("took the scheduler lease", logHolder, l.holder)
	case !held && was:
		l.log.Warn("lost the scheduler lease", logHolder, l.holder)
	}
	return held && !was
}

// release gives the lease up so another rcqd takes over at once.
func (l *Loop) release(ctx context.Context) {
	if !l.leader.Swap(false) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := l.store.ReleaseLease(ctx, LeaseName, l.holder); err != nil {
		l.log.Warn("release scheduler lease", "err", err)
	}
}

// runOnce runs one cycle: make sure of the lease, snapshot, plan, cancel the
// jobs whose dependencies can never be met, commit the starts, tell the
// executor. A follower returns at once with Leader false.
func (l *Loop) runOnce(ctx context.Context) (CycleResult, error) {
	begun := time.Now()
	gen := l.notified.Load()
	if !l.leader.Load() || time.Since(l.renewedAt) >= l.cfg.LeaseTTL/3 {
		l.renew(ctx)
	}
	if !l.leader.Load() {
		return CycleResult{}, nil
	}
	var lost rcq.LostJobs
	if l.cfg.Lost.DeadAfter > 0 && time.Since(l.sweptAt) >= min(l.cfg.Interval, sweepEvery) &&
		time.Since(l.leaderSince) >= l.lostGrace() {
		// Before the snapshot, so the requeued jobs and the capacity the
		// ended ones held are in this cycle's plan.
		var err error
		if lost, err = l.store.EndLostJobs(ctx, LeaseName, l.holder, l.cfg.Lost); err != nil {
			return l.commitFailed(CycleResult{Leader: true}, fmt.Errorf("end lost jobs: %w", err))
		}
		l.sweptAt = time.Now()
		l.logLost(lost)
	}
	snapAt := time.Now()
	snap, err := l.store.Snapshot(ctx, l.cfg.FairShareWindow, l.cfg.FairShareHalfLife)
	if err != nil {
		return CycleResult{Leader: true, Lost: lost}, err
	}
	plan := Schedule(snap, l.cfg)
	res := CycleResult{Leader: true, Pending: len(snap.Pending), Planned: len(plan.Starts), Lost: lost}

	if len(plan.Cancels) > 0 {
		if err := l.store.CancelJobs(ctx, LeaseName, l.holder, plan.Cancels); err != nil {
			return l.commitFailed(res, fmt.Errorf("cancel jobs with unsatisfiable dependencies: %w", err))
		}
		res.Cancelled = len(plan.Cancels)
	}
	if len(plan.Starts) > 0 {
		started, err := l.store.StartJobs(ctx, LeaseName, l.holder, plan.Starts)
		if err != nil {
			return l.commitFailed(res, fmt.Errorf("start %d jobs: %w", len(plan.Starts), err))
		}
		res.Started, res.Rejected = started, len(plan.Starts)-len(started)
		if l.cfg.OnCycle != nil {
			res.Waits = waits(snap, started, time.Since(snapAt))
		}
		if len(started) > 0 && l.cfg.OnStarted != nil {
			l.cfg.OnStarted(started)
		}
	}
	l.mu.Lock()
	l.keep(&cycle{plan: &plan, at: time.Now(), gen: gen}) // the snapshot is not kept: at 100,000 pending jobs it is ~25 MB
	close(l.cycled)
	l.cycled = make(chan struct{})
	l.mu.Unlock()
	res.Took = time.Since(begun)
	res.Plan = &plan
	return res, nil
}

// sweepEvery bounds how often the leader looks for lost jobs (one query
// over the jobs holding resources): event-driven cycles under a stream of
// submits do not each pay for it.
const sweepEvery = time.Second

// lostGrace is how long a new leader waits before its first sweep
// (Config.LostGrace). After a database outage every lease has lapsed and
// every node looks silent; a new leader (this one, back from the outage, or
// another) gives the live nodes' rcqd one lease time, three renewals, to
// renew their node leases before it judges any node dead.
func (l *Loop) lostGrace() time.Duration {
	switch {
	case l.cfg.LostGrace < 0:
		return 0
	case l.cfg.LostGrace == 0:
		return l.cfg.LeaseTTL
	}
	return l.cfg.LostGrace
}

// logLost logs each job the sweep ended or requeued, once, where it happened.
func (l *Loop) logLost(lost rcq.LostJobs) {
	for _, j := range lost.Jobs {
		if j.Requeued {
			l.log.Warn("job requeued", "job_id", j.JobID, "node", j.Node, "reason", j.Reason, "detail", j.Detail)
		} else {
			l.log.Warn("job lost", "job_id", j.JobID, "node", j.Node, "state", j.State, "reason", j.Reason, "detail", j.Detail)
		}
	}
}

// waits is how long each started job waited for its start: from its submit
// to now by the database's clock (the snapshot's time plus what passed since).
func waits(snap *rcq.Snapshot, started []rcq.Start, since time.Duration) []time.Duration {
	submitted := make(map[rcq.JobID]time.Time, len(started))
	for _, st := range started {
		submitted[st.JobID] = time.Time{}
	}
	for i := range snap.Pending {
		if _, ok := submitted[snap.Pending[i].ID]; ok {
			submitted[snap.Pending[i].ID] = snap.Pending[i].SubmittedAt
		}
	}
	now := snap.Now.Add(since)
	out := make([]time.Duration, 0, len(started))
	for _, st := range started { // an array's row starts several elements
		if at := submitted[st.JobID]; !at.IsZero() {
			out = append(out, max(now.Sub(at), 0))
		}
	}
	return out
}

// commitFailed turns a lost lease into a result (nothing was written; another
// process leads) and passes other errors on.
func (l *Loop) commitFailed(res CycleResult, err error) (CycleResult, error) {
	var e *rcq.Error
	if errors.As(err, &e) && e.Code == CodeLeaseLost {
		l.leader.Store(false)
		res.LeaseLost, res.Leader, res.Started = true, false, nil
		return res, nil
	}
	return res, err
}

// Plan returns the latest cycle's plan when this process holds
// the lease and that plan is current (at most one interval old, and no Notify
// since its cycle began, so every change acknowledged before the call is in
// it); otherwise it plans on a fresh snapshot without starting anything, so
// a follower rcqd still answers /api/queue.
//
// When the leader's plan is behind a Notify, the cycle that Notify queued is
// coming: Plan waits for it (up to planWait) rather than planning the same
// snapshot a second time, so under a stream of submits queue readers and the
// scheduler share one plan per cycle.
//
// A plan made on demand by the leader (its latest cycle found no room and
// planned nothing) is kept like a cycle's, so until the next Notify every
// reader (rcq-queue, rcq-submit --wait polling its job) shares it; one
// reader at a time makes it.
func (l *Loop) Plan(ctx context.Context) (*rcq.Plan, error) {
	if c := l.currentCycle(ctx); c != nil {
		return c.plan, nil
	}
	l.planMu.Lock()
	defer l.planMu.Unlock()
	gen := l.notified.Load()
	if l.leader.Load() {
		l.mu.Lock()
		c := l.last
		l.mu.Unlock()
		if c != nil && c.gen >= gen && time.Since(c.at) <= l.cfg.Interval {
			return c.plan, nil // made by the reader before us
		}
	}
	snap, err := l.store.Snapshot(ctx, l.cfg.FairShareWindow, l.cfg.FairShareHalfLife)
	if err != nil {
		return nil, err
	}
	plan := Schedule(snap, l.cfg)
	if l.leader.Load() {
		l.mu.Lock()
		l.keep(&cycle{plan: &plan, at: time.Now(), gen: gen})
		l.mu.Unlock()
	}
	return &plan, nil
}

// keep makes c the latest plan unless a plan that saw more Notify calls is
// already kept. l.mu is held.
func (l *Loop) keep(c *cycle) {
	if l.last == nil || c.gen >= l.last.gen {
		l.last = c
	}
}

// planWait bounds how long Plan waits for the leader's next cycle before it
// plans on its own snapshot.
var planWait = 2 * time.Second // a variable for tests

// currentCycle returns the leader's latest cycle once it has seen every
// Notify made before the call, waiting for the cycle under way or queued;
// nil for a follower, or when that takes longer than planWait.
func (l *Loop) currentCycle(ctx context.Context) *cycle {
	want := l.notified.Load()
	timeout := time.NewTimer(planWait)
	defer timeout.Stop()
	for l.leader.Load() {
		l.mu.Lock()
		c, skipped, next := l.last, l.skipped, l.cycled
		l.mu.Unlock()
		if c != nil && c.gen >= want {
			if time.Since(c.at) <= l.cfg.Interval {
				return c
			}
			return nil
		}
		if skipped >= want && want > 0 {
			return nil // the scheduler saw the change, found no room and planned nothing: plan on demand
		}
		select {
		case <-next:
		case <-ctx.Done():
			return nil
		case <-timeout.C:
			return nil
		}
	}
	return nil
}

// PreviewID is the job id Preview gives the hypothetical job when it has
// none.
const PreviewID rcq.JobID = -1

// Shares returns every group's fair-share standing as the scheduler sees it:
// usage over the configured window and half-life, and the fair-share factor
// FairShare gives it with the configured bounds.
func (l *Loop) Shares(ctx context.Context) ([]rcq.GroupUsage, error) {
	gs, err := l.store.GroupUsages(ctx, l.cfg.FairShareWindow, l.cfg.FairShareHalfLife)
	if err != nil {
		return nil, err
	}
	for i := range gs {
		gs[i].FairShare = FairShare(gs[i].CPUQuota, gs[i].UsageCPUHours, l.cfg.FairShareMin, l.cfg.FairShareMax)
	}
	return gs, nil
}

// Preview returns when a hypothetical job would be expected to start if it
// were submitted now (rcq-submit --test-only): it is planned on a fresh
// snapshot together with the queue, and nothing is stored. nil means no
// estimate can be made (it is held, waits on a dependency, or no online worker
// is big enough); the error says why when the job can never run.
func (l *Loop) Preview(ctx context.Context, job rcq.PendingJob) (*rcq.PlannedJob, error) {
	snap, err := l.store.Snapshot(ctx, l.cfg.FairShareWindow, l.cfg.FairShareHalfLife)
	if err != nil {
		return nil, err
	}
	if job.ID == 0 {
		job.ID = PreviewID
	}
	if job.SubmittedAt.IsZero() {
		job.SubmittedAt = snap.Now
	}
	snap.Pending = append(snap.Pending, job)
	cfg := l.cfg
	cfg.estimateUntil = job.ID // estimate down to the hypothetical job
	plan := Schedule(snap, cfg)
	for _, pj := range plan.Jobs {
		if pj.JobID != job.ID {
			continue
		}
		// A drained worker may be resumed: the job would wait, not fail.
		if pj.ExpectedStart == nil && (pj.Reason == rcq.ReasonResources || pj.Reason == rcq.ReasonDependencyNeverSatisfied) {
			return nil, rcq.Errorf(rcq.KindUnprocessable, "job_cannot_run", "the job can never start: %s", pj.Detail)
		}
		return &pj, nil
	}
	return nil, fmt.Errorf("preview: job %d missing from the plan", job.ID)
}

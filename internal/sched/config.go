package sched

import (
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Config holds the scheduler's settings. The daemon fills it from its
// configuration (scheduler.* keys); start from DefaultConfig.
//
// Schedule takes the numeric fields literally. New replaces a zero Interval,
// LeaseTTL or FairShareWindow with its default.
type Config struct {
	// Interval is the period of the refresh cycle (scheduler.interval_seconds,
	// SCHEDULER_INTERVAL_SECONDS). Events trigger cycles in between.
	Interval time.Duration
	// LeaseTTL is how long the scheduler lease lasts without renewal
	// (scheduler.lease_ttl); the loop renews it every LeaseTTL/3.
	LeaseTTL time.Duration

	// FairShareWindow is how far back usage counts for fair share
	// (scheduler.fair_share_window); the store applies it in Snapshot.
	FairShareWindow time.Duration
	// FairShareHalfLife, when > 0, decays older usage inside the window
	// (scheduler.fair_share_half_life); the store applies it in Snapshot.
	FairShareHalfLife time.Duration
	// FairShareMin and FairShareMax clamp quota/usage (scheduler.fair_share_min,
	// scheduler.fair_share_max). A group that used nothing gets FairShareMax.
	FairShareMin float64
	FairShareMax float64

	// WaitBoostPerHour is added to the wait boost per hour waited
	// (scheduler.wait_boost_per_hour); WaitBoostCap caps the boost
	// (scheduler.wait_boost_cap).
	WaitBoostPerHour float64
	WaitBoostCap     float64

	// MaxConcurrentJobs caps the jobs holding resources, in total
	// (scheduler.max_concurrent_jobs, MAX_CONCURRENT_JOBS); 0 means no cap.
	MaxConcurrentJobs int

	// EstimateDepth bounds how many waiting jobs, in priority order, get an
	// expected start time each cycle (the top blocked job always gets its
	// reservation). 0 means DefaultEstimateDepth; a negative value means all.
	// Jobs below the bound show no expected start. Which jobs start is never
	// bounded: every pending job is considered for starting and backfill.
	EstimateDepth int

	// Lost is when the leader gives up on a started job (node.dead_after,
	// jobs.start_timeout) and which lost jobs it requeues
	// (jobs.requeue_array_elements). A zero DeadAfter turns the sweep off.
	Lost rcq.LostJobPolicy
	// LostGrace is how long this process must have held the lease before
	// it looks for lost jobs, so that after a database outage (every lease
	// lapsed) live nodes renew theirs first: 0 means LeaseTTL; negative,
	// none (tests).
	LostGrace time.Duration

	// OnStarted, when set, is called by the loop with the starts that took
	// effect, after they are committed. It must return promptly (a
	// non-blocking wake-up of the executor): it runs on the loop's goroutine.
	OnStarted func([]rcq.Start)

	// OnCycle, when set, is called after every cycle this process ran as the
	// leader (rcqd's metrics). Like OnStarted it must return promptly.
	OnCycle func(CycleResult)

	// estimateUntil, when set, makes the estimate pass go down to this job
	// and stop there (Preview).
	estimateUntil rcq.JobID
	// scanLimit overrides defaultScanLimit in tests (< 0: none).
	scanLimit int
}

// Defaults.
const (
	DefaultInterval          = 30 * time.Second
	DefaultLeaseTTL          = 15 * time.Second
	DefaultFairShareWindow   = 30 * 24 * time.Hour
	DefaultFairShareMin      = 0.5
	DefaultFairShareMax      = 2.0
	DefaultWaitBoostPerHour  = 0.01
	DefaultWaitBoostCap      = 1.5
	DefaultMaxConcurrentJobs = 10
	DefaultEstimateDepth     = 500
)

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		Interval:          DefaultInterval,
		LeaseTTL:          DefaultLeaseTTL,
		FairShareWindow:   DefaultFairShareWindow,
		FairShareMin:      DefaultFairShareMin,
		FairShareMax:      DefaultFairShareMax,
		WaitBoostPerHour:  DefaultWaitBoostPerHour,
		WaitBoostCap:      DefaultWaitBoostCap,
		MaxConcurrentJobs: DefaultMaxConcurrentJobs,
		EstimateDepth:     DefaultEstimateDepth,
	}
}

package sched

import (
	"cmp"
	"slices"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// WaitBoost returns the wait-time boost of a job that has waited w:
// 1 + hours x perHour, capped at limit (never below 1). A job that waited 10
// hours gets 1.10 with the default 0.01 per hour; the default cap of 1.5 is
// reached after 50 hours.
func WaitBoost(w time.Duration, perHour, limit float64) float64 {
	if w <= 0 {
		return 1
	}
	b := 1 + w.Hours()*perHour
	return max(1, min(b, limit))
}

// groupFactor is what a job inherits from its group.
type groupFactor struct {
	priority  int
	fairShare float64
}

// groupFactors computes each group's priority and fair-share multiplier once.
func groupFactors(groups []rcq.GroupShare, cfg *Config) map[rcq.GroupID]groupFactor {
	m := make(map[rcq.GroupID]groupFactor, len(groups))
	for _, g := range groups {
		m[g.ID] = groupFactor{
			priority:  g.Priority,
			fairShare: FairShare(g.CPUQuota, g.UsageCPUHours, cfg.FairShareMin, cfg.FairShareMax),
		}
	}
	return m
}

// Priority computes a pending job's priority factors at now:
// Final = Base x FairShare x WaitBoost, Base = job priority + group priority.
// A job of a group missing from the snapshot gets group priority 0 and fair
// share 1.
func Priority(j *rcq.PendingJob, g rcq.GroupShare, known bool, now time.Time, cfg Config) rcq.PriorityFactors {
	gf := groupFactor{fairShare: 1}
	if known {
		gf = groupFactor{g.Priority, FairShare(g.CPUQuota, g.UsageCPUHours, cfg.FairShareMin, cfg.FairShareMax)}
	}
	return priority(j, gf, now, &cfg)
}

func priority(j *rcq.PendingJob, g groupFactor, now time.Time, cfg *Config) rcq.PriorityFactors {
	p := rcq.PriorityFactors{
		Base:      float64(j.Priority + g.priority),
		FairShare: g.fairShare,
		WaitBoost: WaitBoost(now.Sub(j.SubmittedAt), cfg.WaitBoostPerHour, cfg.WaitBoostCap),
	}
	p.Final = p.Base * p.FairShare * p.WaitBoost
	return p
}

// candidate is a pending job in the order being built.
type candidate struct {
	final     float64
	submitted int64 // Unix nanoseconds
	id        rcq.JobID
	idx       int32 // index into Snapshot.Pending
}

// order sorts candidates by final priority (highest first), then submit time
// (oldest first), then job id, so one snapshot always yields one order.
func order(cs []candidate) {
	slices.SortFunc(cs, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(b.final, a.final),
			cmp.Compare(a.submitted, b.submitted), cmp.Compare(a.id, b.id))
	})
}

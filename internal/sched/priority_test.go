package sched

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

func near(a, b float64) bool { return math.Abs(a-b) < 0.005 }

func TestFairShare(t *testing.T) {
	for _, tc := range []struct {
		name         string
		quota, usage float64
		want         float64
	}{
		{"at 90% of quota", 1000, 900, 1.11},
		{"at 25% of quota: 4.0 clamped", 1000, 250, 2.0},
		{"at quota", 1000, 1000, 1.0},
		{"at 150% of quota", 1000, 1500, 0.67},
		{"at 4x quota: 0.25 clamped", 1000, 4000, 0.5},
		{"used nothing", 1000, 0, 2.0},
		{"no quota, used nothing", 0, 0, 2.0},
		{"no quota, used some", 0, 10, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FairShare(tc.quota, tc.usage, DefaultFairShareMin, DefaultFairShareMax); !near(got, tc.want) {
				t.Errorf("FairShare(%v, %v) = %.4f, want %.2f", tc.quota, tc.usage, got, tc.want)
			}
		})
	}
}

func TestWaitBoost(t *testing.T) {
	for _, tc := range []struct {
		waited time.Duration
		want   float64
	}{
		{0, 1.0},
		{-time.Hour, 1.0}, // submitted "after" now: clock skew is no boost
		{30 * time.Minute, 1.005},
		{10 * time.Hour, 1.10},
		{50 * time.Hour, 1.5},
		{500 * time.Hour, 1.5}, // capped
	} {
		if got := WaitBoost(tc.waited, DefaultWaitBoostPerHour, DefaultWaitBoostCap); !near(got, tc.want) {
			t.Errorf("WaitBoost(%v) = %.4f, want %.3f", tc.waited, got, tc.want)
		}
	}
}

func TestPriorityFactors(t *testing.T) {
	g := rcq.GroupShare{Group: rcq.Group{ID: 7, CPUQuota: 1000, Priority: 3}, UsageCPUHours: 900}
	j := rcq.PendingJob{ID: 1, GroupID: 7, Priority: 6, SubmittedAt: now.Add(-10 * time.Hour)}
	p := Priority(&j, g, true, now, DefaultConfig())
	if p.Base != 9 || !near(p.FairShare, 1.11) || !near(p.WaitBoost, 1.10) || !near(p.Final, 9*1.0/0.9*1.10) {
		t.Errorf("factors = %+v, want base 9, fair share 1.11, wait boost 1.10, final 11.0", p)
	}
	unknown := Priority(&j, rcq.GroupShare{}, false, now, DefaultConfig())
	if unknown.Base != 6 || unknown.FairShare != 1 {
		t.Errorf("job of an unknown group: %+v, want base 6 (no group priority), fair share 1", unknown)
	}
	// The factors Schedule reports are the same.
	snap := &rcq.Snapshot{Now: now, Pending: []rcq.PendingJob{j}, Groups: []rcq.GroupShare{g}}
	if got := Schedule(snap, DefaultConfig()).Jobs[0].Priority; got != p {
		t.Errorf("Schedule reports %+v, Priority computes %+v", got, p)
	}
}

// TestSeedOrdering is the original design's example: group A has used 90% of
// its quota, group B 25%, so B's jobs are scheduled before A's even though A
// submitted first; an old job gradually overtakes newer ones as it waits.
func TestSeedOrdering(t *testing.T) {
	groups := []rcq.GroupShare{
		{Group: rcq.Group{ID: 1, Name: "A", CPUQuota: 1000, Priority: 5}, UsageCPUHours: 900},
		{Group: rcq.Group{ID: 2, Name: "B", CPUQuota: 1000, Priority: 5}, UsageCPUHours: 250},
	}
	job := func(id, group, prio int, submitted time.Time) rcq.PendingJob {
		return rcq.PendingJob{ID: rcq.JobID(id), GroupID: rcq.GroupID(group), Priority: prio,
			Resources: res(1, 1, 0), EstimatedHours: 1, SubmittedAt: submitted}
	}
	order := func(snap *rcq.Snapshot) []rcq.JobID {
		var ids []rcq.JobID
		for _, j := range Schedule(snap, DefaultConfig()).Jobs {
			ids = append(ids, j.JobID)
		}
		return ids
	}
	snap := &rcq.Snapshot{Now: now, Groups: groups, Pending: []rcq.PendingJob{
		job(1, 1, 5, now.Add(-2*time.Hour)), job(2, 1, 5, now.Add(-90*time.Minute)),
		job(3, 2, 5, now.Add(-time.Hour)), job(4, 2, 5, now.Add(-30*time.Minute)),
	}}
	if got, want := order(snap), []rcq.JobID{3, 4, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v (group B at 2.0 before group A at 1.11)", got, want)
	}

	// Job 10 (priority 2, group B) was submitted at t; job 11 (priority 5,
	// group B) is submitted fresh at every step. 10's base is 7 against 11's
	// 10: it overtakes once 7 x (1 + h/100) > 10, that is after ~43 hours.
	submitted := now
	for _, tc := range []struct {
		waited time.Duration
		first  rcq.JobID
	}{{0, 11}, {24 * time.Hour, 11}, {42 * time.Hour, 11}, {44 * time.Hour, 10}, {100 * time.Hour, 10}} {
		at := submitted.Add(tc.waited)
		snap := &rcq.Snapshot{Now: at, Groups: groups, Pending: []rcq.PendingJob{job(10, 2, 2, submitted), job(11, 2, 5, at)}}
		if got := order(snap)[0]; got != tc.first {
			t.Errorf("after %v, first = %d, want %d", tc.waited, got, tc.first)
		}
	}
}

func TestTieBreaks(t *testing.T) {
	// Equal final priority: the older job first; equal submit time too: lower id.
	a := pending(5, res(1, 1, 0), 1)
	b := pending(3, res(1, 1, 0), 1)
	c := pending(4, res(1, 1, 0), 1)
	b.SubmittedAt = a.SubmittedAt
	c.SubmittedAt = a.SubmittedAt.Add(-time.Minute)
	got := Schedule(snapshot(nil, nil, a, b, c), DefaultConfig()).Jobs
	want := []rcq.JobID{4, 3, 5}
	for i, j := range got {
		if j.JobID != want[i] || j.Rank != i+1 {
			t.Fatalf("order = %v, want ids %v with ranks 1..3", got, want)
		}
	}
}

// order's fast integer sort gives exactly the full comparison's order, also
// with long runs of equal priority (capped wait boosts), equal submit times
// and priorities that differ only in their last bits.
func TestOrderMatchesFullSort(t *testing.T) {
	for seed := range uint64(20) {
		g := newGen(seed)
		n := 1 + g.rng.IntN(20000)
		cs := make([]candidate, n)
		ids := g.rng.Perm(3 * n) // unique, as job ids are
		for i := range cs {
			final := float64(1+g.rng.IntN(5)) * 1.5
			if seed%2 == 1 && g.rng.IntN(4) == 0 {
				final = math.Nextafter(final, 100) // differs in the last bit
			}
			if seed%2 == 1 && g.rng.IntN(10) == 0 {
				final = g.rng.Float64() * 30
			}
			submitted := now.Add(-time.Duration(g.rng.IntN(50)) * time.Microsecond * time.Duration(1+g.rng.IntN(3000)))
			j := rcq.PendingJob{ID: rcq.JobID(ids[i]), SubmittedAt: submitted}
			cs[i] = newCandidate(&j, i, rcq.PriorityFactors{Final: final}, -1)
		}
		want := slices.Clone(cs)
		slices.SortFunc(want, compareCandidates)
		got := order(slices.Clone(cs), new(scratch))
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: order differs from the full sort", seed)
		}
	}
}

package apitype

import "time"

// HistoryPoint is the number of running and pending jobs (held ones
// included) at one instant.
type HistoryPoint struct {
	At      time.Time `json:"at"`
	Running int       `json:"running"`
	Pending int       `json:"pending"`
}

// ClusterHistory is GET /api/cluster/history: every account's jobs counted
// at instants from From to To, StepSeconds apart (To is the time of the
// request).
type ClusterHistory struct {
	From        time.Time      `json:"from"`
	To          time.Time      `json:"to"`
	StepSeconds int64          `json:"step_seconds"`
	Points      []HistoryPoint `json:"points"`
}

// ShareSettings are the scheduler's fair-share and priority settings:
// usage counts over WindowSeconds (decayed with HalfLifeSeconds when > 0);
// a group's factor is quota / usage clamped to [FairShareMin, FairShareMax];
// a job's wait boost is 1 + hours waited x WaitBoostPerHour, capped at
// WaitBoostCap; a pending job's priority is (job priority + group priority)
// x fair-share factor x wait boost.
type ShareSettings struct {
	WindowSeconds    int64   `json:"window_seconds"`
	HalfLifeSeconds  int64   `json:"half_life_seconds"`
	FairShareMin     float64 `json:"fair_share_min"`
	FairShareMax     float64 `json:"fair_share_max"`
	WaitBoostPerHour float64 `json:"wait_boost_per_hour"`
	WaitBoostCap     float64 `json:"wait_boost_cap"`
}

// GroupUsageSeries is one group's CPU-hours per interval of a share history
// (undecayed: what its jobs used, counted when they ended).
type GroupUsageSeries struct {
	ID       int64     `json:"id"`
	Name     string    `json:"name"`
	CPUHours []float64 `json:"cpu_hours"`
}

// ShareHistory is GET /api/share/history: the scheduler's settings and every
// group's usage over the fair-share window, in intervals of StepSeconds from
// From to To (interval i ends at From + (i+1) x StepSeconds).
type ShareHistory struct {
	Settings    ShareSettings      `json:"settings"`
	From        time.Time          `json:"from"`
	To          time.Time          `json:"to"`
	StepSeconds int64              `json:"step_seconds"`
	Groups      []GroupUsageSeries `json:"groups"`
}

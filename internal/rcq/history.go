package rcq

import "time"

// HistoryPoint is how many jobs were running and pending (held ones
// included) at one instant (the dashboard's cluster chart).
type HistoryPoint struct {
	At      time.Time
	Running int
	Pending int
}

// UsageSeries is one group's usage over time: CPUHours[i] is the CPU-hours
// its jobs logged (as they ended) in the i-th interval of a usage history,
// undecayed.
type UsageSeries struct {
	GroupID  GroupID
	Name     string
	CPUHours []float64
}

// ShareSettings are the scheduler's fair-share and priority settings: usage
// counts over Window, decayed with HalfLife when > 0; a group's factor is
// quota/usage clamped to [FairShareMin, FairShareMax]; a pending job's wait
// boost grows by WaitBoostPerHour up to WaitBoostCap.
type ShareSettings struct {
	Window           time.Duration
	HalfLife         time.Duration
	FairShareMin     float64
	FairShareMax     float64
	WaitBoostPerHour float64
	WaitBoostCap     float64
}

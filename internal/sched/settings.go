package sched

import "github.com/rcq-project/rcq/internal/rcq"

// ShareSettings returns the settings that make fair share and priority:
// the window and half-life of usage, the factor's bounds, the wait boost.
func (l *Loop) ShareSettings() rcq.ShareSettings {
	return rcq.ShareSettings{Window: l.cfg.FairShareWindow, HalfLife: l.cfg.FairShareHalfLife,
		FairShareMin: l.cfg.FairShareMin, FairShareMax: l.cfg.FairShareMax,
		WaitBoostPerHour: l.cfg.WaitBoostPerHour, WaitBoostCap: l.cfg.WaitBoostCap}
}

package rcq

import "time"

// AcctFilter selects jobs for accounting (rcq-acct, sacct): zero fields
// select everything. The window [From, To] keeps jobs that were in the
// system during it: submitted by To and not ended before From (still
// pending or running, or ended at or after From).
type AcctFilter struct {
	UserID UserID     // 0: every account (admins only)
	States []JobState // nil: every state; empty: none
	IDs    []JobID
	Refs   []JobRef // job refs (123, 123_4): a whole array or some elements
	From   time.Time
	To     time.Time
	// After is where the page before ended; pages run newest first by
	// submit time, then id.
	After JobPos
	Limit int
}

// GroupAcct is one group's totals over an accounting window. CPU and GPU
// hours are allocated hours (cores or GPUs times the time run, up to now for
// running jobs), as Slurm's CPUTime counts them; UsedCPUHours is the CPU time
// the jobs' processes used.
type GroupAcct struct {
	GroupID      GroupID
	GroupName    string
	Jobs         int
	ByState      map[JobState]int
	CPUHours     float64
	GPUHours     float64
	UsedCPUHours float64
}

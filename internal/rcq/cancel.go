package rcq

// CancelFilter selects the jobs one bulk cancel ends: every job matching all
// of its fields. Only pending and running jobs are ever cancelled.
type CancelFilter struct {
	UserID UserID     // 0: any user's (admins)
	IDs    []JobID    // none: any id
	States []JobState // pending, running or both; none: both
	Names  []string   // none: any name
}

// CancelResult is what a bulk cancel did: the jobs it cancelled, and why
// each job named in CancelFilter.IDs that it did not cancel was refused.
type CancelResult struct {
	Cancelled []JobID // ascending
	Refused   []Refusal
}

// Refusal is one job an action left alone, and why (an *Error: NotFound or
// a Conflict naming the job's state).
type Refusal struct {
	JobID JobID
	Err   error
}

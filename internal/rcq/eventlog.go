package rcq

import "time"

// LoggedEvent is one row of the event log behind GET /api/events: a change
// of a job's state (Kind "job") or of a worker (Kind "worker"), written in
// the transaction that made it. ID orders events across every rcqd sharing
// the database.
type LoggedEvent struct {
	ID          int64
	At          time.Time
	Kind        string // LoggedJob or LoggedWorker
	JobID       JobID
	UserID      UserID
	WorkerID    WorkerID
	Name        string // the worker's name
	State       string // a JobState, a WorkerState, or "deleted" for a worker
	Reason      string
	Hold        string
	ExitCode    *int
	Signal      string
	SubmittedAt *time.Time
	StartedAt   *time.Time
	CompletedAt *time.Time
	ArrayJobID  *JobID
	ArrayTaskID *int
}

// Kinds of LoggedEvent.
const (
	LoggedJob    = "job"
	LoggedWorker = "worker"
)

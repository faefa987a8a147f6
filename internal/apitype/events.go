package apitype

import "time"

// Event types of GET /api/events (Server-Sent Events): the "event:" field of
// each message. Its "data:" is one JSON object: JobEvent, WorkerEvent,
// PositionEvent or ResetEvent.
const (
	EventJob      = "job"      // a job's state, reason, hold, exit code or times changed
	EventWorker   = "worker"   // a worker's state or size changed
	EventPosition = "position" // the queue positions of the caller's pending jobs changed
	EventReset    = "reset"    // events were lost (resume from before the kept history): re-read
)

// JobEvent is the data of an EventJob message.
type JobEvent struct {
	ID          int64      `json:"id"`
	UserID      int64      `json:"user_id"`
	State       string     `json:"state"`
	Reason      string     `json:"reason,omitempty"`
	Hold        string     `json:"hold,omitempty"`
	ExitCode    *int       `json:"exit_code"`
	Signal      string     `json:"signal,omitempty"`
	SubmittedAt *time.Time `json:"submitted_at,omitempty"`
	StartedAt   *time.Time `json:"started_at"`
	CompletedAt *time.Time `json:"completed_at"`
	ArrayJobID  *int64     `json:"array_job_id,omitempty"`
	ArrayTaskID *int       `json:"array_task_id,omitempty"`
	At          time.Time  `json:"at"` // when the change was committed (its transaction's time)
}

// WorkerEvent is the data of an EventWorker message.
type WorkerEvent struct {
	ID    int64     `json:"id"`
	Name  string    `json:"name"`
	State string    `json:"state"` // online, drained, offline, or deleted
	At    time.Time `json:"at"`
}

// PositionEvent is the data of an EventPosition message: the jobs whose
// position changed since the stream's last one (every pending job of the
// caller in the first).
type PositionEvent struct {
	Jobs []JobPosition `json:"jobs"`
}

// JobPosition is a pending job's rank in the scheduler's order (1 = next to
// start).
type JobPosition struct {
	ID       int64 `json:"id"`
	Position int   `json:"position"`
}

// ResetEvent is the data of an EventReset message.
type ResetEvent struct {
	Reason string `json:"reason"`
}

package rcq

// EventKind names something that happened that another part of rcqd (or
// another rcqd on the same database) may need to act on.
type EventKind string

const (
	EventJobSubmitted  EventKind = "job_submitted"  // a scheduling cycle may start it
	EventJobEnded      EventKind = "job_ended"      // capacity freed, dependencies may be met
	EventJobCancelled  EventKind = "job_cancelled"  // the executor kills its processes
	EventJobsStarted   EventKind = "jobs_started"   // executors launch what was assigned to their node
	EventWorkerChanged EventKind = "worker_changed" // capacity or state changed
	EventJobSignal     EventKind = "job_signal"     // deliver Signal to JobID's processes
)

// Event travels in-process and, between rcqd processes, over PostgreSQL's
// LISTEN/NOTIFY. It is a wake-up, not the truth: receivers re-read the store.
type Event struct {
	Kind   EventKind `json:"kind"`
	JobID  JobID     `json:"job_id,omitempty"`
	Node   string    `json:"node,omitempty"`
	Signal string    `json:"signal,omitempty"`
	// Held marks an EventJobSubmitted whose job is held and waits on no
	// other job: no cycle can start or cancel it until it is released, so
	// it needs none (only the plans readers see are out of date).
	Held bool `json:"held,omitempty"`
	// Origin names the rcqd process that announced the event, which
	// delivered it to itself at once (store.Store.OnAnnounce) and skips it
	// when it comes back over LISTEN; empty for events sent inside a
	// transaction, which every process hears over LISTEN.
	Origin string `json:"origin,omitempty"`
}

package rcq

import "time"

// LostJobPolicy says when the scheduler leader gives up on a started job
// (node.dead_after, jobs.start_timeout) and which lost jobs go back to the
// queue (jobs.requeue_array_elements).
type LostJobPolicy struct {
	// DeadAfter: a node whose lease has expired and that was last seen
	// (lease renewed, or heartbeat) longer ago than this is dead; its jobs
	// end node_fail.
	DeadAfter time.Duration
	// StartTimeout: a running job no rcqd has launched (claimed) for this
	// long ends failed with reason LaunchFailed.
	StartTimeout time.Duration
	// RequeueArrays: array elements submitted without --requeue or
	// --no-requeue are requeued like jobs submitted with --requeue.
	RequeueArrays bool
}

// MaxRestarts is how many times a lost job goes back to the queue: once.
const MaxRestarts = 1

// LostJob is one job the sweep ended or put back in the queue.
type LostJob struct {
	JobID    JobID
	Node     string
	State    JobState // node_fail, failed (LaunchFailed), pending (requeued), or cancelled (its end recorded)
	Reason   string   // NodeFail or LaunchFailed
	Detail   string
	Requeued bool
}

// LostJobs is what one sweep did.
type LostJobs struct {
	Jobs []LostJob
}

// KnownNode is a node whose rcqd has heartbeated on this database: a
// virtual worker must name one (or be created offline until it does).
type KnownNode struct {
	Name     string
	Live     bool      // its rcqd holds the node's lease now
	LastSeen time.Time // its last heartbeat (or lease renewal)
}

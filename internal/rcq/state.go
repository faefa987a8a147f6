package rcq

import "strings"

// JobState is where a job is in its life. The values are stored in the
// database and sent over the wire; they never change.
type JobState string

const (
	JobPending   JobState = "pending"
	JobRunning   JobState = "running"
	JobCompleted JobState = "completed"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
	JobTimeout   JobState = "timeout"
	// JobNodeFail: the job's node stopped renewing its lease for longer
	// than node.dead_after while the job ran (Slurm's NODE_FAIL). A
	// requeueable job goes back to pending instead, once.
	JobNodeFail JobState = "node_fail"
)

// JobStates lists every state in life order.
var JobStates = []JobState{JobPending, JobRunning, JobCompleted, JobFailed, JobCancelled, JobTimeout, JobNodeFail}

// transitions lists the allowed moves: a job is born pending, starts
// (running) or is cancelled (by its owner, an admin, or the scheduler when
// a dependency can never be met); a running job ends in any end state. A
// pending job never fails: only a job that was started has processes to
// fail. A job goes back to pending only when it is requeued, keeping its id,
// priority and submit time: a running job whose node was lost (node_fail)
// or that never reported started (LaunchFailed), when it asked for a
// requeue (or is an array element), once; or a running or finished job
// that ran, requeued by its owner or an admin (rcq-control requeue, see
// Job.CheckRequeue). An end state goes nowhere else.
var transitions = map[JobState][]JobState{
	JobPending:   {JobRunning, JobCancelled},
	JobRunning:   {JobCompleted, JobFailed, JobCancelled, JobTimeout, JobNodeFail, JobPending},
	JobCompleted: {JobPending},
	JobFailed:    {JobPending},
	JobCancelled: {JobPending},
	JobTimeout:   {JobPending},
	JobNodeFail:  {JobPending},
}

// CanBecome reports whether a job in state s may move to next.
//
// This is the job state machine. The store makes each move with one
// conditional UPDATE whose WHERE clause names the state it moves from (so
// concurrent moves cannot both win), and those clauses implement this
// table: TestTransitionsMatchCanBecome in internal/store records every
// move the store's SQL makes and fails on any CanBecome refuses, and on any
// CanBecome allows that no store method makes.
func (s JobState) CanBecome(next JobState) bool {
	for _, t := range transitions[s] {
		if t == next {
			return true
		}
	}
	return false
}

// Terminal reports whether s is an end state.
func (s JobState) Terminal() bool {
	return s == JobCompleted || s == JobFailed || s == JobCancelled || s == JobTimeout || s == JobNodeFail
}

// Valid reports whether s is one of the known states.
func (s JobState) Valid() bool {
	for _, k := range JobStates {
		if s == k {
			return true
		}
	}
	return false
}

// Short is Slurm's compact state code (squeue %t).
func (s JobState) Short() string {
	switch s {
	case JobPending:
		return "PD"
	case JobRunning:
		return "R"
	case JobCompleted:
		return "CD"
	case JobFailed:
		return "F"
	case JobCancelled:
		return "CA"
	case JobTimeout:
		return "TO"
	case JobNodeFail:
		return "NF"
	}
	return "??"
}

// ParseJobState accepts a long name (pending, RUNNING, node_fail) or a Slurm
// code (PD, R, CD, F, CA, TO, NF), in any case.
func ParseJobState(s string) (JobState, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for _, k := range JobStates {
		if l == string(k) || l == strings.ToLower(k.Short()) {
			return k, nil
		}
	}
	return "", Invalid("state", "%q is not a job state: use pending, running, completed, failed, cancelled, timeout, node_fail (or PD, R, CD, F, CA, TO, NF)", s)
}

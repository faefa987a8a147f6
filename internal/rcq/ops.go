package rcq

import "time"

// OpsState is the cluster's state as rcqd's metrics show it: one read of
// the store, cached by the metrics collector (internal/metrics).
type OpsState struct {
	Jobs []JobCount // pending and running jobs by state and group
	// Finished counts the jobs that moved into each finished state, by
	// group, since the database was created (counters: they only grow).
	Finished []JobCount
	Workers  []WorkerLoad
	Leases   []Lease
}

// JobCount is how many jobs of a group are in a state; Held counts the
// pending ones on hold.
type JobCount struct {
	State JobState
	Group string
	N     int
	Held  int
}

// Lease is a row of the leases table: the scheduler's, and each node's.
type Lease struct {
	Name   string
	Holder string
	Left   time.Duration // until it expires, by the database's clock; < 0: expired
}

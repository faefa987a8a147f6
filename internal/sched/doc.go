// Package sched decides which pending jobs start where, and runs that decision
// as a loop against the store.
//
// The core (Schedule) is pure: it takes one consistent *rcq.Snapshot and a
// Config and returns an rcq.Plan, with no I/O and no clock reads (the time is
// the snapshot's Now, the database clock). It computes each job's priority
// (base x fair share x wait boost), orders the queue deterministically, packs
// jobs onto workers by best fit on CPU cores, memory and specific GPU indices,
// gives the highest-priority blocked job a reservation, backfills lower jobs
// that cannot delay it (EASY backfill), and says why every other job waits.
//
// The Loop wakes on Notify (a submit, a job end, a cancel, a worker change) or
// every Config.Interval, holds a lease in the database so that one scheduler
// acts per database, and commits each cycle's starts through Store.StartJobs,
// which re-checks the lease and each job and worker.
//
// README.md in this directory defines the vocabulary; docs/scheduling.md
// explains the rules to users.
package sched

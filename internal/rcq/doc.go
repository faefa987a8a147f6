// Package rcq holds rcq's domain: jobs and their states, resources, workers,
// groups and users, the job specification a user submits and its validation,
// the scheduler's snapshot and plan, and the error vocabulary shared by every
// layer. It imports only the standard library; every other package points here.
package rcq

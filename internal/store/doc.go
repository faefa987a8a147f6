// Package store is rcq's only package with SQL. It keeps every piece of rcq's
// state in PostgreSQL through a pgx pool: jobs, users, groups, workers, usage,
// dependencies, idempotency keys and the scheduler's lease. Its schema is a
// set of numbered goose migrations embedded in the binary.
//
// Every state change of a job is one conditional UPDATE (WHERE status = the
// expected one) inside a transaction, so two actors can never both move the
// same job. Transactions that change something others must act on send a
// NOTIFY on the rcq_events channel; Listen delivers those to rcqd's
// components, in this process and in every other rcqd on the same database.
package store

// Package bench is rcq-bench: the end-to-end benchmarks of issue 6. Each
// scenario starts its own rcqd on a private, throwaway state directory and
// PostgreSQL, measures, and stops it (and its PostgreSQL and any job
// supervisor) before the next one. Results are rows of one table, printed
// on stdout and written as JSON.
//
// It drives rcqd through its API and its commands; what a scenario needs
// loaded faster than the API could (100,000 finished jobs, a thousand
// workers) goes through the store's bulk methods, and PostgreSQL's own
// baseline through pgbench on a scratch database. It has no SQL of its own
// and links no database driver but the store's (internal/layout checks).
package bench

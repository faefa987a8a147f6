// Package bench is rcq-bench: the end-to-end benchmarks of issue 6. Each
// scenario starts its own rcqd on a private, throwaway state directory and
// PostgreSQL, measures, and stops it (and its PostgreSQL and any job
// supervisor) before the next one. Results are rows of one table, printed
// on stdout and written as JSON.
package bench

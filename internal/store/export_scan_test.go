package store

import "github.com/jackc/pgx/v5"

// CollectNamed is collectNamed, for the scanner's test.
func CollectNamed[T, R any](rows pgx.Rows, conv func(*T) R) ([]R, error) {
	return collectNamed(rows, conv)
}

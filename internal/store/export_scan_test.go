package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// CollectNamed is collectNamed, for the scanner's test.
func CollectNamed[T, R any](rows pgx.Rows, conv func(*T) R) ([]R, error) {
	return collectNamed(rows, conv)
}

// Query is query, for the scanner's test.
func (s *Store) Query(ctx context.Context, c *rcq.AccountCheck, sql string, args []any, read func(pgx.Rows) error) error {
	return s.query(ctx, c, sql, args, read)
}

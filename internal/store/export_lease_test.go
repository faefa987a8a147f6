package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// FencedTx begins a transaction fenced by the lease, as the scheduler's
// writes are, and leaves it open: a holder paused inside one.
func (s *Store) FencedTx(ctx context.Context, lease, holder string) (pgx.Tx, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkLease(ctx, tx, lease, holder); err != nil {
		_ = tx.Rollback(ctx)
		return nil, err
	}
	return tx, nil
}

package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// DeleteWorkerForTest deletes a worker with its audit row in one
// transaction, as DeleteWorker (rcq-admin worker delete) does.
func (s *Store) DeleteWorkerForTest(ctx context.Context, id rcq.WorkerID) error {
	return wrap("delete worker", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `DELETE FROM workers WHERE id = $1 RETURNING `+workerCols, id)
		r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[workerRow])
		if err != nil {
			return err
		}
		return auditWorkerDelete(ctx, tx, r.worker(), "")
	}))
}

package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// checkAccountSQL raises accountChangedCode unless the account is as c says
// (migration 00020, rcq.AccountCheck).
const checkAccountSQL = `SELECT check_account($1, $2, $3)`

// accountChangedCode is check_account's SQLSTATE; wrap makes it
// rcq.ErrAccountChanged.
const accountChangedCode = "RQ001"

// query runs one statement and hands its rows to read. With c set, c's
// check goes first in the same pipeline: one round trip, and one implicit
// transaction, so the statement runs only if the check holds, and the
// check costs no extra wait.
func (s *Store) query(ctx context.Context, c *rcq.AccountCheck, sql string, args []any, read func(pgx.Rows) error) error {
	if c == nil {
		rows, _ := s.pool.Query(ctx, sql, args...)
		return read(rows)
	}
	b := checkedBatch(c)
	b.Queue(sql, args...).Query(read)
	return s.pool.SendBatch(ctx, b).Close()
}

// queryRow is query for a statement of one row, scanned into dest
// (pgx.ErrNoRows when it returns none).
func (s *Store) queryRow(ctx context.Context, c *rcq.AccountCheck, sql string, args []any, dest ...any) error {
	if c == nil {
		return s.pool.QueryRow(ctx, sql, args...).Scan(dest...)
	}
	b := checkedBatch(c)
	b.Queue(sql, args...).QueryRow(func(row pgx.Row) error { return row.Scan(dest...) })
	return s.pool.SendBatch(ctx, b).Close()
}

// checkedBatch is a batch that begins with c's check.
func checkedBatch(c *rcq.AccountCheck) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(checkAccountSQL, c.UserID, c.RowVersion, c.TokenID)
	return b
}

// checkAccount runs c's check in tx; nil c checks nothing.
func checkAccount(ctx context.Context, tx pgx.Tx, c *rcq.AccountCheck) error {
	if c == nil {
		return nil
	}
	_, err := tx.Exec(ctx, checkAccountSQL, c.UserID, c.RowVersion, c.TokenID)
	return err
}

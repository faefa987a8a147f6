package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
	return s.withConn(ctx, func(conn *pgxpool.Conn) error {
		if c == nil {
			rows, _ := conn.Query(ctx, sql, args...)
			return read(rows)
		}
		b := checkedBatch(c)
		b.Queue(sql, args...).Query(read)
		return conn.SendBatch(ctx, b).Close()
	})
}

// queryRow is query for a statement of one row, scanned into dest
// (pgx.ErrNoRows when it returns none).
func (s *Store) queryRow(ctx context.Context, c *rcq.AccountCheck, sql string, args []any, dest ...any) error {
	return s.withConn(ctx, func(conn *pgxpool.Conn) error {
		if c == nil {
			return conn.QueryRow(ctx, sql, args...).Scan(dest...)
		}
		b := checkedBatch(c)
		b.Queue(sql, args...).QueryRow(func(row pgx.Row) error { return row.Scan(dest...) })
		return conn.SendBatch(ctx, b).Close()
	})
}

// withConn runs fn on one of the pool's connections and releases it
// however fn returns. The pool's own Query, QueryRow and SendBatch give
// their connection back only when the rows or results are closed, which a
// panic in a reader or a scan skips: the connection was held for good, and
// enough such panics would leave every request waiting for one. Released
// after a panic, the connection is in the middle of a result, and pgxpool
// closes a busy connection instead of pooling it.
func (s *Store) withConn(ctx context.Context, fn func(*pgxpool.Conn) error) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	return fn(conn)
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

package store

import (
	"context"
	"errors"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// pendingCaps are jobs.max_pending_per_user and jobs.max_pending_total, and
// when this process last recounted every account (see roomInAll).
//
// How they hold (migration 00006 keeps one counter row per account):
//   - An account's cap is exact. Each submit adds its jobs to the account's
//     row in the statement or transaction that inserts them, as its last
//     step, so the row stays locked from there until the jobs are committed
//     and the account's submits count one at a time; a submit that finds
//     the row at the cap recounts the account's pending jobs under that lock
//     before it refuses.
//   - The total cap is checked against the sum of every row, which does not
//     see the rows of other accounts' submits still committing: it can be
//     passed by at most the jobs of the submits that count themselves
//     between another's count and commit (milliseconds): one job per single
//     submit, one whole batch (at most 10,000 jobs, and at most half of
//     database.max_conns batches in flight) per batch, per rcqd.
//   - Jobs put back to pending (a requeue) are not refused: the caps bound
//     what a submit may add.
type pendingCaps struct {
	perUser, total int64 // math.MaxInt64: no cap

	mu        sync.Mutex
	recounted time.Time // last recount of every account by this process
}

func newPendingCaps(perUser, total int) *pendingCaps {
	c := &pendingCaps{perUser: math.MaxInt64, total: math.MaxInt64}
	if perUser > 0 {
		c.perUser = int64(perUser)
	}
	if total > 0 {
		c.total = int64(total)
	}
	return c
}

// recountAllEvery bounds how often one process recounts every account's
// pending jobs (a scan of all pending jobs): a crowd of submits at the total
// cap is refused from the counters in between.
const recountAllEvery = time.Second

// mayRecountAll reports whether this process may recount every account now,
// and if so counts it as done.
func (c *pendingCaps) mayRecountAll(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.recounted) < recountAllEvery {
		return false
	}
	c.recounted = now
	return true
}

// reserve counts jobs the transaction has just inserted (per owner) against
// the caps, or refuses with a 429 naming the cap, and the caller rolls back.
// It comes last, just before the commit: each owner's counter row stays
// locked from here to the commit, so however long a batch took to arrive,
// its account's other submits wait only for its commit.
func (s *Store) reserve(ctx context.Context, tx pgx.Tx, per map[rcq.UserID]int64) error {
	users := make([]rcq.UserID, 0, len(per))
	for u := range per {
		users = append(users, u)
	}
	slices.Sort(users) // one lock order for every transaction
	for _, u := range users {
		if err := s.roomFor(ctx, tx, u, per[u]); err != nil {
			return err
		}
	}
	return s.roomInAll(ctx, tx)
}

// roomFor adds n jobs to user's counter row, recounting the account's pending
// jobs exactly when the row says the cap would be passed.
func (s *Store) roomFor(ctx context.Context, tx pgx.Tx, user rcq.UserID, n int64) error {
	var jobs int64
	err := tx.QueryRow(ctx, `
		INSERT INTO pending_counts AS c (user_id, jobs) VALUES ($1, $2)
		ON CONFLICT (user_id) DO UPDATE SET jobs = c.jobs + $2 WHERE c.jobs + $2 <= $3
		RETURNING jobs`, user, n, s.pending.perUser).Scan(&jobs)
	if err == nil && jobs <= s.pending.perUser {
		return nil
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	// The row is an upper bound: recount under its lock. The count is a
	// statement of its own, begun once the lock is held, so it sees every
	// job of the account's earlier submits, and this transaction's n.
	if _, err := tx.Exec(ctx, `SELECT 1 FROM pending_counts WHERE user_id = $1 FOR UPDATE`, user); err != nil {
		return err
	}
	var have int64
	if err := tx.QueryRow(ctx, `
		UPDATE pending_counts SET recounted_at = now(),
			jobs = (SELECT count(*) FROM jobs WHERE user_id = $1 AND status = 'pending')
		WHERE user_id = $1 RETURNING jobs`, user).Scan(&have); err != nil {
		return err
	}
	if have > s.pending.perUser {
		return tooManyPending(have-n, n, s.pending.perUser)
	}
	return nil
}

// roomInAll checks the total cap once the owners' rows hold the new jobs.
// When the sum of the rows passes the cap, every row is recounted, at most
// once per recountAllEvery per process; rows locked by other accounts'
// submits in flight keep their bound.
func (s *Store) roomInAll(ctx context.Context, tx pgx.Tx) error {
	if s.pending.total == math.MaxInt64 {
		return nil
	}
	var sum int64
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(jobs), 0) FROM pending_counts`).Scan(&sum); err != nil {
		return err
	}
	if sum <= s.pending.total {
		return nil
	}
	if !s.pending.mayRecountAll(time.Now()) {
		return tooManyPendingTotal(s.pending.total)
	}
	// Lock first, count in a second statement: its snapshot, taken once the
	// locks are held, sees every job committed on these rows (and this
	// transaction's own).
	rows, _ := tx.Query(ctx, `SELECT user_id FROM pending_counts ORDER BY user_id FOR UPDATE SKIP LOCKED`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `
		UPDATE pending_counts c SET recounted_at = now(),
			jobs = (SELECT count(*) FROM jobs j WHERE j.user_id = c.user_id AND j.status = 'pending')
		WHERE c.user_id = ANY($1::bigint[])`, ids); err != nil {
		return err
	}
	if err := tx.QueryRow(ctx, `SELECT coalesce(sum(jobs), 0) FROM pending_counts`).Scan(&sum); err != nil {
		return err
	}
	if sum > s.pending.total {
		return tooManyPendingTotal(s.pending.total)
	}
	return nil
}

func tooManyPending(have, n, limit int64) error {
	return rcq.Errorf(rcq.KindRateLimited, "too_many_pending_jobs",
		"pending jobs: this account has %d and may have at most %d (jobs.max_pending_per_user); %d more would pass it: cancel some or wait for them to start",
		have, limit, n)
}

func tooManyPendingTotal(limit int64) error {
	return rcq.Errorf(rcq.KindRateLimited, "too_many_pending_jobs_total",
		"pending jobs: rcqd holds the most pending jobs it takes from all accounts together (jobs.max_pending_total = %d); try again once some have started",
		limit)
}

package store

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// pendingCaps are jobs.max_pending_per_user and jobs.max_pending_total, and
// this process's estimates of the pending jobs they bound.
//
// How they hold. A submit far below the caps by this process's estimate
// (counted at most countEvery ago, plus the jobs this process stored since)
// is one INSERT and writes nothing else; a submit near a cap, or whose
// estimate is older than countEvery, counts exactly in its transaction:
//   - An account's exact count runs under a transaction-scoped advisory lock
//     of the account, after the submit's jobs are inserted, so counting
//     submits of one account take turns and each sees the others' jobs. Fast
//     submits run only while the estimate is at least nearMargin below the
//     cap, and this process never has more submits in flight than its
//     database connections (fewer than nearMargin), so within one rcqd the
//     cap is exact. Submits of the same account through other rcqd
//     processes within countEvery are not in the estimate: they can pass it
//     by what those processes store in that second.
//   - The total cap is checked the same way against a count of every pending
//     job, at most once per countEvery per process when near it.
//   - Jobs the lost-job sweep puts back to pending are not refused: the
//     caps bound what users may add. A requeue by hand (RequeueJob) is
//     checked as a submit of one job of the job's owner is.
//
// An earlier design kept a counter row per account, written by every
// submit: it serialized an account's submits on the row's commit (and its
// fsync), and 16 clients of one account reached half the submit rate.
type pendingCaps struct {
	perUser, total int64 // math.MaxInt64: no cap

	mu    sync.Mutex
	users map[rcq.UserID]estimate
	all   estimate
}

// estimate is a count of pending jobs taken at at (counted), plus the jobs
// this process stored since (n is both). A submit whose commit the count
// already saw may report its jobs after the count was recorded, so n can
// hold them twice: n serves to skip counting (too high only costs a count),
// counted to refuse without counting again.
type estimate struct {
	n, counted int64
	at         time.Time
}

// countEvery bounds how old an estimate a fast submit may trust.
const countEvery = time.Second

// nearMargin is how far below a cap an estimate must be for a submit to
// skip the exact count: more than the submits one process has in flight.
const nearMargin = 100

// pendingLockClass namespaces the advisory locks of accounts' counts.
const pendingLockClass = 0x72637170 // "rcqp"

func newPendingCaps(perUser, total int) *pendingCaps {
	c := &pendingCaps{perUser: math.MaxInt64, total: math.MaxInt64, users: map[rcq.UserID]estimate{}}
	if perUser > 0 {
		c.perUser = int64(perUser)
	}
	if total > 0 {
		c.total = int64(total)
	}
	return c
}

// far reports whether n more jobs of user stay nearMargin below both caps
// by estimates younger than countEvery: the submit need not count.
func (c *pendingCaps) far(user rcq.UserID, n int64, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok := func(e estimate, limit int64) bool {
		return limit == math.MaxInt64 || (!e.at.IsZero() && now.Sub(e.at) < countEvery && e.n+n+nearMargin <= limit)
	}
	return ok(c.users[user], c.perUser) && ok(c.all, c.total)
}

// stored adds the jobs this process just stored to its estimates.
func (c *pendingCaps) stored(per map[rcq.UserID]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for u, n := range per {
		if e, ok := c.users[u]; ok {
			e.n += n
			c.users[u] = e
		}
		c.all.n += n
	}
}

// counted records exact counts; it forgets estimates too old to be used,
// so the map holds only accounts that submitted within countEvery.
func (c *pendingCaps) counted(user rcq.UserID, n int64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for u, e := range c.users {
		if now.Sub(e.at) >= countEvery {
			delete(c.users, u)
		}
	}
	c.users[user] = estimate{n: n, counted: n, at: now}
}

func (c *pendingCaps) countedAll(n int64, now time.Time) {
	c.mu.Lock()
	c.all = estimate{n: n, counted: n, at: now}
	c.mu.Unlock()
}

// totalByEstimate is what the estimate of every pending job, when younger
// than countEvery, says of n more: fits, far enough below the total cap to
// need no count; over, past it by the count itself, refused without
// counting again.
func (c *pendingCaps) totalByEstimate(n int64, now time.Time) (fits, over bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.all
	if e.at.IsZero() || now.Sub(e.at) >= countEvery {
		return false, false
	}
	return e.n+n+nearMargin <= c.total, e.counted+n > c.total
}

// reserve checks the jobs the transaction has just inserted (per owner)
// against the caps, or refuses with a 429 naming the cap, and the caller
// rolls back. It comes last, just before the commit: an account's lock is
// held from here to the commit only, so however long a batch took to
// arrive, its account's other submits wait at most for its commit. After the
// commit the caller calls s.pending.stored(per).
func (s *Store) reserve(ctx context.Context, tx pgx.Tx, per map[rcq.UserID]int64) error {
	now := time.Now()
	users := make([]rcq.UserID, 0, len(per))
	var all int64
	for u, n := range per {
		users = append(users, u)
		all += n
	}
	slices.Sort(users) // one lock order for every transaction
	for _, u := range users {
		if s.pending.far(u, per[u], now) {
			continue
		}
		if err := s.countUser(ctx, tx, u, per[u], now); err != nil {
			return err
		}
	}
	return s.countAll(ctx, tx, all, now)
}

// countUser counts user's pending jobs exactly (with the n this transaction
// inserted) under the account's advisory lock.
func (s *Store) countUser(ctx context.Context, tx pgx.Tx, user rcq.UserID, n int64, now time.Time) error {
	if s.pending.perUser == math.MaxInt64 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2::integer)`, pendingLockClass, int64(user)); err != nil {
		return err
	}
	// A statement of its own, begun once the lock is held: it sees every
	// job of the account's earlier counted submits, and this transaction's.
	var have int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE user_id = $1 AND status = 'pending'`, user).Scan(&have); err != nil {
		return err
	}
	if have > s.pending.perUser {
		return tooManyPending(have-n, n, s.pending.perUser)
	}
	s.pending.counted(user, have-n, now) // stored(per) adds n after the commit
	return nil
}

// countAll checks the total cap for the n jobs this transaction inserted,
// counting every pending job when this process's estimate is stale or near
// the cap.
func (s *Store) countAll(ctx context.Context, tx pgx.Tx, n int64, now time.Time) error {
	c := s.pending
	if c.total == math.MaxInt64 {
		return nil
	}
	switch fits, over := c.totalByEstimate(n, now); {
	case fits:
		return nil
	case over:
		return tooManyPendingTotal(c.total) // counted within countEvery: not again
	}
	var all int64 // with this transaction's n
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM jobs WHERE status = 'pending'`).Scan(&all); err != nil {
		return err
	}
	c.countedAll(all-n, now)
	if all > c.total {
		return tooManyPendingTotal(c.total)
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

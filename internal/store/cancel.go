package store

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// CancelMatching cancels every pending and running job f selects in one
// transaction of one UPDATE, as CancelJob does for one: a pending job ends
// at once; a running job becomes cancelled and keeps its resources until
// its executor, woken by one job_cancelled event per node, reports its
// processes gone. Each job f names by id and leaves alone is refused with
// the reason CancelJob would give (NotFound for another owner's job, or a
// Conflict naming a finished job's state); a named job that is pending or
// running but outside the other filters is NotFound too.
func (s *Store) CancelMatching(ctx context.Context, f rcq.CancelFilter) (rcq.CancelResult, error) {
	var c conds
	c.owner(f.UserID)
	// An id names its job, or every row of the array with that id.
	refs := make([]rcq.JobRef, len(f.IDs))
	for i, id := range f.IDs {
		refs[i] = rcq.JobRef{JobID: id}
	}
	c.refs(refs)
	states := f.States
	if len(states) == 0 {
		states = []rcq.JobState{rcq.JobPending, rcq.JobRunning}
	}
	c.states(slices.DeleteFunc(slices.Clone(states), func(st rcq.JobState) bool {
		return st != rcq.JobPending && st != rcq.JobRunning
	}))
	if len(f.Names) > 0 {
		c.add("j.name = ANY(" + c.arg(f.Names) + ")")
	}
	reason := c.arg(rcq.ReasonCancelledByUser)
	// SET reads the row as it was (the CASE sees its old status); a row the
	// scheduler changed meanwhile is checked again against WHERE as it now
	// is, so a job it started is cancelled as running, never as pending. A
	// pending job gets its completed_at here, a running one keeps its worker.
	q := `
		UPDATE jobs j SET status = 'cancelled', reason = ` + reason + `, hold = '',
			completed_at = CASE WHEN j.status = 'pending' THEN now() END` + c.clause() + `
		RETURNING j.id, CASE WHEN j.completed_at IS NULL THEN 'running' ELSE 'pending' END, j.user_id,
			(SELECT node FROM workers w WHERE w.id = j.worker_id), j.array_job_id`

	var res rcq.CancelResult
	pending := map[rcq.UserID]int64{} // pending jobs cancelled, per owner
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		res = rcq.CancelResult{}
		clear(pending)
		rows, _ := tx.Query(ctx, q, c.args...)
		var (
			id    rcq.JobID
			prev  rcq.JobState
			owner rcq.UserID
			node  *string
			array *rcq.JobID
		)
		nodes := map[string]rcq.JobID{}
		arrays := map[rcq.JobID]bool{} // arrays some of whose rows were cancelled
		actor, audited := rcq.ActorOf(ctx)
		var others []rcq.JobID // other users' jobs the actor cancelled
		if _, err := pgx.ForEachRow(rows, []any{&id, &prev, &owner, &node, &array}, func() error {
			res.Cancelled = append(res.Cancelled, id)
			if audited && owner != actor.ID {
				others = append(others, id)
			}
			if array != nil {
				arrays[*array] = true
			}
			if prev == rcq.JobPending {
				pending[owner]++
			} else if node != nil {
				nodes[*node] = id
			}
			return nil
		}); err != nil {
			return err
		}
		slices.Sort(res.Cancelled)
		if len(others) > 0 {
			if err := auditBulkCancel(ctx, tx, f, others); err != nil {
				return err
			}
		}
		// Events are wake-ups (receivers re-read the store): one for the
		// scheduler, one per node whose executor has processes to stop.
		if len(pending) > 0 {
			if err := notify(ctx, tx, rcq.Event{Kind: rcq.EventJobEnded}); err != nil {
				return err
			}
		}
		for node, id := range nodes {
			if err := notify(ctx, tx, rcq.Event{Kind: rcq.EventJobCancelled, JobID: id, Node: node}); err != nil {
				return err
			}
		}
		var err error
		res.Refused, err = s.refusals(ctx, tx, f, res.Cancelled, arrays)
		return err
	})
	if err != nil {
		return rcq.CancelResult{}, wrap("cancel jobs", err)
	}
	s.pending.cancelled(pending)
	return res, nil
}

// refusals says why each job f names and the cancel left alone was not
// cancelled.
func (s *Store) refusals(ctx context.Context, tx pgx.Tx, f rcq.CancelFilter, cancelled []rcq.JobID, arrays map[rcq.JobID]bool) ([]rcq.Refusal, error) {
	var left []int64
	seen := map[rcq.JobID]bool{}
	for _, id := range f.IDs {
		if _, done := slices.BinarySearch(cancelled, id); !done && !arrays[id] && !seen[id] {
			seen[id] = true
			left = append(left, int64(id))
		}
	}
	if len(left) == 0 {
		return nil, nil
	}
	rows, _ := tx.Query(ctx, `SELECT id, status FROM jobs WHERE id = ANY($1) AND ($2 = 0 OR user_id = $2)`, left, f.UserID)
	states := map[rcq.JobID]rcq.JobState{}
	var (
		id rcq.JobID
		st rcq.JobState
	)
	if _, err := pgx.ForEachRow(rows, []any{&id, &st}, func() error {
		states[id] = st
		return nil
	}); err != nil {
		return nil, err
	}
	out := make([]rcq.Refusal, 0, len(left))
	for _, n := range left {
		id := rcq.JobID(n)
		var err error
		switch st, ok := states[id]; {
		case !ok:
			err = rcq.Errorf(rcq.KindNotFound, "not_found", "job %d not found", id)
		case st.Terminal():
			err = rcq.Errorf(rcq.KindConflict, "job_finished", "job %d is already %s", id, st)
		default:
			err = rcq.Errorf(rcq.KindNotFound, "not_found", "job %d not found or does not match the filters", id)
		}
		out = append(out, rcq.Refusal{JobID: id, Err: err})
	}
	return out, nil
}

// cancelled takes the pending jobs a cancel just ended (per owner) off this
// process's estimates, as stored adds a submit's: without it, an estimate
// near a cap would refuse the submits that the cancel made room for until
// the next exact count.
func (c *pendingCaps) cancelled(per map[rcq.UserID]int64) {
	if len(per) == 0 {
		return
	}
	neg := make(map[rcq.UserID]int64, len(per))
	for u, n := range per {
		neg[u] = -n
	}
	c.stored(neg)
}

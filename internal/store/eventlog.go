package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// The event log (migration 00013): triggers on jobs and workers write one
// events row per change in the changing transaction; GET /api/events reads
// it by id.

type eventRow struct {
	ID          int64
	At          time.Time
	Kind        string
	JobID       *int64
	UserID      *int64
	WorkerID    *int64
	Name        string
	State       string
	Reason      string
	Hold        string
	ExitCode    *int32
	Signal      string
	SubmittedAt *time.Time
	StartedAt   *time.Time
	CompletedAt *time.Time
	ArrayJobID  *int64
	ArrayTaskID *int32
}

const eventCols = `id, at, kind, job_id, user_id, worker_id, name, state, reason, hold, exit_code, signal,
	submitted_at, started_at, completed_at, array_job_id, array_task_id`

func (r *eventRow) event() rcq.LoggedEvent {
	ev := rcq.LoggedEvent{ID: r.ID, At: r.At, Kind: r.Kind, Name: r.Name, State: r.State, Reason: r.Reason,
		Hold: r.Hold, Signal: r.Signal, SubmittedAt: r.SubmittedAt, StartedAt: r.StartedAt, CompletedAt: r.CompletedAt}
	if r.JobID != nil {
		ev.JobID = rcq.JobID(*r.JobID)
	}
	if r.UserID != nil {
		ev.UserID = rcq.UserID(*r.UserID)
	}
	if r.WorkerID != nil {
		ev.WorkerID = rcq.WorkerID(*r.WorkerID)
	}
	if r.ExitCode != nil {
		c := int(*r.ExitCode)
		ev.ExitCode = &c
	}
	if r.ArrayJobID != nil {
		a := rcq.JobID(*r.ArrayJobID)
		ev.ArrayJobID = &a
	}
	if r.ArrayTaskID != nil {
		t := int(*r.ArrayTaskID)
		ev.ArrayTaskID = &t
	}
	return ev
}

// EventsAfter returns up to limit logged events with after < id <= upto
// (upto 0: no upper bound), in id order. A user other than 0 narrows them
// to that account's jobs and every worker's changes (which anyone may see).
func (s *Store) EventsAfter(ctx context.Context, after, upto int64, user rcq.UserID, limit int) ([]rcq.LoggedEvent, error) {
	if upto <= 0 {
		upto = 1<<63 - 1
	}
	rows, _ := s.pool.Query(ctx, `SELECT `+eventCols+` FROM events
		WHERE id > $1 AND id <= $2 AND ($3 = 0 OR kind = 'worker' OR user_id = $3)
		ORDER BY id LIMIT $4`, after, upto, user, limit)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[eventRow])
	if err != nil {
		return nil, wrap("read events", err)
	}
	evs := make([]rcq.LoggedEvent, len(rs))
	for i := range rs {
		evs[i] = rs[i].event()
	}
	return evs, nil
}

// EventsSince returns up to limit logged events after id after, in id
// order, read in one snapshot whose xmin and xmax it returns too.
//
// Ids are handed out before commit, so a reader can see id 7 while 6 is
// still in flight. A missing id below the highest visible one was taken by
// a transaction whose xid is below that read's xmax; once a later read's
// xmin has reached that xmax, every such transaction has ended, and the id
// is either visible to the later read or never will be (rolled back). This
// is how the API's hub delivers events in id order without losing any.
func (s *Store) EventsSince(ctx context.Context, after int64, limit int) (evs []rcq.LoggedEvent, xmin, xmax int64, err error) {
	rows, _ := s.pool.Query(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
		pg_snapshot_xmax(pg_current_snapshot())::text::bigint, e.*
		FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT `+eventCols+` FROM events WHERE id > $1 ORDER BY id LIMIT $2) e ON true`,
		after, limit)
	defer rows.Close()
	for rows.Next() {
		var r eventRow
		var id *int64
		var at *time.Time
		var kind, name, state, reason, hold, signal *string
		if err := rows.Scan(&xmin, &xmax, &id, &at, &kind, &r.JobID, &r.UserID, &r.WorkerID, &name, &state,
			&reason, &hold, &r.ExitCode, &signal, &r.SubmittedAt, &r.StartedAt, &r.CompletedAt,
			&r.ArrayJobID, &r.ArrayTaskID); err != nil {
			return nil, 0, 0, wrap("read events", err)
		}
		if id == nil {
			continue // no events: the row only carries the snapshot
		}
		r.ID, r.At, r.Kind, r.Name, r.State, r.Reason, r.Hold, r.Signal = *id, *at, *kind, *name, *state, *reason, *hold, *signal
		evs = append(evs, r.event())
	}
	if err := rows.Err(); err != nil {
		return nil, 0, 0, wrap("read events", err)
	}
	return evs, xmin, xmax, nil
}

// EventStart is where a reader of every event starts: after start, the id
// before the lowest id missing among the latest 1,000 (in flight, or
// rolled back), so that no event committed later is skipped; cover is the
// highest id visible and xmax that read's snapshot xmax (see EventsSince).
func (s *Store) EventStart(ctx context.Context) (start, cover, xmax int64, err error) {
	err = s.pool.QueryRow(ctx, `WITH s AS (SELECT coalesce(max(id), 0) AS m,
			pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax FROM events)
		SELECT coalesce((SELECT min(g) FROM generate_series(greatest(s.m - 1000, 1), s.m) g
			WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = g)) - 1, s.m), s.m, s.xmax FROM s`).Scan(&start, &cover, &xmax)
	if err != nil {
		return 0, 0, 0, wrap("event log start", err)
	}
	return start, cover, xmax, nil
}

// EventHorizon returns the highest event id pruned (a resume from before it
// has lost events) and the highest id ever handed out (a resume from after
// it names no event of this database). Either is 0 when there is none.
func (s *Store) EventHorizon(ctx context.Context) (pruned, last int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT p.through, CASE WHEN q.is_called THEN q.last_value ELSE 0 END
		FROM events_pruned p, events_id_seq q`).Scan(&pruned, &last)
	if err != nil {
		return 0, 0, wrap("event horizon", err)
	}
	return pruned, last, nil
}

// PruneEvents deletes the events older than keep and remembers the highest
// id deleted. Several rcqd may prune at once: each deletes what it sees.
func (s *Store) PruneEvents(ctx context.Context, keep time.Duration) error {
	_, err := s.pool.Exec(ctx, `WITH d AS (DELETE FROM events WHERE at < now() - $1::interval RETURNING id)
		UPDATE events_pruned SET through = greatest(through, (SELECT max(id) FROM d))
		WHERE EXISTS (SELECT 1 FROM d)`, keep)
	if err != nil {
		return wrap("prune events", err)
	}
	return nil
}

// PendingJobIDs returns up to limit of user's pending jobs, lowest id first.
func (s *Store) PendingJobIDs(ctx context.Context, user rcq.UserID, limit int) ([]rcq.JobID, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id FROM jobs WHERE status = 'pending' AND user_id = $1 ORDER BY id LIMIT $2`, user, limit)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[rcq.JobID])
	if err != nil {
		return nil, wrap("pending jobs", err)
	}
	return ids, nil
}

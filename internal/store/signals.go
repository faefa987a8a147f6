package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// SignalJob records a request to send sig (a name from rcq.ParseSignal) to
// the processes of a running job of owner (0: any owner, for admins), in one
// statement, and announces it after the commit. The executor of the job's
// node delivers it from the store (PendingSignals), so a signal asked for
// while no executor listens is delivered when one runs again. A job of
// another owner is NotFound; a job that is not running is a Conflict
// job_not_running.
func (s *Store) SignalJob(ctx context.Context, id rcq.JobID, owner rcq.UserID, sig string) error {
	var node string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var jobOwner rcq.UserID
		err := tx.QueryRow(ctx, `
			WITH j AS (
				SELECT j.id, w.node, j.user_id FROM jobs j JOIN workers w ON w.id = j.worker_id
				WHERE j.id = $1 AND ($2 = 0 OR j.user_id = $2) AND j.status = 'running'),
			ins AS (INSERT INTO job_signals (job_id, signal) SELECT id, $3 FROM j RETURNING job_id)
			SELECT j.node, j.user_id FROM j JOIN ins ON ins.job_id = j.id`,
			id, owner, sig).Scan(&node, &jobOwner)
		if err != nil {
			return err
		}
		return auditJob(ctx, tx, jobOwner, rcq.AuditEntry{Action: "job.signal", TargetID: jobIDText(id), Detail: sig})
	})
	if errors.Is(err, pgx.ErrNoRows) {
		var st rcq.JobState
		err = s.pool.QueryRow(ctx, `SELECT status FROM jobs WHERE id = $1 AND ($2 = 0 OR user_id = $2)`, id, owner).Scan(&st)
		if errors.Is(err, pgx.ErrNoRows) {
			return rcq.Errorf(rcq.KindNotFound, "not_found", "job %d not found", id)
		}
		if err == nil {
			return rcq.Errorf(rcq.KindConflict, "job_not_running", "job %d is %s: only a running job can be signalled", id, st)
		}
	}
	if err != nil {
		return wrap(fmt.Sprintf("signal job %d", id), err)
	}
	s.announce(rcq.Event{Kind: rcq.EventJobSignal, JobID: id, Node: node, Signal: sig})
	return nil
}

// PendingSignals returns the undelivered signal requests, oldest first, of
// the jobs of node that holder launched or may launch (as NodeJobs) and that
// have not completed.
func (s *Store) PendingSignals(ctx context.Context, node, holder string) ([]rcq.JobSignal, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT s.id, s.job_id, s.signal FROM job_signals s
		JOIN jobs j ON j.id = s.job_id JOIN workers w ON w.id = j.worker_id
		WHERE s.delivered_at IS NULL AND w.node = $1 AND j.completed_at IS NULL
			AND (j.launched_by IS NULL OR j.launched_by = $2)
		ORDER BY s.id`, node, holder)
	var out []rcq.JobSignal
	var r rcq.JobSignal
	if _, err := pgx.ForEachRow(rows, []any{&r.ID, &r.JobID, &r.Signal}, func() error {
		out = append(out, r)
		return nil
	}); err != nil {
		return nil, wrap("pending signals", err)
	}
	return out, nil
}

// SignalDelivered records that signal request id is being sent; false when
// it already was. The executor records it before it sends the signal and
// sends only on true, so a request is never sent twice.
func (s *Store) SignalDelivered(ctx context.Context, id int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE job_signals SET delivered_at = now() WHERE id = $1 AND delivered_at IS NULL`, id)
	if err != nil {
		return false, wrap(fmt.Sprintf("record signal %d delivered", id), err)
	}
	return tag.RowsAffected() == 1, nil
}

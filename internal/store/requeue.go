package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// requeueSQL puts started jobs back in the queue under their ids: each job
// $1 names (with its reason detail in $2) that is in one of the states $5
// and has started becomes pending with reason $3 and hold $4, keeping its
// id, priority and submit time; its start, end, worker, GPUs, launch claim
// and outcome are cleared, restarts counts one more and requeued_at is now.
// Clearing the claim and counting the restart fence the old run: FinishJob
// refuses its end report (ErrStaleRun), and signals asked for it and not
// yet sent are dropped, never sent to a later run.
//
// A run whose processes had not ended (completed_at NULL) and that was
// launched is charged up to now, as an ended run is; a run never launched
// used nothing, and an ended run was charged when it ended (FinishJob, the
// lost-job sweep). It returns how many jobs it requeued.
const requeueSQL = `
WITH requeued AS (
	UPDATE jobs j SET status = 'pending', reason = $3, reason_detail = t.detail, hold = $4,
		started_at = NULL, completed_at = NULL, worker_id = NULL, launched_by = NULL, gpu_indices = '{}',
		exit_code = NULL, signal = '', cpu_seconds = 0, peak_memory_kb = 0,
		restarts = j.restarts + 1, requeued_at = now()
	FROM unnest($1::bigint[], $2::text[]) AS t(id, detail), jobs old
	WHERE j.id = t.id AND old.id = j.id AND j.status = ANY($5::text[]) AND j.started_at IS NOT NULL
	RETURNING j.id, j.group_id, j.user_id, j.cpu_cores, j.gpu_count, old.restarts AS run,
		old.launched_by IS NOT NULL AND old.completed_at IS NULL AS unended,
		greatest(extract(epoch FROM now() - old.started_at)::float8, 0) / 3600 AS hours),
charged AS (
	INSERT INTO usage_logs (group_id, user_id, job_id, run, cpu_hours, gpu_hours)
	SELECT group_id, user_id, id, run, cpu_cores * hours, gpu_count * hours FROM requeued WHERE unended
	ON CONFLICT (job_id, run) DO NOTHING),
dropped AS (
	DELETE FROM job_signals s USING requeued r WHERE s.job_id = r.id AND s.delivered_at IS NULL)
SELECT count(*) FROM requeued`

// requeueRuns runs requeueSQL in tx for ids (details[i] is ids[i]'s reason
// detail) in the states from, and returns how many it requeued. The caller
// has locked the rows and notifies.
func requeueRuns(ctx context.Context, tx pgx.Tx, ids []int64, details []string, hold rcq.Hold, from []rcq.JobState) (int64, error) {
	states := make([]string, len(from))
	for i, s := range from {
		states[i] = string(s)
	}
	var n int64
	err := tx.QueryRow(ctx, requeueSQL, ids, details, rcq.ReasonRequeued, string(hold), states).Scan(&n)
	return n, err
}

// RequeueJob puts a job of owner (0: any owner, for admins) that ran back
// in the queue by hand (rcq-control requeue, scontrol requeue): a running
// job, or one that ended after it started (rcq.Job.CheckRequeue). It
// becomes pending as requeueSQL says, with reason Requeued, the reason
// detail given (who requeued it) and hold (HoldNone, or a hold for
// requeuehold), and counts against the pending caps as a submit of one job
// does (too_many_pending_jobs, and nothing changes). A running job's run is
// charged up to now and its node's executor is woken to stop it (the store
// no longer gives it the job, so it kills the run); an ended run keeps the
// usage row it got when it ended. An admin's requeue of another user's job
// writes the audit row job.requeue. It returns the job's state before.
//
// Errors: NotFound for a missing job and another owner's alike; the
// Conflicts of CheckRequeue; the pending caps' RateLimited.
func (s *Store) RequeueJob(ctx context.Context, id rcq.JobID, owner rcq.UserID, hold rcq.Hold, detail string) (rcq.JobState, error) {
	var prev rcq.JobState
	var jobOwner rcq.UserID
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		j := rcq.Job{ID: id}
		var node *string
		err := tx.QueryRow(ctx, `
			SELECT j.user_id, j.status, j.started_at, j.completed_at, j.requeue, j.restarts, w.node
			FROM jobs j LEFT JOIN workers w ON w.id = j.worker_id
			WHERE j.id = $1 AND ($2 = 0 OR j.user_id = $2) FOR UPDATE OF j`, id, owner).
			Scan(&j.UserID, &j.State, &j.StartedAt, &j.CompletedAt, &j.Requeue, &j.Restarts, &node)
		if errors.Is(err, pgx.ErrNoRows) {
			return rcq.Errorf(rcq.KindNotFound, "not_found", "job %d not found", id)
		}
		if err != nil {
			return err
		}
		if err := j.CheckRequeue(); err != nil {
			return err
		}
		prev, jobOwner = j.State, j.UserID
		n, err := requeueRuns(ctx, tx, []int64{int64(id)}, []string{detail}, hold, rcq.RequeueStates())
		if err != nil {
			return err
		}
		if n != 1 { // cannot happen under the row lock; never report a change not made
			return fmt.Errorf("job %d (%s) was not requeued", id, j.State)
		}
		if err := auditJob(ctx, tx, jobOwner, rcq.AuditEntry{Action: "job.requeue", TargetID: jobIDText(id),
			Before: jsonOf(map[string]any{"state": prev, "restarts": j.Restarts}),
			After:  jsonOf(map[string]any{"state": rcq.JobPending, "restarts": j.Restarts + 1, "hold": hold})}); err != nil {
			return err
		}
		// The scheduler plans it (and the capacity a running job held).
		if err := notify(ctx, tx, rcq.Event{Kind: rcq.EventJobSubmitted, JobID: id}); err != nil {
			return err
		}
		if j.CompletedAt == nil && node != nil {
			// Its processes may still run: that node's executor stops them.
			if err := notify(ctx, tx, rcq.Event{Kind: rcq.EventJobCancelled, JobID: id, Node: *node}); err != nil {
				return err
			}
		}
		return s.reserve(ctx, tx, map[rcq.UserID]int64{jobOwner: 1}) // last: see reserve
	})
	if err != nil {
		return "", wrap(fmt.Sprintf("requeue job %d", id), err)
	}
	s.pending.stored(map[rcq.UserID]int64{jobOwner: 1})
	return prev, nil
}

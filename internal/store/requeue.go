package store

import (
	"context"

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

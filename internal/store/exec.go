package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// NodeJobs returns the jobs holding resources on workers of node that holder
// launched or may launch: started and not yet completed (running, or
// cancelled while their processes live on), and not launched by another
// holder (ClaimJob).
func (s *Store) NodeJobs(ctx context.Context, node, holder string) ([]rcq.Job, error) {
	rows, _ := s.pool.Query(ctx, jobSelect+`
		WHERE w.node = $1 AND j.started_at IS NOT NULL AND j.completed_at IS NULL
			AND (j.launched_by IS NULL OR j.launched_by = $2) ORDER BY j.id`, node, holder)
	js, err := collectJobs(rows)
	if err != nil {
		return nil, wrap("node jobs", err)
	}
	return js, nil
}

// FinishJob records how a job's processes ended, with its run's usage_logs row, in
// one transaction that notifies the scheduler (capacity is free, dependencies
// may be met). A running job moves to o.State; a cancelled job stays
// cancelled and gets its exit code and times. Finishing a job already
// finished changes nothing.
//
// With o.Holder set (the executor's reports), the report is fenced by the
// launch claim: it is recorded only while the job is in run o.Restarts and
// not launched by another holder. A report of a run the store has moved
// past (requeued after node_fail or a lost launch, or launched elsewhere)
// records nothing and returns ErrStaleRun.
func (s *Store) FinishJob(ctx context.Context, o rcq.Outcome) error {
	if !rcq.JobRunning.CanBecome(o.State) || !o.State.Terminal() {
		return fmt.Errorf("finish job %d: %q is not a state a running job can end in", o.JobID, o.State)
	}
	var exit *int32
	if o.ExitCode != nil {
		e := int32(*o.ExitCode)
		exit = &e
	}
	var ended *time.Time
	if !o.EndedAt.IsZero() {
		ended = &o.EndedAt
	}
	finished := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		finished = false
		var groupID, userID int64
		var cpus, gpus, run int32
		var hours float64
		err := tx.QueryRow(ctx, `
			UPDATE jobs SET
				status = CASE WHEN status = 'running' THEN $2 ELSE status END,
				reason = CASE WHEN status = 'running' THEN $3 ELSE reason END,
				reason_detail = CASE WHEN status = 'running' THEN $9 ELSE reason_detail END,
				exit_code = $4, signal = $5, cpu_seconds = $6, peak_memory_kb = $7,
				completed_at = greatest(coalesce($8, now()), started_at)
			WHERE id = $1 AND started_at IS NOT NULL AND completed_at IS NULL
				AND ($10 = '' OR ((launched_by IS NULL OR launched_by = $10) AND restarts = $11))
			RETURNING group_id, user_id, cpu_cores, gpu_count, restarts,
				extract(epoch FROM completed_at - started_at)::float8 / 3600`,
			o.JobID, o.State, o.Reason, exit, o.Signal, o.CPUSeconds, o.PeakMemoryKB, ended, o.Detail, o.Holder, o.Restarts,
		).Scan(&groupID, &userID, &cpus, &gpus, &run, &hours)
		if errors.Is(err, pgx.ErrNoRows) {
			if o.Holder == "" {
				return nil // already finished: a retry after an uncertain commit lands here
			}
			// Already finished (this run's end, or the sweep's node_fail:
			// nothing to overwrite), or a later run: refuse.
			var stale bool
			err := tx.QueryRow(ctx, `
				SELECT started_at IS NULL OR restarts <> $2 OR (launched_by IS NOT NULL AND launched_by <> $3)
				FROM jobs WHERE id = $1`, o.JobID, o.Restarts, o.Holder).Scan(&stale)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			if stale {
				return ErrStaleRun
			}
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO usage_logs (group_id, user_id, job_id, run, cpu_hours, gpu_hours) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (job_id, run) DO NOTHING`,
			groupID, userID, o.JobID, run, float64(cpus)*hours, float64(gpus)*hours); err != nil {
			return err
		}
		finished = true
		return nil
	})
	if finished {
		s.announce(rcq.Event{Kind: rcq.EventJobEnded, JobID: o.JobID})
	}
	if errors.Is(err, ErrStaleRun) {
		return ErrStaleRun
	}
	return wrap(fmt.Sprintf("finish job %d", o.JobID), err)
}

// GroupUsage returns a group's CPU-hours logged since.
func (s *Store) GroupUsage(ctx context.Context, id rcq.GroupID, since time.Time) (float64, error) {
	var h float64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(cpu_hours), 0) FROM usage_logs WHERE group_id = $1 AND logged_at >= $2`, id, since).Scan(&h)
	return h, wrap("group usage", err)
}

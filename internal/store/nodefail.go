package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// nodeLive is true for a worker w whose node's rcqd holds its lease
// unexpired: the scheduler places jobs only there, since no other rcqd would
// launch them.
const nodeLive = `EXISTS (SELECT 1 FROM leases l WHERE l.name = 'node:' || w.node AND l.expires_at > now())`

// placeableWorkers lists the workers for a scheduling snapshot: an online
// worker whose node holds no live lease is shown offline (nothing is placed
// there), and deleted workers are left out.
func placeableWorkers(ctx context.Context, tx pgx.Tx) ([]rcq.Worker, error) {
	rows, _ := tx.Query(ctx, `
		SELECT id, name, node, cpu_cores, memory_gb, gpu_count,
			CASE WHEN status = 'online' AND NOT `+nodeLive+` THEN 'offline' ELSE status END AS status, last_heartbeat
		FROM workers w WHERE deleted_at IS NULL ORDER BY id`)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[workerRow])
	if err != nil {
		return nil, err
	}
	ws := make([]rcq.Worker, len(rs))
	for i, r := range rs {
		ws[i] = r.worker()
	}
	return ws, nil
}

// lostJobsSQL finds the started, unfinished jobs the sweep acts on: those on
// a dead node (its lease expired or released, and last seen - the lease's
// last renewal, the node's or the worker's last heartbeat - longer than $1
// seconds ago),
// and running jobs no rcqd claimed within $2 seconds of their start. It
// locks them, so a concurrent end report or cancel waits and then finds the
// decision made.
const lostJobsSQL = `
SELECT j.id, w.node, j.status, (j.launched_by IS NULL) AS unlaunched,
	(l.name IS NULL OR l.expires_at <= now())
		AND greatest(l.renewed_at, n.last_seen, w.last_heartbeat) < now() - make_interval(secs => $1) AS dead,
	greatest(l.renewed_at, n.last_seen, w.last_heartbeat) AS seen,
	coalesce(j.requeue, j.array_job_id IS NOT NULL AND $3) AND j.restarts < $4 AS requeue
FROM jobs j JOIN workers w ON w.id = j.worker_id
	LEFT JOIN leases l ON l.name = 'node:' || w.node LEFT JOIN nodes n ON n.name = w.node
WHERE j.started_at IS NOT NULL AND j.completed_at IS NULL AND (
	((l.name IS NULL OR l.expires_at <= now())
		AND greatest(l.renewed_at, n.last_seen, w.last_heartbeat) < now() - make_interval(secs => $1))
	OR (j.status = 'running' AND j.launched_by IS NULL AND j.started_at < now() - make_interval(secs => $2)))
ORDER BY j.id
FOR UPDATE OF j`

// EndLostJobs is the scheduler leader's sweep, in one transaction fenced by
// its lease (lease, holder): a paused former leader decides nothing.
//
//   - A job running on a dead node (see lostJobsSQL; node.dead_after) ends
//     node_fail with reason NodeFail and a detail naming the node and when it
//     was last seen. A job cancelled there whose processes never reported
//     their end gets its end recorded (it stays cancelled).
//   - A running job no rcqd launched within jobs.start_timeout ends failed
//     with reason LaunchFailed.
//   - Either goes back to pending instead when it may be requeued (submitted
//     with --requeue, or an array element submitted without --no-requeue
//     when p.RequeueArrays) and has not been requeued before: same id,
//     priority and submit time, restarts + 1, requeued_at now, its start,
//     worker, GPUs and launch claim cleared (requeueSQL, which RequeueJob
//     shares). Clearing the claim and counting the restart fence the old
//     run: FinishJob refuses an end report of it (ErrStaleRun), so a node
//     that was only paused cannot write over it.
//
// Ended jobs get their run's usage row, like FinishJob, and so does the run
// of a requeued job that was launched (a requeued run is charged, as Slurm
// charges it). Every rcqd hears of it
// (the scheduler replans, the lost node's executor, if it is back, stops
// what it still runs of them).
func (s *Store) EndLostJobs(ctx context.Context, lease, holder string, p rcq.LostJobPolicy) (rcq.LostJobs, error) {
	var out rcq.LostJobs
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		out = rcq.LostJobs{}
		if err := checkLease(ctx, tx, lease, holder); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, lostJobsSQL, p.DeadAfter.Seconds(), p.StartTimeout.Seconds(), p.RequeueArrays, rcq.MaxRestarts)
		var id int64
		var node, status string
		var unlaunched, dead, requeue bool
		var seen *time.Time
		if _, err := pgx.ForEachRow(rows, []any{&id, &node, &status, &unlaunched, &dead, &seen, &requeue}, func() error {
			lj := rcq.LostJob{JobID: rcq.JobID(id), Node: node, State: rcq.JobState(status)}
			switch {
			case dead:
				lj.Reason, lj.Detail = rcq.ReasonNodeFail, nodeFailDetail(node, seen, p.DeadAfter)
			default:
				lj.Reason = rcq.ReasonLaunchFailed
				lj.Detail = fmt.Sprintf("node %s did not launch it within jobs.start_timeout (%v)", node, p.StartTimeout)
			}
			if lj.State == rcq.JobRunning {
				switch {
				case requeue:
					lj.State, lj.Requeued = rcq.JobPending, true
				case dead:
					lj.State = rcq.JobNodeFail
				default:
					lj.State = rcq.JobFailed
				}
			}
			out.Jobs = append(out.Jobs, lj)
			return nil
		}); err != nil {
			return err
		}
		if len(out.Jobs) == 0 {
			return nil
		}
		var endIDs, requeueIDs []int64
		var endStates, endReasons, endDetails, requeueDetails []string
		nodes := map[string]bool{}
		for _, lj := range out.Jobs {
			nodes[lj.Node] = true
			if lj.Requeued {
				requeueIDs = append(requeueIDs, int64(lj.JobID))
				requeueDetails = append(requeueDetails, "requeued after "+lj.Reason+": "+lj.Detail)
				continue
			}
			endIDs = append(endIDs, int64(lj.JobID))
			endStates, endReasons, endDetails = append(endStates, string(lj.State)), append(endReasons, lj.Reason), append(endDetails, lj.Detail)
		}
		if len(endIDs) > 0 {
			// A cancelled job keeps its state, reason and detail: only its
			// end is recorded.
			if _, err := tx.Exec(ctx, `
				WITH lost AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) AS t(id, state, reason, detail)),
				ended AS (
					UPDATE jobs j SET
						status = lost.state,
						reason = CASE WHEN j.status = 'running' THEN lost.reason ELSE j.reason END,
						reason_detail = CASE WHEN j.status = 'running' THEN lost.detail ELSE j.reason_detail END,
						completed_at = greatest(now(), j.started_at)
					FROM lost WHERE j.id = lost.id
					RETURNING j.id, j.group_id, j.user_id, j.cpu_cores, j.gpu_count, j.restarts,
						extract(epoch FROM j.completed_at - j.started_at)::float8 / 3600 AS hours)
				INSERT INTO usage_logs (group_id, user_id, job_id, run, cpu_hours, gpu_hours)
				SELECT group_id, user_id, id, restarts, cpu_cores * hours, gpu_count * hours FROM ended
				ON CONFLICT (job_id, run) DO NOTHING`, endIDs, endStates, endReasons, endDetails); err != nil {
				return err
			}
		}
		if len(requeueIDs) > 0 {
			// The run that was launched is charged up to now, as an ended
			// one is (a run never launched used nothing).
			if _, err := requeueRuns(ctx, tx, requeueIDs, requeueDetails, rcq.HoldNone, []rcq.JobState{rcq.JobRunning}); err != nil {
				return err
			}
		}
		if err := notify(ctx, tx, rcq.Event{Kind: rcq.EventJobEnded}); err != nil {
			return err
		}
		if len(requeueIDs) > 0 {
			if err := notify(ctx, tx, rcq.Event{Kind: rcq.EventJobSubmitted}); err != nil {
				return err
			}
		}
		for _, n := range slices.Sorted(func(yield func(string) bool) {
			for n := range nodes {
				if !yield(n) {
					return
				}
			}
		}) {
			// Wakes that node's executor, if its rcqd is back: it stops
			// what it still supervises of these jobs.
			if err := notify(ctx, tx, rcq.Event{Kind: rcq.EventJobCancelled, Node: n}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrLeaseLost) {
			return rcq.LostJobs{}, err
		}
		return rcq.LostJobs{}, wrap("end lost jobs", err)
	}
	return out, nil
}

// nodeFailDetail says which node was lost and when it was last seen.
func nodeFailDetail(node string, seen *time.Time, deadAfter time.Duration) string {
	if seen == nil {
		return fmt.Sprintf("node %s has no live lease and was never seen", node)
	}
	return fmt.Sprintf("node %s was last seen at %s (no heartbeat for more than node.dead_after, %v)",
		node, seen.UTC().Format(time.RFC3339), deadAfter)
}

// ErrStaleRun is FinishJob's answer to an end report of a run the store has
// moved past: the job was requeued (and may run again, elsewhere or here) or
// another holder launched it. Nothing was recorded; the reporter must stop
// that run and forget it, and must not treat the job as finished.
var ErrStaleRun = &rcq.Error{Kind: rcq.KindConflict, Code: "stale_run",
	Msg: "this run of the job was requeued or taken over: its end is not recorded"}

// WorkerJobs returns the ids of the jobs holding resources on a worker:
// started, not yet completed.
func (s *Store) WorkerJobs(ctx context.Context, id rcq.WorkerID) ([]rcq.JobID, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id FROM jobs WHERE worker_id = $1 AND started_at IS NOT NULL AND completed_at IS NULL ORDER BY id`, id)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[rcq.JobID])
	return ids, wrap("worker jobs", err)
}

// DeleteWorker deletes a worker on which no job holds resources, and writes
// its audit row (worker.delete, the worker as it was) in the same
// transaction. The row stays for the jobs and accounting that name it
// (deleted_at is set); it leaves every list and its name is free again.
// Errors: NotFound worker_not_found; Conflict worker_busy naming the jobs
// still there.
func (s *Store) DeleteWorker(ctx context.Context, id rcq.WorkerID) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT `+workerCols+` FROM workers WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, id)
		old, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[workerRow])
		if errors.Is(err, pgx.ErrNoRows) {
			return rcq.Errorf(rcq.KindNotFound, "worker_not_found", "worker %d does not exist", id)
		}
		if err != nil {
			return err
		}
		// The worker row is locked: StartJobs locks it too before it
		// places anything there, so no job starts on it after this check.
		rows, _ = tx.Query(ctx, `SELECT id FROM jobs WHERE worker_id = $1 AND started_at IS NOT NULL AND completed_at IS NULL ORDER BY id LIMIT 11`, id)
		busy, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		if len(busy) > 0 {
			return rcq.Errorf(rcq.KindConflict, "worker_busy",
				"worker %s has %s running: drain it and wait for them to end, or delete it with force (drains, waits, then deletes)", old.Name, jobList(busy))
		}
		if _, err := tx.Exec(ctx, `UPDATE workers SET deleted_at = now(), status = 'offline' WHERE id = $1`, id); err != nil {
			return err
		}
		if err := auditTx(ctx, tx, rcq.AuditEntry{Action: "worker.delete", TargetKind: rcq.AuditWorker,
			TargetID: fmt.Sprint(old.ID), Before: workerAudit(old.worker())}); err != nil {
			return err
		}
		return notify(ctx, tx, rcq.Event{Kind: rcq.EventWorkerChanged})
	})
	s.forgetWorkers()
	var re *rcq.Error
	if errors.As(err, &re) {
		return err
	}
	return wrap(fmt.Sprintf("delete worker %d", id), err)
}

// jobList names up to ten jobs: "job 4" or "jobs 4, 5, 6 and more".
func jobList(ids []int64) string {
	if len(ids) == 1 {
		return fmt.Sprintf("job %d", ids[0])
	}
	var b strings.Builder
	b.WriteString("jobs ")
	for i, id := range ids {
		if i == 10 {
			b.WriteString(" and more")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, id)
	}
	return b.String()
}

// KnownNodes lists, by name, the nodes whose rcqd has heartbeated.
func (s *Store) KnownNodes(ctx context.Context) ([]rcq.KnownNode, error) {
	rows, _ := s.pool.Query(ctx, `
		SELECT n.name, coalesce(l.expires_at > now(), false), greatest(n.last_seen, l.renewed_at)
		FROM nodes n LEFT JOIN leases l ON l.name = 'node:' || n.name ORDER BY n.name`)
	var out []rcq.KnownNode
	var k rcq.KnownNode
	_, err := pgx.ForEachRow(rows, []any{&k.Name, &k.Live, &k.LastSeen}, func() error {
		out = append(out, k)
		return nil
	})
	return out, wrap("known nodes", err)
}

// seenSQL records that node's rcqd is alive (Heartbeat, RegisterWorker).
const seenSQL = `INSERT INTO nodes (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET last_seen = now()`

package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Bulk loads and counts: what a benchmark (internal/bench) or an import needs
// to set up a database of a given size in seconds, through the store rather
// than its own SQL. Each is one statement or one COPY in one transaction.

// AddWorkers adds workers in one transaction and returns their ids, in the
// order of ws. Every rcqd hears of it once (one NOTIFY, as for any worker
// change), so schedulers see all of them in the same cycle; the planner's
// statistics of the table are then refreshed (ANALYZE), as autovacuum would
// do later. A taken name is a Conflict and adds none.
func (s *Store) AddWorkers(ctx context.Context, ws []rcq.Worker) ([]rcq.WorkerID, error) {
	if len(ws) == 0 {
		return nil, nil
	}
	names, nodes, states := make([]string, len(ws)), make([]string, len(ws)), make([]string, len(ws))
	cores, mem, gpus := make([]int32, len(ws)), make([]int32, len(ws)), make([]int32, len(ws))
	for i, w := range ws {
		names[i], nodes[i], states[i] = w.Name, w.Node, string(w.State)
		if states[i] == "" {
			states[i] = string(rcq.WorkerOnline)
		}
		cores[i], mem[i], gpus[i] = int32(w.Capacity.CPUCores), int32(w.Capacity.MemoryGB), int32(w.Capacity.GPUs)
	}
	byName := make(map[string]rcq.WorkerID, len(ws))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `
			INSERT INTO workers (name, node, cpu_cores, memory_gb, gpu_count, status)
			SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int[], $6::text[])
			RETURNING id, name`, names, nodes, cores, mem, gpus, states)
		var id int64
		var name string
		if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error {
			byName[name] = rcq.WorkerID(id)
			return nil
		}); err != nil {
			return err
		}
		return notify(ctx, tx, rcq.Event{Kind: rcq.EventWorkerChanged})
	})
	s.forgetWorkers()
	if err != nil {
		return nil, conflict(wrap(fmt.Sprintf("add %d workers", len(ws)), err), "worker_exists", "a worker of these names already exists")
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE workers`); err != nil {
		return nil, wrap("analyze workers", err)
	}
	out := make([]rcq.WorkerID, len(ws))
	for i, w := range ws {
		out[i] = byName[w.Name]
	}
	return out, nil
}

// SetWorkersState puts every worker of ids in state st (drained, online,
// offline) in one statement, and returns how many it changed. Jobs running
// there keep running. Every rcqd hears of it once.
func (s *Store) SetWorkersState(ctx context.Context, ids []rcq.WorkerID, st rcq.WorkerState) (int64, error) {
	ns := make([]int64, len(ids))
	for i, id := range ids {
		ns[i] = int64(id)
	}
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE workers SET status = $2 WHERE id = ANY($1)`, ns, string(st))
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		return notify(ctx, tx, rcq.Event{Kind: rcq.EventWorkerChanged})
	})
	s.forgetWorkers()
	if err != nil {
		return 0, wrap(fmt.Sprintf("set %d workers %s", len(ids), st), err)
	}
	return n, nil
}

// AddFinishedJobs copies jobs that have already ended (history: what
// rcq-acct and fair share read) in one COPY and returns how many it stored.
// Each job must be in a final state with its submit, start and end times
// and, when it started, its worker; ids are assigned by the database. It
// announces nothing: no scheduler or executor acts on an ended job. The
// planner's statistics of jobs are refreshed (ANALYZE) after the load, so
// the queries that read history plan for its size at once. It is
// for loading history of a known size (benchmarks, imports), not for
// recording a job's end: that is FinishJob.
func (s *Store) AddFinishedJobs(ctx context.Context, js []rcq.Job) (int64, error) {
	for i := range js {
		j := &js[i]
		if !j.State.Terminal() {
			return 0, rcq.Errorf(rcq.KindInvalid, "job_not_finished", "job %d of the load is %s, not finished", i, j.State)
		}
		if j.SubmittedAt.IsZero() || j.CompletedAt == nil {
			return 0, rcq.Errorf(rcq.KindInvalid, "job_times_missing", "job %d of the load needs its submit and end times", i)
		}
	}
	n, err := s.pool.CopyFrom(ctx, pgx.Identifier{"jobs"}, []string{"user_id", "group_id", "name", "script",
		"args", "working_dir", "env", "cpu_cores", "memory_gb", "gpu_count", "estimated_hours", "priority",
		"status", "reason", "output_path", "error_path", "umask", "submitted_at", "started_at", "completed_at",
		"exit_code", "signal", "worker_id", "cpu_seconds", "peak_memory_kb"},
		pgx.CopyFromSlice(len(js), func(i int) ([]any, error) {
			j := &js[i]
			var worker *int64
			if j.WorkerID != nil {
				w := int64(*j.WorkerID)
				worker = &w
			}
			var code *int32
			if j.ExitCode != nil {
				c := int32(*j.ExitCode)
				code = &c
			}
			return []any{int64(j.UserID), int64(j.GroupID), j.Name, j.Script, nonNil(j.Args), j.WorkingDir,
				nonNil(j.Env), int32(j.Resources.CPUCores), int32(j.Resources.MemoryGB), int32(j.Resources.GPUs),
				j.EstimatedHours, int32(j.Priority), string(j.State), j.Reason, j.Output, j.Error, int32(j.Umask),
				j.SubmittedAt, j.StartedAt, j.CompletedAt, code, j.Signal, worker, j.CPUSeconds, j.PeakMemoryKB}, nil
		}))
	if err != nil {
		return 0, wrap(fmt.Sprintf("add %d finished jobs", len(js)), err)
	}
	if _, err := s.pool.Exec(ctx, `ANALYZE jobs`); err != nil {
		return n, wrap("analyze jobs", err)
	}
	return n, nil
}

// CountJobs counts the jobs in any of states (every job when none is given),
// of every account, in one indexed query: how a tool waits for a queue to
// drain without reading it.
func (s *Store) CountJobs(ctx context.Context, states ...rcq.JobState) (int64, error) {
	var c conds
	if len(states) > 0 {
		c.states(states)
	}
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM jobs j`+c.clause(), c.args...).Scan(&n); err != nil {
		return 0, wrap("count jobs", err)
	}
	return n, nil
}

package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// WorkerLoads lists every worker by id with what its running jobs hold (the
// jobs started and not completed, as the scheduler counts them), in one
// query.
func (s *Store) WorkerLoads(ctx context.Context) ([]rcq.WorkerLoad, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT w.id, w.name, w.node, w.cpu_cores, w.memory_gb, w.gpu_count, w.status, w.last_heartbeat,
			coalesce(sum(j.cpu_cores), 0), coalesce(sum(j.memory_gb), 0), coalesce(sum(j.gpu_count), 0), count(j.id)
		FROM workers w
		LEFT JOIN jobs j ON j.worker_id = w.id AND j.started_at IS NOT NULL AND j.completed_at IS NULL
		WHERE w.deleted_at IS NULL
		GROUP BY w.id ORDER BY w.id`)
	if err != nil {
		return nil, wrap("worker loads", err)
	}
	var out []rcq.WorkerLoad
	var r workerRow
	var cpu, mem, gpu, n int64
	_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.Name, &r.Node, &r.CPUCores, &r.MemoryGB, &r.GPUCount, &r.Status, &r.LastHeartbeat,
		&cpu, &mem, &gpu, &n}, func() error {
		out = append(out, rcq.WorkerLoad{Worker: r.worker(),
			Allocated:   rcq.Resources{CPUCores: int(cpu), MemoryGB: int(mem), GPUs: int(gpu)},
			RunningJobs: int(n)})
		return nil
	})
	if err != nil {
		return nil, wrap("worker loads", err)
	}
	return out, nil
}

// GroupUsages returns every group by id with its usage over window (decayed
// with halfLife when > 0, exactly as Snapshot counts it) and its users' part
// of that usage: every current member, and anyone else who used the group
// inside the window, by email. FairShare is left for the scheduler to fill.
func (s *Store) GroupUsages(ctx context.Context, window, halfLife time.Duration) ([]rcq.GroupUsage, error) {
	var out []rcq.GroupUsage
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		snap := &rcq.Snapshot{}
		if err := s.snapshotGroups(ctx, tx, snap, window, halfLife); err != nil {
			return err
		}
		index := make(map[rcq.GroupID]int, len(snap.Groups))
		out = make([]rcq.GroupUsage, len(snap.Groups))
		for i, g := range snap.Groups {
			out[i] = rcq.GroupUsage{GroupShare: g}
			index[g.ID] = i
		}
		rows, err := tx.Query(ctx, `
			WITH used AS (
				SELECT u.group_id, u.user_id, `+decayedUsage+` AS hours
				FROM usage_logs u WHERE `+inWindow+`
				GROUP BY u.group_id, u.user_id),
			members AS (
				SELECT group_id, id AS user_id FROM users
				UNION SELECT group_id, user_id FROM used)
			SELECT m.group_id, m.user_id, x.email, coalesce(used.hours, 0)
			FROM members m
			JOIN users x ON x.id = m.user_id
			LEFT JOIN used ON used.group_id = m.group_id AND used.user_id = m.user_id
			ORDER BY m.group_id, x.email`, window.Seconds(), halfLife.Seconds())
		if err != nil {
			return err
		}
		var group, id int64
		var u rcq.UserUsage
		_, err = pgx.ForEachRow(rows, []any{&group, &id, &u.Email, &u.UsageCPUHours}, func() error {
			if i, ok := index[rcq.GroupID(group)]; ok {
				u.UserID = rcq.UserID(id)
				out[i].Users = append(out[i].Users, u)
			}
			return nil
		})
		return err
	})
	if err != nil {
		return nil, wrap("group usages", err)
	}
	return out, nil
}

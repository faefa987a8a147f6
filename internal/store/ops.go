package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// OpsState reads what rcqd's metrics show, in one round trip: pending and
// running jobs counted by state and group (one GROUP BY over the
// jobs_status_id index: finished jobs, which grow without bound, are not
// read), the finished ones from their counters (job_state_counts, kept by
// the jobs trigger: a few rows per state and group), every worker with
// what its running jobs hold, and the leases. The metrics collector calls
// it at most once a second.
func (s *Store) OpsState(ctx context.Context) (*rcq.OpsState, error) {
	b := &pgx.Batch{}
	b.Queue(`
		SELECT j.status, g.name, j.n, j.held
		FROM (SELECT status, group_id, count(*) AS n, count(*) FILTER (WHERE hold <> '') AS held
			FROM jobs WHERE status IN ('pending', 'running') GROUP BY status, group_id) j
		JOIN groups g ON g.id = j.group_id
		ORDER BY j.status, g.name`)
	b.Queue(`SELECT name, holder, extract(epoch FROM expires_at - now()) FROM leases ORDER BY name`)
	b.Queue(`SELECT c.state, coalesce(g.name, c.group_id::text), c.n
		FROM (SELECT state, group_id, sum(n)::bigint AS n FROM job_state_counts GROUP BY state, group_id) c
		LEFT JOIN groups g ON g.id = c.group_id
		ORDER BY c.state, 2`)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	out := &rcq.OpsState{}
	rows, err := br.Query()
	if err != nil {
		return nil, wrap("metrics: jobs", err)
	}
	var c rcq.JobCount
	var state string
	if _, err := pgx.ForEachRow(rows, []any{&state, &c.Group, &c.N, &c.Held}, func() error {
		c.State = rcq.JobState(state)
		out.Jobs = append(out.Jobs, c)
		return nil
	}); err != nil {
		return nil, wrap("metrics: jobs", err)
	}
	if rows, err = br.Query(); err != nil {
		return nil, wrap("metrics: leases", err)
	}
	var l rcq.Lease
	var left float64
	if _, err := pgx.ForEachRow(rows, []any{&l.Name, &l.Holder, &left}, func() error {
		l.Left = time.Duration(left * float64(time.Second))
		out.Leases = append(out.Leases, l)
		return nil
	}); err != nil {
		return nil, wrap("metrics: leases", err)
	}
	if rows, err = br.Query(); err != nil {
		return nil, wrap("metrics: finished jobs", err)
	}
	var f rcq.JobCount
	if _, err := pgx.ForEachRow(rows, []any{&state, &f.Group, &f.N}, func() error {
		f.State = rcq.JobState(state)
		out.Finished = append(out.Finished, f)
		return nil
	}); err != nil {
		return nil, wrap("metrics: finished jobs", err)
	}
	if err := br.Close(); err != nil {
		return nil, wrap("metrics", err)
	}
	if out.Workers, err = s.WorkerLoads(ctx); err != nil {
		return nil, err
	}
	return out, nil
}

// PoolStats are the connection pool's counters (pgxpool's Stat).
type PoolStats struct {
	Max, Total, Idle, Acquired, Constructing       int32
	Acquires, EmptyAcquires, CanceledAcquires      int64
	AcquireWait                                    time.Duration
	NewConns, MaxLifetimeDestroys, MaxIdleDestroys int64
}

// PoolStats reads the connection pool's counters; it touches no connection.
func (s *Store) PoolStats() PoolStats {
	st := s.pool.Stat()
	return PoolStats{
		Max: st.MaxConns(), Total: st.TotalConns(), Idle: st.IdleConns(), Acquired: st.AcquiredConns(),
		Constructing: st.ConstructingConns(), Acquires: st.AcquireCount(), EmptyAcquires: st.EmptyAcquireCount(),
		CanceledAcquires: st.CanceledAcquireCount(), AcquireWait: st.AcquireDuration(),
		NewConns: st.NewConnsCount(), MaxLifetimeDestroys: st.MaxLifetimeDestroyCount(), MaxIdleDestroys: st.MaxIdleDestroyCount(),
	}
}

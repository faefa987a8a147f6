package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// clusterHistorySQL counts running and pending jobs at the instants
// $1 + i x $2 seconds, i in [0, $3), in one pass over the jobs that had not
// ended at $1 (a job ended before it adds and removes itself before every
// instant, so it is left out: on jobs_completed, that keeps the cost to the
// window's jobs). Each job is a few events: +1 pending at its submit, -1
// pending when it started (or ended without starting), +1 running when it
// started, -1 running when it ended. An event counts from the first instant
// at or after it (events before $1 count from instant 0); a running sum over
// the instants, with generate_series filling those without events, gives the
// counts. A requeued job counts as pending from its first submit.
const clusterHistorySQL = `
	WITH b AS (
		SELECT greatest(0, ceil(extract(epoch FROM ev.at - $1::timestamptz)::float8 / $2::float8))::int AS i,
			sum(ev.dp) AS dp, sum(ev.dr) AS dr
		FROM jobs j
		CROSS JOIN LATERAL (VALUES
			(j.submitted_at, 1, 0),
			(coalesce(j.started_at, j.completed_at), -1, 0),
			(j.started_at, 0, 1),
			(CASE WHEN j.started_at IS NOT NULL THEN j.completed_at END, 0, -1)) AS ev(at, dp, dr)
		WHERE (j.completed_at IS NULL OR j.completed_at > $1::timestamptz)
			AND ev.at IS NOT NULL
			AND ev.at <= $1::timestamptz + make_interval(secs => $2::float8 * ($3::int - 1))
		GROUP BY 1)
	SELECT coalesce(sum(b.dr) OVER w, 0)::int, coalesce(sum(b.dp) OVER w, 0)::int
	FROM generate_series(0, $3::int - 1) AS g(i)
	LEFT JOIN b ON b.i = g.i
	WINDOW w AS (ORDER BY g.i)
	ORDER BY g.i`

// ClusterHistory returns how many jobs were running and pending at points
// instants from `from`, step apart (every job, every account: counts only),
// computed from the jobs' submit, start and end times in one query.
func (s *Store) ClusterHistory(ctx context.Context, from time.Time, step time.Duration, points int) ([]rcq.HistoryPoint, error) {
	if points <= 0 || step <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, clusterHistorySQL, from, step.Seconds(), points)
	if err != nil {
		return nil, wrap("cluster history", err)
	}
	out := make([]rcq.HistoryPoint, 0, points)
	var p rcq.HistoryPoint
	_, err = pgx.ForEachRow(rows, []any{&p.Running, &p.Pending}, func() error {
		p.At = from.Add(time.Duration(len(out)) * step)
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, wrap("cluster history", err)
	}
	return out, nil
}

// usageHistorySQL sums every group's usage rows per interval
// ($1 + i x $2 seconds, $1 + (i+1) x $2 seconds], i in [0, $3), on
// usage_logs_logged_at; groups without usage get zeros.
const usageHistorySQL = `
	WITH u AS (
		SELECT group_id, ceil(extract(epoch FROM logged_at - $1::timestamptz)::float8 / $2::float8)::int - 1 AS i,
			sum(cpu_hours) AS hours
		FROM usage_logs
		WHERE logged_at > $1::timestamptz AND logged_at <= $1::timestamptz + make_interval(secs => $2::float8 * $3::int)
		GROUP BY 1, 2)
	SELECT g.id, g.name, array_agg(coalesce(u.hours, 0) ORDER BY s.i)
	FROM groups g
	CROSS JOIN generate_series(0, $3::int - 1) AS s(i)
	LEFT JOIN u ON u.group_id = g.id AND u.i = s.i
	GROUP BY g.id ORDER BY g.id`

// UsageHistory returns every group by id with the CPU-hours its jobs logged
// in each of points intervals of step, the first starting at from
// (undecayed: what was used when).
func (s *Store) UsageHistory(ctx context.Context, from time.Time, step time.Duration, points int) ([]rcq.UsageSeries, error) {
	if points <= 0 || step <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, usageHistorySQL, from, step.Seconds(), points)
	if err != nil {
		return nil, wrap("usage history", err)
	}
	var out []rcq.UsageSeries
	var id int64
	var u rcq.UsageSeries
	_, err = pgx.ForEachRow(rows, []any{&id, &u.Name, &u.CPUHours}, func() error {
		u.GroupID = rcq.GroupID(id)
		out = append(out, u)
		u = rcq.UsageSeries{}
		return nil
	})
	if err != nil {
		return nil, wrap("usage history", err)
	}
	return out, nil
}

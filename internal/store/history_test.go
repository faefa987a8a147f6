package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

var histT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// insertJob inserts a job with the given times (nil: not set) and the status
// they imply, straight into the table.
func insertJob(t testing.TB, db *pgxpool.Pool, user rcq.UserID, group rcq.GroupID, worker rcq.WorkerID, submitted time.Time, started, ended *time.Time) {
	t.Helper()
	status := "pending"
	var w *rcq.WorkerID
	switch {
	case started != nil && ended != nil:
		status, w = "completed", &worker
	case started != nil:
		status, w = "running", &worker
	case ended != nil:
		status = "cancelled"
	}
	if _, err := db.Exec(context.Background(), `INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb, gpu_count,
		estimated_hours, priority, status, submitted_at, started_at, completed_at, worker_id)
		VALUES ($1, $2, 'x', 1, 1, 0, 1, 1, $3, $4, $5, $6, $7)`, user, group, status, submitted, started, ended, w); err != nil {
		t.Fatal(err)
	}
}

func at(d time.Duration) *time.Time { t := histT0.Add(d); return &t }

func TestClusterHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	h := time.Hour
	job := func(submitted time.Duration, started, ended *time.Time) {
		insertJob(t, f.db, f.alice, f.group, f.worker, histT0.Add(submitted), started, ended)
	}
	job(-2*h, at(30*time.Minute), at(150*time.Minute)) // pending at 0, running at 1 and 2
	job(-240*h, at(-239*h), at(-230*h))                // ended before the window: nowhere
	job(1*h, nil, nil)                                 // pending from instant 1 (exactly on it)
	job(90*time.Minute, nil, at(3*h))                  // cancelled while pending: pending at 2 only
	job(-6*h, at(-5*h), nil)                           // running throughout
	job(5*h, nil, nil)                                 // after the window
	job(-1*h, at(4*h), nil)                            // pending until instant 4, running at it

	got, err := f.st.ClusterHistory(ctx, histT0, h, 5)
	if err != nil {
		t.Fatal(err)
	}
	want := []rcq.HistoryPoint{
		{At: histT0, Running: 1, Pending: 2},
		{At: histT0.Add(h), Running: 2, Pending: 2},
		{At: histT0.Add(2 * h), Running: 2, Pending: 3},
		{At: histT0.Add(3 * h), Running: 1, Pending: 2},
		{At: histT0.Add(4 * h), Running: 2, Pending: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d points %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if !got[i].At.Equal(want[i].At) || got[i].Running != want[i].Running || got[i].Pending != want[i].Pending {
			t.Errorf("point %d: %+v, want %+v", i, got[i], want[i])
		}
	}

	// No jobs in an empty stretch long ago: zeros, one row per instant.
	old, err := f.st.ClusterHistory(ctx, histT0.Add(-1000*h), 30*time.Minute, 3)
	if err != nil || len(old) != 3 || old[0].Running+old[0].Pending+old[2].Running+old[2].Pending != 0 {
		t.Errorf("history of an empty stretch: %+v, %v", old, err)
	}
	// Nothing asked, nothing read.
	if none, err := f.st.ClusterHistory(ctx, histT0, h, 0); err != nil || len(none) != 0 {
		t.Errorf("zero points: %+v, %v", none, err)
	}
}

// TestClusterHistoryUsesAnIndex: with many jobs ended long before the
// window, the history reads the window's jobs on jobs_completed (migration
// 00017) instead of scanning the table.
func TestClusterHistoryUsesAnIndex(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	if _, err := f.db.Exec(ctx, `INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb, gpu_count,
		estimated_hours, priority, status, submitted_at, started_at, completed_at, worker_id)
		SELECT $1, $2, 'x', 1, 1, 0, 1, 1, 'completed',
			now() - interval '30 days' - i * interval '1 second', now() - interval '30 days', now() - interval '29 days', $3
		FROM generate_series(1, 20000) i`, f.alice, f.group, f.worker); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(ctx, "ANALYZE jobs"); err != nil {
		t.Fatal(err)
	}
	rows, err := f.db.Query(ctx, "EXPLAIN "+store.ClusterHistorySQL, time.Now().Add(-24*time.Hour), 900.0, 97)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	p := strings.Join(plan, "\n")
	if !strings.Contains(p, "jobs_completed") || strings.Contains(p, "Seq Scan on jobs") {
		t.Errorf("the history does not read jobs on jobs_completed:\n%s", p)
	}
}

func TestUsageHistory(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	physics, err := f.st.CreateGroup(ctx, rcq.Group{Name: "physics", CPUQuota: 10, Priority: 1})
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	for _, u := range []struct {
		group rcq.GroupID
		hours float64
		at    time.Duration
	}{
		{f.group, 5, 12 * time.Hour}, {f.group, 2, day}, // both in interval 0 (an end is inside)
		{f.group, 3, day + time.Second},   // interval 1
		{f.group, 100, 0},                 // at the start: before interval 0
		{f.group, 100, 3*day + time.Hour}, // after the last
	} {
		id := f.submit(t, f.alice, res(1, 1, 0))
		f.exec(t, `INSERT INTO usage_logs (group_id, user_id, job_id, cpu_hours, gpu_hours, logged_at)
			VALUES ($1, $2, $3, $4, 0, $5)`, u.group, f.alice, id, u.hours, histT0.Add(u.at))
	}
	got, err := f.st.UsageHistory(ctx, histT0, day, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].GroupID != f.group || got[1].GroupID != physics || got[1].Name != "physics" {
		t.Fatalf("series %+v, want default then physics", got)
	}
	if fmt.Sprint(got[0].CPUHours) != "[7 3 0]" || fmt.Sprint(got[1].CPUHours) != "[0 0 0]" {
		t.Errorf("usage %v and %v, want [7 3 0] and [0 0 0]", got[0].CPUHours, got[1].CPUHours)
	}
}

// BenchmarkClusterHistory is the 24-hour history (97 instants, 15 minutes
// apart) over 100,000 jobs: 90% of them ended before the window and 10% in
// it ("window=10k"), or every one of them in the window ("window=100k");
// "window=10k,no-index" drops jobs_completed, for the ratio.
//
//	go test -run '^$' -bench ClusterHistory -benchtime 50x ./internal/store
func BenchmarkClusterHistory(b *testing.B) {
	for _, c := range []struct {
		inWindow int
		noIndex  bool
	}{{10_000, false}, {10_000, true}, {100_000, false}} {
		inWindow := c.inWindow
		name := fmt.Sprintf("window=%dk", inWindow/1000)
		if c.noIndex {
			name += ",no-index"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			url := dbtest.URL(b)
			st, err := store.Open(ctx, url, store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			db, err := pgxpool.New(ctx, url)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := st.EnsureDefaultGroup(ctx); err != nil {
				b.Fatal(err)
			}
			w, err := st.RegisterWorker(ctx, rcq.Worker{Name: "w1", Node: "n1", Capacity: rcq.Resources{CPUCores: 64, MemoryGB: 256}})
			if err != nil {
				b.Fatal(err)
			}
			u, err := st.CreateUser(ctx, rcq.User{Email: "u@example.org", GroupID: 1}, "hash")
			if err != nil {
				b.Fatal(err)
			}
			// Old jobs ended days ago; window jobs were submitted across the
			// last 24 hours: a third still pending, a third running, a third
			// done.
			if _, err := db.Exec(ctx, `INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb, gpu_count,
				estimated_hours, priority, status, submitted_at, started_at, completed_at, worker_id)
				SELECT $1, 1, 'x', 1, 1, 0, 1, 1, 'completed', now() - interval '10 days', now() - interval '9 days',
					now() - interval '8 days', $2
				FROM generate_series(1, $3::int) i`, u, w, 100_000-inWindow); err != nil {
				b.Fatal(err)
			}
			if _, err := db.Exec(ctx, `INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb, gpu_count,
				estimated_hours, priority, status, submitted_at, started_at, completed_at, worker_id)
				SELECT $1, 1, 'x', 1, 1, 0, 1, 1, s.status, s.sub, s.st, s.en, CASE WHEN s.st IS NULL THEN NULL ELSE $2::bigint END
				FROM generate_series(1, $3::int) i,
				LATERAL (SELECT now() - (i % 1440) * interval '1 minute' AS sub) t,
				LATERAL (SELECT CASE i % 3 WHEN 0 THEN 'pending' WHEN 1 THEN 'running' ELSE 'completed' END AS status,
					t.sub, CASE WHEN i % 3 > 0 THEN t.sub + interval '30 seconds' END AS st,
					CASE WHEN i % 3 = 2 THEN t.sub + interval '1 minute' END AS en) s`, u, w, inWindow); err != nil {
				b.Fatal(err)
			}
			if c.noIndex {
				if _, err := db.Exec(ctx, "DROP INDEX jobs_completed"); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := db.Exec(ctx, "ANALYZE jobs"); err != nil {
				b.Fatal(err)
			}
			from := time.Now().Add(-24 * time.Hour)
			b.ResetTimer()
			for b.Loop() {
				if _, err := st.ClusterHistory(ctx, from, 15*time.Minute, 97); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package bench

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
)

// TestLoadsReachRcqd: what rcq-bench loads through the store (finished jobs,
// workers) is what rcqd then serves through its API, a keyed submit run
// twice with one key stores one job, and scenario 2's baseline runs on the
// daemon's own server without touching rcq's database.
func TestLoadsReachRcqd(t *testing.T) {
	b := &Bench{bin: buildBinaries(t), log: io.Discard}
	defer b.stopAll()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := b.startDaemon(ctx, daemonOpts{drain: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.client(viaUnix)
	if err != nil {
		t.Fatal(err)
	}
	today, err := loadHistory(ctx, d, c, 250, 7)
	if err != nil {
		t.Fatal(err)
	}
	// A week's history: a day's share since midnight (rcq-acct's default
	// window), the rest in the days before, every job within historyStart.
	now := time.Now()
	y, m, day := now.Date()
	midnight := time.Date(y, m, day, 0, 0, 0, 0, time.Local)
	if today != 250/historyDays {
		t.Errorf("%d jobs ended today, want a day's share, %d", today, 250/historyDays)
	}
	for start, want := range map[time.Time]int{midnight: today, now.AddDate(0, 0, -8): 250} {
		got, err := c.Acct(ctx, client.AcctQuery{Start: start, End: now.Add(time.Minute), States: []string{"all"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Jobs) != want {
			t.Errorf("rcq-acct from %s: %d jobs, want %d", start, len(got.Jobs), want)
		}
	}
	list, err := c.Jobs(ctx, client.JobsQuery{States: []string{"completed"}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Jobs) != 250 {
		t.Errorf("GET /api/jobs?status=completed: %d jobs, want the 250 loaded", len(list.Jobs))
	}
	for _, j := range list.Jobs {
		if j.StartedAt == nil || j.CompletedAt == nil || j.ExitCode == nil || *j.ExitCode != 0 || j.Worker == "" {
			t.Fatalf("a loaded job reads back without its run: %+v", j)
		}
	}
	var wl workerList
	if err := d.admin(ctx, http.MethodGet, "/api/admin/workers", nil, &wl); err != nil {
		t.Fatal(err)
	}
	absent := 0
	for _, w := range wl.Workers {
		if len(w.Name) > 6 && w.Name[:6] == "bench-" {
			absent++
		}
	}
	if absent != 7 {
		t.Errorf("rcqd lists %d loaded workers, want 7 (%+v)", absent, wl.Workers)
	}

	// Keyed submits: the same key twice is one job; the counts the
	// scenarios wait on come from the store.
	if _, _, _, err := submitMany(ctx, d, viaUnix, 2, 10, true); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := submitMany(ctx, d, viaUnix, 2, 10, true); err != nil {
		t.Fatal(err)
	}
	st, err := d.store(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// (The loaded workers are online: the scheduler may start some.)
	if n, err := st.CountJobs(ctx, rcq.JobPending, rcq.JobRunning); err != nil || n != 10 {
		t.Errorf("queued jobs after twice 10 keyed submits with keys 0-9: %d, %v; want 10", n, err)
	}
	if _, err := c.Submit(ctx, apitype.SubmitRequest{Script: trivialScript, WorkingDir: d.WorkDir}, client.SubmitOptions{}); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.CountJobs(ctx, rcq.JobPending, rcq.JobRunning); n != 11 {
		t.Errorf("queued jobs after one more unkeyed submit: %d, want 11", n)
	}

	pgbench, err := preparePGBaseline(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	tps, err := pgInsertRate(ctx, d, pgbench, 1, 1)
	if err != nil || tps <= 0 {
		t.Fatalf("pgbench insert rate: %v, %v", tps, err)
	}
	if n, _ := st.CountJobs(ctx); n != 261 {
		t.Errorf("the baseline changed rcq's jobs: %d, want 261", n)
	}
}

package metrics_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/metrics"
	"github.com/rcq-project/rcq/internal/rcq"
)

// BenchmarkScrape is the /metrics goal (issue 13): a scrape with 100,000
// pending jobs, stored in batches of 10,000 as POST /api/jobs/batch stores
// them, across 4 groups and 16 workers, 8 jobs running. "cached" is a
// scrape within a second of the previous one (the values come from
// memory); "refresh" is a scrape a second after the previous one, which
// starts the store read and waits for it at most Options.Wait (10 ms) —
// the worst a scrape costs. "read" is the store read alone
// (store.OpsState), which no scrape waits for past Wait.
//
//	go test -run '^$' -bench Scrape -benchtime 200x ./internal/metrics
func BenchmarkScrape(b *testing.B) {
	f := newFixture(b)
	ctx := b.Context()
	groups := []rcq.GroupID{rcq.DefaultGroup, f.phys}
	for _, name := range []string{"chemistry", "biology"} {
		g, err := f.st.CreateGroup(ctx, rcq.Group{Name: name, CPUQuota: 100, Priority: 1})
		if err != nil {
			b.Fatal(err)
		}
		groups = append(groups, g)
	}
	for i := range 15 {
		if _, err := f.st.RegisterWorker(ctx, rcq.Worker{Name: fmt.Sprintf("w%d", i+2), Node: "node1", Capacity: rcq.Resources{CPUCores: 64, MemoryGB: 256}}); err != nil {
			b.Fatal(err)
		}
	}
	const pending, batch = 100_000, 10_000
	for n := 0; n < pending+50; n += batch {
		js := make([]*rcq.Job, 0, batch)
		for i := range min(batch, pending+50-n) {
			js = append(js, &rcq.Job{UserID: f.alice, GroupID: groups[(n+i)%len(groups)], Name: "bench", Script: "#!/bin/sh\ntrue\n",
				Resources: rcq.Resources{CPUCores: 1, MemoryGB: 1}, EstimatedHours: 1, Priority: 1})
		}
		if _, err := f.st.CreateJobs(ctx, js); err != nil {
			b.Fatal(err)
		}
	}
	if ok, err := f.st.AcquireLease(ctx, "scheduler", "bench", time.Hour); err != nil || !ok {
		b.Fatal(ok, err)
	}
	starts := make([]rcq.Start, 50)
	for i := range starts {
		starts[i] = rcq.Start{JobID: rcq.JobID(i + 1), WorkerID: f.worker}
	}
	if done, err := f.st.StartJobs(ctx, "scheduler", "bench", starts); err != nil || len(done) != 8 { // w1 has 8 cores
		b.Fatalf("started %d of 50 on w1: %v", len(done), err)
	}
	b.Run("read", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.st.OpsState(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, mode := range []string{"cached", "refresh"} {
		b.Run(mode, func(b *testing.B) {
			c := &clock{t: time.Now()}
			m := metrics.New(metrics.Options{State: f.st.OpsState, Pool: f.st.PoolStats, Now: c.now})
			h := m.Handler()
			scrape := func() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
				if w.Code != http.StatusOK {
					b.Fatalf("scrape: %d", w.Code)
				}
			}
			scrape()
			if v, _ := value(b, m, "rcq_jobs", "state", "pending", "group", "default"); v < pending/4-50 {
				b.Fatalf("rcq_jobs{default,pending} = %v", v)
			}
			b.ResetTimer()
			for b.Loop() {
				if mode == "refresh" {
					c.add(time.Second)
				}
				scrape()
			}
		})
	}
}

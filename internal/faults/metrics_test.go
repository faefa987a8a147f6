package faults

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// series returns the value of the series line that starts with prefix (a
// name and its labels, e.g. `rcq_state_up` or `rcq_jobs{group="default",state="pending"}`).
func series(body, prefix string) (float64, bool) {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, prefix+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f, err == nil
		}
	}
	return 0, false
}

// Issue 13: a metrics scrape during a PostgreSQL restart answers at once
// from its last values, says they are stale (rcq_state_up 0, a growing
// rcq_state_age_seconds), and is fresh again once PostgreSQL is back.
func TestFaultMetricsDuringPostgresRestart(t *testing.T) {
	pgdir, srv := ownCluster(t)
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	d := newDaemon(t, daemonOptions{dbURL: srv.URL("postgres")})
	d.start()
	c := d.nobody()
	work := tempDir(t, "w")
	for range 3 {
		req := jobSpec(work, "exit 0")
		req.Hold = true
		submit(t, c, req)
	}
	scrape := func() (string, time.Duration) {
		t.Helper()
		start := time.Now()
		status, body := rawRequest(t, d.sock, "", "GET", "/metrics", nil, nil)
		if status != 200 {
			t.Fatalf("GET /metrics: %d %s", status, body)
		}
		return body, time.Since(start)
	}
	const pending = `rcq_jobs{group="default",state="pending"}`
	// until polls scrapes (an external process changes state) until ok.
	until := func(what string, ok func(body string) bool) string {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			body, took := scrape()
			// Bounded, not timed: a scrape never waits for the database.
			if took > 5*time.Second {
				t.Errorf("a scrape took %v", took)
			}
			if ok(body) {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("no scrape showed %s within 60 s:\n%s", what, body)
			}
			<-time.After(100 * time.Millisecond) // polling an external process
		}
	}
	until("3 pending jobs", func(b string) bool {
		n, _ := series(b, pending)
		up, _ := series(b, "rcq_state_up")
		return n == 3 && up == 1
	})

	stopCluster(t, srv)
	body := until("the outage", func(b string) bool { up, ok := series(b, "rcq_state_up"); return ok && up == 0 })
	if n, ok := series(body, pending); !ok || n != 3 {
		t.Errorf("during the outage %s = %v (%v), want the last value, 3", pending, n, ok)
	}
	age1, _ := series(body, "rcq_state_age_seconds")
	body = until("an older age", func(b string) bool { a, _ := series(b, "rcq_state_age_seconds"); return a > age1+1 })
	if n, _ := series(body, pending); n != 3 {
		t.Errorf("later in the outage %s = %v, want 3", pending, n)
	}
	if errs, _ := series(body, "rcq_state_read_errors_total"); errs < 1 {
		t.Errorf("rcq_state_read_errors_total = %v during the outage", errs)
	}

	srv, err := startCluster(pgdir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	until("fresh values", func(b string) bool {
		up, _ := series(b, "rcq_state_up")
		age, _ := series(b, "rcq_state_age_seconds")
		return up == 1 && age < 2
	})
	if !d.running() {
		t.Fatalf("rcqd exited during the outage:\n%s", d.logTail(20))
	}
}

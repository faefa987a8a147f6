package api_test

import (
	"context"

	"github.com/rcq-project/rcq/internal/rcq"
	"net/http"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/metrics"
)

// TestMetricsRoute: GET /metrics answers on the Unix socket to anyone, even
// a peer with no account, and is not a route of the TCP API (rcqd serves it
// on TCP only on metrics.listen). Requests are counted by route pattern,
// never by raw path; submits by route with the jobs they stored.
func TestMetricsRoute(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	e := newEnv(t, func(c *api.Config, d *api.Deps) {
		c.RunningAsRoot = true // system mode: every local user may use the socket
		d.UnixUsers = fakeUnix{4321: "nobody-here"}
		m = metrics.New(metrics.Options{State: d.Store.(metricsSource).OpsState})
		d.Metrics, d.MetricsHandler = m, m.Handler()
	})
	e.get("/api/jobs/987654", e.aliceT)
	e.submit(e.aliceT, nil)
	batch := e.post("/api/jobs/batch", e.bobT, apitype.BatchSubmitRequest{Jobs: []apitype.SubmitRequest{
		{Script: "#!/bin/sh\ntrue\n"}, {Script: "#!/bin/sh\ntrue\n"}, {Script: "#!/bin/sh\ntrue\n"}}})
	want(t, batch, http.StatusCreated, "")

	want(t, e.get("/metrics", ""), http.StatusNotFound, "no_route")
	want(t, e.get("/metrics", e.adminT), http.StatusNotFound, "no_route")

	r := e.via(e.peer(4321), req{method: "GET", path: "/metrics"})
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics on the socket: %d %s", r.status, r.header.Get("Content-Type"))
	}
	body := string(r.body)
	for _, line := range []string{
		`rcq_http_requests_total{method="GET",route="/api/jobs/{id}",status="404"} 1`,
		`rcq_http_requests_total{method="GET",route="/metrics",status="404"} 2`,
		`rcq_submits_total{route="/api/jobs"} 1`,
		`rcq_submitted_jobs_total{route="/api/jobs"} 1`,
		`rcq_submits_total{route="/api/jobs/batch"} 1`,
		`rcq_submitted_jobs_total{route="/api/jobs/batch"} 3`,
		`rcq_submit_duration_seconds_count{route="/api/jobs/batch"} 1`,
		`rcq_jobs{group="default",state="pending"} 4`,
		`rcq_state_up 1`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	if strings.Contains(body, "987654") {
		t.Error("/metrics holds a raw path (a job id) as a label")
	}
}

type metricsSource interface {
	OpsState(ctx context.Context) (*rcq.OpsState, error)
}

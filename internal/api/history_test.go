package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/sched"
)

// laterClock makes the API's clock run a minute ahead of the database's, so
// that the jobs a test has just submitted lie before its last instant.
func laterClock(_ *api.Config, d *api.Deps) {
	d.Now = func() time.Time { return time.Now().Add(time.Minute) }
}

func TestClusterHistoryCountsEveryAccountsJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, laterClock)
	running := e.submit(e.aliceT, nil)
	e.start(running)
	e.submit(e.aliceT, nil)
	e.submit(e.aliceT, map[string]any{"hold": true})
	done := e.submit(e.adminT, nil)
	e.start(done)
	e.finish(done, rcq.JobCompleted, 0)

	want(t, e.get("/api/cluster/history", ""), http.StatusUnauthorized, "")
	// bob owns none of the jobs and is no admin: he sees the counts, and
	// nothing that names a job, an account or a group.
	r := e.get("/api/cluster/history", e.bobT)
	want(t, r, http.StatusOK, "")
	for _, leak := range []string{"alice", "admin", "job_id", "default", "email"} {
		if strings.Contains(string(r.body), leak) {
			t.Errorf("the history shows %q: %s", leak, r.body)
		}
	}
	h := decodeTo[apitype.ClusterHistory](t, r)
	if len(h.Points) != 97 || h.StepSeconds != 900 || !h.To.Equal(h.Points[96].At) || !h.From.Equal(h.Points[0].At) ||
		h.To.Sub(h.From) != 24*time.Hour {
		t.Fatalf("history from %s to %s every %ds in %d points, want 97 points 15 minutes apart over 24 hours",
			h.From, h.To, h.StepSeconds, len(h.Points))
	}
	if last := h.Points[96]; last.Running != 1 || last.Pending != 2 {
		t.Errorf("now: %+v, want 1 running and 2 pending (one held)", last)
	}
	if first := h.Points[0]; first.Running != 0 || first.Pending != 0 {
		t.Errorf("a day ago: %+v, want nothing", first)
	}

	r = e.get("/api/cluster/history?hours=2&step=30m", e.aliceT)
	want(t, r, http.StatusOK, "")
	if h := decodeTo[apitype.ClusterHistory](t, r); len(h.Points) != 5 || h.StepSeconds != 1800 {
		t.Errorf("2 hours every 30m: %d points every %ds, want 5 every 1800s", len(h.Points), h.StepSeconds)
	}
}

func TestClusterHistoryRefusesBadQueries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, c := range []struct{ query, code, says string }{
		{"hours=0", "invalid_hours", "from 1 to 168"},
		{"hours=169", "invalid_hours", "from 1 to 168"},
		{"hours=two", "invalid_hours", "whole number"},
		{"hours=1.5", "invalid_hours", "whole number"},
		{"step=10s", "invalid_step", "at least 1m"},
		{"step=-1h", "invalid_step", "at least 1m"},
		{"step=soon", "invalid_step", "like 15m"},
		{"hours=168&step=1m", "invalid_step", "more than 1000 intervals"},
	} {
		r := e.get("/api/cluster/history?"+c.query, e.aliceT)
		want(t, r, http.StatusBadRequest, c.code)
		if msg := r.errBody(t).Error; !strings.Contains(msg, c.says) || strings.Contains(msg, "\n") {
			t.Errorf("%s: message %q does not say %q on one line", c.query, msg, c.says)
		}
	}
	want(t, e.get("/api/share/history?step=1s", e.aliceT), http.StatusBadRequest, "invalid_step")
}

func TestShareHistoryForEveryUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, laterClock)
	physics := e.adminPost(t, "/api/admin/groups", map[string]any{"name": "physics", "cpu_quota": 50, "priority": 2})
	done := e.submit(e.aliceT, nil)
	e.start(done)
	e.finish(done, rcq.JobCompleted, 0)
	// Usage as the executor logs it: 3 CPU-hours an hour ago, 5 three
	// days ago, 7 in physics two days ago, and 100 outside the window.
	if err := e.sqlExec(fmt.Sprintf(`UPDATE usage_logs SET cpu_hours = 3, logged_at = now() - interval '1 hour' WHERE job_id = %d;
		INSERT INTO usage_logs (group_id, user_id, job_id, cpu_hours, gpu_hours, logged_at)
		SELECT 1, user_id, id, 5, 0, now() - interval '3 days' FROM jobs WHERE id = %d;`, done, e.submitDone(t)) +
		fmt.Sprintf(`INSERT INTO usage_logs (group_id, user_id, job_id, cpu_hours, gpu_hours, logged_at)
		SELECT %d, user_id, id, 7, 0, now() - interval '2 days' FROM jobs WHERE id = %d;`, physics, e.submitDone(t)) +
		fmt.Sprintf(`INSERT INTO usage_logs (group_id, user_id, job_id, cpu_hours, gpu_hours, logged_at)
		SELECT 1, user_id, id, 100, 0, now() - interval '40 days' FROM jobs WHERE id = %d;`, e.submitDone(t))); err != nil {
		t.Fatal(err)
	}

	want(t, e.get("/api/share/history", ""), http.StatusUnauthorized, "")
	r := e.get("/api/share/history", e.bobT) // not in the usage, no admin
	want(t, r, http.StatusOK, "")
	if strings.Contains(string(r.body), "alice") || strings.Contains(string(r.body), "email") {
		t.Errorf("the share history names accounts: %s", r.body)
	}
	h := decodeTo[apitype.ShareHistory](t, r)
	def := sched.DefaultConfig()
	wantSet := apitype.ShareSettings{WindowSeconds: int64(def.FairShareWindow / time.Second), FairShareMin: def.FairShareMin,
		FairShareMax: def.FairShareMax, WaitBoostPerHour: def.WaitBoostPerHour, WaitBoostCap: def.WaitBoostCap}
	if h.Settings != wantSet {
		t.Errorf("settings %+v, want the scheduler's %+v", h.Settings, wantSet)
	}
	n := int(def.FairShareWindow / (time.Duration(h.StepSeconds) * time.Second))
	if h.StepSeconds != 24*3600 || len(h.Groups) != 2 || len(h.Groups[0].CPUHours) != n || len(h.Groups[1].CPUHours) != n ||
		h.To.Sub(h.From) != time.Duration(n)*24*time.Hour {
		t.Fatalf("history %+v, want 2 groups of %d daily intervals", h, n)
	}
	sum := func(xs []float64) (s float64) {
		for _, x := range xs {
			s += x
		}
		return s
	}
	if g := h.Groups[0]; g.Name != "default" || sum(g.CPUHours) != 8 || g.CPUHours[n-1] != 3 {
		t.Errorf("default: %+v, want 8 CPU-hours in the window, 3 in the last interval", g)
	}
	if g := h.Groups[1]; g.Name != "physics" || sum(g.CPUHours) != 7 {
		t.Errorf("physics: %+v, want 7 CPU-hours", g)
	}
	r = e.get("/api/share/history?step=6h", e.aliceT)
	want(t, r, http.StatusOK, "")
	if h := decodeTo[apitype.ShareHistory](t, r); h.StepSeconds != 6*3600 || len(h.Groups[0].CPUHours) != 4*n {
		t.Errorf("every 6h: every %ds, %d intervals; want 21600 and %d", h.StepSeconds, len(h.Groups[0].CPUHours), 4*n)
	}
}

// submitDone submits a job of alice's and returns its id (for usage rows).
func (e *env) submitDone(t *testing.T) int64 {
	t.Helper()
	id := e.submit(e.aliceT, map[string]any{"hold": true})
	return id
}

// adminPost posts as the admin, wants 201 or 200, and returns the "id" of the
// answer.
func (e *env) adminPost(t *testing.T, path string, body any) int64 {
	t.Helper()
	r := e.post(path, e.adminT, body)
	if r.status != http.StatusCreated && r.status != http.StatusOK {
		t.Fatalf("POST %s: %s", path, r)
	}
	return decodeTo[struct {
		ID int64 `json:"id"`
	}](t, r).ID
}

package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

func acctIDs(t *testing.T, r resp) []int64 {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("acct: %s", r)
	}
	l := decodeTo[apitype.AcctList](t, r)
	if l.Count != len(l.Jobs) {
		t.Errorf("count %d, %d jobs", l.Count, len(l.Jobs))
	}
	ids := []int64{}
	for _, j := range l.Jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

// TestAcct: GET /api/acct lists jobs newest first, filtered by state,
// window, ids and user (an email or a Unix login); a non-admin sees only
// their own jobs, is refused another user's, and an admin naming no
// account gets 404.
func TestAcct(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mapUnixUser(e.alice, "alice")
	e.mapUnixUser(e.bob, "bob")
	done := e.submit(e.aliceT, map[string]any{"name": "done"})
	failed := e.submit(e.aliceT, map[string]any{"name": "failed"})
	running := e.submit(e.aliceT, nil)
	held := e.submit(e.aliceT, map[string]any{"hold": true})
	bobs := e.submit(e.bobT, nil)
	for _, id := range []int64{done, failed, running, bobs} {
		e.start(id)
	}
	e.finish(done, rcq.JobCompleted, 0)
	e.finish(failed, rcq.JobFailed, 3)
	e.finish(bobs, rcq.JobCompleted, 0)
	hour := func(d int) string {
		return url.QueryEscape(time.Now().Add(time.Duration(d) * time.Hour).Format(time.RFC3339))
	}
	for _, c := range []struct {
		q    string
		tok  string
		want []int64
	}{
		{"", e.aliceT, []int64{held, running, failed, done}},
		{"", e.bobT, []int64{bobs}},
		{"", e.adminT, []int64{bobs, held, running, failed, done}},
		{"?states=CD,F", e.aliceT, []int64{failed, done}},
		{"?states=failed", e.aliceT, []int64{failed}},
		{"?states=all", e.aliceT, []int64{held, running, failed, done}},
		{"?states=R,PD", e.aliceT, []int64{held, running}},
		{"?start=" + hour(1), e.aliceT, []int64{held, running}},
		{"?start=" + hour(-1), e.aliceT, []int64{held, running, failed, done}},
		{"?end=" + hour(-1), e.aliceT, []int64{}},
		{fmt.Sprintf("?ids=%d,%d", done, bobs), e.aliceT, []int64{done}},
		{fmt.Sprintf("?ids=%d,%d", done, bobs), e.adminT, []int64{bobs, done}},
		{"?user=ALICE@example.org", e.aliceT, []int64{held, running, failed, done}},
		{"?user=alice", e.aliceT, []int64{held, running, failed, done}},
		{"?user=bob", e.adminT, []int64{bobs}},
		{"?user=bob@example.org", e.adminT, []int64{bobs}},
		{"?limit=2", e.aliceT, []int64{held, running}},
	} {
		if got := acctIDs(t, e.get("/api/acct"+c.q, c.tok)); !slices.Equal(got, c.want) {
			t.Errorf("GET /api/acct%s = %v, want %v", c.q, got, c.want)
		}
	}

	// Another user's jobs: refused for a non-admin, whether the account
	// exists or not; an unknown user is 404 for an admin.
	for _, u := range []string{"bob@example.org", "bob", "nobody"} {
		r := e.get("/api/acct?user="+u, e.aliceT)
		want(t, r, http.StatusForbidden, "other_users_jobs")
		want(t, e.get("/api/acct/summary?user="+u, e.aliceT), http.StatusForbidden, "other_users_jobs")
	}
	want(t, e.get("/api/acct?user=nobody", e.adminT), http.StatusNotFound, "user_not_found")
	want(t, e.get("/api/acct?user=nobody@example.org", e.adminT), http.StatusNotFound, "user_not_found")

	// What a row carries.
	r := e.get(fmt.Sprintf("/api/acct?ids=%d", failed), e.aliceT)
	l := decodeTo[apitype.AcctList](t, r)
	if len(l.Jobs) != 1 {
		t.Fatalf("job %d: %s", failed, r)
	}
	j := l.Jobs[0]
	if j.Status != "failed" || j.ExitCode == nil || *j.ExitCode != 3 || j.User != "alice@example.org" || j.Group != "default" ||
		j.Worker != "w1" || j.StartedAt == nil || j.CompletedAt == nil || j.Output == "" || j.Name != "failed" {
		t.Errorf("acct row %+v", j)
	}

	for _, q := range []string{"?states=bogus", "?states=OOM", "?start=yesterday", "?end=2026-01-02", "?ids=x", "?limit=0", "?cursor=zz"} {
		want(t, e.get("/api/acct"+q, e.aliceT), http.StatusBadRequest, "")
	}
	want(t, e.get("/api/acct?start=yesterday", e.aliceT), http.StatusBadRequest, "invalid_start")

	// ?fields= keeps those keys of each row only; an unknown key is refused.
	r = e.get(fmt.Sprintf("/api/acct?ids=%d&fields=id,status,exit_code", failed), e.aliceT)
	rows := decodeTo[struct{ Jobs []map[string]any }](t, r).Jobs
	if len(rows) != 1 || len(rows[0]) != 3 || rows[0]["status"] != "failed" || rows[0]["exit_code"] != float64(3) {
		t.Errorf("fields=id,status,exit_code: %s", r)
	}
	want(t, e.get("/api/acct?fields=id,script", e.aliceT), http.StatusBadRequest, "invalid_fields")
	r = e.get("/api/queue?fields=id,status", e.aliceT)
	for _, row := range decodeTo[struct{ Jobs []map[string]any }](t, r).Jobs {
		if len(row) != 2 || row["status"] == nil {
			t.Errorf("queue fields=id,status: %s", r)
		}
	}
	want(t, e.get("/api/queue?fields=bogus", e.aliceT), http.StatusBadRequest, "invalid_fields")
	want(t, e.get("/api/acct", ""), http.StatusUnauthorized, "missing_token")
	want(t, e.get("/api/acct/summary", ""), http.StatusUnauthorized, "missing_token")
}

// TestAcctPages: following next lists every job once, newest first; every
// page's cursor header is its body's next (empty on the last page).
func TestAcctPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var all []int64
	for range 7 {
		all = append(all, e.submit(e.aliceT, nil))
	}
	slices.Reverse(all)
	var got []int64
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		r := e.get("/api/acct?limit=3&cursor="+cursor, e.aliceT)
		h, ok := r.header[http.CanonicalHeaderKey(apitype.NextCursorHeader)]
		l := decodeTo[apitype.AcctList](t, r)
		if !ok || len(h) != 1 || h[0] != l.Next {
			t.Errorf("page %d: header %s: %q, next %q", pages, apitype.NextCursorHeader, h, l.Next)
		}
		for _, j := range l.Jobs {
			got = append(got, j.ID)
		}
		if l.Next == "" {
			break
		}
		cursor = l.Next
	}
	if !slices.Equal(got, all) {
		t.Errorf("pages of 3: %v, want %v", got, all)
	}
}

// TestAcctSummary: per-group totals over the caller's jobs, or everyone's
// for an admin.
func TestAcctSummary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a := e.submit(e.aliceT, map[string]any{"cpu_cores": 2, "gpu_count": 1})
	b := e.submit(e.bobT, nil)
	e.submit(e.aliceT, nil)
	e.start(a, 0)
	e.start(b)
	e.finish(a, rcq.JobCompleted, 0)
	e.finish(b, rcq.JobFailed, 1)
	sum := func(tok, q string) apitype.AcctSummary {
		t.Helper()
		r := e.get("/api/acct/summary"+q, tok)
		want(t, r, http.StatusOK, "")
		return decodeTo[apitype.AcctSummary](t, r)
	}
	s := sum(e.aliceT, "")
	if len(s.Groups) != 1 || s.Groups[0].Jobs != 2 || s.Groups[0].ByState["completed"] != 1 || s.Groups[0].ByState["pending"] != 1 ||
		s.Groups[0].Group != "default" || s.Groups[0].CPUHours < 0 {
		t.Errorf("alice's summary %+v", s)
	}
	s = sum(e.adminT, "?states=CD,F")
	if len(s.Groups) != 1 || s.Groups[0].Jobs != 2 || s.Groups[0].ByState["failed"] != 1 || s.Groups[0].ByState["pending"] != 0 {
		t.Errorf("everyone's finished jobs %+v", s)
	}
	from := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	s = sum(e.adminT, "?states=CD,F&start="+url.QueryEscape(from.Format(time.RFC3339)))
	if len(s.Groups) != 0 || s.From == nil || !s.From.Equal(from) {
		t.Errorf("a window after every end: %+v", s)
	}
}

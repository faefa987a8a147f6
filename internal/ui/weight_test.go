package ui_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
)

// submitMany stores n held jobs for an account in one batch.
// With a priority, none is held.
func (e *env) submitMany(email string, n int, priority ...int) {
	e.t.Helper()
	specs := make([]apitype.SubmitRequest, n)
	for i := range specs {
		specs[i] = apitype.SubmitRequest{Script: "#!/bin/sh\ntrue\n", Name: fmt.Sprintf("sweep-%d", i), Hold: i%2 == 0}
		if len(priority) > 0 {
			specs[i].Priority, specs[i].Hold = &priority[0], false
		}
	}
	body, _ := json.Marshal(apitype.BatchSubmitRequest{Jobs: specs})
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/jobs/batch", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+e.token(email))
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("batch submit: %d", resp.StatusCode)
	}
}

// The first load of a page (HTML, CSS and JS, uncompressed) stays within
// 100 KB: the queue at its fullest page (100 rows of 150 jobs), and the
// login page a new visitor sees first.
func TestFirstPageWeight(t *testing.T) {
	e := newEnv(t, false)
	e.submitMany("alice@example.org", 150)
	b := e.browser()
	login := len(b.get("/ui/login").body)
	b.login("alice@example.org")
	css, js := b.get("/ui/static/ui.css"), b.get("/ui/static/ui.js")
	if css.status != 200 || js.status != 200 {
		t.Fatalf("static files: %d %d", css.status, js.status)
	}
	assets := len(css.body) + len(js.body)
	for _, path := range []string{"/ui/queue", "/ui/jobs", "/ui/jobs/1"} {
		p := b.get(path)
		if p.status != 200 {
			t.Fatalf("%s: %d", path, p.status)
		}
		total := len(p.body) + assets
		t.Logf("%s: HTML %d B + CSS %d B + JS %d B = %.1f KB", path, len(p.body), len(css.body), len(js.body), float64(total)/1024)
		if total > 100<<10 {
			t.Errorf("%s weighs %d bytes with its CSS and JS: more than 100 KB", path, total)
		}
	}
	t.Logf("/ui/login: HTML %d B + CSS + JS = %.1f KB", login, float64(login+assets)/1024)
	if p := b.get("/ui/queue"); strings.Count(p.body, "<tr data-job=") != 100 {
		t.Errorf("the queue's first page has %d rows, want 100 of 150", strings.Count(p.body, "<tr data-job="))
	}
	if p := b.get("/ui/queue?page=2"); strings.Count(p.body, "<tr data-job=") != 50 {
		t.Errorf("the queue's second page has %d rows, want 50", strings.Count(p.body, "<tr data-job="))
	}
}

// An expired token (signed as rcqd signs, two hours ago) is a session to
// log in again, like an ended one.
func TestExpiredToken(t *testing.T) {
	e := newEnv(t, false)
	u, _, err := e.st.UserByEmail(t.Context(), "alice@example.org")
	if err != nil {
		t.Fatal(err)
	}
	old, _, err := e.signer.Sign(*u, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	req, _ := http.NewRequest("GET", e.srv.URL+"/ui/jobs?state=failed", nil)
	req.AddCookie(&http.Cookie{Name: "rcq_session", Value: old})
	resp, err := b.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login?next=%2Fui%2Fjobs%3Fstate%3Dfailed" {
		t.Errorf("expired token: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// BenchmarkQueuePage is the server time of the queue page with 10,000
// pending jobs: the dashboard reads the whole queue from the API (to order
// every pending job as the scheduler does) and renders one page of 100
// rows. api/queue is the API's own answer of the same queue, for the
// ratio.
func BenchmarkQueuePage(b *testing.B) {
	e := newEnv(b, false)
	e.runScheduler()
	e.submitMany("alice@example.org", 10_000)
	tok := e.token("alice@example.org")
	cookie := &http.Cookie{Name: "rcq_session", Value: tok}
	get := func(path string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "127.0.0.1"
		req.AddCookie(cookie)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		e.api.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String()[:min(rec.Body.Len(), 300)])
		}
		return rec
	}
	if n := strings.Count(get("/ui/queue").Body.String(), "<tr data-job="); n != 100 {
		b.Fatalf("the page has %d rows", n)
	}
	for _, bm := range []struct {
		name, path string
		hdr        []string
	}{
		{"ui/queue", "/ui/queue", nil},
		{"ui/queue-page-100", "/ui/queue?page=100", nil},
		{"ui/queue-live-update", "/ui/queue", []string{"X-Rcq-Fragment", "live"}},
		{"api/queue", "/api/queue", []string{"Authorization", "Bearer " + tok}},
		{"api/queue-slim", "/api/queue?fields=id,status,rank,group_id", []string{"Authorization", "Bearer " + tok}},
		{"api/auth-me", "/api/auth/me", []string{"Authorization", "Bearer " + tok}},
	} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				get(bm.path, bm.hdr...)
			}
		})
	}
}

// With a queue longer than the API's page (jobs.max_page_size), the page
// reads every page and shows the union in queue order, as rcq-queue does.
func TestQueueSeveralAPIPages(t *testing.T) {
	e := newEnv(t, false, func(c *api.Config) { c.Limits.MaxPageSize = 40 })
	// Later jobs first: the queue's order is not the pages' (by id).
	e.submitMany("alice@example.org", 30, 1)
	e.submitMany("bob@example.org", 30, 5)
	e.submitMany("alice@example.org", 30, 9)
	tok := e.token("alice@example.org")
	var want []apitype.QueueJob
	for cursor := ""; ; {
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/queue?cursor="+cursor, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var q apitype.Queue
		err = json.NewDecoder(resp.Body).Decode(&q)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, q.Jobs...)
		if q.Next == "" {
			break
		}
		cursor = q.Next
	}
	apitype.SortQueue(want)
	b := e.browser()
	b.login("alice@example.org")
	rowID := regexp.MustCompile(`<tr data-job="(\d+)"`)
	var got []string
	for _, m := range rowID.FindAllStringSubmatch(b.get("/ui/queue").body, -1) {
		got = append(got, m[1])
	}
	if len(got) != 90 || len(want) != 90 {
		t.Fatalf("rows: page %d, API %d; want 90", len(got), len(want))
	}
	for i := range want {
		if got[i] != fmt.Sprint(want[i].ID) {
			t.Fatalf("row %d is job %s, want %d (queue order)", i, got[i], want[i].ID)
		}
	}
	// Filters count and keep the rows they select.
	p := b.get("/ui/queue?state=pending&user=bob@example.org")
	if n := strings.Count(p.body, "<tr data-job="); n != 30 || !strings.Contains(p.body, `<span id="count-pending">30</span>`) {
		t.Errorf("bob's pending jobs: %d rows", n)
	}
}

package ui_test

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/rcq"
)

// The login form sets the session cookie HttpOnly, SameSite=Strict, limited
// to /ui/, Secure over TLS only; a page without a session sends the browser
// to log in and back after; the login refuses a post without its CSRF
// value; a wrong password is shown beside the form with the API's message.
func TestLoginCookieAndNext(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tls), func(t *testing.T) {
			e := newEnv(t, tls)
			b := e.browser()
			p := b.get("/ui/jobs?state=failed")
			if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/login?next="+url.QueryEscape("/ui/jobs?state=failed") {
				t.Fatalf("no session: %d Location %q", p.status, p.header.Get("Location"))
			}
			form := b.get(p.header.Get("Location"))
			if !strings.Contains(form.body, `name="next" value="/ui/jobs?state=failed"`) {
				t.Fatalf("the login form lost next:\n%s", form.body)
			}
			// No CSRF value: refused before the password is checked.
			p = b.do("POST", "/ui/login", url.Values{"email": {"alice@example.org"}, "password": {password}})
			if p.status != http.StatusForbidden || b.cookie("rcq_session") != nil {
				t.Fatalf("login without csrf: %d, session %v", p.status, b.cookie("rcq_session"))
			}
			p = b.do("POST", "/ui/login", url.Values{"email": {"alice@example.org"}, "password": {"wrong password"}, "csrf": {form.csrf(t)}})
			if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "invalid email or password") {
				t.Fatalf("wrong password: %d\n%s", p.status, p.body)
			}
			form = b.get("/ui/login?next=" + url.QueryEscape("/ui/jobs?state=failed"))
			p = b.do("POST", "/ui/login", url.Values{"email": {"alice@example.org"}, "password": {password}, "csrf": {form.csrf(t)}, "next": {"/ui/jobs?state=failed"}})
			if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/jobs?state=failed" {
				t.Fatalf("login: %d Location %q", p.status, p.header.Get("Location"))
			}
			var set string
			for _, c := range p.header.Values("Set-Cookie") {
				if strings.HasPrefix(c, "rcq_session=") {
					set = c
				}
			}
			for _, attr := range []string{"Path=/ui/", "HttpOnly", "SameSite=Strict"} {
				if !strings.Contains(set, attr) {
					t.Errorf("session cookie %q lacks %s", set, attr)
				}
			}
			if strings.Contains(set, "Secure") != tls {
				t.Errorf("session cookie %q: Secure should be %v (over TLS: %v)", set, tls, tls)
			}
			if p := b.get("/ui/jobs?state=failed"); p.status != http.StatusOK || !strings.Contains(p.body, "alice@example.org") {
				t.Fatalf("after login: %d\n%s", p.status, p.body)
			}
		})
	}
}

// next must be a path of the dashboard: never another site.
func TestLoginNoOpenRedirect(t *testing.T) {
	e := newEnv(t, false)
	for _, next := range []string{"https://evil.example/", "//evil.example/ui/", "/\\evil.example", "/api/jobs", "/ui/../api/jobs", "javascript:alert(1)"} {
		b := e.browser()
		form := b.get("/ui/login?next=" + url.QueryEscape(next))
		if strings.Contains(form.body, "evil") || strings.Contains(form.body, `name="next"`) {
			t.Errorf("next=%q kept in the form", next)
		}
		p := b.do("POST", "/ui/login", url.Values{"email": {"alice@example.org"}, "password": {password}, "csrf": {form.csrf(t)}, "next": {next}})
		if loc := p.header.Get("Location"); p.status != http.StatusSeeOther || loc != "/ui/queue" {
			t.Errorf("next=%q: %d Location %q, want /ui/queue", next, p.status, loc)
		}
	}
}

// Every answer carries the CSP and nosniff, and no template has inline
// script or event handler attributes (which the CSP would block).
func TestSecurityHeadersAndNoInlineScript(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.login("alice@example.org")
	id := e.submit("alice@example.org", `{"script":"#!/bin/sh\necho hi\n","hold":true}`)
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|\son[a-z]+=|javascript:|<style|\sstyle=`)
	for _, path := range []string{"/ui/queue", "/ui/jobs", fmt.Sprintf("/ui/jobs/%d", id), fmt.Sprintf("/ui/jobs/%d/cancel", id), "/ui/nope", "/ui/static/ui.css"} {
		p := b.get(path)
		csp := p.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "script-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %s", path, csp, want)
			}
		}
		if p.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		if strings.HasSuffix(path, ".css") {
			continue
		}
		if m := inline.FindString(p.body); m != "" {
			t.Errorf("%s has inline script or style %q", path, m)
		}
	}
}

// Another user's job is the API's 404 on every page of it, and its actions
// are refused the same; the admin pages' API routes are 403 for a user.
func TestOwnership(t *testing.T) {
	e := newEnv(t, false)
	id := e.submit("alice@example.org", `{"script":"#!/bin/sh\necho hi\n","hold":true}`)
	bob := e.browser()
	bob.login("bob@example.org")
	for _, path := range []string{fmt.Sprintf("/ui/jobs/%d", id), fmt.Sprintf("/ui/jobs/%d/cancel", id), fmt.Sprintf("/ui/jobs/%d/output", id)} {
		if p := bob.get(path); p.status != http.StatusNotFound || !strings.Contains(p.body, fmt.Sprintf("job %d not found", id)) {
			t.Errorf("bob GET %s: %d, want the API's 404\n%s", path, p.status, p.body)
		}
	}
	csrf := bob.get("/ui/queue").csrf(t)
	if p := bob.do("POST", fmt.Sprintf("/ui/jobs/%d/cancel", id), url.Values{"csrf": {csrf}}); p.status != http.StatusNotFound {
		t.Errorf("bob cancels alice's job: %d, want 404", p.status)
	}
	if j, err := e.st.JobByID(context.Background(), rcq.JobID(id), 0); err != nil || j.State != rcq.JobPending {
		t.Fatalf("alice's job after bob's cancel: %v %v", j, err)
	}
	// An id that is not a number is the same 404.
	if p := bob.get("/ui/jobs/abc"); p.status != http.StatusNotFound {
		t.Errorf("GET /ui/jobs/abc: %d", p.status)
	}
	// The nav shows admin links to admins only (ui2's admin page registers
	// its row with Admin set); alice's queue has none.
	if p := bob.get("/ui/queue"); strings.Contains(p.body, `href="/ui/admin"`) {
		t.Errorf("a user's nav links the admin page")
	}
}

// A POST without the session's CSRF value is 403 and changes nothing;
// with it, the action is done through the API and the page says so.
func TestCSRFAndActions(t *testing.T) {
	e := newEnv(t, false)
	id := e.submit("alice@example.org", `{"script":"#!/bin/sh\necho hi\n","hold":true}`)
	b := e.browser()
	b.login("alice@example.org")
	path := fmt.Sprintf("/ui/jobs/%d/", id)
	confirm := b.get(path + "release")
	if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "Release job") {
		t.Fatalf("confirm page: %d\n%s", confirm.status, confirm.body)
	}
	for _, form := range []url.Values{{}, {"csrf": {"forged"}}, {"csrf": {csrfOfOther(t, e)}}} {
		if p := b.do("POST", path+"cancel", form); p.status != http.StatusForbidden || !strings.Contains(p.body, "csrf") {
			t.Errorf("POST cancel with %v: %d, want 403", form, p.status)
		}
	}
	// The right value from another origin is refused too.
	if p := b.do("POST", path+"cancel", url.Values{"csrf": {confirm.csrf(t)}}, "Origin", "https://evil.example"); p.status != http.StatusForbidden {
		t.Errorf("cross-origin POST: %d, want 403", p.status)
	}
	if j, _ := e.st.JobByID(context.Background(), rcq.JobID(id), 0); j.State != rcq.JobPending || j.Hold == "" {
		t.Fatalf("job changed by refused posts: %s hold %q", j.State, j.Hold)
	}
	p := b.do("POST", path+"release", url.Values{"csrf": {confirm.csrf(t)}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != fmt.Sprintf("/ui/jobs/%d?done=release", id) {
		t.Fatalf("release: %d %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if j, _ := e.st.JobByID(context.Background(), rcq.JobID(id), 0); j.Hold != "" {
		t.Errorf("release did not release: hold %q", j.Hold)
	}
	// Signalling a pending job: the API's refusal, shown on the form.
	p = b.do("POST", path+"signal", url.Values{"csrf": {confirm.csrf(t)}, "signal": {"USR1"}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, `class="err"`) {
		t.Errorf("signal a pending job: %d\n%s", p.status, p.body)
	}
	p = b.do("POST", path+"cancel", url.Values{"csrf": {confirm.csrf(t)}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("cancel: %d\n%s", p.status, p.body)
	}
	if j, _ := e.st.JobByID(context.Background(), rcq.JobID(id), 0); j.State != rcq.JobCancelled {
		t.Errorf("cancel: job is %s", j.State)
	}
	if p := b.get(p.header.Get("Location")); !strings.Contains(p.body, "cancelled") || !strings.Contains(p.body, "Done: cancel") {
		t.Errorf("job page after cancel:\n%s", p.body)
	}
}

// csrfOfOther is bob's CSRF value: valid, but not alice's session's.
func csrfOfOther(t *testing.T, e *env) string {
	b := e.browser()
	b.login("bob@example.org")
	return b.get("/ui/queue").csrf(t)
}

// Logout ends this session at the API (the token is refused after) and
// clears the cookie; the account's other sessions go on.
func TestLogout(t *testing.T) {
	e := newEnv(t, false)
	b, other := e.browser(), e.browser()
	b.login("alice@example.org")
	other.login("alice@example.org")
	tok := b.cookie("rcq_session").Value
	csrf := b.get("/ui/queue").csrf(t)
	p := b.do("POST", "/ui/logout", url.Values{"csrf": {csrf}})
	if p.status != http.StatusSeeOther || !strings.Contains(strings.Join(p.header.Values("Set-Cookie"), "\n"), "rcq_session=;") {
		t.Fatalf("logout: %d %q", p.status, p.header.Values("Set-Cookie"))
	}
	if b.cookie("rcq_session") != nil {
		t.Errorf("cookie kept after logout")
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the logged-out token still works: %d", resp.StatusCode)
	}
	if p := other.get("/ui/queue"); p.status != http.StatusOK {
		t.Errorf("the other session ended too: %d", p.status)
	}
	if p := b.get("/ui/queue"); p.status != http.StatusSeeOther {
		t.Errorf("after logout: %d, want a redirect to log in", p.status)
	}
}

// A session whose token the API refuses (expired, or ended elsewhere) is
// sent to log in, with next, and its cookie is cleared; a live update's
// fetch gets 401 instead, which the script turns into a reload.
func TestEndedSession(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.login("alice@example.org")
	// End every session of the account, as rcq-login --logout --all does.
	if err := e.st.BumpTokenVersion(context.Background(), e.users["alice@example.org"]); err != nil {
		t.Fatal(err)
	}
	if p := b.do("GET", "/ui/queue", nil, "X-Rcq-Fragment", "live"); p.status != http.StatusUnauthorized {
		t.Errorf("fragment with an ended session: %d, want 401", p.status)
	}
	b.login("alice@example.org")
	if err := e.st.BumpTokenVersion(context.Background(), e.users["alice@example.org"]); err != nil {
		t.Fatal(err)
	}
	p := b.get("/ui/jobs?ids=7")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/ui/login?next="+url.QueryEscape("/ui/jobs?ids=7") {
		t.Fatalf("ended session: %d %q", p.status, p.header.Get("Location"))
	}
	if b.cookie("rcq_session") != nil {
		t.Errorf("the ended session's cookie was kept")
	}
}

// The job page shows rcq-show's fields, the jobs it waits on and the jobs
// waiting on it, and its output, which the download link serves whole.
func TestJobPage(t *testing.T) {
	e := newEnv(t, false)
	a := e.submit("alice@example.org", `{"script":"#!/bin/sh\necho hi\n","name":"first","hold":true}`)
	b := e.submit("alice@example.org", fmt.Sprintf(`{"script":"#!/bin/sh\necho hi\n","name":"second","dependencies":[{"type":"afterany","job_id":%d}]}`, a))
	br := e.browser()
	br.login("alice@example.org")
	p := br.get(fmt.Sprintf("/ui/jobs/%d", a))
	for _, want := range []string{"first", "JobHeldUser", "Time limit", "Working directory", "Stdout", fmt.Sprintf(`href="/ui/jobs/%d">%d</a> <small>afterany</small>`, b, b), "No output yet"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("job %d page lacks %q", a, want)
		}
	}
	p = br.get(fmt.Sprintf("/ui/jobs/%d", b))
	if !strings.Contains(p.body, fmt.Sprintf(`href="/ui/jobs/%d">%d</a> <small>afterany</small> <span class="st st-pending">pending</span>`, a, a)) {
		t.Errorf("job %d page lacks its upstream job:\n%s", b, p.body)
	}
	// Output: a started job's file, read through the API.
	c := e.submit("alice@example.org", `{"script":"#!/bin/sh\necho hi\n"}`)
	startJob(t, e, c)
	if err := os.WriteFile(filepath.Join(e.outDir, fmt.Sprintf("%d.out", c)), []byte("line one\n<b>two</b>\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p = br.get(fmt.Sprintf("/ui/jobs/%d", c))
	if !strings.Contains(p.body, "line one\n&lt;b&gt;two&lt;/b&gt;") {
		t.Errorf("output not shown (escaped):\n%s", p.body)
	}
	p = br.get(fmt.Sprintf("/ui/jobs/%d/output?download=1", c))
	if p.status != http.StatusOK || p.body != "line one\n<b>two</b>\n" || !strings.Contains(p.header.Get("Content-Disposition"), "attachment") ||
		!strings.HasPrefix(p.header.Get("Content-Type"), "text/plain") {
		t.Errorf("download: %d %q %q %q", p.status, p.header.Get("Content-Disposition"), p.header.Get("Content-Type"), p.body)
	}
}

func startJob(t *testing.T, e *env, id int64) {
	t.Helper()
	ctx := context.Background()
	if ok, err := e.st.AcquireLease(ctx, "scheduler", "ui-test", 60e9); err != nil || !ok {
		t.Fatalf("lease: %v %v", ok, err)
	}
	ws, err := e.st.Workers(ctx)
	if err != nil || len(ws) == 0 {
		t.Fatal(err)
	}
	if _, err := e.st.StartJobs(ctx, "scheduler", "ui-test", []rcq.Start{{JobID: rcq.JobID(id), WorkerID: ws[0].ID}}); err != nil {
		t.Fatal(err)
	}
}

// On the Unix socket the dashboard still needs a password login: it never
// acts as the socket's peer (an ssh -L forward makes the socket a TCP port
// that other users of the far machine can reach too). Once logged in, its
// calls carry the token, which the API checks against the peer as it does
// for any client.
func TestSocketNeedsLogin(t *testing.T) {
	e := newEnv(t, false)
	dir, err := os.MkdirTemp("", "rcqui")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	uid := os.Getuid()
	srv := &http.Server{Handler: e.api, ConnContext: func(ctx context.Context, c net.Conn) context.Context {
		return api.WithConnInfo(ctx, api.ConnInfo{Unix: true, Peer: fmt.Sprintf("uid:%d", uid), UID: uid, HasUID: true})
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	b := e.browser()
	b.hc.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}
	if p := b.get("/ui/queue"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/ui/login") {
		t.Fatalf("the socket's peer got a page without logging in: %d %q", p.status, p.header.Get("Location"))
	}
	b.login("alice@example.org")
	if p := b.get("/ui/queue"); p.status != http.StatusOK || !strings.Contains(p.body, "alice@example.org") {
		t.Fatalf("logged in on the socket: %d\n%s", p.status, p.body)
	}
}

// Bad filter and form values come back with the API's message beside
// their field, and the page still answers (4xx, never 500).
func TestFormErrorsBesideFields(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.login("alice@example.org")
	id := e.submit("alice@example.org", `{"script":"#!/bin/sh\necho hi\n"}`)
	startJob(t, e, id)
	csrf := b.get("/ui/queue").csrf(t)
	for _, c := range []struct {
		method, path string
		form         url.Values
		status       int
		id, msg      string
	}{
		{"GET", "/ui/queue?user=nobody@example.org", nil, 404, "user-err", "no account nobody@example.org"},
		{"GET", "/ui/queue?group=nosuch", nil, 400, "group-err", "is not a group"},
		{"GET", "/ui/queue?state=done", nil, 400, "state-err", "use pending or running"},
		{"GET", "/ui/jobs?from=yesterday", nil, 400, "from-err", "is not a date like 2026-12-04"},
		{"GET", "/ui/jobs?state=bogus", nil, 400, "state-err", "is not a job state"},
		{"GET", "/ui/jobs?ids=x1", nil, 400, "ids-err", "ids"},
		{"GET", "/ui/jobs?user=bob@example.org", nil, 403, "search-err", "only admins may see other users' jobs"},
		{"POST", fmt.Sprintf("/ui/jobs/%d/signal", id), url.Values{"csrf": {csrf}, "signal": {"NOPE"}}, 400, "signal-err", "signal"},
	} {
		p := b.do(c.method, c.path, c.form)
		re := regexp.MustCompile(`id="` + c.id + `">([^<]*)<`)
		m := re.FindStringSubmatch(p.body)
		if p.status != c.status || m == nil || !strings.Contains(html.UnescapeString(m[1]), c.msg) {
			t.Errorf("%s %s: %d, message %q; want %d with %q beside the field", c.method, c.path, p.status, m, c.status, c.msg)
		}
	}
}

// An array's page names its elements as rcq-show does.
func TestJobPageArray(t *testing.T) {
	e := newEnv(t, false)
	id := e.submit("alice@example.org", `{"script":"#!/bin/sh\necho hi\n","array":"0-9%2","hold":true}`)
	b := e.browser()
	b.login("alice@example.org")
	p := b.get(fmt.Sprintf("/ui/jobs/%d", id))
	if p.status != http.StatusOK || !strings.Contains(p.body, fmt.Sprintf("Job %d_[0-9%%2]", id)) ||
		!strings.Contains(p.body, fmt.Sprintf("<dd>array %d, elements not yet started 0-9, at most 2 at once</dd>", id)) {
		t.Errorf("array job page: %d\n%s", p.status, p.body)
	}
}

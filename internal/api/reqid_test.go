package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rcq-project/rcq/internal/api"
)

// TestRequestIDs: every answer carries X-Request-Id, each request its own;
// an error body's request_id is the header's; the access log line (JSON
// here, log.format: json) names it; a client's own X-Request-Id is not
// taken; a login's password and a token never reach the log.
func TestRequestIDs(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var buf bytes.Buffer
	e := newEnv(t, func(c *api.Config, d *api.Deps) {
		d.Logger = slog.New(slog.NewJSONHandler(&lockedWriter{mu: &mu, w: &buf}, nil))
	})
	ok := e.get("/api/jobs", e.aliceT)
	want(t, ok, http.StatusOK, "")
	missing := e.do(req{method: "GET", path: "/api/jobs/999999", token: e.aliceT, header: map[string]string{"X-Request-Id": "forged-1"}})
	want(t, missing, http.StatusNotFound, "not_found")
	login := e.post("/api/auth/login", "", map[string]string{"email": "alice@example.org", "password": password})
	want(t, login, http.StatusOK, "")
	bad := e.post("/api/auth/login", "", map[string]string{"email": "alice@example.org", "password": "wrong-" + password})
	noRoute := e.get("/api/nope/12345", e.aliceT)

	ids := map[string]bool{}
	for _, r := range []resp{ok, missing, login, bad, noRoute} {
		id := r.header.Get("X-Request-Id")
		if id == "" || ids[id] {
			t.Fatalf("X-Request-Id %q of %s: missing or not unique (%v)", id, r, ids)
		}
		ids[id] = true
	}
	if got := missing.header.Get("X-Request-Id"); got == "forged-1" || !strings.Contains(string(missing.body), `"request_id":"`+got+`"`) {
		t.Errorf("404 body %s, header %q: want the header's id in request_id, not the client's", missing.body, got)
	}
	for _, r := range []resp{bad, noRoute} {
		if b := r.errBody(t); b.RequestID != r.header.Get("X-Request-Id") {
			t.Errorf("%s: request_id %q, header %q", r, b.RequestID, r.header.Get("X-Request-Id"))
		}
	}

	mu.Lock()
	out := buf.String()
	mu.Unlock()
	lines := map[string]map[string]any{} // request id -> access line
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if m["msg"] == "request" {
			lines[m["request_id"].(string)] = m
		}
	}
	for _, c := range []struct {
		r      resp
		route  string
		status float64
	}{{ok, "/api/jobs", 200}, {missing, "/api/jobs/{id}", 404}, {login, "/api/auth/login", 200}, {bad, "/api/auth/login", 401}, {noRoute, "-", 404}} {
		l := lines[c.r.header.Get("X-Request-Id")]
		if l == nil || l["route"] != c.route || l["status"] != c.status || l["peer"] == "" {
			t.Errorf("access line of %s: %v, want route %s status %v", c.r, l, c.route, c.status)
		}
	}
	token := decodeTo[map[string]any](t, login)["token"].(string)
	for _, secret := range []string{password, "wrong-" + password, token, e.aliceT, "12345"} {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q:\n%s", secret, out)
		}
	}
}

// TestServerErrorLogged: a 5xx is logged at error level with its request
// id and cause, and the body gives the client the same id.
func TestServerErrorLogged(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var buf bytes.Buffer
	e := newEnv(t, func(c *api.Config, d *api.Deps) {
		d.Logger = slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, nil))
	})
	e.st.Close() // the database is gone
	hr, _ := http.NewRequest("GET", e.srv.URL+"/api/jobs", nil)
	hr.Header.Set("Authorization", "Bearer "+e.aliceT)
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, body: b}
	if r.status < 500 {
		t.Fatalf("GET /api/jobs on a closed store: %s, want 5xx", r)
	}
	id := r.errBody(t).RequestID
	if id == "" || id != r.header.Get("X-Request-Id") {
		t.Fatalf("5xx request_id %q, header %q", id, r.header.Get("X-Request-Id"))
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	var found bool
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "level=ERROR") && strings.Contains(l, "request_id="+id) && strings.Contains(l, "err=") && strings.Contains(l, "route=/api/jobs") {
			found = true
		}
	}
	if !found {
		t.Errorf("no error line with request_id=%s and its cause:\n%s", id, out)
	}
}

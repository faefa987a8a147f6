package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// fakeAPI answers a few routes like rcqd does and records what it was sent.
type fakeAPI struct {
	lastUpdate apitype.JobUpdate
	lastAuth   string
	lastQuery  string
	lastIdem   string
	lastSubmit apitype.SubmitRequest
}

func (f *fakeAPI) handler() http.Handler {
	mux := http.NewServeMux()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, apitype.Health{Status: "healthy", Version: "test"})
	})
	mux.HandleFunc("POST /api/auth/login", func(w http.ResponseWriter, r *http.Request) {
		var req apitype.LoginRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Password != "right" {
			writeJSON(w, 401, apitype.ErrorBody{Error: "invalid email or password", Code: "invalid_credentials"})
			return
		}
		writeJSON(w, 200, apitype.LoginResponse{Token: "tok-" + req.Email, User: apitype.UserInfo{ID: 7, Email: req.Email}})
	})
	mux.HandleFunc("POST /api/auth/token", func(w http.ResponseWriter, r *http.Request) {
		f.lastAuth = r.Header.Get("Authorization")
		writeJSON(w, 200, apitype.LoginResponse{Token: "peer-token", User: apitype.UserInfo{ID: 9, Email: "ann@localhost", UnixUser: "ann"}})
	})
	mux.HandleFunc("GET /api/auth/me", func(w http.ResponseWriter, r *http.Request) {
		f.lastAuth = r.Header.Get("Authorization")
		if f.lastAuth == "Bearer expired" {
			writeJSON(w, 401, apitype.ErrorBody{Error: "token expired", Code: "token_expired"})
			return
		}
		writeJSON(w, 200, apitype.UserInfo{ID: 7, Email: "a@b"})
	})
	mux.HandleFunc("POST /api/jobs", func(w http.ResponseWriter, r *http.Request) {
		f.lastQuery = r.URL.RawQuery
		f.lastIdem = r.Header.Get("Idempotency-Key")
		_ = json.NewDecoder(r.Body).Decode(&f.lastSubmit)
		writeJSON(w, 201, apitype.SubmitResponse{Message: "Job submitted successfully", JobID: 42, Status: "pending"})
	})
	mux.HandleFunc("GET /api/jobs", func(w http.ResponseWriter, r *http.Request) {
		f.lastQuery = r.URL.RawQuery
		writeJSON(w, 200, apitype.JobList{Jobs: []apitype.Job{{ID: 1}}, Count: 1})
	})
	mux.HandleFunc("DELETE /api/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("id") {
		case "5":
			writeJSON(w, 409, apitype.ErrorBody{Error: "job 5 is already completed", Code: "job_finished"})
		case "6":
			writeJSON(w, 200, apitype.JobAction{Message: "cancelled", JobID: 6, Status: "cancelled"})
		default:
			writeJSON(w, 404, apitype.ErrorBody{Error: "job not found", Code: "not_found"})
		}
	})
	mux.HandleFunc("PATCH /api/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.lastUpdate = apitype.JobUpdate{}
		_ = json.NewDecoder(r.Body).Decode(&f.lastUpdate)
		if r.PathValue("id") == "5" {
			writeJSON(w, 403, apitype.ErrorBody{Error: "job 5: only an admin may raise a priority", Code: "admin_required"})
			return
		}
		writeJSON(w, 200, apitype.Job{ID: 6, Name: *f.lastUpdate.Name})
	})
	mux.HandleFunc("POST /api/jobs/{id}/requeue", func(w http.ResponseWriter, r *http.Request) {
		f.lastQuery = r.URL.RawQuery
		if r.PathValue("id") == "6" {
			writeJSON(w, 409, apitype.ErrorBody{Error: "job 6 is pending: it is in the queue already, so there is no run to requeue", Code: "job_pending"})
			return
		}
		writeJSON(w, 200, apitype.JobAction{Message: "Job requeued", JobID: 7, Status: "pending"})
	})
	mux.HandleFunc("GET /api/jobs/{id}/output", func(w http.ResponseWriter, r *http.Request) {
		f.lastQuery = r.URL.RawQuery
		_, _ = io.WriteString(w, "hello\n")
	})
	mux.HandleFunc("GET /api/queue", func(w http.ResponseWriter, r *http.Request) {
		f.lastQuery = r.URL.RawQuery
		w.WriteHeader(502)
		_, _ = io.WriteString(w, "<html>bad gateway</html>")
	})
	return mux
}

func newTCP(t *testing.T) (*fakeAPI, string) {
	f := &fakeAPI{}
	srv := httptest.NewServer(f.handler())
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func newUnix(t *testing.T) (*fakeAPI, string) {
	f := &fakeAPI{}
	sock := filepath.Join(shortTempDir(t), "rcqd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(f.handler())
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return f, "unix://" + sock
}

// shortTempDir keeps socket paths under the 108-byte limit.
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "rcqc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestTransports(t *testing.T) {
	for name, start := range map[string]func(*testing.T) (*fakeAPI, string){"tcp": newTCP, "unix": newUnix} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f, server := start(t)
			ctx := context.Background()
			c, err := New(server, WithToken("secret"))
			if err != nil {
				t.Fatal(err)
			}
			h, err := c.Health(ctx)
			if err != nil || h.Status != "healthy" {
				t.Fatalf("health = %+v, %v", h, err)
			}
			if _, err := c.Me(ctx); err != nil {
				t.Fatal(err)
			}
			if f.lastAuth != "Bearer secret" {
				t.Errorf("Authorization = %q", f.lastAuth)
			}
			cpu := 4
			resp, err := c.Submit(ctx, apitype.SubmitRequest{Script: "#!/bin/sh\n", CPUCores: &cpu}, SubmitOptions{IdempotencyKey: "k1", TestOnly: true})
			if err != nil || resp.JobID != 42 {
				t.Fatalf("submit = %+v, %v", resp, err)
			}
			if f.lastQuery != "test_only=true" || f.lastIdem != "k1" || *f.lastSubmit.CPUCores != 4 {
				t.Errorf("submit sent query %q key %q body %+v", f.lastQuery, f.lastIdem, f.lastSubmit)
			}
			if _, err := c.Jobs(ctx, JobsQuery{States: []string{"pending", "running"}, Limit: 5, IDs: []int64{1, 2}, Newest: true}); err != nil {
				t.Fatal(err)
			}
			if f.lastQuery != "ids=1%2C2&limit=5&order=newest&status=pending%2Crunning" {
				t.Errorf("jobs query = %q", f.lastQuery)
			}
			rc, err := c.Output(ctx, 3, "stderr", true)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if string(b) != "hello\n" || f.lastQuery != "follow=true&stream=stderr" {
				t.Errorf("output = %q (query %q)", b, f.lastQuery)
			}
		})
	}
}

// PeerToken asks for a token with no password and no Authorization header,
// even from a client holding a token.
func TestPeerToken(t *testing.T) {
	t.Parallel()
	f, server := newUnix(t)
	c, err := New(server, WithToken("stale"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Socket() {
		t.Errorf("%s: Socket() = false", server)
	}
	lr, err := c.PeerToken(context.Background())
	if err != nil || lr.Token != "peer-token" || lr.User.UnixUser != "ann" {
		t.Fatalf("PeerToken = %+v, %v", lr, err)
	}
	if f.lastAuth != "" {
		t.Errorf("PeerToken sent Authorization %q", f.lastAuth)
	}
	if _, tcp := newTCP(t); mustNew(t, tcp).Socket() {
		t.Errorf("%s: Socket() = true", tcp)
	}
}

func mustNew(t *testing.T, server string) *Client {
	t.Helper()
	c, err := New(server)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestErrorsAreRebuilt(t *testing.T) {
	t.Parallel()
	_, server := newTCP(t)
	ctx := context.Background()
	c, _ := New(server, WithToken("expired"))

	_, err := c.Me(ctx)
	if !errors.Is(err, &rcq.Error{Kind: rcq.KindUnauthorized, Code: "token_expired"}) || !IsAuthError(err) {
		t.Errorf("expired token: %v (%#v)", err, err)
	}
	_, err = c.Login(ctx, apitype.LoginRequest{Email: "a@b", Password: "wrong"})
	if !errors.Is(err, rcq.ErrUnauthorized) || rcq.CodeOf(err) != "invalid_credentials" {
		t.Errorf("bad password: %v", err)
	}
	_, err = c.Cancel(ctx, 5)
	if !errors.Is(err, rcq.ErrConflict) || rcq.CodeOf(err) != "job_finished" || !strings.Contains(err.Error(), "already completed") {
		t.Errorf("cancel finished: %v", err)
	}
	_, err = c.Cancel(ctx, 99)
	if !errors.Is(err, rcq.ErrNotFound) {
		t.Errorf("cancel missing: %v", err)
	}
	if a, err := c.Cancel(ctx, 6); err != nil || a.Status != "cancelled" {
		t.Errorf("cancel = %+v, %v", a, err)
	}
	// A non-JSON error body still gives a typed error with a short message.
	_, err = c.Queue(ctx, "")
	if rcq.KindOf(err) != rcq.KindInternal || strings.Contains(err.Error(), "<html>") {
		t.Errorf("502: %v", err)
	}
}

func TestConnError(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(shortTempDir(t), "nobody.sock")
	c, err := New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Health(context.Background())
	var ce *ConnError
	if !errors.As(err, &ce) || ce.Addr != sock || !ce.Socket {
		t.Fatalf("err = %#v", err)
	}
	if want := "cannot reach rcqd at " + sock + ": is it running? Start it with: rcqd"; err.Error() != want {
		t.Errorf("message = %q", err.Error())
	}
	if !errors.Is(err, syscall.ENOENT) {
		t.Errorf("cause lost: %v", ce.Err)
	}

	// A cancelled context is not a connection error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Health(ctx)
	if !errors.Is(err, context.Canceled) || errors.As(err, &ce) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestNewRejectsBadServers(t *testing.T) {
	for _, s := range []string{"ftp://x", "localhost:8080", "unix://relative.sock", "http://"} {
		if _, err := New(s); !errors.Is(err, rcq.ErrInvalid) {
			t.Errorf("New(%q) = %v, want invalid", s, err)
		}
	}
	c, err := New("/run/rcq/rcqd.sock")
	if err != nil || c.Addr() != "/run/rcq/rcqd.sock" {
		t.Errorf("bare path: %v %v", c, err)
	}
}

func TestDefaultSockets(t *testing.T) {
	const sys = "/run/rcq/rcqd.sock"
	cases := []struct {
		root bool
		env  map[string]string
		want []string
	}{
		{true, map[string]string{"XDG_RUNTIME_DIR": "/run/user/0", "HOME": "/root"}, []string{sys}},
		{false, map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000", "HOME": "/home/ann"}, []string{"/run/user/1000/rcq/rcqd.sock", sys}},
		{false, map[string]string{"XDG_STATE_HOME": "/s", "HOME": "/home/ann"}, []string{"/s/rcq/rcqd.sock", sys}},
		{false, map[string]string{"XDG_RUNTIME_DIR": "relative", "HOME": "/home/ann"}, []string{"/home/ann/.local/state/rcq/rcqd.sock", sys}},
		{false, map[string]string{"RCQ_STATE_DIR": "/srv/rcq", "HOME": "/home/ann"}, []string{"/srv/rcq/rcqd.sock", sys}},
		{true, map[string]string{"RCQ_SOCKET": "/tmp/x.sock"}, []string{"/tmp/x.sock"}},
		{false, map[string]string{"RCQ_SOCKET": "/tmp/x.sock", "XDG_RUNTIME_DIR": "/run/user/1000"}, []string{"/tmp/x.sock"}},
		{false, map[string]string{}, []string{sys}},
	}
	for _, c := range cases {
		lookup := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
		if got := defaultSockets(lookup, c.root); !slices.Equal(got, c.want) {
			t.Errorf("defaultSockets(%v, root=%v) = %q, want %q", c.env, c.root, got, c.want)
		}
	}
}

// The user's own socket wins when it exists; else the system rcqd's; and
// when neither answers the error names both.
func TestDefaultSocketFallsBackToSystem(t *testing.T) {
	dir := t.TempDir()
	own, sys := filepath.Join(dir, "own.sock"), filepath.Join(dir, "sys.sock")
	if got := firstExisting([]string{own, sys}); got != own {
		t.Errorf("neither exists: %s, want the first", got)
	}
	l, err := net.Listen("unix", sys)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := firstExisting([]string{own, sys}); got != sys {
		t.Errorf("only the system socket exists: %s", got)
	}
	if err := os.WriteFile(own, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := firstExisting([]string{own, sys}); got != sys {
		t.Errorf("a regular file is no socket: got %s", got)
	}

	t.Setenv("RCQ_SOCKET", "")
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(dir, "run"))
	c, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Health(context.Background())
	var ce *ConnError
	if !errors.As(err, &ce) {
		t.Fatalf("health with no rcqd anywhere: %v", err)
	}
	want := "cannot reach rcqd at " + filepath.Join(dir, "run", "rcq", "rcqd.sock") + " or /run/rcq/rcqd.sock: is it running? Start it with: rcqd"
	if os.Geteuid() == 0 { // root's own socket is the system one
		want = "cannot reach rcqd at /run/rcq/rcqd.sock: is it running? Start it with: rcqd"
	}
	if _, statErr := os.Stat("/run/rcq/rcqd.sock"); statErr == nil {
		t.Skip("a system rcqd runs on this machine")
	}
	if ce.Error() != want {
		t.Errorf("error = %q\nwant    %q", ce.Error(), want)
	}
	// An explicit server names only itself.
	c, _ = New("unix://" + own)
	_, err = c.Health(context.Background())
	if !errors.As(err, &ce) || ce.Error() != "cannot reach rcqd at "+own+": is it running? Start it with: rcqd" {
		t.Errorf("explicit socket: %v", err)
	}
}

func TestCredentialsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cfg", "rcq", "credentials")
	if _, err := LoadCredentials(path); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("missing file: %v", err)
	}
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	want := &Credentials{Server: "unix:///x.sock", Token: "t", Email: "a@b", ExpiresAt: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	if err := SaveCredentials(path, want); err != nil {
		t.Fatal(err)
	}
	for p, mode := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s mode = %v, want %v (%v)", p, st.Mode().Perm(), mode, err)
		}
	}
	got, err := LoadCredentials(path)
	if err != nil || *got != *want {
		t.Fatalf("load = %+v, %v", got, err)
	}
	if got.Expired(want.ExpiresAt.Add(-time.Second)) || !got.Expired(want.ExpiresAt) {
		t.Error("Expired is wrong at the boundary")
	}
	// No temporary files are left beside it.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries", len(entries))
	}

	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = LoadCredentials(path)
	var pe *PermissionError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Errorf("group-readable file: %v", err)
	}
	if err := RemoveCredentials(path); err != nil {
		t.Fatal(err)
	}
	if err := RemoveCredentials(path); err != nil {
		t.Errorf("second remove: %v", err)
	}
}

func TestCredentialsPath(t *testing.T) {
	home := func() (string, error) { return "/home/ann", nil }
	p, _ := credentialsPath(func(string) string { return "" }, home)
	if p != "/home/ann/.config/rcq/credentials" {
		t.Errorf("default = %q", p)
	}
	p, _ = credentialsPath(func(k string) string { return map[string]string{"XDG_CONFIG_HOME": "/c"}[k] }, home)
	if p != "/c/rcq/credentials" {
		t.Errorf("XDG = %q", p)
	}
}

// UpdateJob sends only the fields given (a nil slice of dependencies is
// absent, an empty one is "remove them") and rebuilds refusals; RequeueRef
// asks for a hold only when told, and its refusal keeps its code.
func TestUpdateJobAndRequeue(t *testing.T) {
	t.Parallel()
	f, server := newTCP(t)
	ctx := context.Background()
	c := mustNew(t, server)
	name := "renamed"
	none := []apitype.Dependency{}
	j, err := c.UpdateJob(ctx, 6, apitype.JobUpdate{Name: &name, Dependencies: &none})
	if err != nil || j.Name != name {
		t.Fatalf("update: %+v %v", j, err)
	}
	if f.lastUpdate.Name == nil || *f.lastUpdate.Name != name || f.lastUpdate.Priority != nil || f.lastUpdate.EstimatedHours != nil ||
		f.lastUpdate.Dependencies == nil || len(*f.lastUpdate.Dependencies) != 0 {
		t.Errorf("rcqd was sent %+v", f.lastUpdate)
	}
	prio := 9
	_, err = c.UpdateJob(ctx, 5, apitype.JobUpdate{Name: &name, Priority: &prio})
	if !errors.Is(err, rcq.ErrForbidden) || rcq.CodeOf(err) != "admin_required" || f.lastUpdate.Priority == nil || *f.lastUpdate.Priority != 9 {
		t.Errorf("raising update: %v (sent %+v)", err, f.lastUpdate)
	}
	if f.lastUpdate.Dependencies != nil {
		t.Errorf("dependencies sent although not given: %v", *f.lastUpdate.Dependencies)
	}
	_, err = c.RequeueRef(ctx, "6", false)
	if !errors.Is(err, rcq.ErrConflict) || rcq.CodeOf(err) != "job_pending" || f.lastQuery != "" {
		t.Errorf("requeue: %v (query %q)", err, f.lastQuery)
	}
	a, err := c.RequeueRef(ctx, "7", true)
	if err != nil || a.JobID != 7 || a.Status != "pending" || f.lastQuery != "hold=true" {
		t.Errorf("requeue --hold: %+v %v (query %q)", a, err, f.lastQuery)
	}
}

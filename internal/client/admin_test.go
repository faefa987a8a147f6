package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// adminAPI answers the admin routes with fixed bodies, refuses any token but
// "admin" with 403 admin_required, and records what it was sent.
type adminAPI struct {
	mu   sync.Mutex
	sent []string // "METHOD /path body"
}

func (a *adminAPI) handler() http.Handler {
	hb := time.Date(2026, 11, 28, 16, 52, 5, 0, time.UTC)
	answers := map[string]any{
		"GET /api/admin/groups":            apitype.GroupList{Groups: []apitype.Group{{ID: 1, Name: "default", CPUQuota: 1000, Priority: 1}}, Count: 1},
		"POST /api/admin/groups":           apitype.Group{ID: 2, Name: "physics", CPUQuota: 5000, Priority: 3},
		"PATCH /api/admin/groups/2":        apitype.Group{ID: 2, Name: "physics", CPUQuota: 8000, Priority: 3},
		"GET /api/admin/users":             apitype.UserList{Users: []apitype.User{{ID: 2, Email: "ada@lab", GroupID: 1, UnixUser: "ada", CreatedAt: hb}}, Count: 1},
		"PATCH /api/admin/users/2":         apitype.User{ID: 2, Email: "ada@lab", GroupID: 2, CreatedAt: hb},
		"GET /api/admin/workers":           apitype.WorkerList{Workers: []apitype.Worker{{ID: 1, Name: "n1", Node: "n1", CPUCores: 16, Status: "online", LastHeartbeat: hb}}, Count: 1},
		"POST /api/admin/workers":          apitype.Worker{ID: 3, Name: "gpu-a", Node: "n1", CPUCores: 32, MemoryGB: 256, GPUCount: 4, Status: "online"},
		"PATCH /api/admin/workers/3":       apitype.Worker{ID: 3, Name: "gpu-a", Node: "n1", CPUCores: 32, MemoryGB: 128, GPUCount: 4, Status: "online"},
		"POST /api/admin/workers/3/drain":  apitype.Worker{ID: 3, Name: "gpu-a", Status: "drained"},
		"POST /api/admin/workers/3/resume": apitype.Worker{ID: 3, Name: "gpu-a", Status: "online"},
		"DELETE /api/admin/workers/3":      apitype.Message{Message: "worker 3 deleted"},
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		key := r.Method + " " + r.URL.Path
		sent := key
		if r.URL.RawQuery != "" {
			sent += "?" + r.URL.RawQuery
		}
		a.mu.Lock()
		a.sent = append(a.sent, sent+" "+string(body))
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		out, ok := answers[key]
		switch {
		case r.Header.Get("Authorization") != "Bearer admin":
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(apitype.ErrorBody{Error: "this route is for admins only", Code: "admin_required"})
		case !ok:
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(apitype.ErrorBody{Error: "worker 9 not found", Code: "worker_not_found"})
		default:
			if key == "POST /api/admin/groups" || key == "POST /api/admin/workers" {
				w.WriteHeader(http.StatusCreated)
			}
			_ = json.NewEncoder(w).Encode(out)
		}
	})
}

func (a *adminAPI) last() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sent[len(a.sent)-1]
}

func newAdmin(t *testing.T, token string) (*adminAPI, *Client) {
	a := &adminAPI{}
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	return a, c
}

func ptr[T any](v T) *T { return &v }

func TestAdminRequests(t *testing.T) {
	t.Parallel()
	a, c := newAdmin(t, "admin")
	ctx := context.Background()
	check := func(what string, err error, want string) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		if got := a.last(); got != want {
			t.Errorf("%s sent %q, want %q", what, got, want)
		}
	}

	gs, err := c.Groups(ctx)
	check("Groups", err, "GET /api/admin/groups ")
	if err == nil && (gs.Count != 1 || gs.Groups[0].Name != "default" || gs.Groups[0].CPUQuota != 1000) {
		t.Errorf("groups = %+v", gs)
	}
	g, err := c.CreateGroup(ctx, apitype.GroupRequest{Name: "physics", CPUQuota: ptr(5000.0), Priority: ptr(3)})
	check("CreateGroup", err, `POST /api/admin/groups {"name":"physics","cpu_quota":5000,"priority":3}`)
	if err == nil && g.ID != 2 {
		t.Errorf("created %+v", g)
	}
	// Only the fields given are sent: the others stay as they are.
	g, err = c.UpdateGroup(ctx, 2, apitype.GroupRequest{CPUQuota: ptr(8000.0)})
	check("UpdateGroup", err, `PATCH /api/admin/groups/2 {"cpu_quota":8000}`)
	if err == nil && g.CPUQuota != 8000 {
		t.Errorf("updated %+v", g)
	}

	us, err := c.Users(ctx)
	check("Users", err, "GET /api/admin/users ")
	if err == nil && (us.Count != 1 || us.Users[0].UnixUser != "ada") {
		t.Errorf("users = %+v", us)
	}
	// An empty Unix user is sent (it removes the mapping); false is sent.
	u, err := c.UpdateUser(ctx, 2, apitype.UserUpdate{UnixUser: ptr(""), IsAdmin: ptr(false), GroupID: ptr(int64(2))})
	check("UpdateUser", err, `PATCH /api/admin/users/2 {"is_admin":false,"group_id":2,"unix_user":""}`)
	if err == nil && (u.GroupID != 2 || u.UnixUser != "") {
		t.Errorf("updated %+v", u)
	}

	ws, err := c.Workers(ctx)
	check("Workers", err, "GET /api/admin/workers ")
	if err == nil && (ws.Count != 1 || ws.Workers[0].CPUCores != 16 || ws.Workers[0].LastHeartbeat.IsZero()) {
		t.Errorf("workers = %+v", ws)
	}
	wk, err := c.CreateWorker(ctx, apitype.WorkerRequest{Name: "gpu-a", Node: "n1", CPUCores: ptr(32), MemoryGB: ptr(256), GPUCount: ptr(4)})
	check("CreateWorker", err, `POST /api/admin/workers {"name":"gpu-a","node":"n1","cpu_cores":32,"memory_gb":256,"gpu_count":4}`)
	if err == nil && wk.ID != 3 {
		t.Errorf("created %+v", wk)
	}
	wk, err = c.UpdateWorker(ctx, 3, apitype.WorkerRequest{MemoryGB: ptr(128)})
	check("UpdateWorker", err, `PATCH /api/admin/workers/3 {"memory_gb":128}`)
	if err == nil && wk.MemoryGB != 128 {
		t.Errorf("updated %+v", wk)
	}
	wk, err = c.DrainWorker(ctx, 3)
	check("DrainWorker", err, "POST /api/admin/workers/3/drain ")
	if err == nil && wk.Status != "drained" {
		t.Errorf("drained %+v", wk)
	}
	wk, err = c.ResumeWorker(ctx, 3)
	check("ResumeWorker", err, "POST /api/admin/workers/3/resume ")
	if err == nil && wk.Status != "online" {
		t.Errorf("resumed %+v", wk)
	}
	check("DeleteWorker", c.DeleteWorker(ctx, 3, false), "DELETE /api/admin/workers/3 ")
	check("DeleteWorker force", c.DeleteWorker(ctx, 3, true), "DELETE /api/admin/workers/3?force=true ")
}

func TestAdminErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, admin := newAdmin(t, "admin")
	_, err := admin.DrainWorker(ctx, 9)
	if !errors.Is(err, rcq.ErrNotFound) || rcq.CodeOf(err) != "worker_not_found" || err.Error() != "drain worker 9: worker 9 not found" {
		t.Errorf("missing worker: %v", err)
	}
	_, user := newAdmin(t, "user")
	calls := map[string]func() error{
		"list groups: ":     func() error { _, err := user.Groups(ctx); return err },
		"create group x: ":  func() error { _, err := user.CreateGroup(ctx, apitype.GroupRequest{Name: "x"}); return err },
		"update group 9: ":  func() error { _, err := user.UpdateGroup(ctx, 9, apitype.GroupRequest{}); return err },
		"list users: ":      func() error { _, err := user.Users(ctx); return err },
		"update user 9: ":   func() error { _, err := user.UpdateUser(ctx, 9, apitype.UserUpdate{}); return err },
		"list workers: ":    func() error { _, err := user.Workers(ctx); return err },
		"create worker w: ": func() error { _, err := user.CreateWorker(ctx, apitype.WorkerRequest{Name: "w"}); return err },
		"update worker 9: ": func() error { _, err := user.UpdateWorker(ctx, 9, apitype.WorkerRequest{}); return err },
		"drain worker 9: ":  func() error { _, err := user.DrainWorker(ctx, 9); return err },
		"resume worker 9: ": func() error { _, err := user.ResumeWorker(ctx, 9); return err },
		"delete worker 9: ": func() error { return user.DeleteWorker(ctx, 9, true) },
	}
	for prefix, call := range calls {
		err := call()
		if !errors.Is(err, &rcq.Error{Kind: rcq.KindForbidden, Code: "admin_required"}) || err.Error() != prefix+"this route is for admins only" {
			t.Errorf("non-admin: %v", err)
		}
	}
}

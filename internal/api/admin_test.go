package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// adminRoutes are the /api/admin routes the server declares, with {id} = 1.
func adminRoutes(t *testing.T, s *api.Server) []api.Route {
	t.Helper()
	var out []api.Route
	for _, rt := range s.Routes() {
		if strings.HasPrefix(rt.Pattern, "/api/admin") {
			rt.Pattern = strings.ReplaceAll(rt.Pattern, "{id}", "1")
			out = append(out, rt)
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d admin routes declared", len(out))
	}
	return out
}

func TestAdminRoutesRefuseNonAdmins(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	// A demoted admin keeps a valid token but loses the powers at once.
	carol, carolT := e.newUser("carol@example.org", true)
	no := false
	if _, err := e.st.UpdateUser(context.Background(), carol, rcq.UserPatch{IsAdmin: &no}); err != nil {
		t.Fatal(err)
	}
	before := snapshotAdminState(t, e)
	for _, rt := range adminRoutes(t, e.api) {
		if rt.Policy != api.Admin {
			t.Errorf("%s %s has policy %s, want admin", rt.Method, rt.Pattern, rt.Policy)
		}
		body := `{"name":"x","node":"n","cpu_cores":1,"is_admin":true,"priority":5}`
		if rt.Method == "GET" {
			body = ""
		}
		for _, c := range []struct {
			who    string
			token  string
			status int
		}{{"user", e.aliceT, 403}, {"no token", "", 401}, {"demoted admin", carolT, 403}, {"bad token", "x.y.z", 401}} {
			r := e.do(req{method: rt.Method, path: rt.Pattern, token: c.token, body: nilIfEmpty(body)})
			if r.status != c.status {
				t.Errorf("%s %s as %s: got %s, want %d", rt.Method, rt.Pattern, c.who, r, c.status)
			}
		}
	}
	if after := snapshotAdminState(t, e); after != before {
		t.Errorf("refused admin requests changed state:\n%s\n->\n%s", before, after)
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// snapshotAdminState renders what admin routes can change.
func snapshotAdminState(t *testing.T, e *env) string {
	t.Helper()
	ctx := context.Background()
	gs, err1 := e.st.Groups(ctx)
	us, err2 := e.st.Users(ctx)
	ws, err3 := e.st.Workers(ctx)
	if err1 != nil || err2 != nil || err3 != nil {
		t.Fatal(err1, err2, err3)
	}
	for i := range ws {
		ws[i].LastHeartbeat = ws[i].LastHeartbeat.UTC().Truncate(0)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%+v\n", gs)
	for _, u := range us {
		fmt.Fprintf(&b, "%d %s %d %v %q\n", u.ID, u.Email, u.GroupID, u.IsAdmin, u.UnixUser)
	}
	for _, w := range ws {
		fmt.Fprintf(&b, "%d %s %v %s\n", w.ID, w.Name, w.Capacity, w.State)
	}
	return b.String()
}

func TestAdminGroups(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.adminT
	r := e.get("/api/admin/groups", tok)
	want(t, r, http.StatusOK, "")
	if !strings.Contains(string(r.body), `"name":"default"`) || !strings.Contains(string(r.body), `"count":1`) {
		t.Errorf("groups = %s", r.body)
	}
	if gl := decodeTo[apitype.GroupList](t, r); gl.Count != 1 || len(gl.Groups) != 1 || gl.Groups[0].Name != "default" {
		t.Errorf("groups as apitype.GroupList = %+v", gl)
	}
	r = e.post("/api/admin/groups", tok, map[string]any{"name": "physics", "cpu_quota": 250.5, "priority": 4})
	want(t, r, http.StatusCreated, "")
	g := decodeTo[apitype.Group](t, r)
	if g.ID <= 1 || g.Name != "physics" || g.CPUQuota != 250.5 || g.Priority != 4 {
		t.Errorf("created group = %+v", g)
	}
	if d := decodeTo[apitype.Group](t, e.post("/api/admin/groups", tok, map[string]any{"name": "defaults"})); d.CPUQuota != 1000 || d.Priority != 1 {
		t.Errorf("group with defaults = %+v", d)
	}
	want(t, e.post("/api/admin/groups", tok, map[string]any{"name": "physics"}), http.StatusConflict, "group_exists")
	want(t, e.post("/api/admin/groups", tok, map[string]any{"name": ""}), http.StatusBadRequest, "invalid_name")
	want(t, e.post("/api/admin/groups", tok, map[string]any{"name": strings.Repeat("n", 101)}), http.StatusBadRequest, "invalid_name")
	want(t, e.post("/api/admin/groups", tok, map[string]any{"name": "p2", "priority": 11}), http.StatusBadRequest, "invalid_priority")
	want(t, e.post("/api/admin/groups", tok, map[string]any{"name": "p3", "cpu_quota": -1}), http.StatusBadRequest, "invalid_cpu_quota")
	want(t, e.post("/api/admin/groups", tok, `{"name":"p4","id":9}`), http.StatusBadRequest, "unknown_field")

	path := fmt.Sprintf("/api/admin/groups/%d", g.ID)
	r = e.do(req{method: "PATCH", path: path, token: tok, body: map[string]any{"priority": 9}})
	want(t, r, http.StatusOK, "")
	if u := decodeTo[apitype.Group](t, r); u.Priority != 9 || u.CPUQuota != 250.5 {
		t.Errorf("updated group = %+v", u)
	}
	want(t, e.do(req{method: "PATCH", path: "/api/admin/groups/999", token: tok, body: map[string]any{"priority": 2}}), http.StatusNotFound, "group_not_found")
	want(t, e.do(req{method: "PATCH", path: path, token: tok, body: map[string]any{"name": "renamed"}}), http.StatusBadRequest, "invalid_name")
	want(t, e.do(req{method: "PATCH", path: path, token: tok, body: map[string]any{"priority": 0}}), http.StatusBadRequest, "invalid_priority")
	want(t, e.do(req{method: "PATCH", path: "/api/admin/groups/abc", token: tok, body: map[string]any{"priority": 2}}), http.StatusBadRequest, "invalid_id")
}

func TestAdminUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.adminT
	r := e.get("/api/admin/users", tok)
	want(t, r, http.StatusOK, "")
	if strings.Contains(string(r.body), "$2a$") || strings.Contains(strings.ToLower(string(r.body)), "hash") {
		t.Errorf("user list leaks password hashes: %s", r.body)
	}
	if ul := decodeTo[apitype.UserList](t, r); ul.Count != 3 || len(ul.Users) != 3 {
		t.Errorf("users as apitype.UserList = %+v", ul)
	}
	if !strings.Contains(string(r.body), `"count":3`) {
		t.Errorf("users = %s", r.body)
	}
	gid := decodeTo[apitype.Group](t, e.post("/api/admin/groups", tok, map[string]any{"name": "chem"})).ID
	path := fmt.Sprintf("/api/admin/users/%d", e.alice)
	patch := func(p string, body any) resp { return e.do(req{method: "PATCH", path: p, token: tok, body: body}) }
	r = patch(path, map[string]any{"group_id": gid})
	want(t, r, http.StatusOK, "")
	if u := decodeTo[apitype.User](t, r); u.GroupID != gid || u.UnixUser != "" || u.IsAdmin {
		t.Errorf("patched user = %+v", u)
	}
	// The new group applies to the next submit at once: the token is not trusted for it.
	id := e.submit(e.aliceT, nil)
	if j := e.job(id); j.GroupID != rcq.GroupID(gid) {
		t.Errorf("job after a group change is in group %d, want %d", j.GroupID, gid)
	}
	// Promotion takes effect with the old token.
	want(t, e.get("/api/admin/users", e.aliceT), http.StatusForbidden, "admin_required")
	want(t, patch(path, map[string]any{"is_admin": true}), http.StatusOK, "")
	want(t, e.get("/api/admin/users", e.aliceT), http.StatusOK, "")

	want(t, patch("/api/admin/users/9999", map[string]any{"is_admin": true}), http.StatusNotFound, "user_not_found")
	want(t, patch(path, map[string]any{"group_id": 9999}), http.StatusBadRequest, "invalid_group_id")
	want(t, patch(path, map[string]any{"group_id": 0}), http.StatusBadRequest, "invalid_group_id")
	want(t, patch(path, map[string]any{"unix_user": "root"}), http.StatusBadRequest, "invalid_unix_user")
	want(t, patch(path, map[string]any{"unix_user": "Bad Name"}), http.StatusBadRequest, "invalid_unix_user")
	want(t, patch(path, map[string]any{"email": "x@example.org"}), http.StatusBadRequest, "unknown_field")
	want(t, patch(path, map[string]any{"is_admin": "yes"}), http.StatusBadRequest, "")
}

func TestAdminWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.adminT
	r := e.get("/api/admin/workers", tok)
	want(t, r, http.StatusOK, "")
	if !strings.Contains(string(r.body), `"name":"w1"`) {
		t.Errorf("workers = %s", r.body)
	}
	if wl := decodeTo[apitype.WorkerList](t, r); wl.Count != 1 || len(wl.Workers) != 1 || wl.Workers[0].Name != "w1" {
		t.Errorf("workers as apitype.WorkerList = %+v", wl)
	}
	r = e.post("/api/admin/workers", tok, map[string]any{"name": "big", "node": "node1", "cpu_cores": 64, "memory_gb": 512, "gpu_count": 8})
	want(t, r, http.StatusCreated, "")
	w := decodeTo[apitype.Worker](t, r)
	if w.ID <= 0 || w.CPUCores != 64 || w.MemoryGB != 512 || w.GPUCount != 8 || w.Status != "online" {
		t.Errorf("created worker = %+v", w)
	}
	// A job that fitted nowhere now fits.
	e.submit(e.aliceT, map[string]any{"cpu_cores": 32})
	for _, c := range []struct {
		body any
		code int
		err  string
	}{
		{map[string]any{"name": "big", "node": "node1", "cpu_cores": 1, "memory_gb": 1}, 409, "worker_exists"},
		{map[string]any{"name": "nocpu", "node": "n"}, 400, "invalid_cpu_cores"},
		{map[string]any{"name": "nomem", "node": "node1", "cpu_cores": 1}, 400, "invalid_memory_gb"},
		{map[string]any{"name": "zeromem", "node": "node1", "cpu_cores": 1, "memory_gb": 0}, 400, "invalid_memory_gb"},
		{map[string]any{"name": "zero", "node": "n", "cpu_cores": 0}, 400, "invalid_cpu_cores"},
		{map[string]any{"name": "nonode", "cpu_cores": 1}, 400, "invalid_node"},
		{map[string]any{"name": "", "node": "n", "cpu_cores": 1}, 400, "invalid_name"},
		{map[string]any{"name": "neg", "node": "n", "cpu_cores": 1, "memory_gb": -1}, 400, "invalid_memory_gb"},
		{map[string]any{"name": "gpus", "node": "n", "cpu_cores": 1, "gpu_count": 1 << 20}, 400, "invalid_gpu_count"},
		{map[string]any{"name": "st", "node": "n", "cpu_cores": 1, "status": "broken"}, 400, "invalid_status"},
	} {
		want(t, e.post("/api/admin/workers", tok, c.body), c.code, c.err)
	}
	path := fmt.Sprintf("/api/admin/workers/%d", w.ID)
	r = e.do(req{method: "PATCH", path: path, token: tok, body: map[string]any{"cpu_cores": 48}})
	want(t, r, http.StatusOK, "")
	if u := decodeTo[apitype.Worker](t, r); u.CPUCores != 48 || u.MemoryGB != 512 {
		t.Errorf("patched worker = %+v", u)
	}
	want(t, e.do(req{method: "PATCH", path: path, token: tok, body: map[string]any{"name": "other"}}), http.StatusBadRequest, "invalid_name")
	want(t, e.do(req{method: "PATCH", path: path, token: tok, body: map[string]any{"status": "sleepy"}}), http.StatusBadRequest, "invalid_status")
	want(t, e.do(req{method: "PATCH", path: "/api/admin/workers/999", token: tok, body: map[string]any{"cpu_cores": 2}}), http.StatusNotFound, "worker_not_found")

	r = e.post(path+"/drain", tok, nil)
	want(t, r, http.StatusOK, "")
	if u := decodeTo[apitype.Worker](t, r); u.Status != "drained" {
		t.Errorf("drained worker status %q", u.Status)
	}
	if wk, _ := e.st.WorkerByID(context.Background(), rcq.WorkerID(w.ID)); wk.State != rcq.WorkerDrained {
		t.Errorf("stored worker state %s", wk.State)
	}
	r = e.post(path+"/resume", tok, nil)
	want(t, r, http.StatusOK, "")
	if u := decodeTo[apitype.Worker](t, r); u.Status != "online" {
		t.Errorf("resumed worker status %q", u.Status)
	}
	want(t, e.post("/api/admin/workers/999/drain", tok, nil), http.StatusNotFound, "worker_not_found")
	want(t, e.post("/api/admin/workers/999/resume", tok, nil), http.StatusNotFound, "worker_not_found")
	want(t, e.post("/api/admin/workers/zero/drain", tok, nil), http.StatusBadRequest, "invalid_id")
}

// Every route the router serves has a declared policy, and the router serves
// exactly the declared routes.
func TestEveryRouteHasAPolicy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	declared := map[string]api.Route{}
	for _, rt := range e.api.Routes() {
		key := rt.Method + " " + rt.Pattern
		if _, dup := declared[key]; dup {
			t.Errorf("route %s declared twice", key)
		}
		declared[key] = rt
		if rt.Policy != api.Public && rt.Policy != api.User && rt.Policy != api.Admin {
			t.Errorf("route %s has no declared policy (%s)", key, rt.Policy)
		}
	}
	served := map[string]bool{}
	err := chi.Walk(e.api.Mux(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		key := method + " " + route
		served[key] = true
		if route == "/ui" || route == "/ui/*" {
			// The dashboard (internal/ui): every fact and action of its
			// pages is a call to the declared routes with the browser
			// session's token; its page table says which need a session.
			return nil
		}
		if _, ok := declared[key]; !ok {
			t.Errorf("the router serves %s, which has no declared route and policy", key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for key := range declared {
		if !served[key] {
			t.Errorf("declared route %s is not served", key)
		}
	}
	// Public routes are the few that must be.
	for key, rt := range declared {
		isPublic := key == "GET /health" || key == "POST /api/auth/register" || key == "POST /api/auth/login" || key == "GET /metrics"
		if key == "GET /metrics" && !rt.UnixOnly {
			t.Errorf("route %s is served on TCP: metrics go to TCP only through metrics.listen", key)
		}
		if (rt.Policy == api.Public) != isPublic {
			t.Errorf("route %s is %s", key, rt.Policy)
		}
		if strings.HasPrefix(rt.Pattern, "/api/admin") || strings.HasPrefix(rt.Pattern, "/debug") {
			if rt.Policy != api.Admin {
				t.Errorf("route %s is %s, want admin", key, rt.Policy)
			}
		}
	}
	// Unknown routes are a JSON 404.
	r := e.get("/api/nope", e.aliceT)
	want(t, r, http.StatusNotFound, "no_route")
	if r := e.do(req{method: "PUT", path: "/api/jobs", token: e.aliceT, body: "{}"}); r.status < 400 || r.status >= 500 {
		t.Errorf("PUT /api/jobs: %s", r)
	}
}

// pprof is served only on the Unix socket, and only to admins there.
func TestPprofUnixOnlyAdminOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config, d *api.Deps) {
		c.OwnerUID = 1000 // personal mode: only uid 1000 may use the socket
		d.UnixUsers = fakeUnix{1000: "owner", 1001: "other"}
	})
	e.mapUnixUser(e.admin, "owner") // as bootstrap does in personal mode
	want(t, e.get("/debug/pprof/", e.adminT), http.StatusNotFound, "no_route")
	want(t, e.get("/debug/pprof/cmdline", e.adminT), http.StatusNotFound, "no_route")
	serve := func(path string, uid int, token string) int {
		r := httptest.NewRequest("GET", path, nil)
		r = r.WithContext(api.WithConnInfo(r.Context(), api.ConnInfo{Unix: true, Peer: fmt.Sprintf("uid:%d", uid), UID: uid, HasUID: true}))
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		e.api.ServeHTTP(w, r)
		return w.Code
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/goroutine"} {
		for _, c := range []struct {
			who   string
			uid   int
			token string
			want  int
		}{
			{"the owner without a token (admin@localhost)", 1000, "", 200},
			{"the owner with alice's token", 1000, e.aliceT, 403},
			{"the owner with the admin's token", 1000, e.adminT, 200},
			{"another uid with the admin's token", 1001, e.adminT, 403},
		} {
			if got := serve(path, c.uid, c.token); got != c.want {
				t.Errorf("GET %s on the socket as %s: %d, want %d", path, c.who, got, c.want)
			}
		}
	}
}

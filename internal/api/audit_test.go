package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// withRequestIDs serves e's API behind chi's RequestID middleware, as rcqd
// does, so audit rows carry request ids.
func withRequestIDs(e *env) {
	e.srv.Close()
	e.srv = httptest.NewServer(middleware.RequestID(e.api))
	e.t.Cleanup(e.srv.Close)
}

// audit lists the audit rows the query selects, as the admin.
func (e *env) audit(query string) []apitype.AuditEvent {
	e.t.Helper()
	r := e.get("/api/admin/audit?"+query, e.adminT)
	want(e.t, r, http.StatusOK, "")
	return decodeTo[apitype.AuditList](e.t, r).Events
}

// sqlExec runs statements on the test's database behind the store's back:
// the faults the audit log must survive.
func (e *env) sqlExec(sql string) error {
	e.t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, sql)
	return err
}

func field(t *testing.T, raw json.RawMessage, name string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return m[name]
}

func TestAuditAdminChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	withRequestIDs(e)
	patch := func(path string, body any) resp {
		return e.do(req{method: "PATCH", path: path, token: e.adminT, body: body})
	}
	r := e.post("/api/admin/groups", e.adminT, map[string]any{"name": "physics", "cpu_quota": 10})
	want(t, r, http.StatusCreated, "")
	g := decodeTo[apitype.Group](t, r)
	want(t, patch(fmt.Sprintf("/api/admin/groups/%d", g.ID), map[string]any{"cpu_quota": 20}), 200, "")
	want(t, patch(fmt.Sprintf("/api/admin/users/%d", e.alice), map[string]any{"group_id": g.ID}), 200, "")
	r = e.post("/api/admin/workers", e.adminT, map[string]any{"name": "w2", "node": "node1", "cpu_cores": 4, "memory_gb": 8})
	want(t, r, http.StatusCreated, "")
	wk := decodeTo[apitype.Worker](t, r)
	want(t, e.post(fmt.Sprintf("/api/admin/workers/%d/drain", wk.ID), e.adminT, nil), 200, "")
	want(t, e.post(fmt.Sprintf("/api/admin/workers/%d/resume", wk.ID), e.adminT, nil), 200, "")
	want(t, patch(fmt.Sprintf("/api/admin/workers/%d", wk.ID), map[string]any{"cpu_cores": 6}), 200, "")
	want(t, e.post("/api/auth/register", e.adminT, map[string]any{"email": "dan@example.org", "password": password}), 201, "")
	// Not audited: a self-registration, and an account's own reads.
	want(t, e.post("/api/auth/register", "", map[string]any{"email": "eve@example.org", "password": password}), 201, "")
	want(t, e.post("/api/auth/password", e.bobT, map[string]any{"old_password": password, "new_password": "another good password"}), 200, "")
	want(t, e.post("/api/auth/logout?all=true", e.aliceT, nil), 200, "")

	got := e.audit("")
	var actions []string
	for _, ev := range got {
		actions = append(actions, ev.Action+" "+ev.TargetKind+":"+ev.TargetID)
		if ev.Outcome != rcq.AuditOK || ev.RequestID == "" || ev.Peer == "" || ev.At.IsZero() {
			t.Errorf("row %+v: want outcome ok, a request id, a peer and a time", ev)
		}
	}
	wantActions := []string{
		fmt.Sprintf("account.logout_all account:%d", e.alice),
		fmt.Sprintf("account.password account:%d", e.bob),
		"account.create account:" + fmt.Sprint(e.userCount()-1), // dan, before eve
		fmt.Sprintf("worker.update worker:%d", wk.ID),
		fmt.Sprintf("worker.resume worker:%d", wk.ID),
		fmt.Sprintf("worker.drain worker:%d", wk.ID),
		fmt.Sprintf("worker.create worker:%d", wk.ID),
		fmt.Sprintf("account.update account:%d", e.alice),
		fmt.Sprintf("group.update group:%d", g.ID),
		fmt.Sprintf("group.create group:%d", g.ID),
	}
	if strings.Join(actions, "\n") != strings.Join(wantActions, "\n") {
		t.Fatalf("audit rows, newest first:\n%s\nwant:\n%s", strings.Join(actions, "\n"), strings.Join(wantActions, "\n"))
	}
	byAction := map[string]apitype.AuditEvent{}
	for _, ev := range got {
		byAction[ev.Action] = ev
	}
	up := byAction["group.update"]
	if up.ActorEmail != "admin@localhost" || up.ActorID != int64(e.admin) ||
		field(t, up.Before, "cpu_quota") != 10.0 || field(t, up.After, "cpu_quota") != 20.0 {
		t.Errorf("group.update row: %+v (before %s after %s)", up, up.Before, up.After)
	}
	if up.Peer != "127.0.0.1" {
		t.Errorf("peer of a TCP request = %q, want the client's address 127.0.0.1", up.Peer)
	}
	acc := byAction["account.update"]
	if field(t, acc.Before, "group_id") != 1.0 || field(t, acc.After, "group_id") != float64(g.ID) {
		t.Errorf("account.update before %s after %s", acc.Before, acc.After)
	}
	if dr := byAction["worker.drain"]; field(t, dr.Before, "status") != "online" || field(t, dr.After, "status") != "drained" {
		t.Errorf("worker.drain before %s after %s", dr.Before, dr.After)
	}
	pw := byAction["account.password"]
	if pw.ActorID != int64(e.bob) || len(pw.Before) != 0 && string(pw.Before) != "null" || len(pw.After) != 0 && string(pw.After) != "null" {
		t.Errorf("account.password row records values: %+v", pw)
	}
	if strings.Contains(fmt.Sprint(got), "another good password") {
		t.Error("a password reached the audit log")
	}
}

func TestAuditOtherUsersJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a1 := e.submit(e.aliceT, nil)
	path := fmt.Sprintf("/api/jobs/%d", a1)
	want(t, e.post(path+"/hold", e.adminT, nil), 200, "")
	want(t, e.post(path+"/release", e.adminT, nil), 200, "")
	want(t, e.do(req{method: "PATCH", path: path, token: e.adminT, body: map[string]any{"name": "renamed"}}), 200, "")
	e.start(a1)
	want(t, e.post(path+"/signal", e.adminT, map[string]any{"signal": "USR1"}), 200, "")
	want(t, e.do(req{method: "DELETE", path: path, token: e.adminT}), 200, "")
	// Not audited: a user's own jobs, and an admin's own.
	own := e.submit(e.aliceT, nil)
	want(t, e.post(fmt.Sprintf("/api/jobs/%d/hold", own), e.aliceT, nil), 200, "")
	want(t, e.do(req{method: "DELETE", path: fmt.Sprintf("/api/jobs/%d", own), token: e.aliceT}), 200, "")
	adm := e.submit(e.adminT, nil)
	want(t, e.do(req{method: "DELETE", path: fmt.Sprintf("/api/jobs/%d", adm), token: e.adminT}), 200, "")
	// A bulk cancel by an admin: one row with the filter and the count.
	b1, b2 := e.submit(e.bobT, nil), e.submit(e.bobT, nil)
	e.submit(e.adminT, nil)
	r := e.post("/api/jobs/cancel", e.adminT, map[string]any{"states": []string{"pending"}})
	want(t, r, 200, "")
	if n := decodeTo[apitype.CancelResponse](t, r).Count; n != 3 {
		t.Fatalf("bulk cancel cancelled %d, want 3", n)
	}
	want(t, e.post(path+"/requeue", e.adminT, nil), 200, "")

	got := e.audit("target=job:" + fmt.Sprint(a1))
	var actions []string
	for _, ev := range got {
		actions = append(actions, ev.Action)
		if ev.ActorID != int64(e.admin) || !strings.Contains(ev.Detail, fmt.Sprintf("owner %d", e.alice)) {
			t.Errorf("row %+v: want the admin as actor and alice as owner", ev)
		}
	}
	if w := "job.requeue job.cancel job.signal job.update job.release job.hold"; strings.Join(actions, " ") != w {
		t.Fatalf("rows for job %d: %v, want %s", a1, actions, w)
	}
	if rq := got[0]; field(t, rq.Before, "state") != "cancelled" || field(t, rq.After, "state") != "pending" || field(t, rq.After, "restarts") != 1.0 {
		t.Errorf("job.requeue before %s after %s", rq.Before, rq.After)
	}
	if c := got[1]; field(t, c.Before, "state") != "running" || field(t, c.After, "state") != "cancelled" {
		t.Errorf("job.cancel before %s after %s", c.Before, c.After)
	}
	if u := got[3]; field(t, u.After, "name") != "renamed" {
		t.Errorf("job.update after %s", u.After)
	}
	if s := got[2]; !strings.HasPrefix(s.Detail, "USR1") {
		t.Errorf("job.signal detail %q, want the signal", s.Detail)
	}
	for _, id := range []int64{own, adm} {
		if rows := e.audit("target=job:" + fmt.Sprint(id)); len(rows) != 0 {
			t.Errorf("job %d: an owner's own action was audited: %+v", id, rows)
		}
	}
	bulk := e.audit("action=job.cancel_bulk")
	if len(bulk) != 1 {
		t.Fatalf("bulk cancel rows: %+v", bulk)
	}
	after := fmt.Sprint(field(t, bulk[0].After, "cancelled"))
	if field(t, bulk[0].After, "count") != 2.0 || after != fmt.Sprint([]any{float64(b1), float64(b2)}) ||
		fmt.Sprint(field(t, bulk[0].Before, "filter")) != "map[states:[pending]]" {
		t.Errorf("bulk row before %s after %s: want bob's 2 jobs and the filter", bulk[0].Before, bulk[0].After)
	}
	if jobs := e.audit("action=job."); len(jobs) != 7 {
		t.Errorf("action=job. selects %d rows, want 7", len(jobs))
	}
}

func TestAuditRefusedAdminCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	withRequestIDs(e)
	r := e.get("/api/admin/audit", e.aliceT)
	want(t, r, http.StatusForbidden, "admin_required")
	want(t, e.post("/api/admin/groups", e.bobT, map[string]any{"name": "mine"}), http.StatusForbidden, "admin_required")
	got := e.audit("")
	if len(got) != 2 {
		t.Fatalf("rows: %+v, want the two refusals", got)
	}
	for i, w := range []struct {
		who   rcq.UserID
		email string
		route string
	}{{e.bob, "bob@example.org", "POST /api/admin/groups"}, {e.alice, "alice@example.org", "GET /api/admin/audit"}} {
		ev := got[i]
		if ev.Outcome != rcq.AuditRefused || ev.Action != "admin.denied" || ev.ActorID != int64(w.who) ||
			ev.ActorEmail != w.email || ev.TargetKind != "route" || ev.TargetID != w.route || ev.RequestID == "" {
			t.Errorf("row %d: %+v, want a refused row of %s for %s", i, ev, w.email, w.route)
		}
	}
	if gs, _ := e.st.Groups(context.Background()); len(gs) != 1 {
		t.Errorf("the refused call made a group: %+v", gs)
	}
}

// An audit row that cannot be written fails the change: 503, and nothing
// changed.
func TestAuditWriteFailureFailsTheChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a1 := e.submit(e.aliceT, nil)
	if err := e.sqlExec(`ALTER TABLE audit_events ADD CONSTRAINT test_refuse CHECK (action NOT IN ('group.update', 'job.cancel', 'worker.drain', 'account.update'))`); err != nil {
		t.Fatal(err)
	}
	r := e.do(req{method: "PATCH", path: "/api/admin/groups/1", token: e.adminT, body: map[string]any{"cpu_quota": 5}})
	want(t, r, http.StatusServiceUnavailable, "audit_failed")
	if g, err := e.st.GroupByID(context.Background(), 1); err != nil || g.CPUQuota != 1000 {
		t.Errorf("group 1 after a failed audit: %+v %v, want quota 1000 unchanged", g, err)
	}
	want(t, e.do(req{method: "DELETE", path: fmt.Sprintf("/api/jobs/%d", a1), token: e.adminT}), http.StatusServiceUnavailable, "audit_failed")
	if j := e.job(a1); j.State != rcq.JobPending {
		t.Errorf("job %d is %s after a failed audit, want pending", a1, j.State)
	}
	want(t, e.post(fmt.Sprintf("/api/admin/workers/%d/drain", e.worker), e.adminT, nil), http.StatusServiceUnavailable, "audit_failed")
	if ws, _ := e.st.Workers(context.Background()); ws[0].State != rcq.WorkerOnline {
		t.Errorf("worker after a failed audit: %+v", ws[0])
	}
	yes := true
	want(t, e.do(req{method: "PATCH", path: fmt.Sprintf("/api/admin/users/%d", e.bob), token: e.adminT, body: map[string]any{"is_admin": yes}}),
		http.StatusServiceUnavailable, "audit_failed")
	if u, _, _ := e.st.UserByID(context.Background(), e.bob); u.IsAdmin {
		t.Error("bob became admin although the audit row failed")
	}
	// The owner's own cancel is not audited, so it still works.
	want(t, e.do(req{method: "DELETE", path: fmt.Sprintf("/api/jobs/%d", a1), token: e.aliceT}), 200, "")
	if rows := e.audit(""); len(rows) != 0 {
		t.Errorf("rows written: %+v", rows)
	}
}

// Rows cannot be changed: no route writes them but the changes themselves,
// and the database refuses UPDATE from anyone.
func TestAuditRowsCannotBeChanged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	want(t, e.post("/api/admin/groups", e.adminT, map[string]any{"name": "g2"}), 201, "")
	for _, rt := range e.api.Routes() {
		if strings.Contains(rt.Pattern, "audit") && rt.Method != "GET" {
			t.Errorf("%s %s changes the audit log", rt.Method, rt.Pattern)
		}
	}
	for _, m := range []string{"DELETE", "PATCH", "PUT", "POST"} {
		if r := e.do(req{method: m, path: "/api/admin/audit", token: e.adminT, body: "{}"}); r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s /api/admin/audit: %s, want 405", m, r)
		}
	}
	err := e.sqlExec(`UPDATE audit_events SET actor_email = 'someone@else'`)
	if err == nil || !strings.Contains(err.Error(), "cannot be changed") {
		t.Errorf("UPDATE audit_events: %v, want refused by the trigger", err)
	}
	if rows := e.audit(""); len(rows) != 1 || rows[0].ActorEmail != "admin@localhost" {
		t.Errorf("rows after the refused UPDATE: %+v", rows)
	}
}

func TestAuditFiltersAndPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for i := range 5 {
		want(t, e.post("/api/admin/groups", e.adminT, map[string]any{"name": fmt.Sprintf("g%d", i)}), 201, "")
	}
	want(t, e.get("/api/admin/groups", e.bobT), http.StatusForbidden, "")

	var ids []int64
	cursor := ""
	for range 4 {
		r := e.get("/api/admin/audit?limit=2&cursor="+url.QueryEscape(cursor), e.adminT)
		want(t, r, 200, "")
		page := decodeTo[apitype.AuditList](t, r)
		for _, ev := range page.Events {
			ids = append(ids, ev.ID)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if len(ids) != 6 {
		t.Fatalf("paged through %d rows, want 6: %v", len(ids), ids)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Fatalf("ids not newest first without repeats: %v", ids)
		}
	}
	count := func(q string) int { return len(e.audit(q)) }
	for _, c := range []struct {
		q    string
		want int
	}{
		{"actor=admin@localhost", 5},
		{"actor=ADMIN@localhost", 5},
		{fmt.Sprintf("actor=%d", e.bob), 1},
		{"actor=bob@example.org", 1},
		{"target=group", 5},
		{"target=group:3", 1},
		{"target=route", 1},
		{"action=group.create", 5},
		{"action=group.", 5},
		{"action=admin.denied", 1},
		{"since=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), 0},
		{"until=" + url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)), 0},
		{"since=" + url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)), 6},
	} {
		if got := count(c.q); got != c.want {
			t.Errorf("%s: %d rows, want %d", c.q, got, c.want)
		}
	}
	for _, c := range []struct{ q, field string }{
		{"since=yesterday", "since"}, {"until=2026-13-01", "until"}, {"actor=bob", "actor"},
		{"target=queue:1", "target"}, {"cursor=abc", "cursor"}, {"limit=0", "limit"},
	} {
		r := e.get("/api/admin/audit?"+c.q, e.adminT)
		want(t, r, http.StatusBadRequest, "")
		if !strings.Contains(r.errBody(t).Error, c.field) {
			t.Errorf("%s: %s, want a message naming %s", c.q, r, c.field)
		}
	}
}

// Behind a trusted proxy the row names the client the proxy saw, and the
// proxy; a client's own X-Forwarded-For is not believed.
func TestAuditPeerBehindAProxy(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config, _ *api.Deps) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	want(t, e.do(req{method: "GET", path: "/api/admin/users", token: e.aliceT, remote: "198.51.100.7, 203.0.113.9"}), http.StatusForbidden, "")
	untrusted := newEnv(t, nil)
	want(t, untrusted.do(req{method: "GET", path: "/api/admin/users", token: untrusted.aliceT, remote: "203.0.113.9"}), http.StatusForbidden, "")
	if rows := e.audit(""); len(rows) != 1 || rows[0].Peer != "203.0.113.9 via 127.0.0.1" {
		t.Errorf("rows behind a trusted proxy: %+v, want peer 203.0.113.9 via 127.0.0.1", rows)
	}
	if rows := untrusted.audit(""); len(rows) != 1 || rows[0].Peer != "127.0.0.1" {
		t.Errorf("rows without a trusted proxy: %+v, want the connection's address", rows)
	}
}

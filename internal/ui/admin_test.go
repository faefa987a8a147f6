package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

// A user is refused every admin page, with the API's 403 and message, and
// none of their posts changes anything; the nav links the admin page for
// admins only.
func TestAdminPagesRefuseUsers(t *testing.T) {
	e := newEnv(t, false)
	alice := e.browser()
	alice.login("alice@example.org")
	if p := alice.get("/ui/queue"); strings.Contains(p.body, `href="/ui/admin"`) {
		t.Errorf("a user's nav links the admin page")
	}
	for _, path := range []string{"/ui/admin", "/ui/admin/audit", "/ui/admin/change?do=worker.drain&id=1", "/ui/admin/change?do=group.set&id=1&cpu_quota=1"} {
		p := alice.get(path)
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "this route is for admins only") || !strings.Contains(p.body, "Not allowed") {
			t.Errorf("alice GET %s: %d, want the API's 403\n%s", path, p.status, p.body)
		}
	}
	csrf := alice.get("/ui/queue").csrf(t)
	for _, form := range []url.Values{
		{"csrf": {csrf}, "do": {"worker.drain"}, "id": {"1"}},
		{"csrf": {csrf}, "do": {"group.create"}, "name": {"mine"}},
		{"csrf": {csrf}, "do": {"user.set"}, "id": {fmt.Sprint(e.users["alice@example.org"])}, "is_admin": {"yes"}},
	} {
		if p := alice.do("POST", "/ui/admin/change", form); p.status != http.StatusForbidden {
			t.Errorf("alice POST %v: %d, want 403\n%s", form, p.status, p.body)
		}
	}
	ctx := context.Background()
	ws, _ := e.st.Workers(ctx)
	gs, _ := e.st.Groups(ctx)
	u, _, _ := e.st.UserByID(ctx, e.users["alice@example.org"])
	if ws[0].State != rcq.WorkerOnline || len(gs) != 1 || u.IsAdmin {
		t.Fatalf("a user's admin posts changed something: worker %s, %d groups, alice admin %v", ws[0].State, len(gs), u.IsAdmin)
	}
	admin := e.browser()
	admin.login("admin@localhost")
	if p := admin.get("/ui/queue"); !strings.Contains(p.body, `href="/ui/admin"`) {
		t.Errorf("an admin's nav lacks the admin page")
	}
	// The refusals are in the audit log, as the API writes them.
	if p := admin.get("/ui/admin/audit?action=admin.denied"); p.status != http.StatusOK || !strings.Contains(p.body, "alice@example.org") {
		t.Errorf("the audit log lacks alice's refused calls: %d\n%s", p.status, p.body)
	}
}

// An admin drains a worker through the confirmation page and resumes it;
// each change is the API's, audited; without the CSRF value nothing
// happens.
func TestAdminDrainsAndResumes(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.login("admin@localhost")
	p := b.get("/ui/admin")
	if p.status != http.StatusOK || !strings.Contains(p.body, `id="drain-w1"`) || !strings.Contains(p.body, "Last heartbeat") {
		t.Fatalf("admin page: %d\n%s", p.status, p.body)
	}
	href := regexp.MustCompile(`id="drain-w1" href="([^"]+)"`).FindStringSubmatch(p.body)
	if href == nil {
		t.Fatalf("no drain link")
	}
	confirm := b.get(strings.ReplaceAll(href[1], "&amp;", "&"))
	if confirm.status != http.StatusOK || !strings.Contains(confirm.body, "Drain worker w1 (online)?") {
		t.Fatalf("confirm page: %d\n%s", confirm.status, confirm.body)
	}
	form := url.Values{"do": {"worker.drain"}, "id": {"1"}}
	if p := b.do("POST", "/ui/admin/change", form); p.status != http.StatusForbidden {
		t.Errorf("drain without csrf: %d, want 403", p.status)
	}
	if ws, _ := e.st.Workers(context.Background()); ws[0].State != rcq.WorkerOnline {
		t.Fatalf("a post without csrf drained the worker")
	}
	form.Set("csrf", confirm.csrf(t))
	p = b.do("POST", "/ui/admin/change", form)
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/ui/admin?done=") {
		t.Fatalf("drain: %d %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	if ws, _ := e.st.Workers(context.Background()); ws[0].State != rcq.WorkerDrained {
		t.Fatalf("worker is %s after the drain", ws[0].State)
	}
	p = b.get(p.header.Get("Location"))
	for _, want := range []string{"Done: drained worker w1.", `id="resume-w1"`, "<code>worker.drain</code> worker 1: ok"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("admin page after the drain lacks %q\n%s", want, p.body)
		}
	}
	// Everyone's cluster page shows it drained.
	alice := e.browser()
	alice.login("alice@example.org")
	if p := alice.get("/ui/cluster"); !strings.Contains(p.body, `data-worker="w1" data-state="drained"`) {
		t.Errorf("cluster page does not show w1 drained\n%s", p.body)
	}
	form.Set("do", "worker.resume")
	if p := b.do("POST", "/ui/admin/change", form); p.status != http.StatusSeeOther {
		t.Fatalf("resume: %d\n%s", p.status, p.body)
	}
	if ws, _ := e.st.Workers(context.Background()); ws[0].State != rcq.WorkerOnline {
		t.Fatalf("worker is %s after the resume", ws[0].State)
	}
}

// The forms are validated by the API: its message is shown next to the
// field it names, with the API's status, and nothing changes; a valid
// change is made and shown.
func TestAdminFormsShowTheAPIsMessages(t *testing.T) {
	e := newEnv(t, false)
	b := e.browser()
	b.login("admin@localhost")
	csrf := b.get("/ui/admin").csrf(t)
	alice := fmt.Sprint(e.users["alice@example.org"])
	for _, c := range []struct {
		form  url.Values
		field string
		says  string
	}{
		{url.Values{"do": {"group.set"}, "id": {"1"}, "cpu_quota": {"-5"}}, "cpu_quota", "cpu_quota"},
		{url.Values{"do": {"group.set"}, "id": {"1"}, "cpu_quota": {"lots"}}, "cpu_quota", "expected a number"},
		{url.Values{"do": {"group.set"}, "id": {"1"}, "priority": {"11"}}, "priority", "priority"},
		{url.Values{"do": {"group.create"}, "name": {""}, "cpu_quota": {"5"}}, "name", "name: must be 1 to"},
		{url.Values{"do": {"user.set"}, "id": {alice}, "unix_user": {"root"}}, "unix_user", "unix_user"},
		{url.Values{"do": {"user.set"}, "id": {alice}, "group_id": {"99"}}, "group_id", "group 99 does not exist"},
	} {
		c.form.Set("csrf", csrf)
		p := b.do("POST", "/ui/admin/change", c.form)
		if p.status != http.StatusBadRequest {
			t.Errorf("%v: %d, want 400\n%s", c.form, p.status, p.body)
			continue
		}
		m := regexp.MustCompile(`<span class="err" id="` + c.field + `-err">([^<]*)</span>`).FindStringSubmatch(p.body)
		if m == nil || !strings.Contains(m[1], c.says) {
			t.Errorf("%v: no message saying %q next to %s\n%s", c.form, c.says, c.field, p.body)
		}
		if !strings.Contains(p.body, `value="`+c.form.Get(c.field)+`"`) {
			t.Errorf("%v: the form lost the value typed", c.form)
		}
	}
	ctx := context.Background()
	if g, _ := e.st.GroupByID(ctx, 1); g.CPUQuota != 1000 || g.Priority != 1 {
		t.Fatalf("refused changes changed group 1: %+v", g)
	}
	// Unknown changes and targets.
	if p := b.get("/ui/admin/change?do=drop.tables"); p.status != http.StatusNotFound {
		t.Errorf("unknown change: %d", p.status)
	}
	if p := b.get("/ui/admin/change?do=group.set&id=42"); p.status != http.StatusNotFound || !strings.Contains(p.body, "group 42 not found") {
		t.Errorf("missing group: %d\n%s", p.status, p.body)
	}
	// The confirmation shows the change against the current values.
	p := b.get("/ui/admin/change?do=group.set&id=1&cpu_quota=2500&priority=")
	if !strings.Contains(p.body, "Change group default?") || !strings.Contains(p.body, `value="2500"`) || !strings.Contains(p.body, "now: 1000") {
		t.Errorf("confirm page:\n%s", p.body)
	}
	p = b.do("POST", "/ui/admin/change", url.Values{"csrf": {csrf}, "do": {"group.set"}, "id": {"1"}, "cpu_quota": {"2500"}, "priority": {""}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("valid change: %d\n%s", p.status, p.body)
	}
	if g, _ := e.st.GroupByID(ctx, 1); g.CPUQuota != 2500 || g.Priority != 1 {
		t.Errorf("group 1 after the change: %+v, want quota 2500 and priority 1 (left empty: unchanged)", g)
	}
	p = b.do("POST", "/ui/admin/change", url.Values{"csrf": {csrf}, "do": {"group.create"}, "name": {"physics"}, "cpu_quota": {"50"}, "priority": {"3"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", p.status, p.body)
	}
	if p := b.get("/ui/admin"); !strings.Contains(p.body, `<tr data-group="physics"><td>2</td><td>physics</td><td class="n">50</td><td class="n">3</td>`) {
		t.Errorf("admin page lacks the new group\n%s", p.body)
	}
	p = b.do("POST", "/ui/admin/change", url.Values{"csrf": {csrf}, "do": {"user.set"}, "id": {alice}, "group_id": {"2"}, "unix_user": {""}, "is_admin": {""}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("move alice: %d\n%s", p.status, p.body)
	}
	if u, _, _ := e.st.UserByID(ctx, e.users["alice@example.org"]); u.GroupID != 2 || u.IsAdmin {
		t.Errorf("alice after the change: group %d admin %v", u.GroupID, u.IsAdmin)
	}
}

// The audit log pages with the API's cursor and shows a refused filter
// next to its field.
func TestAuditPaging(t *testing.T) {
	e := newEnv(t, false)
	alice := e.token("alice@example.org")
	for range 55 { // each refused admin call is an audit row
		req, _ := http.NewRequest("GET", e.srv.URL+"/api/admin/groups", nil)
		req.Header.Set("Authorization", "Bearer "+alice)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	b := e.browser()
	b.login("admin@localhost")
	p := b.get("/ui/admin/audit")
	rows := strings.Count(p.body, "admin.denied")
	next := regexp.MustCompile(`<a href="([^"]+)" rel="next"`).FindStringSubmatch(p.body)
	if p.status != http.StatusOK || rows != 50 || next == nil {
		t.Fatalf("first page: %d, %d rows, next %v", p.status, rows, next)
	}
	p = b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if rows := strings.Count(p.body, "admin.denied"); rows != 5 || strings.Contains(p.body, `rel="next"`) {
		t.Errorf("second page: %d rows, want the last 5 and no next link\n%s", rows, p.body)
	}
	p = b.get("/ui/admin/audit?target=planet:3")
	if p.status != http.StatusBadRequest || !regexp.MustCompile(`<p class="err" id="target-err">target: `).MatchString(p.body) {
		t.Errorf("bad filter: %d\n%s", p.status, p.body)
	}
}

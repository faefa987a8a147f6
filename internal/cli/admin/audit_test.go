package admin

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli/clitest"
	"github.com/rcq-project/rcq/internal/client"
)

var auditAt = time.Date(2026, 11, 28, 11, 0, 0, 0, time.UTC)

// fakeAudit answers GET /api/admin/audit with two rows and a next cursor
// when limit=2, and records the query strings.
func fakeAudit(t *testing.T) (*clitest.Env, func() []string) {
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer admin" {
			writeErr(w, http.StatusForbidden, "admin_required", "this route is for admins only")
			return
		}
		l := apitype.AuditList{Events: []apitype.AuditEvent{
			{ID: 9, At: auditAt, ActorID: 1, ActorEmail: "admin@localhost", Peer: "uid:0", Action: "group.update", TargetKind: "group", TargetID: "2",
				Before: json.RawMessage(`{"id":2,"name":"physics","cpu_quota":10,"priority":3}`), After: json.RawMessage(`{"id":2,"name":"physics","cpu_quota":20,"priority":3}`),
				RequestID: "host/abc-000001", Outcome: "ok"},
			{ID: 8, At: auditAt.Add(-time.Minute), ActorID: 3, ActorEmail: "bob@lab", Peer: "203.0.113.9", Action: "admin.denied", TargetKind: "route",
				TargetID: "POST /api/admin/groups", Outcome: "refused", Detail: "not an admin"},
			{ID: 7, At: auditAt.Add(-2 * time.Minute), ActorID: 1, ActorEmail: "admin@localhost", Peer: "uid:0", Action: "worker.create", TargetKind: "worker", TargetID: "3",
				After: json.RawMessage(`{"id":3,"name":"gpu-a","status":"online"}`), Outcome: "ok"},
		}}
		if r.URL.Query().Get("limit") == "2" {
			l.Events, l.Next = l.Events[:2], "YTg"
		}
		l.Count = len(l.Events)
		writeJSON(w, http.StatusOK, l)
	}))
	t.Cleanup(srv.Close)
	e := clitest.NewEnv(t, "rcq-admin", srv.URL)
	e.Vars["RCQ_TOKEN"] = "admin"
	return e, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), queries...) }
}

func TestAuditTable(t *testing.T) {
	e, queries := fakeAudit(t)
	code, out, errOut := runAdmin(e, "audit")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lt := func(d time.Duration) string { return auditAt.Add(d).Local().Format(timeLayout) }
	want := "ID TIME                ACTOR           PEER        ACTION        TARGET                       OUTCOME REQUEST_ID      CHANGE\n" +
		" 9 " + lt(0) + " admin@localhost uid:0       group.update  group:2                      ok      host/abc-000001 cpu_quota=10->20\n" +
		" 8 " + lt(-time.Minute) + " bob@lab         203.0.113.9 admin.denied  route:POST /api/admin/groups refused -               not an admin\n" +
		" 7 " + lt(-2*time.Minute) + " admin@localhost uid:0       worker.create worker:3                     ok      -               name=gpu-a status=online\n"
	if out != want {
		t.Errorf("table:\n%s\nwant:\n%s", out, want)
	}
	if q := queries(); len(q) != 1 || q[0] != "limit=100" {
		t.Errorf("queries %q, want the default limit of 100", q)
	}

	code, _, errOut = runAdmin(e, "audit", "--limit", "2")
	if code != 0 || !strings.Contains(errOut, "more than 2 rows match; older ones: --until "+lt(-time.Minute)) {
		t.Errorf("exit %d, stderr %q: want a note that more rows match", code, errOut)
	}

	code, out, _ = runAdmin(e, "audit", "--json", "--since", "2026-11-27", "--actor", "admin@localhost", "--target", "worker:3", "--action", "worker.")
	var l apitype.AuditList
	if code != 0 || json.Unmarshal([]byte(out), &l) != nil || l.Count != 3 || !strings.Contains(string(l.Events[0].Before), `"cpu_quota": 10`) {
		t.Errorf("--json: exit %d, %s", code, out)
	}
	since := time.Date(2026, 11, 27, 0, 0, 0, 0, time.Local).UTC().Format(time.RFC3339Nano)
	q := queries()
	if got, want := q[len(q)-1], "action=worker.&actor=admin%40localhost&limit=100&since="+strings.ReplaceAll(since, ":", "%3A")+"&target=worker%3A3"; got != want {
		t.Errorf("query %s\nwant  %s", got, want)
	}

	e.Vars["RCQ_TOKEN"] = "user"
	code, _, errOut = runAdmin(e, "audit")
	if code != 1 || !strings.Contains(errOut, "admins only") {
		t.Errorf("as a user: exit %d, %q", code, errOut)
	}
}

func TestAuditFlags(t *testing.T) {
	e, _ := fakeAudit(t)
	var got *Options
	code := e.Run(NewCmd(e.F, func(o *Options) error { got = o; return nil }),
		"audit", "--since", "now-1days", "--until", "now", "--actor", "7", "--target", "job:42", "--action", "job.cancel", "--limit", "5")
	if code != 0 || got == nil {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	want := client.AuditQuery{Since: clitest.Now.Add(-24 * time.Hour), Until: clitest.Now, Actor: "7", Target: "job:42", Action: "job.cancel", Limit: 5}
	got.Audit.Since, got.Audit.Until = got.Audit.Since.UTC(), got.Audit.Until.UTC()
	if !reflect.DeepEqual(got.Audit, want) || got.Action != ActionAudit {
		t.Errorf("options %+v, want %+v", got.Audit, want)
	}
	for msg, args := range map[string][]string{
		`--since: "yesterday" is not a time`:                                 {"audit", "--since", "yesterday"},
		`--until: "13/45" is not a time`:                                     {"audit", "--until", "13/45"},
		`--since now is not before --until now-1hour`:                        {"audit", "--since", "now", "--until", "now-1hour"},
		`--actor "bob": give an account's email`:                             {"audit", "--actor", "bob"},
		`--target "queue:1": use KIND or KIND:ID with KIND one of group, ac`: {"audit", "--target", "queue:1"},
		`--limit 0: use a whole number from 1 to 10000`:                      {"audit", "--limit", "0"},
		`unknown command "x" for "rcq-admin audit"`:                          {"audit", "x"},
	} {
		e.Stderr.Reset()
		if code := e.Run(NewRootCmd(e.F), args...); code != 2 || !strings.Contains(e.Stderr.String(), msg) {
			t.Errorf("%q: exit %d, %q; want 2 and %q", args, code, e.Stderr, msg)
		}
	}
}

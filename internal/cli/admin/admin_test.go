package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
)

// fakeAdmin answers the /api/admin routes like rcqd, from memory: the token
// "admin" is an admin's, any other is refused with 403 admin_required.
type fakeAdmin struct {
	mu       sync.Mutex
	groups   []apitype.Group
	users    []apitype.User
	workers  []apitype.Worker
	requests []string // "METHOD /path body"
}

var heartbeat = time.Date(2026, 11, 28, 11, 59, 30, 0, time.UTC)

func newFakeAdmin(t *testing.T) (*fakeAdmin, string) {
	a := &fakeAdmin{
		groups: []apitype.Group{{ID: 1, Name: "default", CPUQuota: 1000, Priority: 1}, {ID: 2, Name: "physics", CPUQuota: 5000.5, Priority: 3}},
		users: []apitype.User{
			{ID: 1, Email: "admin@localhost", GroupID: 1, IsAdmin: true},
			{ID: 2, Email: "ada@lab", GroupID: 2, UnixUser: "ada"},
			{ID: 3, Email: "bob@lab", GroupID: 1},
		},
		workers: []apitype.Worker{
			{ID: 1, Name: "node1", Node: "node1", CPUCores: 16, MemoryGB: 64, GPUCount: 2, Status: "online", LastHeartbeat: heartbeat},
			{ID: 2, Name: "gpu-a", Node: "node1", CPUCores: 32, MemoryGB: 256, GPUCount: 4, Status: "drained", LastHeartbeat: heartbeat},
		},
	}
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	return a, srv.URL
}

func (a *fakeAdmin) sent() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.requests...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, format string, args ...any) {
	writeJSON(w, status, apitype.ErrorBody{Error: fmt.Sprintf(format, args...), Code: code})
}

func (a *fakeAdmin) handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, h func(w http.ResponseWriter, r *http.Request, body []byte)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			a.mu.Lock()
			defer a.mu.Unlock()
			a.requests = append(a.requests, strings.TrimSpace(r.Method+" "+r.URL.Path+" "+string(body)))
			if r.Header.Get("Authorization") != "Bearer admin" {
				writeErr(w, 403, "admin_required", "this route is for admins only")
				return
			}
			h(w, r, body)
		})
	}
	id := func(r *http.Request) int64 { n, _ := strconv.ParseInt(r.PathValue("id"), 10, 64); return n }
	route("GET /api/admin/groups", func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, 200, apitype.GroupList{Groups: a.groups, Count: len(a.groups)})
	})
	route("POST /api/admin/groups", func(w http.ResponseWriter, r *http.Request, body []byte) {
		var req apitype.GroupRequest
		_ = json.Unmarshal(body, &req)
		for _, g := range a.groups {
			if g.Name == req.Name {
				writeErr(w, 409, "group_exists", "a group named %s exists", req.Name)
				return
			}
		}
		g := apitype.Group{ID: int64(len(a.groups) + 1), Name: req.Name, CPUQuota: 1000, Priority: 1}
		if req.CPUQuota != nil {
			g.CPUQuota = *req.CPUQuota
		}
		if req.Priority != nil {
			g.Priority = *req.Priority
		}
		a.groups = append(a.groups, g)
		writeJSON(w, 201, g)
	})
	route("PATCH /api/admin/groups/{id}", func(w http.ResponseWriter, r *http.Request, body []byte) {
		var req apitype.GroupRequest
		_ = json.Unmarshal(body, &req)
		for i := range a.groups {
			if g := &a.groups[i]; g.ID == id(r) {
				if req.CPUQuota != nil {
					g.CPUQuota = *req.CPUQuota
				}
				if req.Priority != nil {
					g.Priority = *req.Priority
				}
				writeJSON(w, 200, g)
				return
			}
		}
		writeErr(w, 404, "group_not_found", "group %d not found", id(r))
	})
	route("GET /api/admin/users", func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, 200, apitype.UserList{Users: a.users, Count: len(a.users)})
	})
	route("PATCH /api/admin/users/{id}", func(w http.ResponseWriter, r *http.Request, body []byte) {
		var req apitype.UserUpdate
		_ = json.Unmarshal(body, &req)
		if req.UnixUser != nil && *req.UnixUser == "root" {
			writeErr(w, 400, "invalid_unix_user", "unix_user: %q: use a Unix login name (lower-case letters, digits, _ - .; not root), or \"\" for none", *req.UnixUser)
			return
		}
		for i := range a.users {
			if u := &a.users[i]; u.ID == id(r) {
				if req.UnixUser != nil {
					u.UnixUser = *req.UnixUser
				}
				if req.IsAdmin != nil {
					u.IsAdmin = *req.IsAdmin
				}
				if req.GroupID != nil {
					u.GroupID = *req.GroupID
				}
				writeJSON(w, 200, u)
				return
			}
		}
		writeErr(w, 404, "user_not_found", "user %d not found", id(r))
	})
	route("GET /api/admin/workers", func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, 200, apitype.WorkerList{Workers: a.workers, Count: len(a.workers)})
	})
	route("POST /api/admin/workers", func(w http.ResponseWriter, r *http.Request, body []byte) {
		var req apitype.WorkerRequest
		_ = json.Unmarshal(body, &req)
		wk := apitype.Worker{ID: int64(len(a.workers) + 1), Name: req.Name, Node: req.Node, CPUCores: *req.CPUCores, Status: "online"}
		if req.MemoryGB != nil {
			wk.MemoryGB = *req.MemoryGB
		}
		if req.GPUCount != nil {
			wk.GPUCount = *req.GPUCount
		}
		a.workers = append(a.workers, wk)
		writeJSON(w, 201, wk)
	})
	worker := func(pattern string, change func(*apitype.Worker, []byte)) {
		route(pattern, func(w http.ResponseWriter, r *http.Request, body []byte) {
			for i := range a.workers {
				if wk := &a.workers[i]; wk.ID == id(r) {
					change(wk, body)
					writeJSON(w, 200, wk)
					return
				}
			}
			writeErr(w, 404, "worker_not_found", "worker %d not found", id(r))
		})
	}
	worker("PATCH /api/admin/workers/{id}", func(wk *apitype.Worker, body []byte) {
		var req apitype.WorkerRequest
		_ = json.Unmarshal(body, &req)
		if req.CPUCores != nil {
			wk.CPUCores = *req.CPUCores
		}
		if req.MemoryGB != nil {
			wk.MemoryGB = *req.MemoryGB
		}
		if req.GPUCount != nil {
			wk.GPUCount = *req.GPUCount
		}
	})
	worker("POST /api/admin/workers/{id}/drain", func(wk *apitype.Worker, _ []byte) { wk.Status = "drained" })
	worker("POST /api/admin/workers/{id}/resume", func(wk *apitype.Worker, _ []byte) { wk.Status = "online" })
	// Worker 2 runs a job: refused unless forced.
	route("DELETE /api/admin/workers/{id}", func(w http.ResponseWriter, r *http.Request, _ []byte) {
		for i := range a.workers {
			if a.workers[i].ID != id(r) {
				continue
			}
			if id(r) == 2 && r.URL.Query().Get("force") != "true" {
				writeErr(w, 409, "worker_busy", "worker gpu-a has job 7 running: drain it and wait for them to end, or delete it with force (drains, waits, then deletes)")
				return
			}
			a.workers = append(a.workers[:i], a.workers[i+1:]...)
			writeJSON(w, 200, apitype.Message{Message: "deleted"})
			return
		}
		writeErr(w, 404, "worker_not_found", "worker %d not found", id(r))
	})
	return mux
}

// setup returns the fake API and an rcq-admin environment with token.
func setup(t *testing.T, token string) (*fakeAdmin, *clitest.Env) {
	a, url := newFakeAdmin(t)
	e := clitest.NewEnv(t, "rcq-admin", url)
	e.Vars["RCQ_TOKEN"] = token
	return a, e
}

// runAdmin runs rcq-admin with args and returns the exit code, stdout and stderr.
func runAdmin(e *clitest.Env, args ...string) (int, string, string) {
	e.Stdout.Reset()
	e.Stderr.Reset()
	code := e.Run(NewRootCmd(e.F), args...)
	return code, e.Stdout.String(), e.Stderr.String()
}

func ptr[T any](v T) *T { return &v }

func TestFlagParsing(t *testing.T) {
	_, e := setup(t, "admin")
	cases := []struct {
		args []string
		want Options
	}{
		{[]string{"groups", "--json"}, Options{Action: ActionGroups, JSON: true}},
		{[]string{"group", "create", "chem", "--quota", "250.5", "--priority", "4"}, Options{Action: ActionGroupCreate, Name: "chem", Quota: ptr(250.5), Priority: ptr(4)}},
		{[]string{"group", "create", "chem"}, Options{Action: ActionGroupCreate, Name: "chem"}},
		{[]string{"group", "set", "2", "--quota", "0"}, Options{Action: ActionGroupSet, Target: "2", Quota: ptr(0.0)}},
		{[]string{"users"}, Options{Action: ActionUsers}},
		{[]string{"user", "set", "ada@lab", "--unix-user", ""}, Options{Action: ActionUserSet, Target: "ada@lab", UnixUser: ptr("")}},
		{[]string{"user", "set", "3", "--admin", "--group", "2"}, Options{Action: ActionUserSet, Target: "3", Admin: ptr(true), Group: ptr(int64(2))}},
		{[]string{"user", "set", "3", "--admin=false"}, Options{Action: ActionUserSet, Target: "3", Admin: ptr(false)}},
		{[]string{"workers"}, Options{Action: ActionWorkers}},
		{[]string{"worker", "drain", "gpu-a"}, Options{Action: ActionWorkerDrain, Target: "gpu-a"}},
		{[]string{"worker", "resume", "2", "--json"}, Options{Action: ActionWorkerResume, Target: "2", JSON: true}},
		{[]string{"worker", "create", "w1", "--node", "n1", "--cpus", "8", "--mem", "4", "--gpus", "0"}, Options{Action: ActionWorkerCreate, Name: "w1", Node: "n1", CPUs: ptr(8), Mem: ptr(4), GPUs: ptr(0)}},
		{[]string{"worker", "create", "w2", "--node", "n9", "--cpus", "8", "--mem", "4", "--offline"}, Options{Action: ActionWorkerCreate, Name: "w2", Node: "n9", CPUs: ptr(8), Mem: ptr(4), Offline: true}},
		{[]string{"worker", "delete", "w1"}, Options{Action: ActionWorkerDelete, Target: "w1"}},
		{[]string{"worker", "delete", "3", "--force"}, Options{Action: ActionWorkerDelete, Target: "3", Force: true}},
		{[]string{"worker", "set", "w1", "--mem", "0"}, Options{Action: ActionWorkerSet, Target: "w1", Mem: ptr(0)}},
	}
	for _, c := range cases {
		var got *Options
		code := e.Run(NewCmd(e.F, func(o *Options) error { got = o; return nil }), c.args...)
		if code != 0 || got == nil {
			t.Errorf("%q: exit %d, %s", c.args, code, e.Stderr)
			continue
		}
		c.want.F = e.F
		if !reflect.DeepEqual(*got, c.want) {
			t.Errorf("%q: options = %+v, want %+v", c.args, *got, c.want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	_, e := setup(t, "admin")
	cases := map[string][]string{
		`unknown command "frob" for "rcq-admin worker": use drain, resume, create, set or delete`:     {"worker", "frob"},
		`unknown command "frob" for "rcq-admin group": use create or set`:                             {"group", "frob"},
		`unknown command "x" for "rcq-admin groups"`:                                                  {"groups", "x"},
		`accepts 1 arg(s), received 0`:                                                                {"group", "create"},
		`--priority 11: use a whole number from 1 to 10`:                                              {"group", "create", "x", "--priority", "11"},
		`--quota -1: use a number of CPU-hours from 0 to 1e12`:                                        {"group", "set", "2", "--quota", "-1"},
		`--quota NaN: use a number of CPU-hours from 0 to 1e12`:                                       {"group", "set", "2", "--quota", "NaN"},
		`"x" is not a group id: use a positive number such as 2 (rcq-admin groups lists them)`:        {"group", "set", "x", "--quota", "1"},
		`nothing to change: give --quota, --priority or both`:                                         {"group", "set", "2"},
		`"bob" is not a user id or email: use a number such as 7 or an email such as ada@lab.example`: {"user", "set", "bob", "--admin"},
		`nothing to change: give --unix-user, --admin or --group`:                                     {"user", "set", "bob@lab"},
		`--group 0: use a positive group id (rcq-admin groups lists them)`:                            {"user", "set", "bob@lab", "--group", "0"},
		`"0" is not a user id: use a positive number such as 7`:                                       {"user", "set", "0", "--admin"},
		`--node, --cpus and --mem are required: e.g. --node node1 --cpus 32 --mem 128`:                {"worker", "create", "w", "--node", "n", "--cpus", "2"},
		`--mem 0: a worker needs at least 1 GB (one of 0 GB would take no job)`:                       {"worker", "create", "w", "--node", "n", "--cpus", "2", "--mem", "0"},
		`--cpus 0: use a whole number from 1 to 65536`:                                                {"worker", "create", "w", "--node", "n", "--cpus", "0", "--mem", "1"},
		`nothing to change: give --cpus, --mem or --gpus`:                                             {"worker", "set", "w"},
		`--mem -1: use a whole number from 0 to 16777216`:                                             {"worker", "set", "w", "--mem", "-1"},
		`invalid argument "x" for "--cpus" flag: strconv.ParseInt: parsing "x": invalid syntax`:       {"worker", "set", "w", "--cpus", "x"},

		`unknown command "frob" for "rcq-admin": use groups, group, users, user, workers, worker or audit`: {"frob"},
	}
	for msg, args := range cases {
		code, out, errOut := runAdmin(e, args...)
		if code != cli.ExitUsage || !strings.HasPrefix(errOut, "rcq-admin: "+msg+"\nRun 'rcq-admin") || out != "" {
			t.Errorf("%q: exit %d, stderr %q, stdout %q", args, code, errOut, out)
		}
	}
}

func TestGroups(t *testing.T) {
	a, e := setup(t, "admin")
	code, out, errOut := runAdmin(e, "groups")
	want := "ID NAME    CPU_QUOTA PRIORITY\n" +
		" 1 default      1000        1\n" +
		" 2 physics    5000.5        3\n"
	if code != 0 || out != want || errOut != "" {
		t.Errorf("groups: exit %d, stderr %q, stdout\n%s", code, errOut, out)
	}
	code, out, _ = runAdmin(e, "groups", "--json")
	var list apitype.GroupList
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || list.Count != 2 || list.Groups[1] != a.groups[1] {
		t.Errorf("groups --json: exit %d, %v, %s", code, err, out)
	}
	code, out, errOut = runAdmin(e, "group", "create", "chem", "--priority", "4")
	if code != 0 || out != "Created group 3 (chem): quota 1000 CPU-hours, priority 4\n" {
		t.Errorf("group create: exit %d, %q %q", code, out, errOut)
	}
	code, out, errOut = runAdmin(e, "group", "set", "2", "--quota", "8000")
	if code != 0 || out != "Updated group 2 (physics): quota 8000 CPU-hours, priority 3\n" {
		t.Errorf("group set: exit %d, %q %q", code, out, errOut)
	}
	code, out, _ = runAdmin(e, "group", "set", "2", "--priority", "5", "--json")
	var g apitype.Group
	if err := json.Unmarshal([]byte(out), &g); code != 0 || err != nil || g != (apitype.Group{ID: 2, Name: "physics", CPUQuota: 8000, Priority: 5}) {
		t.Errorf("group set --json: exit %d, %v, %s", code, err, out)
	}
	// Only the flags given are sent.
	wantSent := []string{
		`POST /api/admin/groups {"name":"chem","priority":4}`,
		`PATCH /api/admin/groups/2 {"cpu_quota":8000}`,
		`PATCH /api/admin/groups/2 {"priority":5}`,
	}
	if got := a.sent()[2:]; !reflect.DeepEqual(got, wantSent) {
		t.Errorf("sent %q", got)
	}
	// rcqd's refusals are one line, exit 1.
	code, _, errOut = runAdmin(e, "group", "create", "chem")
	if code != 1 || errOut != "rcq-admin: create group chem: a group named chem exists\n" {
		t.Errorf("existing group: exit %d, %q", code, errOut)
	}
	code, _, errOut = runAdmin(e, "group", "set", "9", "--priority", "2")
	if code != 1 || errOut != "rcq-admin: update group 9: group 9 not found\n" {
		t.Errorf("missing group: exit %d, %q", code, errOut)
	}
}

func TestUsers(t *testing.T) {
	a, e := setup(t, "admin")
	code, out, errOut := runAdmin(e, "users")
	want := "ID EMAIL           GROUP ADMIN UNIX_USER\n" +
		" 1 admin@localhost     1 yes   -\n" +
		" 2 ada@lab             2 no    ada\n" +
		" 3 bob@lab             1 no    -\n"
	if code != 0 || out != want || errOut != "" {
		t.Errorf("users: exit %d, stderr %q, stdout\n%s", code, errOut, out)
	}
	code, out, _ = runAdmin(e, "users", "--json")
	if code != 0 || !strings.Contains(out, `"email": "bob@lab"`) || !strings.Contains(out, `"unix_user": ""`) || !strings.Contains(out, `"count": 3`) {
		t.Errorf("users --json: exit %d, %s", code, out)
	}
	// An email is resolved through the list, without regard to case.
	code, out, errOut = runAdmin(e, "user", "set", "Bob@Lab", "--unix-user", "bob")
	if code != 0 || out != "Updated user 3 (bob@lab): group 1, admin no, Unix user bob\n" {
		t.Errorf("user set: exit %d, %q %q", code, out, errOut)
	}
	code, out, errOut = runAdmin(e, "user", "set", "2", "--unix-user", "", "--admin", "--group", "1")
	if code != 0 || out != "Updated user 2 (ada@lab): group 1, admin yes, Unix user none\n" {
		t.Errorf("user set by id: exit %d, %q %q", code, out, errOut)
	}
	sent := a.sent()
	wantSent := []string{
		"GET /api/admin/users",
		`PATCH /api/admin/users/3 {"unix_user":"bob"}`,
		`PATCH /api/admin/users/2 {"is_admin":true,"group_id":1,"unix_user":""}`,
	}
	if got := sent[2:]; !reflect.DeepEqual(got, wantSent) {
		t.Errorf("sent %q", got)
	}
	code, _, errOut = runAdmin(e, "user", "set", "nobody@lab", "--admin")
	if code != 1 || errOut != "rcq-admin: no account with email nobody@lab: rcq-admin users lists them\n" {
		t.Errorf("unknown email: exit %d, %q", code, errOut)
	}
	code, _, errOut = runAdmin(e, "user", "set", "3", "--unix-user", "root")
	if code != 1 || !strings.HasPrefix(errOut, `rcq-admin: update user 3: unix_user: "root": use a Unix login name`) {
		t.Errorf("root: exit %d, %q", code, errOut)
	}
}

func TestWorkers(t *testing.T) {
	a, e := setup(t, "admin")
	hb := heartbeat.Local().Format(timeLayout)
	code, out, errOut := runAdmin(e, "workers")
	want := "ID NAME  NODE  CPUS  MEM GPUS STATUS  LAST_HEARTBEAT\n" +
		" 1 node1 node1   16  64G    2 online  " + hb + "\n" +
		" 2 gpu-a node1   32 256G    4 drained " + hb + "\n"
	if code != 0 || out != want || errOut != "" {
		t.Errorf("workers: exit %d, stderr %q, stdout\n%s\nwant\n%s", code, errOut, out, want)
	}
	code, out, _ = runAdmin(e, "workers", "--json")
	var list apitype.WorkerList
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || list.Count != 2 || list.Workers[0] != a.workers[0] {
		t.Errorf("workers --json: exit %d, %v, %s", code, err, out)
	}
	// By name (resolved through the list) and by id.
	code, out, errOut = runAdmin(e, "worker", "drain", "node1")
	if code != 0 || out != "Drained worker 1 (node1): its running jobs finish, no new job starts there\n" || a.workers[0].Status != "drained" {
		t.Errorf("drain: exit %d, %q %q", code, out, errOut)
	}
	code, out, errOut = runAdmin(e, "worker", "resume", "2")
	if code != 0 || out != "Resumed worker 2 (gpu-a): it takes new jobs\n" || a.workers[1].Status != "online" {
		t.Errorf("resume: exit %d, %q %q", code, out, errOut)
	}
	code, out, errOut = runAdmin(e, "worker", "create", "gpu-b", "--node", "node2", "--cpus", "8", "--mem", "32")
	if code != 0 || out != "Created worker 3 (gpu-b) on node node2: 8 CPUs, 32G memory, 0 GPUs, online\n" {
		t.Errorf("create: exit %d, %q %q", code, out, errOut)
	}
	code, out, errOut = runAdmin(e, "worker", "set", "gpu-b", "--gpus", "1", "--json")
	var w apitype.Worker
	if err := json.Unmarshal([]byte(out), &w); code != 0 || err != nil || w.GPUCount != 1 || w.CPUCores != 8 {
		t.Errorf("set --json: exit %d, %v, %q %q", code, err, out, errOut)
	}
	wantSent := []string{
		"GET /api/admin/workers",
		"POST /api/admin/workers/1/drain",
		"POST /api/admin/workers/2/resume",
		`POST /api/admin/workers {"name":"gpu-b","node":"node2","cpu_cores":8,"memory_gb":32}`,
		"GET /api/admin/workers",
		`PATCH /api/admin/workers/3 {"gpu_count":1}`,
	}
	if got := a.sent()[2:]; !reflect.DeepEqual(got, wantSent) {
		t.Errorf("sent %q", got)
	}
	code, _, errOut = runAdmin(e, "worker", "drain", "nowhere")
	if code != 1 || errOut != "rcq-admin: no worker named \"nowhere\": rcq-admin workers lists them\n" {
		t.Errorf("unknown name: exit %d, %q", code, errOut)
	}
	code, _, errOut = runAdmin(e, "worker", "resume", "9")
	if code != 1 || errOut != "rcq-admin: resume worker 9: worker 9 not found\n" {
		t.Errorf("unknown id: exit %d, %q", code, errOut)
	}
	code, out, errOut = runAdmin(e, "worker", "create", "spare", "--node", "node9", "--cpus", "2", "--mem", "4", "--offline")
	if code != 0 || !strings.HasSuffix(out, "\n") || !strings.Contains(a.sent()[len(a.sent())-1], `"status":"offline"`) {
		t.Errorf("create --offline: exit %d, %q %q, sent %q", code, out, errOut, a.sent()[len(a.sent())-1])
	}
	code, out, errOut = runAdmin(e, "worker", "delete", "gpu-a")
	if code != 1 || out != "" || errOut != "rcq-admin: delete worker 2: worker gpu-a has job 7 running: drain it and wait for them to end, or delete it with force (drains, waits, then deletes)\n" {
		t.Errorf("delete a busy worker: exit %d, %q %q", code, out, errOut)
	}
	code, out, errOut = runAdmin(e, "worker", "delete", "gpu-a", "--force")
	if code != 0 || out != "Deleted worker 2 (gpu-a)\n" || errOut != "Draining worker 2 and waiting for its jobs to end...\n" {
		t.Errorf("delete --force: exit %d, %q %q", code, out, errOut)
	}
	// (the fake refuses worker 2 unless force=true was sent)
	code, out, errOut = runAdmin(e, "worker", "delete", "1", "--json")
	if code != 0 || out != "{\n  \"deleted\": true,\n  \"id\": 1\n}\n" {
		t.Errorf("delete --json: exit %d, %q %q", code, out, errOut)
	}
}

func TestRefusedAndUnreachable(t *testing.T) {
	_, e := setup(t, "ann")
	for args, msg := range map[string]string{
		"groups":                   "list groups",
		"users":                    "list users",
		"workers":                  "list workers",
		"worker drain 1":           "drain worker 1",
		"worker drain node1":       "list workers",
		"user set ada@lab --admin": "list users",
		"user set 2 --admin":       "update user 2",
		"group set 2 --priority 2": "update group 2",
	} {
		code, out, errOut := runAdmin(e, strings.Fields(args)...)
		if code != cli.ExitFailure || out != "" || errOut != "rcq-admin: "+msg+": this route is for admins only\n" {
			t.Errorf("%s as a non-admin: exit %d, %q %q", args, code, errOut, out)
		}
	}
	// Not logged in: exit 4.
	delete(e.Vars, "RCQ_TOKEN")
	if code, _, errOut := runAdmin(e, "groups"); code != cli.ExitAuth || errOut != "rcq-admin: not logged in: run rcq-login\n" {
		t.Errorf("not logged in: exit %d, %q", code, errOut)
	}
	// rcqd not running: exit 3.
	e.Vars["RCQ_TOKEN"] = "admin"
	e.Vars["RCQ_SERVER"] = "unix:///nonexistent/rcqd.sock"
	if code, _, errOut := runAdmin(e, "workers"); code != cli.ExitUnreachable || !strings.HasPrefix(errOut, "rcq-admin: cannot reach rcqd at /nonexistent/rcqd.sock") {
		t.Errorf("unreachable: exit %d, %q", code, errOut)
	}
}

func TestCompletion(t *testing.T) {
	_, e := setup(t, "admin")
	for args, want := range map[string][]string{
		"worker drain":       {"node1\tworker 1 on node1, online", "gpu-a\tworker 2 on node1, drained"},
		"user set":           {"admin@localhost\tuser 1, group 1", "ada@lab\tuser 2, group 2", "bob@lab\tuser 3, group 1"},
		"group set":          {"1\tdefault", "2\tphysics"},
		"user set 2 --group": {"1\tdefault", "2\tphysics"},
		"worker drain node1": nil, // one argument only
	} {
		_, out, errOut := runAdmin(e, append(append([]string{"__complete"}, strings.Fields(args)...), "")...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		got := lines[:len(lines)-1] // the last line is the directive
		if len(want) == 0 && len(got) == 0 {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("complete %q: %q (stderr %q)", args, got, errOut)
		}
	}
}

package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/store"
)

// The seed's clients: its README's requests and its test script (health,
// register, login, submit, get, list, cancel), and Go clients built on its
// request struct, which send every field, zero when unset. These tests
// replay them against the real router, read each answer as those clients
// do (untyped JSON: a key present or not, a number, a string, null), and
// check every field they read.

// obj is a JSON object as a seed client reads it.
type obj map[string]any

func asObj(t *testing.T, r resp) obj {
	t.Helper()
	var o obj
	if err := json.Unmarshal(r.body, &o); err != nil {
		t.Fatalf("%s is not a JSON object: %v", r, err)
	}
	return o
}

// ok checks a success answer: the status, and no "error" key anywhere at
// its top level, which the seed's clients take for a failure.
func okBody(t *testing.T, r resp, status int) obj {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %s, want %d", r, status)
	}
	o := asObj(t, r)
	if _, bad := o["error"]; bad {
		t.Errorf("a %d answer carries an \"error\" key, which the seed's clients read as a failure: %s", status, r.body)
	}
	return o
}

func (o obj) str(t *testing.T, key string) string {
	t.Helper()
	s, ok := o[key].(string)
	if !ok {
		t.Errorf("%q is %#v, want a string", key, o[key])
	}
	return s
}

func (o obj) num(t *testing.T, key string) float64 {
	t.Helper()
	n, ok := o[key].(float64)
	if !ok {
		t.Errorf("%q is %#v, want a number", key, o[key])
	}
	return n
}

func (o obj) null(t *testing.T, key string) {
	t.Helper()
	if v, ok := o[key]; !ok || v != nil {
		t.Errorf("%q is %#v (present %v), want null", key, v, ok)
	}
}

func (o obj) time(t *testing.T, key string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, o.str(t, key))
	if err != nil {
		t.Errorf("%q = %v is not an RFC 3339 time", key, o[key])
	}
	return at
}

// TestSeedClientFlow replays the seed's test script and README requests.
func TestSeedClientFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)

	// 1. Health check.
	h := okBody(t, e.get("/health", ""), http.StatusOK)
	if h.str(t, "status") != "healthy" || h.str(t, "message") != "Research Compute Queue API is running" || h.str(t, "version") == "" {
		t.Errorf("health = %v", h)
	}

	// 2. Register: {"email","password","group_id"}.
	reg := okBody(t, e.post("/api/auth/register", "", `{"email":"test@example.com","password":"password123","group_id":1}`), http.StatusCreated)
	if reg.str(t, "message") != "User registered successfully" || reg.num(t, "user_id") < 1 {
		t.Errorf("register = %v", reg)
	}
	userID := reg.num(t, "user_id")

	// 3. Login: the token is .token; the user object has id, email, group_id, is_admin.
	login := okBody(t, e.post("/api/auth/login", "", `{"email":"test@example.com","password":"password123"}`), http.StatusOK)
	tok := login.str(t, "token")
	if login.str(t, "message") != "Login successful" || tok == "" {
		t.Fatalf("login = %v", login)
	}
	user, _ := login["user"].(map[string]any)
	if u := obj(user); u.num(t, "id") != userID || u.str(t, "email") != "test@example.com" || u.num(t, "group_id") != 1 || u["is_admin"] != false {
		t.Errorf("login user = %v", user)
	}

	// 4. Submit, as the test script does (no gpu_count, no estimated_hours).
	sub := okBody(t, e.post("/api/jobs", tok, `{"script":"python test.py","cpu_cores":4,"memory_gb":16,"priority":3}`), http.StatusCreated)
	if sub.str(t, "message") != "Job submitted successfully" || sub.str(t, "status") != "pending" || sub.num(t, "job_id") < 1 {
		t.Errorf("submit = %v", sub)
	}
	first := sub.num(t, "job_id")

	// 5. Get the job: the README's fields, and the seed's model's.
	r := e.get(fmt.Sprintf("/api/jobs/%d", int64(first)), tok)
	j := okBody(t, r, http.StatusOK)
	if j.num(t, "id") != first || j.num(t, "user_id") != userID || j.num(t, "group_id") != 1 || j.str(t, "script") != "python test.py" ||
		j.num(t, "cpu_cores") != 4 || j.num(t, "memory_gb") != 16 || j.num(t, "gpu_count") != 0 || j.str(t, "status") != "pending" ||
		j.num(t, "priority") != 3 || j.num(t, "estimated_hours") != 1 {
		t.Errorf("job = %s", r.body)
	}
	if since := time.Since(j.time(t, "submitted_at")); since < 0 || since > time.Hour {
		t.Errorf("submitted_at %v is not now", j["submitted_at"])
	}
	for _, k := range []string{"started_at", "completed_at", "worker_id", "exit_code"} {
		j.null(t, k)
	}
	if j.str(t, "error_message") != "" || !strings.HasSuffix(j.str(t, "output_path"), ".out") || !strings.HasSuffix(j.str(t, "error_path"), ".err") {
		t.Errorf("output_path %v, error_path %v, error_message %v", j["output_path"], j["error_path"], j["error_message"])
	}

	// The README's submit, and what a Go client on the seed's request
	// struct sends: every field, estimated_hours 0 when unset, and
	// dependencies as numbers or numeric strings.
	second := okBody(t, e.post("/api/jobs", tok, `{"script":"python train.py","cpu_cores":8,"memory_gb":32,"gpu_count":1,"priority":5}`), http.StatusCreated).num(t, "job_id")
	zero := okBody(t, e.post("/api/jobs", tok, fmt.Sprintf(`{"script":"python eval.py","cpu_cores":1,"memory_gb":1,"gpu_count":0,"estimated_hours":0,"priority":1,"dependencies":["%d",%d]}`,
		int64(first), int64(second))), http.StatusCreated).num(t, "job_id")
	z := okBody(t, e.get(fmt.Sprintf("/api/jobs/%d", int64(zero)), tok), http.StatusOK)
	if z.num(t, "estimated_hours") != 1 {
		t.Errorf("estimated_hours 0 became %v, want the default 1", z["estimated_hours"])
	}
	deps, _ := z["dependencies"].([]any)
	if len(deps) != 2 || obj(deps[0].(map[string]any)).num(t, "job_id") != first || obj(deps[1].(map[string]any)).num(t, "job_id") != second ||
		deps[0].(map[string]any)["type"] != "afterok" {
		t.Errorf("dependencies [\"%d\",%d] became %v", int64(first), int64(second), z["dependencies"])
	}

	// 6. List all jobs: newest first, with count; ?status= and ?limit=.
	l := okBody(t, e.get("/api/jobs", tok), http.StatusOK)
	jobs, _ := l["jobs"].([]any)
	if l.num(t, "count") != 3 || len(jobs) != 3 {
		t.Fatalf("list = %v", l)
	}
	var ids []float64
	for _, x := range jobs {
		o := obj(x.(map[string]any))
		ids = append(ids, o.num(t, "id"))
		o.str(t, "status")
		o.str(t, "script")
		o.num(t, "cpu_cores")
		o.time(t, "submitted_at")
	}
	if ids[0] != zero || ids[1] != second || ids[2] != first {
		t.Errorf("list order %v, want newest first [%v %v %v]", ids, zero, second, first)
	}
	if lim := okBody(t, e.get("/api/jobs?status=pending&limit=1", tok), http.StatusOK); lim.num(t, "count") != 1 ||
		obj(lim["jobs"].([]any)[0].(map[string]any)).num(t, "id") != zero {
		t.Errorf("?status=pending&limit=1 = %v, want the newest", lim)
	}
	if run := okBody(t, e.get("/api/jobs?status=running", tok), http.StatusOK); run.num(t, "count") != 0 {
		t.Errorf("?status=running = %v", run)
	}

	// Cancel.
	c := okBody(t, e.do(req{method: "DELETE", path: fmt.Sprintf("/api/jobs/%d", int64(second)), token: tok}), http.StatusOK)
	if c.str(t, "message") != "Job cancelled successfully" || c.num(t, "job_id") != second {
		t.Errorf("cancel = %v", c)
	}
	cj := okBody(t, e.get(fmt.Sprintf("/api/jobs/%d", int64(second)), tok), http.StatusOK)
	if cj.str(t, "status") != "cancelled" || !strings.HasPrefix(cj.str(t, "error_message"), "cancelled") {
		t.Errorf("cancelled job: status %v, error_message %v", cj["status"], cj["error_message"])
	}

	// A failure is {"error": ...}: the key the seed's clients look for.
	bad := e.get("/api/jobs/999999", tok)
	if bad.status != http.StatusNotFound || asObj(t, bad).str(t, "error") == "" {
		t.Errorf("a missing job: %s", bad)
	}
	if r := e.post("/api/auth/login", "", `{"email":"test@example.com","password":"wrong-password"}`); r.status != http.StatusUnauthorized || asObj(t, r).str(t, "error") == "" {
		t.Errorf("a wrong password: %s", r)
	}
}

// TestSeedUserLogsInAfterImport: an account import-seed copied logs in with
// its seed password (its bcrypt hash, made by the seed at bcrypt's default
// cost, copied unchanged) and sees its jobs, finished and pending, newest
// first. The seed's tables share the database with rcq's.
func TestSeedUserLogsInAfterImport(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	ddl, err := os.ReadFile(filepath.Join("..", "store", "testdata", "seed_setup.sql"))
	if err != nil {
		t.Fatal(err)
	}
	hash, err := auth.HashPassword("password123", 10) // the seed's cost
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(e.url)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", "public")
	u.RawQuery = q.Encode()
	seedURL := u.String()
	conn, err := pgx.Connect(ctx, seedURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range []string{string(ddl),
		`INSERT INTO groups (name, cpu_quota, priority) VALUES ('ML Research Lab', 500, 3)`,
		`INSERT INTO users (email, password_hash, group_id) VALUES ('alice@wisc.edu', '` + hash + `', 1)`,
		`INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb, status, submitted_at, completed_at, exit_code, error_message)
			VALUES (1, 1, 'python fail.py', 2, 4, 'failed', '2026-01-08 15:30:00', '2026-01-08 15:31:00', 2, 'exit status 2')`,
		`INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb, submitted_at) VALUES (1, 1, 'python test.py', 4, 16, '2026-01-09 10:00:00')`,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%.60s: %v", s, err)
		}
	}
	data, err := store.ReadSeed(ctx, seedURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.ImportSeed(ctx, data, store.SeedImportOptions{DefaultEstimatedHours: 1}); err != nil {
		t.Fatal(err)
	}

	login := okBody(t, e.post("/api/auth/login", "", `{"email":"alice@wisc.edu","password":"password123"}`), http.StatusOK)
	tok := login.str(t, "token")
	if tok == "" {
		t.Fatalf("login = %v", login)
	}
	if r := e.post("/api/auth/login", "", `{"email":"alice@wisc.edu","password":"password124"}`); r.status != http.StatusUnauthorized {
		t.Errorf("a wrong password: %s", r)
	}
	l := okBody(t, e.get("/api/jobs?status=all", tok), http.StatusOK)
	jobs, _ := l["jobs"].([]any)
	if len(jobs) != 2 {
		t.Fatalf("alice's jobs after the import: %v", l)
	}
	pending, failed := obj(jobs[0].(map[string]any)), obj(jobs[1].(map[string]any))
	if pending.str(t, "script") != "python test.py" || pending.str(t, "status") != "pending" {
		t.Errorf("newest job %v, want the pending python test.py", pending)
	}
	if failed.str(t, "status") != "failed" || failed.num(t, "exit_code") != 2 || !strings.Contains(failed.str(t, "error_message"), "exit status 2") {
		t.Errorf("imported failed job %v", failed)
	}
}

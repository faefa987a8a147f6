package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/sched"
	"github.com/rcq-project/rcq/internal/store"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const (
	issuer   = "rcqd-test"
	lease    = sched.LeaseName
	holder   = "api-test"
	password = "correct horse battery"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// env is an API server over a fresh real database, seeded as rcqd's
// bootstrap seeds it: group 1 "default", worker w1 (8 cores, 32 GB, 2 GPUs),
// an admin and two users, all with the password `password`.
type env struct {
	t       *testing.T
	st      *store.Store
	url     string // the database's
	srv     *httptest.Server
	api     *api.Server
	signer  *auth.Signer
	pw      *auth.Passwords
	outDir  string
	worker  rcq.WorkerID
	admin   rcq.UserID
	alice   rcq.UserID
	bob     rcq.UserID
	adminT  string
	aliceT  string
	bobT    string
	planner *sched.Loop
}

var passwords *auth.Passwords

func init() {
	var err error
	if passwords, err = auth.NewPasswords(auth.MinCost); err != nil {
		panic(err)
	}
}

// newEnv builds the server; mod may change the configuration and deps.
func newEnv(t *testing.T, mod func(*api.Config, *api.Deps)) *env {
	t.Helper()
	return newEnvStore(t, store.Options{}, mod)
}

// newEnvStore is newEnv with the store opened with so (its pending caps).
func newEnvStore(t *testing.T, so store.Options, mod func(*api.Config, *api.Deps)) *env {
	t.Helper()
	ctx := context.Background()
	url := dbtest.URL(t)
	st, err := store.Open(ctx, url, so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	e := &env{t: t, st: st, url: url, outDir: t.TempDir(), pw: passwords,
		signer: auth.NewSigner(secret, issuer, time.Hour)}
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if e.worker, err = st.RegisterWorker(ctx, rcq.Worker{Name: "w1", Node: "node1", Capacity: rcq.Resources{CPUCores: 8, MemoryGB: 32, GPUs: 2}}); err != nil {
		t.Fatal(err)
	}
	// node1's rcqd is up: jobs are placed only on nodes whose rcqd holds
	// the node's lease.
	if ok, err := st.AcquireLease(ctx, store.NodeLease("node1"), "node1:/state", time.Hour); err != nil || !ok {
		t.Fatalf("take node1's lease: %v %v", ok, err)
	}
	e.admin, e.adminT = e.newUser("admin@localhost", true)
	e.alice, e.aliceT = e.newUser("alice@example.org", false)
	e.bob, e.bobT = e.newUser("bob@example.org", false)

	e.planner = sched.New(st, sched.DefaultConfig(), nil, holder)
	cfg := api.Config{Version: "test", Limits: rcq.DefaultLimits, OpenRegistration: true, LoginPerMinute: 1000}
	deps := api.Deps{
		Store: st, Planner: e.planner, Signer: e.signer, Passwords: e.pw,
		OutputPaths: func(j *rcq.Job) (string, string) {
			return filepath.Join(e.outDir, fmt.Sprintf("%d.out", j.ID)), filepath.Join(e.outDir, fmt.Sprintf("%d.err", j.ID))
		},
		ReadOutput: readOwn,
	}
	if mod != nil {
		mod(&cfg, &deps)
	}
	e.api = api.New(cfg, deps)
	e.srv = httptest.NewServer(e.api)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) newUser(email string, admin bool) (rcq.UserID, string) {
	e.t.Helper()
	hash, err := e.pw.Hash(password)
	if err != nil {
		e.t.Fatal(err)
	}
	id, err := e.st.CreateUser(context.Background(), rcq.User{Email: email, GroupID: 1, IsAdmin: admin}, hash)
	if err != nil {
		e.t.Fatal(err)
	}
	return id, e.token(id)
}

// token signs a fresh token for the account as it is in the store.
func (e *env) token(id rcq.UserID) string {
	e.t.Helper()
	u, _, err := e.st.UserByID(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.signer.Sign(*u, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// resp is a response with its body read.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) String() string { return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body)) }

// sansID is the body without its request_id, which differs for every
// request: for tests that two answers are alike.
func (r resp) sansID() []byte { return requestIDField.ReplaceAll(r.body, nil) }

var requestIDField = regexp.MustCompile(`,"request_id":"[^"]*"`)

// errBody decodes an error response, failing unless it is {"error","code"}.
func (r resp) errBody(t *testing.T) apitype.ErrorBody {
	t.Helper()
	var b apitype.ErrorBody
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error == "" || b.Code == "" {
		t.Fatalf("error response %s is not {\"error\",\"code\"}: %v", r, err)
	}
	return b
}

func decodeTo[T any](t *testing.T, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r, err)
	}
	return v
}

// req describes one request. body is sent as is when it is a string or
// []byte, JSON-encoded otherwise.
type req struct {
	method, path, token string
	body                any
	header              map[string]string
	remote              string // X-Forwarded-For
}

func (e *env) do(r req) resp {
	e.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		body = b // no Content-Length: sent chunked
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequest(r.method, e.srv.URL+r.path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil || r.method == "POST" || r.method == "PUT" || r.method == "PATCH" {
		hr.Header.Set("Content-Type", "application/json") // as internal/client sends it
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	if r.remote != "" {
		hr.Header.Set("X-Forwarded-For", r.remote)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode >= 500 && res.StatusCode != http.StatusServiceUnavailable {
		e.t.Errorf("%s %s: server error %d %s", r.method, r.path, res.StatusCode, b)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) get(path, token string) resp { return e.do(req{method: "GET", path: path, token: token}) }

func (e *env) post(path, token string, body any) resp {
	return e.do(req{method: "POST", path: path, token: token, body: body})
}

// want fails unless r has status code and, for errors, the machine code.
func want(t *testing.T, r resp, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %s, want status %d %s", r, status, code)
	}
	if code != "" {
		if got := r.errBody(t).Code; got != code {
			t.Fatalf("got code %q (%s), want %q", got, r, code)
		}
	}
}

// submit posts a job as the token's owner and returns its id.
func (e *env) submit(token string, body map[string]any) int64 {
	e.t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	if _, ok := body["script"]; !ok {
		body["script"] = "#!/bin/sh\necho hello\n"
	}
	r := e.post("/api/jobs", token, body)
	want(e.t, r, http.StatusCreated, "")
	return decodeTo[apitype.SubmitResponse](e.t, r).JobID
}

// start starts a job on w1 through the store, as the scheduler would.
func (e *env) start(id int64, gpus ...int) {
	e.t.Helper()
	ctx := context.Background()
	if ok, err := e.st.AcquireLease(ctx, lease, holder, time.Minute); err != nil || !ok {
		e.t.Fatalf("lease: %v %v", ok, err)
	}
	done, err := e.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: rcq.JobID(id), WorkerID: e.worker, GPUIndices: gpus}})
	if err != nil || len(done) != 1 {
		e.t.Fatalf("start job %d: %v %v", id, done, err)
	}
}

func (e *env) finish(id int64, state rcq.JobState, exit int) {
	e.t.Helper()
	if err := e.st.FinishJob(context.Background(), rcq.Outcome{JobID: rcq.JobID(id), State: state, ExitCode: &exit}); err != nil {
		e.t.Fatal(err)
	}
}

// job reads a job from the store, whoever owns it.
func (e *env) job(id int64) *rcq.Job {
	e.t.Helper()
	j, err := e.st.JobByID(context.Background(), rcq.JobID(id), 0)
	if err != nil {
		e.t.Fatalf("job %d: %v", id, err)
	}
	return j
}

func (e *env) jobCount() int {
	e.t.Helper()
	js, err := e.st.ListJobs(context.Background(), rcq.JobFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(js)
}

func (e *env) userCount() int {
	e.t.Helper()
	us, err := e.st.Users(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return len(us)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func symlink(target, link string) error { return os.Symlink(target, link) }

// readOwn is ReadOutput for accounts without a Unix user: the file as this
// process opens it, with the executor's rule (no symbolic link, regular files
// only). TestJobOutputAsJobUser uses the executor's own.
func readOwn(_ *rcq.Job, path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return f, nil
}

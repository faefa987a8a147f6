package clitest_test

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
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/cli/clitest"
	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/sched"
	"github.com/rcq-project/rcq/internal/store"
)

// The CLI tests run the commands against clitest.API, a fake of rcqd's API
// kept in memory so that hundreds of flag and output cases run in
// milliseconds and can stage what the real daemon only reaches with a
// scheduler and an executor (a job that runs and ends on the next GET). The
// tests here keep the fake honest against the real router: every route it
// serves exists there with the same method and pattern, and one session of
// the requests the commands send, replayed on both, answers with the same
// statuses, the same error codes, bodies of the same apitype (decoded
// strictly: no field of one is unknown to the other) and lists of the same
// jobs in the same order.

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func TestFakeRoutesExistInTheRealRouter(t *testing.T) {
	t.Parallel()
	real := map[string]bool{}
	for _, rt := range api.New(api.Config{}, api.Deps{}).Routes() { // api's TestRoutesHavePolicies: Routes() is what chi serves
		real[rt.Method+" "+rt.Pattern] = true
	}
	fake := clitest.NewAPI(t).Routes()
	if len(fake) < 15 {
		t.Fatalf("the fake lists %d routes: %v", len(fake), fake)
	}
	for _, r := range fake {
		if !real[r] {
			t.Errorf("the fake API serves %s, which rcqd's router does not", r)
		}
	}
}

// side is one API under test: its base URL and the tokens of its accounts.
type side struct {
	name   string
	url    string
	tokens map[string]string // "alice", "bob", "admin", and "new" once logged in
	ids    map[string]int64  // job ids saved by the steps
}

type reply struct {
	status int
	body   []byte
}

func (s *side) do(t *testing.T, method, path, who string, body any) reply {
	t.Helper()
	for k, id := range s.ids {
		path = strings.ReplaceAll(path, "{"+k+"}", strconv.FormatInt(id, 10))
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	// As internal/client does: rcqd refuses a state change without it.
	if body != nil || method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := s.tokens[who]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", s.name, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, b}
}

// strict decodes b into a new T, refusing fields T does not have.
func strict[T any](b []byte) (*T, error) {
	v := new(T)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return v, dec.Decode(v)
}

// step is one request of the session, sent to both sides.
type step struct {
	method, path, who string
	body              any
	// decode strictly decodes a success body into the apitype the
	// route answers with and returns the job names it lists (nil for
	// bodies that are not lists).
	decode func([]byte) ([]string, error)
	save   string // save the body's job_id under this name
}

func as[T any](names func(*T) []string) func([]byte) ([]string, error) {
	return func(b []byte) ([]string, error) {
		v, err := strict[T](b)
		if err != nil || names == nil {
			return nil, err
		}
		return names(v), nil
	}
}

func TestFakeAnswersLikeTheRealRouter(t *testing.T) {
	t.Parallel()
	fake := clitest.NewAPI(t)
	fs := &side{name: "fake", url: fake.URL, ids: map[string]int64{}, tokens: map[string]string{
		"alice": fake.Token("ann@lab"), "alice2": fake.Token("ann@lab"), "bob": fake.Token("bob@lab"), "admin": fake.Token("admin@lab")}}
	rs := realSide(t)

	const pw = "a long enough password"
	script := "#!/bin/sh\ntrue\n"
	jobNames := func(l *apitype.JobList) []string {
		var out []string
		for _, j := range l.Jobs {
			out = append(out, j.Name)
		}
		return out
	}
	steps := []step{
		{method: "GET", path: "/health", decode: as[apitype.Health](nil)},
		{method: "POST", path: "/api/auth/register", body: map[string]any{"email": "carol@example.org", "password": pw}, decode: as[apitype.RegisterResponse](nil)},
		{method: "POST", path: "/api/auth/login", body: map[string]any{"email": "carol@example.org", "password": pw}, decode: as[apitype.LoginResponse](nil)},
		{method: "POST", path: "/api/auth/login", body: map[string]any{"email": "carol@example.org", "password": "wrong password!"}},
		{method: "GET", path: "/api/auth/me", who: "alice", decode: as[apitype.UserInfo](nil)},
		{method: "GET", path: "/api/auth/me", who: "", decode: as[apitype.UserInfo](nil)},
		{method: "POST", path: "/api/jobs", who: "alice", body: map[string]any{"script": script, "name": "a1", "working_dir": "/tmp"}, decode: as[apitype.SubmitResponse](nil), save: "a1"},
		{method: "POST", path: "/api/jobs?test_only=true", who: "alice", body: map[string]any{"script": script, "name": "t", "working_dir": "/tmp"}, decode: as[apitype.SubmitResponse](nil)},
		{method: "POST", path: "/api/jobs", who: "alice", body: map[string]any{"script": script, "name": "held", "working_dir": "/tmp", "hold": true}, decode: as[apitype.SubmitResponse](nil), save: "held"},
		{method: "POST", path: "/api/jobs", who: "bob", body: map[string]any{"script": script, "name": "b1", "working_dir": "/tmp", "hold": true}, decode: as[apitype.SubmitResponse](nil), save: "b1"},
		{method: "POST", path: "/api/jobs", who: "alice", body: map[string]any{"script": script, "bogus": 1}},
		{method: "GET", path: "/api/jobs?status=pending&limit=10", who: "alice", decode: as(jobNames)},
		{method: "GET", path: "/api/jobs?status=pending&order=newest", who: "admin", decode: as(jobNames)},
		{method: "GET", path: "/api/jobs?status=bogus", who: "alice"},
		{method: "GET", path: "/api/jobs/{held}", who: "alice", decode: as[apitype.Job](nil)},
		{method: "GET", path: "/api/jobs/{b1}", who: "alice"}, // another user's job: 404 like a missing one
		{method: "GET", path: "/api/jobs/999999", who: "alice"},
		{method: "GET", path: "/api/jobs/abc", who: "alice"},
		{method: "PATCH", path: "/api/jobs/{held}", who: "alice", body: map[string]any{"name": "held2"}, decode: as[apitype.Job](nil)},
		{method: "PATCH", path: "/api/jobs/{held}", who: "alice", body: map[string]any{"priority": 99}},
		{method: "POST", path: "/api/jobs/{held}/release", who: "alice", decode: as[apitype.JobAction](nil)},
		{method: "POST", path: "/api/jobs/{held}/hold", who: "alice", decode: as[apitype.JobAction](nil)},
		{method: "POST", path: "/api/jobs/{b1}/hold", who: "admin", decode: as[apitype.JobAction](nil)},
		{method: "POST", path: "/api/jobs/{b1}/release", who: "bob"}, // an admin's hold binds its user
		{method: "POST", path: "/api/jobs/{held}/signal", who: "alice", body: map[string]any{"signal": "USR1"}},
		{method: "GET", path: "/api/queue", who: "alice", decode: as(func(q *apitype.Queue) []string {
			var out []string
			for _, j := range q.Jobs {
				out = append(out, j.Name)
			}
			return out
		})},
		{method: "GET", path: "/api/queue?limit=0", who: "alice"},
		{method: "GET", path: "/api/acct?states=pending", who: "alice", decode: as(func(l *apitype.AcctList) []string {
			var out []string
			for _, j := range l.Jobs {
				out = append(out, j.Name)
			}
			return out
		})},
		{method: "DELETE", path: "/api/jobs/{held}", who: "alice", decode: as[apitype.JobAction](nil)},
		{method: "DELETE", path: "/api/jobs/{held}", who: "alice"}, // already cancelled
		{method: "POST", path: "/api/jobs/cancel", who: "alice", body: map[string]any{"me": true}, decode: as[apitype.CancelResponse](nil)},
		{method: "POST", path: "/api/jobs/cancel", who: "alice", body: map[string]any{"user": "bob@example.org"}},
		{method: "POST", path: "/api/jobs/{b1}/requeue", who: "bob"},
		{method: "POST", path: "/api/auth/logout", who: "alice", decode: as[apitype.Message](nil)},
		{method: "GET", path: "/api/auth/me", who: "alice"},                                     // that session has ended
		{method: "GET", path: "/api/auth/me", who: "alice2", decode: as[apitype.UserInfo](nil)}, // another of alice's has not
	}
	// Every route of the fake is in the session, but the one that needs a
	// Unix socket's peer credentials (its pattern is checked above).
	unreplayed := map[string]bool{"POST /api/auth/token": true}
	patterns := http.NewServeMux()
	for _, r := range fake.Routes() {
		patterns.HandleFunc(r, func(http.ResponseWriter, *http.Request) {})
	}
	covered := map[string]bool{}
	for _, st := range steps {
		req := httptest.NewRequest(st.method, strings.NewReplacer("{held}", "1", "{b1}", "2", "{a1}", "3").Replace(st.path), nil)
		if _, pattern := patterns.Handler(req); pattern != "" {
			covered[pattern] = true
		}
	}
	for _, r := range fake.Routes() {
		if !covered[r] && !unreplayed[r] {
			t.Errorf("the fake serves %s, but no step of this session replays it: add one", r)
		}
	}

	for i, st := range steps {
		label := fmt.Sprintf("step %d: %s %s as %q", i, st.method, st.path, st.who)
		body := st.body
		if m, ok := body.(map[string]any); ok && m["user"] == "bob@example.org" {
			body = map[string]any{"user": "bob@lab"} // the same account under the fake's name
		}
		fr := fs.do(t, st.method, st.path, st.who, body)
		rr := rs.do(t, st.method, st.path, st.who, st.body)
		if fr.status != rr.status {
			if st.save != "" { // later steps need its job
				t.Fatalf("%s: the fake answers %d %s, rcqd %d %s", label, fr.status, fr.body, rr.status, rr.body)
			}
			t.Errorf("%s: the fake answers %d %s, rcqd %d %s", label, fr.status, fr.body, rr.status, rr.body)
			continue
		}
		if rr.status >= 400 {
			fe, err1 := strict[apitype.ErrorBody](fr.body)
			re, err2 := strict[apitype.ErrorBody](rr.body)
			if err1 != nil || err2 != nil || fe.Code != re.Code {
				t.Errorf("%s: error code: the fake %q (%v), rcqd %q (%v)", label, fe.Code, err1, re.Code, err2)
			}
			continue
		}
		if st.decode == nil {
			t.Errorf("%s: both answer %d; the step expects an error", label, rr.status)
			continue
		}
		fn, err := st.decode(fr.body)
		if err != nil {
			t.Errorf("%s: the fake's body does not decode strictly: %v: %s", label, err, fr.body)
		}
		rn, err := st.decode(rr.body)
		if err != nil {
			t.Errorf("%s: rcqd's body does not decode strictly into the fake's type: %v: %s", label, err, rr.body)
		}
		if !slices.Equal(fn, rn) {
			t.Errorf("%s: the fake lists %q, rcqd %q", label, fn, rn)
		}
		if st.save != "" {
			for _, s := range []struct {
				side *side
				r    reply
			}{{fs, fr}, {rs, rr}} {
				v, err := strict[apitype.SubmitResponse](s.r.body)
				if err != nil || v.JobID == 0 {
					t.Fatalf("%s: %s: no job id in %s", label, s.side.name, s.r.body)
				}
				s.side.ids[st.save] = v.JobID
			}
		}
	}
}

// realSide is rcqd's real router over a fresh test database, seeded with
// the fake's accounts under real names (alice, bob, an admin), its workers
// able to take every job the session submits.
func realSide(t *testing.T) *side {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dbtest.URL(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RegisterWorker(ctx, rcq.Worker{Name: "w1", Node: "node1", Capacity: rcq.Resources{CPUCores: 8, MemoryGB: 32}}); err != nil {
		t.Fatal(err)
	}
	pw, err := auth.NewPasswords(auth.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	signer := auth.NewSigner([]byte("0123456789abcdef0123456789abcdef"), "rcqd-test", time.Hour)
	s := &side{name: "rcqd", ids: map[string]int64{}, tokens: map[string]string{}}
	for _, u := range []struct {
		who, email string
		admin      bool
	}{{"alice", "alice@example.org", false}, {"bob", "bob@example.org", false}, {"admin", "admin@localhost", true}} {
		hash, err := pw.Hash("password-of-" + u.who)
		if err != nil {
			t.Fatal(err)
		}
		id, err := st.CreateUser(ctx, rcq.User{Email: u.email, GroupID: 1, IsAdmin: u.admin}, hash)
		if err != nil {
			t.Fatal(err)
		}
		usr, _, err := st.UserByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if s.tokens[u.who], _, err = signer.Sign(*usr, time.Now()); err != nil {
			t.Fatal(err)
		}
		if u.who == "alice" { // a second session of hers
			if s.tokens["alice2"], _, err = signer.Sign(*usr, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := t.TempDir()
	srv := api.New(api.Config{Version: "test", Limits: rcq.DefaultLimits, OpenRegistration: true, LoginPerMinute: 1000},
		api.Deps{Store: st, Planner: sched.New(st, sched.DefaultConfig(), nil, "clitest"), Signer: signer, Passwords: pw,
			OutputPaths: func(j *rcq.Job) (string, string) {
				return filepath.Join(out, fmt.Sprintf("%d.out", j.ID)), filepath.Join(out, fmt.Sprintf("%d.err", j.ID))
			}})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	s.url = hs.URL
	return s
}

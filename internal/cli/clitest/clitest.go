// Package clitest helps test the rcq commands in-process: an HTTP server that
// answers like rcqd's API from memory (API), and Factories over test streams
// and a temporary credentials file. It is for tests only. routes_test.go
// keeps the fake true to rcqd: each of its routes exists in the real router,
// and a session replayed on both (the real router over a test database)
// gets the same statuses, error codes, body types and job lists.
package clitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/spf13/cobra"
)

// Now is the fake server's clock and the test Factory's.
var Now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// User is an account of the fake API.
type User struct {
	ID       int64
	Email    string
	Password string
	GroupID  int64
	Admin    bool
}

// API answers like rcqd from memory. Jobs move on each GET /api/jobs/{id}
// of their owner: pending -> running -> completed (or failed with the code of
// the script's last "exit N" line) unless held.
type API struct {
	URL string

	// Peer, on an API made by NewSocketAPI, is the email of the account a
	// request without a token is made by, as rcqd's socket knows the
	// caller by uid.
	Peer string

	mu       sync.Mutex
	users    []*User
	tokens   map[string]*User
	revoked  map[string]bool // tokens ended by a logout
	jobs     []*apitype.Job
	Submits  []apitype.SubmitRequest // every stored submit, in order
	TestOnly int                     // how many test-only submits came
	Signals  []string                // "ID:SIG" of every signal sent
	Requests []string                // "METHOD /path?query" of every request
	// RegisterWarning is sent with every registration, as a root rcqd
	// warns an account it cannot run jobs for.
	RegisterWarning string
	// QueuePage is GET /api/queue's largest and default page (rcqd's
	// jobs.max_page_size); 0 means 10,000.
	QueuePage int

	routes []string // "METHOD /pattern" of every route the fake serves
}

// NewAPI starts a fake API on a loopback port, with ann@lab (user 1, group 1),
// bob@lab (user 2, group 2) and admin@lab (user 3, admin). Passwords are "pw".
func NewAPI(t testing.TB) *API {
	a := &API{tokens: map[string]*User{}, revoked: map[string]bool{}}
	a.users = []*User{
		{ID: 1, Email: "ann@lab", Password: "pw", GroupID: 1},
		{ID: 2, Email: "bob@lab", Password: "pw", GroupID: 2},
		{ID: 3, Email: "admin@lab", Password: "pw", GroupID: 1, Admin: true},
	}
	srv := httptest.NewServer(a.handler())
	t.Cleanup(srv.Close)
	a.URL = srv.URL
	return a
}

// NewSocketAPI is NewAPI on a Unix socket (URL unix:///...), where a request
// without a token is made by the account peer, and POST /api/auth/token gives
// peer a token without a password.
func NewSocketAPI(t testing.TB, peer string) *API {
	a := NewAPI(t)
	a.Peer = peer
	dir, err := os.MkdirTemp("", "rcqcli") // short: socket paths are limited to 108 bytes
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "rcqd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.handler())
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	a.URL = "unix://" + sock
	return a
}

// Token returns a valid token for email.
func (a *API) Token(email string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, u := range a.users {
		if u.Email == email {
			tok := fmt.Sprintf("tok-%s-%d", email, len(a.tokens))
			a.tokens[tok] = u
			return tok
		}
	}
	panic("clitest: no user " + email)
}

// AddJob stores a job as if submitted earlier and returns it.
func (a *API) AddJob(j apitype.Job) *apitype.Job {
	a.mu.Lock()
	defer a.mu.Unlock()
	if j.ID == 0 {
		j.ID = int64(len(a.jobs) + 1)
	}
	a.jobs = append(a.jobs, &j)
	return &j
}

// Job returns a copy of a stored job.
func (a *API) Job(id int64) apitype.Job {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, j := range a.jobs {
		if j.ID == id {
			return *j
		}
	}
	panic(fmt.Sprintf("clitest: no job %d", id))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, status int, code, format string, args ...any) {
	writeJSON(w, status, apitype.ErrorBody{Error: fmt.Sprintf(format, args...), Code: code})
}

var exitLine = regexp.MustCompile(`(?m)^exit (\d+)\s*$`)

// Routes lists the routes the fake serves, as "METHOD /pattern" (chi's and
// net/http's pattern syntax agree on {name} segments): routes_test.go checks
// each against rcqd's real router.
func (a *API) Routes() []string { return slices.Clone(a.routes) }

func (a *API) handler() http.Handler {
	mux := http.NewServeMux()
	a.routes = nil
	handle := func(pattern string, h http.HandlerFunc) {
		a.routes = append(a.routes, pattern)
		mux.HandleFunc(pattern, h)
	}
	auth := func(h func(w http.ResponseWriter, r *http.Request, u *User)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
			a.mu.Lock()
			u := a.tokens[tok]
			if tok == "" && a.Peer != "" {
				u = a.user(a.Peer)
			}
			revoked := a.revoked[tok]
			a.mu.Unlock()
			switch {
			case tok == "expired":
				writeErr(w, 401, "token_expired", "token expired")
			case revoked:
				writeErr(w, 401, "token_revoked", "session ended (logged out or password changed): run rcq-login")
			case u == nil && tok == "":
				writeErr(w, 401, "missing_token", "missing bearer token: run rcq-login")
			case u == nil:
				writeErr(w, 401, "invalid_token", "invalid token")
			default:
				h(w, r, u)
			}
		}
	}
	handle("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, apitype.Health{Status: "healthy", Version: "test"})
	})
	handle("POST /api/auth/register", func(w http.ResponseWriter, r *http.Request) {
		var req apitype.RegisterRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		a.mu.Lock()
		defer a.mu.Unlock()
		for _, u := range a.users {
			if u.Email == req.Email {
				writeErr(w, 409, "email_taken", "%s is already registered", req.Email)
				return
			}
		}
		u := &User{ID: int64(len(a.users) + 1), Email: req.Email, Password: req.Password, GroupID: req.GroupID}
		a.users = append(a.users, u)
		writeJSON(w, 201, apitype.RegisterResponse{Message: "User registered successfully", UserID: u.ID, Warning: a.RegisterWarning})
	})
	handle("POST /api/auth/login", func(w http.ResponseWriter, r *http.Request) {
		var req apitype.LoginRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		a.mu.Lock()
		var found *User
		for _, u := range a.users {
			if u.Email == req.Email && u.Password == req.Password {
				found = u
			}
		}
		a.mu.Unlock()
		if found == nil {
			writeErr(w, 401, "invalid_credentials", "invalid email or password")
			return
		}
		tok := a.Token(found.Email)
		writeJSON(w, 200, apitype.LoginResponse{Message: "Login successful", Token: tok, ExpiresAt: Now.Add(24 * time.Hour),
			User: apitype.UserInfo{ID: found.ID, Email: found.Email, GroupID: found.GroupID, IsAdmin: found.Admin}})
	})
	handle("POST /api/auth/token", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		a.record(r)
		if a.Peer == "" {
			writeErr(w, 404, "no_route", "no such route: POST /api/auth/token")
			return
		}
		tok := a.Token(u.Email)
		writeJSON(w, 200, apitype.LoginResponse{Message: "Login successful", Token: tok, ExpiresAt: Now.Add(24 * time.Hour),
			User: apitype.UserInfo{ID: u.ID, Email: u.Email, GroupID: u.GroupID, IsAdmin: u.Admin}})
	}))
	handle("POST /api/auth/logout", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		// rcqd ends this session only: the token presented (its jti).
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		a.mu.Lock()
		if a.tokens[tok] == u {
			delete(a.tokens, tok)
			a.revoked[tok] = true
		}
		a.mu.Unlock()
		writeJSON(w, 200, apitype.Message{Message: "Logged out"})
	}))
	handle("GET /api/auth/me", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		writeJSON(w, 200, apitype.UserInfo{ID: u.ID, Email: u.Email, GroupID: u.GroupID, IsAdmin: u.Admin})
	}))
	handle("POST /api/jobs", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		var req apitype.SubmitRequest
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
				writeErr(w, 400, "unknown_field", "unknown field %s", name) // rcqd's code (internal/api decode.go)
				return
			}
			writeErr(w, 400, "bad_json", "malformed JSON: %v", err)
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if r.URL.Query().Get("test_only") == "true" {
			a.TestOnly++
			start := Now.Add(5 * time.Minute)
			writeJSON(w, 200, apitype.SubmitResponse{Message: "Job would be accepted", Status: "pending", ExpectedStart: &start})
			return
		}
		a.Submits = append(a.Submits, req)
		j := &apitype.Job{ID: int64(len(a.jobs) + 1), UserID: u.ID, User: u.Email, GroupID: u.GroupID, Name: req.Name,
			Script: req.Script, Status: "pending", Reason: rcq.ReasonPriority, SubmittedAt: Now, CPUCores: 1, MemoryGB: 1, Priority: 1}
		if req.Hold {
			j.Hold, j.Reason = "user", rcq.ReasonHeldUser
		}
		a.jobs = append(a.jobs, j)
		writeJSON(w, 201, apitype.SubmitResponse{Message: "Job submitted successfully", JobID: j.ID, Status: "pending"})
	}))
	handle("GET /api/jobs", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		a.record(r)
		q := r.URL.Query()
		states := map[string]bool{}
		for _, s := range strings.Split(q.Get("status"), ",") {
			if s == "all" || s == "" {
				continue
			}
			st, err := rcq.ParseJobState(s)
			if err != nil {
				writeErr(w, 400, "invalid_status", "%s", rcq.MessageOf(err))
				return
			}
			states[string(st)] = true
		}
		ids := map[int64]bool{}
		for _, s := range strings.Split(q.Get("ids"), ",") {
			if id, err := strconv.ParseInt(s, 10, 64); err == nil {
				ids[id] = true
			}
		}
		limit, _ := strconv.Atoi(q.Get("limit"))
		a.mu.Lock()
		defer a.mu.Unlock()
		out := apitype.JobList{Jobs: []apitype.Job{}}
		for _, j := range a.jobs {
			if !u.Admin && j.UserID != u.ID || q.Get("user") != "" && j.User != q.Get("user") ||
				len(states) > 0 && !states[j.Status] || len(ids) > 0 && !ids[j.ID] && (j.ArrayJobID == nil || !ids[*j.ArrayJobID]) || q.Get("name") != "" && j.Name != q.Get("name") {
				continue
			}
			out.Jobs = append(out.Jobs, *j)
		}
		if q.Get("order") != "oldest" { // newest first unless told, as rcqd
			slices.Reverse(out.Jobs)
		}
		if limit > 0 && len(out.Jobs) > limit {
			out.Jobs = out.Jobs[:limit]
			out.Next = "more" // opaque to clients, like rcqd's cursor
		}
		out.Count = len(out.Jobs)
		writeJSON(w, 200, out)
	}))
	// GET /api/acct, the part rcq-queue uses for recently ended jobs: the
	// caller's jobs (an admin's: all) in the states asked, not ended
	// before start, newest first, one page.
	handle("GET /api/acct", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		a.record(r)
		q := r.URL.Query()
		states := map[string]bool{}
		for _, s := range strings.Split(q.Get("states"), ",") {
			if s == "" {
				continue
			}
			st, err := rcq.ParseJobState(s)
			if err != nil {
				writeErr(w, 400, "invalid_states", "%s", rcq.MessageOf(err))
				return
			}
			states[string(st)] = true
		}
		var start time.Time
		if v := q.Get("start"); v != "" {
			var err error
			if start, err = time.Parse(time.RFC3339Nano, v); err != nil {
				writeErr(w, 400, "invalid_start", "start: %v", err)
				return
			}
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		out := apitype.AcctList{Jobs: []apitype.AcctJob{}}
		for i := len(a.jobs) - 1; i >= 0; i-- {
			j := a.jobs[i]
			if !u.Admin && j.UserID != u.ID || q.Get("user") != "" && j.User != q.Get("user") ||
				len(states) > 0 && !states[j.Status] || j.CompletedAt != nil && j.CompletedAt.Before(start) {
				continue
			}
			out.Jobs = append(out.Jobs, apitype.AcctJob{ID: j.ID, User: j.User, GroupID: j.GroupID, Name: j.Name,
				Status: j.Status, CPUCores: j.CPUCores, MemoryGB: j.MemoryGB, GPUCount: j.GPUCount,
				EstimatedHours: j.EstimatedHours, Reason: j.Reason, ReasonDetail: j.ReasonDetail,
				SubmittedAt: j.SubmittedAt, StartedAt: j.StartedAt, CompletedAt: j.CompletedAt,
				ExitCode: j.ExitCode, Worker: j.Worker,
				ArrayJobID: j.ArrayJobID, ArrayTaskID: j.ArrayTaskID, ArrayTasks: j.ArrayTasks, ArrayThrottle: j.ArrayThrottle})
		}
		out.Count = len(out.Jobs)
		writeJSON(w, 200, out)
	}))
	find := func(w http.ResponseWriter, r *http.Request, u *User) *apitype.Job {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		// An array element (123_4) is the element's own row, once split off.
		ref, err := rcq.ParseJobRef(r.PathValue("id"))
		if err != nil {
			writeErr(w, 400, "invalid_id", "id: %q is not a job id (123), an array element (123_4) or elements (123_[1-3,7])", r.PathValue("id"))
			return nil
		}
		for _, j := range a.jobs {
			element := err == nil && ref.Tasks.Len() == 1 && j.ArrayJobID != nil && j.ArrayTaskID != nil &&
				*j.ArrayJobID == int64(ref.JobID) && *j.ArrayTaskID == ref.Tasks.Min()
			if (j.ID == id || element) && (u.Admin || j.UserID == u.ID) {
				return j
			}
		}
		writeErr(w, 404, "not_found", "job %s not found", r.PathValue("id"))
		return nil
	}
	handle("GET /api/jobs/{id}", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		a.mu.Lock()
		defer a.mu.Unlock()
		j := find(w, r, u)
		if j == nil {
			return
		}
		// Move the job along, so --wait sees it run and end.
		switch {
		case j.Status == "pending" && j.Hold == "":
			j.Status, j.Reason, j.Worker = "running", "", "node1"
			started := Now.Add(time.Second)
			j.StartedAt = &started
		case j.Status == "running":
			code := 0
			if m := exitLine.FindAllStringSubmatch(j.Script, -1); m != nil {
				code, _ = strconv.Atoi(m[len(m)-1][1])
			}
			j.ExitCode = &code
			j.Status = "completed"
			if code != 0 {
				j.Status, j.Reason = "failed", rcq.ReasonNonZeroExit
			}
			done := Now.Add(time.Minute)
			j.CompletedAt = &done
		}
		writeJSON(w, 200, j)
	}))
	handle("DELETE /api/jobs/{id}", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		a.mu.Lock()
		defer a.mu.Unlock()
		j := find(w, r, u)
		if j == nil {
			return
		}
		if rcq.JobState(j.Status).Terminal() {
			writeErr(w, 409, "job_finished", "job %d is already %s", j.ID, j.Status)
			return
		}
		j.Status, j.Reason = "cancelled", rcq.ReasonCancelledByUser
		writeJSON(w, 200, apitype.JobAction{Message: "Job cancelled", JobID: j.ID, Status: j.Status})
	}))
	// POST /api/jobs/cancel: rcqd's bulk cancel, by ids and filters.
	handle("POST /api/jobs/cancel", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		a.record(r)
		var req apitype.CancelRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		a.mu.Lock()
		defer a.mu.Unlock()
		user := ""
		switch {
		case req.Me:
			user = u.Email
		case req.User != "" && !u.Admin && req.User != u.Email:
			writeErr(w, 403, "other_users_jobs", "only admins may see other users' jobs: %s is not you (%s)", req.User, u.Email)
			return
		case req.User != "":
			if a.user(req.User) == nil {
				writeErr(w, 404, "user_not_found", "no account %s", req.User)
				return
			}
			user = req.User
		}
		states := map[string]bool{}
		for _, s := range req.States {
			st, _ := rcq.ParseJobState(s)
			states[string(st)] = true
		}
		if len(states) == 0 {
			states = map[string]bool{"pending": true, "running": true}
		}
		out := apitype.CancelResponse{Cancelled: []int64{}, Refused: []apitype.CancelRefusal{}}
		done := map[int64]bool{}
		for _, j := range a.jobs {
			if !u.Admin && j.UserID != u.ID || user != "" && j.User != user || !states[j.Status] ||
				len(req.IDs) > 0 && !slices.Contains(req.IDs, j.ID) || len(req.Names) > 0 && !slices.Contains(req.Names, j.Name) {
				continue
			}
			j.Status, j.Reason = "cancelled", rcq.ReasonCancelledByUser
			out.Cancelled = append(out.Cancelled, j.ID)
			done[j.ID] = true
		}
		for _, id := range req.IDs {
			if done[id] {
				continue
			}
			rf := apitype.CancelRefusal{JobID: id, Code: "not_found", Error: fmt.Sprintf("job %d not found", id)}
			for _, j := range a.jobs {
				if j.ID != id || !u.Admin && j.UserID != u.ID {
					continue
				}
				if rcq.JobState(j.Status).Terminal() {
					rf.Code, rf.Error = "job_finished", fmt.Sprintf("job %d is already %s", id, j.Status)
				} else {
					rf.Error = fmt.Sprintf("job %d not found or does not match the filters", id)
				}
			}
			out.Refused = append(out.Refused, rf)
		}
		out.Count = len(out.Cancelled)
		writeJSON(w, 200, out)
	}))
	handle("POST /api/jobs/{id}/signal", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		var req apitype.SignalRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		a.mu.Lock()
		defer a.mu.Unlock()
		j := find(w, r, u)
		if j == nil {
			return
		}
		if j.Status != "running" {
			writeErr(w, 409, "job_not_running", "job %d is %s, not running", j.ID, j.Status)
			return
		}
		a.Signals = append(a.Signals, fmt.Sprintf("%d:%s", j.ID, req.Signal))
		writeJSON(w, 200, apitype.JobAction{Message: "Signal sent", JobID: j.ID, Status: j.Status})
	}))
	// Hold, release and update follow rcqd's rules: pending jobs only, an
	// admin's hold binds users, updates checked by rcq.JobUpdate; requeue
	// (below) by rcq.Job.CheckRequeue.
	pending := func(w http.ResponseWriter, r *http.Request, u *User) *apitype.Job {
		j := find(w, r, u)
		if j != nil && j.Status != "pending" {
			writeErr(w, 409, "job_not_pending", "job %d is %s, not pending", j.ID, j.Status)
			return nil
		}
		return j
	}
	for verb, hold := range map[string]string{"hold": "user", "release": ""} {
		handle("POST /api/jobs/{id}/"+verb, auth(func(w http.ResponseWriter, r *http.Request, u *User) {
			a.mu.Lock()
			defer a.mu.Unlock()
			j := pending(w, r, u)
			if j == nil {
				return
			}
			if j.Hold == "admin" && !u.Admin {
				writeErr(w, 403, "held_by_admin", "job %d is held by an admin; only an admin can release it", j.ID)
				return
			}
			j.Hold, j.Reason = hold, ""
			if hold != "" && u.Admin {
				j.Hold = "admin"
			}
			writeJSON(w, 200, apitype.JobAction{Message: "Job " + verb, JobID: j.ID, Status: j.Status})
		}))
	}
	handle("PATCH /api/jobs/{id}", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		var req apitype.JobUpdate
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeErr(w, 400, "bad_json", "%v", err)
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		j := pending(w, r, u)
		if j == nil {
			return
		}
		upd := rcq.JobUpdate{Name: req.Name, EstimatedHours: req.EstimatedHours, Priority: req.Priority}
		if req.Dependencies != nil {
			deps := []rcq.Dependency{}
			for _, d := range *req.Dependencies {
				deps = append(deps, rcq.Dependency{Type: rcq.DependencyType(d.Type), JobID: rcq.JobID(d.JobID)})
			}
			upd.Dependencies = &deps
		}
		cur := rcq.Job{ID: rcq.JobID(j.ID), EstimatedHours: j.EstimatedHours, Priority: j.Priority, Name: j.Name}
		if err := upd.Check(&cur, u.Admin, rcq.DefaultLimits); err != nil {
			status := map[rcq.Kind]int{rcq.KindInvalid: 400, rcq.KindForbidden: 403}[rcq.KindOf(err)]
			writeErr(w, status, rcq.CodeOf(err), "%s", rcq.MessageOf(err))
			return
		}
		upd.Apply(&cur)
		j.Name, j.EstimatedHours, j.Priority = cur.Name, cur.EstimatedHours, cur.Priority
		if req.Dependencies != nil {
			j.Dependencies = *req.Dependencies
		}
		writeJSON(w, 200, j)
	}))
	handle("POST /api/jobs/{id}/requeue", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		a.mu.Lock()
		defer a.mu.Unlock()
		j := find(w, r, u)
		if j == nil {
			return
		}
		cur := rcq.Job{ID: rcq.JobID(j.ID), State: rcq.JobState(j.Status), StartedAt: j.StartedAt, CompletedAt: j.CompletedAt, Requeue: j.Requeue}
		if err := cur.CheckRequeue(); err != nil {
			writeErr(w, 409, rcq.CodeOf(err), "%s", rcq.MessageOf(err))
			return
		}
		now := Now
		j.Status, j.Reason, j.ReasonDetail, j.Restarts, j.RequeuedAt = "pending", rcq.ReasonRequeued, rcq.RequeuedBy(u.Email), j.Restarts+1, &now
		j.StartedAt, j.CompletedAt, j.ExitCode, j.Signal, j.Worker = nil, nil, nil, "", ""
		if r.URL.Query().Get("hold") == "true" {
			j.Hold = "user"
			if u.Admin {
				j.Hold = "admin"
			}
		}
		writeJSON(w, 200, apitype.JobAction{Message: "Job requeued", JobID: j.ID, Status: j.Status})
	}))
	handle("GET /api/queue", auth(func(w http.ResponseWriter, r *http.Request, u *User) {
		a.record(r)
		q := r.URL.Query()
		user := q.Get("user")
		a.mu.Lock()
		defer a.mu.Unlock()
		// Pages split the queue by id, as rcqd's do: the next limit jobs
		// after the cursor (here the last id, in the clear), pending first.
		size := a.QueuePage
		if size == 0 {
			size = 10_000
		}
		limit := size
		if v := q.Get("limit"); v != "" {
			if n, err := strconv.Atoi(v); err != nil || n < 1 || n > size {
				writeErr(w, 400, "invalid_limit", "limit: must be a whole number from 1 to %d", size)
				return
			}
			limit, _ = strconv.Atoi(v)
		}
		after, _ := strconv.ParseInt(q.Get("cursor"), 10, 64)
		var page []*apitype.Job
		for _, j := range a.jobs { // in id order
			if j.ID > after && (j.Status == "pending" || j.Status == "running") && (user == "" || j.User == user) {
				page = append(page, j)
			}
		}
		out := apitype.Queue{Jobs: []apitype.QueueJob{}, Now: Now}
		if len(page) > limit {
			page = page[:limit]
			out.Next = strconv.FormatInt(page[limit-1].ID, 10)
		}
		for _, pass := range []string{"pending", "running"} {
			for _, j := range page {
				if j.Status != pass {
					continue
				}
				own := u.Admin || j.UserID == u.ID
				qj := apitype.QueueJob{ID: j.ID, User: j.User, GroupID: j.GroupID, Status: j.Status,
					CPUCores: j.CPUCores, MemoryGB: j.MemoryGB, GPUCount: j.GPUCount, Own: own}
				if own {
					sub := j.SubmittedAt
					qj.Name, qj.Priority, qj.Computed, qj.Rank, qj.Reason, qj.ReasonDetail = j.Name, j.Priority, j.Computed, j.Rank, j.Reason, j.ReasonDetail
					qj.ExpectedStart, qj.SubmittedAt, qj.StartedAt, qj.EstimatedHours, qj.Worker = j.ExpectedStart, &sub, j.StartedAt, j.EstimatedHours, j.Worker
				}
				qj.ArrayJobID, qj.ArrayTaskID, qj.ArrayTasks, qj.ArrayThrottle = j.ArrayJobID, j.ArrayTaskID, j.ArrayTasks, j.ArrayThrottle
				out.Jobs = append(out.Jobs, qj)
			}
		}
		out.Count = len(out.Jobs)
		writeJSON(w, 200, out)
	}))
	return mux
}

// user finds an account by email; a.mu is held.
func (a *API) user(email string) *User {
	for _, u := range a.users {
		if u.Email == email {
			return u
		}
	}
	return nil
}

func (a *API) record(r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	line := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	a.Requests = append(a.Requests, line)
}

// Env is a test Factory's environment.
type Env struct {
	F       *cli.Factory
	Stdin   *bytes.Buffer
	Stdout  *bytes.Buffer
	Stderr  *bytes.Buffer
	Vars    map[string]string // what Getenv sees
	CredDir string
}

// NewEnv returns a Factory named name talking to server (RCQ_SERVER), with
// its credentials file in a temporary directory, the working directory
// /work/dir, the environment HOME=/home/ann PATH=/bin plus vars, and the
// clock at Now.
func NewEnv(t testing.TB, name, server string) *Env {
	ios, in, out, errOut := cli.Test()
	e := &Env{Stdin: in, Stdout: out, Stderr: errOut, Vars: map[string]string{"RCQ_SERVER": server}, CredDir: t.TempDir()}
	f := cli.NewFactory(name, ios)
	f.Getenv = func(k string) string { return e.Vars[k] }
	f.Environ = func() []string {
		env := []string{"HOME=/home/ann", "PATH=/bin"}
		for k, v := range e.Vars {
			env = append(env, k+"="+v)
		}
		return env
	}
	f.Getwd = func() (string, error) { return "/work/dir", nil }
	f.Now = func() time.Time { return Now }
	f.CredentialsPath = func() (string, error) { return filepath.Join(e.CredDir, "rcq", "credentials"), nil }
	e.F = f
	return e
}

// Login saves credentials for email as rcq-login would.
func (e *Env) Login(t testing.TB, a *API, email string) {
	path, _ := e.F.CredentialsPath()
	err := client.SaveCredentials(path, &client.Credentials{Server: a.URL, Token: a.Token(email), Email: email, ExpiresAt: Now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
}

// Run runs cmd with args as the program would and returns the exit code.
func (e *Env) Run(cmd *cobra.Command, args ...string) int {
	return cli.Run(context.Background(), e.F, cmd, args)
}

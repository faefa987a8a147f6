package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// acctFilter reads the query of GET /api/acct and /api/acct/summary:
//
//	user    an email or a Unix login; others' need an admin (403 otherwise)
//	ids     comma-separated job refs: 123 (a job or a whole array), 123_4, 123_[1-3,7] (others' jobs are not listed)
//	states  comma-separated states (long names or Slurm codes), or all
//	start   RFC 3339: jobs not ended before it (still queued or running, or ended at or after it)
//	end     RFC 3339: jobs submitted by it
//
// Without a user an admin sees every account's jobs, anyone else their own.
func (s *Server) acctFilter(r *http.Request, q url.Values) (rcq.AcctFilter, error) {
	f := rcq.AcctFilter{UserID: owner(r)}
	if v := q.Get("states"); v != "" {
		f.States = []rcq.JobState{}
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), "all") {
				f.States = nil
				break
			}
			st, err := rcq.ParseJobState(part)
			if err != nil {
				return f, rcq.Invalid("states", "%q is not a job state: use pending, running, completed, failed, cancelled, timeout (or PD, R, CD, F, CA, TO), comma-separated, or all", part)
			}
			f.States = append(f.States, st)
		}
	}
	if v := q.Get("ids"); v != "" {
		var err error
		if f.Refs, err = parseRefs("ids", v, s.cfg.Limits.MaxPageSize); err != nil {
			return f, err
		}
	}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"start", &f.From}, {"end", &f.To}} {
		if v := q.Get(t.name); v != "" {
			var err error
			if *t.to, err = time.Parse(time.RFC3339Nano, v); err != nil {
				return f, rcq.Invalid(t.name, "must be an RFC 3339 time like 2026-01-02T15:04:05Z")
			}
		}
	}
	if name := q.Get("user"); name != "" {
		uid, err := s.namedUser(r, name)
		if err != nil {
			return f, err
		}
		f.UserID = uid
	}
	return f, nil
}

// namedUser resolves ?user= (an email, or a Unix login mapped to an
// account) for a list of jobs. A non-admin naming anyone but themselves is
// refused, whether the account exists or not; an admin naming no account
// gets 404.
func (s *Server) namedUser(r *http.Request, name string) (rcq.UserID, error) {
	me := caller(r)
	if !me.IsAdmin {
		if strings.EqualFold(name, me.Email) || (me.UnixUser != "" && name == me.UnixUser) {
			return me.ID, nil
		}
		return 0, rcq.Errorf(rcq.KindForbidden, "other_users_jobs",
			"only admins may see other users' jobs: %s is not you (%s)", name, me.Email)
	}
	u, err := s.lookupUser(r.Context(), name)
	if err != nil {
		return 0, err
	}
	return u.ID, nil
}

// lookupUser finds the account an email or a mapped Unix login names.
func (s *Server) lookupUser(ctx context.Context, name string) (*rcq.User, error) {
	if strings.Contains(name, "@") {
		u, _, err := s.Store.UserByEmail(ctx, name)
		if rcq.KindOf(err) == rcq.KindNotFound {
			return nil, rcq.Errorf(rcq.KindNotFound, "user_not_found", "no account %s", name)
		}
		return u, err
	}
	u, err := s.Store.UserByUnixUser(ctx, name)
	if rcq.KindOf(err) == rcq.KindNotFound {
		return nil, rcq.Errorf(rcq.KindNotFound, "user_not_found", "no account %s, and no account mapped to the Unix user %s", name, name)
	}
	return u, err
}

// listAcct is GET /api/acct: a page of jobs, newest first by submit time;
// ?fields= keeps only those keys of each row (rcq-acct asks for what its
// columns need).
func (s *Server) listAcct(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f, err := s.acctFilter(r, q)
	if err != nil {
		return err
	}
	limit, err := s.pageLimit(q, s.cfg.Limits.MaxPageSize)
	if err != nil {
		return err
	}
	if f.After, err = parseJobsCursor(q.Get("cursor")); err != nil {
		return err
	}
	fields, err := parseAcctFields(q.Get("fields"))
	if err != nil {
		return err
	}
	f.Limit = limit + 1 // one more tells whether a next page exists
	// Each row is encoded by hand (appendAcctJob) as the store reads it,
	// into a reused buffer: encoding/json was half of rcqd's time for
	// rcq-acct, then gathering a page of rows (growing and zeroing a slice
	// of 10,000 jobs) and a fresh buffer for every request were most of the
	// rest (docs/performance.md).
	bp := acctBufs.Get().(*[]byte)
	b := append((*bp)[:0], `{"jobs":[`...)
	n, next := 0, ""
	var last rcq.JobPos
	err = s.Store.EachAcctJob(r.Context(), f, func(j *rcq.Job) error {
		if n == limit {
			next = jobsCursor(last)
			return nil
		}
		if n > 0 {
			b = append(b, ',')
		}
		row := s.acctJSON(j)
		b = appendAcctJob(b, &row, fields)
		last = rcq.JobPos{SubmittedAt: j.SubmittedAt, ID: j.ID}
		n++
		return nil
	})
	if err != nil {
		acctBufs.Put(bp)
		return err
	}
	b = appendAcctEnd(b, n, next)
	// The cursor in a header too: a client can ask for the next page as
	// soon as this one's headers arrive, before it reads and decodes the
	// rows (client.EachAcct), so rcqd does not wait on the client between
	// pages. Present on every page, empty on the last.
	w.Header().Set(apitype.NextCursorHeader, next)
	writeRendered(w, b)
	if cap(b) <= 16<<20 {
		*bp = b
		acctBufs.Put(bp)
	}
	return nil
}

var acctBufs = sync.Pool{New: func() any { return new([]byte) }}

func (s *Server) acctJSON(j *rcq.Job) apitype.AcctJob {
	out := apitype.AcctJob{
		ID: int64(j.ID), User: j.UserEmail, UnixUser: j.UnixUser, GroupID: int64(j.GroupID), Group: j.GroupName,
		Name: j.Name, Status: string(j.State), WorkingDir: j.WorkingDir, CPUCores: j.Resources.CPUCores,
		MemoryGB: j.Resources.MemoryGB, GPUCount: j.Resources.GPUs, EstimatedHours: j.EstimatedHours,
		Reason: j.Reason, ReasonDetail: j.ReasonDetail, SubmittedAt: j.SubmittedAt, StartedAt: j.StartedAt,
		CompletedAt: j.CompletedAt, ExitCode: j.ExitCode, Signal: j.Signal, Worker: j.WorkerName,
		CPUSeconds: j.CPUSeconds, PeakMemoryKB: j.PeakMemoryKB, Output: j.Output, Error: j.Error,
	}
	if s.OutputPaths != nil {
		out.Output, out.Error = s.OutputPaths(j)
	}
	out.ArrayJobID, out.ArrayTaskID, out.ArrayTasks, out.ArrayThrottle = arrayFields(j)
	switch j.Hold {
	case rcq.HoldUser:
		out.Reason = rcq.ReasonHeldUser
	case rcq.HoldAdmin:
		out.Reason = rcq.ReasonHeldAdmin
	}
	return out
}

// acctSummary is GET /api/acct/summary: per-group totals of what GET
// /api/acct would list.
func (s *Server) acctSummary(w http.ResponseWriter, r *http.Request) error {
	f, err := s.acctFilter(r, r.URL.Query())
	if err != nil {
		return err
	}
	gs, err := s.Store.AcctSummary(r.Context(), f)
	if err != nil {
		return err
	}
	out := apitype.AcctSummary{Groups: make([]apitype.AcctGroup, len(gs))}
	if !f.From.IsZero() {
		out.From = &f.From
	}
	if !f.To.IsZero() {
		out.To = &f.To
	}
	for i, g := range gs {
		by := make(map[string]int, len(g.ByState))
		for st, n := range g.ByState {
			by[string(st)] = n
		}
		out.Groups[i] = apitype.AcctGroup{GroupID: int64(g.GroupID), Group: g.GroupName, Jobs: g.Jobs, ByState: by,
			CPUHours: g.CPUHours, GPUHours: g.GPUHours, UsedCPUHours: g.UsedCPUHours}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

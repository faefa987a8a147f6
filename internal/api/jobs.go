package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// spec turns a submit body into the domain's job specification.
func spec(req *apitype.SubmitRequest) (*rcq.JobSpec, error) {
	sp := &rcq.JobSpec{
		Name: req.Name, Script: req.Script, Args: req.Args, WorkingDir: req.WorkingDir,
		CPUCores: req.CPUCores, MemoryGB: req.MemoryGB, GPUs: req.GPUCount,
		EstimatedHours: estimatedHours(req.EstimatedHours), Priority: req.Priority,
		Output: req.Output, Error: req.Error, Hold: req.Hold, Umask: req.Umask, Array: req.Array,
		Requeue: req.Requeue,
	}
	switch req.TimeLimit {
	case "":
	case rcq.Unlimited:
		sp.Unlimited = true
	default:
		return nil, rcq.Invalid("time_limit", "%q: the one time_limit is %q (the most rcqd allows); give any other limit as estimated_hours", req.TimeLimit, rcq.Unlimited)
	}
	for k, v := range req.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, rcq.Invalid("env", "%q is not a variable name: names are non-empty, without '=' or NUL", k)
		}
		sp.Env = append(sp.Env, k+"="+v)
	}
	slices.Sort(sp.Env)
	sp.Dependencies = depsOf(req.Dependencies)
	return sp, nil
}

// estimatedHours is a submit's estimated_hours: 0, as a client built on the
// seed's request struct sends when it leaves it unset, means the default,
// like leaving it out.
func estimatedHours(h *float64) *float64 {
	if h != nil && *h == 0 {
		return nil
	}
	return h
}

// depsOf turns the API's dependencies into the domain's.
func depsOf(ds []apitype.Dependency) []rcq.Dependency {
	var out []rcq.Dependency
	for _, d := range ds {
		dep := rcq.Dependency{Type: rcq.DependencyType(d.Type), JobID: rcq.JobID(d.JobID)}
		if d.ArrayTaskID != nil {
			t := *d.ArrayTaskID
			dep.ArrayTaskID = &t
		}
		out = append(out, dep)
	}
	return out
}

// newJob validates a submit for the caller and checks with fit (checkFits,
// or a batch's view of the workers) that some worker could ever hold it.
func (s *Server) newJob(ctx context.Context, u *rcq.User, req *apitype.SubmitRequest, fit func(context.Context, rcq.Resources) error) (*rcq.Job, error) {
	sp, err := spec(req)
	if err != nil {
		return nil, err
	}
	j, err := sp.Validate(s.cfg.Limits)
	if err != nil {
		return nil, err
	}
	s.own(j, u)
	if err := fit(ctx, j.Resources); err != nil {
		return nil, err
	}
	return j, nil
}

// own makes j the caller's: their account and group, and their home as the
// working directory when the submit names none.
func (s *Server) own(j *rcq.Job, u *rcq.User) {
	j.UserID, j.GroupID = u.ID, u.GroupID
	if j.WorkingDir == "" && s.HomeDir != nil {
		j.WorkingDir = s.HomeDir(u)
	}
}

func (s *Server) checkFits(ctx context.Context, r rcq.Resources) error {
	fits, largest, err := s.Store.LargestFit(ctx, r)
	if err != nil {
		return err
	}
	return fitError(r, fits, largest)
}

// fitError is the refusal of a job of r that no worker can ever hold; nil
// when one can.
func fitError(r rcq.Resources, fits bool, largest *rcq.Worker) error {
	if fits {
		return nil
	}
	if largest == nil {
		return rcq.Errorf(rcq.KindUnprocessable, "no_worker", "no worker is registered that could run a job of %s", r)
	}
	return rcq.Errorf(rcq.KindUnprocessable, "too_large_for_any_worker",
		"no worker can ever hold %s: the largest worker, %s, has %s", r, largest.Name, largest.Capacity)
}

func (s *Server) submitJob(w http.ResponseWriter, r *http.Request) error {
	var req apitype.SubmitRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	key, err := idempotencyKey(r)
	if err != nil {
		return err
	}
	if ok, _ := strconv.ParseBool(r.URL.Query().Get("test_only")); ok {
		r, err := s.reauthenticate(r)
		if err != nil {
			return err
		}
		j, err := s.newJob(r.Context(), caller(r), &req, s.checkFits)
		if err != nil {
			return err
		}
		return s.testOnly(w, r, j)
	}
	resp, err := s.createJob(w, r, &req, key)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

// idempotencyKey is the request's Idempotency-Key header, "" for none.
func idempotencyKey(r *http.Request) (string, error) {
	key := r.Header.Get("Idempotency-Key")
	if len(key) > 255 {
		return "", &rcq.Error{Kind: rcq.KindInvalid, Code: "invalid_idempotency_key", Msg: "Idempotency-Key: must be at most 255 characters"}
	}
	return key, nil
}

// createJob stores req as the caller's job, under key when there is one
// (a repeat of a stored key stores nothing and sets Idempotent-Replayed),
// and returns POST /api/jobs's answer for it.
func (s *Server) createJob(w http.ResponseWriter, r *http.Request, req *apitype.SubmitRequest, key string) (apitype.SubmitResponse, error) {
	var j *rcq.Job
	var id rcq.JobID
	var replayed bool
	err := s.rechecked(r, func(r *http.Request) (err error) {
		if j, err = s.newJob(r.Context(), caller(r), req, s.checkFits); err != nil {
			return err
		}
		id, replayed, err = s.Store.CreateJobChecked(r.Context(), accountCheck(r), j, key)
		return err
	})
	if err != nil {
		return apitype.SubmitResponse{}, err
	}
	if replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	} else {
		noteSubmitted(r.Context(), 1)
	}
	resp := apitype.SubmitResponse{Message: "Job submitted successfully", JobID: int64(id), Status: string(rcq.JobPending)}
	if j.Array != nil {
		resp.Message, resp.ArrayTaskCount = "Job array submitted successfully", j.Array.Count
	}
	return resp, nil
}

func (s *Server) testOnly(w http.ResponseWriter, r *http.Request, j *rcq.Job) error {
	pj, err := s.Planner.Preview(r.Context(), rcq.PendingJob{
		UserID: j.UserID, GroupID: j.GroupID, Resources: j.Resources, EstimatedHours: j.EstimatedHours,
		Priority: j.Priority, Hold: j.Hold, Dependencies: j.Dependencies, SubmittedAt: s.Now(),
	})
	if err != nil {
		return err
	}
	resp := apitype.SubmitResponse{Status: "test_only", ExpectedStart: pj.ExpectedStart, Reason: pj.Reason, ReasonDetail: pj.Detail}
	switch {
	case pj.ExpectedStart != nil:
		resp.Message = "Job would start at " + pj.ExpectedStart.Format(time.RFC3339)
	case pj.Reason != "":
		resp.Message = "Job would be accepted and wait (" + pj.Reason + "): " + pj.Detail
	default:
		resp.Message = "Job would be accepted; no start time can be estimated yet"
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	var j *rcq.Job
	err := s.rechecked(r, func(r *http.Request) (err error) {
		j, err = s.callerRefJob(r)
		return err
	})
	if err != nil {
		return err
	}
	out := s.jobJSON(j)
	if err := s.addDependencyStates(r.Context(), &out); err != nil {
		return err
	}
	if j.State == rcq.JobPending && s.Planner != nil {
		if plan, err := s.Planner.Plan(r.Context()); err == nil {
			for _, p := range plan.Jobs {
				if p.JobID == j.ID {
					addPlan(&out, &p, j.Reason == rcq.ReasonRequeued)
					break
				}
			}
		} else {
			s.Logger.Warn("job view without plan", "err", err)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// addPlan shows a pending job as the plan sees it: its computed priority,
// rank, expected start and current reason. A job requeued and not started
// since keeps its stored detail (who requeued it, or the failure that did)
// after the plan's, so the reason it is pending again stays in view.
func addPlan(out *apitype.Job, p *rcq.PlannedJob, requeued bool) {
	pf := p.Priority
	out.Computed, out.Rank, out.ExpectedStart = &pf, p.Rank, p.ExpectedStart
	if p.Reason != "" {
		detail := p.Detail
		if requeued && out.ReasonDetail != "" {
			if detail == "" {
				detail = out.ReasonDetail
			} else {
				detail += " (" + out.ReasonDetail + ")"
			}
		}
		out.Reason, out.ReasonDetail = p.Reason, detail
	}
}

// jobJSON is a job as the API shows it; output and error are the resolved
// paths of its files (the patterns as submitted, with %j and the defaults
// applied).
func (s *Server) jobJSON(j *rcq.Job) apitype.Job {
	out := apitype.Job{
		ID: int64(j.ID), UserID: int64(j.UserID), User: j.UserEmail, UnixUser: j.UnixUser, GroupID: int64(j.GroupID), Name: j.Name,
		Script: j.Script, Args: nonNilStrings(j.Args), WorkingDir: j.WorkingDir,
		CPUCores: j.Resources.CPUCores, MemoryGB: j.Resources.MemoryGB, GPUCount: j.Resources.GPUs,
		EstimatedHours: j.EstimatedHours, Priority: j.Priority, Status: string(j.State), Reason: j.Reason, ReasonDetail: j.ReasonDetail,
		Hold: string(j.Hold), Dependencies: []apitype.Dependency{}, SubmittedAt: j.SubmittedAt,
		StartedAt: j.StartedAt, CompletedAt: j.CompletedAt, Worker: j.WorkerName, GPUIndices: j.GPUIndices,
		ExitCode: j.ExitCode, Signal: j.Signal, OutputPath: j.Output, ErrorPath: j.Error, Umask: j.Umask.String(),
		CPUSeconds: j.CPUSeconds, PeakMemoryKB: j.PeakMemoryKB, ErrorMessage: errorMessage(j),
		Requeue: j.Requeue, Restarts: j.Restarts, RequeuedAt: j.RequeuedAt,
	}
	if s.OutputPaths != nil {
		out.OutputPath, out.ErrorPath = s.OutputPaths(j)
	}
	if out.GPUIndices == nil {
		out.GPUIndices = []int{}
	}
	if j.WorkerID != nil {
		w := int64(*j.WorkerID)
		out.WorkerID = &w
	}
	for _, d := range j.Dependencies {
		dep := apitype.Dependency{Type: string(d.Type), JobID: int64(d.JobID)}
		if d.ArrayTaskID != nil && d.Type != rcq.AfterCorr {
			t := *d.ArrayTaskID
			dep.ArrayTaskID = &t
		}
		out.Dependencies = append(out.Dependencies, dep)
	}
	out.ArrayJobID, out.ArrayTaskID, out.ArrayTasks, out.ArrayThrottle = arrayFields(j)
	switch {
	case j.Hold == rcq.HoldUser:
		out.Reason = rcq.ReasonHeldUser
	case j.Hold == rcq.HoldAdmin:
		out.Reason = rcq.ReasonHeldAdmin
	}
	return out
}

// errorMessage says why j did not complete, in the seed's error_message
// field: "" unless it failed, timed out or was cancelled.
func errorMessage(j *rcq.Job) string {
	var msg string
	switch j.State {
	case rcq.JobFailed:
		switch {
		case j.Signal != "":
			msg = "killed by signal " + j.Signal
		case j.ExitCode != nil:
			msg = "exit code " + strconv.Itoa(*j.ExitCode)
		default:
			msg = "failed"
		}
	case rcq.JobTimeout:
		msg = "time limit reached"
	case rcq.JobNodeFail:
		msg = "node failure"
	case rcq.JobCancelled:
		msg = "cancelled"
	default:
		return ""
	}
	if j.Reason != "" && j.Reason != rcq.ReasonNone {
		msg += " (" + j.Reason + ")"
	}
	if j.ReasonDetail != "" {
		msg += ": " + j.ReasonDetail
	}
	return msg
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// parseStates reads "pending,running", Slurm codes ("PD,R") or "all".
func parseStates(v string) ([]rcq.JobState, error) {
	if v == "" {
		return nil, nil
	}
	var out []rcq.JobState
	for _, part := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(part), "all") {
			return nil, nil
		}
		st, err := rcq.ParseJobState(part)
		if err != nil {
			return nil, rcq.Invalid("status", "%q is not a job state: use pending, running, completed, failed, cancelled, timeout (or PD, R, CD, F, CA, TO), comma-separated, or all", part)
		}
		out = append(out, st)
	}
	return out, nil
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := rcq.JobFilter{Name: q.Get("name"), UserID: owner(r)}
	var err error
	if f.States, err = parseStates(q.Get("status")); err != nil {
		return err
	}
	limit, err := s.pageLimit(q, min(50, s.cfg.Limits.MaxPageSize))
	if err != nil {
		return err
	}
	if f.After, err = parseJobsCursor(q.Get("cursor")); err != nil {
		return err
	}
	f.Limit = limit + 1 // one more tells whether a next page exists
	if v := q.Get("since"); v != "" {
		if f.Since, err = time.Parse(time.RFC3339, v); err != nil {
			return rcq.Invalid("since", "must be an RFC 3339 time like 2026-01-02T15:04:05Z")
		}
	}
	if v := q.Get("ids"); v != "" {
		if f.Refs, err = parseRefs("ids", v, s.cfg.Limits.MaxPageSize); err != nil {
			return err
		}
	}
	if v := q.Get("depends_on"); v != "" {
		// The jobs waiting on a job (the dashboard's dependency graph).
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return rcq.Invalid("depends_on", "%q is not a job id: use a positive whole number", v)
		}
		f.DependsOn = rcq.JobID(id)
	}
	switch q.Get("order") { // newest first by default, as the seed listed
	case "oldest":
	case "", "newest":
		f.NewestFirst = true
	default:
		return rcq.Invalid("order", "%q: use oldest or newest", q.Get("order"))
	}
	if name := q.Get("user"); name != "" {
		uid, err := s.namedUser(r, name)
		if err != nil {
			return err
		}
		f.UserID = uid
	}
	js, err := s.Store.ListJobs(r.Context(), f)
	if err != nil {
		return err
	}
	js, next := jobsPage(js, limit)
	out := apitype.JobList{Jobs: make([]apitype.Job, len(js)), Count: len(js), Next: next}
	for i := range js {
		out.Jobs[i] = s.jobJSON(&js[i])
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// userFilter resolves ?user=EMAIL: admins may name anyone; others only
// themselves (naming someone else selects nothing rather than revealing
// whether the account exists).
func (s *Server) cancelJob(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	cancel := func(id rcq.JobID) error {
		_, err := s.Store.CancelJob(ctx, id, owner(r))
		return err
	}
	ref, n, err := s.eachRow(ctx, r, true, cancel)
	if err != nil {
		return err
	}
	if ref.Tasks == nil {
		// A whole array: an element the scheduler split off to start
		// after the rows were listed, and before the array's row was
		// cancelled (which waits for that start to commit), is caught by
		// a second look. Rows already ended are skipped.
		if _, more, err := s.eachRow(ctx, r, true, cancel); err == nil {
			n += more
		} else if !errors.Is(err, rcq.ErrConflict) {
			return err
		}
	}
	s.Wake()
	writeJSON(w, http.StatusOK, jobAction(ref, n, "Job cancelled successfully", rcq.JobCancelled))
	return nil
}

func (s *Server) holdJob(w http.ResponseWriter, r *http.Request) error {
	return s.setHold(w, r, true)
}

func (s *Server) releaseJob(w http.ResponseWriter, r *http.Request) error {
	return s.setHold(w, r, false)
}

// holdBy is the hold u places: an admin's binds users (JobHeldAdmin).
func holdBy(u *rcq.User) rcq.Hold {
	if u.IsAdmin {
		return rcq.HoldAdmin
	}
	return rcq.HoldUser
}

func (s *Server) setHold(w http.ResponseWriter, r *http.Request, hold bool) error {
	u := caller(r)
	h, msg := rcq.HoldNone, "Job released"
	if hold {
		h, msg = holdBy(u), "Job held"
	}
	ctx := r.Context()
	ref, n, err := s.eachRow(ctx, r, true, func(id rcq.JobID) error {
		return s.Store.SetHold(ctx, id, owner(r), h, u.IsAdmin)
	})
	if err != nil {
		return err
	}
	s.Wake()
	writeJSON(w, http.StatusOK, jobAction(ref, n, msg, rcq.JobPending))
	return nil
}

func (s *Server) signalJob(w http.ResponseWriter, r *http.Request) error {
	if _, err := jobRef(r); err != nil {
		return err
	}
	var req apitype.SignalRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	sig, err := rcq.ParseSignal(req.Signal)
	if err != nil {
		return err
	}
	// Recorded in the store (with the ownership and state checks) before
	// the answer: the node's executor delivers it from there, so a 200 is
	// never lost, even while no executor listens. Elements still pending
	// in their array's row are not running: nothing to split off.
	ctx := r.Context()
	ref, n, err := s.eachRow(ctx, r, false, func(id rcq.JobID) error {
		return s.Store.SignalJob(ctx, id, owner(r), sig)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, jobAction(ref, n, "Signal "+sig+" sent", rcq.JobRunning))
	return nil
}

// addDependencyStates fills in the state of each job out waits on: a job's,
// a whole array's (running or pending while any element is; once all
// ended, completed only if all completed) or one element's. A job that is
// gone shows no state.
func (s *Server) addDependencyStates(ctx context.Context, out *apitype.Job) error {
	if len(out.Dependencies) == 0 {
		return nil
	}
	ids := make([]rcq.JobID, len(out.Dependencies))
	for i, d := range out.Dependencies {
		ids[i] = rcq.JobID(d.JobID)
	}
	states, err := s.Store.JobStates(ctx, ids)
	if err != nil {
		return err
	}
	for i, d := range out.Dependencies {
		out.Dependencies[i].State = string(states[ids[i]])
		if d.ArrayTaskID != nil {
			el, err := s.Store.ArrayElement(ctx, ids[i], *d.ArrayTaskID, 0)
			switch {
			case err == nil:
				out.Dependencies[i].State = string(el.State)
			case errors.Is(err, rcq.ErrNotFound):
				out.Dependencies[i].State = ""
			default:
				return err
			}
		}
	}
	return nil
}

// updateJob changes a pending job (scontrol update): the rules of who may
// change what are rcq.JobUpdate.Check's, applied to the job as stored.
func (s *Server) updateJob(w http.ResponseWriter, r *http.Request) error {
	if _, err := jobRef(r); err != nil {
		return err
	}
	var req apitype.JobUpdate
	if err := decode(r, &req); err != nil {
		return err
	}
	u := rcq.JobUpdate{Name: req.Name, EstimatedHours: req.EstimatedHours, Priority: req.Priority}
	if req.Dependencies != nil {
		deps := depsOf(*req.Dependencies)
		if deps == nil {
			deps = []rcq.Dependency{}
		}
		u.Dependencies = &deps
	}
	me := caller(r)
	ctx := r.Context()
	var j *rcq.Job
	_, _, err := s.eachRow(ctx, r, true, func(id rcq.JobID) error {
		got, err := s.Store.UpdatePendingJob(ctx, id, owner(r), u, func(j *rcq.Job) error {
			return u.Check(j, me.IsAdmin, s.cfg.Limits)
		})
		if err == nil && j == nil {
			j = got
		}
		return err
	})
	if err != nil {
		return err
	}
	s.Wake()
	out := s.jobJSON(j)
	if err := s.addDependencyStates(ctx, &out); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// requeueJob puts jobs that ran back in the queue under their ids
// (scontrol requeue; with ?hold=true, requeuehold: held as the caller's
// hold would hold them). A ref to several rows (an array, elements)
// requeues each that ran; those that cannot be (pending, never started) are
// skipped, as eachRow skips Conflicts. A running job is stopped on its node
// and charged up to now. Each requeue counts against the pending caps as a
// submit does; a cap reached part way stops there, and the refusal says how
// many were requeued before it.
func (s *Server) requeueJob(w http.ResponseWriter, r *http.Request) error {
	held, err := boolParam(r, "hold")
	if err != nil {
		return err
	}
	u := caller(r)
	h := rcq.HoldNone
	if held {
		h = holdBy(u)
	}
	ctx := r.Context()
	done := 0
	ref, n, err := s.eachRow(ctx, r, false, func(id rcq.JobID) error {
		_, err := s.Store.RequeueJob(ctx, id, owner(r), h, rcq.RequeuedBy(u.Email))
		if err == nil {
			done++
		}
		return err
	})
	if done > 0 {
		s.Wake()
	}
	if errors.Is(err, rcq.ErrNotFound) && ref.Tasks != nil {
		// Elements never started have no row of their own: the array's
		// row stands for them. They exist, and have no run to requeue.
		if j, e := s.Store.JobByID(ctx, ref.JobID, owner(r)); e == nil && j.Array != nil && j.Array.TaskID == nil &&
			len(j.Array.Pending.Intersect(ref.Tasks)) > 0 {
			if why := j.CheckRequeue(); why != nil {
				return why
			}
		}
	}
	if err != nil {
		var re *rcq.Error
		if done > 0 && errors.As(err, &re) && re.Kind != rcq.KindInternal {
			return &rcq.Error{Kind: re.Kind, Code: re.Code, Err: err,
				Msg: fmt.Sprintf("job %s: %d of its jobs were requeued, then: %s", ref, done, re.Msg)}
		}
		return err
	}
	writeJSON(w, http.StatusOK, jobAction(ref, n, "Job requeued", rcq.JobPending))
	return nil
}

package api

import (
	"net/http"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// cancelMaxBody lets one bulk cancel name about 100,000 jobs by id.
const cancelMaxBody = 1 << 20

// cancelJobs is POST /api/jobs/cancel: every pending and running job that
// matches the request, cancelled in one transaction. A user cancels only
// their own jobs (naming another user is refused, 403 other_users_jobs);
// an admin cancels anyone's. A named job that is someone else's answers
// not_found, exactly like a missing one.
func (s *Server) cancelJobs(w http.ResponseWriter, r *http.Request) error {
	var req apitype.CancelRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	f, err := s.cancelFilter(r, &req)
	if err != nil {
		return err
	}
	res, err := s.Store.CancelMatching(r.Context(), f)
	if err != nil {
		return err
	}
	if len(res.Cancelled) > 0 {
		s.Wake()
	}
	out := apitype.CancelResponse{Count: len(res.Cancelled), Cancelled: make([]int64, len(res.Cancelled)),
		Refused: make([]apitype.CancelRefusal, len(res.Refused))}
	for i, id := range res.Cancelled {
		out.Cancelled[i] = int64(id)
	}
	for i, rf := range res.Refused {
		out.Refused[i] = apitype.CancelRefusal{JobID: int64(rf.JobID), Error: rcq.MessageOf(rf.Err), Code: rcq.CodeOf(rf.Err)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// cancelFilter checks a bulk cancel and turns it into the store's filter,
// scoped to the caller's own jobs unless the caller is an admin.
func (s *Server) cancelFilter(r *http.Request, req *apitype.CancelRequest) (rcq.CancelFilter, error) {
	f := rcq.CancelFilter{UserID: owner(r)}
	if len(req.IDs) == 0 && len(req.States) == 0 && len(req.Names) == 0 && req.User == "" && !req.Me {
		return f, rcq.Invalid("ids", "give job ids or a filter (states, names, user, me)")
	}
	if req.User != "" && req.Me {
		return f, rcq.Invalid("me", "give user or me, not both")
	}
	for _, id := range req.IDs {
		if id <= 0 {
			return f, rcq.Invalid("ids", "%d is not a job id", id)
		}
		f.IDs = append(f.IDs, rcq.JobID(id))
	}
	for _, v := range req.States {
		st, err := rcq.ParseJobState(v)
		if err != nil || (st != rcq.JobPending && st != rcq.JobRunning) {
			return f, rcq.Invalid("states", "%q: only pending and running jobs can be cancelled: use pending, running (or PD, R)", v)
		}
		f.States = append(f.States, st)
	}
	for _, n := range req.Names {
		if n == "" {
			return f, rcq.Invalid("names", "a job name must not be empty")
		}
	}
	f.Names = req.Names
	switch {
	case req.Me:
		f.UserID = caller(r).ID
	case req.User != "":
		uid, err := s.namedUser(r, req.User)
		if err != nil {
			return f, err
		}
		f.UserID = uid
	}
	return f, nil
}

package api

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// queue shows every pending job in the scheduler's order, then every running
// job. The caller's own jobs (every job, for an admin) carry full detail;
// other users' show id, owner, state and size only.
func (s *Server) queue(w http.ResponseWriter, r *http.Request) error {
	me := caller(r)
	filter := r.URL.Query().Get("user")
	jobs, err := s.Store.QueueJobs(r.Context())
	if err != nil {
		return err
	}
	planned := map[rcq.JobID]*rcq.PlannedJob{}
	if s.Planner != nil {
		plan, _, err := s.Planner.Plan(r.Context())
		if err != nil {
			return err
		}
		for i := range plan.Jobs {
			planned[plan.Jobs[i].JobID] = &plan.Jobs[i]
		}
	}
	out := apitype.Queue{Jobs: make([]apitype.QueueJob, 0, len(jobs)), Now: s.Now()}
	for i := range jobs {
		j := &jobs[i]
		if filter != "" && !strings.EqualFold(j.UserEmail, filter) {
			continue
		}
		q := apitype.QueueJob{
			ID: int64(j.ID), User: j.UserEmail, GroupID: int64(j.GroupID), Status: string(j.State),
			CPUCores: j.Resources.CPUCores, MemoryGB: j.Resources.MemoryGB, GPUCount: j.Resources.GPUs,
		}
		p := planned[j.ID]
		if p != nil {
			q.Rank = p.Rank // order is not a secret: squeue shows it to everyone
		}
		if me.IsAdmin || j.UserID == me.ID {
			q.Own = j.UserID == me.ID
			q.Name, q.Priority, q.EstimatedHours, q.Worker = j.Name, j.Priority, j.EstimatedHours, j.WorkerName
			sub := j.SubmittedAt
			q.SubmittedAt, q.StartedAt, q.GPUIndices = &sub, j.StartedAt, j.GPUIndices
			switch {
			case j.Hold == rcq.HoldUser:
				q.Reason = rcq.ReasonHeldUser
			case j.Hold == rcq.HoldAdmin:
				q.Reason = rcq.ReasonHeldAdmin
			}
			if p != nil {
				pf := p.Priority
				q.Computed, q.ExpectedStart = &pf, p.ExpectedStart
				if p.Reason != "" {
					q.Reason, q.ReasonDetail = p.Reason, p.Detail
				}
			}
		}
		out.Jobs = append(out.Jobs, q)
	}
	// Pending first in plan order (jobs newer than the plan after, by id),
	// then running by id.
	slices.SortStableFunc(out.Jobs, func(a, b apitype.QueueJob) int {
		if a.Status != b.Status {
			if a.Status == string(rcq.JobPending) {
				return -1
			}
			return 1
		}
		ra, rb := a.Rank, b.Rank
		if ra == 0 {
			ra = int(^uint(0) >> 1)
		}
		if rb == 0 {
			rb = int(^uint(0) >> 1)
		}
		return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(a.ID, b.ID))
	})
	out.Count = len(out.Jobs)
	writeJSON(w, http.StatusOK, out)
	return nil
}

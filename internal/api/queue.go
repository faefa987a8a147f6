package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// queueView is one read of the queue (its jobs and the scheduler's plan),
// shared by every request that arrived before the read began. Each caller's
// answer is rendered once per view and kept, so a crowd of readers costs one
// read and one rendering per caller, not one per request.
type queueView struct {
	now     time.Time
	jobs    []rcq.Job
	planned map[rcq.JobID]*rcq.PlannedJob

	mu       sync.Mutex
	rendered map[string][]byte // the JSON body per caller and filter
}

func (s *Server) readQueue(ctx context.Context) (*queueView, error) {
	jobs, err := s.Store.QueueJobs(ctx)
	if err != nil {
		return nil, err
	}
	v := &queueView{now: s.Now(), jobs: jobs, planned: map[rcq.JobID]*rcq.PlannedJob{}, rendered: map[string][]byte{}}
	if s.Planner != nil {
		plan, err := s.Planner.Plan(ctx)
		if err != nil {
			return nil, err
		}
		for i := range plan.Jobs {
			v.planned[plan.Jobs[i].JobID] = &plan.Jobs[i]
		}
	}
	return v, nil
}

// queue shows every pending job in the scheduler's order, then every running
// job. The caller's own jobs (every job, for an admin) carry full detail;
// other users' show id, owner, group, state, size and rank only.
func (s *Server) queue(w http.ResponseWriter, r *http.Request) error {
	v, err := s.queueViews.do(r.Context())
	if err != nil {
		return err
	}
	me := caller(r)
	filter := r.URL.Query().Get("user")
	key := strconv.FormatInt(int64(me.ID), 10) + "|" + strconv.FormatBool(me.IsAdmin) + "|" + filter
	v.mu.Lock()
	body, ok := v.rendered[key]
	v.mu.Unlock()
	if !ok {
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(v.render(me, filter)); err != nil {
			return err
		}
		body = buf.Bytes()
		v.mu.Lock()
		v.rendered[key] = body
		v.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body) // the client went away: nothing left to tell it
	return nil
}

// render is the view as me sees it: pending first in plan order (jobs newer
// than the plan after them, by id), then running by id.
func (v *queueView) render(me *rcq.User, filter string) apitype.Queue {
	out := apitype.Queue{Jobs: make([]apitype.QueueJob, 0, len(v.jobs)), Now: v.now}
	for i := range v.jobs {
		j := &v.jobs[i]
		if filter != "" && !strings.EqualFold(j.UserEmail, filter) {
			continue
		}
		q := apitype.QueueJob{
			ID: int64(j.ID), User: j.UserEmail, GroupID: int64(j.GroupID), Status: string(j.State),
			CPUCores: j.Resources.CPUCores, MemoryGB: j.Resources.MemoryGB, GPUCount: j.Resources.GPUs,
		}
		p := v.planned[j.ID]
		if p != nil {
			q.Rank = p.Rank // order is not a secret: squeue shows it to everyone
		}
		if me.IsAdmin || j.UserID == me.ID {
			q.Own = j.UserID == me.ID
			q.Name, q.Priority, q.EstimatedHours, q.Worker = j.Name, j.Priority, j.EstimatedHours, j.WorkerName
			sub := j.SubmittedAt
			q.SubmittedAt, q.StartedAt, q.GPUIndices = &sub, j.StartedAt, j.GPUIndices
			switch j.Hold {
			case rcq.HoldUser:
				q.Reason = rcq.ReasonHeldUser
			case rcq.HoldAdmin:
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
	const unranked = int(^uint(0) >> 1)
	slices.SortStableFunc(out.Jobs, func(a, b apitype.QueueJob) int {
		if a.Status != b.Status {
			if a.Status == string(rcq.JobPending) {
				return -1
			}
			return 1
		}
		ra, rb := a.Rank, b.Rank
		if ra == 0 {
			ra = unranked
		}
		if rb == 0 {
			rb = unranked
		}
		return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(a.ID, b.ID))
	})
	out.Count = len(out.Jobs)
	return out
}

package api

import (
	"net/http"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// listNodes is GET /api/workers: every worker's name, node, size, state and
// allocation, for any account (rcq-info). The admin view with ids and
// heartbeats stays under /api/admin/workers.
func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.Store.WorkerLoads(r.Context())
	if err != nil {
		return err
	}
	out := apitype.NodeList{Workers: make([]apitype.NodeInfo, len(ws)), Count: len(ws)}
	for i, wl := range ws {
		out.Workers[i] = apitype.NodeInfo{Name: wl.Name, Node: wl.Node,
			CPUCores: wl.Capacity.CPUCores, MemoryGB: wl.Capacity.MemoryGB, GPUCount: wl.Capacity.GPUs,
			Status: string(wl.State), State: wl.NodeState(),
			AllocCPUs: wl.Allocated.CPUCores, AllocMemoryGB: wl.Allocated.MemoryGB, AllocGPUs: wl.Allocated.GPUs,
			RunningJobs: wl.RunningJobs}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// share is GET /api/share: every group's quota, usage and fair-share factor
// as the scheduler computes them (rcq-share). A user sees the members of
// their own group; other groups show totals only. Admins see every member.
func (s *Server) share(w http.ResponseWriter, r *http.Request) error {
	if s.Planner == nil {
		return rcq.Errorf(rcq.KindInternal, "no_scheduler", "this rcqd has no scheduler to ask for fair share")
	}
	gs, err := s.Planner.Shares(r.Context())
	if err != nil {
		return err
	}
	u := caller(r)
	out := apitype.ShareList{Groups: make([]apitype.GroupShare, len(gs)), Count: len(gs)}
	for i, g := range gs {
		out.Groups[i] = apitype.GroupShare{ID: int64(g.ID), Name: g.Name, CPUQuota: g.CPUQuota, Priority: g.Priority,
			UsageCPUHours: g.UsageCPUHours, FairShare: g.FairShare}
		if !u.IsAdmin && g.ID != u.GroupID {
			continue
		}
		users := make([]apitype.UserShare, len(g.Users))
		for j, us := range g.Users {
			users[j] = apitype.UserShare{Email: us.Email, UsageCPUHours: us.UsageCPUHours}
			if g.UsageCPUHours > 0 {
				users[j].UsageShare = us.UsageCPUHours / g.UsageCPUHours
			}
		}
		out.Groups[i].Users = users
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

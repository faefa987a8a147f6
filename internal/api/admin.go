package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

func pathID(r *http.Request, what string) (int64, error) {
	s := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, rcq.Invalid("id", "%q is not a %s id (a positive whole number)", s, what)
	}
	return id, nil
}

func groupJSON(g *rcq.Group) apitype.Group {
	return apitype.Group{ID: int64(g.ID), Name: g.Name, CPUQuota: g.CPUQuota, Priority: g.Priority}
}

func checkGroupFields(quota *float64, priority *int) error {
	if quota != nil {
		if err := rcq.CheckCPUQuota(*quota); err != nil {
			return err
		}
	}
	if priority != nil {
		return rcq.PriorityRange.Check(*priority)
	}
	return nil
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request) error {
	gs, err := s.Store.Groups(r.Context())
	if err != nil {
		return err
	}
	out := make([]apitype.Group, len(gs))
	for i := range gs {
		out[i] = groupJSON(&gs[i])
	}
	writeJSON(w, http.StatusOK, apitype.GroupList{Groups: out, Count: len(out)})
	return nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request) error {
	var req apitype.GroupRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	name := strings.TrimSpace(req.Name)
	if err := rcq.CheckGroupName(name); err != nil {
		return err
	}
	if err := checkGroupFields(req.CPUQuota, req.Priority); err != nil {
		return err
	}
	g := rcq.Group{Name: name, CPUQuota: 1000, Priority: 1}
	if req.CPUQuota != nil {
		g.CPUQuota = *req.CPUQuota
	}
	if req.Priority != nil {
		g.Priority = *req.Priority
	}
	id, err := s.Store.CreateGroup(r.Context(), g)
	if err != nil {
		return err
	}
	g.ID = id
	writeJSON(w, http.StatusCreated, groupJSON(&g))
	return nil
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "group")
	if err != nil {
		return err
	}
	var req apitype.GroupRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name != "" {
		return rcq.Invalid("name", "cannot be changed")
	}
	if err := checkGroupFields(req.CPUQuota, req.Priority); err != nil {
		return err
	}
	g, err := s.Store.UpdateGroup(r.Context(), rcq.GroupID(id), req.CPUQuota, req.Priority)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, groupJSON(g))
	return nil
}

func userJSON(u *rcq.User) apitype.User {
	return apitype.User{ID: int64(u.ID), Email: u.Email, GroupID: int64(u.GroupID), IsAdmin: u.IsAdmin, UnixUser: u.UnixUser, CreatedAt: u.CreatedAt}
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) error {
	us, err := s.Store.Users(r.Context())
	if err != nil {
		return err
	}
	out := make([]apitype.User, len(us))
	for i := range us {
		out[i] = userJSON(&us[i])
	}
	writeJSON(w, http.StatusOK, apitype.UserList{Users: out, Count: len(out)})
	return nil
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "user")
	if err != nil {
		return err
	}
	var req apitype.UserUpdate
	if err := decode(r, &req); err != nil {
		return err
	}
	p := rcq.UserPatch{IsAdmin: req.IsAdmin, UnixUser: req.UnixUser}
	if req.GroupID != nil {
		if *req.GroupID <= 0 {
			return rcq.Invalid("group_id", "must be a positive group id")
		}
		g := rcq.GroupID(*req.GroupID)
		p.GroupID = &g
	}
	if req.UnixUser != nil && *req.UnixUser != "" {
		// Who the account's jobs run as, and who a socket peer with that
		// login is: never root, a system account, PostgreSQL's user or a
		// privileged group's member; never another account's (the store).
		if err := s.UnixUsers.Check(*req.UnixUser); err != nil {
			return err
		}
	}
	u, err := s.Store.UpdateUser(r.Context(), rcq.UserID(id), p)
	if rcq.CodeOf(err) == "group_not_found" {
		return rcq.Errorf(rcq.KindInvalid, "invalid_group_id", "group_id: group %d does not exist", *req.GroupID)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, userJSON(u))
	return nil
}

func workerJSON(wk *rcq.Worker) apitype.Worker {
	return apitype.Worker{ID: int64(wk.ID), Name: wk.Name, Node: wk.Node, CPUCores: wk.Capacity.CPUCores,
		MemoryGB: wk.Capacity.MemoryGB, GPUCount: wk.Capacity.GPUs, Status: string(wk.State), LastHeartbeat: wk.LastHeartbeat}
}

func (s *Server) listWorkers(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.Store.Workers(r.Context())
	if err != nil {
		return err
	}
	out := make([]apitype.Worker, len(ws))
	for i := range ws {
		out[i] = workerJSON(&ws[i])
	}
	writeJSON(w, http.StatusOK, apitype.WorkerList{Workers: out, Count: len(out)})
	return nil
}

func checkSizes(cpu, mem, gpu *int) error {
	lim := rcq.DefaultLimits
	for _, c := range []struct {
		n *int
		r rcq.IntRange
	}{{cpu, lim.CPUCoresRange()}, {mem, lim.MemoryGBRange()}, {gpu, lim.GPUsRange()}} {
		if c.n != nil {
			if err := c.r.Check(*c.n); err != nil {
				return err
			}
		}
	}
	return nil
}

func parseWorkerState(s string) (*rcq.WorkerState, error) {
	if s == "" {
		return nil, nil
	}
	st := rcq.WorkerState(s)
	if !st.Valid() {
		return nil, rcq.Invalid("status", "%q: use online, drained or offline", s)
	}
	return &st, nil
}

func (s *Server) createWorker(w http.ResponseWriter, r *http.Request) error {
	var req apitype.WorkerRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	name := strings.TrimSpace(req.Name)
	if err := rcq.CheckWorkerName(name); err != nil {
		return err
	}
	if req.CPUCores == nil {
		return rcq.Invalid("cpu_cores", "is required: a whole number from 1")
	}
	if err := checkSizes(req.CPUCores, req.MemoryGB, req.GPUCount); err != nil {
		return err
	}
	st, err := parseWorkerState(req.Status)
	if err != nil {
		return err
	}
	wk := rcq.Worker{Name: name, Node: req.Node, State: rcq.WorkerOnline, Capacity: rcq.Resources{CPUCores: *req.CPUCores}}
	if wk.Node == "" {
		return rcq.Invalid("node", "is required: the node name of the rcqd that runs this worker's jobs")
	}
	if req.MemoryGB == nil || *req.MemoryGB < 1 {
		// A worker of 0 GB fits only jobs that ask for no memory, and every
		// job has a memory limit: it would take nothing, silently.
		return rcq.Invalid("memory_gb", "is required: the worker's memory in whole gigabytes, from 1")
	}
	if st == nil || *st != rcq.WorkerOffline {
		if err := s.checkNodeKnown(r.Context(), wk.Node); err != nil {
			return err
		}
	}
	if req.MemoryGB != nil {
		wk.Capacity.MemoryGB = *req.MemoryGB
	}
	if req.GPUCount != nil {
		wk.Capacity.GPUs = *req.GPUCount
	}
	if st != nil {
		wk.State = *st
	}
	created, err := s.Store.CreateWorker(r.Context(), wk)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, workerJSON(created))
	return nil
}

// checkNodeKnown refuses a worker on a node no rcqd has run as: its jobs
// would be placed where nothing launches them. The message names the known
// nodes, so a typo is seen at once.
func (s *Server) checkNodeKnown(ctx context.Context, node string) error {
	known, err := s.Store.KnownNodes(ctx)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(known))
	for _, k := range known {
		if k.Name == node {
			return nil
		}
		names = append(names, k.Name)
	}
	list := "none yet"
	if len(names) > 0 {
		list = strings.Join(names, ", ")
	}
	return rcq.Errorf(rcq.KindInvalid, "unknown_node",
		"node: no rcqd has run as node %q on this database (known nodes: %s); check the name, or create the worker with status offline (rcq-admin worker create --offline) until its rcqd starts", node, list)
}

// deleteWorker deletes a worker (admin only). While jobs hold resources on
// it the answer is 409 worker_busy naming them; with ?force=true the worker
// is drained first (nothing new starts there), the request waits for its
// jobs to end, then deletes it. A force delete the client gives up on
// leaves the worker drained.
func (s *Server) deleteWorker(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "worker")
	if err != nil {
		return err
	}
	force := false
	switch v := r.URL.Query().Get("force"); v {
	case "", "false", "0":
	case "true", "1":
		force = true
	default:
		return rcq.Invalid("force", "%q: use true or false", v)
	}
	ctx := r.Context()
	wid := rcq.WorkerID(id)
	if force {
		drained := rcq.WorkerDrained // audited as worker.drain, then worker.delete
		if _, err := s.Store.UpdateWorker(ctx, wid, rcq.WorkerPatch{State: &drained}); err != nil {
			return err
		}
		if err := s.waitWorkerIdle(ctx, wid); err != nil {
			return err
		}
	}
	if err := s.Store.DeleteWorker(ctx, wid); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.Message{Message: fmt.Sprintf("worker %d deleted", id)})
	return nil
}

// workerIdleCheck is how often a force delete looks whether the drained
// worker's jobs have ended: one indexed read of the jobs on one worker.
const workerIdleCheck = 250 * time.Millisecond

// waitWorkerIdle waits until no job holds resources on worker id, or ctx ends.
func (s *Server) waitWorkerIdle(ctx context.Context, id rcq.WorkerID) error {
	t := time.NewTicker(workerIdleCheck)
	defer t.Stop()
	for {
		jobs, err := s.Store.WorkerJobs(ctx, id)
		if err != nil {
			return err
		}
		if len(jobs) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return rcq.Errorf(rcq.KindConflict, "worker_busy",
				"worker %d is drained but %d job(s) still run on it; delete it again when they end", id, len(jobs))
		case <-t.C:
		}
	}
}

func (s *Server) updateWorker(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "worker")
	if err != nil {
		return err
	}
	var req apitype.WorkerRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Name != "" || req.Node != "" {
		return rcq.Invalid("name", "name and node cannot be changed; create a new worker instead")
	}
	if err := checkSizes(req.CPUCores, req.MemoryGB, req.GPUCount); err != nil {
		return err
	}
	st, err := parseWorkerState(req.Status)
	if err != nil {
		return err
	}
	wk, err := s.Store.UpdateWorker(r.Context(), rcq.WorkerID(id), rcq.WorkerPatch{CPUCores: req.CPUCores, MemoryGB: req.MemoryGB, GPUs: req.GPUCount, State: st})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, workerJSON(wk))
	return nil
}

func (s *Server) drainWorker(w http.ResponseWriter, r *http.Request) error {
	return s.setWorkerState(w, r, rcq.WorkerDrained)
}

func (s *Server) resumeWorker(w http.ResponseWriter, r *http.Request) error {
	return s.setWorkerState(w, r, rcq.WorkerOnline)
}

func (s *Server) setWorkerState(w http.ResponseWriter, r *http.Request, st rcq.WorkerState) error {
	id, err := pathID(r, "worker")
	if err != nil {
		return err
	}
	wk, err := s.Store.UpdateWorker(r.Context(), rcq.WorkerID(id), rcq.WorkerPatch{State: &st})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, workerJSON(wk))
	return nil
}

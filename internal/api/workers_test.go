package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// DELETE /api/admin/workers/{id} is for admins only (another account gets
// 403 and nothing changes); a worker with a running job is refused with 409
// naming the job; an idle one is deleted and audited; ?force=true drains,
// waits for the jobs to end, then deletes.
func TestDeleteWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	path := fmt.Sprintf("/api/admin/workers/%d", e.worker)
	id := e.submit(e.aliceT, nil)
	e.start(id)

	want(t, e.do(req{method: "DELETE", path: path, token: e.aliceT}), http.StatusForbidden, "")
	r := e.do(req{method: "DELETE", path: path, token: e.adminT})
	want(t, r, http.StatusConflict, "worker_busy")
	if !strings.Contains(string(r.body), fmt.Sprintf("job %d", id)) {
		t.Errorf("409 does not name the running job: %s", r)
	}
	want(t, e.do(req{method: "DELETE", path: path + "?force=maybe", token: e.adminT}), http.StatusBadRequest, "invalid_force")
	want(t, e.do(req{method: "DELETE", path: "/api/admin/workers/x", token: e.adminT}), http.StatusBadRequest, "invalid_id")
	want(t, e.do(req{method: "DELETE", path: "/api/admin/workers/999", token: e.adminT}), http.StatusNotFound, "worker_not_found")

	// --force: drained at once, deleted once the job ends.
	done := make(chan resp, 1)
	go func() { done <- e.do(req{method: "DELETE", path: path + "?force=true", token: e.adminT}) }()
	for {
		wk, err := e.st.WorkerByID(context.Background(), e.worker)
		if err != nil {
			t.Fatal(err)
		}
		if wk.State == rcq.WorkerDrained {
			break
		}
		select {
		case r := <-done:
			t.Fatalf("force delete answered before draining: %s", r)
		default:
		}
	}
	select {
	case r := <-done:
		t.Fatalf("force delete answered while a job runs: %s", r)
	default:
	}
	e.finish(id, rcq.JobCompleted, 0)
	want(t, <-done, http.StatusOK, "")
	if _, err := e.st.WorkerByID(context.Background(), e.worker); rcq.KindOf(err) != rcq.KindNotFound {
		t.Fatalf("worker after force delete: %v", err)
	}
	if wl := decodeTo[apitype.WorkerList](t, e.get("/api/admin/workers", e.adminT)); wl.Count != 0 {
		t.Errorf("workers after delete: %+v", wl)
	}
	if j := e.job(id); j.WorkerName != "w1" {
		t.Errorf("the job that ran there names worker %q", j.WorkerName)
	}
	var actions []string
	for _, a := range e.audit("target_kind=worker") {
		actions = append(actions, a.Action+"/"+a.ActorEmail)
	}
	if got := strings.Join(actions, " "); got != "worker.delete/admin@localhost worker.drain/admin@localhost admin.denied/alice@example.org" {
		t.Errorf("audit rows (newest first): %s", got)
	}
	want(t, e.do(req{method: "DELETE", path: path, token: e.adminT}), http.StatusNotFound, "worker_not_found")
}

// A worker on a node no rcqd has run as is a typo: 400 naming the known
// nodes, unless created offline (its rcqd is not up yet). Memory is
// required and never 0.
func TestCreateWorkerNodeMustExist(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	if err := e.st.Heartbeat(context.Background(), "gpu7"); err != nil {
		t.Fatal(err)
	}
	r := e.post("/api/admin/workers", e.adminT, map[string]any{"name": "v1", "node": "nodee1", "cpu_cores": 2, "memory_gb": 4})
	want(t, r, http.StatusBadRequest, "unknown_node")
	if !strings.Contains(string(r.body), `known nodes: gpu7, node1`) || !strings.Contains(string(r.body), "--offline") {
		t.Errorf("400 does not name the known nodes and the way out: %s", r)
	}
	r = e.post("/api/admin/workers", e.adminT, map[string]any{"name": "v1", "node": "nodee1", "cpu_cores": 2, "memory_gb": 4, "status": "offline"})
	want(t, r, http.StatusCreated, "")
	if w := decodeTo[apitype.Worker](t, r); w.Status != "offline" {
		t.Errorf("worker created offline: %+v", w)
	}
	want(t, e.post("/api/admin/workers", e.adminT, map[string]any{"name": "v2", "node": "gpu7", "cpu_cores": 2, "memory_gb": 4}), http.StatusCreated, "")
	want(t, e.post("/api/admin/workers", e.adminT, map[string]any{"name": "v3", "node": "node1", "cpu_cores": 2, "memory_gb": 0}), http.StatusBadRequest, "invalid_memory_gb")
	want(t, e.post("/api/admin/workers", e.aliceT, map[string]any{"name": "v4", "node": "node1", "cpu_cores": 2, "memory_gb": 4}), http.StatusForbidden, "")
}

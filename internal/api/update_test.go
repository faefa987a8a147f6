package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

func (e *env) patch(path, token string, body any) resp {
	return e.do(req{method: "PATCH", path: path, token: token, body: body})
}

// A user updates their own pending job within the rules; raising a limit or
// a priority is for admins; another user's job is 404 like a missing one;
// a job no longer pending is 409.
func TestUpdateJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	dep := e.submit(e.aliceT, map[string]any{"hold": true})
	bobs := e.submit(e.bobT, nil)
	id := e.submit(e.aliceT, map[string]any{"name": "before", "estimated_hours": 2, "priority": 5, "hold": true})
	path := fmt.Sprintf("/api/jobs/%d", id)

	r := e.patch(path, e.aliceT, map[string]any{"name": "after", "estimated_hours": 0.5, "priority": 3,
		"dependencies": []map[string]any{{"type": "afterok", "job_id": dep}}})
	want(t, r, http.StatusOK, "")
	j := decodeTo[apitype.Job](t, r)
	if j.Name != "after" || j.EstimatedHours != 0.5 || j.Priority != 3 || len(j.Dependencies) != 1 || j.Dependencies[0].State != "pending" {
		t.Errorf("updated job answered %+v", j)
	}
	if s := e.job(id); s.Name != "after" || s.EstimatedHours != 0.5 || s.Priority != 3 || len(s.Dependencies) != 1 || s.Hold != rcq.HoldUser {
		t.Errorf("stored job after update: %+v", s)
	}

	// Raising is refused with the rule named, and changes nothing (not even the other fields).
	r = e.patch(path, e.aliceT, map[string]any{"estimated_hours": 1, "name": "sneaky"})
	want(t, r, http.StatusForbidden, "admin_required")
	if msg := r.errBody(t).Error; !strings.Contains(msg, "only an admin may raise a time limit") {
		t.Errorf("refusal %q does not name the rule", msg)
	}
	want(t, e.patch(path, e.aliceT, map[string]any{"priority": 4}), http.StatusForbidden, "admin_required")
	if s := e.job(id); s.Name != "after" || s.EstimatedHours != 0.5 || s.Priority != 3 {
		t.Errorf("refused update changed the job: %+v", s)
	}

	// Bad input names the field; dependencies on later or others' jobs are refused.
	want(t, e.patch(path, e.aliceT, map[string]any{"priority": 0}), http.StatusBadRequest, "invalid_priority")
	want(t, e.patch(path, e.aliceT, map[string]any{}), http.StatusBadRequest, "invalid_update")
	want(t, e.patch(path, e.aliceT, map[string]any{"name": "a/b"}), http.StatusBadRequest, "invalid_name")
	want(t, e.patch(path, e.aliceT, map[string]any{"dependencies": []map[string]any{{"type": "afterok", "job_id": id + 1}}}),
		http.StatusBadRequest, "invalid_dependencies")
	want(t, e.patch(path, e.aliceT, map[string]any{"dependencies": []map[string]any{{"type": "afterok", "job_id": bobs}}}),
		http.StatusBadRequest, "invalid_dependencies")
	want(t, e.patch(path, e.aliceT, map[string]any{"colour": "red"}), http.StatusBadRequest, "")

	// Removing the dependencies.
	r = e.patch(path, e.aliceT, map[string]any{"dependencies": []any{}})
	want(t, r, http.StatusOK, "")
	if s := e.job(id); len(s.Dependencies) != 0 {
		t.Errorf("dependencies after removing them: %v", s.Dependencies)
	}

	// Another user: 404 exactly like a missing job, and nothing changes.
	other := e.patch(path, e.bobT, map[string]any{"priority": 1})
	missing := e.patch(fmt.Sprintf("/api/jobs/%d", id+1000), e.bobT, map[string]any{"priority": 1})
	want(t, other, http.StatusNotFound, "not_found")
	want(t, missing, http.StatusNotFound, "not_found")
	if strings.ReplaceAll(string(other.sansID()), fmt.Sprint(id), "N") != strings.ReplaceAll(string(missing.sansID()), fmt.Sprint(id+1000), "N") {
		t.Errorf("another user's job %s differs from a missing one %s", other, missing)
	}
	if s := e.job(id); s.Priority != 3 {
		t.Errorf("bob's update changed alice's job: priority %d", s.Priority)
	}

	// An admin may raise both, on anyone's job.
	want(t, e.patch(path, e.adminT, map[string]any{"estimated_hours": 48, "priority": 10}), http.StatusOK, "")
	if s := e.job(id); s.EstimatedHours != 48 || s.Priority != 10 {
		t.Errorf("after the admin's update: %+v", s)
	}
	want(t, e.patch(path, e.adminT, map[string]any{"estimated_hours": 1e9}), http.StatusBadRequest, "invalid_estimated_hours")

	// Once the job runs, updates are a conflict naming its state.
	want(t, e.post(path+"/release", e.aliceT, nil), http.StatusOK, "")
	e.start(id)
	r = e.patch(path, e.aliceT, map[string]any{"name": "late"})
	want(t, r, http.StatusConflict, "job_not_pending")
	if msg := r.errBody(t).Error; !strings.Contains(msg, "running") {
		t.Errorf("conflict %q does not name the state", msg)
	}
	e.finish(id, rcq.JobCompleted, 0)
	want(t, e.patch(path, e.adminT, map[string]any{"name": "late"}), http.StatusConflict, "job_finished")
}

// GET /api/jobs/{id} shows each dependency with the state of the job it
// waits on.
func TestGetJobDependencyStates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	done := e.submit(e.aliceT, nil)
	waiting := e.submit(e.aliceT, map[string]any{"hold": true})
	e.start(done)
	e.finish(done, rcq.JobFailed, 3)
	id := e.submit(e.aliceT, map[string]any{"dependencies": []map[string]any{{"type": "afterok", "job_id": done}, {"type": "afterany", "job_id": waiting}}})
	j := decodeTo[apitype.Job](t, e.get(fmt.Sprintf("/api/jobs/%d", id), e.aliceT))
	got := map[int64]string{}
	for _, d := range j.Dependencies {
		got[d.JobID] = d.Type + "/" + d.State
	}
	if got[done] != "afterok/failed" || got[waiting] != "afterany/pending" || len(got) != 2 {
		t.Errorf("dependencies shown as %v", got)
	}
}

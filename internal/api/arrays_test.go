package api_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// TestSubmitArray: "array" makes one job array: its id, its element count,
// and its row showing the pending indices and throttle.
func TestSubmitArray(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.post("/api/jobs", e.aliceT, map[string]any{"script": "#!/bin/sh\ntrue\n", "array": "0-99%8"})
	want(t, r, http.StatusCreated, "")
	sr := decodeTo[apitype.SubmitResponse](t, r)
	if sr.JobID == 0 || sr.ArrayTaskCount != 100 || sr.Status != "pending" {
		t.Fatalf("submit: %s", r)
	}
	if n := e.jobCount(); n != 1 {
		t.Errorf("%d job rows after an array of 100, want 1", n)
	}
	j := decodeTo[apitype.Job](t, e.get(fmt.Sprint("/api/jobs/", sr.JobID), e.aliceT))
	if j.ArrayJobID == nil || *j.ArrayJobID != sr.JobID || j.ArrayTaskID != nil || j.ArrayTasks != "0-99" || j.ArrayThrottle != 8 {
		t.Errorf("array row: %+v", j)
	}
	if got, want := j.SlurmID(), fmt.Sprintf("%d_[0-99%%8]", sr.JobID); got != want {
		t.Errorf("SlurmID %q, want %q", got, want)
	}
	el := decodeTo[apitype.Job](t, e.get(fmt.Sprintf("/api/jobs/%d_42", sr.JobID), e.aliceT))
	if el.ArrayTaskID == nil || *el.ArrayTaskID != 42 || el.ArrayTasks != "" || el.Status != "pending" {
		t.Errorf("element 42: %+v", el)
	}
	want(t, e.get(fmt.Sprintf("/api/jobs/%d_100", sr.JobID), e.aliceT), http.StatusNotFound, "not_found")
}

// TestSubmitArrayBadSpecs: every malformed spec is 400 invalid_array naming
// the accepted form.
func TestSubmitArrayBadSpecs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, spec := range []string{" ", "%4", ",", "5-1", "0-100000", "0-9:0", "0-9:-1", "0-9%0", "0-9%-2", "a-b", "1-"} {
		r := e.post("/api/jobs", e.aliceT, map[string]any{"script": "#!/bin/sh\ntrue\n", "array": spec})
		want(t, r, http.StatusBadRequest, "invalid_array")
		if msg := r.errBody(t).Error; !strings.Contains(msg, `"0-99"`) || !strings.HasPrefix(msg, "array") {
			t.Errorf("spec %q: message %q does not name the form", spec, msg)
		}
	}
	if n := e.jobCount(); n != 0 {
		t.Errorf("bad specs stored %d jobs", n)
	}
}

// TestArrayRefRoutesOthers404: another user's array answers 404 on every
// route that takes a job ref, exactly like a missing one.
func TestArrayRefRoutesOthers404(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a := e.submit(e.aliceT, map[string]any{"array": "1-5"})
	for _, id := range []string{fmt.Sprint(a), fmt.Sprintf("%d_3", a), url.PathEscape(fmt.Sprintf("%d_[1-2,4]", a)), "999999_1"} {
		for _, rq := range []req{
			{method: "GET", path: "/api/jobs/" + id},
			{method: "DELETE", path: "/api/jobs/" + id},
			{method: "PATCH", path: "/api/jobs/" + id, body: map[string]any{"priority": 1}},
			{method: "POST", path: "/api/jobs/" + id + "/hold"},
			{method: "POST", path: "/api/jobs/" + id + "/release"},
			{method: "POST", path: "/api/jobs/" + id + "/requeue"},
			{method: "POST", path: "/api/jobs/" + id + "/signal", body: map[string]any{"signal": "USR1"}},
			{method: "GET", path: "/api/jobs/" + id + "/output"},
		} {
			rq.token = e.bobT
			r := e.do(rq)
			if strings.Contains(id, "%5B") && (rq.method == "GET") {
				// GET of several elements is refused before any lookup.
				if r.status != http.StatusBadRequest && r.status != http.StatusNotFound {
					t.Errorf("bob %s %s: %s", rq.method, rq.path, r)
				}
				continue
			}
			if r.status != http.StatusNotFound {
				t.Errorf("bob %s %s: %s, want 404", rq.method, rq.path, r)
			}
		}
	}
	if j := e.job(a); j.State != rcq.JobPending || j.Hold != "" || j.Array.Pending.String() != "1-5" {
		t.Errorf("alice's array changed by bob: %s hold %q pending %s", j.State, j.Hold, j.Array.Pending)
	}
}

// TestArrayRefRoutes: cancel, hold and release by element, range and
// array; ids= lists an array's rows.
func TestArrayRefRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a := e.submit(e.aliceT, map[string]any{"array": "0-9"})
	want(t, e.do(req{method: "DELETE", path: fmt.Sprintf("/api/jobs/%d_4", a), token: e.aliceT}), http.StatusOK, "")
	want(t, e.post(fmt.Sprintf("/api/jobs/%s/hold", url.PathEscape(fmt.Sprintf("%d_[1-2]", a))), e.aliceT, nil), http.StatusOK, "")
	for i, st := range map[int]string{4: "cancelled", 1: "pending", 5: "pending"} {
		j := decodeTo[apitype.Job](t, e.get(fmt.Sprintf("/api/jobs/%d_%d", a, i), e.aliceT))
		if j.Status != st {
			t.Errorf("element %d: %s, want %s", i, j.Status, st)
		}
	}
	held := decodeTo[apitype.Job](t, e.get(fmt.Sprintf("/api/jobs/%d_2", a), e.aliceT))
	if held.Hold != "user" || held.ID == a {
		t.Errorf("element 2 after hold: %+v", held)
	}
	want(t, e.post(fmt.Sprintf("/api/jobs/%d_2/release", a), e.aliceT, nil), http.StatusOK, "")
	list := decodeTo[apitype.JobList](t, e.get(fmt.Sprintf("/api/jobs?ids=%d&order=oldest", a), e.aliceT))
	var names []string
	for _, j := range list.Jobs {
		names = append(names, j.SlurmID())
	}
	// By submit time, then id: the elements in the order they were split off.
	if got, want := strings.Join(names, " "), fmt.Sprintf("%d_[0,3,5-9] %d_4 %d_1 %d_2", a, a, a, a); got != want {
		t.Errorf("ids=%d lists %q, want %q", a, got, want)
	}
	some := decodeTo[apitype.JobList](t, e.get(fmt.Sprintf("/api/jobs?ids=%s,%d_4", url.QueryEscape(fmt.Sprintf("%d_[5-6]", a)), a)+"&order=oldest", e.aliceT))
	names = names[:0]
	for _, j := range some.Jobs {
		names = append(names, j.SlurmID())
	}
	if got, want := strings.Join(names, " "), fmt.Sprintf("%d_[5-6] %d_4", a, a); got != want {
		t.Errorf("ids=%d_[5-6],%d_4 lists %q, want %q", a, a, got, want)
	}
	want(t, e.get("/api/jobs?ids=12_[", e.aliceT), http.StatusBadRequest, "invalid_ids")
	// The queue shows the array's pending elements on one row, and
	// accounting the elements by their Slurm ids.
	var queued []string
	for _, j := range decodeTo[apitype.Queue](t, e.get("/api/queue", e.aliceT)).Jobs {
		queued = append(queued, j.SlurmID())
	}
	if got, want := strings.Join(queued, " "), fmt.Sprintf("%d_[0,3,5-9] %d_1 %d_2", a, a, a); got != want {
		t.Errorf("queue %q, want %q", got, want)
	}
	queued = queued[:0]
	path := fmt.Sprintf("/api/queue?ids=%s,%d_2", url.QueryEscape(fmt.Sprintf("%d_[5-6]", a)), a)
	for _, j := range decodeTo[apitype.Queue](t, e.get(path, e.bobT)).Jobs {
		queued = append(queued, j.SlurmID())
	}
	if got, want := strings.Join(queued, " "), fmt.Sprintf("%d_[5-6] %d_2", a, a); got != want {
		t.Errorf("queue ids=%d_[5-6],%d_2 (as bob: the queue is public) %q, want %q", a, a, got, want)
	}
	want(t, e.get("/api/queue?ids=x", e.aliceT), http.StatusBadRequest, "invalid_ids")
	var acct []string
	for _, j := range decodeTo[apitype.AcctList](t, e.get(fmt.Sprintf("/api/acct?ids=%d_4", a), e.aliceT)).Jobs {
		acct = append(acct, j.SlurmID()+":"+j.Status)
	}
	if got, want := strings.Join(acct, " "), fmt.Sprintf("%d_4:cancelled", a); got != want {
		t.Errorf("acct ids=%d_4: %q, want %q", a, got, want)
	}
	want(t, e.do(req{method: "DELETE", path: fmt.Sprintf("/api/jobs/%d", a), token: e.aliceT}), http.StatusOK, "")
	for _, j := range decodeTo[apitype.JobList](t, e.get(fmt.Sprintf("/api/jobs?ids=%d", a), e.aliceT)).Jobs {
		if j.Status != "cancelled" {
			t.Errorf("%s is %s after cancelling the array", j.SlurmID(), j.Status)
		}
	}
}

// TestArrayDependencies: afterok on one element and aftercorr between
// arrays are taken, shown with the state they wait on, and refused for an
// element the array lacks or aftercorr from a job that is not an array.
func TestArrayDependencies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	a := e.submit(e.aliceT, map[string]any{"array": "0-3"})
	one := e.submit(e.aliceT, map[string]any{"dependencies": []map[string]any{{"type": "afterok", "job_id": a, "array_task_id": 2}}})
	j := decodeTo[apitype.Job](t, e.get(fmt.Sprint("/api/jobs/", one), e.aliceT))
	if len(j.Dependencies) != 1 || j.Dependencies[0].ArrayTaskID == nil || *j.Dependencies[0].ArrayTaskID != 2 || j.Dependencies[0].State != "pending" {
		t.Errorf("dependency shown as %+v", j.Dependencies)
	}
	corr := e.submit(e.aliceT, map[string]any{"array": "0-3", "dependencies": []map[string]any{{"type": "aftercorr", "job_id": a}}})
	c := decodeTo[apitype.Job](t, e.get(fmt.Sprint("/api/jobs/", corr), e.aliceT))
	if len(c.Dependencies) != 1 || c.Dependencies[0].Type != "aftercorr" || c.Dependencies[0].State != "pending" {
		t.Errorf("aftercorr shown as %+v", c.Dependencies)
	}
	for _, deps := range []map[string]any{
		{"type": "afterok", "job_id": a, "array_task_id": 9},
		{"type": "aftercorr", "job_id": a},
	} {
		r := e.post("/api/jobs", e.aliceT, map[string]any{"script": "#!/bin/sh\ntrue\n", "dependencies": []map[string]any{deps}})
		want(t, r, http.StatusBadRequest, "invalid_dependencies")
	}
	// Bob cannot depend on alice's array, nor on one of its elements.
	r := e.post("/api/jobs", e.bobT, map[string]any{"script": "#!/bin/sh\ntrue\n", "dependencies": []map[string]any{{"type": "afterok", "job_id": a, "array_task_id": 1}}})
	want(t, r, http.StatusBadRequest, "invalid_dependencies")
}

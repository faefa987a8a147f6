package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

func TestCancelJobsBulk(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	cancel := func(tok string, body any) resp { return e.post("/api/jobs/cancel", tok, body) }
	a1 := e.submit(e.aliceT, map[string]any{"name": "sweep"})
	a2 := e.submit(e.aliceT, map[string]any{"name": "sweep"})
	other := e.submit(e.aliceT, map[string]any{"name": "other"})
	run := e.submit(e.aliceT, map[string]any{"name": "sweep"})
	e.start(run)
	b1 := e.submit(e.bobT, map[string]any{"name": "sweep"})

	// Bob, as another user: naming alice is refused; naming her jobs by id
	// answers not_found exactly like a missing job; his own filter does
	// not reach hers.
	want(t, cancel(e.bobT, apitype.CancelRequest{User: "alice@example.org"}), http.StatusForbidden, "other_users_jobs")
	r := cancel(e.bobT, apitype.CancelRequest{IDs: []int64{a1, run, 999999}})
	want(t, r, http.StatusOK, "")
	got := decodeTo[apitype.CancelResponse](t, r)
	if got.Count != 0 || len(got.Cancelled) != 0 || len(got.Refused) != 3 {
		t.Fatalf("bob by id = %+v", got)
	}
	for _, rf := range got.Refused {
		if rf.Code != "not_found" || rf.Error != fmt.Sprintf("job %d not found", rf.JobID) {
			t.Errorf("bob's refusal %+v: want the answer of a missing job", rf)
		}
	}
	r = cancel(e.bobT, apitype.CancelRequest{Names: []string{"sweep"}})
	want(t, r, http.StatusOK, "")
	if got := decodeTo[apitype.CancelResponse](t, r); !slices.Equal(got.Cancelled, []int64{b1}) {
		t.Fatalf("bob by name cancelled %v, want only his job %d", got.Cancelled, b1)
	}
	for _, id := range []int64{a1, a2, other, run} {
		if st := e.job(id).State; st == rcq.JobCancelled {
			t.Fatalf("bob's requests cancelled alice's job %d", id)
		}
	}

	// Alice, by name and --me: her pending and running "sweep" jobs.
	r = cancel(e.aliceT, apitype.CancelRequest{Names: []string{"sweep"}, Me: true, IDs: []int64{a1, a2, run, other}})
	want(t, r, http.StatusOK, "")
	got = decodeTo[apitype.CancelResponse](t, r)
	if got.Count != 3 || !slices.Equal(got.Cancelled, []int64{a1, a2, run}) || len(got.Refused) != 1 ||
		got.Refused[0] != (apitype.CancelRefusal{JobID: other, Code: "not_found", Error: fmt.Sprintf("job %d not found or does not match the filters", other)}) {
		t.Fatalf("alice by name = %+v", got)
	}
	if j := e.job(run); j.State != rcq.JobCancelled || j.CompletedAt != nil {
		t.Errorf("running job: %s completed %v, want cancelled and still holding its resources", j.State, j.CompletedAt)
	}
	// Again: the jobs are finished now.
	got = decodeTo[apitype.CancelResponse](t, cancel(e.aliceT, apitype.CancelRequest{IDs: []int64{a1}}))
	if got.Count != 0 || len(got.Refused) != 1 || got.Refused[0].Code != "job_finished" || got.Refused[0].Error != fmt.Sprintf("job %d is already cancelled", a1) {
		t.Fatalf("cancel a cancelled job = %+v", got)
	}

	// An admin names anyone.
	e.submit(e.bobT, nil)
	r = cancel(e.adminT, apitype.CancelRequest{User: "bob@example.org", States: []string{"PD"}})
	want(t, r, http.StatusOK, "")
	if got := decodeTo[apitype.CancelResponse](t, r); got.Count != 1 {
		t.Fatalf("admin -u bob = %+v", got)
	}
	want(t, cancel(e.adminT, apitype.CancelRequest{User: "nobody@example.org"}), http.StatusNotFound, "user_not_found")

	// Bad requests.
	want(t, cancel(e.aliceT, apitype.CancelRequest{}), http.StatusBadRequest, "invalid_ids")
	want(t, cancel(e.aliceT, apitype.CancelRequest{States: []string{"completed"}}), http.StatusBadRequest, "invalid_states")
	want(t, cancel(e.aliceT, apitype.CancelRequest{IDs: []int64{0}}), http.StatusBadRequest, "invalid_ids")
	want(t, cancel(e.aliceT, apitype.CancelRequest{Me: true, User: "alice@example.org"}), http.StatusBadRequest, "invalid_me")
	want(t, cancel(e.aliceT, map[string]any{"user_id": 2}), http.StatusBadRequest, "")
	if st := e.job(other).State; st != rcq.JobPending {
		t.Errorf("bad requests changed job %d to %s", other, st)
	}
	// The single-job route still works beside it.
	want(t, e.do(req{method: "DELETE", path: fmt.Sprintf("/api/jobs/%d", other), token: e.aliceT}), http.StatusOK, "")
}

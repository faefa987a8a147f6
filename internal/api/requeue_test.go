package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// requeuePath is POST /api/jobs/{ref}/requeue's path, the ref escaped.
func requeuePath(ref string) string { return "/api/jobs/" + url.PathEscape(ref) + "/requeue" }

// ended submits a job as token's owner, starts it and ends it as state.
func (e *env) ended(token string, body map[string]any, state rcq.JobState) int64 {
	e.t.Helper()
	id := e.submit(token, body)
	e.start(id)
	e.finish(id, state, 1)
	return id
}

// The owner requeues their finished job: same id, priority and submit
// time, restarts 1, reason Requeued naming them; a pending job (held or
// not) is 409; another user's job is 404 word for word like a missing
// one; an admin requeues anyone's.
func TestRequeueJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := e.ended(e.aliceT, map[string]any{"priority": 4}, rcq.JobFailed)
	before := e.job(id)
	path := requeuePath(fmt.Sprint(id))

	r := e.post(path, e.aliceT, nil)
	want(t, r, http.StatusOK, "")
	if a := decodeTo[apitype.JobAction](t, r); a.JobID != id || a.Status != "pending" || a.Message != "Job requeued" {
		t.Errorf("answer %s", r)
	}
	j := e.job(id)
	if j.State != rcq.JobPending || j.Reason != rcq.ReasonRequeued || j.ReasonDetail != "requeued by alice@example.org" ||
		j.Restarts != 1 || j.RequeuedAt == nil || j.Priority != 4 || !j.SubmittedAt.Equal(before.SubmittedAt) ||
		j.StartedAt != nil || j.CompletedAt != nil || j.ExitCode != nil || j.Hold != rcq.HoldNone {
		t.Errorf("requeued job: %+v", j)
	}
	shown := decodeTo[apitype.Job](t, e.get(fmt.Sprintf("/api/jobs/%d", id), e.aliceT))
	if shown.Status != "pending" || shown.Restarts != 1 || shown.RequeuedAt == nil || shown.StartedAt != nil {
		t.Errorf("GET after the requeue: %+v", shown)
	}

	// Pending now: nothing to requeue. Held: the same.
	r = e.post(path, e.aliceT, nil)
	want(t, r, http.StatusConflict, "job_pending")
	if msg := r.errBody(t).Error; msg != fmt.Sprintf("job %d is pending: it is in the queue already, so there is no run to requeue", id) {
		t.Errorf("pending: %q", msg)
	}
	held := e.submit(e.aliceT, map[string]any{"hold": true})
	want(t, e.post(requeuePath(fmt.Sprint(held)), e.aliceT, nil), http.StatusConflict, "job_pending")

	// Another user: 404 exactly like a missing job, and nothing changes.
	done := e.ended(e.aliceT, nil, rcq.JobCompleted)
	other := e.post(requeuePath(fmt.Sprint(done)), e.bobT, nil)
	missing := e.post(requeuePath(fmt.Sprint(done+1000)), e.bobT, nil)
	want(t, other, http.StatusNotFound, "not_found")
	want(t, missing, http.StatusNotFound, "not_found")
	if strings.ReplaceAll(string(other.sansID()), fmt.Sprint(done), "N") != strings.ReplaceAll(string(missing.sansID()), fmt.Sprint(done+1000), "N") {
		t.Errorf("another user's job %s differs from a missing one %s", other, missing)
	}
	if j := e.job(done); j.State != rcq.JobCompleted || j.Restarts != 0 {
		t.Errorf("bob's requeue changed alice's job: %s restarts %d", j.State, j.Restarts)
	}

	// An admin requeues alice's job; the detail names the admin.
	want(t, e.post(requeuePath(fmt.Sprint(done)), e.adminT, nil), http.StatusOK, "")
	if j := e.job(done); j.State != rcq.JobPending || j.Restarts != 1 || j.ReasonDetail != "requeued by admin@localhost" {
		t.Errorf("admin's requeue: %s restarts %d %q", j.State, j.Restarts, j.ReasonDetail)
	}

	// Cancelled before it started, or submitted with --no-requeue: 409.
	cancelled := e.submit(e.aliceT, nil)
	want(t, e.do(req{method: "DELETE", path: fmt.Sprintf("/api/jobs/%d", cancelled), token: e.aliceT}), http.StatusOK, "")
	want(t, e.post(requeuePath(fmt.Sprint(cancelled)), e.aliceT, nil), http.StatusConflict, "job_never_ran")
	never := e.ended(e.aliceT, map[string]any{"requeue": false}, rcq.JobCompleted)
	r = e.post(requeuePath(fmt.Sprint(never)), e.adminT, nil)
	want(t, r, http.StatusConflict, "requeue_disabled")
	if msg := r.errBody(t).Error; !strings.Contains(msg, "--no-requeue") {
		t.Errorf("--no-requeue refusal %q does not say why", msg)
	}
	want(t, e.post(requeuePath("x"), e.aliceT, nil), http.StatusBadRequest, "invalid_id")
}

// A running job requeued goes back to pending at once: its worker and GPUs
// are free, its run is charged, and the run's end report is refused.
func TestRequeueRunningJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := e.submit(e.aliceT, map[string]any{"gpu_count": 2})
	e.start(id, 0, 1)
	if err := e.st.ClaimJob(context.Background(), rcq.JobID(id), "node1", "node1:/state"); err != nil { // launched, as node1's executor does
		t.Fatal(err)
	}
	want(t, e.post(requeuePath(fmt.Sprint(id)), e.aliceT, nil), http.StatusOK, "")
	j := e.job(id)
	if j.State != rcq.JobPending || j.Restarts != 1 || j.WorkerID != nil || len(j.GPUIndices) != 0 {
		t.Fatalf("requeued running job: %s restarts %d worker %v gpus %v", j.State, j.Restarts, j.WorkerID, j.GPUIndices)
	}
	conn, err := pgx.Connect(context.Background(), e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var runs int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM usage_logs WHERE job_id = $1 AND run = 0`, id).Scan(&runs); err != nil || runs != 1 {
		t.Errorf("usage rows of run 0: %d %v, want 1 (the requeued run, charged)", runs, err)
	}
	err = e.st.FinishJob(context.Background(), rcq.Outcome{JobID: rcq.JobID(id), State: rcq.JobCompleted, Holder: "node1:/state", Restarts: 0})
	if rcq.CodeOf(err) != "stale_run" {
		t.Errorf("end report of the requeued run: %v, want stale_run", err)
	}
	e.start(id, 0, 1) // it runs again, on the same GPUs
	if j := e.job(id); j.State != rcq.JobRunning || j.Restarts != 1 {
		t.Errorf("second start: %s restarts %d", j.State, j.Restarts)
	}
}

// ?hold=true (requeuehold) puts the job back held: a user's hold, or an
// admin's, which the user cannot release.
func TestRequeueHold(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	mine := e.ended(e.aliceT, nil, rcq.JobCompleted)
	want(t, e.post(requeuePath(fmt.Sprint(mine))+"?hold=true", e.aliceT, nil), http.StatusOK, "")
	if j := e.job(mine); j.State != rcq.JobPending || j.Hold != rcq.HoldUser {
		t.Errorf("requeuehold by the owner: %s hold %q", j.State, j.Hold)
	}
	// The plan's reason, with who requeued it kept in view until it starts.
	shown := decodeTo[apitype.Job](t, e.get(fmt.Sprintf("/api/jobs/%d", mine), e.aliceT))
	if shown.Reason != rcq.ReasonHeldUser || !strings.HasPrefix(shown.ReasonDetail, "held by its owner") ||
		!strings.HasSuffix(shown.ReasonDetail, " (requeued by alice@example.org)") || shown.Restarts != 1 {
		t.Errorf("shown as %s %q restarts %d, want %s, the plan's detail and who requeued it", shown.Reason, shown.ReasonDetail, shown.Restarts, rcq.ReasonHeldUser)
	}
	want(t, e.post(fmt.Sprintf("/api/jobs/%d/release", mine), e.aliceT, nil), http.StatusOK, "")

	byAdmin := e.ended(e.aliceT, nil, rcq.JobCompleted)
	want(t, e.post(requeuePath(fmt.Sprint(byAdmin))+"?hold=true", e.adminT, nil), http.StatusOK, "")
	if j := e.job(byAdmin); j.Hold != rcq.HoldAdmin {
		t.Errorf("requeuehold by an admin: hold %q, want admin", j.Hold)
	}
	want(t, e.post(fmt.Sprintf("/api/jobs/%d/release", byAdmin), e.aliceT, nil), http.StatusForbidden, "held_by_admin")
	want(t, e.post(requeuePath(fmt.Sprint(mine))+"?hold=maybe", e.aliceT, nil), http.StatusBadRequest, "invalid_hold")
}

// Arrays: an element that ran is requeued by its ref; an element never
// started (still in the array's row) is 409 like a pending job; the
// array's id requeues every element that ran and skips the rest; when
// none ran, 409 names the array.
func TestRequeueArray(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	arr := e.submit(e.aliceT, map[string]any{"array": "0-3"})
	el := map[int]int64{}
	for _, task := range []int{0, 1} {
		el[task] = e.startElement(arr, task)
		e.finish(el[task], rcq.JobCompleted, 0)
	}

	r := e.post(requeuePath(fmt.Sprintf("%d_2", arr)), e.aliceT, nil)
	want(t, r, http.StatusConflict, "job_pending")
	want(t, e.post(requeuePath(fmt.Sprintf("%d_[2-3]", arr)), e.aliceT, nil), http.StatusConflict, "job_pending")
	want(t, e.post(requeuePath(fmt.Sprintf("%d_9", arr)), e.aliceT, nil), http.StatusNotFound, "not_found")
	want(t, e.post(requeuePath(fmt.Sprintf("%d_0", arr)), e.bobT, nil), http.StatusNotFound, "not_found")

	want(t, e.post(requeuePath(fmt.Sprintf("%d_0", arr)), e.aliceT, nil), http.StatusOK, "")
	if j := e.job(el[0]); j.State != rcq.JobPending || j.Restarts != 1 || *j.Array.TaskID != 0 {
		t.Errorf("element 0: %s restarts %d", j.State, j.Restarts)
	}
	if j := e.job(el[1]); j.State != rcq.JobCompleted {
		t.Errorf("element 1 changed by element 0's requeue: %s", j.State)
	}

	// The whole array: element 1 (ended) is requeued; element 0 (pending
	// again) and the array's row (2 and 3, never started) are skipped.
	r = e.post(requeuePath(fmt.Sprint(arr)), e.aliceT, nil)
	want(t, r, http.StatusOK, "")
	if a := decodeTo[apitype.JobAction](t, r); a.JobID != arr || a.Message != "Job requeued" {
		t.Errorf("answer %s", r)
	}
	if j := e.job(el[1]); j.State != rcq.JobPending || j.Restarts != 1 {
		t.Errorf("element 1 after the array's requeue: %s restarts %d", j.State, j.Restarts)
	}
	if j := e.job(el[0]); j.Restarts != 1 {
		t.Errorf("element 0 requeued twice: restarts %d", j.Restarts)
	}
	if j := e.job(arr); j.State != rcq.JobPending || j.Array.Pending.String() != "2-3" {
		t.Errorf("the array's row: %s pending %s", j.State, j.Array.Pending)
	}
	r = e.post(requeuePath(fmt.Sprint(arr)), e.aliceT, nil)
	want(t, r, http.StatusConflict, "job_pending")
	if msg := r.errBody(t).Error; !strings.HasPrefix(msg, fmt.Sprintf("job %d: no element could be changed (", arr)) {
		t.Errorf("nothing to requeue in the array: %q", msg)
	}
}

// startElement starts element task of array arr on w1, as the scheduler
// would, and returns the element's own job id.
func (e *env) startElement(arr int64, task int) int64 {
	e.t.Helper()
	ctx := context.Background()
	if ok, err := e.st.AcquireLease(ctx, lease, holder, time.Minute); err != nil || !ok {
		e.t.Fatalf("lease: %v %v", ok, err)
	}
	done, err := e.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: rcq.JobID(arr), WorkerID: e.worker, ArrayTask: &task}})
	if err != nil || len(done) != 1 {
		e.t.Fatalf("start element %d_%d: %v %v", arr, task, done, err)
	}
	return int64(done[0].JobID)
}

// A requeue counts against the pending caps as a submit does (429); one
// that reaches the cap part way through an array says how many it
// requeued first.
func TestRequeuePendingCap(t *testing.T) {
	t.Parallel()
	e := newEnvStore(t, store.Options{MaxPendingPerUser: 1}, nil)
	arr := e.submit(e.aliceT, map[string]any{"array": "0-1"})
	for _, task := range []int{0, 1} {
		e.finish(e.startElement(arr, task), rcq.JobCompleted, 0)
	}
	r := e.post(requeuePath(fmt.Sprint(arr)), e.aliceT, nil)
	want(t, r, http.StatusTooManyRequests, "too_many_pending_jobs")
	if msg := r.errBody(t).Error; !strings.HasPrefix(msg, fmt.Sprintf("job %d: 1 of its jobs were requeued, then: pending jobs: this account has 1 and may have at most 1", arr)) {
		t.Errorf("cap reached part way: %q", msg)
	}
	one := e.ended(e.bobT, nil, rcq.JobCompleted)
	e.submit(e.bobT, nil)
	want(t, e.post(requeuePath(fmt.Sprint(one)), e.bobT, nil), http.StatusTooManyRequests, "too_many_pending_jobs")
	if j := e.job(one); j.State != rcq.JobCompleted || j.Restarts != 0 {
		t.Errorf("refused requeue changed the job: %s restarts %d", j.State, j.Restarts)
	}
}

// The requeue is in the event stream: the job's owner sees it go back to
// pending, reason Requeued, its start and end cleared.
func TestRequeueEvent(t *testing.T) {
	t.Parallel()
	e := newEventsEnv(t)
	alice := e.stream(e.aliceT, "", "")
	id := e.ended(e.aliceT, nil, rcq.JobFailed)
	alice.wantJob(id, rcq.JobPending)
	alice.wantJob(id, rcq.JobRunning)
	alice.wantJob(id, rcq.JobFailed)
	want(t, e.post(requeuePath(fmt.Sprint(id)), e.aliceT, nil), http.StatusOK, "")
	ev := alice.wantJob(id, rcq.JobPending)
	if ev.Reason != rcq.ReasonRequeued || ev.StartedAt != nil || ev.CompletedAt != nil || ev.ExitCode != nil {
		t.Errorf("requeue event %+v: want reason Requeued, no start, end or exit code", ev)
	}
}

package api_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

func TestSubmitDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.post("/api/jobs", e.aliceT, map[string]any{"script": "#!/bin/sh\necho hi\n"})
	want(t, r, http.StatusCreated, "")
	sr := decodeTo[apitype.SubmitResponse](t, r)
	if sr.Message != "Job submitted successfully" || sr.JobID <= 0 || sr.Status != "pending" {
		t.Fatalf("submit = %+v", sr)
	}
	j := e.job(sr.JobID)
	if j.Resources != (rcq.Resources{CPUCores: 1, MemoryGB: 1}) || j.Priority != 1 || j.EstimatedHours != rcq.DefaultLimits.DefaultEstimatedHours ||
		j.UserID != e.alice || j.GroupID != 1 || j.State != rcq.JobPending || j.Hold != rcq.HoldNone {
		t.Errorf("stored job = %+v", j)
	}

	// Environment variable names are case-sensitive: A and a are two variables, not a duplicate key.
	caseEnv := e.submit(e.aliceT, map[string]any{"env": map[string]string{"PATH_X": "1", "path_x": "2"}})
	if env := e.job(caseEnv).Env; !slices.Equal(env, []string{"PATH_X=1", "path_x=2"}) {
		t.Errorf("env = %q", env)
	}

	// Every optional field is stored.
	dep := e.submit(e.aliceT, nil)
	id := e.submit(e.aliceT, map[string]any{"name": "full", "args": []string{"a", "b c"}, "working_dir": "/tmp",
		"env": map[string]string{"B": "2", "A": "1"}, "cpu_cores": 2, "memory_gb": 3, "gpu_count": 1, "estimated_hours": 0.5,
		"priority": 7, "output": "out-%j.txt", "error": "err-%j.txt", "dependencies": []map[string]any{{"type": "afterok", "job_id": dep}}, "hold": true})
	j = e.job(id)
	if j.Name != "full" || !slices.Equal(j.Args, []string{"a", "b c"}) || j.WorkingDir != "/tmp" || !slices.Equal(j.Env, []string{"A=1", "B=2"}) ||
		j.Resources != (rcq.Resources{CPUCores: 2, MemoryGB: 3, GPUs: 1}) || j.EstimatedHours != 0.5 || j.Priority != 7 ||
		j.Output != "out-%j.txt" || j.Error != "err-%j.txt" || len(j.Dependencies) != 1 || j.Dependencies[0].JobID != rcq.JobID(dep) || j.Hold != rcq.HoldUser {
		t.Errorf("stored full job = %+v", j)
	}
}

// TestSubmitUnlimited: time_limit "unlimited" gets rcqd's configured
// maximum (jobs.max_estimated_hours), whatever the client thinks it is;
// any other time_limit, or one with estimated_hours, is refused.
func TestSubmitUnlimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config, _ *api.Deps) { c.Limits.MaxEstimatedHours = 36 })
	id := e.submit(e.aliceT, map[string]any{"time_limit": "unlimited"})
	if h := e.job(id).EstimatedHours; h != 36 {
		t.Errorf("unlimited job has %g hours, want the configured 36", h)
	}
	r := e.post("/api/jobs", e.aliceT, map[string]any{"script": "true", "time_limit": "unlimited", "estimated_hours": 2})
	want(t, r, http.StatusBadRequest, "invalid_time_limit")
	r = e.post("/api/jobs", e.aliceT, map[string]any{"script": "true", "time_limit": "forever"})
	want(t, r, http.StatusBadRequest, "invalid_time_limit")
	if !strings.Contains(string(r.body), `time_limit: \"forever\": the one time_limit is \"unlimited\"`) {
		t.Errorf("message = %s", r.body)
	}
	// A batch element too.
	r = e.post("/api/jobs/batch", e.aliceT, map[string]any{"jobs": []map[string]any{{"script": "true", "time_limit": "unlimited"}}})
	want(t, r, http.StatusCreated, "")
	if b := decodeTo[apitype.BatchSubmitResponse](t, r); len(b.JobIDs) != 1 || e.job(b.JobIDs[0]).EstimatedHours != 36 {
		t.Errorf("batch = %+v", b)
	}
}

func TestSubmitRejectsBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const s = `"script":"echo hi"`
	cases := []struct{ name, body, code string }{
		{"cpu_cores 0", `{` + s + `,"cpu_cores":0}`, "invalid_cpu_cores"},
		{"cpu_cores -1", `{` + s + `,"cpu_cores":-1}`, "invalid_cpu_cores"},
		{"cpu_cores 2^32+1", `{` + s + `,"cpu_cores":4294967297}`, "invalid_cpu_cores"},
		{"cpu_cores 2^63", `{` + s + `,"cpu_cores":9223372036854775808}`, "invalid_cpu_cores"},
		{"cpu_cores 1.5", `{` + s + `,"cpu_cores":1.5}`, "invalid_cpu_cores"},
		{"cpu_cores string", `{` + s + `,"cpu_cores":"2"}`, "invalid_cpu_cores"},
		{"memory_gb -1", `{` + s + `,"memory_gb":-1}`, "invalid_memory_gb"},
		{"memory_gb max int64", `{` + s + `,"memory_gb":9223372036854775807}`, "invalid_memory_gb"},
		{"gpu_count 1e9", `{` + s + `,"gpu_count":1e9}`, "invalid_gpu_count"},
		{"gpu_count -1", `{` + s + `,"gpu_count":-1}`, "invalid_gpu_count"},
		{"dependencies, a name", `{` + s + `,"dependencies":["abc"]}`, "invalid_dependencies"},
		{"dependencies, 0", `{` + s + `,"dependencies":[0]}`, "invalid_dependencies"},
		{"dependencies, -1 as a string", `{` + s + `,"dependencies":["-1"]}`, "invalid_dependencies"},
		{"dependencies, 1.5", `{` + s + `,"dependencies":[1.5]}`, "invalid_dependencies"},
		{"dependencies, not a list", `{` + s + `,"dependencies":7}`, "invalid_dependencies"},
		{"dependencies, unknown key", `{` + s + `,"dependencies":[{"type":"afterok","job_id":1,"jobid":2}]}`, "unknown_field"},
		{"estimated_hours -1", `{` + s + `,"estimated_hours":-1}`, "invalid_estimated_hours"},
		{"estimated_hours 1e12", `{` + s + `,"estimated_hours":1e12}`, "invalid_estimated_hours"},
		{"estimated_hours 1e400", `{` + s + `,"estimated_hours":1e400}`, "invalid_estimated_hours"},
		{"priority 0", `{` + s + `,"priority":0}`, "invalid_priority"},
		{"priority 11", `{` + s + `,"priority":11}`, "invalid_priority"},
		{"empty script", `{"script":""}`, "invalid_script"},
		{"env name with =", `{` + s + `,"env":{"A=B":"1"}}`, "invalid_env"},
		{"env empty name", `{` + s + `,"env":{"":"1"}}`, "invalid_env"},
		{"blank script", `{"script":"  \n "}`, "invalid_script"},
		{"no script", `{"cpu_cores":1}`, "invalid_script"},
		{"NUL in script", `{"script":"echo \u0000"}`, "invalid_script"},
		{"relative working_dir", `{` + s + `,"working_dir":"tmp"}`, "invalid_working_dir"},
		{"bad dependency type", `{` + s + `,"dependencies":[{"type":"before","job_id":1}]}`, "invalid_dependencies"},
		{"missing dependency", `{` + s + `,"dependencies":[{"type":"afterok","job_id":424242}]}`, "invalid_dependencies"},
		{"name with slash", `{` + s + `,"name":"a/b"}`, "invalid_name"},
		{"unknown field", `{` + s + `,"colour":"blue"}`, "unknown_field"},
		{"user_id", `{` + s + `,"user_id":1}`, "unknown_field"},
		{"status", `{` + s + `,"status":"running"}`, "unknown_field"},
		{"worker_id", `{` + s + `,"worker_id":1}`, "unknown_field"},
		{"started_at", `{` + s + `,"started_at":"2026-01-01T00:00:00Z"}`, "unknown_field"},
		{"group_id", `{` + s + `,"group_id":2}`, "unknown_field"},
		{"trailing object", `{` + s + `}{}`, "trailing_data"},
		{"trailing garbage", `{` + s + `} x`, ""},
		{"duplicate key", `{` + s + `,"priority":1,"priority":10}`, "duplicate_key"},
		{"duplicate key, other case", `{` + s + `,"priority":1,"Priority":10}`, "duplicate_key"},
		{"duplicate script", `{"script":"echo a","script":"rm -rf ~"}`, "duplicate_key"},
		{"duplicate after a nested object", `{` + s + `,"env":{"A":"1"},"priority":1,"priority":10}`, "duplicate_key"},
		{"duplicate after a list of objects", `{` + s + `,"dependencies":[{"type":"afterok","job_id":1},{"type":"afterok","job_id":2}],"priority":1,"priority":10}`, "duplicate_key"},
		{"duplicate, Kelvin sign", `{` + s + `,"k":1,"K":2}`, "duplicate_key"},
		{"nested duplicate", `{` + s + `,"env":{"A":"1","A":"2"}}`, "duplicate_key"},
		{"malformed", `{` + s, ""},
		{"empty body", ``, "empty_body"},
		{"array", `[]`, ""},
		{"null", `null`, "invalid_script"},
	}
	for _, c := range cases {
		r := e.post("/api/jobs", e.aliceT, c.body)
		if r.status != http.StatusBadRequest || c.code != "" && r.errBody(t).Code != c.code {
			t.Errorf("%s: got %s, want 400 %s", c.name, r, c.code)
		}
	}
	if n := e.jobCount(); n != 0 {
		t.Errorf("refused submits stored %d jobs", n)
	}
}

func TestSubmitBodyLimitsAndMediaType(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	big := `{"script":"` + strings.Repeat("x", 10<<20) + `"}`
	r := e.post("/api/jobs", e.aliceT, big)
	want(t, r, http.StatusRequestEntityTooLarge, "body_too_large")
	// Without a Content-Length (chunked), the limit holds while reading.
	r = e.do(req{method: "POST", path: "/api/jobs", token: e.aliceT, body: io.MultiReader(strings.NewReader(big))})
	want(t, r, http.StatusRequestEntityTooLarge, "body_too_large")
	// A 2 MiB script is over the 1 MiB script limit but within the body limit: 400.
	r = e.post("/api/jobs", e.aliceT, `{"script":"`+strings.Repeat("x", 2<<20)+`"}`)
	want(t, r, http.StatusBadRequest, "invalid_script")
	r = e.do(req{method: "POST", path: "/api/jobs", token: e.aliceT, body: `{"script":"echo"}`, header: map[string]string{"Content-Type": "text/plain"}})
	want(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type")
	r = e.do(req{method: "POST", path: "/api/jobs", token: e.aliceT, body: `{"script":"echo"}`, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}})
	want(t, r, http.StatusCreated, "")
	if n := e.jobCount(); n != 1 {
		t.Errorf("%d jobs stored, want only the last", n)
	}
}

func TestSubmitTooLargeForAnyWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, b := range []map[string]any{{"cpu_cores": 9}, {"memory_gb": 33}, {"gpu_count": 3}} {
		b["script"] = "echo"
		r := e.post("/api/jobs", e.aliceT, b)
		want(t, r, http.StatusUnprocessableEntity, "too_large_for_any_worker")
		if msg := r.errBody(t).Error; !strings.Contains(msg, "w1") || !strings.Contains(msg, "8 cores, 32 GB, 2 GPUs") {
			t.Errorf("422 message %q does not name the largest worker's size", msg)
		}
	}
	// Exactly the largest worker's size is fine.
	e.submit(e.aliceT, map[string]any{"cpu_cores": 8, "memory_gb": 32, "gpu_count": 2})
	if n := e.jobCount(); n != 1 {
		t.Errorf("%d jobs stored", n)
	}
}

func TestSubmitIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	post := func(tok, key string) resp {
		return e.do(req{method: "POST", path: "/api/jobs", token: tok, body: `{"script":"echo"}`, header: map[string]string{"Idempotency-Key": key}})
	}
	first := post(e.aliceT, "retry-1")
	want(t, first, http.StatusCreated, "")
	again := post(e.aliceT, "retry-1")
	want(t, again, http.StatusCreated, "")
	id1, id2 := decodeTo[apitype.SubmitResponse](t, first).JobID, decodeTo[apitype.SubmitResponse](t, again).JobID
	if id1 != id2 || again.header.Get("Idempotent-Replayed") != "true" || first.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("replay: ids %d, %d; replayed headers %q, %q", id1, id2, first.header.Get("Idempotent-Replayed"), again.header.Get("Idempotent-Replayed"))
	}
	bobs := post(e.bobT, "retry-1")
	want(t, bobs, http.StatusCreated, "")
	if decodeTo[apitype.SubmitResponse](t, bobs).JobID == id1 {
		t.Error("bob's submit with alice's key returned alice's job")
	}
	want(t, post(e.aliceT, strings.Repeat("k", 256)), http.StatusBadRequest, "invalid_idempotency_key")
	if n := e.jobCount(); n != 2 {
		t.Errorf("%d jobs, want 2", n)
	}
}

func TestSubmitBatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.post("/api/jobs/batch", e.aliceT, map[string]any{"jobs": []map[string]any{
		{"script": "echo 0", "name": "j0"}, {"script": "echo 1", "name": "j1", "cpu_cores": 2}, {"script": "echo 2", "name": "j2"},
	}})
	want(t, r, http.StatusCreated, "")
	br := decodeTo[apitype.BatchSubmitResponse](t, r)
	if br.Count != 3 || len(br.JobIDs) != 3 {
		t.Fatalf("batch = %+v", br)
	}
	for i, id := range br.JobIDs {
		if j := e.job(id); j.Name != fmt.Sprintf("j%d", i) || j.UserID != e.alice {
			t.Errorf("job_ids[%d] = %d is %q of %d", i, id, j.Name, j.UserID)
		}
	}
	// Map keys in a batch spec stay case-sensitive.
	want(t, e.post("/api/jobs/batch", e.aliceT, `{"jobs":[{"script":"a","env":{"X":"1","x":"2"}}]}`), http.StatusCreated, "")
	before := e.jobCount()
	for _, c := range []struct {
		name    string
		jobs    string
		status  int
		mention string
	}{
		{"bad field in the middle", `[{"script":"a"},{"script":"b","priority":11},{"script":"c"}]`, 400, "jobs[1]"},
		{"missing dependency in the middle", `[{"script":"a"},{"script":"b","dependencies":[{"type":"afterok","job_id":999999}]},{"script":"c"}]`, 400, "jobs[1]"},
		{"too large for any worker", `[{"script":"a"},{"script":"b","cpu_cores":64}]`, 422, "jobs[1]"},
		{"unknown field", `[{"script":"a","user_id":2}]`, 400, "user_id"},
		{"empty", `[]`, 400, "jobs"},
		{"duplicate key in a spec", `[{"script":"a"},{"script":"b","Priority":2,"priority":3}]`, 400, "duplicate key"},
	} {
		r := e.post("/api/jobs/batch", e.aliceT, `{"jobs":`+c.jobs+`}`)
		if r.status != c.status || !strings.Contains(r.errBody(t).Error, c.mention) {
			t.Errorf("%s: got %s, want %d mentioning %q", c.name, r, c.status, c.mention)
		}
	}
	if n := e.jobCount(); n != before {
		t.Errorf("refused batches stored %d jobs", n-before)
	}
}

func TestSubmitTestOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.post("/api/jobs?test_only=true", e.aliceT, map[string]any{"script": "echo", "cpu_cores": 2})
	want(t, r, http.StatusOK, "")
	sr := decodeTo[apitype.SubmitResponse](t, r)
	if sr.Status != "test_only" || sr.JobID != 0 || sr.ExpectedStart == nil {
		t.Errorf("test_only on an idle worker = %+v, want an expected start and no id", sr)
	} else if d := time.Since(*sr.ExpectedStart); d > time.Minute || d < -time.Minute {
		t.Errorf("expected start on an idle worker = %v, want about now", sr.ExpectedStart)
	}
	want(t, e.post("/api/jobs?test_only=true", e.aliceT, map[string]any{"script": "echo", "cpu_cores": 9}), http.StatusUnprocessableEntity, "")
	want(t, e.post("/api/jobs?test_only=true", e.aliceT, map[string]any{"script": ""}), http.StatusBadRequest, "invalid_script")
	// With the only worker drained the job would wait (it may be resumed),
	// and the answer says why; a real submit is accepted the same way.
	want(t, e.post(fmt.Sprintf("/api/admin/workers/%d/drain", e.worker), e.adminT, nil), http.StatusOK, "")
	r = e.post("/api/jobs?test_only=true", e.aliceT, map[string]any{"script": "echo"})
	want(t, r, http.StatusOK, "")
	if sr := decodeTo[apitype.SubmitResponse](t, r); sr.ExpectedStart != nil || sr.Reason != rcq.ReasonWorkerDrained || sr.ReasonDetail == "" {
		t.Errorf("test_only with the only worker drained = %+v, want no start yet and reason %s with its detail", sr, rcq.ReasonWorkerDrained)
	}
	if n := e.jobCount(); n != 0 {
		t.Errorf("test_only stored %d jobs", n)
	}
}

func TestGetJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := e.submit(e.aliceT, map[string]any{"name": "mine", "cpu_cores": 2, "gpu_count": 1})
	r := e.get(fmt.Sprintf("/api/jobs/%d", id), e.aliceT)
	want(t, r, http.StatusOK, "")
	j := decodeTo[apitype.Job](t, r)
	if j.ID != id || j.UserID != int64(e.alice) || j.User != "alice@example.org" || j.Name != "mine" || j.CPUCores != 2 || j.GPUCount != 1 ||
		j.Status != "pending" || j.Script == "" || j.StartedAt != nil || j.WorkerID != nil || j.GPUIndices == nil || j.Dependencies == nil {
		t.Errorf("job = %+v", j)
	}
	if j.Computed == nil || j.Rank != 1 {
		t.Errorf("pending job has no plan: rank %d computed %v", j.Rank, j.Computed)
	}
	// Raw JSON keeps the original design's field names.
	for _, k := range []string{`"id"`, `"user_id"`, `"group_id"`, `"script"`, `"cpu_cores"`, `"memory_gb"`, `"gpu_count"`, `"status"`, `"priority"`,
		`"submitted_at"`, `"started_at"`, `"completed_at"`, `"worker_id"`, `"exit_code"`, `"estimated_hours"`, `"gpu_indices"`, `"output_path"`, `"error_path"`, `"error_message"`} {
		if !strings.Contains(string(r.body), k+":") {
			t.Errorf("job JSON lacks %s: %s", k, r.body)
		}
	}
	// The stderr path is error_path: a bare "error" key reads as a failure
	// (it is the error body's key).
	if strings.Contains(string(r.body), `"error":`) || strings.Contains(string(r.body), `"output":`) {
		t.Errorf("job JSON has a bare error or output key: %s", r.body)
	}
	other := e.get(fmt.Sprintf("/api/jobs/%d", id), e.bobT)
	missing := e.get(fmt.Sprintf("/api/jobs/%d", id+1000), e.bobT)
	want(t, other, http.StatusNotFound, "not_found")
	want(t, missing, http.StatusNotFound, "not_found")
	if strings.ReplaceAll(string(other.sansID()), fmt.Sprint(id), "N") != strings.ReplaceAll(string(missing.sansID()), fmt.Sprint(id+1000), "N") {
		t.Errorf("another user's job %s differs from a missing one %s", other, missing)
	}
	want(t, e.get(fmt.Sprintf("/api/jobs/%d", id), e.adminT), http.StatusOK, "")
	for _, bad := range []string{"abc", "0", "-1", "99999999999999999999", "1.5"} {
		want(t, e.get("/api/jobs/"+bad, e.aliceT), http.StatusBadRequest, "invalid_id")
	}
	// Running and finished jobs show where and how they ran.
	e.start(id, 1)
	e.finish(id, rcq.JobFailed, 2)
	j = decodeTo[apitype.Job](t, e.get(fmt.Sprintf("/api/jobs/%d", id), e.aliceT))
	if j.Status != "failed" || j.ExitCode == nil || *j.ExitCode != 2 || j.WorkerID == nil || j.Worker != "w1" || !slices.Equal(j.GPUIndices, []int{1}) || j.StartedAt == nil || j.CompletedAt == nil {
		t.Errorf("finished job = %+v", j)
	}
}

func jobIDs(t *testing.T, r resp) []int64 {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("list: %s", r)
	}
	l := decodeTo[apitype.JobList](t, r)
	if l.Count != len(l.Jobs) {
		t.Errorf("count %d, %d jobs", l.Count, len(l.Jobs))
	}
	ids := []int64{}
	for _, j := range l.Jobs {
		ids = append(ids, j.ID)
	}
	return ids
}

func TestListJobs(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	e.mapUnixUser(e.bob, "bob") // a Unix login names the account too
	a1 := e.submit(e.aliceT, map[string]any{"name": "first"})
	a2 := e.submit(e.aliceT, map[string]any{"name": "second"})
	a3 := e.submit(e.aliceT, map[string]any{"name": "third"})
	b1 := e.submit(e.bobT, nil)
	e.start(a2)
	want(t, e.do(req{method: "DELETE", path: fmt.Sprintf("/api/jobs/%d", a3), token: e.aliceT}), http.StatusOK, "")
	list := func(q, tok string) []int64 { t.Helper(); return jobIDs(t, e.get("/api/jobs"+q, tok)) }
	for _, c := range []struct {
		q    string
		tok  string
		want []int64
	}{
		{"", e.aliceT, []int64{a3, a2, a1}}, // newest first, as the seed listed
		{"", e.bobT, []int64{b1}},
		{"", e.adminT, []int64{b1, a3, a2, a1}},
		{"?status=pending", e.aliceT, []int64{a1}},
		{"?status=pending,running", e.aliceT, []int64{a2, a1}},
		{"?status=PD,R", e.aliceT, []int64{a2, a1}},
		{"?status=PD,R&order=oldest", e.aliceT, []int64{a1, a2}},
		{"?status=all", e.aliceT, []int64{a3, a2, a1}},
		{"?status=cancelled", e.aliceT, []int64{a3}},
		{"?limit=1", e.aliceT, []int64{a3}},
		{"?limit=1&order=oldest", e.aliceT, []int64{a1}},
		{"?limit=1000", e.aliceT, []int64{a3, a2, a1}},
		{"?order=newest", e.aliceT, []int64{a3, a2, a1}},
		{"?order=oldest", e.aliceT, []int64{a1, a2, a3}},
		{"?name=second", e.aliceT, []int64{a2}},
		{fmt.Sprintf("?ids=%d,%d", a1, b1), e.aliceT, []int64{a1}},
		{fmt.Sprintf("?ids=%d,%d", a1, b1), e.adminT, []int64{b1, a1}},
		{"?since=" + url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), e.aliceT, []int64{}},
		{"?since=" + url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)), e.aliceT, []int64{a3, a2, a1}},
		{"?user=ALICE@example.org", e.aliceT, []int64{a3, a2, a1}},
		{"?user=bob@example.org", e.adminT, []int64{b1}},
		{"?user=bob", e.adminT, []int64{b1}}, // bob's mapped Unix login
		{"?user=bob", e.bobT, []int64{b1}},
	} {
		if got := list(c.q, c.tok); !slices.Equal(got, c.want) {
			t.Errorf("GET /api/jobs%s = %v, want %v", c.q, got, c.want)
		}
	}
	for _, q := range []string{"?status=bogus", "?status=pending,bogus", "?limit=0", "?limit=10001", "?limit=-1", "?limit=ten",
		"?since=yesterday", "?ids=x", "?ids=1,,2", "?ids=-3", "?order=bad", "?order=name"} {
		want(t, e.get("/api/jobs"+q, e.aliceT), http.StatusBadRequest, "")
	}
	want(t, e.get("/api/jobs?status=bogus", e.aliceT), http.StatusBadRequest, "invalid_status")
	// Another user's jobs are refused, never an empty list that looks like
	// an answer; an unknown user is a 404 for an admin.
	want(t, e.get("/api/jobs?user=bob@example.org", e.aliceT), http.StatusForbidden, "other_users_jobs")
	want(t, e.get("/api/jobs?user=nobody-here@example.org", e.aliceT), http.StatusForbidden, "other_users_jobs")
	want(t, e.get("/api/jobs?user=nobody-here@example.org", e.adminT), http.StatusNotFound, "user_not_found")
	want(t, e.get("/api/jobs?user=nobody-here", e.adminT), http.StatusNotFound, "user_not_found")
	want(t, e.get("/api/jobs", ""), http.StatusUnauthorized, "missing_token")
	want(t, e.do(req{method: "PUT", path: fmt.Sprintf("/api/jobs/%d", a1), token: e.aliceT}), http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestListJobsDefaultLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	var body strings.Builder
	body.WriteString(`{"jobs":[`)
	for i := range 60 {
		if i > 0 {
			body.WriteString(",")
		}
		body.WriteString(`{"script":"echo"}`)
	}
	body.WriteString(`]}`)
	want(t, e.post("/api/jobs/batch", e.aliceT, body.String()), http.StatusCreated, "")
	if got := jobIDs(t, e.get("/api/jobs", e.aliceT)); len(got) != 50 {
		t.Errorf("default list has %d jobs, want 50", len(got))
	}
}

func TestCancelJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := e.submit(e.aliceT, nil)
	path := fmt.Sprintf("/api/jobs/%d", id)
	del := func(p, tok string) resp { return e.do(req{method: "DELETE", path: p, token: tok}) }

	want(t, del(path, e.bobT), http.StatusNotFound, "not_found")
	if j := e.job(id); j.State != rcq.JobPending {
		t.Fatalf("bob's cancel changed alice's job to %s", j.State)
	}
	r := del(path, e.aliceT)
	want(t, r, http.StatusOK, "")
	if a := decodeTo[apitype.JobAction](t, r); a.Message != "Job cancelled successfully" || a.JobID != id {
		t.Errorf("cancel = %+v", a)
	}
	if j := e.job(id); j.State != rcq.JobCancelled {
		t.Errorf("job is %s after cancel", j.State)
	}
	want(t, del(path, e.aliceT), http.StatusConflict, "job_finished")

	done := e.submit(e.aliceT, nil)
	e.start(done)
	e.finish(done, rcq.JobCompleted, 0)
	want(t, del(fmt.Sprintf("/api/jobs/%d", done), e.aliceT), http.StatusConflict, "job_finished")
	if j := e.job(done); j.State != rcq.JobCompleted {
		t.Errorf("finished job became %s", j.State)
	}
	// Admins cancel anyone's job; a running job is cancelled and keeps its resources until it ends.
	run := e.submit(e.bobT, nil)
	e.start(run)
	want(t, del(fmt.Sprintf("/api/jobs/%d", run), e.adminT), http.StatusOK, "")
	if j := e.job(run); j.State != rcq.JobCancelled || j.CompletedAt != nil {
		t.Errorf("cancelled running job: %s completed %v", j.State, j.CompletedAt)
	}
	want(t, del("/api/jobs/123456", e.adminT), http.StatusNotFound, "")
	want(t, del("/api/jobs/x", e.aliceT), http.StatusBadRequest, "")
}

func TestHoldRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := e.submit(e.aliceT, nil)
	hold := func(tok string) resp { return e.post(fmt.Sprintf("/api/jobs/%d/hold", id), tok, nil) }
	release := func(tok string) resp { return e.post(fmt.Sprintf("/api/jobs/%d/release", id), tok, nil) }

	want(t, hold(e.aliceT), http.StatusOK, "")
	if j := decodeTo[apitype.Job](t, e.get(fmt.Sprintf("/api/jobs/%d", id), e.aliceT)); j.Hold != "user" || j.Reason != rcq.ReasonHeldUser {
		t.Errorf("held job: hold %q reason %q", j.Hold, j.Reason)
	}
	want(t, hold(e.bobT), http.StatusNotFound, "not_found")
	want(t, release(e.bobT), http.StatusNotFound, "not_found")
	want(t, release(e.aliceT), http.StatusOK, "")
	if j := e.job(id); j.Hold != rcq.HoldNone {
		t.Errorf("released job hold = %q", j.Hold)
	}
	// An admin's hold binds the user.
	want(t, hold(e.adminT), http.StatusOK, "")
	want(t, release(e.aliceT), http.StatusForbidden, "held_by_admin")
	want(t, hold(e.aliceT), http.StatusForbidden, "held_by_admin")
	if j := e.job(id); j.Hold != rcq.HoldAdmin {
		t.Errorf("hold = %q after refused user changes", j.Hold)
	}
	want(t, release(e.adminT), http.StatusOK, "")
	// Only pending jobs can be held.
	e.start(id)
	want(t, hold(e.aliceT), http.StatusConflict, "job_not_pending")
	want(t, e.post("/api/jobs/777777/hold", e.aliceT, nil), http.StatusNotFound, "")
}

func TestSignalJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := e.submit(e.aliceT, nil)
	path := fmt.Sprintf("/api/jobs/%d/signal", id)
	want(t, e.post(path, e.aliceT, map[string]string{"signal": "USR1"}), http.StatusConflict, "job_not_running")
	want(t, e.post(path, e.aliceT, map[string]string{"signal": "BOGUS"}), http.StatusBadRequest, "invalid_signal")
	want(t, e.post(path, e.aliceT, map[string]string{"signal": "SEGV"}), http.StatusBadRequest, "invalid_signal")
	want(t, e.post(path, e.aliceT, `{"signal":"USR1","pid":1}`), http.StatusBadRequest, "unknown_field")

	e.start(id)
	// The signal is recorded for the node's executor, and announced to it.
	ctx, cancel := context.WithCancel(context.Background())
	events := make(chan rcq.Event, 16)
	ready := make(chan struct{}, 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = e.st.Listen(ctx, func(ev rcq.Event) { events <- ev }, func() { ready <- struct{}{} })
	}()
	defer func() { cancel(); <-stopped }()
	<-ready
	want(t, e.post(path, e.bobT, map[string]string{"signal": "USR1"}), http.StatusNotFound, "not_found")
	r := e.post(path, e.aliceT, map[string]string{"signal": "sigusr1"})
	want(t, r, http.StatusOK, "")
	timeout := time.After(30 * time.Second)
	for got := false; !got; {
		select {
		case ev := <-events:
			if ev.Kind == rcq.EventJobSignal {
				if ev.JobID != rcq.JobID(id) || ev.Signal != "USR1" || ev.Node != "node1" {
					t.Fatalf("signal event = %+v", ev)
				}
				got = true
			}
		case <-timeout:
			t.Fatal("no signal event")
		}
	}
	sigs, err := e.st.PendingSignals(ctx, "node1", "node1:/state")
	if err != nil || len(sigs) != 1 || sigs[0].JobID != rcq.JobID(id) || sigs[0].Signal != "USR1" {
		t.Fatalf("signals recorded for node1: %+v %v, want alice's USR1 only", sigs, err)
	}
	e.finish(id, rcq.JobCompleted, 0)
	want(t, e.post(path, e.aliceT, map[string]string{"signal": "TERM"}), http.StatusConflict, "job_not_running")
}

func TestJobOutput(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := e.submit(e.aliceT, nil)
	path := fmt.Sprintf("/api/jobs/%d/output", id)
	want(t, e.get(path, e.aliceT), http.StatusConflict, "job_not_started")
	e.start(id)
	want(t, e.get(path, e.aliceT), http.StatusNotFound, "no_output")
	stdout, stderr := e.api.OutputPaths(e.job(id))
	writeFile(t, stdout, "hello from the job\n")
	writeFile(t, stderr, "oops\n")
	r := e.get(path, e.aliceT)
	want(t, r, http.StatusOK, "")
	if string(r.body) != "hello from the job\n" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("output = %q (%s)", r.body, r.header.Get("Content-Type"))
	}
	if r := e.get(path+"?stream=stderr", e.aliceT); r.status != 200 || string(r.body) != "oops\n" {
		t.Errorf("stderr = %s", r)
	}
	want(t, e.get(path+"?stream=both", e.aliceT), http.StatusBadRequest, "invalid_stream")
	want(t, e.get(path, e.bobT), http.StatusNotFound, "not_found")
	want(t, e.get(path, e.adminT), http.StatusOK, "")
	// follow ends by itself once the job has ended and the file is drained.
	e.finish(id, rcq.JobCompleted, 0)
	if r := e.get(path+"?follow=true", e.aliceT); r.status != 200 || string(r.body) != "hello from the job\n" {
		t.Errorf("followed output of a finished job = %s", r)
	}
	// A symlink is never followed.
	id2 := e.submit(e.aliceT, nil)
	e.start(id2)
	out2, _ := e.api.OutputPaths(e.job(id2))
	if err := symlink(stdout, out2); err != nil {
		t.Fatal(err)
	}
	want(t, e.get(fmt.Sprintf("/api/jobs/%d/output", id2), e.aliceT), http.StatusNotFound, "no_output")
}

func TestQueue(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	// A running job of bob fills the worker, so everything else waits.
	running := e.submit(e.bobT, map[string]any{"cpu_cores": 8, "name": "bobs-big"})
	e.start(running)
	low := e.submit(e.aliceT, map[string]any{"priority": 1, "name": "low"})
	high := e.submit(e.aliceT, map[string]any{"priority": 10, "name": "high"})
	bobs := e.submit(e.bobT, map[string]any{"priority": 5, "name": "secret-name"})
	held := e.submit(e.aliceT, map[string]any{"hold": true, "name": "held"})

	r := e.get("/api/queue", e.aliceT)
	want(t, r, http.StatusOK, "")
	q := decodeTo[apitype.Queue](t, r)
	var ids []int64
	for _, j := range q.Jobs {
		ids = append(ids, j.ID)
	}
	if q.Count != 5 || len(ids) != 5 || ids[4] != running {
		t.Fatalf("queue = %v, want 4 pending then the running job", ids)
	}
	if !slices.Equal(ids[:3], []int64{high, bobs, low}) {
		t.Errorf("pending order = %v, want by priority %v", ids[:4], []int64{high, bobs, low, held})
	}
	prevRank := 0
	for _, j := range q.Jobs {
		switch {
		case j.Status == "pending" && j.ID != held:
			if j.Rank <= prevRank {
				t.Errorf("job %d rank %d after rank %d", j.ID, j.Rank, prevRank)
			}
			prevRank = j.Rank
		}
		own := j.ID == low || j.ID == high || j.ID == held
		if j.Own != own {
			t.Errorf("job %d own = %v", j.ID, j.Own)
		}
		if own {
			if j.Name == "" || j.SubmittedAt == nil || j.Reason == "" {
				t.Errorf("own job %d lacks detail: %+v", j.ID, j)
			}
			if j.Status == "pending" && j.ID != held && (j.Computed == nil || j.Computed.Final <= 0) {
				t.Errorf("own pending job %d has no computed priority", j.ID)
			}
		} else {
			if j.Name != "" || j.Computed != nil || j.Reason != "" || j.ReasonDetail != "" || j.SubmittedAt != nil || j.Priority != 0 || j.Worker != "" {
				t.Errorf("alice sees detail of bob's job %d: %+v", j.ID, j)
			}
			if j.User != "bob@example.org" || j.Status == "" || j.CPUCores == 0 {
				t.Errorf("bob's job %d lacks the public part: %+v", j.ID, j)
			}
		}
		if j.ID == held && j.Reason != rcq.ReasonHeldUser {
			t.Errorf("held job reason %q", j.Reason)
		}
	}
	if strings.Contains(string(r.body), "secret-name") || strings.Contains(string(r.body), "bobs-big") {
		t.Errorf("alice's queue view shows the names of bob's jobs: %s", r.body)
	}
	// An admin sees every detail.
	q = decodeTo[apitype.Queue](t, e.get("/api/queue", e.adminT))
	for _, j := range q.Jobs {
		if j.Name == "" {
			t.Errorf("admin's view of job %d lacks its name", j.ID)
		}
	}
	// ?user= filters.
	q = decodeTo[apitype.Queue](t, e.get("/api/queue?user=bob@example.org", e.aliceT))
	if q.Count != 2 {
		t.Errorf("queue filtered to bob has %d jobs", q.Count)
	}
	// A Unix login names its account; an unknown name is a 404, not an
	// empty queue.
	e.mapUnixUser(e.bob, "bob")
	if q = decodeTo[apitype.Queue](t, e.get("/api/queue?user=bob", e.aliceT)); q.Count != 2 {
		t.Errorf("queue filtered to the login bob has %d jobs", q.Count)
	}
	want(t, e.get("/api/queue?user=nobody-here", e.aliceT), http.StatusNotFound, "user_not_found")
	want(t, e.get("/api/queue", ""), http.StatusUnauthorized, "")
}

// TestConcurrentSubmitAndCancel: 100 goroutines submit, read and cancel at
// once (run under -race): no race, no error, and every job ends in exactly
// one state.
func TestConcurrentSubmitAndCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const workers = 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	kept := map[int64]bool{}
	cancelled := map[int64]bool{}
	gate := make(chan struct{})
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			tok := []string{e.aliceT, e.bobT}[g%2]
			var ids []int64
			for i := range 3 {
				body := fmt.Sprintf(`{"script":"echo %d-%d","priority":%d}`, g, i, 1+(g+i)%10)
				r := e.do(req{method: "POST", path: "/api/jobs", token: tok, body: body})
				if r.status != http.StatusCreated {
					t.Errorf("submit: %s", r)
					return
				}
				ids = append(ids, decodeTo[apitype.SubmitResponse](t, r).JobID)
			}
			if r := e.get("/api/queue", tok); r.status != http.StatusOK {
				t.Errorf("queue: %s", r)
			}
			for _, id := range ids[:2] {
				r := e.do(req{method: "DELETE", path: fmt.Sprintf("/api/jobs/%d", id), token: tok})
				if r.status != http.StatusOK {
					t.Errorf("cancel %d: %s", id, r)
				}
				// A repeated cancel changes nothing.
				if r := e.do(req{method: "DELETE", path: fmt.Sprintf("/api/jobs/%d", id), token: tok}); r.status != http.StatusConflict {
					t.Errorf("second cancel %d: %s", id, r)
				}
			}
			mu.Lock()
			cancelled[ids[0]], cancelled[ids[1]], kept[ids[2]] = true, true, true
			mu.Unlock()
		}()
	}
	close(gate)
	wg.Wait()
	js, err := e.st.ListJobs(context.Background(), rcq.JobFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(js) != 3*workers || len(cancelled) != 2*workers || len(kept) != workers {
		t.Fatalf("%d jobs stored, %d cancelled, %d kept; want %d, %d, %d", len(js), len(cancelled), len(kept), 3*workers, 2*workers, workers)
	}
	for _, j := range js {
		id := int64(j.ID)
		switch {
		case cancelled[id] && (j.State != rcq.JobCancelled || j.CompletedAt == nil):
			t.Errorf("job %d should be cancelled: %s", id, j.State)
		case kept[id] && j.State != rcq.JobPending:
			t.Errorf("job %d should be pending: %s", id, j.State)
		case !cancelled[id] && !kept[id]:
			t.Errorf("job %d was never acknowledged", id)
		}
	}
}

// GET /api/jobs/{id}/output?follow=true streams what the job writes until it
// has ended and the file is drained.
func TestJobOutputFollow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := e.submit(e.aliceT, nil)
	e.start(id)
	stdout, _ := e.api.OutputPaths(e.job(id))
	writeFile(t, stdout, "first\n")
	hr, err := http.NewRequest("GET", fmt.Sprintf("%s/api/jobs/%d/output?follow=1", e.srv.URL, id), nil)
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+e.aliceT)
	res, err := e.srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	buf := make([]byte, len("first\n"))
	if _, err := io.ReadFull(res.Body, buf); err != nil || string(buf) != "first\n" {
		t.Fatalf("first chunk %q %v", buf, err)
	}
	f, err := os.OpenFile(stdout, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("second\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	e.finish(id, rcq.JobCompleted, 0)
	rest, err := io.ReadAll(res.Body)
	if err != nil || string(rest) != "second\n" {
		t.Errorf("rest of the followed output %q %v, want %q", rest, err, "second\n")
	}
}

// A follower that comes before the supervisor has made the output file
// waits for it instead of a 404; a job that ends without one is the 404.
func TestJobOutputFollowWaitsForTheFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := e.submit(e.aliceT, nil)
	e.start(id)
	stdout, _ := e.api.OutputPaths(e.job(id))
	type result struct {
		status int
		body   string
	}
	done := make(chan result, 1)
	go func() {
		r := e.get(fmt.Sprintf("/api/jobs/%d/output?follow=true", id), e.aliceT)
		done <- result{r.status, string(r.body)}
	}()
	writeFile(t, stdout, "late\n")
	e.finish(id, rcq.JobCompleted, 0)
	if r := <-done; r.status != http.StatusOK || r.body != "late\n" {
		t.Errorf("follow before the file existed: %d %q, want 200 %q", r.status, r.body, "late\n")
	}
	gone := e.submit(e.aliceT, nil)
	e.start(gone)
	e.finish(gone, rcq.JobFailed, 1)
	want(t, e.get(fmt.Sprintf("/api/jobs/%d/output?follow=true", gone), e.aliceT), http.StatusNotFound, "no_output")
}

// User B reaching for A's jobs through every job route, by id and by
// neighbouring ids, gets 404 exactly as for a missing job, and A's jobs do
// not change.
func TestOwnershipOnEveryJobRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	pending := e.submit(e.aliceT, nil)
	running := e.submit(e.aliceT, nil)
	held := e.submit(e.aliceT, map[string]any{"hold": true})
	e.start(running)
	stdout, _ := e.api.OutputPaths(e.job(running))
	writeFile(t, stdout, "alice's secret output\n")
	before := map[int64]rcq.Job{}
	for _, id := range []int64{pending, running, held} {
		before[id] = *e.job(id)
	}
	var routes []api.Route
	for _, rt := range e.api.Routes() {
		if strings.HasPrefix(rt.Pattern, "/api/jobs/{id}") {
			routes = append(routes, rt)
		}
	}
	if len(routes) != 8 {
		t.Fatalf("%d job routes, want 8 (get, cancel, hold, release, update, requeue, signal, output)", len(routes))
	}
	for _, rt := range routes {
		for _, id := range []int64{pending, running, held, held + 1000} {
			var body any
			if rt.Pattern == "/api/jobs/{id}/signal" {
				body = map[string]string{"signal": "KILL"}
			}
			if rt.Method == "PATCH" {
				body = map[string]any{"name": "bobs", "priority": 1}
			}
			path := strings.ReplaceAll(rt.Pattern, "{id}", fmt.Sprint(id))
			r := e.do(req{method: rt.Method, path: path, token: e.bobT, body: body})
			want(t, r, http.StatusNotFound, "not_found")
			if strings.Contains(string(r.body), "secret") {
				t.Errorf("%s %s leaks output: %s", rt.Method, path, r.body)
			}
			if want := fmt.Sprintf("job %d not found", id); r.errBody(t).Error != want {
				t.Errorf("%s %s as bob: %q, want %q like a missing job", rt.Method, path, r.errBody(t).Error, want)
			}
		}
	}
	for id, b := range before {
		a := e.job(id)
		if a.State != b.State || a.Hold != b.Hold || !a.SubmittedAt.Equal(b.SubmittedAt) || (a.CompletedAt == nil) != (b.CompletedAt == nil) || a.Name != b.Name {
			t.Errorf("job %d changed under bob's requests: %s/%q -> %s/%q", id, b.State, b.Hold, a.State, a.Hold)
		}
	}
	if got := jobIDs(t, e.get(fmt.Sprintf("/api/jobs?ids=%d,%d,%d&status=all", pending, running, held), e.bobT)); len(got) != 0 {
		t.Errorf("bob lists alice's jobs: %v", got)
	}
}

// A body over the limit is refused from its Content-Length, before it is read:
// the server does not allocate anything like the body's size.
func TestOversizedBodyIsNotRead(t *testing.T) {
	e := newEnv(t, nil) // not parallel: it measures this process's allocations
	body := bytes.Repeat([]byte("x"), 10<<20)
	r := httptest.NewRequest("POST", "/api/jobs", bytes.NewReader(body))
	r.Host = "localhost"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+e.aliceT)
	w := httptest.NewRecorder()
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	e.api.ServeHTTP(w, r)
	runtime.ReadMemStats(&m1)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d %s", w.Code, w.Body)
	}
	if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 2<<20 {
		t.Errorf("refusing a 10 MiB body allocated %d bytes", grew)
	}
}

// Strings with SQL's special characters travel through the API unchanged.
func TestSQLCharactersRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	email := "o'brien--$1$tag$@example.org"
	want(t, e.post("/api/auth/register", "", map[string]any{"email": email, "password": "it's -- $1 $tag$"}), http.StatusCreated, "")
	r := login(e, email, "it's -- $1 $tag$")
	want(t, r, http.StatusOK, "")
	tok := decodeTo[apitype.LoginResponse](t, r).Token
	name := `x'); DROP TABLE jobs; -- $1 $tag$`
	script := "#!/bin/sh\necho '$1' \"$tag$\" -- it's\n"
	id := e.submit(tok, map[string]any{"name": name, "script": script, "args": []string{"'", "--", "$1"}, "env": map[string]string{"Q": "$tag$'"}})
	j := decodeTo[apitype.Job](t, e.get(fmt.Sprintf("/api/jobs/%d", id), tok))
	if j.Name != name || j.Script != script || j.User != email || !slices.Equal(j.Args, []string{"'", "--", "$1"}) {
		t.Errorf("job read back changed: name %q script %q user %q args %q", j.Name, j.Script, j.User, j.Args)
	}
	if got := jobIDs(t, e.get("/api/jobs?name="+url.QueryEscape(name), tok)); !slices.Equal(got, []int64{id}) {
		t.Errorf("list by name = %v", got)
	}
	if e.jobCount() != 1 {
		t.Errorf("%d jobs", e.jobCount())
	}
}

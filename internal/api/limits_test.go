package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
	"github.com/rcq-project/rcq/internal/unixtest"
)

// TestSubmitBoundsRefused is each size bound of a submit as the request it
// stops: a 400 naming the field and the limit, and nothing stored, alone
// or in a batch.
func TestSubmitBoundsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	dep := e.submit(e.aliceT, nil)
	deps := make([]map[string]any, 30_000)
	for i := range deps {
		deps[i] = map[string]any{"type": "afterok", "job_id": dep}
	}
	before := e.jobCount()
	for _, c := range []struct {
		name string
		spec map[string]any
		code string
		says string
	}{
		{"3.9 MiB working directory", map[string]any{"working_dir": "/" + strings.Repeat("d", 3_900_000)}, "invalid_working_dir", "at most 4096 bytes"},
		{"working directory with NUL", map[string]any{"working_dir": "/tmp/\x00x"}, "invalid_working_dir", "without NUL"},
		{"output path with NUL", map[string]any{"output": "out\x00.txt"}, "invalid_output", "without NUL"},
		{"error path of 5,000 bytes", map[string]any{"error": strings.Repeat("e", 5000)}, "invalid_error", "at most 4096 bytes"},
		{"name of 201 bytes", map[string]any{"name": strings.Repeat("n", 201)}, "invalid_name", "at most 200 bytes"},
		{"30,000 dependencies", map[string]any{"dependencies": deps}, "invalid_dependencies", "at most 100 per job, got 30000"},
	} {
		c.spec["script"] = "#!/bin/sh\ntrue\n"
		r := e.post("/api/jobs", e.aliceT, c.spec)
		want(t, r, http.StatusBadRequest, c.code)
		if msg := r.errBody(t).Error; !strings.Contains(msg, c.says) || len(msg) > 300 {
			t.Errorf("%s: message %q, want it short and saying %q", c.name, msg, c.says)
		}
		r = e.post("/api/jobs/batch", e.aliceT, map[string]any{"jobs": []map[string]any{{"script": "true"}, c.spec}})
		want(t, r, http.StatusBadRequest, c.code)
		if msg := r.errBody(t).Error; !strings.HasPrefix(msg, "jobs[1].") {
			t.Errorf("%s in a batch: message %q, want it to name jobs[1]", c.name, msg)
		}
	}
	if n := e.jobCount(); n != before {
		t.Errorf("refused submits stored %d jobs", n-before)
	}
}

// TestSubmitMemoryZeroIsDefault: memory_gb 0 (or none) gets the configured
// default memory, never "no limit", alone and in a batch.
func TestSubmitMemoryZeroIsDefault(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config, _ *api.Deps) { c.Limits.DefaultMemoryGB = 3 })
	for _, spec := range []map[string]any{{"memory_gb": 0}, {}, {"memory_gb": 5}} {
		id := e.submit(e.aliceT, spec)
		want := 3
		if spec["memory_gb"] == 5 {
			want = 5
		}
		if got := e.job(id).Resources.MemoryGB; got != want {
			t.Errorf("submit %v: memory_gb %d, want %d", spec, got, want)
		}
	}
	r := e.post("/api/jobs/batch", e.aliceT, map[string]any{"jobs": []map[string]any{{"script": "a", "memory_gb": 0}}})
	want(t, r, http.StatusCreated, "")
	if got := e.job(decodeTo[apitype.BatchSubmitResponse](t, r).JobIDs[0]).Resources.MemoryGB; got != 3 {
		t.Errorf("batch spec with memory_gb 0: %d GB, want the default 3", got)
	}
}

// TestPendingCapOneUserNotAnother: Unix user A, at her account's cap of
// pending jobs, gets 429 too_many_pending_jobs for a submit and for a batch
// (and nothing is stored), while Unix user B still submits.
func TestPendingCapOneUserNotAnother(t *testing.T) {
	t.Parallel()
	ua, ub := unixtest.New(t), unixtest.New(t)
	e := newEnvStore(t, store.Options{MaxPendingPerUser: 5}, nil)
	account := func(u unixtest.User) string {
		id, _ := e.newUser(u.Name+"@example.org", false)
		if _, err := e.st.UpdateUser(context.Background(), id, rcq.UserPatch{UnixUser: &u.Name}); err != nil {
			t.Fatal(err)
		}
		return e.token(id)
	}
	a, b := account(ua), account(ub)
	for range 5 {
		e.submit(a, nil)
	}
	before := e.jobCount()
	r := e.post("/api/jobs", a, map[string]any{"script": "true"})
	want(t, r, http.StatusTooManyRequests, "too_many_pending_jobs")
	if msg := r.errBody(t).Error; !strings.Contains(msg, "at most 5 (jobs.max_pending_per_user)") {
		t.Errorf("message %q does not name the limit", msg)
	}
	want(t, e.post("/api/jobs/batch", a, map[string]any{"jobs": []map[string]any{{"script": "a"}}}), http.StatusTooManyRequests, "too_many_pending_jobs")
	if n := e.jobCount(); n != before {
		t.Fatalf("refused submits stored %d jobs", n-before)
	}
	e.submit(b, nil)
	want(t, e.post("/api/jobs/batch", b, map[string]any{"jobs": []map[string]any{{"script": "a"}, {"script": "b"}}}), http.StatusCreated, "")
}

// TestPendingCapConcurrentSubmits: 40 submits racing for an account's last
// 3 places: exactly 3 are stored, the others get 429.
func TestPendingCapConcurrentSubmits(t *testing.T) {
	t.Parallel()
	e := newEnvStore(t, store.Options{MaxPendingPerUser: 10, MaxConns: 20}, nil)
	for range 7 {
		e.submit(e.aliceT, nil)
	}
	statuses := make(chan int, 40)
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- e.post("/api/jobs", e.aliceT, map[string]any{"script": "true"}).status
		}()
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if got[http.StatusCreated] != 3 || got[http.StatusTooManyRequests] != 37 {
		t.Errorf("statuses %v, want 3 created and 37 refused", got)
	}
	if n := e.jobCount(); n != 10 {
		t.Errorf("%d jobs stored, want the cap of 10", n)
	}
}

// TestBatchStreamedChecksEverySpec: a bad spec, or the cap, met after the
// first chunks of a batch were stored inside its transaction, refuses the
// whole batch: nothing is stored.
func TestBatchStreamedChecksEverySpec(t *testing.T) {
	t.Parallel()
	e := newEnvStore(t, store.Options{MaxPendingPerUser: 2500}, nil)
	batch := func(n int, bad int) string {
		var b strings.Builder
		b.WriteString(`{"jobs":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			if i == bad {
				b.WriteString(`{"script":"echo","priority":11}`)
				continue
			}
			fmt.Fprintf(&b, `{"script":"echo %d"}`, i)
		}
		b.WriteString(`]}`)
		return b.String()
	}
	r := e.post("/api/jobs/batch", e.aliceT, batch(2000, 1500))
	want(t, r, http.StatusBadRequest, "invalid_priority")
	if msg := r.errBody(t).Error; !strings.HasPrefix(msg, "jobs[1500].priority: ") {
		t.Errorf("message %q, want it to name jobs[1500].priority", msg)
	}
	for _, tail := range []string{`,"x":1}`, `,"jobs":[]}`, `} {}`, `}]`} {
		body := strings.TrimSuffix(batch(1500, -1), "}") + tail
		r := e.post("/api/jobs/batch", e.aliceT, body)
		if r.status != http.StatusBadRequest {
			t.Errorf("batch of 1,500 ending in %s: %s, want 400", tail, r)
		}
	}
	want(t, e.post("/api/jobs/batch", e.aliceT, batch(2600, -1)), http.StatusTooManyRequests, "too_many_pending_jobs")
	if n := e.jobCount(); n != 0 {
		t.Fatalf("refused batches stored %d jobs", n)
	}
	r = e.post("/api/jobs/batch", e.aliceT, batch(2500, -1))
	want(t, r, http.StatusCreated, "")
	ids := decodeTo[apitype.BatchSubmitResponse](t, r).JobIDs
	if len(ids) != 2500 || e.job(ids[2499]).Script != "echo 2499" || e.job(ids[0]).Script != "echo 0" {
		t.Errorf("batch of 2,500 answered %d ids, or in the wrong order", len(ids))
	}
}

// TestBatchSpecTooLarge: one spec of a batch is held to a single submit's
// body limit, whatever the batch's.
func TestBatchSpecTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	body := `{"jobs":[{"script":"a"},{"script":"` + strings.Repeat("x", 5<<20) + `"}]}`
	r := e.post("/api/jobs/batch", e.aliceT, body)
	want(t, r, http.StatusRequestEntityTooLarge, "body_too_large")
	if msg := r.errBody(t).Error; !strings.HasPrefix(msg, "jobs[1]: a job spec may be at most 4 MiB") {
		t.Errorf("message %q", msg)
	}
	for _, c := range []struct{ body, code string }{
		{``, "empty_body"},
		{`[]`, "invalid_body"},
		{`{}`, "invalid_jobs"},
		{`{"jobs":null}`, "invalid_jobs"},
		{`{"jobs":"a"}`, "invalid_jobs"},
		{`{"job":[]}`, "unknown_field"},
		{`{"jobs":[{"script":"a"}`, "bad_json"},
		{`{"jobs":[{"script":"a"}]} x`, "trailing_data"},
	} {
		want(t, e.post("/api/jobs/batch", e.aliceT, c.body), http.StatusBadRequest, c.code)
	}
	if n := e.jobCount(); n != 0 {
		t.Errorf("refused batches stored %d jobs", n)
	}
}

// signalStore tells the test when a batch has taken its slot and is
// reading its body (CreateJobsFrom is called once the slot is held).
type signalStore struct {
	api.Store
	reading chan<- struct{}
}

func (s signalStore) CreateJobsFrom(ctx context.Context, next func() ([]*rcq.Job, error)) ([]rcq.JobID, error) {
	s.reading <- struct{}{}
	return s.Store.CreateJobsFrom(ctx, next)
}

// TestBatchesInFlightPerAccount: with two batches of alice's still
// arriving, a third gets 429 too_many_batches while bob's batch is stored;
// alice's two then finish.
func TestBatchesInFlightPerAccount(t *testing.T) {
	t.Parallel()
	reading := make(chan struct{}, 4)
	e := newEnv(t, func(_ *api.Config, d *api.Deps) { d.Store = signalStore{Store: d.Store, reading: reading} })
	var slow []*io.PipeWriter
	done := make(chan resp, 2)
	for range 2 {
		pr, pw := io.Pipe()
		slow = append(slow, pw)
		go func() {
			done <- e.do(req{method: "POST", path: "/api/jobs/batch", token: e.aliceT, body: io.Reader(pr)})
		}()
		if _, err := pw.Write([]byte(`{"jobs":[{"script":"a"},`)); err != nil {
			t.Fatal(err)
		}
		<-reading
	}
	r := e.post("/api/jobs/batch", e.aliceT, map[string]any{"jobs": []map[string]any{{"script": "third"}}})
	want(t, r, http.StatusTooManyRequests, "too_many_batches")
	if msg := r.errBody(t).Error; !strings.Contains(msg, "jobs.max_batches_per_user") {
		t.Errorf("message %q does not name the limit", msg)
	}
	want(t, e.post("/api/jobs/batch", e.bobT, map[string]any{"jobs": []map[string]any{{"script": "bob"}}}), http.StatusCreated, "")
	<-reading // bob's
	for _, pw := range slow {
		if _, err := pw.Write([]byte(`{"script":"b"}]}`)); err != nil {
			t.Fatal(err)
		}
		pw.Close()
	}
	for range 2 {
		want(t, <-done, http.StatusCreated, "")
	}
	// The slots are given back: alice may send another.
	want(t, e.post("/api/jobs/batch", e.aliceT, map[string]any{"jobs": []map[string]any{{"script": "again"}}}), http.StatusCreated, "")
}

// jobIDsOf decodes a list or queue body's ids.
func jobIDsOf(t *testing.T, body []byte) []int64 {
	t.Helper()
	var v struct {
		Jobs []struct {
			ID int64 `json:"id"`
		} `json:"jobs"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(v.Jobs))
	for i, j := range v.Jobs {
		ids[i] = j.ID
	}
	return ids
}

// TestListJobsPages: GET /api/jobs pages through every job exactly once, in
// either order, while jobs are being added between pages (batches, whose
// jobs share one submit time, included); a cursor that is not one is 400.
func TestListJobsPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	batch := func(n int) {
		specs := make([]map[string]any, n)
		for i := range specs {
			specs[i] = map[string]any{"script": "true"}
		}
		want(t, e.post("/api/jobs/batch", e.aliceT, map[string]any{"jobs": specs}), http.StatusCreated, "")
	}
	for range 5 {
		e.submit(e.aliceT, nil)
	}
	batch(12)
	e.submit(e.bobT, nil) // not alice's: never listed to her
	for range 6 {
		e.submit(e.aliceT, nil)
	}
	for _, order := range []string{"oldest", "newest", ""} { // "": the default, newest
		before := map[int64]bool{}
		for _, id := range jobIDsOf(t, e.get("/api/jobs?limit=1000", e.aliceT).body) {
			before[id] = true
		}
		seen := map[int64]int{}
		cursor, pages := "", 0
		for {
			r := e.get("/api/jobs?order="+order+"&limit=7&cursor="+cursor, e.aliceT)
			want(t, r, http.StatusOK, "")
			page := decodeTo[apitype.JobList](t, r)
			if page.Count != len(page.Jobs) || page.Count > 7 {
				t.Fatalf("page of %d jobs says count %d", len(page.Jobs), page.Count)
			}
			for _, j := range page.Jobs {
				seen[j.ID]++
			}
			pages++
			if page.Next == "" {
				break
			}
			cursor = page.Next
			e.submit(e.aliceT, nil) // jobs keep coming while she pages
			batch(3)
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("order %s: job %d listed %d times", order, id, n)
			}
		}
		for id := range before {
			if seen[id] != 1 {
				t.Errorf("order %s: job %d, there before paging began, listed %d times", order, id, seen[id])
			}
		}
		t.Logf("order %s: %d pages, %d jobs (%d there before)", order, pages, len(seen), len(before))
	}
	for _, c := range []string{"bogus", "cTE", queueCursorOf(t, e)} {
		want(t, e.get("/api/jobs?cursor="+c, e.aliceT), http.StatusBadRequest, "invalid_cursor")
	}
}

// queueCursorOf is a real cursor of GET /api/queue.
func queueCursorOf(t *testing.T, e *env) string {
	t.Helper()
	next := decodeTo[apitype.Queue](t, e.get("/api/queue?limit=1", e.aliceT)).Next
	if next == "" {
		t.Fatal("the queue has one page")
	}
	return next
}

// TestQueuePages: GET /api/queue pages through the queue by job id: every
// job pending or running throughout is listed exactly once while jobs are
// added and started between pages, each page is in queue order, and the
// default page is jobs.max_page_size.
func TestQueuePages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config, _ *api.Deps) { c.Limits.MaxPageSize = 9 })
	var ids []int64
	for i := range 30 {
		tok := e.aliceT
		if i%3 == 0 {
			tok = e.bobT
		}
		ids = append(ids, e.submit(tok, nil))
	}
	e.start(ids[4])
	e.start(ids[20])
	page := decodeTo[apitype.Queue](t, e.get("/api/queue", e.aliceT))
	if page.Count != 9 || page.Next == "" {
		t.Fatalf("default page: %d jobs, next %q: want jobs.max_page_size (9) and a next page", page.Count, page.Next)
	}
	want(t, e.get("/api/queue?limit=10", e.aliceT), http.StatusBadRequest, "invalid_limit")
	seen := map[int64]int{}
	cursor := ""
	for n := 0; ; n++ {
		page := decodeTo[apitype.Queue](t, e.get("/api/queue?limit=4&cursor="+cursor, e.aliceT))
		if !slices.IsSortedFunc(page.Jobs, queueOrder) {
			t.Errorf("page %d is not in queue order: %+v", n, page.Jobs)
		}
		for _, j := range page.Jobs {
			seen[j.ID]++
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
		e.submit(e.aliceT, nil)
		if n < 4 { // w1's 8 cores hold 6 jobs
			e.start(ids[n]) // a job seen pending may be running on a later page: still listed once
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("job %d listed %d times", id, n)
		}
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("job %d, in the queue throughout, listed %d times", id, seen[id])
		}
	}
	// One account's jobs only, paged the same way.
	var bobs []int64
	for cursor := ""; ; {
		page := decodeTo[apitype.Queue](t, e.get("/api/queue?user=bob@example.org&limit=2&cursor="+cursor, e.aliceT))
		for _, j := range page.Jobs {
			if j.User != "bob@example.org" {
				t.Errorf("user=bob lists %s's job %d", j.User, j.ID)
			}
			bobs = append(bobs, j.ID)
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if len(bobs) != 10 {
		t.Errorf("bob's queue has %d jobs over its pages, want 10", len(bobs))
	}
	want(t, e.get("/api/queue?cursor=x", e.aliceT), http.StatusBadRequest, "invalid_cursor")
}

// queueOrder compares as apitype.SortQueue orders.
func queueOrder(a, b apitype.QueueJob) int {
	js := []apitype.QueueJob{b, a}
	apitype.SortQueue(js)
	if js[0].ID == a.ID && a.ID != b.ID {
		return -1
	}
	if a.ID == b.ID {
		return 0
	}
	return 1
}

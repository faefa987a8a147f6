package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
)

// pagingAPI serves n queue jobs and n listed jobs in pages of size, as rcqd
// does: pages split the queue by id, each page in queue order.
func pagingAPI(t *testing.T, n, size int, queries *[]string) string {
	t.Helper()
	mux := http.NewServeMux()
	page := func(r *http.Request) (from, to int, next string) {
		*queries = append(*queries, r.URL.Path+"?"+r.URL.RawQuery)
		from, _ = strconv.Atoi(r.URL.Query().Get("cursor"))
		to = min(from+size, n)
		if to < n {
			next = strconv.Itoa(to)
		}
		return from, to, next
	}
	mux.HandleFunc("GET /api/queue", func(w http.ResponseWriter, r *http.Request) {
		from, to, next := page(r)
		out := apitype.Queue{Jobs: []apitype.QueueJob{}, Next: next}
		for id := from + 1; id <= to; id++ {
			j := apitype.QueueJob{ID: int64(id), Status: "pending", Rank: n + 1 - id} // later ids start first
			if id%5 == 0 {
				j.Status, j.Rank = "running", 0
			}
			out.Jobs = append(out.Jobs, j)
		}
		apitype.SortQueue(out.Jobs)
		out.Count = len(out.Jobs)
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /api/jobs", func(w http.ResponseWriter, r *http.Request) {
		from, to, next := page(r)
		out := apitype.JobList{Jobs: []apitype.Job{}, Next: next}
		for id := from + 1; id <= to; id++ {
			out.Jobs = append(out.Jobs, apitype.Job{ID: int64(id)})
		}
		out.Count = len(out.Jobs)
		_ = json.NewEncoder(w).Encode(out)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestQueueReadsEveryPage: Queue follows next to the last page and orders
// the union of the pages as one queue; AllJobs follows next too.
func TestQueueReadsEveryPage(t *testing.T) {
	t.Parallel()
	var queries []string
	c, err := New(pagingAPI(t, 25, 10, &queries))
	if err != nil {
		t.Fatal(err)
	}
	q, err := c.Queue(context.Background(), "ann@lab")
	if err != nil {
		t.Fatal(err)
	}
	if q.Count != 25 || len(q.Jobs) != 25 || q.Next != "" {
		t.Fatalf("queue of 3 pages: count %d, %d jobs, next %q", q.Count, len(q.Jobs), q.Next)
	}
	if !slices.IsSortedFunc(q.Jobs, func(a, b apitype.QueueJob) int {
		js := []apitype.QueueJob{b, a}
		apitype.SortQueue(js)
		if js[0].ID == a.ID {
			return -1
		}
		return 1
	}) || q.Jobs[0].ID != 24 || q.Jobs[24].ID != 25 {
		t.Errorf("the pages' union is not in queue order: first %d, last %d", q.Jobs[0].ID, q.Jobs[24].ID)
	}
	want := []string{"/api/queue?user=ann%40lab", "/api/queue?cursor=10&user=ann%40lab", "/api/queue?cursor=20&user=ann%40lab"}
	if !slices.Equal(queries, want) {
		t.Errorf("requests %q, want %q", queries, want)
	}
	queries = nil
	list, err := c.AllJobs(context.Background(), JobsQuery{Limit: 10})
	if err != nil || list.Count != 25 || list.Jobs[24].ID != 25 {
		t.Fatalf("AllJobs = %+v, %v", list, err)
	}
	if len(queries) != 3 || queries[2] != "/api/jobs?cursor=20&limit=10&order=oldest" {
		t.Errorf("requests %q", queries)
	}
}

// TestQueueStopsOnARepeatedCursor: a server that answers the same next
// again does not keep a client paging forever.
func TestQueueStopsOnARepeatedCursor(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/queue", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"jobs":[],"count":0,"next":"same"}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Queue(context.Background(), ""); err == nil {
		t.Fatal("a server repeating its cursor kept the client paging")
	}
}

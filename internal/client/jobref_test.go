package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// The ref methods put the ref in the path escaped ("123_[1-3,7]" arrives
// as one segment that unescapes to itself) and use the verb's route.
func TestJobRefRoutes(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.EscapedPath()+" "+r.URL.Path+" "+r.URL.RawQuery)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/jobs/9_1" {
			w.WriteHeader(404)
			_ = json.NewEncoder(w).Encode(apitype.ErrorBody{Error: "job 9_1 not found", Code: "not_found"})
			return
		}
		if r.URL.Path == "/api/jobs" {
			_ = json.NewEncoder(w).Encode(apitype.JobList{Jobs: []apitype.Job{{ID: 5}}, Count: 1})
			return
		}
		task := 4
		arr := int64(123)
		_ = json.NewEncoder(w).Encode(apitype.Job{ID: 123, ArrayJobID: &arr, ArrayTaskID: &task})
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	j, err := c.JobRef(ctx, "123_4")
	if err != nil || j.SlurmID() != "123_4" {
		t.Fatalf("JobRef: %+v, %v", j, err)
	}
	for _, call := range []func() error{
		func() error { _, err := c.CancelRef(ctx, "123_[1-3,7]"); return err },
		func() error { _, err := c.HoldRef(ctx, "123"); return err },
		func() error { _, err := c.ReleaseRef(ctx, "123_4"); return err },
		func() error { _, err := c.SignalRef(ctx, "123_[2,4]", "USR1"); return err },
		func() error { _, err := c.UpdateJobRef(ctx, "123_5", apitype.JobUpdate{}); return err },
		func() error { _, err := c.RequeueRef(ctx, "123_[1-2]", true); return err },
	} {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.JobRef(ctx, "9_1"); !errors.Is(err, rcq.ErrNotFound) {
		t.Errorf("missing element: %v, want not found", err)
	}
	list, err := c.ArrayJobs(ctx, 123)
	if err != nil || len(list.Jobs) != 1 {
		t.Fatalf("ArrayJobs: %+v, %v", list, err)
	}
	want := []string{
		"GET /api/jobs/123_4 /api/jobs/123_4 ",
		"DELETE /api/jobs/123_%5B1-3%2C7%5D /api/jobs/123_[1-3,7] ",
		"POST /api/jobs/123/hold /api/jobs/123/hold ",
		"POST /api/jobs/123_4/release /api/jobs/123_4/release ",
		"POST /api/jobs/123_%5B2%2C4%5D/signal /api/jobs/123_[2,4]/signal ",
		"PATCH /api/jobs/123_5 /api/jobs/123_5 ",
		"POST /api/jobs/123_%5B1-2%5D/requeue /api/jobs/123_[1-2]/requeue hold=true",
		"GET /api/jobs/9_1 /api/jobs/9_1 ",
		"GET /api/jobs /api/jobs ids=123&limit=1000&order=oldest&status=all",
	}
	if !slices.Equal(got, want) {
		t.Errorf("requests:\n%q\nwant\n%q", got, want)
	}
}

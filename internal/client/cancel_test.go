package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

func TestCancelJobs(t *testing.T) {
	var got apitype.CancelRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.URL.Path != "/api/jobs/cancel" || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(404)
			_ = json.NewEncoder(w).Encode(apitype.ErrorBody{Error: "no such route", Code: "no_route"})
			return
		}
		got = apitype.CancelRequest{}
		_ = json.NewDecoder(r.Body).Decode(&got)
		if got.User == "bob@lab" {
			w.WriteHeader(403)
			_ = json.NewEncoder(w).Encode(apitype.ErrorBody{Error: "only admins may see other users' jobs", Code: "other_users_jobs"})
			return
		}
		_ = json.NewEncoder(w).Encode(apitype.CancelResponse{Count: 2, Cancelled: []int64{1, 2},
			Refused: []apitype.CancelRefusal{{JobID: 3, Error: "job 3 is already completed", Code: "job_finished"}}})
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := apitype.CancelRequest{IDs: []int64{1, 2, 3}, States: []string{"pending"}, Names: []string{"a"}, Me: true}
	out, err := c.CancelJobs(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, req) {
		t.Errorf("sent %+v, want %+v", got, req)
	}
	want := &apitype.CancelResponse{Count: 2, Cancelled: []int64{1, 2}, Refused: []apitype.CancelRefusal{{JobID: 3, Error: "job 3 is already completed", Code: "job_finished"}}}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("got %+v, want %+v", out, want)
	}
	_, err = c.CancelJobs(ctx, apitype.CancelRequest{User: "bob@lab"})
	if !errors.Is(err, rcq.ErrForbidden) || rcq.CodeOf(err) != "other_users_jobs" {
		t.Errorf("another user's jobs: %v", err)
	}
}

package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// TestServerErrorNamesRequestID: a 5xx error's message carries the request
// id rcqd logged its cause under; other errors are shown as rcqd wrote them.
func TestServerErrorNamesRequestID(t *testing.T) {
	t.Parallel()
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/jobs/1" {
			writeJSON(w, 500, apitype.ErrorBody{Error: "internal error", Code: "internal", RequestID: "abc123-000007"})
			return
		}
		writeJSON(w, 404, apitype.ErrorBody{Error: "job 2 not found", Code: "not_found", RequestID: "abc123-000008"})
	}))
	defer srv.Close()
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Job(context.Background(), 1)
	if rcq.KindOf(err) != rcq.KindInternal || rcq.MessageOf(err) != "internal error (request id abc123-000007)" {
		t.Errorf("500: %v (%q)", err, rcq.MessageOf(err))
	}
	_, err = c.Job(context.Background(), 2)
	if rcq.MessageOf(err) != "job 2 not found" || strings.Contains(err.Error(), "abc123") {
		t.Errorf("404: %v", err)
	}
}

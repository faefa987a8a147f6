package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

func TestAudit(t *testing.T) {
	t.Parallel()
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Method + " " + r.URL.RequestURI()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer admin" {
			w.WriteHeader(http.StatusForbidden)
			_ = json.NewEncoder(w).Encode(apitype.ErrorBody{Error: "this route is for admins only", Code: "admin_required"})
			return
		}
		_ = json.NewEncoder(w).Encode(apitype.AuditList{Events: []apitype.AuditEvent{{ID: 7, Action: "group.update",
			Before: json.RawMessage(`{"cpu_quota":10}`), Outcome: "ok"}}, Count: 1, Next: "YTc"})
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithToken("admin"))
	if err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 12, 1, 8, 0, 0, 0, time.FixedZone("CET", 3600))
	l, err := c.Audit(context.Background(), AuditQuery{Since: since, Actor: "ada@lab", Target: "worker:3", Action: "worker.", Limit: 5, Cursor: "YTk"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "GET /api/admin/audit?action=worker.&actor=ada%40lab&cursor=YTk&limit=5&since=2026-12-01T07%3A00%3A00Z&target=worker%3A3"; got != want {
		t.Errorf("sent %s\nwant %s", got, want)
	}
	if l.Count != 1 || l.Next != "YTc" || l.Events[0].ID != 7 || string(l.Events[0].Before) != `{"cpu_quota":10}` {
		t.Errorf("decoded %+v", l)
	}
	if _, err := c.Audit(context.Background(), AuditQuery{}); err != nil || got != "GET /api/admin/audit" {
		t.Errorf("empty query sent %s (%v)", got, err)
	}
	user, err := New(srv.URL, WithToken("ada"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = user.Audit(context.Background(), AuditQuery{})
	if !errors.Is(err, rcq.ErrForbidden) || rcq.CodeOf(err) != "admin_required" {
		t.Errorf("as a user: %v, want Forbidden admin_required", err)
	}
}

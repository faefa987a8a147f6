package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

func TestHistories(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var sent []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		sent = append(sent, r.URL.RequestURI())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Query().Get("step") == "1s":
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(apitype.ErrorBody{Error: "step: must be a duration of at least 1m, like 15m or 1h", Code: "invalid_step"})
		case r.URL.Path == "/api/cluster/history":
			_, _ = w.Write([]byte(`{"from":"2026-12-03T10:00:00Z","to":"2026-12-04T10:00:00Z","step_seconds":900,
				"points":[{"at":"2026-12-03T10:00:00Z","running":4,"pending":0},{"at":"2026-12-03T10:15:00Z","running":6,"pending":12}]}`))
		case r.URL.Path == "/api/share/history":
			_, _ = w.Write([]byte(`{"settings":{"window_seconds":2592000,"fair_share_min":0.5,"fair_share_max":2,"wait_boost_per_hour":0.01,"wait_boost_cap":1.5},
				"from":"2026-11-04T10:00:00Z","to":"2026-12-04T10:00:00Z","step_seconds":86400,"groups":[{"id":1,"name":"default","cpu_hours":[0,12.5]}]}`))
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c, err := New(srv.URL, WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.ClusterHistory(ctx, 0, 0)
	if err != nil || h.StepSeconds != 900 || len(h.Points) != 2 || h.Points[1] != (apitype.HistoryPoint{At: time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC), Running: 6, Pending: 12}) {
		t.Fatalf("ClusterHistory: %+v %v", h, err)
	}
	if _, err := c.ClusterHistory(ctx, 6, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	sh, err := c.ShareHistory(ctx, 0)
	if err != nil || sh.Settings.WindowSeconds != 2592000 || len(sh.Groups) != 1 || sh.Groups[0].CPUHours[1] != 12.5 {
		t.Fatalf("ShareHistory: %+v %v", sh, err)
	}
	_, err = c.ShareHistory(ctx, time.Second)
	if !errors.Is(err, rcq.ErrInvalid) || err.Error() != "share history: step: must be a duration of at least 1m, like 15m or 1h" {
		t.Errorf("ShareHistory with a 1s step: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"/api/cluster/history", "/api/cluster/history?hours=6&step=5m0s", "/api/share/history", "/api/share/history?step=1s"}
	for i, w := range want {
		if i >= len(sent) || sent[i] != w {
			t.Errorf("sent %q, want %q", sent, want)
			break
		}
	}
}

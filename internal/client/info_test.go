package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

func TestNodesAndShare(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = append(auth, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Header.Get("Authorization") != "Bearer tok":
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(apitype.ErrorBody{Error: "not logged in", Code: "unauthorized"})
		case r.URL.Path == "/api/workers":
			_ = json.NewEncoder(w).Encode(apitype.NodeList{Workers: []apitype.NodeInfo{{Name: "w1", Node: "n1", CPUCores: 8, State: "mixed", AllocCPUs: 2, RunningJobs: 1}}, Count: 1})
		case r.URL.Path == "/api/share":
			_, _ = w.Write([]byte(`{"groups":[{"id":1,"name":"default","cpu_quota":1000,"usage_cpu_hours":5,"fair_share":2,
				"users":[{"email":"ada@lab","usage_cpu_hours":5,"usage_share":1}]},{"id":2,"name":"physics","users":null}],"count":2}`))
		}
	}))
	t.Cleanup(srv.Close)
	ctx := context.Background()
	c, err := New(srv.URL, WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	ns, err := c.Nodes(ctx)
	if err != nil || ns.Count != 1 || ns.Workers[0] != (apitype.NodeInfo{Name: "w1", Node: "n1", CPUCores: 8, State: "mixed", AllocCPUs: 2, RunningJobs: 1}) {
		t.Fatalf("Nodes: %+v %v", ns, err)
	}
	sh, err := c.Share(ctx)
	if err != nil || sh.Count != 2 || len(sh.Groups[0].Users) != 1 || sh.Groups[0].Users[0].Email != "ada@lab" || sh.Groups[1].Users != nil {
		t.Fatalf("Share: %+v %v", sh, err)
	}
	mu.Lock()
	if auth[0] != "GET /api/workers Bearer tok" || auth[1] != "GET /api/share Bearer tok" {
		t.Errorf("sent %q", auth)
	}
	mu.Unlock()
	anon, _ := New(srv.URL)
	if _, err := anon.Share(ctx); !errors.Is(err, rcq.ErrUnauthorized) || err.Error() != "fair share: not logged in" {
		t.Errorf("Share without a token: %v", err)
	}
}

package client

import (
	"context"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
)

// rcqd refuses, on TCP, a request that changes state without
// Content-Type: application/json, also when it has no body (what a browser's
// cross-site form or no-cors fetch would send). Every client call that
// changes state must carry it; hold, release, logout, drain and resume have
// no body.
func TestStateChangingRequestsSayJSON(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[string]string{} // "METHOD /path" -> Content-Type
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		seen[r.Method+" "+r.URL.Path] = r.Header.Get("Content-Type")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithToken("tok"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	calls := map[string]func() error{
		"Register": func() error {
			_, err := c.Register(ctx, apitype.RegisterRequest{Email: "a@b.c", Password: "pw"})
			return err
		},
		"Login":  func() error { _, err := c.Login(ctx, apitype.LoginRequest{Email: "a@b.c", Password: "pw"}); return err },
		"Logout": func() error { _, err := c.Logout(ctx, false); return err },
		"Submit": func() error {
			_, err := c.Submit(ctx, apitype.SubmitRequest{Script: "#!/bin/sh\n"}, SubmitOptions{})
			return err
		},
		"SubmitBatch":  func() error { _, err := c.SubmitBatch(ctx, apitype.BatchSubmitRequest{}); return err },
		"Cancel":       func() error { _, err := c.Cancel(ctx, 1); return err },
		"CancelJobs":   func() error { _, err := c.CancelJobs(ctx, apitype.CancelRequest{Me: true}); return err },
		"Hold":         func() error { _, err := c.Hold(ctx, 1); return err },
		"Release":      func() error { _, err := c.Release(ctx, 1); return err },
		"Signal":       func() error { _, err := c.Signal(ctx, 1, "USR1"); return err },
		"CreateGroup":  func() error { _, err := c.CreateGroup(ctx, apitype.GroupRequest{Name: "g"}); return err },
		"UpdateGroup":  func() error { _, err := c.UpdateGroup(ctx, 2, apitype.GroupRequest{}); return err },
		"UpdateUser":   func() error { _, err := c.UpdateUser(ctx, 2, apitype.UserUpdate{}); return err },
		"CreateWorker": func() error { _, err := c.CreateWorker(ctx, apitype.WorkerRequest{Name: "w"}); return err },
		"UpdateWorker": func() error { _, err := c.UpdateWorker(ctx, 3, apitype.WorkerRequest{}); return err },
		"DrainWorker":  func() error { _, err := c.DrainWorker(ctx, 3); return err },
		"ResumeWorker": func() error { _, err := c.ResumeWorker(ctx, 3); return err },
	}
	for name, call := range calls {
		if err := call(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	changing := 0
	for route, ct := range seen {
		if strings.HasPrefix(route, "GET ") {
			continue
		}
		changing++
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			t.Errorf("%s sent Content-Type %q, want application/json", route, ct)
		}
	}
	if changing != len(calls) {
		t.Errorf("saw %d state-changing requests for %d calls: %v", changing, len(calls), seen)
	}
}

package queue

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/client"
)

// rcq-queue -i --me against an rcqd with events: a redraw with no event
// since the last read reuses it (moving a running job's TIME on); an event
// brings a fresh read.
func TestIterateFollowsEvents(t *testing.T) {
	send := make(chan string)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/events" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		fmt.Fprint(w, ": subscribed\n\n")
		w.(http.Flusher).Flush()
		for {
			select {
			case msg := <-send:
				fmt.Fprint(w, msg)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	it := newIteration(ctx, &Options{Iterate: 1, Me: true}, &cli.Session{Client: c})
	defer it.close()
	if it.es == nil {
		t.Fatal("no event stream")
	}
	reads := 0
	now := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	fetch := func() (*Output, error) {
		reads++
		return &Output{Now: now, Jobs: []Row{{ID: 1, StateCode: "R", ElapsedSeconds: 10}, {ID: 2, StateCode: "PD"}}, Count: 2}, nil
	}
	if _, err := it.read(ctx, fetch); err != nil || reads != 1 {
		t.Fatalf("first read: %d reads, %v", reads, err)
	}
	it.readAt = it.readAt.Add(-5 * time.Second) // as if drawn 5 s ago
	out, err := it.read(ctx, fetch)
	if err != nil || reads != 1 {
		t.Fatalf("no event: %d reads, %v; want the last read reused", reads, err)
	}
	if out.Jobs[0].ElapsedSeconds < 15 || out.Jobs[1].ElapsedSeconds != 0 {
		t.Errorf("reused rows %+v: the running job's TIME must move on by 5 s, the pending one's not", out.Jobs)
	}
	redrawGap = 0
	defer func() { redrawGap = time.Second }()
	go func() { send <- "id: 3\nevent: job\ndata: {\"id\":1,\"state\":\"completed\"}\n\n" }()
	if err := it.wait(ctx, time.Hour); err != nil { // returns on the event, not after the hour
		t.Fatal(err)
	}
	if _, err := it.read(ctx, fetch); err != nil || reads != 2 {
		t.Errorf("after an event: %d reads, %v; want a fresh one", reads, err)
	}
}

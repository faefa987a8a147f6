package faults

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
)

// A reader that stops reading GET /api/events while many events are
// produced is dropped by a real rcqd (its connection closes) after a
// bounded buffer, rcqd's goroutines and heap come back to where they were,
// and the reader resumes with Last-Event-ID: every event after that id
// arrives, in order, none twice. A bogus Last-Event-ID is a 400 naming
// the header.
func TestFaultSlowEventReader(t *testing.T) {
	d := newDaemon(t, daemonOptions{env: []string{"RCQ_JOBS_MAX_PENDING_PER_USER=100000"}})
	d.start()
	admin := d.admin()
	alice := d.jobUser("alice@example.org")
	ctx := ctxT(t, 5*time.Minute)

	for _, v := range []string{"abc", "-1", "1.5", "99999999999", "0x10"} {
		status, body := rawRequest(t, d.sock, alice.Token(), "GET", "/api/events", nil, map[string]string{"Last-Event-ID": v})
		if status != http.StatusBadRequest || !strings.Contains(body, `"invalid_Last-Event-ID"`) || !strings.Contains(body, "Last-Event-ID") {
			t.Errorf("Last-Event-ID %q: %d %s, want a 400 naming the header", v, status, body)
		}
	}

	// Held jobs start nothing, and cancelled at once they leave nothing
	// behind in rcqd (no pending job in its plans): two events per job,
	// and rcqd's memory does not grow with their number.
	n := 20_000 // events
	if !long() {
		n = 10_000
	}
	dir := t.TempDir()
	produce := func(events int) []int64 {
		var ids []int64
		for len(ids) < events/2 {
			batch := apitype.BatchSubmitRequest{}
			for range min(1000, events/2-len(ids)) {
				req := jobSpec(dir, "true")
				req.Hold = true
				batch.Jobs = append(batch.Jobs, req)
			}
			r, err := alice.SubmitBatch(ctx, batch)
			if err != nil {
				t.Fatalf("batch submit: %v", err)
			}
			if _, err := alice.CancelJobs(ctx, apitype.CancelRequest{IDs: r.JobIDs}); err != nil {
				t.Fatalf("cancel: %v", err)
			}
			ids = append(ids, r.JobIDs...)
		}
		return ids
	}
	// A warm-up round, so the baseline includes the caches and pools a
	// batch submit fills, then the baseline.
	produce(2000)
	baseG := goroutines(t, admin, d.sock)
	baseHeap := heapInuse(t, admin, d.sock)

	hc := unixHTTP(d.sock, 0)
	defer hc.CloseIdleConnections()
	open := func(lastID string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://rcqd/api/events", nil)
		req.Header.Set("Authorization", "Bearer "+alice.Token())
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET /api/events: %v", err)
		}
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("GET /api/events: %s %s", resp.Status, b)
		}
		return resp
	}
	// The answer's head arrives once the stream is registered: every
	// event from here on is due to it. Then it reads nothing.
	stalled := open("")
	defer stalled.Body.Close()
	ids := produce(n)
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}

	// Now it reads: what the server wrote before dropping it, then the
	// end of the connection, long before the n events could all have come.
	type got struct {
		eventID int64
		job     int64
		state   string
	}
	var seen []got
	readAll := func(body io.Reader, stopAt int) error {
		er := client.NewEventReader(body)
		for len(seen) < stopAt {
			ev, err := er.Next()
			if err != nil {
				return err
			}
			if ev.Job == nil || !want[ev.Job.ID] {
				continue
			}
			eid, err := strconv.ParseInt(ev.ID, 10, 64)
			if err != nil {
				return fmt.Errorf("job event without a numeric id: %q", ev.ID)
			}
			seen = append(seen, got{eid, ev.Job.ID, ev.Job.State})
		}
		return nil
	}
	began := time.Now()
	err := readAll(stalled.Body, n)
	if err == nil {
		t.Fatalf("the stalled stream delivered all %d events: it was never dropped (make n larger than its buffers)", n)
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("the stalled stream ended with %v, want the server closing it", err)
	}
	t.Logf("the stalled stream was closed after %d of %d events (%v after the last change)", len(seen), n, time.Since(began))
	if len(seen) == 0 {
		t.Fatal("the stalled stream delivered nothing: its resume point is unknown")
	}

	// rcqd holds nothing for it any more.
	waitGoroutines(t, admin, d.sock, baseG)
	// Bound: a quarter of what the events take as frames (~300 bytes
	// each): a server that kept them for the stalled reader would hold
	// them all.
	frames := int64(n) * 300
	if grew := heapInuse(t, admin, d.sock) - baseHeap; grew > frames/4 {
		t.Errorf("rcqd's heap grew by %d bytes across the stalled stream, more than a quarter of its %d events' frames (%d bytes)", grew, n, frames)
	} else {
		t.Logf("rcqd's heap grew by %d bytes (%d events' frames: about %d bytes)", grew, n, frames)
	}

	// Resume after the last event received, as a client does, until every
	// event has come: the rest, in order, none twice, none missing. The
	// hub may still be fanning out the burst when a resumed stream goes
	// live, and a reader slower than the hub (this test under -race on a
	// loaded machine) is dropped again; it resumes again, a bounded number
	// of times.
	before := len(seen)
	for resumes := 1; len(seen) < n; resumes++ {
		if resumes > n/1024+4 {
			t.Fatalf("%d resumes and still %d of %d events", resumes-1, len(seen), n)
		}
		last := seen[len(seen)-1].eventID
		resumed := open(strconv.FormatInt(last, 10))
		err := readAll(resumed.Body, n)
		resumed.Body.Close()
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("the resumed stream ended after %d of %d events: %v", len(seen), n, err)
		}
		if err != nil {
			t.Logf("resume %d was dropped after %d of %d events", resumes, len(seen), n)
		}
	}
	states := map[int64]string{} // each job's events so far: "" -> pending -> cancelled
	for i, g := range seen {
		if i > 0 && g.eventID <= seen[i-1].eventID {
			t.Fatalf("event %d came after event %d", g.eventID, seen[i-1].eventID)
		}
		switch prev := states[g.job]; {
		case prev == "" && g.state == "pending", prev == "pending" && g.state == "cancelled":
			states[g.job] = g.state
		default:
			t.Fatalf("job %d: event %d says %s after %q: an event came twice, or one was lost", g.job, g.eventID, g.state, prev)
		}
	}
	for _, id := range ids {
		if states[id] != "cancelled" {
			t.Fatalf("job %d: its events ended at %q: one was lost", id, states[id])
		}
	}
	t.Logf("%d events before the drop, %d after the resume", before, len(seen)-before)
}

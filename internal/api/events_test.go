package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// sseMsg is one Server-Sent Events message.
type sseMsg struct {
	id, event, data string
}

// sseStream reads a GET /api/events response.
type sseStream struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
	last string
}

// newEventsEnv is newEnv serving events, woken as rcqd wakes its hub: by
// the store's LISTEN/NOTIFY events.
func newEventsEnv(t *testing.T) *env {
	e := newEnv(t, func(_ *api.Config, d *api.Deps) { d.EventLog = d.Store.(api.EventLog) })
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.st.Listen(ctx, func(rcq.Event) { e.api.PokeEvents() }, func() {
			select {
			case <-ready:
			default:
				close(ready)
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-ready
	return e
}

// stream opens GET /api/events as token's owner; it returns once the
// stream is registered (the server's first comment arrived).
func (e *env) stream(token, query, lastID string) *sseStream {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a safety net only
	e.t.Cleanup(cancel)
	hr, err := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/events"+query, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	hr.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		hr.Header.Set("Last-Event-ID", lastID)
	}
	r, err := e.srv.Client().Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { r.Body.Close() })
	if r.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /api/events: %s", r.Status)
	}
	if ct := r.Header.Get("Content-Type"); ct != "text/event-stream" {
		e.t.Fatalf("Content-Type %q", ct)
	}
	s := &sseStream{t: e.t, resp: r, r: bufio.NewReader(r.Body)}
	for {
		line := s.line()
		if line == ": subscribed" {
			return s
		}
	}
}

func (s *sseStream) line() string {
	s.t.Helper()
	l, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Fatalf("event stream ended: %v", err)
	}
	return strings.TrimSuffix(l, "\n")
}

// next returns the next message, skipping comments and position messages
// unless positions.
func (s *sseStream) next(positions bool) sseMsg {
	s.t.Helper()
	for {
		var m sseMsg
		for {
			l := s.line()
			if l == "" {
				break
			}
			k, v, _ := strings.Cut(l, ": ")
			switch k {
			case "id":
				m.id = v
			case "event":
				m.event = v
			case "data":
				m.data = v
			}
		}
		if m.event == "" || m.event == apitype.EventPosition && !positions {
			continue
		}
		if m.id != "" {
			s.last = m.id
		}
		return m
	}
}

// job returns the next job message (skipping worker ones).
func (s *sseStream) job() apitype.JobEvent {
	s.t.Helper()
	for {
		m := s.next(false)
		if m.event != apitype.EventJob {
			continue
		}
		var je apitype.JobEvent
		if err := json.Unmarshal([]byte(m.data), &je); err != nil {
			s.t.Fatalf("job event %q: %v", m.data, err)
		}
		return je
	}
}

func (s *sseStream) wantJob(id int64, state rcq.JobState) apitype.JobEvent {
	s.t.Helper()
	je := s.job()
	if je.ID != id || je.State != string(state) {
		s.t.Fatalf("got job event %d %s, want %d %s", je.ID, je.State, id, state)
	}
	return je
}

func TestEventsJobStatesAndVisibility(t *testing.T) {
	t.Parallel()
	e := newEventsEnv(t)
	alice := e.stream(e.aliceT, "", "")
	bob := e.stream(e.bobT, "", "")
	admin := e.stream(e.adminT, "", "")

	id := e.submit(e.aliceT, nil)
	e.start(id)
	e.finish(id, rcq.JobFailed, 3)
	for name, s := range map[string]*sseStream{"alice": alice, "admin": admin} {
		s.wantJob(id, rcq.JobPending)
		run := s.wantJob(id, rcq.JobRunning)
		if run.StartedAt == nil || run.UserID != int64(e.alice) {
			t.Errorf("%s: running event %+v lacks its start time or owner", name, run)
		}
		end := s.wantJob(id, rcq.JobFailed)
		if end.ExitCode == nil || *end.ExitCode != 3 || end.CompletedAt == nil {
			t.Errorf("%s: end event %+v lacks its exit code or end time", name, end)
		}
	}
	// Events arrive in id order: bob's first job event is his own job's,
	// so he saw none of alice's.
	mine := e.submit(e.bobT, nil)
	bob.wantJob(mine, rcq.JobPending)
	admin.wantJob(mine, rcq.JobPending)

	// A worker's change reaches everyone.
	drained := rcq.WorkerState("drained")
	if _, err := e.st.UpdateWorker(context.Background(), e.worker, rcq.WorkerPatch{State: &drained}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*sseStream{alice, bob} {
		m := s.next(false)
		for m.event == apitype.EventJob {
			m = s.next(false)
		}
		var we apitype.WorkerEvent
		if err := json.Unmarshal([]byte(m.data), &we); err != nil || m.event != apitype.EventWorker || we.Name != "w1" || we.State != "drained" {
			t.Errorf("got %+v, want w1 drained", m)
		}
	}
}

func TestEventsJobsFilter(t *testing.T) {
	t.Parallel()
	e := newEventsEnv(t)
	a := e.submit(e.aliceT, nil)
	b := e.submit(e.aliceT, nil)
	s := e.stream(e.aliceT, fmt.Sprintf("?jobs=%d", b), "")
	e.start(a)
	e.start(b)
	s.wantJob(b, rcq.JobRunning) // not a's

	for _, q := range []string{"?jobs=x", "?jobs=0", "?jobs=1,,2"} {
		r := e.do(req{method: "GET", path: "/api/events" + q, token: e.aliceT})
		want(t, r, http.StatusBadRequest, "invalid_jobs")
		if !strings.Contains(r.errBody(t).Error, "jobs") {
			t.Errorf("%s: %s does not name the parameter", q, r)
		}
	}
}

func TestEventsResume(t *testing.T) {
	t.Parallel()
	e := newEventsEnv(t)
	s := e.stream(e.aliceT, "", "")
	a := e.submit(e.aliceT, nil)
	s.wantJob(a, rcq.JobPending)
	last := s.last
	s.resp.Body.Close()

	// Changes while disconnected come first on resume, in order, then the
	// live ones.
	b := e.submit(e.aliceT, nil)
	e.start(a)
	r := e.stream(e.aliceT, "", last)
	r.wantJob(b, rcq.JobPending)
	r.wantJob(a, rcq.JobRunning)
	e.finish(a, rcq.JobCompleted, 0)
	r.wantJob(a, rcq.JobCompleted)

	// Resuming from the latest id sends nothing old.
	r2 := e.stream(e.aliceT, "", r.last)
	c := e.submit(e.aliceT, nil)
	r2.wantJob(c, rcq.JobPending)
}

func TestEventsBadLastEventID(t *testing.T) {
	t.Parallel()
	e := newEventsEnv(t)
	e.submit(e.aliceT, nil)
	for _, v := range []string{"abc", "-1", "1.5", "99999999999"} {
		r := e.do(req{method: "GET", path: "/api/events", token: e.aliceT, header: map[string]string{"Last-Event-ID": v}})
		want(t, r, http.StatusBadRequest, "invalid_Last-Event-ID")
		if !strings.Contains(r.errBody(t).Error, "Last-Event-ID") {
			t.Errorf("%s: %s does not name the header", v, r)
		}
	}
}

func TestEventsResetAfterPrunedHistory(t *testing.T) {
	t.Parallel()
	e := newEventsEnv(t)
	s := e.stream(e.aliceT, "", "")
	a := e.submit(e.aliceT, nil)
	s.wantJob(a, rcq.JobPending)
	first := s.last
	e.start(a)
	s.wantJob(a, rcq.JobRunning)
	if err := e.st.PruneEvents(context.Background(), -time.Hour); err != nil { // everything is older than an hour from now
		t.Fatal(err)
	}
	r := e.stream(e.aliceT, "", first)
	m := r.next(false)
	if m.event != apitype.EventReset {
		t.Fatalf("got %+v, want a reset", m)
	}
	id, err := strconv.ParseInt(m.id, 10, 64)
	if want, _ := strconv.ParseInt(s.last, 10, 64); err != nil || id < want {
		t.Errorf("reset id %q, want at least %d so a later resume starts after it", m.id, want)
	}
	e.finish(a, rcq.JobCompleted, 0)
	r.wantJob(a, rcq.JobCompleted)
	// Resuming from the latest id needs no reset.
	r2 := e.stream(e.aliceT, "", s.last)
	r2.wantJob(a, rcq.JobCompleted)
}

func TestEventsUnauthenticated(t *testing.T) {
	t.Parallel()
	e := newEventsEnv(t)
	r := e.do(req{method: "GET", path: "/api/events"})
	want(t, r, http.StatusUnauthorized, "")
}

func TestEventsWithoutLogIs404(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.do(req{method: "GET", path: "/api/events", token: e.aliceT})
	want(t, r, http.StatusNotFound, "no_route")
}

// Positions of the caller's pending jobs arrive when they change, and only
// to their owner.
func TestEventsPositions(t *testing.T) { // not parallel: it changes the hub's pacing
	restore := api.SetEventTunables(1024, 0)
	defer restore()
	e := newEventsEnv(t)
	alice := e.stream(e.aliceT, "", "")
	bob := e.stream(e.bobT, "", "")
	a := e.submit(e.aliceT, nil)
	b := e.submit(e.aliceT, nil)
	pos := map[int64]int{}
	for pos[a] != 1 || pos[b] != 2 {
		alice.positions(pos)
	}
	if _, err := e.st.CancelJob(context.Background(), rcq.JobID(a), 0); err != nil {
		t.Fatal(err)
	}
	for pos[b] != 1 {
		alice.positions(pos)
	}
	c := e.submit(e.bobT, nil)
	got := map[int64]int{}
	bob.positions(got)
	for id := range got {
		if id != c {
			t.Errorf("bob got the position of job %d", id)
		}
	}
}

// A scheduling cycle's plan (the leader's OnCycle) reaches the streams at
// once, without the periodic pass: only the positions it changed, and only
// to the owners of the jobs.
func TestEventsPositionsFromCycle(t *testing.T) { // not parallel: it changes the hub's pacing
	restore := api.SetEventTunables(1024, time.Hour) // one periodic pass, then none for an hour
	defer restore()
	e := newEventsEnv(t)
	a := e.submit(e.aliceT, nil)
	b := e.submit(e.aliceT, nil)
	c := e.submit(e.bobT, nil)
	alice := e.stream(e.aliceT, "", "")
	pos := map[int64]int{}
	for pos[a] != 1 || pos[b] != 2 {
		alice.positions(pos) // the first, periodic pass
	}
	bob := e.stream(e.bobT, "", "")
	plan := &rcq.Plan{Jobs: []rcq.PlannedJob{
		{JobID: rcq.JobID(b), Rank: 1}, {JobID: rcq.JobID(c), Rank: 2}, {JobID: rcq.JobID(a), Rank: 3}}}
	e.api.PlanChanged(plan)
	got := map[int64]int{}
	alice.positions(got)
	if len(got) != 2 || got[a] != 3 || got[b] != 1 {
		t.Errorf("alice got positions %v from the cycle, want job %d at 1 and job %d at 3", got, b, a)
	}
	got = map[int64]int{}
	bob.positions(got)
	if len(got) != 1 || got[c] != 2 {
		t.Errorf("bob got positions %v, want only his job %d at 2", got, c)
	}
	// Only what changed: a plan moving one of alice's jobs sends that one.
	plan = &rcq.Plan{Jobs: []rcq.PlannedJob{
		{JobID: rcq.JobID(b), Rank: 1}, {JobID: rcq.JobID(a), Rank: 2}, {JobID: rcq.JobID(c), Rank: 3}}}
	e.api.PlanChanged(plan)
	got = map[int64]int{}
	alice.positions(got)
	if len(got) != 1 || got[a] != 2 {
		t.Errorf("alice got positions %v, want only job %d, now at 2", got, a)
	}
}

// positions reads messages up to the next position message and records it in pos.
func (s *sseStream) positions(pos map[int64]int) {
	s.t.Helper()
	for {
		m := s.next(true)
		if m.event != apitype.EventPosition {
			continue
		}
		var pe apitype.PositionEvent
		if err := json.Unmarshal([]byte(m.data), &pe); err != nil {
			s.t.Fatal(err)
		}
		for _, p := range pe.Jobs {
			pos[p.ID] = p.Position
		}
		return
	}
}

// A reader that stalls is dropped once its buffer is full, and resumes with
// Last-Event-ID without losing an event. Served on a Unix socket, whose
// small buffers make the stall reach rcqd.
func TestEventsSlowReaderResumes(t *testing.T) { // not parallel: it hooks the hub
	dropped := make(chan struct{}, 1)
	restore := api.OnEventStreamDropped(func() {
		select {
		case dropped <- struct{}{}:
		default:
		}
	})
	defer restore()
	e := newEventsEnv(t)
	sock := filepath.Join(t.TempDir(), "rcqd.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(e.api)
	srv.Listener = ln
	srv.Start()
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	open := func(lastID string) (*http.Response, *bufio.Reader) {
		hr, _ := http.NewRequest("GET", "http://localhost/api/events", nil) // a TCP request to rcqd as far as the router knows (no ConnInfo): Host must be local
		hr.Header.Set("Authorization", "Bearer "+e.aliceT)
		if lastID != "" {
			hr.Header.Set("Last-Event-ID", lastID)
		}
		r, err := hc.Do(hr)
		if err != nil || r.StatusCode != 200 {
			t.Fatalf("open: %v %v", r, err)
		}
		return r, bufio.NewReader(r.Body)
	}
	r1, br1 := open("")
	defer r1.Body.Close()
	const n = 10_000
	js := make([]*rcq.Job, n)
	for i := range js {
		js[i] = &rcq.Job{UserID: e.alice, GroupID: 1, Script: "#!/bin/sh\n", EstimatedHours: 1, Priority: 1,
			Resources: rcq.Resources{CPUCores: 1, MemoryGB: 1}}
	}
	ids, err := e.st.CreateJobs(context.Background(), js)
	if err != nil {
		t.Fatal(err)
	}
	<-dropped // nothing read: the stream fell behind and was dropped

	seen := map[int64]bool{}
	read := func(br *bufio.Reader, until int) (last string, eof bool) {
		var id string
		for len(seen) < until {
			l, err := br.ReadString('\n')
			if err != nil {
				return last, true
			}
			switch {
			case strings.HasPrefix(l, "id: "):
				id = strings.TrimSpace(l[4:])
			case strings.HasPrefix(l, "data: "):
				var je apitype.JobEvent
				if json.Unmarshal([]byte(l[6:]), &je) == nil && je.ID != 0 {
					if seen[je.ID] {
						t.Fatalf("job %d's event twice", je.ID)
					}
					seen[je.ID] = true
					last = id
				}
			}
		}
		return last, false
	}
	last, eof := read(br1, n)
	if !eof || len(seen) == n {
		t.Fatalf("the dropped stream delivered %d of %d events and eof=%v: it was not cut short", len(seen), n, eof)
	}
	r2, br2 := open(last)
	defer r2.Body.Close()
	if _, eof := read(br2, n); eof {
		t.Fatalf("the resumed stream ended after %d of %d events", len(seen), n)
	}
	for _, id := range ids {
		if !seen[int64(id)] {
			t.Fatalf("job %d's event was lost", id)
		}
	}
}

// An idle stream carries heartbeat comments.
func TestEventsHeartbeat(t *testing.T) { // not parallel: it changes the period
	restore := api.SetEventHeartbeat(10 * time.Millisecond)
	defer restore()
	e := newEventsEnv(t)
	s := e.stream(e.aliceT, "", "")
	for s.line() != ": heartbeat" {
	}
}

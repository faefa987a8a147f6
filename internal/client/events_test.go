package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
)

// sseServer serves scripted event streams: the n-th connection gets
// conns[n] (then the stream ends), and records its Last-Event-ID.
type sseServer struct {
	mu      sync.Mutex
	conns   []string
	lastIDs []string
	hold    chan struct{} // the last connection stays open until closed
	job     func() apitype.Job
	gets    int
}

func (s *sseServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/events", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.lastIDs)
		s.lastIDs = append(s.lastIDs, r.Header.Get("Last-Event-ID"))
		if r.URL.Query().Get("jobs") != "" && r.URL.Query().Get("jobs") != "42" {
			s.mu.Unlock()
			http.Error(w, "bad jobs", 400)
			return
		}
		if n >= len(s.conns) {
			s.mu.Unlock()
			<-r.Context().Done()
			return
		}
		body := s.conns[n]
		s.mu.Unlock()
		if body == "400" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			_ = json.NewEncoder(w).Encode(apitype.ErrorBody{Error: "Last-Event-ID: unknown", Code: "invalid_Last-Event-ID"})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		fmt.Fprint(w, "retry: 1000\n: subscribed\n\n")
		w.(http.Flusher).Flush()
		fmt.Fprint(w, body)
		w.(http.Flusher).Flush()
		if n == len(s.conns)-1 && s.hold != nil {
			select {
			case <-s.hold:
			case <-r.Context().Done():
			}
		}
	})
	mux.HandleFunc("GET /api/jobs/42", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.gets++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.job())
	})
	return mux
}

func TestEventStreamParsesAndResumes(t *testing.T) {
	s := &sseServer{hold: make(chan struct{}), conns: []string{
		"id: 5\nevent: job\ndata: {\"id\":42,\"state\":\"running\",\"exit_code\":null}\n\n" +
			": heartbeat\n\n" +
			"event: position\ndata: {\"jobs\":[{\"id\":43,\"position\":2}]}\n\n" +
			"id: 6\nevent: future_kind\ndata: {}\n\n", // unknown to this client: skipped, but its id counts
		"400", // the resume is refused: the client starts afresh
		"id: 9\nevent: worker\ndata: {\"id\":1,\"name\":\"w1\",\"state\":\"drained\"}\n\n",
	}}
	srv := httptest.NewServer(s.handler())
	defer srv.Close()
	defer close(s.hold)
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	es, err := c.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	var got []string
	for len(got) < 5 {
		ev := <-es.C
		switch ev.Type {
		case apitype.EventJob:
			got = append(got, fmt.Sprintf("job %d %s", ev.Job.ID, ev.Job.State))
		case apitype.EventPosition:
			got = append(got, fmt.Sprintf("position %d=%d", ev.Positions[0].ID, ev.Positions[0].Position))
		case apitype.EventWorker:
			got = append(got, "worker "+ev.Worker.Name+" "+ev.Worker.State)
		default:
			got = append(got, ev.Type)
		}
	}
	want := []string{"job 42 running", "position 43=2", "reset", "reconnect", "worker w1 drained"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fmt.Sprint(s.lastIDs) != fmt.Sprint([]string{"", "6", ""}) {
		t.Errorf("Last-Event-ID sent: %q, want none, 6, then none after the refusal", s.lastIDs)
	}
}

func TestEventsAgainstOlderRcqd(t *testing.T) {
	mux := http.NewServeMux()
	var gets int
	mux.HandleFunc("GET /api/jobs/42", func(w http.ResponseWriter, r *http.Request) {
		gets++
		state := "running"
		if gets == 3 {
			state = "completed"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(apitype.Job{ID: 42, Status: state})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(404)
		_ = json.NewEncoder(w).Encode(apitype.ErrorBody{Error: "no such route: GET /api/events", Code: "no_route"})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, _ := New(srv.URL)
	if _, err := c.Events(context.Background()); !errors.Is(err, ErrNoEvents) {
		t.Fatalf("got %v, want ErrNoEvents", err)
	}
	j, err := c.WaitJob(context.Background(), 42, Poll{First: time.Millisecond, Most: time.Millisecond},
		func(j *apitype.Job) bool { return j.Status == "completed" })
	if err != nil || j.Status != "completed" || gets != 3 {
		t.Errorf("polled %d times: %+v %v", gets, j, err)
	}
}

func TestWaitJobFollowsEvents(t *testing.T) {
	var state = "running"
	s := &sseServer{hold: make(chan struct{})}
	s.job = func() apitype.Job {
		s.mu.Lock()
		defer s.mu.Unlock()
		return apitype.Job{ID: 42, Status: state}
	}
	// The job ends after the client's first read: the event tells it.
	s.conns = []string{"id: 7\nevent: job\ndata: {\"id\":42,\"state\":\"completed\"}\n\n"}
	gate := make(chan struct{})
	inner := s.handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/events" {
			// Hold the stream's body until the first GET was answered.
			hw := &gatedWriter{ResponseWriter: w, gate: gate}
			inner.ServeHTTP(hw, r)
			return
		}
		inner.ServeHTTP(w, r)
		s.mu.Lock()
		if s.gets == 1 {
			state = "completed"
			s.mu.Unlock()
			close(gate)
			return
		}
		s.mu.Unlock()
	}))
	defer srv.Close()
	defer close(s.hold)
	c, _ := New(srv.URL)
	j, err := c.WaitJob(context.Background(), 42, Poll{First: time.Hour}, func(j *apitype.Job) bool { return j.Status == "completed" })
	if err != nil || j.Status != "completed" {
		t.Fatalf("%+v %v", j, err)
	}
	if s.gets != 2 {
		t.Errorf("%d reads of the job, want 2 (before and after its event)", s.gets)
	}
}

// gatedWriter passes the headers and the subscription comment, then holds
// the rest until gate closes.
type gatedWriter struct {
	http.ResponseWriter
	gate   chan struct{}
	writes int
}

func (g *gatedWriter) Write(b []byte) (int, error) {
	if g.writes++; g.writes > 1 {
		<-g.gate
	}
	return g.ResponseWriter.Write(b)
}

func (g *gatedWriter) Flush() { g.ResponseWriter.(http.Flusher).Flush() }

// WaitJob reads the job only after events that may end its wait: a job
// starting does not cost a request when the caller waits for its end.
func TestWaitJobReadsOnlyWhenUntilMayHold(t *testing.T) {
	ended := func(j *apitype.Job) bool { return j.Status == "completed" || j.Status == "failed" }
	started := func(j *apitype.Job) bool { return j.StartedAt != nil }
	now := time.Now()
	job := func(id int64, state string, st *time.Time) Event {
		return Event{Type: apitype.EventJob, Job: &apitype.JobEvent{ID: id, State: state, StartedAt: st}}
	}
	for _, c := range []struct {
		until func(*apitype.Job) bool
		ev    Event
		want  bool
	}{
		{ended, job(42, "running", &now), false},
		{ended, job(42, "pending", nil), false},
		{ended, job(42, "completed", &now), true},
		{ended, job(42, "failed", &now), true},
		{started, job(42, "running", &now), true},
		{started, job(42, "pending", nil), false},
		{ended, job(43, "running", &now), true}, // an element of array 42: the array is read
	} {
		if got := waitRelevant(42, c.until)(c.ev); got != c.want {
			t.Errorf("job %d %s: read %v, want %v", c.ev.Job.ID, c.ev.Job.State, got, c.want)
		}
	}
}

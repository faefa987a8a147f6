package client

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// ErrNoEvents means rcqd serves no GET /api/events (an older rcqd): the
// caller polls instead.
var ErrNoEvents = errors.New("rcqd serves no event stream")

// EventReconnect is the Type of the Event an EventStream sends after it
// reconnected: nothing was lost (it resumed with Last-Event-ID), but a
// caller that keeps derived state may re-read it.
const EventReconnect = "reconnect"

// Event is one message of GET /api/events. Exactly one of Job, Worker,
// Positions and Reset is set, as Type says (apitype.EventJob, ...), or none
// for EventReconnect.
type Event struct {
	ID        string
	Type      string
	Job       *apitype.JobEvent
	Worker    *apitype.WorkerEvent
	Positions []apitype.JobPosition
	Reset     *apitype.ResetEvent
	// Comment is a comment line's text ("heartbeat"), from an EventReader
	// only: an EventStream sends no comments.
	Comment string
}

// EventStream is a subscription to GET /api/events that reconnects on its
// own, resuming with Last-Event-ID, until Close or its context ends.
type EventStream struct {
	// C delivers the events; it is closed when the stream ends (Err says why).
	C <-chan Event

	c      *Client
	path   string
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	lastID string
	err    error
}

// Events subscribes to rcqd's event stream; jobs, when not empty, narrows
// it to those jobs (an array's id stands for its elements) and leaves
// worker events out. It returns once rcqd has registered the stream, so
// any change after the call arrives on C. Against an rcqd without events it
// returns ErrNoEvents.
func (c *Client) Events(ctx context.Context, jobs ...int64) (*EventStream, error) {
	path := "/api/events"
	if len(jobs) > 0 {
		parts := make([]string, len(jobs))
		for i, id := range jobs {
			parts[i] = strconv.FormatInt(id, 10)
		}
		path += "?jobs=" + strings.Join(parts, ",")
	}
	ctx, cancel := context.WithCancel(ctx)
	resp, err := c.openEvents(ctx, path, "")
	if err != nil {
		cancel()
		return nil, err
	}
	ch := make(chan Event, 64)
	s := &EventStream{C: ch, c: c, path: path, cancel: cancel, done: make(chan struct{})}
	go s.run(ctx, resp, ch)
	return s, nil
}

func (c *Client) openEvents(ctx context.Context, path, lastID string) (*http.Response, error) {
	r := request{method: http.MethodGet, path: path, headers: map[string]string{"Accept": "text/event-stream"}}
	if lastID != "" {
		r.headers["Last-Event-ID"] = lastID
	}
	resp, err := c.send(ctx, r)
	if err != nil {
		var e *rcq.Error
		if errors.As(err, &e) && e.Kind == rcq.KindNotFound { // no_route from an older rcqd (or a proxy's plain 404)
			return nil, ErrNoEvents
		}
		return nil, err
	}
	return resp, nil
}

// Close ends the subscription.
func (s *EventStream) Close() {
	s.cancel()
	<-s.done
}

// Err says why C was closed: nil after Close or the context's end.
func (s *EventStream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// reconnectTries bounds the attempts to reopen a broken stream (about 30 s
// of backoff) before the stream ends with the last error.
const reconnectTries = 20

func (s *EventStream) run(ctx context.Context, resp *http.Response, ch chan<- Event) {
	defer close(s.done)
	defer close(ch)
	backoff := 50 * time.Millisecond
	for {
		s.read(ctx, resp, ch)
		resp.Body.Close()
		if ctx.Err() != nil {
			return
		}
		// The stream broke (rcqd restarted, or dropped a reader that fell
		// behind): resume after the last event seen.
		var err error
		for try := 0; ; try++ {
			s.mu.Lock()
			last := s.lastID
			s.mu.Unlock()
			resp, err = s.c.openEvents(ctx, s.path, last)
			var e *rcq.Error
			if err != nil && last != "" && errors.As(err, &e) && e.Kind == rcq.KindInvalid {
				// rcqd does not know the id (its database was replaced):
				// start afresh and tell the caller to re-read.
				s.mu.Lock()
				s.lastID = ""
				s.mu.Unlock()
				if resp, err = s.c.openEvents(ctx, s.path, ""); err == nil {
					if !send(ctx, ch, Event{Type: apitype.EventReset, Reset: &apitype.ResetEvent{Reason: e.Msg}}) {
						resp.Body.Close()
						return
					}
				}
			}
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			if try >= reconnectTries || !retryable(err) {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
				return
			}
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, 2*time.Second)
		}
		backoff = 50 * time.Millisecond
		if !send(ctx, ch, Event{Type: EventReconnect}) {
			resp.Body.Close()
			return
		}
	}
}

// retryable: rcqd is away or busy, not refusing the caller.
func retryable(err error) bool {
	var ce *ConnError
	if errors.As(err, &ce) {
		return true
	}
	var e *rcq.Error
	return errors.As(err, &e) && (e.Kind == rcq.KindUnavailable || e.Kind == rcq.KindInternal || e.Kind == rcq.KindRateLimited)
}

func send(ctx context.Context, ch chan<- Event, ev Event) bool {
	select {
	case ch <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// read parses one response's messages onto ch until it ends.
func (s *EventStream) read(ctx context.Context, resp *http.Response, ch chan<- Event) {
	er := NewEventReader(resp.Body)
	for {
		ev, err := er.Next()
		if err != nil {
			return
		}
		if ev.ID != "" {
			s.mu.Lock()
			s.lastID = ev.ID
			s.mu.Unlock()
		}
		if !known(ev) {
			continue // a comment, or a newer rcqd's kind: its id counts all the same
		}
		if !send(ctx, ch, ev) {
			return
		}
	}
}

// known reports whether ev is a message of a kind this client decodes.
func known(ev Event) bool {
	return ev.Job != nil || ev.Worker != nil || ev.Reset != nil || ev.Positions != nil
}

// EventReader parses a text/event-stream body (GET /api/events) message by
// message. EventStream uses it; so do benchmarks and tests that read raw
// streams.
type EventReader struct {
	br   *bufio.Reader
	data []byte
}

// NewEventReader reads messages from r.
func NewEventReader(r io.Reader) *EventReader {
	return &EventReader{br: bufio.NewReaderSize(r, 16<<10)}
}

// Next returns the next message: a decoded event; a comment line (Type
// empty, Comment set: "subscribed", "heartbeat"); or a message of a kind
// this client does not know (Type set, no payload). A message whose data
// does not decode is returned like an unknown kind. The error is the body's
// (io.EOF when it ended).
func (r *EventReader) Next() (Event, error) {
	var id, typ string
	r.data = r.data[:0]
	have := false
	for {
		line, err := r.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: gather it.
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = r.br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if err != nil {
			return Event{}, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) == 0 {
			if !have {
				continue
			}
			ev, ok := decodeEvent(id, typ, r.data)
			if !ok {
				ev = Event{ID: id, Type: typ}
			}
			return ev, nil
		}
		if line[0] == ':' {
			if have {
				continue // a comment inside a message
			}
			return Event{Comment: string(bytes.TrimPrefix(line[1:], []byte(" ")))}, nil
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "id":
			id, have = string(value), true
		case "event":
			typ, have = string(value), true
		case "data":
			if len(r.data) > 0 {
				r.data = append(r.data, '\n')
			}
			r.data = append(r.data, value...)
			have = true
		}
	}
}

// decodeEvent decodes a message; ok is false for types this client does
// not know (a newer rcqd's).
func decodeEvent(id, typ string, data []byte) (Event, bool) {
	ev := Event{ID: id, Type: typ}
	var err error
	switch typ {
	case apitype.EventJob:
		ev.Job = &apitype.JobEvent{}
		err = decodeJSON(data, ev.Job)
	case apitype.EventWorker:
		ev.Worker = &apitype.WorkerEvent{}
		err = decodeJSON(data, ev.Worker)
	case apitype.EventPosition:
		var p apitype.PositionEvent
		err = decodeJSON(data, &p)
		ev.Positions = p.Jobs
	case apitype.EventReset:
		ev.Reset = &apitype.ResetEvent{}
		err = decodeJSON(data, ev.Reset)
	default:
		return ev, false
	}
	return ev, err == nil
}

// Poll paces the polling fallback against an rcqd without events: the
// first delay, doubling up to Most (zero: 100 ms and 2 s).
type Poll struct {
	First, Most time.Duration
}

// Follow calls check now, and again after each event on jobs that relevant
// accepts (nil: every job event; a burst is served by one call), after a
// reset and after a reconnect, until check reports done or fails. Against
// an rcqd without events it calls check on poll's schedule instead.
func (c *Client) Follow(ctx context.Context, jobs []int64, poll Poll, relevant func(Event) bool, check func(context.Context) (bool, error)) error {
	es, err := c.Events(ctx, jobs...)
	if errors.Is(err, ErrNoEvents) {
		return c.pollFollow(ctx, poll, check)
	}
	if err != nil {
		return err
	}
	defer es.Close()
	for {
		// The stream is registered before this check: a change after the
		// check's read is an event to come.
		if done, err := check(ctx); done || err != nil {
			return err
		}
		for wait := true; wait; {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case ev, ok := <-es.C:
				if !ok {
					err := es.Err()
					if errors.Is(err, ErrNoEvents) { // rcqd was replaced by an older one
						return c.pollFollow(ctx, poll, check)
					}
					if err != nil {
						return err
					}
					return ctx.Err()
				}
				wait = !wanted(ev, relevant)
			}
		}
		// Take what else has arrived: one check for the burst.
		for more := true; more; {
			select {
			case _, ok := <-es.C:
				more = ok
			default:
				more = false
			}
		}
	}
}

func wanted(ev Event, relevant func(Event) bool) bool {
	switch ev.Type {
	case apitype.EventReset, EventReconnect:
		return true
	case apitype.EventJob:
		return relevant == nil || relevant(ev)
	}
	return false
}

func (c *Client) pollFollow(ctx context.Context, poll Poll, check func(context.Context) (bool, error)) error {
	delay, most := poll.First, poll.Most
	if delay <= 0 {
		delay = 100 * time.Millisecond
	}
	if most <= 0 {
		most = 2 * time.Second
	}
	for {
		if done, err := check(ctx); done || err != nil {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, most)
	}
}

// WaitJob returns job id once until holds for it (it ended, it started,
// ...), following it through rcqd's event stream (polling an older rcqd).
//
// until is asked twice: of the job as an event describes it (ID, Status,
// Reason, Hold, ExitCode, Signal and the times; nothing else is set), so
// that events that do not make it true (the job started, when the caller
// waits for its end) cost no request; and, when it says yes there, of the
// job as rcqd returns it, which WaitJob returns. An until that looks at
// other fields than those must not be used here.
func (c *Client) WaitJob(ctx context.Context, id int64, poll Poll, until func(*apitype.Job) bool) (*apitype.Job, error) {
	var job *apitype.Job
	err := c.Follow(ctx, []int64{id}, poll, waitRelevant(id, until), func(ctx context.Context) (bool, error) {
		j, err := c.Job(ctx, id)
		if err != nil {
			return false, err
		}
		job = j
		return until(j), nil
	})
	if err != nil {
		return nil, err
	}
	return job, nil
}

// waitRelevant says which events make WaitJob read job id: those after
// which until may hold.
func waitRelevant(id int64, until func(*apitype.Job) bool) func(Event) bool {
	return func(ev Event) bool {
		if ev.Job == nil || ev.Job.ID != id {
			return true // an element of the array id names: read the array
		}
		return until(eventJob(ev.Job))
	}
}

// eventJob is the job as a job event describes it.
func eventJob(e *apitype.JobEvent) *apitype.Job {
	j := &apitype.Job{ID: e.ID, UserID: e.UserID, Status: e.State, Reason: e.Reason, Hold: e.Hold,
		ExitCode: e.ExitCode, Signal: e.Signal, StartedAt: e.StartedAt, CompletedAt: e.CompletedAt,
		ArrayJobID: e.ArrayJobID, ArrayTaskID: e.ArrayTaskID}
	if e.SubmittedAt != nil {
		j.SubmittedAt = *e.SubmittedAt
	}
	return j
}

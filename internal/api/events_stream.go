package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Tunables of a stream; variables for tests.
var (
	eventHeartbeat  = 15 * time.Second // a comment line keeps proxies and clients from timing out
	eventWriteLimit = 30 * time.Second // a write blocked longer than this ends the stream (a stalled reader)
	eventDropDrain  = 2 * time.Second  // a dropped stream's queued messages are written within this, then it closes
)

// PokeEvents tells the event hub the log may have grown (rcqd calls it for
// every LISTEN/NOTIFY wake-up). It never blocks.
func (s *Server) PokeEvents() {
	if s.hub != nil {
		s.hub.Poke()
	}
}

// PlanChanged hands the event hub the plan of a scheduling cycle this
// rcqd ran as the leader (sched.Config.OnCycle): streams hear at once of
// the queue positions it changed. It never blocks.
func (s *Server) PlanChanged(p *rcq.Plan) {
	if s.hub != nil {
		s.hub.Planned(p)
	}
}

// events streams job, worker and queue-position events as Server-Sent
// Events (docs/api.md "Events"). A caller sees its own jobs' events (an
// admin every job's), every worker's, and the positions of its own
// pending jobs; ?jobs= narrows the stream to those jobs (and leaves
// workers out). Last-Event-ID resumes after the event of that id: the
// events since come first, or a reset event when some were pruned.
func (s *Server) events(w http.ResponseWriter, r *http.Request) error {
	if s.hub == nil {
		return rcq.Errorf(rcq.KindNotFound, "no_route", "no such route: %s %s", r.Method, r.URL.Path)
	}
	ctx := r.Context()
	var jobs map[int64]bool
	if v := r.URL.Query().Get("jobs"); v != "" {
		jobs = map[int64]bool{}
		for _, part := range strings.Split(v, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
			if err != nil || id <= 0 {
				return rcq.Invalid("jobs", "%q: must be a comma-separated list of job ids (an array's id stands for its elements)", part)
			}
			jobs[id] = true
		}
		if len(jobs) > s.cfg.Limits.MaxPageSize {
			return rcq.Invalid("jobs", "at most %d job ids at once (jobs.max_page_size)", s.cfg.Limits.MaxPageSize)
		}
	}
	lastID := int64(-1)
	reset := ""
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || id < 0 {
			return rcq.Invalid("Last-Event-ID", "%q: must be the id of an event this rcqd sent (a non-negative integer)", v)
		}
		pruned, last, err := s.EventLog.EventHorizon(ctx)
		if err != nil {
			return err
		}
		if id > last {
			return rcq.Invalid("Last-Event-ID", "%d: no event of this id was ever sent (the latest is %d); reconnect without it", id, last)
		}
		if id < pruned {
			reset = "events after " + strconv.FormatInt(id, 10) + " are older than the kept history; re-read the jobs you follow"
		}
		lastID = id
	}
	rc := http.NewResponseController(w)
	me := caller(r)
	sub, err := s.hub.subscribe(ctx, me, jobs, lastID >= 0 && reset == "", rc.SetWriteDeadline)
	if err != nil {
		return err
	}
	defer s.hub.unsubscribe(sub)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The write deadline is set once per burst (a message and those queued
	// behind it), not per message: resetting it is a runtime timer
	// operation, and at 1,000 streams each event costs 1,000 of them. When
	// the hub drops the stream it shortens the deadline itself, so a write
	// blocked on a reader that stopped reading ends eventDropDrain later.
	deadline := func() { sub.writeDeadline(eventWriteLimit) }
	write := func(b []byte) bool {
		_, err := w.Write(b)
		return err == nil
	}
	deadline()
	flush := func() bool { return rc.Flush() == nil }
	// The stream is registered: anything that happens from here on reaches
	// it. A client that subscribes and then reads a job's state misses
	// nothing in between.
	if !write([]byte("retry: 1000\n: subscribed\n\n")) || !flush() {
		return nil
	}
	switch {
	case reset != "":
		if !write(resetFrame(sub.from, reset)) {
			return nil
		}
	case lastID >= 0:
		// The backlog comes from the log, stretch after stretch, until the
		// stream is level with the hub and goes live: however long the
		// backlog, nothing piles up in the stream's buffer meanwhile.
		user := me.ID
		if me.IsAdmin {
			user = 0
		}
		for pos := lastID; ; {
			upto := s.hub.catchUp(sub, pos)
			if upto == 0 {
				break
			}
			for pos < upto {
				evs, err := s.EventLog.EventsAfter(ctx, pos, upto, user, eventPage)
				if err != nil {
					s.Logger.Warn("event stream backlog", "err", err)
					return nil // the client resumes
				}
				deadline()
				for i := range evs {
					if sub.sees(&evs[i]) && !write(eventFrame(&evs[i])) {
						return nil
					}
				}
				if len(evs) < eventPage {
					pos = upto
				} else {
					pos = evs[len(evs)-1].ID
				}
			}
		}
	}
	if !flush() {
		return nil
	}
	beat := time.NewTicker(eventHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sub.gone:
			// Fell behind: end the stream; the client resumes with
			// Last-Event-ID. What was queued goes out first, within
			// eventDropDrain (set by the drop): a reader that stopped
			// reading takes none of it, and its connection closes then.
			for _, b := range sub.take() {
				if !write(*b) {
					return nil
				}
			}
			flush()
			return nil
		case <-beat.C:
			deadline()
			if !write([]byte(": heartbeat\n\n")) || !flush() {
				return nil
			}
		case <-sub.ready:
			deadline()
			for _, b := range sub.take() {
				if !write(*b) {
					return nil
				}
			}
			if !flush() {
				return nil
			}
		}
	}
}

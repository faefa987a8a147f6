package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

func encodeEvent(ev rcq.Event) string {
	b, _ := json.Marshal(ev) // a struct of strings and ints always marshals
	return string(b)
}

// Listen delivers every event sent on the database (by this rcqd or another)
// to fn until ctx ends, but for those this Store announced while an
// OnAnnounce hook was set: the hook had them at once. It holds one
// dedicated connection, reconnecting with backoff when the connection
// drops; after a reconnect it delivers a synthetic EventWorkerChanged so
// receivers re-read what they may have missed. ready, when not nil, is
// called each time LISTEN is in place.
func (s *Store) Listen(ctx context.Context, fn func(rcq.Event), ready func()) error {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, fn, func() {
			backoff = 100 * time.Millisecond
			if !first {
				fn(rcq.Event{Kind: rcq.EventWorkerChanged})
			}
			first = false
			if ready != nil {
				ready()
			}
		})
		if ctx.Err() != nil {
			break
		}
		s.logger.Warn("event listener lost its connection; reconnecting", "err", err, "backoff", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
	return nil
}

func (s *Store) listenOnce(ctx context.Context, fn func(rcq.Event), ready func()) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection carries LISTEN state: never hand it back to the pool.
	pc := conn.Hijack()
	defer pc.Close(context.WithoutCancel(ctx))
	if _, err := pc.Exec(ctx, "LISTEN rcq_events"); err != nil {
		return err
	}
	ready()
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		var ev rcq.Event
		if err := json.Unmarshal([]byte(n.Payload), &ev); err != nil {
			s.logger.Warn("ignoring a malformed event", "payload", n.Payload, "err", err)
			continue
		}
		if ev.Origin == s.origin && s.onAnnounce.Load() != nil {
			continue // delivered by announce
		}
		fn(ev)
	}
}

// Notify sends ev to every listener, outside any transaction.
func (s *Store) Notify(ctx context.Context, ev rcq.Event) error {
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify('rcq_events', $1)`, encodeEvent(ev)); err != nil {
		return wrap(fmt.Sprintf("notify %s", ev.Kind), err)
	}
	return nil
}

// announce sends ev to every listener soon after the caller's commit, from
// one goroutine, coalescing a burst into one NOTIFY per kind, node and
// Held (the latest event of each is sent; receivers re-read the store
// anyway), and first to this process's OnAnnounce hook.
//
// Hot paths (submits, job ends) announce instead of notifying inside their
// transaction: PostgreSQL serializes the commits of notifying transactions
// on one lock held across the WAL flush, so a NOTIFY in every submit
// transaction would cap submits near 5,000/s whatever the hardware
// (docs/performance.md). The submitting rcqd wakes its own scheduler in
// process (OnAnnounce); other rcqd processes hear of it one round trip
// later. Should rcqd die between the commit and the announcement, they
// notice at their next periodic cycle.
func (s *Store) announce(ev rcq.Event) {
	ev.Origin = s.origin
	if fn := s.onAnnounce.Load(); fn != nil {
		(*fn)(ev)
	}
	s.annMu.Lock()
	if s.annPending == nil {
		s.annPending = map[annKey]rcq.Event{}
	}
	s.annPending[annKey{ev.Kind, ev.Node, ev.Held}] = ev
	start := !s.annRunning
	s.annRunning = true
	s.annMu.Unlock()
	if start {
		go s.announceLoop()
	}
}

// annKey is what announce coalesces on: a node's executor must hear of its
// own events even when another node's arrive in the same burst, and a held
// submit's event must not stand for a startable one's.
type annKey struct {
	kind rcq.EventKind
	node string
	held bool
}

func (s *Store) announceLoop() {
	for {
		s.annMu.Lock()
		pending := s.annPending
		s.annPending = nil
		if len(pending) == 0 {
			s.annRunning = false
			s.annMu.Unlock()
			return
		}
		s.annMu.Unlock()
		for _, ev := range pending {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := s.Notify(ctx, ev); err != nil {
				s.logger.Warn("announce an event; other rcqd processes see the change at their next cycle", "event", ev.Kind, "err", err)
			}
			cancel()
		}
	}
}

// OnAnnounce sets fn to be called (it must not block) with every event this
// Store announces, after its commit and before the NOTIFY goes out; Listen
// then skips those events when they come back. So rcqd wakes its own
// scheduler, executor and event hub at once, not one round trip later, and
// once, not once for its request and again for the NOTIFY.
func (s *Store) OnAnnounce(fn func(rcq.Event)) { s.onAnnounce.Store(&fn) }

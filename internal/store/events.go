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
// to fn until ctx ends. It holds one dedicated connection, reconnecting with
// backoff when the connection drops; after a reconnect it delivers a
// synthetic EventWorkerChanged so receivers re-read what they may have missed.
// ready, when not nil, is called each time LISTEN is in place.
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

package queue

import (
	"context"
	"time"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/client"
)

// iteration paces rcq-queue -i with rcqd's event stream: a redraw comes
// every --iterate seconds and also as soon as a job of the caller's (every
// job, for an admin) or a worker changes (at most once a second). With
// --me, whose every change is an event, a redraw with no event since the
// last read reuses that read, only moving the running jobs' TIME on;
// every rereadEvery the queue is read anyway (jobs leave the --recent
// window). Against an rcqd without events every redraw reads the queue.
type iteration struct {
	es      *client.EventStream // nil: no events (not iterating, or an older rcqd)
	own     bool                // the view holds only the caller's jobs
	changed bool                // an event since the last read
	last    *Output
	readAt  time.Time
}

// rereadEvery bounds how long a read is reused.
const rereadEvery = time.Minute

// redrawGap is the least time between two redraws that events bring on.
var redrawGap = time.Second

func newIteration(ctx context.Context, opts *Options, s *cli.Session) *iteration {
	it := &iteration{own: opts.Me, changed: true}
	if opts.Iterate > 0 {
		if es, err := s.Client.Events(ctx); err == nil {
			it.es = es
		}
	}
	return it
}

func (it *iteration) close() {
	if it.es != nil {
		it.es.Close()
	}
}

// read returns the queue: a fresh read, or the last one moved to now.
func (it *iteration) read(ctx context.Context, fetch func() (*Output, error)) (*Output, error) {
	now := time.Now()
	if it.es == nil || !it.own || it.changed || it.last == nil || now.Sub(it.readAt) >= rereadEvery {
		out, err := fetch()
		if err != nil {
			return nil, err
		}
		it.last, it.readAt, it.changed = out, now, false
		return out, nil
	}
	return it.last.movedTo(it.last.Now.Add(now.Sub(it.readAt))), nil
}

// movedTo is o as it stands at now: running jobs' elapsed time moves on.
func (o *Output) movedTo(now time.Time) *Output {
	d := int64(now.Sub(o.Now) / time.Second)
	c := &Output{Jobs: make([]Row, len(o.Jobs)), Count: o.Count, Now: now}
	copy(c.Jobs, o.Jobs)
	for i := range c.Jobs {
		if c.Jobs[i].StateCode == "R" {
			c.Jobs[i].ElapsedSeconds += d
		}
	}
	return c
}

// wait returns after d, or earlier (but redrawGap after the wait began)
// when an event arrives.
func (it *iteration) wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	var events <-chan client.Event
	if it.es != nil {
		events = it.es.C
	}
	begun := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case ev, ok := <-events:
			if !ok {
				it.es, events, it.changed = nil, nil, true // the stream ended: read every time
				continue
			}
			if ev.Type == "position" {
				continue // positions move with every cycle; the interval shows them
			}
			it.changed = true
			if rest := redrawGap - time.Since(begun); rest > 0 {
				t.Reset(min(rest, d))
			} else {
				return nil
			}
		}
	}
}

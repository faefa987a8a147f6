package api

import (
	"context"
	"sync"
	"time"
)

// coalescer shares one run of fn among every caller waiting for it. A caller
// joins the next run that starts after it arrived, never one already under
// way (whose reads may predate the caller's own acknowledged writes). So a
// burst of any size costs at most two runs, and while callers keep coming,
// runs go back to back: one at a time, each serving everyone who waited.
type coalescer[T any] struct {
	fn      func(context.Context) (T, error)
	timeout time.Duration // bounds one run; its callers may give up sooner

	mu      sync.Mutex
	next    *flight[T] // the run the next caller joins; nil when nobody waits
	running bool       // a goroutine is running flights
}

type flight[T any] struct {
	done    chan struct{}
	waiters int // callers that joined, for tests
	val     T
	err     error
}

func (c *coalescer[T]) do(ctx context.Context) (T, error) {
	c.mu.Lock()
	f := c.next
	if f == nil {
		f = &flight[T]{done: make(chan struct{})}
		c.next = f
	}
	f.waiters++
	if !c.running {
		c.running = true
		go c.run()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// run serves flights until nobody waits, then exits.
func (c *coalescer[T]) run() {
	for {
		c.mu.Lock()
		f := c.next
		c.next = nil
		if f == nil {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		f.val, f.err = c.fn(ctx)
		cancel()
		close(f.done)
	}
}

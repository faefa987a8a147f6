package api

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Every caller gets a run that began after it called, and concurrent callers
// share runs.
func TestCoalescerJoinsTheNextRun(t *testing.T) {
	var runs atomic.Int64
	var mu sync.Mutex
	var writes int64 // stands for acknowledged writes the run must see
	release := make(chan struct{})
	c := &coalescer[int64]{timeout: time.Minute, fn: func(context.Context) (int64, error) {
		runs.Add(1)
		mu.Lock()
		seen := writes
		mu.Unlock()
		<-release
		return seen, nil
	}}
	// The first caller starts a run that blocks.
	first := make(chan int64)
	go func() { v, _ := c.do(context.Background()); first <- v }()
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond) // wait for the run to begin reading
	}
	// A write is acknowledged, then 50 callers arrive while the run is under way.
	mu.Lock()
	writes = 1
	mu.Unlock()
	var wg sync.WaitGroup
	got := make([]int64, 50)
	for i := range got {
		wg.Go(func() { got[i], _ = c.do(context.Background()) })
	}
	for {
		c.mu.Lock()
		n := 0
		if c.next != nil {
			n = c.next.waiters
		}
		c.mu.Unlock()
		if n == len(got) {
			break
		}
		time.Sleep(time.Millisecond) // until all 50 wait for the next run
	}
	close(release)
	if v := <-first; v != 0 {
		t.Errorf("first caller saw %d", v)
	}
	wg.Wait()
	for i, v := range got {
		if v != 1 {
			t.Fatalf("caller %d got a run that began before it called (saw %d writes, want 1)", i, v)
		}
	}
	if n := runs.Load(); n != 2 {
		t.Errorf("%d runs for 51 callers in two waves, want 2", n)
	}
}

func TestCoalescerCallerGivesUp(t *testing.T) {
	release := make(chan struct{})
	c := &coalescer[int]{timeout: time.Minute, fn: func(context.Context) (int, error) { <-release; return 1, nil }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.do(ctx); err == nil {
		t.Error("a cancelled caller got no error")
	}
	close(release)
	if v, err := c.do(context.Background()); v != 1 || err != nil {
		t.Errorf("after a caller gave up: %d, %v", v, err)
	}
}

package api

import (
	"context"
	"log/slog"
	"testing"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// A stream that stops reading is dropped once eventBuffer messages wait
// for it; others go on.
func TestEventHubDropsSlowReader(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, dbtest.URL(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		t.Fatal(err)
	}
	uid, err := st.CreateUser(ctx, rcq.User{Email: "slow@example.org", GroupID: 1}, "hash")
	if err != nil {
		t.Fatal(err)
	}
	restore := SetEventTunables(3, positionEvery)
	defer restore()
	h := newEventHub(st, nil, slog.New(slog.DiscardHandler))
	u := &rcq.User{ID: uid}
	slow, err := h.subscribe(ctx, u, nil, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	fast, err := h.subscribe(ctx, u, nil, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.unsubscribe(fast)
	for i := range 5 {
		if _, _, err := st.CreateJob(ctx, &rcq.Job{UserID: uid, GroupID: 1, Script: "#!/bin/sh\n", EstimatedHours: 1, Priority: 1,
			Resources: rcq.Resources{CPUCores: 1, MemoryGB: 1}}, ""); err != nil {
			t.Fatal(err)
		}
		h.Poke()
		<-fast.ready // the fast reader keeps up
		fast.take()
		if i == 3 {
			<-slow.gone // the fourth message found the slow one's buffer full
		}
	}
	if n := slow.queued(); n != 3 {
		t.Errorf("slow stream holds %d messages, want its buffer of 3 (sent before it is closed)", n)
	}
	h.mu.Lock()
	_, still := h.subs[slow]
	h.mu.Unlock()
	if still {
		t.Error("the dropped stream is still subscribed")
	}
}

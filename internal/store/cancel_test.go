package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

func (f *fixture) named(t *testing.T, owner rcq.UserID, name string) rcq.JobID {
	t.Helper()
	j := f.newJob(owner, res(1, 1, 0))
	j.Name = name
	id, _, err := f.st.CreateJob(ctxT(t), j, "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// CancelMatching cancels every pending and running job its filter selects,
// and only those; a named job it leaves alone is refused as CancelJob would
// refuse it.
func TestCancelMatching(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	a1, b1, a2 := f.named(t, f.alice, "a"), f.named(t, f.alice, "b"), f.named(t, f.alice, "a")
	run := f.named(t, f.alice, "a")
	f.start(t, run)
	done := f.named(t, f.alice, "a")
	f.start(t, done)
	f.exec(t, `UPDATE jobs SET status = 'completed', completed_at = now() WHERE id = $1`, done)
	bob := f.named(t, f.bob, "a")

	// By name and state: alice's pending "a" jobs, not her running one, not bob's.
	got, err := f.st.CancelMatching(ctx, rcq.CancelFilter{UserID: f.alice, Names: []string{"a"}, States: []rcq.JobState{rcq.JobPending}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Cancelled, []rcq.JobID{a1, a2}) || len(got.Refused) != 0 {
		t.Fatalf("cancelled %v refused %v, want %v", got.Cancelled, got.Refused, []rcq.JobID{a1, a2})
	}
	for _, id := range []rcq.JobID{a1, a2} {
		if j := f.job(t, id); j.State != rcq.JobCancelled || j.CompletedAt == nil || j.Reason != rcq.ReasonCancelledByUser {
			t.Errorf("job %d: %s completed %v reason %q", id, j.State, j.CompletedAt, j.Reason)
		}
	}
	for id, want := range map[rcq.JobID]rcq.JobState{b1: rcq.JobPending, run: rcq.JobRunning, bob: rcq.JobPending} {
		if st := f.job(t, id).State; st != want {
			t.Errorf("job %d is %s, want %s", id, st, want)
		}
	}

	// By id: the running job is cancelled and keeps its resources (and its
	// node's executor is woken); the others are refused with their reason.
	events := f.listen(t, ctx)
	got, err = f.st.CancelMatching(ctx, rcq.CancelFilter{UserID: f.alice, IDs: []rcq.JobID{run, done, bob, a1, 999999, run}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Cancelled, []rcq.JobID{run}) {
		t.Fatalf("cancelled %v, want [%d]", got.Cancelled, run)
	}
	if j := f.job(t, run); j.State != rcq.JobCancelled || j.CompletedAt != nil {
		t.Errorf("running job after cancel: %s completed %v", j.State, j.CompletedAt)
	}
	want := map[rcq.JobID]string{done: "job_finished", bob: "not_found", a1: "job_finished", 999999: "not_found"}
	if len(got.Refused) != len(want) {
		t.Fatalf("refused %v, want %v", got.Refused, want)
	}
	for _, r := range got.Refused {
		if rcq.CodeOf(r.Err) != want[r.JobID] {
			t.Errorf("job %d refused with %v, want %s", r.JobID, r.Err, want[r.JobID])
		}
		if r.JobID == bob && rcq.MessageOf(r.Err) != fmt.Sprintf("job %d not found", bob) {
			t.Errorf("bob's job: %q, want the message of a missing job", rcq.MessageOf(r.Err))
		}
	}
	if st := f.job(t, bob).State; st != rcq.JobPending {
		t.Fatalf("alice's cancel changed bob's job to %s", st)
	}
	for heard := false; !heard; {
		select {
		case ev := <-events:
			heard = ev.Kind == rcq.EventJobCancelled && ev.Node == "node1"
		case <-ctx.Done():
			t.Fatal("no job_cancelled event for node1")
		}
	}

	// A named job that is pending but outside the other filters.
	got, err = f.st.CancelMatching(ctx, rcq.CancelFilter{UserID: f.alice, IDs: []rcq.JobID{b1}, Names: []string{"zzz"}})
	if err != nil || len(got.Cancelled) != 0 || len(got.Refused) != 1 ||
		rcq.MessageOf(got.Refused[0].Err) != fmt.Sprintf("job %d not found or does not match the filters", b1) {
		t.Fatalf("CancelMatching outside the filters = %+v, %v", got, err)
	}

	// An admin (owner 0) by name reaches every account.
	got, err = f.st.CancelMatching(ctx, rcq.CancelFilter{Names: []string{"a", "b"}})
	if err != nil || !slices.Equal(got.Cancelled, []rcq.JobID{b1, bob}) {
		t.Fatalf("admin by name: %+v %v, want [%d %d]", got, err, b1, bob)
	}
}

// Cancelling pending jobs gives their room back to submits at once, even
// while this process's estimate of the total is fresh.
func TestCancelMatchingFreesPendingCaps(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	st := f.capped(t, 5, 5)
	for range 5 {
		if _, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), ""); !isCode(err, "too_many_pending_jobs") && !isCode(err, "too_many_pending_jobs_total") {
		t.Fatalf("submit at the caps: %v", err)
	}
	got, err := st.CancelMatching(ctx, rcq.CancelFilter{UserID: f.alice})
	if err != nil || len(got.Cancelled) != 5 {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	for i := range 5 {
		if _, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), ""); err != nil {
			t.Fatalf("submit %d after cancelling every pending job: %v", i+1, err)
		}
	}
	if n := f.pending(t, f.alice); n != 5 {
		t.Errorf("%d pending, want 5", n)
	}
}

// BenchmarkCancelMatching cancels 10,000 pending jobs of one account in one
// call (rcq-cancel --me, scancel --user).
//
//	go test -run '^$' -bench CancelMatching -benchtime 5x ./internal/store
func BenchmarkCancelMatching(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, dbtest.URL(b), store.Options{MaxPendingPerUser: 1_000_000, MaxPendingTotal: 1_000_000})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		b.Fatal(err)
	}
	user, err := st.CreateUser(ctx, rcq.User{Email: "u@example.org", GroupID: 1}, "hash")
	if err != nil {
		b.Fatal(err)
	}
	const n = 10_000
	for range b.N {
		b.StopTimer()
		js := make([]*rcq.Job, n)
		for i := range js {
			js[i] = &rcq.Job{UserID: user, GroupID: 1, Name: "bench", Script: "#!/bin/sh\ntrue\n",
				Resources: rcq.Resources{CPUCores: 1, MemoryGB: 1}, EstimatedHours: 1, Priority: 1}
		}
		if _, err := st.CreateJobs(ctx, js); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		got, err := st.CancelMatching(ctx, rcq.CancelFilter{UserID: user, States: []rcq.JobState{rcq.JobPending}})
		if err != nil || len(got.Cancelled) != n {
			b.Fatalf("cancelled %d: %v", len(got.Cancelled), err)
		}
	}
}

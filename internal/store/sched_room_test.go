package store_test

import (
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

func TestHasRoom(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	room := func(maxRunning int) bool {
		t.Helper()
		ok, err := f.st.HasRoom(ctx, maxRunning)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !room(0) {
		t.Fatal("an idle 8-core worker has no room")
	}
	a := f.submit(t, f.alice, res(6, 1, 0))
	f.start(t, a)
	if !room(0) {
		t.Error("2 of 8 cores free: no room")
	}
	if room(1) {
		t.Error("1 job holds resources and the cap is 1: room")
	}
	b := f.submit(t, f.alice, res(2, 1, 0))
	f.start(t, b)
	if room(0) {
		t.Error("every core taken: room")
	}
	// A cancelled job keeps its cores until its processes are gone.
	if _, err := f.st.CancelJob(ctx, b, 0); err != nil {
		t.Fatal(err)
	}
	if room(0) {
		t.Error("a cancelled job whose processes live on freed its cores early")
	}
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: b, State: rcq.JobCancelled}); err != nil {
		t.Fatal(err)
	}
	if !room(0) {
		t.Error("2 cores free after the job ended: no room")
	}
	drained := rcq.WorkerDrained
	if _, err := f.st.UpdateWorker(ctx, f.worker, rcq.WorkerPatch{State: &drained}); err != nil {
		t.Fatal(err)
	}
	if room(0) {
		t.Error("the only worker is drained: room")
	}
}

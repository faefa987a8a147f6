package store_test

import (
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// A signal is recorded only for a running job of its owner (or by an
// admin), waits in the store for the executor of the job's node, and is
// handed out once.
func TestSignalJobRecordedUntilDelivered(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	id := f.submit(t, f.alice, res(1, 1, 0))
	undelivered := func() int {
		t.Helper()
		return f.count(t, `SELECT count(*) FROM job_signals WHERE delivered_at IS NULL`)
	}

	wantKind(t, f.st.SignalJob(ctx, id, f.alice, "USR1"), rcq.KindConflict, "job_not_running")
	f.start(t, id)
	wantKind(t, f.st.SignalJob(ctx, id, f.bob, "USR1"), rcq.KindNotFound, "not_found")
	wantKind(t, f.st.SignalJob(ctx, id+1000, f.alice, "USR1"), rcq.KindNotFound, "not_found")
	if n := undelivered(); n != 0 {
		t.Fatalf("%d signals recorded by refused requests", n)
	}

	// The announcement reaches the job's node.
	events := f.listen(t, ctx)
	if err := f.st.SignalJob(ctx, id, f.alice, "USR1"); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SignalJob(ctx, id, 0, "TERM"); err != nil { // an admin
		t.Fatal(err)
	}
	for got := false; !got; {
		select {
		case ev := <-events:
			got = ev.Kind == rcq.EventJobSignal && ev.Node == "node1"
		case <-ctx.Done():
			t.Fatal("no job_signal event for node1")
		}
	}

	// Nobody has launched it yet: the node's rcqd gets them, another
	// holder's or another node's does not.
	sigs, err := f.st.PendingSignals(ctx, "node1", nodeHolder)
	if err != nil || len(sigs) != 2 || sigs[0].JobID != id || sigs[0].Signal != "USR1" || sigs[1].Signal != "TERM" {
		t.Fatalf("PendingSignals = %+v %v, want USR1 then TERM for job %d", sigs, err, id)
	}
	if other, err := f.st.PendingSignals(ctx, "node2", "node2:/x"); err != nil || len(other) != 0 {
		t.Fatalf("another node's PendingSignals = %+v %v", other, err)
	}
	f.takeNodeLease(t, nodeHolder)
	if err := f.st.ClaimJob(ctx, id, "node1", nodeHolder); err != nil {
		t.Fatal(err)
	}
	if other, err := f.st.PendingSignals(ctx, "node1", "node1:/elsewhere"); err != nil || len(other) != 0 {
		t.Fatalf("PendingSignals of a holder that did not launch the job = %+v %v", other, err)
	}

	if ok, err := f.st.SignalDelivered(ctx, sigs[0].ID); err != nil || !ok {
		t.Fatalf("SignalDelivered: %v %v", ok, err)
	}
	if ok, err := f.st.SignalDelivered(ctx, sigs[0].ID); err != nil || ok {
		t.Fatalf("SignalDelivered twice: %v %v, want false the second time", ok, err)
	}
	if left, err := f.st.PendingSignals(ctx, "node1", nodeHolder); err != nil || len(left) != 1 || left[0].ID != sigs[1].ID {
		t.Fatalf("PendingSignals after one delivery = %+v %v", left, err)
	}

	// Once the job has ended, what was not delivered is no longer handed out.
	if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: rcq.JobCompleted, EndedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if left, err := f.st.PendingSignals(ctx, "node1", nodeHolder); err != nil || len(left) != 0 {
		t.Fatalf("PendingSignals after the job ended = %+v %v", left, err)
	}
	wantKind(t, f.st.SignalJob(ctx, id, f.alice, "USR1"), rcq.KindConflict, "job_not_running")
}

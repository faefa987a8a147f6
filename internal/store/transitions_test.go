package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// TestTransitionsMatchCanBecome: the state changes the store's SQL makes
// are exactly the moves rcq.JobState.CanBecome allows. A trigger records
// every status a job row is inserted with and every change of it while
// each store method that changes a job's state runs (submit, start, the
// four ends of FinishJob, cancel of a pending and of a running job, the bulk
// cancel, the scheduler's DependencyNeverSatisfied cancel, an array
// element's split and start, a finish reported after a cancel, the lost-job
// sweep's node_fail and requeue, a requeue by hand of a running job and of
// each end state); then every
// recorded move must be one CanBecome allows, and every move it allows must
// have been made, so the table in internal/rcq and the WHERE clauses here
// cannot drift apart unnoticed.
func TestTransitionsMatchCanBecome(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	f.exec(t, `CREATE TABLE status_moves (job_id bigint, old text NOT NULL, new text NOT NULL)`)
	f.exec(t, `CREATE FUNCTION record_status_move() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF TG_OP = 'INSERT' THEN
				INSERT INTO status_moves VALUES (NEW.id, '', NEW.status);
			ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
				INSERT INTO status_moves VALUES (NEW.id, OLD.status, NEW.status);
			END IF;
			RETURN NEW;
		END $$`)
	f.exec(t, `CREATE TRIGGER record_status_move AFTER INSERT OR UPDATE ON jobs FOR EACH ROW EXECUTE FUNCTION record_status_move()`)

	small := res(1, 1, 0)
	running := func() rcq.JobID {
		id := f.submit(t, f.alice, small)
		f.start(t, id)
		return id
	}
	finish := func(id rcq.JobID, st rcq.JobState) {
		t.Helper()
		if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: st, Reason: "test"}); err != nil {
			t.Fatalf("finish job %d as %s: %v", id, st, err)
		}
	}
	cancel := func(id rcq.JobID) {
		t.Helper()
		if _, err := f.st.CancelJob(ctx, id, 0); err != nil {
			t.Fatalf("cancel job %d: %v", id, err)
		}
	}

	cancel(f.submit(t, f.alice, small)) // pending -> cancelled
	for _, st := range []rcq.JobState{rcq.JobCompleted, rcq.JobFailed, rcq.JobTimeout, rcq.JobCancelled} {
		finish(running(), st) // running -> each end
	}
	r := running()
	cancel(r)                   // running -> cancelled
	finish(r, rcq.JobCompleted) // its processes end: it stays cancelled
	bulk := []rcq.JobID{f.submit(t, f.alice, small), running()}
	if res, err := f.st.CancelMatching(ctx, rcq.CancelFilter{IDs: bulk}); err != nil || len(res.Cancelled) != 2 {
		t.Fatalf("bulk cancel: %+v %v", res, err)
	}
	f.takeLease(t)
	never := f.submit(t, f.alice, small)
	if err := f.st.CancelJobs(ctx, lease, holder, []rcq.DependencyCancel{{JobID: never, Detail: "x"}}); err != nil {
		t.Fatal(err)
	}
	arr := f.submitArray(t, f.alice, "0-2")
	task := 1
	done, err := f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: arr, WorkerID: f.worker, ArrayTask: &task}})
	if err != nil || len(done) != 1 {
		t.Fatalf("start array element: %v %v", done, err)
	}
	finish(done[0].JobID, rcq.JobCompleted)
	if _, err := f.st.CancelMatching(ctx, rcq.CancelFilter{IDs: []rcq.JobID{arr}}); err != nil {
		t.Fatal(err)
	}

	// Requeues by hand: a running job, and a job in each end state.
	requeue := func(id rcq.JobID) {
		t.Helper()
		if _, err := f.st.RequeueJob(ctx, id, 0, rcq.HoldNone, "requeued by test"); err != nil {
			t.Fatalf("requeue job %d: %v", id, err)
		}
	}
	requeue(running())
	for _, st := range []rcq.JobState{rcq.JobCompleted, rcq.JobFailed, rcq.JobTimeout, rcq.JobCancelled} {
		id := running()
		finish(id, st)
		requeue(id)
	}

	// The lost-job sweep: a dead node's job ends node_fail, a requeueable
	// one goes back to pending.
	lost, requeued := running(), running()
	f.exec(t, `UPDATE jobs SET requeue = true WHERE id = $1`, requeued)
	f.killNode(t, "node1", 2*time.Minute)
	if got := f.sweep(t, policy); got[lost].State != rcq.JobNodeFail || !got[requeued].Requeued {
		t.Fatalf("sweep: %+v", got)
	}
	requeue(lost) // node_fail -> pending

	rows, err := f.db.Query(ctx, `SELECT DISTINCT old, new FROM status_moves`)
	if err != nil {
		t.Fatal(err)
	}
	made := map[string]bool{}
	for rows.Next() {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			t.Fatal(err)
		}
		made[from+" -> "+to] = true
		switch {
		case from == "" && to != string(rcq.JobPending):
			t.Errorf("a job row was inserted as %s: a job is born pending", to)
		case from != "" && !rcq.JobState(from).CanBecome(rcq.JobState(to)):
			t.Errorf("the store moved a job %s -> %s, which CanBecome refuses", from, to)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var allowed []string
	for _, from := range rcq.JobStates {
		for _, to := range rcq.JobStates {
			if from.CanBecome(to) {
				allowed = append(allowed, fmt.Sprintf("%s -> %s", from, to))
				if !made[fmt.Sprintf("%s -> %s", from, to)] {
					t.Errorf("CanBecome allows %s -> %s, which no store method made", from, to)
				}
			}
		}
	}
	if len(allowed) != 13 || !slices.Contains(allowed, "pending -> running") || !slices.Contains(allowed, "running -> node_fail") ||
		!slices.Contains(allowed, "node_fail -> pending") {
		t.Errorf("CanBecome allows %q", allowed)
	}
}

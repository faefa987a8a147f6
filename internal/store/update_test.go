package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

// UpdatePendingJob changes only a pending job of its owner, with the check
// seeing the job as stored, and replaces dependencies as a set.
func TestUpdatePendingJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	dep1 := f.submit(t, f.alice, res(1, 1, 0))
	dep2 := f.submit(t, f.alice, res(1, 1, 0))
	bobs := f.submit(t, f.bob, res(1, 1, 0))
	id := f.submit(t, f.alice, res(1, 1, 0))
	allow := func(*rcq.Job) error { return nil }

	name, hours := "renamed", 0.25
	deps := []rcq.Dependency{{Type: rcq.AfterOK, JobID: dep1}, {Type: rcq.AfterAny, JobID: dep2}}
	var seen *rcq.Job
	j, err := f.st.UpdatePendingJob(ctx, id, f.alice, rcq.JobUpdate{Name: &name, EstimatedHours: &hours, Dependencies: &deps},
		func(j *rcq.Job) error { c := *j; seen = &c; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if seen == nil || seen.Name == name || seen.EstimatedHours != 1 {
		t.Errorf("check saw %+v, want the job before the change", seen)
	}
	got := f.job(t, id)
	if got.Name != name || got.EstimatedHours != hours || got.Priority != 1 || len(got.Dependencies) != 2 || j.Name != name {
		t.Errorf("after update: %+v (returned %+v)", got, j)
	}

	// Removing the dependencies leaves none.
	none := []rcq.Dependency{}
	if _, err := f.st.UpdatePendingJob(ctx, id, f.alice, rcq.JobUpdate{Dependencies: &none}, allow); err != nil {
		t.Fatal(err)
	}
	if got := f.job(t, id); len(got.Dependencies) != 0 || got.Name != name {
		t.Errorf("after clearing dependencies: %+v", got)
	}

	// A dependency on another user's job is refused like a missing one, and nothing changes.
	other := []rcq.Dependency{{Type: rcq.AfterOK, JobID: bobs}}
	prio := 1
	_, err = f.st.UpdatePendingJob(ctx, id, f.alice, rcq.JobUpdate{Dependencies: &other, Priority: &prio}, allow)
	wantKind(t, err, rcq.KindInvalid, "invalid_dependencies")
	if got := f.job(t, id); len(got.Dependencies) != 0 {
		t.Errorf("refused update left dependencies %v", got.Dependencies)
	}

	// The check's refusal stops the change.
	refuse := errors.New("no")
	other2 := "x"
	if _, err := f.st.UpdatePendingJob(ctx, id, f.alice, rcq.JobUpdate{Name: &other2}, func(*rcq.Job) error { return refuse }); !errors.Is(err, refuse) {
		t.Errorf("check's error: got %v", err)
	}
	if got := f.job(t, id); got.Name != name {
		t.Errorf("refused rename took effect: %q", got.Name)
	}

	// Another user's job is not found; an admin (owner 0) may update it.
	_, err = f.st.UpdatePendingJob(ctx, bobs, f.alice, rcq.JobUpdate{Name: &other2}, allow)
	wantKind(t, err, rcq.KindNotFound, "not_found")
	if _, err := f.st.UpdatePendingJob(ctx, bobs, 0, rcq.JobUpdate{Name: &other2}, allow); err != nil {
		t.Errorf("admin update: %v", err)
	}

	// A job no longer pending is a conflict naming its state.
	f.start(t, dep1)
	_, err = f.st.UpdatePendingJob(ctx, dep1, f.alice, rcq.JobUpdate{Name: &other2}, allow)
	wantKind(t, err, rcq.KindConflict, "job_not_pending")
	if got := f.job(t, dep1); got.Name == other2 {
		t.Errorf("running job renamed")
	}

	states, err := f.st.JobStates(ctx, []rcq.JobID{dep1, dep2, 99999})
	if err != nil || len(states) != 2 || states[dep1] != rcq.JobRunning || states[dep2] != rcq.JobPending {
		t.Errorf("JobStates = %v, %v", states, err)
	}
}

// An update racing the scheduler's start either lands before the start (the
// job runs with the change) or is refused as not pending (the job runs as it
// was): never reported done while the running job kept its old values.
func TestUpdateRacesStart(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	f.takeLease(t)
	for i := range 20 {
		id := f.submit(t, f.alice, res(1, 1, 0))
		name := fmt.Sprintf("renamed-%d", i)
		var wg sync.WaitGroup
		var upErr, startErr error
		var started []rcq.Start
		wg.Go(func() {
			_, upErr = f.st.UpdatePendingJob(ctx, id, f.alice, rcq.JobUpdate{Name: &name}, func(*rcq.Job) error { return nil })
		})
		wg.Go(func() {
			started, startErr = f.st.StartJobs(ctx, lease, holder, []rcq.Start{{JobID: id, WorkerID: f.worker}})
		})
		wg.Wait()
		if startErr != nil {
			t.Fatalf("start: %v", startErr)
		}
		j := f.job(t, id)
		if len(started) == 0 { // the start skipped the job the update had locked: it stays pending, changed
			if upErr != nil || j.State != rcq.JobPending || j.Name != name {
				t.Fatalf("round %d: start skipped, update %v, job %s %q", i, upErr, j.State, j.Name)
			}
			if _, err := f.st.CancelJob(ctx, id, 0); err != nil {
				t.Fatal(err)
			}
			continue
		}
		switch {
		case upErr == nil && j.Name != name:
			t.Fatalf("round %d: update reported done, but the job runs as %q", i, j.Name)
		case upErr != nil && (rcq.CodeOf(upErr) != "job_not_pending" || j.Name == name):
			t.Fatalf("round %d: update refused with %v, job name %q", i, upErr, j.Name)
		}
		zero := 0
		if err := f.st.FinishJob(ctx, rcq.Outcome{JobID: id, State: rcq.JobCompleted, ExitCode: &zero}); err != nil {
			t.Fatal(err)
		}
	}
}

package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// capped is the fixture's database through a store with pending caps.
func (f *fixture) capped(t *testing.T, perUser, total int) *store.Store {
	t.Helper()
	st, err := store.Open(ctxT(t), f.url, store.Options{MaxConns: 20, MaxPendingPerUser: perUser, MaxPendingTotal: total})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	return st
}

func (f *fixture) pending(t *testing.T, owner rcq.UserID) int {
	t.Helper()
	return f.count(t, `SELECT count(*) FROM jobs WHERE status = 'pending' AND ($1 = 0 OR user_id = $1)`, owner)
}

func isCode(err error, code string) bool {
	var e *rcq.Error
	return errors.As(err, &e) && e.Kind == rcq.KindRateLimited && e.Code == code
}

// TestPendingCapPerUser: alice at her cap is refused (429
// too_many_pending_jobs, nothing stored) by every kind of submit, while bob
// still submits; once one of her jobs starts or is cancelled she has room
// again (her pending jobs are counted, not an estimate trusted blindly).
func TestPendingCapPerUser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	st := f.capped(t, 3, 0)
	var ids []rcq.JobID
	for range 3 {
		id, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	withKey := f.newJob(f.alice, res(1, 1, 0))
	withDep := f.newJob(f.alice, res(1, 1, 0))
	withDep.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: ids[0]}}
	for name, try := range map[string]func() error{
		"single":          func() error { _, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), ""); return err },
		"idempotency key": func() error { _, _, err := st.CreateJob(ctx, withKey, "key-1"); return err },
		"dependency":      func() error { _, _, err := st.CreateJob(ctx, withDep, ""); return err },
		"batch":           func() error { _, err := st.CreateJobs(ctx, []*rcq.Job{f.newJob(f.alice, res(1, 1, 0))}); return err },
	} {
		err := try()
		if !isCode(err, "too_many_pending_jobs") {
			t.Fatalf("%s submit at the cap: %v, want 429 too_many_pending_jobs", name, err)
		}
		if msg := rcq.MessageOf(err); msg != "pending jobs: this account has 3 and may have at most 3 (jobs.max_pending_per_user); 1 more would pass it: cancel some or wait for them to start" {
			t.Errorf("%s: message %q", name, msg)
		}
	}
	if n := f.pending(t, f.alice); n != 3 {
		t.Fatalf("alice has %d pending jobs after refusals, want 3", n)
	}
	if _, _, err := st.CreateJob(ctx, f.newJob(f.bob, res(1, 1, 0)), ""); err != nil {
		t.Fatalf("bob's submit while alice is at her cap: %v", err)
	}

	// A start and a cancel make room: 3 counted before, 1 now.
	f.start(t, ids[0])
	if _, err := st.CancelJob(ctx, ids[1], f.alice); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), ""); err != nil {
			t.Fatalf("submit %d after a start and a cancel: %v", i, err)
		}
	}
	if _, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), ""); !isCode(err, "too_many_pending_jobs") {
		t.Fatalf("fourth submit: %v, want too_many_pending_jobs", err)
	}
}

// TestPendingCapIdempotentReplayAtCap: a retry of a submit already stored
// returns its job even when the account is at its cap.
func TestPendingCapIdempotentReplayAtCap(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	st := f.capped(t, 1, 0)
	id, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), "k")
	if err != nil {
		t.Fatal(err)
	}
	again, existed, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), "k")
	if err != nil || !existed || again != id {
		t.Fatalf("replay at the cap = %d %v %v, want %d existed", again, existed, err, id)
	}
}

// TestPendingCapConcurrent: 60 submits of one account racing for its last 5
// places (single, with idempotency keys, with dependencies, small batches):
// exactly 5 jobs are stored, the rest refused: within one rcqd the account's
// cap is exact (near it, submits count under the account's lock).
func TestPendingCapConcurrent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	const capacity = 20
	st := f.capped(t, capacity, 0)
	var first rcq.JobID
	for i := range capacity - 5 {
		id, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), "")
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = id
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := f.newJob(f.alice, res(1, 1, 0))
			var err error
			switch i % 4 {
			case 0:
				_, _, err = st.CreateJob(ctx, j, "")
			case 1:
				_, _, err = st.CreateJob(ctx, j, fmt.Sprintf("race-%d", i))
			case 2:
				j.Dependencies = []rcq.Dependency{{Type: rcq.AfterAny, JobID: first}}
				_, _, err = st.CreateJob(ctx, j, "")
			case 3:
				_, err = st.CreateJobs(ctx, []*rcq.Job{j})
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !isCode(err, "too_many_pending_jobs"):
			t.Errorf("racing submit: %v", err)
		}
	}
	if n := f.pending(t, f.alice); ok != 5 || n != capacity {
		t.Errorf("%d racing submits stored, alice has %d pending: want 5 and exactly the cap %d", ok, n, capacity)
	}
}

// TestPendingCapBatchCountsEveryJob: a batch that would take the account
// past its cap is refused whole, however it is chunked; one that fits is
// stored.
func TestPendingCapBatchCountsEveryJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	st := f.capped(t, 10, 0)
	for range 4 {
		if _, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), ""); err != nil {
			t.Fatal(err)
		}
	}
	chunks := func(sizes ...int) func() ([]*rcq.Job, error) {
		return func() ([]*rcq.Job, error) {
			if len(sizes) == 0 {
				return nil, nil
			}
			js := make([]*rcq.Job, sizes[0])
			for i := range js {
				js[i] = f.newJob(f.alice, res(1, 1, 0))
			}
			sizes = sizes[1:]
			return js, nil
		}
	}
	if _, err := st.CreateJobsFrom(ctx, chunks(7)); !isCode(err, "too_many_pending_jobs") {
		t.Fatalf("batch of 7 with 4 pending under a cap of 10: %v, want too_many_pending_jobs", err)
	}
	if _, err := st.CreateJobsFrom(ctx, chunks(3, 3, 1)); !isCode(err, "too_many_pending_jobs") {
		t.Fatalf("chunks of 3+3+1 with 4 pending under a cap of 10: %v, want too_many_pending_jobs", err)
	}
	if n := f.pending(t, f.alice); n != 4 {
		t.Fatalf("refused batches left alice %d pending jobs, want 4", n)
	}
	ids, err := st.CreateJobsFrom(ctx, chunks(3, 2, 1))
	if err != nil || len(ids) != 6 {
		t.Fatalf("chunks of 3+2+1 filling the cap: %v %v", ids, err)
	}
	if n := f.pending(t, f.alice); n != 10 {
		t.Errorf("alice has %d pending jobs, want 10", n)
	}
}

// TestPendingCapTotal: the cap over all accounts refuses everyone's submits
// with too_many_pending_jobs_total; concurrent submits of several accounts
// pass it by at most the submits committing together (fewer than the
// store's 20 connections), and a start makes room again.
func TestPendingCapTotal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	const total = 10
	st := f.capped(t, 0, total)
	users := []rcq.UserID{f.alice, f.bob, f.admin}
	var wg sync.WaitGroup
	errs := make(chan error, 90)
	for i := range 90 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := st.CreateJob(ctx, f.newJob(users[i%3], res(1, 1, 0)), "")
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !isCode(err, "too_many_pending_jobs_total"):
			t.Errorf("racing submit: %v", err)
		}
	}
	n := f.pending(t, 0)
	if ok != n || n < total || n > total+19 {
		t.Fatalf("%d submits stored, %d pending: want the cap %d, passed by less than the 20 connections", ok, n, total)
	}
	t.Logf("90 racing submits under a total cap of %d stored %d", total, n)
	if _, _, err := st.CreateJob(ctx, f.newJob(f.bob, res(1, 1, 0)), ""); !isCode(err, "too_many_pending_jobs_total") {
		t.Fatalf("submit at the total cap: %v, want too_many_pending_jobs_total", err)
	}
	// Start all but total-1: the next submit recounts and fits.
	rows, err := f.db.Query(ctx, `SELECT id FROM jobs WHERE status = 'pending' ORDER BY id LIMIT $1`, n-total+1)
	if err != nil {
		t.Fatal(err)
	}
	var start []rcq.JobID
	for rows.Next() {
		var id rcq.JobID
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		start = append(start, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, id := range start {
		f.exec(t, `UPDATE jobs SET status = 'running', worker_id = $2, started_at = now() WHERE id = $1`, id, f.worker)
	}
	// This process counted every pending job a moment ago and trusts that
	// count for a second; another rcqd (a fresh store) counts again.
	other := f.capped(t, 0, total)
	if _, _, err := other.CreateJob(ctx, f.newJob(f.bob, res(1, 1, 0)), ""); err != nil {
		t.Fatalf("submit after starts made room under the total cap: %v", err)
	}
	if _, _, err := other.CreateJob(ctx, f.newJob(f.bob, res(1, 1, 0)), ""); !isCode(err, "too_many_pending_jobs_total") {
		t.Fatalf("submit at the total cap again: %v, want too_many_pending_jobs_total", err)
	}
}

// TestJobMemoryNeverZero: the schema refuses a job without a memory limit,
// whatever a caller of the store forgets (the API fills in the default).
func TestJobMemoryNeverZero(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	j := f.newJob(f.alice, res(1, 0, 0))
	if _, _, err := f.st.CreateJob(ctx, j, ""); rcq.KindOf(err) != rcq.KindInvalid {
		t.Errorf("job with memory_gb 0: %v, want refused by the schema", err)
	}
	if _, err := f.st.CreateJobs(ctx, []*rcq.Job{f.newJob(f.alice, res(1, 1, 0)), j}); rcq.KindOf(err) != rcq.KindInvalid {
		t.Errorf("batch with a memory_gb 0 job: %v, want refused by the schema", err)
	}
	if n := f.pending(t, 0); n != 0 {
		t.Errorf("%d jobs stored", n)
	}
}

// TestBatchHoldsNoLockWhileArriving: while a batch's chunks are still
// arriving, its account's count lock is not held, so the account's other
// submits (each holding a connection while it waits) are not queued behind
// a slow upload; the batch is counted when it is complete.
func TestBatchHoldsNoLockWhileArriving(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	st := f.capped(t, 5, 0)
	if _, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), ""); err != nil {
		t.Fatal(err)
	}
	calls := 0
	_, err := st.CreateJobsFrom(ctx, func() ([]*rcq.Job, error) {
		calls++
		switch calls {
		case 1:
			return []*rcq.Job{f.newJob(f.alice, res(1, 1, 0)), f.newJob(f.alice, res(1, 1, 0))}, nil
		case 2: // the first chunk is in, the transaction open
			var free bool
			if err := f.db.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2::integer)`, 0x72637170, int64(f.alice)).Scan(&free); err != nil || !free {
				return nil, fmt.Errorf("alice's count lock is held while her batch arrives: %v %v", free, err)
			}
			if _, err := f.db.Exec(ctx, `SELECT pg_advisory_unlock($1, $2::integer)`, 0x72637170, int64(f.alice)); err != nil {
				return nil, err
			}
			if _, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), ""); err != nil {
				return nil, fmt.Errorf("alice's submit while her batch arrives: %w", err)
			}
			return []*rcq.Job{f.newJob(f.alice, res(1, 1, 0))}, nil
		}
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// 1 + 1 (the submit during the batch) + 3 (the batch) = 5, the cap.
	if n := f.pending(t, f.alice); n != 5 {
		t.Errorf("alice has %d pending jobs, want 5", n)
	}
	_, err = st.CreateJobs(ctx, []*rcq.Job{f.newJob(f.alice, res(1, 1, 0))})
	if !isCode(err, "too_many_pending_jobs") {
		t.Errorf("batch past the cap: %v", err)
	}
}

// TestPendingCapFastThenCounted: far below the cap submits skip the count
// (one INSERT each), near it they count; either way the account stops
// exactly at the cap, and another account is not held back.
func TestPendingCapFastThenCounted(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	const capacity = 150 // nearMargin (100) below it, submits count
	st := f.capped(t, capacity, 0)
	for i := range capacity {
		if _, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), ""); err != nil {
			t.Fatalf("submit %d of %d: %v", i+1, capacity, err)
		}
	}
	if _, _, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), ""); !isCode(err, "too_many_pending_jobs") {
		t.Fatalf("submit past the cap: %v, want too_many_pending_jobs", err)
	}
	if n := f.pending(t, f.alice); n != capacity {
		t.Errorf("alice has %d pending jobs, want the cap %d", n, capacity)
	}
	if _, _, err := st.CreateJob(ctx, f.newJob(f.bob, res(1, 1, 0)), ""); err != nil {
		t.Errorf("bob's submit: %v", err)
	}
}

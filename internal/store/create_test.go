package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// eachKeyedPath runs test on each way CreateJob stores a job under an
// idempotency key: one statement far below the pending caps (the fixture's
// store has none), and a counting transaction near them (a cap of 50 is
// always near: every submit counts).
func eachKeyedPath(t *testing.T, test func(t *testing.T, f *fixture, st *store.Store)) {
	for _, path := range []string{"one statement", "counting transaction"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			st := f.st
			if path == "counting transaction" {
				st = f.capped(t, 50, 0)
			}
			test(t, f, st)
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	eachKeyedPath(t, func(t *testing.T, f *fixture, st *store.Store) {
		ctx := ctxT(t)
		first, existed, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), "key-1")
		if err != nil || existed {
			t.Fatalf("first create: %d %v %v", first, existed, err)
		}
		again, existed, err := st.CreateJob(ctx, f.newJob(f.alice, res(2, 2, 0)), "key-1")
		if err != nil || !existed || again != first {
			t.Fatalf("replay: id %d existed %v err %v, want %d true", again, existed, err, first)
		}
		if n := f.count(t, `SELECT count(*) FROM jobs`); n != 1 {
			t.Fatalf("%d jobs after a replay, want 1", n)
		}
		// Another user's identical key is independent.
		bobs, existed, err := st.CreateJob(ctx, f.newJob(f.bob, res(1, 1, 0)), "key-1")
		if err != nil || existed || bobs == first {
			t.Fatalf("bob with alice's key: id %d existed %v err %v", bobs, existed, err)
		}
		if j := f.job(t, bobs); j.UserID != f.bob {
			t.Errorf("bob's job belongs to %d", j.UserID)
		}
		// A key older than 24 hours starts over.
		f.exec(t, `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1`, f.alice)
		fresh, existed, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), "key-1")
		if err != nil || existed || fresh == first {
			t.Fatalf("expired key: id %d existed %v err %v, want a new job", fresh, existed, err)
		}
		replay, existed, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), "key-1")
		if err != nil || !existed || replay != fresh {
			t.Fatalf("replay of the renewed key: %d %v %v, want %d", replay, existed, err, fresh)
		}
	})
}

func TestIdempotencyKeyConcurrent(t *testing.T) {
	t.Parallel()
	eachKeyedPath(t, func(t *testing.T, f *fixture, st *store.Store) {
		ctx := ctxT(t)
		const n = 16
		ids := make([]rcq.JobID, n)
		errs := make([]error, n)
		created := make([]bool, n)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				var existed bool
				ids[i], existed, errs[i] = st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), "same-key")
				created[i] = !existed
			}()
		}
		close(gate)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("request %d: %v", i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Fatalf("ids differ: %v", ids)
			}
		}
		if c := len(slices.DeleteFunc(slices.Clone(created), func(b bool) bool { return !b })); c != 1 {
			t.Errorf("%d requests reported creating the job, want 1", c)
		}
		if c := f.count(t, `SELECT count(*) FROM jobs`); c != 1 {
			t.Errorf("%d jobs stored for one key, want 1", c)
		}
	})
}

// TestIdempotencyKeyClaimedMeanwhile: a submit whose key another
// transaction holds uncommitted waits for it and answers with that
// transaction's job, storing none of its own (the race the concurrent test
// may or may not produce, made certain).
func TestIdempotencyKeyClaimedMeanwhile(t *testing.T) {
	t.Parallel()
	eachKeyedPath(t, func(t *testing.T, f *fixture, st *store.Store) {
		ctx := ctxT(t)
		tx, err := f.db.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		var theirs rcq.JobID
		if err := tx.QueryRow(ctx, `INSERT INTO jobs (user_id, group_id, script, cpu_cores, memory_gb, gpu_count, estimated_hours, priority)
				VALUES ($1, $2, 'x', 1, 1, 0, 1, 1) RETURNING id`, f.alice, f.group).Scan(&theirs); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (user_id, key, job_id) VALUES ($1, 'k', $2)`, f.alice, theirs); err != nil {
			t.Fatal(err)
		}
		type result struct {
			id      rcq.JobID
			existed bool
			err     error
		}
		done := make(chan result, 1)
		go func() {
			id, existed, err := st.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), "k")
			done <- result{id, existed, err}
		}()
		// The submit is waiting on the key's row lock before the commit.
		for f.count(t, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%idempotency_keys%'`) == 0 {
			select {
			case r := <-done:
				t.Fatalf("the submit did not wait for the uncommitted key: %+v", r)
			case <-time.After(10 * time.Millisecond):
			}
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || !r.existed || r.id != theirs {
			t.Fatalf("got job %d existed %v err %v, want the concurrent transaction's job %d", r.id, r.existed, r.err, theirs)
		}
		if n := f.count(t, `SELECT count(*) FROM jobs`); n != 1 {
			t.Errorf("%d jobs stored, want only the concurrent transaction's", n)
		}
	})
}

func TestCreateJobsBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	var js []*rcq.Job
	for i := range 50 {
		j := f.newJob(f.alice, res(1+i%3, 1, 0))
		js = append(js, j)
	}
	ids, err := f.st.CreateJobs(ctx, js)
	if err != nil || len(ids) != len(js) {
		t.Fatalf("batch: %d ids, %v", len(ids), err)
	}
	for i, id := range ids {
		j := f.job(t, id)
		if j.Name != js[i].Name || j.Resources != js[i].Resources || j.State != rcq.JobPending || j.UserID != f.alice {
			t.Fatalf("ids[%d] = %d is %+v, want job named %s", i, id, j, js[i].Name)
		}
		if i > 0 && id <= ids[i-1] {
			t.Errorf("ids not increasing: %v", ids)
		}
	}
	// A later single submit gets an id after the batch.
	next := f.submit(t, f.alice, res(1, 1, 0))
	if next <= ids[len(ids)-1] {
		t.Errorf("job after the batch got id %d, batch ended at %d", next, ids[len(ids)-1])
	}

	// All or nothing: a bad dependency in the middle stores nothing.
	before := f.count(t, `SELECT count(*) FROM jobs`)
	bad := []*rcq.Job{f.newJob(f.alice, res(1, 1, 0)), f.newJob(f.alice, res(1, 1, 0)), f.newJob(f.alice, res(1, 1, 0))}
	bad[1].Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: 999999}}
	if _, err := f.st.CreateJobs(ctx, bad); rcq.KindOf(err) != rcq.KindInvalid || !strings.HasPrefix(rcq.MessageOf(err), "jobs[1].") {
		t.Fatalf("batch with a missing dependency: %v (%q), want invalid naming jobs[1]", err, rcq.MessageOf(err))
	}
	// A dependency on another user's job is just as missing.
	bad[1].Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: f.submit(t, f.bob, res(1, 1, 0))}}
	before++
	if _, err := f.st.CreateJobs(ctx, bad); rcq.KindOf(err) != rcq.KindInvalid {
		t.Fatalf("batch depending on another user's job: %v, want invalid", err)
	}
	if after := f.count(t, `SELECT count(*) FROM jobs`); after != before {
		t.Errorf("failed batches stored %d jobs", after-before)
	}
	// A good batch with dependencies stores them.
	dep := f.newJob(f.alice, res(1, 1, 0))
	dep.Dependencies = []rcq.Dependency{{Type: rcq.AfterAny, JobID: ids[0]}}
	got, err := f.st.CreateJobs(ctx, []*rcq.Job{dep})
	if err != nil {
		t.Fatal(err)
	}
	if j := f.job(t, got[0]); len(j.Dependencies) != 1 || j.Dependencies[0] != (rcq.Dependency{Type: rcq.AfterAny, JobID: ids[0]}) {
		t.Errorf("batch job's dependencies = %v", j.Dependencies)
	}
}

func TestCreateJobDependencies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	a := f.submit(t, f.alice, res(1, 1, 0))
	j := f.newJob(f.alice, res(1, 1, 0))
	j.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: a}, {Type: rcq.AfterNotOK, JobID: a}}
	id, _, err := f.st.CreateJob(ctx, j, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := f.job(t, id).Dependencies; len(got) != 2 {
		t.Errorf("dependencies = %v", got)
	}
	j = f.newJob(f.bob, res(1, 1, 0))
	j.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: a}}
	_, _, err = f.st.CreateJob(ctx, j, "")
	wantKind(t, err, rcq.KindInvalid, "invalid_dependencies")
	if n := f.count(t, `SELECT count(*) FROM jobs WHERE user_id = $1`, f.bob); n != 0 {
		t.Errorf("a refused submit stored %d jobs", n)
	}
}

func TestListenReceivesCommittedEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	events := make(chan rcq.Event, 64)
	ready := make(chan struct{}, 1)
	stopped := make(chan error, 1)
	go func() {
		stopped <- f.st.Listen(ctx, func(ev rcq.Event) { events <- ev }, func() { ready <- struct{}{} })
	}()
	defer func() {
		cancel()
		<-stopped
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("Listen never became ready")
	}
	id := f.submit(t, f.alice, res(1, 1, 0))
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Kind == rcq.EventJobSubmitted && ev.JobID == id {
				// A cancel of a pending job wakes the scheduler too.
				if _, err := f.st.CancelJob(ctx, id, 0); err != nil {
					t.Fatal(err)
				}
				for {
					select {
					case ev := <-events:
						if ev.Kind == rcq.EventJobEnded && ev.JobID == id {
							return
						}
					case <-timeout:
						t.Fatal("no job_ended event after a cancel")
					}
				}
			}
		case <-timeout:
			t.Fatalf("no job_submitted event for job %d", id)
		}
	}
}

func TestListenStopsWithContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	ready := make(chan struct{}, 1)
	stopped := make(chan error, 1)
	go func() { stopped <- f.st.Listen(ctx, func(rcq.Event) {}, func() { ready <- struct{}{} }) }()
	<-ready
	cancel()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Listen returned %v after its context ended", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Listen did not return after its context ended")
	}
}

// Strings that would break a query built by pasting values into SQL.
var nasty = []string{`o'brien`, `x'; DROP TABLE jobs; --`, `-- comment`, `$1`, `$tag$ body $tag$`, `\'\\`, `%s %d %v`}

func TestStringsStoredLiterally(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	for i, s := range nasty {
		email := fmt.Sprintf("u%d.%s@example.org", i, s)
		uid, err := f.st.CreateUser(ctx, rcq.User{Email: email, GroupID: 1}, s)
		if err != nil {
			t.Fatalf("create user %q: %v", email, err)
		}
		u, hash, err := f.st.UserByEmail(ctx, email)
		if err != nil || u.ID != uid || u.Email != email || hash != s {
			t.Errorf("user %q read back as %+v hash %q err %v", email, u, hash, err)
		}
		gid, err := f.st.CreateGroup(ctx, rcq.Group{Name: "g" + s, CPUQuota: 1, Priority: 1})
		if err != nil {
			t.Fatalf("create group %q: %v", s, err)
		}
		if g, err := f.st.GroupByID(ctx, gid); err != nil || g.Name != "g"+s {
			t.Errorf("group %q read back as %+v %v", s, g, err)
		}
		j := f.newJob(uid, res(1, 1, 0))
		j.Name, j.Script = s, "#!/bin/sh\necho '"+s+"'\n"+s
		j.Args, j.Env = []string{s, "{" + s + "}"}, []string{"K=" + s}
		j.WorkingDir, j.Output = "/tmp/"+s, s
		id, _, err := f.st.CreateJob(ctx, j, s)
		if err != nil {
			t.Fatalf("create job named %q: %v", s, err)
		}
		got := f.job(t, id)
		if got.Name != j.Name || got.Script != j.Script || !slices.Equal(got.Args, j.Args) ||
			!slices.Equal(got.Env, j.Env) || got.WorkingDir != j.WorkingDir || got.Output != j.Output || got.UserEmail != email {
			t.Errorf("job with %q read back changed: %+v", s, got)
		}
		list, err := f.st.ListJobs(ctx, rcq.JobFilter{Name: s})
		if err != nil || len(list) != 1 || list[0].ID != id {
			t.Errorf("ListJobs(name=%q) = %d jobs, %v", s, len(list), err)
		}
		if again, existed, err := f.st.CreateJob(ctx, f.newJob(uid, res(1, 1, 0)), s); err != nil || !existed || again != id {
			t.Errorf("idempotency key %q replay: %d %v %v", s, again, existed, err)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM jobs`); n != len(nasty) {
		t.Errorf("%d jobs, want %d: a string was interpreted as SQL", n, len(nasty))
	}
}

func TestListJobsFilter(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	a1 := f.submit(t, f.alice, res(1, 1, 0))
	a2 := f.submit(t, f.alice, res(1, 1, 0))
	b1 := f.submit(t, f.bob, res(1, 1, 0))
	f.start(t, a2)
	if _, err := f.st.CancelJob(ctx, a1, 0); err != nil {
		t.Fatal(err)
	}
	ids := func(js []rcq.Job, err error) []rcq.JobID {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []rcq.JobID
		for _, j := range js {
			out = append(out, j.ID)
		}
		return out
	}
	cases := []struct {
		f    rcq.JobFilter
		want []rcq.JobID
	}{
		{rcq.JobFilter{}, []rcq.JobID{a1, a2, b1}},
		{rcq.JobFilter{UserID: f.alice}, []rcq.JobID{a1, a2}},
		{rcq.JobFilter{UserID: f.alice, NewestFirst: true}, []rcq.JobID{a2, a1}},
		{rcq.JobFilter{States: []rcq.JobState{rcq.JobPending, rcq.JobRunning}}, []rcq.JobID{a2, b1}},
		{rcq.JobFilter{IDs: []rcq.JobID{a1, b1}}, []rcq.JobID{a1, b1}},
		{rcq.JobFilter{IDs: []rcq.JobID{a1, b1}, UserID: f.bob}, []rcq.JobID{b1}},
		{rcq.JobFilter{Limit: 2}, []rcq.JobID{a1, a2}},
		{rcq.JobFilter{Since: time.Now().Add(time.Hour)}, nil},
		{rcq.JobFilter{UserID: -1}, nil},
	}
	for _, c := range cases {
		if got := ids(f.st.ListJobs(ctx, c.f)); !slices.Equal(got, c.want) {
			t.Errorf("ListJobs(%+v) = %v, want %v", c.f, got, c.want)
		}
	}
	q, err := f.st.QueueJobs(ctx, rcq.QueueFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(q, nil); !slices.Equal(got, []rcq.JobID{a2, b1}) {
		t.Errorf("QueueJobs = %v, want pending and running %v", got, []rcq.JobID{a2, b1})
	}
	// A second running job: each row keeps its own start time (no aliasing between rows).
	b2 := f.submit(t, f.bob, res(1, 1, 0))
	f.exec(t, `UPDATE jobs SET submitted_at = submitted_at - interval '1 hour' WHERE id = $1`, b2)
	f.start(t, b2)
	f.exec(t, `UPDATE jobs SET started_at = started_at - interval '1 minute' WHERE id = $1`, a2)
	q2, err := f.st.QueueJobs(ctx, rcq.QueueFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range q2 {
		if want := f.job(t, j.ID).StartedAt; (want == nil) != (j.StartedAt == nil) || want != nil && !want.Equal(*j.StartedAt) {
			t.Errorf("QueueJobs: job %d started_at %v, stored %v", j.ID, j.StartedAt, want)
		}
	}
	for _, j := range q {
		if j.ID == a2 && (j.StartedAt == nil || j.WorkerName != "w1") {
			t.Errorf("running job in queue: started %v worker %q", j.StartedAt, j.WorkerName)
		}
		if j.ID == b1 && j.StartedAt != nil {
			t.Errorf("pending job in queue has started_at %v (leaked from the previous row)", j.StartedAt)
		}
	}
}

func TestUsersAndGroups(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	_, err := f.st.CreateUser(ctx, rcq.User{Email: "ALICE@example.org", GroupID: 1}, "h")
	wantKind(t, err, rcq.KindConflict, "email_taken")
	_, err = f.st.CreateUser(ctx, rcq.User{Email: "carol@example.org", GroupID: 77}, "h")
	wantKind(t, err, rcq.KindNotFound, "group_not_found")
	if u, _, err := f.st.UserByEmail(ctx, "Alice@Example.org"); err != nil || u.ID != f.alice {
		t.Errorf("case-insensitive lookup: %+v %v", u, err)
	}
	_, _, err = f.st.UserByEmail(ctx, "nobody@example.org")
	wantKind(t, err, rcq.KindNotFound, "")

	// Token versions: logout and password change each bump it.
	u, _, _ := f.st.UserByID(ctx, f.alice)
	if err := f.st.BumpTokenVersion(ctx, f.alice); err != nil {
		t.Fatal(err)
	}
	if err := f.st.SetPassword(ctx, f.alice, "new-hash"); err != nil {
		t.Fatal(err)
	}
	u2, hash, _ := f.st.UserByID(ctx, f.alice)
	if u2.TokenVersion != u.TokenVersion+2 || hash != "new-hash" {
		t.Errorf("token version %d -> %d, hash %q", u.TokenVersion, u2.TokenVersion, hash)
	}
	wantKind(t, f.st.SetPassword(ctx, 9999, "x"), rcq.KindNotFound, "")
	wantKind(t, f.st.BumpTokenVersion(ctx, 9999), rcq.KindNotFound, "")

	// Patches.
	yes := true
	g := rcq.GroupID(1)
	if u, err := f.st.UpdateUser(ctx, f.bob, rcq.UserPatch{IsAdmin: &yes}); err != nil || !u.IsAdmin || u.GroupID != 1 {
		t.Errorf("make bob admin: %+v %v", u, err)
	}
	missing := rcq.GroupID(77)
	_, err = f.st.UpdateUser(ctx, f.bob, rcq.UserPatch{GroupID: &missing})
	wantKind(t, err, rcq.KindNotFound, "group_not_found")
	_, err = f.st.UpdateUser(ctx, 9999, rcq.UserPatch{GroupID: &g})
	wantKind(t, err, rcq.KindNotFound, "user_not_found")

	_, err = f.st.CreateGroup(ctx, rcq.Group{Name: "default", CPUQuota: 1, Priority: 1})
	wantKind(t, err, rcq.KindConflict, "group_exists")
	q, p := 5.0, 7
	if g, err := f.st.UpdateGroup(ctx, 1, &q, &p); err != nil || g.CPUQuota != 5 || g.Priority != 7 {
		t.Errorf("update group: %+v %v", g, err)
	}
	_, err = f.st.UpdateGroup(ctx, 77, &q, nil)
	wantKind(t, err, rcq.KindNotFound, "group_not_found")
	bad := 11
	_, err = f.st.UpdateGroup(ctx, 1, nil, &bad)
	wantKind(t, err, rcq.KindInvalid, "")

	// EnsureDefaultGroup is idempotent and keeps the identity ahead.
	if err := f.st.EnsureDefaultGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if gs, err := f.st.Groups(ctx); err != nil || len(gs) != 1 {
		t.Errorf("groups after a second EnsureDefaultGroup: %v %v", gs, err)
	}
	if id, err := f.st.CreateGroup(ctx, rcq.Group{Name: "second", CPUQuota: 1, Priority: 1}); err != nil || id != 2 {
		t.Errorf("group after the default got id %d, %v", id, err)
	}
}

func TestWorkers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	// Registering again updates and keeps the id; a drained worker stays drained.
	drained := rcq.WorkerDrained
	if _, err := f.st.UpdateWorker(ctx, f.worker, rcq.WorkerPatch{State: &drained}); err != nil {
		t.Fatal(err)
	}
	id, err := f.st.RegisterWorker(ctx, rcq.Worker{Name: "w1", Node: "node1", Capacity: res(16, 64, 4)})
	if err != nil || id != f.worker {
		t.Fatalf("re-register: %d %v", id, err)
	}
	w, _ := f.st.WorkerByID(ctx, id)
	if w.Capacity != res(16, 64, 4) || w.State != rcq.WorkerDrained {
		t.Errorf("re-registered worker: %+v", w)
	}
	_, err = f.st.CreateWorker(ctx, rcq.Worker{Name: "w1", Node: "n", Capacity: res(1, 1, 0), State: rcq.WorkerOnline})
	wantKind(t, err, rcq.KindConflict, "worker_exists")
	_, err = f.st.UpdateWorker(ctx, 4242, rcq.WorkerPatch{State: &drained})
	wantKind(t, err, rcq.KindNotFound, "worker_not_found")

	// LargestFit skips offline workers and names the largest otherwise.
	fits, largest, err := f.st.LargestFit(ctx, res(16, 64, 4))
	if err != nil || !fits {
		t.Errorf("16/64/4 on a 16/64/4 worker: %v %v %v", fits, largest, err)
	}
	fits, largest, err = f.st.LargestFit(ctx, res(17, 1, 0))
	if err != nil || fits || largest == nil || largest.Name != "w1" {
		t.Errorf("17 cores: %v %+v %v", fits, largest, err)
	}
	f.exec(t, `UPDATE workers SET last_heartbeat = now() - interval '1 hour', status = 'online'`)
	if n, err := f.st.MarkStaleWorkersOffline(ctx, time.Minute); err != nil || n != 1 {
		t.Errorf("stale workers marked: %d %v", n, err)
	}
	if fits, largest, err := f.st.LargestFit(ctx, res(1, 1, 0)); err != nil || fits || largest != nil {
		t.Errorf("with only an offline worker: %v %v %v", fits, largest, err)
	}
	if err := f.st.Heartbeat(ctx, "node1"); err != nil {
		t.Fatal(err)
	}
	if w, _ := f.st.WorkerByID(ctx, id); w.State != rcq.WorkerOnline {
		t.Errorf("after a heartbeat the worker is %s", w.State)
	}
}

// A patch the schema refuses is an invalid-input error, whichever field broke it.
func TestUpdateUserRefusedByTheSchema(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	long := strings.Repeat("u", 40) // the schema allows 32
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("UpdateUser with a too-long unix_user panicked: %v", v)
			}
		}()
		_, err = f.st.UpdateUser(ctx, f.alice, rcq.UserPatch{UnixUser: &long})
	}()
	wantKind(t, err, rcq.KindInvalid, "")
	// With a valid group in the same patch, the error still blames the right field.
	g := rcq.GroupID(1)
	_, err = f.st.UpdateUser(ctx, f.alice, rcq.UserPatch{GroupID: &g, UnixUser: &long})
	wantKind(t, err, rcq.KindInvalid, "")
	if u, _, _ := f.st.UserByID(ctx, f.alice); u.UnixUser != "" {
		t.Errorf("unix_user = %q after a refused patch", u.UnixUser)
	}
}

func TestUpdateUserKeepsLastAdmin(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	no, yes := false, true
	_, err := f.st.UpdateUser(ctx, f.admin, rcq.UserPatch{IsAdmin: &no})
	wantKind(t, err, rcq.KindConflict, "last_admin")
	if _, err := f.st.UpdateUser(ctx, f.alice, rcq.UserPatch{IsAdmin: &yes}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.UpdateUser(ctx, f.admin, rcq.UserPatch{IsAdmin: &no}); err != nil {
		t.Fatalf("demote one of two admins: %v", err)
	}
	_, err = f.st.UpdateUser(ctx, f.alice, rcq.UserPatch{IsAdmin: &no})
	wantKind(t, err, rcq.KindConflict, "last_admin")
}

// TestAnnouncedEventsReachTheHookOnce: with an OnAnnounce hook, a Store's
// own announcements reach the hook at once and are not delivered again by
// its Listen; every other rcqd (Store) hears them over LISTEN, and this
// Store hears theirs. A held submit says so (no cycle needs to run).
func TestAnnouncedEventsReachTheHookOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	a, b := f.st, open(t, f.url)
	hooked := make(chan rcq.Event, 64)
	a.OnAnnounce(func(ev rcq.Event) { hooked <- ev })
	listen := func(st *store.Store) chan rcq.Event {
		events, ready, stopped := make(chan rcq.Event, 64), make(chan struct{}, 1), make(chan error, 1)
		go func() { stopped <- st.Listen(ctx, func(ev rcq.Event) { events <- ev }, func() { ready <- struct{}{} }) }()
		t.Cleanup(func() { cancel(); <-stopped })
		select {
		case <-ready:
		case <-time.After(30 * time.Second):
			t.Fatal("Listen never became ready")
		}
		return events
	}
	heardA, heardB := listen(a), listen(b)
	next := func(ch chan rcq.Event, what string) rcq.Event {
		t.Helper()
		select {
		case ev := <-ch:
			return ev
		case <-time.After(30 * time.Second):
			t.Fatalf("no event: %s", what)
			return rcq.Event{}
		}
	}

	j := f.newJob(f.alice, res(1, 1, 0))
	j.Hold = rcq.HoldUser
	id, _, err := a.CreateJob(ctx, j, "")
	if err != nil {
		t.Fatal(err)
	}
	own := next(hooked, "the hook for a's submit")
	if own.Kind != rcq.EventJobSubmitted || own.JobID != id || !own.Held || own.Origin == "" {
		t.Fatalf("hook got %+v, want job %d submitted held, with a's origin", own, id)
	}
	if ev := next(heardB, "b hearing a's submit"); ev != own {
		t.Fatalf("b heard %+v, want %+v", ev, own)
	}
	// b's NOTIFY commits after a's: a's Listen hears it next, having
	// skipped its own.
	if err := b.Notify(ctx, rcq.Event{Kind: rcq.EventWorkerChanged, Node: "sentinel"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(heardA, "a hearing b's notify"); ev.Node != "sentinel" {
		t.Fatalf("a's Listen delivered %+v, its own announcement again", ev)
	}

	// b's own (unheld) submit: a hears it, its hook does not.
	id2, _, err := b.CreateJob(ctx, f.newJob(f.alice, res(1, 1, 0)), "")
	if err != nil {
		t.Fatal(err)
	}
	if ev := next(heardA, "a hearing b's submit"); ev.Kind != rcq.EventJobSubmitted || ev.JobID != id2 || ev.Held || ev.Origin == own.Origin {
		t.Fatalf("a heard %+v, want job %d submitted by another origin", ev, id2)
	}
	select {
	case ev := <-hooked:
		t.Fatalf("a's hook got %+v, another Store's event", ev)
	default:
	}
}

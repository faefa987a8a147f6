package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// fixture is a fresh database seeded as rcqd's bootstrap seeds it: the default
// group, one worker (8 cores, 32 GB, 2 GPUs) and three accounts. db is a raw
// connection pool for checking rows the store's API does not show.
type fixture struct {
	st     *store.Store
	db     *pgxpool.Pool
	url    string
	group  rcq.GroupID
	worker rcq.WorkerID
	admin  rcq.UserID
	alice  rcq.UserID
	bob    rcq.UserID
}

const (
	lease  = "scheduler"
	holder = "rcqd-test"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func open(t *testing.T, url string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), url, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(st.Close)
	return st
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := ctxT(t)
	url := dbtest.URL(t)
	f := &fixture{st: open(t, url), url: url, group: 1}
	var err error
	if f.db, err = pgxpool.New(ctx, url); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.db.Close)
	if err := f.st.EnsureDefaultGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if f.worker, err = f.st.RegisterWorker(ctx, rcq.Worker{Name: "w1", Node: "node1",
		Capacity: rcq.Resources{CPUCores: 8, MemoryGB: 32, GPUs: 2}}); err != nil {
		t.Fatal(err)
	}
	// node1's rcqd is up: the scheduler places jobs only on nodes whose
	// rcqd holds the node's lease.
	if ok, err := f.st.AcquireLease(ctx, store.NodeLease("node1"), nodeHolder, time.Hour); err != nil || !ok {
		t.Fatalf("take node1's lease: %v %v", ok, err)
	}
	f.admin = f.user(t, "admin@localhost", true)
	f.alice = f.user(t, "alice@example.org", false)
	f.bob = f.user(t, "bob@example.org", false)
	return f
}

func (f *fixture) user(t *testing.T, email string, admin bool) rcq.UserID {
	t.Helper()
	id, err := f.st.CreateUser(ctxT(t), rcq.User{Email: email, GroupID: f.group, IsAdmin: admin}, "hash-"+email)
	if err != nil {
		t.Fatalf("create user %s: %v", email, err)
	}
	return id
}

var jobSeq atomic.Int64

// job is a valid pending job of owner with the given resources.
func (f *fixture) newJob(owner rcq.UserID, r rcq.Resources) *rcq.Job {
	return &rcq.Job{UserID: owner, GroupID: f.group, Name: fmt.Sprintf("job%d", jobSeq.Add(1)),
		Script: "#!/bin/sh\necho hi\n", Resources: r, EstimatedHours: 1, Priority: 1}
}

func (f *fixture) submit(t *testing.T, owner rcq.UserID, r rcq.Resources) rcq.JobID {
	t.Helper()
	id, existed, err := f.st.CreateJob(ctxT(t), f.newJob(owner, r), "")
	if err != nil || existed {
		t.Fatalf("create job: id %d existed %v err %v", id, existed, err)
	}
	return id
}

func (f *fixture) takeLease(t *testing.T) {
	t.Helper()
	ok, err := f.st.AcquireLease(ctxT(t), lease, holder, time.Minute)
	if err != nil || !ok {
		t.Fatalf("acquire lease: %v %v", ok, err)
	}
}

// start starts job id on the fixture's worker and fails unless it took effect.
func (f *fixture) start(t *testing.T, id rcq.JobID, gpus ...int) {
	t.Helper()
	f.takeLease(t)
	done, err := f.st.StartJobs(ctxT(t), lease, holder, []rcq.Start{{JobID: id, WorkerID: f.worker, GPUIndices: gpus}})
	if err != nil || len(done) != 1 {
		t.Fatalf("start job %d: done %v err %v", id, done, err)
	}
}

func (f *fixture) job(t *testing.T, id rcq.JobID) *rcq.Job {
	t.Helper()
	j, err := f.st.JobByID(ctxT(t), id, 0)
	if err != nil {
		t.Fatalf("job %d: %v", id, err)
	}
	return j
}

func (f *fixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.db.QueryRow(ctxT(t), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.db.Exec(ctxT(t), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func wantKind(t *testing.T, err error, kind rcq.Kind, code string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v %q", kind, code)
	}
	if rcq.KindOf(err) != kind || code != "" && rcq.CodeOf(err) != code {
		t.Fatalf("got %v (kind %v, code %q), want kind %v code %q", err, rcq.KindOf(err), rcq.CodeOf(err), kind, code)
	}
}

func isLeaseLost(err error) bool { return errors.Is(err, store.ErrLeaseLost) }

func res(cpu, mem, gpu int) rcq.Resources {
	return rcq.Resources{CPUCores: cpu, MemoryGB: mem, GPUs: gpu}
}

// listen hears the store's events (Store.Listen) from the moment it
// returns until the test ends.
func (f *fixture) listen(t *testing.T, ctx context.Context) <-chan rcq.Event {
	t.Helper()
	lctx, stop := context.WithCancel(ctx)
	events := make(chan rcq.Event, 16)
	ready := make(chan struct{}, 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = f.st.Listen(lctx, func(ev rcq.Event) { events <- ev }, func() { ready <- struct{}{} })
	}()
	t.Cleanup(func() { stop(); <-stopped })
	<-ready
	return events
}

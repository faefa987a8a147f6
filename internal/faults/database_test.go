package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/pgserver"
	"github.com/rcq-project/rcq/internal/rcq"
)

// ownCluster starts a PostgreSQL cluster only this test controls, stopped
// at the end of the test.
func ownCluster(t testing.TB) (dir string, srv *pgserver.Server) {
	t.Helper()
	dir, err := os.MkdirTemp(suite.root, "pg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err = startCluster(dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, srv
}

func stopCluster(t testing.TB, srv *pgserver.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// outcome of one request of a load generator.
type outcome struct {
	status int // 0 when nothing was answered
	took   time.Duration
	jobID  int64
	err    error
}

func statusOf(err error) int {
	var e *rcq.Error
	if errors.As(err, &e) {
		switch e.Kind {
		case rcq.KindUnavailable:
			return 503
		case rcq.KindInternal:
			return 500
		}
		return 400
	}
	return 0
}

// Item 4: PostgreSQL restarted (fast shutdown, then start) under load:
// while it is down requests fail fast with 503 and a clear message, rcqd
// recovers by itself, every submit that got a 2xx exists afterwards,
// running jobs end normally, and rcqd's goroutines return to their
// baseline.
func TestFaultPostgresRestartUnderLoad(t *testing.T) {
	pgdir, srv := ownCluster(t)
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	url := srv.URL("postgres")
	d := newDaemon(t, daemonOptions{dbURL: url})
	d.start()
	admin := d.admin()
	c := d.nobody()
	work := tempDir(t, "w")

	// Jobs running across the outage.
	var runners []int64
	for range 3 {
		runners = append(runners, submit(t, c, jobSpec(work, markRun(work)+"\nsleep 3")))
	}
	for _, id := range runners {
		waitStatus(t, c, id, 60*time.Second, "running")
	}
	for range 20 { // warm the connection pool and the handlers
		_, _ = c.Queue(ctxT(t, 10*time.Second), "")
	}
	base := goroutines(t, admin, d.sock)

	var (
		stop     atomic.Bool
		down     atomic.Bool
		mu       sync.Mutex
		results  []outcome
		downRes  []outcome
		wg       sync.WaitGroup
		bodyMsgs = map[string]bool{}
	)
	record := func(o outcome, wasDown bool) {
		mu.Lock()
		defer mu.Unlock()
		results = append(results, o)
		if wasDown && down.Load() {
			downRes = append(downRes, o)
			if o.err != nil {
				bodyMsgs[o.err.Error()] = true
			}
		}
	}
	for g := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				wasDown := down.Load()
				start := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				var o outcome
				if g%2 == 0 {
					req := jobSpec(work, "exit 0")
					req.Hold = true
					r, err := c.Submit(ctx, req, client.SubmitOptions{})
					o = outcome{status: 201, err: err}
					if err == nil {
						o.jobID = r.JobID
					}
				} else {
					_, err := c.Queue(ctx, "")
					o = outcome{status: 200, err: err}
				}
				cancel()
				o.took = time.Since(start)
				if o.err != nil {
					o.status = statusOf(o.err)
				}
				record(o, wasDown)
				if o.err != nil {
					<-time.After(20 * time.Millisecond) // a client backing off
				}
			}
		})
	}
	<-time.After(time.Second) // load before the outage
	down.Store(true)
	stopCluster(t, srv)
	<-time.After(3 * time.Second) // the outage
	down.Store(false)
	srv, err := startCluster(pgdir)
	if err != nil {
		stop.Store(true)
		wg.Wait()
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	// rcqd recovers by itself: a submit succeeds again.
	deadline := time.Now().Add(60 * time.Second)
	for {
		req := jobSpec(work, "exit 0")
		req.Hold = true
		_, err := c.Submit(ctxT(t, 30*time.Second), req, client.SubmitOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("rcqd did not recover within 60 s of PostgreSQL's restart: %v\n%s", err, d.logTail(20))
		}
		<-time.After(50 * time.Millisecond) // polling an external process
	}
	<-time.After(time.Second) // load after the recovery
	stop.Store(true)
	wg.Wait()

	if !d.running() {
		t.Fatalf("rcqd exited during the outage:\n%s", d.logTail(20))
	}
	var ok, unavailable, other int
	var ids []int64
	var slowest time.Duration
	for _, o := range results {
		switch {
		case o.err == nil:
			ok++
			if o.jobID != 0 {
				ids = append(ids, o.jobID)
			}
		case o.status == 503:
			unavailable++
		default:
			other++
			t.Errorf("request failed with neither success nor 503: %v", o.err)
		}
	}
	for _, o := range downRes {
		slowest = max(slowest, o.took)
	}
	t.Logf("%d requests: %d ok, %d unavailable (%d during the outage, slowest %v), messages %v",
		len(results), ok, unavailable, len(downRes), slowest, keys(bodyMsgs))
	if unavailable == 0 {
		t.Errorf("no request failed while PostgreSQL was down")
	}
	// Bounded, not timed: a request must not hang while the database is down.
	if slowest > 15*time.Second {
		t.Errorf("a request during the outage took %v", slowest)
	}
	for m := range bodyMsgs {
		if !strings.Contains(strings.ToLower(m), "database") {
			t.Errorf("503 message does not say what is wrong: %q", m)
		}
	}

	conn := db(t, url)
	var found int
	if err := conn.QueryRow(ctxT(t, 30*time.Second), `SELECT count(*) FROM jobs WHERE id = ANY($1)`, ids).Scan(&found); err != nil {
		t.Fatal(err)
	}
	if found != len(ids) {
		t.Errorf("%d of %d acknowledged submits are missing after the restart", len(ids)-found, len(ids))
	}
	ended := waitJobs(t, c, runners, 2*time.Minute)
	for _, id := range runners {
		if j := ended[id]; j.Status != "completed" {
			t.Errorf("job %d running across the outage ended %s (%s %s), want completed", id, j.Status, j.Reason, j.ReasonDetail)
		}
	}
	waitGoroutines(t, admin, d.sock, base)
	checkInvariants(t, url, d)
}

// waitGoroutines waits (bounded) until rcqd's goroutine count is back
// near base (a few for idle connections and timers).
func waitGoroutines(t testing.TB, admin *client.Client, sock string, base int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		n := goroutines(t, admin, sock)
		if n <= base+5 {
			t.Logf("goroutines: %d, baseline %d", n, base)
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("rcqd has %d goroutines, baseline %d:\n%s", n, base, pprofGet(t, admin, sock, "/debug/pprof/goroutine?debug=1"))
			return
		}
		<-time.After(100 * time.Millisecond) // polling an external process
	}
}

func keys[M ~map[string]V, V any](m M) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Item 5: every connection rcqd holds is terminated (pg_terminate_backend),
// again and again, while submits (with an Idempotency-Key, retried on any
// failure) and job ends are in flight, some of them mid-commit. rcqd
// reconnects; no submit is lost or doubled, every job ends exactly once,
// and the invariants hold.
func TestFaultTerminateConnections(t *testing.T) {
	submits, kills := 40, 8
	if long() {
		submits, kills = 200, 30
	}
	d := newDaemon(t, daemonOptions{cores: 4})
	d.start()
	c := d.nobody()
	work := tempDir(t, "w")
	conn := db(t, d.dbURL)
	var dbName string
	if err := conn.QueryRow(ctxT(t, 10*time.Second), `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}

	var (
		mu    sync.Mutex
		idOf  = map[string]int64{}
		wg    sync.WaitGroup
		fails atomic.Int64
	)
	next := make(chan int, submits)
	for i := range submits {
		next <- i
	}
	close(next)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				key := fmt.Sprintf("term-%d", i)
				req := jobSpec(work, fmt.Sprintf("%s\nsleep 0.%d", markRun(work), i%5))
				deadline := time.Now().Add(2 * time.Minute)
				for {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					r, err := c.Submit(ctx, req, client.SubmitOptions{IdempotencyKey: key})
					cancel()
					if err == nil {
						mu.Lock()
						idOf[key] = r.JobID
						mu.Unlock()
						break
					}
					fails.Add(1)
					if time.Now().After(deadline) {
						t.Errorf("submit %s kept failing: %v", key, err)
						return
					}
					<-time.After(20 * time.Millisecond) // a client's retry delay
				}
				<-time.After(time.Duration(i%7) * 15 * time.Millisecond) // submits spread over the run
			}
		})
	}
	// Terminate every connection of rcqd's at random moments while the
	// submits flow and the jobs start and end.
	var killed, rounds atomic.Int64
	stop := make(chan struct{})
	killer := make(chan struct{})
	// Stopped before the test's cleanups close conn, also when the test
	// fails early: the killer uses conn.
	stopKiller := sync.OnceFunc(func() { close(stop); <-killer })
	defer stopKiller()
	go func() {
		defer close(killer)
		rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(20+rng.IntN(300)) * time.Millisecond): // a random moment
			}
			var n int64
			err := conn.QueryRow(context.Background(), `SELECT count(*) FROM (
				SELECT pg_terminate_backend(pid) FROM pg_stat_activity
				WHERE datname = $1 AND pid <> pg_backend_pid()) x`, dbName).Scan(&n)
			if err != nil {
				t.Errorf("pg_terminate_backend: %v", err)
				return
			}
			killed.Add(n)
			if rounds.Add(1) >= int64(kills) {
				return
			}
		}
	}()
	wg.Wait()
	var ids []int64
	seen := map[int64]string{}
	for k, id := range idOf {
		if other, dup := seen[id]; dup {
			t.Errorf("submits %s and %s got the same job %d", k, other, id)
		}
		seen[id] = k
		ids = append(ids, id)
	}
	ended := waitJobs(t, c, ids, 3*time.Minute)
	stopKiller()

	if !d.running() {
		t.Fatalf("rcqd exited after its connections were terminated:\n%s", d.logTail(20))
	}
	t.Logf("%d connections terminated in %d rounds, %d submit attempts failed and were retried", killed.Load(), rounds.Load(), fails.Load())
	if killed.Load() == 0 {
		t.Errorf("no connection of rcqd's was terminated in %d rounds: the run proved nothing", rounds.Load())
	}
	var n int
	if err := conn.QueryRow(ctxT(t, 10*time.Second), `SELECT count(*) FROM jobs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != submits {
		t.Errorf("%d jobs exist after %d submits (each retried with its key until acknowledged)", n, submits)
	}
	runs := runCounts(t, work)
	for _, id := range ids {
		j := ended[id]
		if j.Status != "completed" || runs[id] != 1 {
			t.Errorf("job %d ended %s (%s %s) and ran %d times, want completed once", id, j.Status, j.Reason, j.ReasonDetail, runs[id])
		}
	}
	checkNoOrphans(t, d, ids)
	checkInvariants(t, d.dbURL, d)
}

// Item 6a: rcqd started while its database is down waits and retries,
// serving nothing (no socket to read an empty queue from), then serves the
// real queue once the database is back, every job intact.
func TestFaultStartWhileDatabaseDown(t *testing.T) {
	pgdir, srv := ownCluster(t)
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	url := srv.URL("postgres")
	d := newDaemon(t, daemonOptions{dbURL: url})
	d.start()
	c := d.nobody()
	work := tempDir(t, "w")
	done := submit(t, c, jobSpec(work, "exit 4"))
	waitJobs(t, c, []int64{done}, time.Minute)
	for range 3 { // pending jobs too: none may be lost or shown as gone
		req := jobSpec(work, "exit 0")
		req.Hold = true
		submit(t, c, req)
	}
	before, err := c.Jobs(ctxT(t, 30*time.Second), client.JobsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	d.stop()
	stopCluster(t, srv)

	mark := len(d.log())
	d.launch()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(d.log()[mark:], "waiting for the database") {
		if !d.running() {
			t.Fatalf("rcqd exited while its database was down (%v):\n%s", d.err, d.logTail(20))
		}
		if time.Now().After(deadline) {
			t.Fatalf("rcqd did not say it waits for the database:\n%s", d.logTail(20))
		}
		<-time.After(50 * time.Millisecond) // polling an external process
	}
	<-time.After(time.Second) // a few retries
	if !d.running() {
		t.Fatalf("rcqd gave up while its database was down:\n%s", d.logTail(20))
	}
	if nc, err := net.Dial("unix", d.sock); err == nil {
		nc.Close()
		t.Fatalf("rcqd serves on %s while its database is down", d.sock)
	}
	srv, err = startCluster(pgdir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	d.waitReady()
	after, err := c.Jobs(ctxT(t, 30*time.Second), client.JobsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !sameJobs(before, after) {
		t.Errorf("jobs changed across a start on a database that was down:\nbefore %s\nafter  %s", jobsLine(before), jobsLine(after))
	}
	checkInvariants(t, url, d)
}

func sameJobs(a, b *apitype.JobList) bool {
	return jobsLine(a) == jobsLine(b)
}

func jobsLine(l *apitype.JobList) string {
	var parts []string
	for _, j := range l.Jobs {
		parts = append(parts, fmt.Sprintf("%d:%s:%s:%d:%v", j.ID, j.Status, j.Hold, j.Priority, deref(j.ExitCode)))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// Item 6b: a database whose schema is newer than the binary: rcqd exits
// with one clear line, and no job is changed or lost.
func TestFaultSchemaNewerThanBinary(t *testing.T) {
	d := newDaemon(t, daemonOptions{})
	d.start()
	c := d.nobody()
	work := tempDir(t, "w")
	req := jobSpec(work, "exit 0")
	req.Hold = true
	submit(t, c, req)
	before, err := c.Jobs(ctxT(t, 30*time.Second), client.JobsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	d.stop()

	conn := db(t, d.dbURL)
	const newer = 99999
	if _, err := conn.Exec(ctxT(t, 10*time.Second), `INSERT INTO rcq_schema_migrations (version_id, is_applied) VALUES ($1, true)`, newer); err != nil {
		t.Fatal(err)
	}
	mark := len(d.log())
	d.launch()
	if code := d.wait(60 * time.Second); code == 0 {
		t.Fatalf("rcqd started on a database with a newer schema:\n%s", d.log()[mark:])
	}
	out := strings.TrimSpace(d.log()[mark:])
	lines := strings.Split(out, "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "rcqd: ") || !strings.Contains(last, "newer") {
		t.Errorf("rcqd's last line does not say the schema is newer: %q", last)
	}
	var errorLines []string
	for _, l := range lines[1:] { // after "=== start"
		if strings.HasPrefix(l, "rcqd: ") || strings.Contains(l, "level=ERROR") {
			errorLines = append(errorLines, l)
		}
	}
	if len(errorLines) != 1 {
		t.Errorf("want one error line, got %d:\n%s", len(errorLines), strings.Join(errorLines, "\n"))
	}
	t.Logf("rcqd said: %s", last)
	var n int
	if err := conn.QueryRow(ctxT(t, 10*time.Second), `SELECT count(*) FROM jobs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(before.Jobs) {
		t.Errorf("%d jobs after a refused start, %d before", n, len(before.Jobs))
	}
	if _, err := conn.Exec(ctxT(t, 10*time.Second), `DELETE FROM rcq_schema_migrations WHERE version_id = $1`, newer); err != nil {
		t.Fatal(err)
	}
	d.start()
	after, err := c.Jobs(ctxT(t, 30*time.Second), client.JobsQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if !sameJobs(before, after) {
		t.Errorf("jobs changed across a refused start:\nbefore %s\nafter  %s", jobsLine(before), jobsLine(after))
	}
}

var (
	_ = json.Marshal
	_ = filepath.Join
)

// lockWaiters terminates the backends of database dbName (other than the
// test's) that wait for a lock, once at least one does, and returns how
// many it terminated.
func terminateLockWaiters(t *testing.T, conn *pgx.Conn, dbName string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		err := conn.QueryRow(ctxT(t, 10*time.Second), `SELECT count(*) FROM (
			SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE datname = $1 AND pid <> pg_backend_pid() AND wait_event_type = 'Lock') x`, dbName).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatal("no rcqd connection waited for the test's lock")
		}
		time.Sleep(10 * time.Millisecond) // polling the database
	}
}

// Item 5, deterministically: rcqd's connection is terminated in the middle
// of a transaction, while it waits for a lock the test holds: a submit's
// insert, and a job's end. The submit, retried with its key, exists exactly
// once; the job's end is recorded anyway, with its real exit code (the
// executor retries instead of assuming it was written or lost).
func TestFaultTerminateMidTransaction(t *testing.T) {
	d := newDaemon(t, daemonOptions{})
	d.start()
	c := d.nobody()
	work := tempDir(t, "w")
	conn := db(t, d.dbURL)
	lockConn := db(t, d.dbURL)
	var dbName string
	if err := conn.QueryRow(ctxT(t, 10*time.Second), `SELECT current_database()`).Scan(&dbName); err != nil {
		t.Fatal(err)
	}

	// A submit whose insert waits for the test's table lock.
	tx, err := lockConn.Begin(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctxT(t, 10*time.Second), `LOCK TABLE jobs IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	req := jobSpec(work, markRun(work)+"\nexit 0")
	const key = "mid-transaction"
	type result struct {
		id  int64
		err error
	}
	first := make(chan result, 1)
	go func() {
		r, err := c.Submit(context.Background(), req, client.SubmitOptions{IdempotencyKey: key})
		if err != nil {
			first <- result{err: err}
			return
		}
		first <- result{id: r.JobID}
	}()
	n := terminateLockWaiters(t, conn, dbName)
	if err := tx.Rollback(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	r1 := <-first
	t.Logf("terminated %d waiting connection(s); the submit answered %v, %v", n, r1.id, r1.err)
	if r1.err != nil && !errors.Is(r1.err, rcq.ErrUnavailable) {
		t.Errorf("submit cut mid-transaction: %v, want success or 503", r1.err)
	}
	r2, err := c.Submit(ctxT(t, 30*time.Second), req, client.SubmitOptions{IdempotencyKey: key})
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if r1.err == nil && r1.id != r2.JobID {
		t.Errorf("retry with the same key got job %d, the first answer was job %d", r2.JobID, r1.id)
	}
	var jobs int
	if err := conn.QueryRow(ctxT(t, 10*time.Second), `SELECT count(*) FROM jobs`).Scan(&jobs); err != nil {
		t.Fatal(err)
	}
	if jobs != 1 {
		t.Errorf("%d jobs after one submit cut mid-transaction and retried, want 1", jobs)
	}
	waitJobs(t, c, []int64{r2.JobID}, time.Minute)

	// A job's end whose update waits for the test's row lock.
	gate := filepath.Join(work, "go")
	id := submit(t, c, jobSpec(work, fmt.Sprintf("%s\nwhile [ ! -e %s ]; do sleep 0.05; done\nexit 7", markRun(work), gate)))
	waitStatus(t, c, id, time.Minute, "running")
	tx, err = lockConn.Begin(ctxT(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctxT(t, 10*time.Second), `SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	n = terminateLockWaiters(t, conn, dbName)
	if err := tx.Rollback(ctxT(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Logf("terminated %d connection(s) waiting to record job %d's end", n, id)
	j := waitJobs(t, c, []int64{id}, time.Minute)[id]
	if j.Status != "failed" || j.ExitCode == nil || *j.ExitCode != 7 {
		t.Errorf("job %d ended %s, exit %v (%s %s), want failed with its real exit code 7", id, j.Status, deref(j.ExitCode), j.Reason, j.ReasonDetail)
	}
	if runs := runCounts(t, work); runs[id] != 1 || runs[r2.JobID] != 1 {
		t.Errorf("runs: %v", runs)
	}
	checkInvariants(t, d.dbURL, d)
}

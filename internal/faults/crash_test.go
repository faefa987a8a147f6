package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
)

// Item 1: kill -9 rcqd with 5 running and 10 pending jobs, then restart:
// every running job ends in its true state with its real exit code (the
// ones that ended while rcqd was dead, and the ones still running, which
// are adopted), pending jobs keep their ids, priorities and order, no job
// runs twice, and no process is left behind.
func TestFaultKillWithRunningAndPending(t *testing.T) {
	d := newDaemon(t, daemonOptions{cores: 5})
	d.start()
	c := d.nobody()
	work := tempDir(t, "w")

	// Running: three end while rcqd is dead, two after it is back.
	type runner struct {
		script string
		status string
		code   int
	}
	runners := []runner{
		{"sleep 1; exit 3", "failed", 3},
		{"sleep 1; exit 0", "completed", 0},
		{"sleep 1; exit 42", "failed", 42},
		{"sleep 6; exit 7", "failed", 7},
		{"sleep 6; exit 0", "completed", 0},
	}
	// The early ones wait for a go file, so that they are surely running
	// when rcqd dies.
	gate := filepath.Join(work, "go")
	var running []int64
	for i, r := range runners {
		script := fmt.Sprintf("%s\nwhile [ ! -e %s ]; do sleep 0.05; done\n%s", markRun(work), gate, r.script)
		if i >= 3 {
			script = markRun(work) + "\n" + r.script
		}
		id := submit(t, c, jobSpec(work, script))
		running = append(running, id)
	}
	for _, id := range running {
		waitStatus(t, c, id, 60*time.Second, "running")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var pending []int64
	prio := map[int64]int{}
	for range 10 {
		req := jobSpec(work, markRun(work)+"\nexit 0")
		req.Priority = ptr(1 + rng.IntN(10))
		id := submit(t, c, req)
		pending = append(pending, id)
		prio[id] = *req.Priority
	}
	// rcqd's own queue order: the ranks GET /api/queue gives the pending
	// jobs, once the scheduler has ranked every one of them.
	rankOrder := func() []int64 {
		deadline := time.Now().Add(30 * time.Second)
		for {
			q, err := c.Queue(ctxT(t, 30*time.Second), "")
			if err != nil {
				t.Fatalf("queue: %v", err)
			}
			var js []apitype.QueueJob
			ranked := true
			for _, j := range q.Jobs {
				if j.Status == "pending" && slices.Contains(pending, j.ID) {
					js = append(js, j)
					ranked = ranked && j.Rank > 0
				}
			}
			if ranked {
				slices.SortFunc(js, func(a, b apitype.QueueJob) int { return a.Rank - b.Rank })
				ids := make([]int64, len(js))
				for i, j := range js {
					ids[i] = j.ID
				}
				return ids
			}
			if time.Now().After(deadline) {
				t.Fatalf("the scheduler has not ranked every pending job after 30 s: %+v", js)
			}
			time.Sleep(50 * time.Millisecond) // polling rcqd for its next cycle
		}
	}
	before := rankOrder()
	if len(before) != 10 {
		t.Fatalf("queue before the crash has %d pending jobs, want 10: %v", len(before), before)
	}

	d.kill9()
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Let the first three end while rcqd is dead: their supervisors write
	// their status and exit.
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range running[:3] {
		for supervisorAlive(d.dir, id) {
			if time.Now().After(deadline) {
				t.Fatalf("job %d did not end while rcqd was dead", id)
			}
			time.Sleep(20 * time.Millisecond) // polling an external process
		}
	}
	d.start()
	// Those still pending keep their order (some may have started).
	after := rankOrder()
	var still []int64
	for _, id := range before {
		if slices.Contains(after, id) {
			still = append(still, id)
		}
	}
	if !slices.Equal(after, still) {
		t.Errorf("pending order changed across the crash: %v, then %v", before, after)
	}

	all := append(append([]int64{}, running...), pending...)
	ended := waitJobs(t, c, all, 2*time.Minute)
	for i, id := range running {
		j := ended[id]
		if j.Status != runners[i].status || j.ExitCode == nil || *j.ExitCode != runners[i].code {
			code := "none"
			if j.ExitCode != nil {
				code = strconv.Itoa(*j.ExitCode)
			}
			t.Errorf("job %d (%q) ended %s with exit code %s (%s %s), want %s with %d",
				id, runners[i].script, j.Status, code, j.Reason, j.ReasonDetail, runners[i].status, runners[i].code)
		}
	}
	for _, id := range pending {
		j := ended[id]
		if j.Priority != prio[id] {
			t.Errorf("pending job %d has priority %d after the crash, was %d", id, j.Priority, prio[id])
		}
		if j.Status != "completed" {
			t.Errorf("pending job %d ended %s (%s %s), want completed", id, j.Status, j.Reason, j.ReasonDetail)
		}
	}
	// They started in their queue order (equal start times when they
	// started in one cycle).
	for i := 1; i < len(before); i++ {
		a, b := ended[before[i-1]], ended[before[i]]
		if a.StartedAt != nil && b.StartedAt != nil && b.StartedAt.Before(*a.StartedAt) {
			t.Errorf("job %d (rank %d) started at %v, before job %d (rank %d) at %v",
				b.ID, i+1, b.StartedAt, a.ID, i, a.StartedAt)
		}
	}
	runs := runCounts(t, work)
	for _, id := range all {
		if runs[id] != 1 {
			t.Errorf("job %d ran %d times", id, runs[id])
		}
	}
	checkNoOrphans(t, d, all)
	checkInvariants(t, d.dbURL, d)
}

// checkNoOrphans: the jobs' process groups are gone and no supervisor of
// d's state directory is alive (bounded wait: a supervisor exits right
// after the job's end is recorded).
func checkNoOrphans(t testing.TB, d *daemon, ids []int64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var alive []string
		for _, id := range ids {
			if gone, pgid := jobGroupGone(d.dir, id); !gone {
				alive = append(alive, fmt.Sprintf("job %d group %d", id, pgid))
			}
		}
		for pid, line := range procs(d.dir + "/jobs/") {
			if !isZombie(pid) {
				alive = append(alive, fmt.Sprintf("pid %d: %s", pid, line))
			}
		}
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("processes left after every job ended: %v", alive)
			return
		}
		time.Sleep(50 * time.Millisecond) // polling external processes
	}
}

// Item 2: random kill -9/restart cycles while short jobs flow: every job
// ends in a terminal state exactly once (a terminal state, once seen, never
// changes; no job runs twice), and the invariants hold after each cycle.
func TestFaultKillRestartCycles(t *testing.T) {
	cycles, jobs := 3, 40
	if long() {
		cycles, jobs = 30, 200
	}
	d := newDaemon(t, daemonOptions{cores: 4, gpus: 2})
	d.start()
	c := d.nobody()
	work := tempDir(t, "w")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))

	// Jobs arrive in every cycle, so that some are always starting,
	// running and ending when rcqd dies.
	var ids []int64
	perCycle := (jobs + cycles - 1) / cycles
	submitSome := func(n int) {
		for ; n > 0 && len(ids) < jobs; n-- {
			req := jobSpec(work, fmt.Sprintf("%s\nsleep 0.%d\nexit $((RCQ_JOB_ID %% 3))", markRun(work), rng.IntN(6)))
			if len(ids)%5 == 0 {
				req.GPUCount = ptr(1)
			}
			ids = append(ids, submit(t, c, req))
		}
	}
	submitSome(perCycle)
	seen := map[int64]apitype.Job{}
	checkSeen := func() {
		for _, id := range ids {
			j := getJob(t, c, id)
			if prev, ok := seen[id]; ok {
				if j.Status != prev.Status || !eqInt(j.ExitCode, prev.ExitCode) || !eqTime(j.CompletedAt, prev.CompletedAt) {
					t.Errorf("job %d ended twice: %s (exit %v at %v), then %s (exit %v at %v)",
						id, prev.Status, deref(prev.ExitCode), prev.CompletedAt, j.Status, deref(j.ExitCode), j.CompletedAt)
				}
				continue
			}
			if rcq.JobState(j.Status).Terminal() {
				seen[id] = *j
			}
		}
	}
	for cycle := range cycles {
		submitSome(perCycle)
		<-time.After(time.Duration(200+rng.IntN(1500)) * time.Millisecond) // a random moment to crash
		d.kill9()
		if rng.IntN(2) == 0 {
			<-time.After(time.Duration(rng.IntN(800)) * time.Millisecond) // jobs end while rcqd is dead
		}
		d.start()
		checkInvariants(t, d.dbURL, d)
		checkSeen()
		t.Logf("cycle %d: %d of %d jobs submitted so far ended", cycle+1, len(seen), len(ids))
		if t.Failed() {
			t.FailNow()
		}
	}
	ended := waitJobs(t, c, ids, 5*time.Minute)
	checkSeen()
	runs := runCounts(t, work)
	for _, id := range ids {
		j := ended[id]
		if runs[id] > 1 {
			t.Errorf("job %d ran %d times", id, runs[id])
		}
		want := int(id % 3)
		switch {
		case j.Status == "completed" && want == 0, j.Status == "failed" && j.ExitCode != nil && *j.ExitCode == want:
			if runs[id] != 1 {
				t.Errorf("job %d ended %s with exit code %d but ran %d times", id, j.Status, want, runs[id])
			}
		case j.Status == "failed" && j.ExitCode == nil:
			// Lost in a crash (WorkerLost) before or while it ran: a true
			// state, as long as the reason says so.
			if j.Reason == "" {
				t.Errorf("job %d failed without an exit code or a reason", id)
			}
			t.Logf("job %d: failed, %s %s (ran %d times)", id, j.Reason, j.ReasonDetail, runs[id])
		default:
			t.Errorf("job %d ended %s, exit %v (%s %s); its script exits %d", id, j.Status, deref(j.ExitCode), j.Reason, j.ReasonDetail, want)
		}
	}
	checkNoOrphans(t, d, ids)
	checkInvariants(t, d.dbURL, d)
}

func eqInt(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }
func eqTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}
func deref(p *int) any {
	if p == nil {
		return "none"
	}
	return *p
}

// Item 3: rcqd crashes between the submit's commit and its reply. The
// client, which never got the reply, retries with the same Idempotency-Key
// and gets the same job id; exactly one job exists.
func TestFaultCrashBeforeSubmitReply(t *testing.T) {
	d := newDaemon(t, daemonOptions{})
	d.start()
	c := d.nobody()
	work := tempDir(t, "w")
	conn := db(t, d.dbURL)

	for i := range 3 {
		key := fmt.Sprintf("crash-key-%d-%d", i, time.Now().UnixNano())
		req := jobSpec(work, "exit 0")
		req.Hold = true
		body, _ := json.Marshal(req)

		// Send the request and never read the reply: the client sees
		// nothing but a dead connection.
		nc, err := net.Dial("unix", d.sock)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		hr, _ := http.NewRequest("POST", "http://rcqd/api/jobs", bytes.NewReader(body))
		hr.Header.Set("Authorization", "Bearer "+c.Token())
		hr.Header.Set("Content-Type", "application/json")
		hr.Header.Set("Idempotency-Key", key)
		if err := hr.Write(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write(buf.Bytes()); err != nil {
			t.Fatal(err)
		}
		// The moment the submit is committed, rcqd dies.
		deadline := time.Now().Add(30 * time.Second)
		for {
			var n int
			if err := conn.QueryRow(ctxT(t, 10*time.Second), `SELECT count(*) FROM idempotency_keys WHERE key = $1`, key).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("submit with key %s never committed", key)
			}
		}
		d.kill9()
		nc.Close()
		d.start()

		var ids []int64
		for range 2 {
			r, err := c.Submit(ctxT(t, 30*time.Second), req, client.SubmitOptions{IdempotencyKey: key})
			if err != nil {
				t.Fatalf("retry with key %s: %v", key, err)
			}
			ids = append(ids, r.JobID)
		}
		var first int64
		if err := conn.QueryRow(ctxT(t, 10*time.Second), `SELECT job_id FROM idempotency_keys WHERE key = $1`, key).Scan(&first); err != nil {
			t.Fatal(err)
		}
		if ids[0] != first || ids[1] != first {
			t.Errorf("retries with key %s got jobs %v, want the committed job %d", key, ids, first)
		}
	}
	var n, keys int
	if err := conn.QueryRow(ctxT(t, 10*time.Second), `SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM idempotency_keys)`).Scan(&n, &keys); err != nil {
		t.Fatal(err)
	}
	if n != 3 || keys != 3 {
		t.Errorf("%d jobs and %d keys after 3 crashed submits and 6 retries, want 3 and 3", n, keys)
	}
	// Another user with the same key gets a job of their own.
	other := d.jobUser("someone@x")
	req := jobSpec(work, "exit 0")
	req.Hold = true
	r, err := other.Submit(ctxT(t, 30*time.Second), req, client.SubmitOptions{IdempotencyKey: "crash-key-shared"})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.Submit(ctxT(t, 30*time.Second), req, client.SubmitOptions{IdempotencyKey: "crash-key-shared"})
	if err != nil {
		t.Fatal(err)
	}
	if r.JobID == r2.JobID {
		t.Errorf("two users with one Idempotency-Key share job %d", r.JobID)
	}
}

// Item 9: cancels fired at random moments while jobs start and end: each
// job ends in exactly one terminal state, and a repeated cancel changes
// nothing.
func TestFaultCancelStorm(t *testing.T) {
	jobs, cancels := 30, 50
	if long() {
		jobs, cancels = 150, 500
	}
	d := newDaemon(t, daemonOptions{cores: 4})
	d.start()
	c := d.nobody()
	work := tempDir(t, "w")
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	var (
		mu  sync.Mutex
		ids []int64
	)
	var wg sync.WaitGroup
	wg.Go(func() {
		r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 10))
		for range jobs {
			id := submit(t, c, jobSpec(work, fmt.Sprintf("%s\nsleep 0.%d", markRun(work), r.IntN(8))))
			mu.Lock()
			ids = append(ids, id)
			mu.Unlock()
			<-time.After(time.Duration(r.IntN(30)) * time.Millisecond) // jobs arrive over time
		}
	})
	var errs sync.Map
	fired := make(chan struct{}, cancels)
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(g)))
			for range cancels / 4 {
				<-time.After(time.Duration(r.IntN(40)) * time.Millisecond) // a random moment
				mu.Lock()
				if len(ids) == 0 {
					mu.Unlock()
					continue
				}
				id := ids[r.IntN(len(ids))]
				mu.Unlock()
				_, err := c.Cancel(context.Background(), id)
				if err != nil && !errors.Is(err, rcq.ErrConflict) {
					errs.Store(id, err)
				}
				fired <- struct{}{}
			}
		})
	}
	_ = rng
	wg.Wait()
	close(fired)
	errs.Range(func(k, v any) bool {
		t.Errorf("cancel job %v: %v (want success or a conflict)", k, v)
		return true
	})
	ended := waitJobs(t, c, ids, 3*time.Minute)
	runs := runCounts(t, work)
	cancelled := 0
	for _, id := range ids {
		j := ended[id]
		// A repeated cancel of an ended job is refused and changes nothing.
		_, err := c.Cancel(ctxT(t, 30*time.Second), id)
		if !errors.Is(err, rcq.ErrConflict) {
			t.Errorf("cancel of ended job %d (%s): %v, want a conflict", id, j.Status, err)
		}
		again := getJob(t, c, id)
		if again.Status != j.Status || !eqInt(again.ExitCode, j.ExitCode) || !eqTime(again.CompletedAt, j.CompletedAt) {
			t.Errorf("job %d changed after its end: %s (exit %v at %v), then %s (exit %v at %v)",
				id, j.Status, deref(j.ExitCode), j.CompletedAt, again.Status, deref(again.ExitCode), again.CompletedAt)
		}
		if runs[id] > 1 {
			t.Errorf("job %d ran %d times", id, runs[id])
		}
		switch j.Status {
		case "cancelled":
			cancelled++
		case "completed":
			if runs[id] != 1 {
				t.Errorf("job %d completed but ran %d times", id, runs[id])
			}
		default:
			t.Errorf("job %d ended %s (%s %s), want cancelled or completed", id, j.Status, j.Reason, j.ReasonDetail)
		}
	}
	t.Logf("%d cancels fired, %d of %d jobs cancelled", len(fired), cancelled, len(ids))
	checkNoOrphans(t, d, ids)
	checkInvariants(t, d.dbURL, d)
}

// After kill -9, the restarted rcqd of the same node should schedule at
// once: the lease it finds was held by its own dead predecessor (same node
// name, a pid that no longer runs rcqd). Today it waits for that lease to
// expire (scheduler.lease_ttl, 15 s by default), so no job starts for up to
// 15 s after every crash.
func TestFaultRestartReclaimsOwnLease(t *testing.T) {
	// The lease holder is stable per node and state directory
	// (internal/daemon.leaseHolder), so the restarted rcqd takes it back.
	d := newDaemon(t, daemonOptions{})
	d.start()
	c := d.nobody()
	work := tempDir(t, "w")
	waitJobs(t, c, []int64{submit(t, c, jobSpec(work, "exit 0"))}, time.Minute) // it holds the lease
	d.kill9()
	d.start()
	id := submit(t, c, jobSpec(work, "exit 0"))
	// Well under the 15 s lease: one scheduling cycle after the start.
	waitStatus(t, c, id, 5*time.Second, "running", "completed")
}

// The queue ranks every pending job, also while submits arrive: a job that
// was acknowledged before the read is never shown without a rank (as if
// the scheduler did not know it).
func TestFaultQueueRanksEveryPendingJob(t *testing.T) {
	// Fixed: Loop.Plan serves its cached plan only while no Notify came
	// after the cycle began (sched.Loop.notified).
	d := newDaemon(t, daemonOptions{cores: 1})
	d.start()
	c := d.nobody()
	work := tempDir(t, "w")
	// One job holds the only core, so everything after it stays pending.
	blocker := submit(t, c, jobSpec(work, "sleep 60"))
	waitStatus(t, c, blocker, time.Minute, "running")
	unranked := 0
	for i := range 100 {
		id := submit(t, c, jobSpec(work, "exit 0"))
		q, err := c.Queue(ctxT(t, 30*time.Second), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range q.Jobs {
			if j.Status == "pending" && j.Rank < 1 {
				unranked++
				if unranked <= 3 {
					t.Errorf("read %d, right after job %d was acknowledged: pending job %d has no rank", i, id, j.ID)
				}
			}
		}
	}
	if unranked > 0 {
		t.Errorf("%d pending jobs shown without a rank in 100 reads", unranked)
	}
	_, _ = c.Cancel(ctxT(t, 30*time.Second), blocker)
}

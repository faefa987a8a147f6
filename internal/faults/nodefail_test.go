package faults

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
)

// Node failure (issue 13, item 5): two rcqd on one database with
// node.dead_after 10s, a 3 s lease and a 1 s scheduler interval.
const (
	deadAfter    = 10 * time.Second
	nodeInterval = time.Second
)

func nodeFailEnv(secret string) []string {
	return []string{"RCQ_SCHEDULER_LEASE_TTL=3s", "RCQ_NODE_DEAD_AFTER=" + deadAfter.String(),
		"RCQ_JWT_SECRET=" + secret}
}

// twoCoreJob is a job of two cores: only a node with two cores holds it.
func twoCoreJob(dir, script string, requeue *bool) apitype.SubmitRequest {
	r := jobSpec(dir, script)
	r.CPUCores, r.Requeue = ptr(2), requeue
	return r
}

// TestFaultNodeKill9: kill -9 of a node's rcqd while it runs requeueable and
// non-requeueable jobs. Within node.dead_after plus one scheduler interval
// (and slack for a loaded machine) each job is node_fail (reason NodeFail,
// naming the node) or pending again (restarts 1, same id). When the node's
// rcqd comes back, it stops what its supervisors still ran of those jobs,
// and the requeued jobs run again, once more only.
func TestFaultNodeKill9(t *testing.T) {
	url := freshDatabase(t, sharedCluster(t))
	env := nodeFailEnv("faults-node-kill9-secret-0123456789abcdef")
	// n1 has one core: the two-core jobs can only run on n2.
	d1 := newDaemon(t, daemonOptions{name: "n1", dbURL: url, env: env, cores: 1})
	d2 := newDaemon(t, daemonOptions{name: "n2", dbURL: url, env: env, cores: 8})
	d1.start()
	// n1 schedules (it holds the scheduler lease before n2 starts), so the
	// figure measures a node's failure, not a scheduler's failover too
	// (TestFaultTwoDaemonsFailover covers that).
	conn := db(t, url)
	for deadline := time.Now().Add(time.Minute); ; {
		var holder string
		err := conn.QueryRow(ctxT(t, 10*time.Second), `SELECT holder FROM leases WHERE name = 'scheduler' AND expires_at > now()`).Scan(&holder)
		if err == nil && strings.HasPrefix(holder, "n1:") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n1 does not hold the scheduler lease after a minute: %q %v", holder, err)
		}
		time.Sleep(20 * time.Millisecond) // polling the database
	}
	d2.start()
	c := d1.nobody()
	work := tempDir(t, "w")
	script := markRun(work) + "\nsleep 600"
	yes, no := true, false
	requeued := []int64{submit(t, c, twoCoreJob(work, script, &yes)), submit(t, c, twoCoreJob(work, script, &yes))}
	ended := []int64{submit(t, c, twoCoreJob(work, script, &no)), submit(t, c, twoCoreJob(work, script, nil))}
	all := append(append([]int64{}, requeued...), ended...)
	for _, id := range all {
		waitStatus(t, c, id, time.Minute, "running")
	}
	waitRuns(t, work, all, 1)

	d2.kill9()
	killed := time.Now()
	done := map[int64]time.Duration{}
	for len(done) < len(all) {
		for _, id := range all {
			if _, ok := done[id]; ok {
				continue
			}
			j := getJob(t, c, id)
			if j.Status == "node_fail" || j.Status == "pending" && j.Restarts == 1 {
				done[id] = time.Since(killed)
			}
		}
		if time.Since(killed) > deadAfter+nodeInterval+time.Minute {
			t.Fatalf("after %v: %d of %d jobs decided", time.Since(killed), len(done), len(all))
		}
		time.Sleep(100 * time.Millisecond) // polling the outcome of a failure
	}
	var worst time.Duration
	for _, d := range done {
		worst = max(worst, d)
	}
	t.Logf("every job of the killed node decided %v after kill -9 (node.dead_after %v, interval %v)", worst.Round(10*time.Millisecond), deadAfter, nodeInterval)
	if worst > deadAfter+nodeInterval+3*time.Second {
		t.Errorf("jobs decided %v after the kill, more than node.dead_after + one interval (%v) plus slack", worst, deadAfter+nodeInterval)
	}
	for _, id := range ended {
		j := getJob(t, c, id)
		if j.Status != "node_fail" || j.Reason != rcq.ReasonNodeFail || !strings.Contains(j.ReasonDetail, "node n2 was last seen at ") || j.CompletedAt == nil {
			t.Errorf("job %d: %s %s %q, want node_fail NodeFail naming n2", id, j.Status, j.Reason, j.ReasonDetail)
		}
	}
	for _, id := range requeued {
		j := getJob(t, c, id)
		if j.Status != "pending" || j.Restarts != 1 || j.RequeuedAt == nil || j.ID != id || j.Priority != 1 {
			t.Errorf("job %d: %s restarts %d requeued_at %v, want pending after 1 restart", id, j.Status, j.Restarts, j.RequeuedAt)
		}
	}
	// The killed rcqd's supervisors ran on: its restart stops them, and the
	// requeued jobs run again (on n2, the only node big enough).
	d2.start()
	for _, id := range requeued {
		waitStatus(t, c, id, time.Minute, "running")
	}
	waitRuns(t, work, requeued, 2)
	for _, id := range all {
		pids := runPids(t, work, id)
		if !waitGone(pids[0], 30*time.Second) {
			t.Errorf("job %d: the first run (pid %d) still runs after its node's rcqd came back", id, pids[0])
		}
	}
	if !strings.Contains(d2.log(), "stopped a job left running by a previous rcqd") {
		t.Errorf("n2's log does not say why it stopped the old runs:\n%s", d2.logTail(30))
	}
	for _, id := range requeued {
		if _, err := c.Cancel(ctxT(t, 30*time.Second), id); err != nil {
			t.Fatal(err)
		}
	}
	waitJobs(t, c, all, time.Minute)
	runs := runCounts(t, work)
	for _, id := range requeued {
		if runs[id] != 2 {
			t.Errorf("requeued job %d ran %d times, want 2 (once, then once after its requeue)", id, runs[id])
		}
	}
	checkInvariants(t, url, d1, d2)
}

// TestFaultNodeStopped: SIGSTOP of a node's rcqd past node.dead_after, then
// SIGCONT. While it is stopped its jobs are decided: the requeueable one
// runs again on the other node, the other ends node_fail. The stopped rcqd's
// supervisors ran on; when it resumes, a job that ended meanwhile has its
// late result refused (node_fail stays, no exit code written over it), and
// the old copy of the requeued job is killed at once: never two copies
// after it is back.
func TestFaultNodeStopped(t *testing.T) {
	url := freshDatabase(t, sharedCluster(t))
	env := nodeFailEnv("faults-node-stop-secret-0123456789abcdef")
	d1 := newDaemon(t, daemonOptions{name: "n1", dbURL: url, env: env, cores: 2})
	d2 := newDaemon(t, daemonOptions{name: "n2", dbURL: url, env: env, cores: 3})
	// Only n2 runs at first: its jobs start there.
	d2.start()
	c2 := d2.nobody()
	work := tempDir(t, "w")
	yes, no := true, false
	again := submit(t, c2, twoCoreJob(work, markRun(work)+"\nsleep 600", &yes))
	// A short non-requeueable job: it ends while n2's rcqd is stopped.
	short := submit(t, c2, func() apitype.SubmitRequest {
		r := jobSpec(work, markRun(work)+"\nsleep 4\nexit 7")
		r.Requeue = &no
		return r
	}())
	waitStatus(t, c2, again, time.Minute, "running")
	sj := waitStatus(t, c2, short, time.Minute, "running")
	if sj.Worker != "n2" {
		t.Fatalf("job %d runs on %q with only n2 up", short, sj.Worker)
	}
	waitRuns(t, work, []int64{again, short}, 1)
	d1.start()
	c1 := d1.client(c2.Token())

	if err := syscall.Kill(d2.pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(d2.pid(), syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	stopped := time.Now()
	// The requeued job runs again on n1 (it took the scheduler lease if n2
	// held it).
	j := waitStatus(t, c1, again, deadAfter+time.Minute, "running")
	for j.Restarts != 1 || j.Worker != "n1" {
		if time.Since(stopped) > deadAfter+time.Minute {
			t.Fatalf("job %d: %s on %s restarts %d, want running again on n1", again, j.Status, j.Worker, j.Restarts)
		}
		time.Sleep(100 * time.Millisecond) // polling the outcome of a failure
		j = getJob(t, c1, again)
	}
	waitRuns(t, work, []int64{again}, 2)
	pids := runPids(t, work, again)
	if syscall.Kill(pids[0], 0) != nil {
		t.Fatalf("the first run of job %d (pid %d) ended while n2 was stopped: the test shows nothing", again, pids[0])
	}
	if s := waitStatus(t, c1, short, time.Minute, "node_fail"); s.ExitCode != nil {
		t.Errorf("job %d: exit code %d recorded over node_fail", short, *s.ExitCode)
	}
	if !waitGone(runPids(t, work, short)[0], 30*time.Second) {
		t.Fatalf("job %d's script did not end while n2 was stopped", short)
	}
	mark := len(d2.log())
	resume()
	if !waitGone(pids[0], 30*time.Second) {
		t.Errorf("the first run of job %d (pid %d) still runs 30 s after n2's rcqd resumed: two copies", again, pids[0])
	}
	if syscall.Kill(pids[1], 0) != nil {
		t.Errorf("the current run of job %d (pid %d, on n1) was killed", again, pids[1])
	}
	// The short job's supervisor wrote exit 7 while rcqd was stopped; the
	// resumed rcqd reports it ("job ended"), and that must change nothing.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(d2.log()[mark:], fmt.Sprintf("job_id=%d", short)) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // polling an external process's log
	}
	if s := getJob(t, c1, short); s.Status != "node_fail" || s.ExitCode != nil {
		t.Errorf("job %d after n2 resumed: %s exit %v, want node_fail without an exit code", short, s.Status, s.ExitCode)
	}
	if l := d2.log()[mark:]; !strings.Contains(l, "stopping a run the store has moved past") {
		t.Errorf("n2's log does not say why it stopped the old run:\n%s", d2.logTail(30))
	}
	if _, err := c1.Cancel(ctxT(t, 30*time.Second), again); err != nil {
		t.Fatal(err)
	}
	waitJobs(t, c1, []int64{again, short}, time.Minute)
	if j := getJob(t, c1, again); j.Status != "cancelled" || j.Restarts != 1 {
		t.Errorf("job %d: %s restarts %d", again, j.Status, j.Restarts)
	}
	checkInvariants(t, url, d1, d2)
}

// TestFaultNodeTypoWorker: a worker on a node no rcqd has run as is refused
// with 400 naming the known nodes (the black hole of issue 13); created
// offline it takes no job; --mem 0 is refused.
func TestFaultNodeTypoWorker(t *testing.T) {
	d := newDaemon(t, daemonOptions{name: "n1"})
	d.start()
	admin := d.admin()
	ctx := ctxT(t, time.Minute)
	_, err := admin.CreateWorker(ctx, apitype.WorkerRequest{Name: "big", Node: "n11", CPUCores: ptr(64), MemoryGB: ptr(256)})
	var re *rcq.Error
	if !errors.As(err, &re) || re.Code != "unknown_node" || !strings.Contains(re.Msg, "known nodes: n1") {
		t.Fatalf("worker on a typo'd node: %v, want 400 unknown_node naming n1", err)
	}
	if _, err := admin.CreateWorker(ctx, apitype.WorkerRequest{Name: "big", Node: "n1", CPUCores: ptr(64), MemoryGB: ptr(0)}); rcq.CodeOf(err) != "invalid_memory_gb" {
		t.Fatalf("worker of 0 GB: %v", err)
	}
	w, err := admin.CreateWorker(ctx, apitype.WorkerRequest{Name: "big", Node: "n11", CPUCores: ptr(64), MemoryGB: ptr(256), Status: "offline"})
	if err != nil || w.Status != "offline" {
		t.Fatalf("worker created offline: %+v %v", w, err)
	}
	// A job only that offline worker could hold is refused at submit: it
	// would wait for a node that never ran.
	c := d.nobody()
	r := jobSpec(tempDir(t, "w"), "true")
	r.CPUCores = ptr(32)
	if _, err := c.Submit(ctx, r, client.SubmitOptions{}); rcq.CodeOf(err) != "too_large_for_any_worker" {
		t.Errorf("a job only the offline worker could hold: %v, want too_large_for_any_worker", err)
	}
	if err := admin.DeleteWorker(ctx, w.ID, false); err != nil {
		t.Fatalf("delete the idle offline worker: %v", err)
	}
}

// waitRuns waits until each job left n run markers.
func waitRuns(t *testing.T, dir string, ids []int64, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		runs := runCounts(t, dir)
		ok := true
		for _, id := range ids {
			ok = ok && runs[id] >= n
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs %v, want %d of each of %v", runs, n, ids)
		}
		time.Sleep(50 * time.Millisecond) // polling files written by jobs
	}
}

// runPids returns the shell pids a job's runs wrote (markRun), in order.
func runPids(t *testing.T, dir string, id int64) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "run-"+strconv.FormatInt(id, 10)))
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		n, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// waitGone waits until process pid is gone (or a zombie).
func waitGone(pid int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for {
		if syscall.Kill(pid, 0) != nil || isZombie(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond) // polling an external process
	}
}

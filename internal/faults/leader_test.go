package faults

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/client"
)

// Item 7: two rcqd on one database, each with its own worker and state
// directory. kill -9 of the scheduling one: the other takes over within the
// lease time plus one interval, and no job starts twice. SIGSTOP of the
// scheduling one past its lease, then SIGCONT: it steps down, and whatever
// it was about to write changes nothing (starts are fenced by the lease).
func TestFaultTwoDaemonsFailover(t *testing.T) {
	const ttl, interval = 3 * time.Second, time.Second
	url := freshDatabase(t, sharedCluster(t))
	env := []string{"RCQ_SCHEDULER_LEASE_TTL=" + ttl.String(),
		"RCQ_JWT_SECRET=faults-two-daemons-secret-0123456789abcdef"}
	d1 := newDaemon(t, daemonOptions{name: "n1", dbURL: url, env: env, cores: 2})
	d2 := newDaemon(t, daemonOptions{name: "n2", dbURL: url, env: env, cores: 2})
	d1.start()
	d2.start()
	byName := map[string]*daemon{"n1": d1, "n2": d2}
	conn := db(t, url)
	work := tempDir(t, "w")
	c1 := d1.nobody()
	c2 := d2.client(c1.Token()) // one secret: the token works on both

	leader := func() (string, error) {
		var holder string
		err := conn.QueryRow(ctxT(t, 10*time.Second),
			`SELECT holder FROM leases WHERE name = 'scheduler' AND expires_at > now()`).Scan(&holder)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", nil
		}
		for name := range byName { // holder: "<node>:<state dir>" (or "<node>/...")
			if strings.HasPrefix(holder, name+":") || strings.HasPrefix(holder, name+"/") {
				return name, err
			}
		}
		if err == nil {
			t.Fatalf("lease holder %q names neither rcqd", holder)
		}
		return "", err
	}
	waitLeader := func(not string, limit time.Duration) (string, time.Duration) {
		t.Helper()
		start := time.Now()
		for {
			l, err := leader()
			if err != nil {
				t.Fatal(err)
			}
			if l != "" && l != not {
				return l, time.Since(start)
			}
			if time.Since(start) > limit {
				t.Fatalf("no rcqd but %q took the scheduler lease within %v (holder %q)", not, limit, l)
			}
			<-time.After(20 * time.Millisecond) // polling the database
		}
	}
	clientOf := func(name string) *client.Client {
		if name == "n1" {
			return c1
		}
		return c2
	}

	var ids []int64
	spec := func(sleep string) int64 {
		return submit(t, c1, jobSpec(work, markRun(work)+"\nsleep "+sleep))
	}
	for range 4 {
		ids = append(ids, spec("2"))
	}
	first, _ := waitLeader("", 30*time.Second)
	swap := map[string]string{"n1": "n2", "n2": "n1"}
	other := swap[first]
	t.Logf("%s schedules; kill -9", first)

	// Crash of the scheduling rcqd.
	byName[first].kill9()
	took := time.Now()
	oc := clientOf(other)
	for range 4 {
		ids = append(ids, submit(t, oc, jobSpec(work, markRun(work)+"\nsleep 1")))
	}
	got, _ := waitLeader(first, 60*time.Second)
	elapsed := time.Since(took)
	t.Logf("%s took over %v after the crash", got, elapsed)
	// The lease runs out at most ttl after the last renewal, and the other
	// tries to take it every ttl/3 (<= interval here); slack for a loaded
	// machine.
	if elapsed > ttl+interval+3*time.Second {
		t.Errorf("%s took over %v after the crash, more than the lease time plus one interval (%v)", got, elapsed, ttl+interval)
	}
	// Jobs of the dead node's worker run once its rcqd is back.
	byName[first].start()
	waitJobs(t, oc, ids, 2*time.Minute)
	checkInvariants(t, url, d1, d2)

	// SIGSTOP of the scheduling rcqd, right after a submit (so that it is
	// likely in the middle of a cycle), past its lease.
	now, _ := waitLeader("", 30*time.Second)
	stopped, survivor := byName[now], byName[swap[now]]
	sc := clientOf(swap[now])
	ids = append(ids, submit(t, clientOf(now), jobSpec(work, markRun(work)+"\nsleep 1")))
	if err := syscall.Kill(stopped.pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s stopped", now)
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(stopped.pid(), syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	for range 6 {
		ids = append(ids, submit(t, sc, jobSpec(work, markRun(work)+"\nsleep 1")))
	}
	got, _ = waitLeader(now, 60*time.Second)
	if got != survivor.name {
		t.Fatalf("lease went to %q, want %s", got, survivor.name)
	}
	<-time.After(ttl) // the stopped one stays stopped well past its lease
	mark := len(stopped.log())
	resume()
	// It steps down: within a few renewals it says so, and the lease stays
	// with the survivor.
	deadline := time.Now().Add(30 * time.Second)
	for {
		l := stopped.log()[mark:]
		if strings.Contains(l, "lost the scheduler lease") || strings.Contains(l, "lease lost at commit") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the resumed rcqd did not step down:\n%s", stopped.logTail(20))
			break
		}
		<-time.After(50 * time.Millisecond) // polling an external process
	}
	if l, _ := leader(); l != survivor.name {
		t.Errorf("after the stopped rcqd resumed, the lease is held by %q, want %s", l, survivor.name)
	}
	for range 4 {
		ids = append(ids, submit(t, sc, jobSpec(work, markRun(work)+"\nsleep 0.5")))
	}
	ended := waitJobs(t, sc, ids, 2*time.Minute)
	runs := runCounts(t, work)
	for _, id := range ids {
		if j := ended[id]; j.Status != "completed" || runs[id] != 1 {
			t.Errorf("job %d ended %s (%s %s) and ran %d times, want completed once", id, j.Status, j.Reason, j.ReasonDetail, runs[id])
		}
	}
	checkInvariants(t, url, d1, d2)
	if t.Failed() {
		fmt.Println(stopped.logTail(40))
	}
}

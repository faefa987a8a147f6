package executor

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// pgNode is a real store with one worker on node and a user whose jobs it
// runs.
type pgNode struct {
	st     *store.Store
	node   string
	worker rcq.WorkerID
	user   rcq.UserID
	dir    string // the jobs' working directory
}

func newPGNode(t *testing.T, ctx context.Context, node string, cores int) *pgNode {
	t.Helper()
	st, err := store.Open(ctx, dbtest.URL(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		t.Fatal(err)
	}
	p := &pgNode{st: st, node: node, dir: openDir(t)}
	if p.worker, err = st.RegisterWorker(ctx, rcq.Worker{Name: "w-" + node, Node: node, Capacity: rcq.Resources{CPUCores: cores, MemoryGB: 16}}); err != nil {
		t.Fatal(err)
	}
	if p.user, err = st.CreateUser(ctx, rcq.User{Email: "ada@example.org", GroupID: 1, UnixUser: testUser()}, "x"); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.AcquireLease(ctx, "scheduler", "test", time.Hour); err != nil || !ok {
		t.Fatalf("scheduler lease: %v %v", ok, err)
	}
	return p
}

// submit stores a pending job of one core and 1 GB that runs script.
func (p *pgNode) submit(t *testing.T, ctx context.Context, script string) rcq.JobID {
	t.Helper()
	id, _, err := p.st.CreateJob(ctx, &rcq.Job{UserID: p.user, GroupID: 1, Script: script, WorkingDir: p.dir,
		Env: []string{"PATH=/usr/bin:/bin"}, Resources: rcq.Resources{CPUCores: 1, MemoryGB: 1}, EstimatedHours: 1, Priority: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// start submits one job per script and starts them all on the node's worker.
func (p *pgNode) start(t *testing.T, ctx context.Context, scripts ...string) []rcq.JobID {
	t.Helper()
	var ids []rcq.JobID
	var starts []rcq.Start
	for _, s := range scripts {
		id := p.submit(t, ctx, s)
		ids = append(ids, id)
		starts = append(starts, rcq.Start{JobID: id, WorkerID: p.worker})
	}
	if done, err := p.st.StartJobs(ctx, "scheduler", "test", starts); err != nil || len(done) != len(starts) {
		t.Fatalf("start %d jobs: %d started, %v", len(starts), len(done), err)
	}
	return ids
}

// handOver is the real store, but every successful claim hands the node's
// lease to the other holder at once: the two executors take turns, each
// trying every job while the other holds the lease.
type handOver struct {
	*observedStore
	lease    string
	holders  [2]string
	mu       sync.Mutex
	launched map[string]int
}

func (h *handOver) ClaimJob(ctx context.Context, id rcq.JobID, node, holder string) error {
	err := h.observedStore.ClaimJob(ctx, id, node, holder)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.launched[holder]++
	other := h.holders[0]
	if other == holder {
		other = h.holders[1]
	}
	if err := h.Store.ReleaseLease(ctx, h.lease, holder); err != nil {
		return err
	}
	_, err = h.Store.AcquireLease(ctx, h.lease, other, time.Hour)
	return err
}

// Two rcqd with the same node name (two state directories) run on one
// database, and the node's lease passes from one to the other after every
// launch while both try to launch every job: each job's script appends its
// id to one file, and the file shows every job exactly once. Without the
// claim both would launch every job.
func TestTwoExecutorsOneNodeNeverStartAJobTwice(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const node, n = "node-race", 12
	p := newPGNode(t, ctx, node, n)
	scripts := make([]string, n)
	for i := range scripts {
		scripts[i] = "#!/bin/sh\necho $RCQ_JOB_ID >> ran\n"
	}
	h := &handOver{observedStore: &observedStore{Store: p.st, finished: make(chan rcq.JobID, n)},
		lease: store.NodeLease(node), launched: map[string]int{}}
	states := [2]string{t.TempDir(), t.TempDir()}
	for i, state := range states {
		h.holders[i] = node + ":" + state
	}
	if ok, err := p.st.AcquireLease(ctx, h.lease, h.holders[0], time.Hour); err != nil || !ok {
		t.Fatalf("node lease: %v %v", ok, err)
	}
	ids := p.start(t, ctx, scripts...)
	for i, state := range states {
		// One launch at a time each: a claim hands the lease over before
		// the same executor tries its next one, so both take turns.
		startExec(t, h, state, func(c *Config) { c.Node, c.Holder, c.MaxLaunches = node, h.holders[i], 1 })
	}

	for ended := 0; ended < n; ended++ {
		select {
		case <-h.finished:
		case <-ctx.Done():
			t.Fatalf("%d of %d jobs ended", ended, n)
		}
	}
	lines := strings.Fields(readFile(t, filepath.Join(p.dir, "ran")))
	slices.Sort(lines)
	var want []string
	for _, id := range ids {
		want = append(want, strconv.FormatInt(int64(id), 10))
		if j, err := p.st.JobByID(ctx, id, 0); err != nil || j.State != rcq.JobCompleted {
			t.Errorf("job %d: %+v %v, want completed", id, j, err)
		}
	}
	slices.Sort(want)
	if !slices.Equal(lines, want) {
		t.Errorf("jobs that ran (one line per start): %v\nwant each of %v once", lines, want)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.launched[h.holders[0]] == 0 || h.launched[h.holders[1]] == 0 || h.launched[h.holders[0]]+h.launched[h.holders[1]] != n {
		t.Errorf("launches per rcqd: %v, want both launching, %d in all", h.launched, n)
	}
}

// A signal asked for while no rcqd runs on the job's node (it is
// restarting) waits in the store and is delivered by the executor that comes
// back, after it has adopted the job.
func TestSignalWhileNoExecutorRunsIsDelivered(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const node = "node-sig"
	p := newPGNode(t, ctx, node, 2)
	state := t.TempDir()
	holder := node + ":" + state
	if ok, err := p.st.AcquireLease(ctx, store.NodeLease(node), holder, time.Hour); err != nil || !ok {
		t.Fatalf("node lease: %v %v", ok, err)
	}
	ids := p.start(t, ctx, "#!/bin/bash\ntrap 'echo got-usr1; exit 0' USR1\necho ready > ready\nwhile :; do sleep 0.05; done\n")
	id := ids[0]
	obs := &observedStore{Store: p.st, finished: make(chan rcq.JobID, 1)}
	first := startExec(t, obs, state, func(c *Config) { c.Node, c.Holder = node, holder })
	waitFile(t, filepath.Join(p.dir, "ready"), 30*time.Second)
	first.stop() // rcqd goes away; the job keeps running

	if err := p.st.SignalJob(ctx, id, p.user, "USR1"); err != nil {
		t.Fatal(err)
	}
	startExec(t, obs, state, func(c *Config) { c.Node, c.Holder = node, holder })
	select {
	case <-obs.finished:
	case <-ctx.Done():
		t.Fatal("the job did not end: its signal was lost")
	}
	j, err := p.st.JobByID(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != rcq.JobCompleted {
		t.Errorf("job after its USR1: %s (signal %q), want completed by its trap", j.State, j.Signal)
	}
	if out := readFile(t, filepath.Join(p.dir, "rcq-"+itoa(id)+".out")); !strings.Contains(out, "got-usr1") {
		t.Errorf("output %q lacks the trap's line", out)
	}
}

package executor

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
)

// TestMain doubles as the supervisor: the executor under test re-executes this
// test binary with the argument "supervise", as rcqd re-executes itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "supervise" {
		os.Exit(SuperviseMain(os.Args[2:]))
	}
	os.Exit(dbtest.Main(m)) // starts PostgreSQL only if a test asks for it
}

// memStore is an in-memory Store with the semantics the interface documents.
// It has no lease: every holder may claim (the real store's fence is tested
// on PostgreSQL).
type memStore struct {
	mu         sync.Mutex
	jobs       map[rcq.JobID]*rcq.Job
	outcomes   map[rcq.JobID]rcq.Outcome
	finishes   map[rcq.JobID]int
	launchedBy map[rcq.JobID]string
	signals    []*memSignal
	changed    chan struct{} // closed and replaced on every FinishJob
}

type memSignal struct {
	rcq.JobSignal
	delivered bool
}

func newMemStore() *memStore {
	return &memStore{jobs: map[rcq.JobID]*rcq.Job{}, outcomes: map[rcq.JobID]rcq.Outcome{},
		finishes: map[rcq.JobID]int{}, launchedBy: map[rcq.JobID]string{}, changed: make(chan struct{})}
}

func (s *memStore) NodeJobs(ctx context.Context, node, holder string) ([]rcq.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rcq.Job
	for _, j := range s.jobs {
		if by := s.launchedBy[j.ID]; by != "" && by != holder {
			continue
		}
		if (j.State == rcq.JobRunning || j.State == rcq.JobCancelled) && j.StartedAt != nil && j.CompletedAt == nil {
			c := *j
			c.Env = append([]string(nil), j.Env...)
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *memStore) FinishJob(ctx context.Context, o rcq.Outcome) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[o.JobID]
	if j == nil {
		return rcq.Errorf(rcq.KindNotFound, "job_not_found", "job %d not found", o.JobID)
	}
	s.finishes[o.JobID]++
	if j.CompletedAt != nil {
		return nil
	}
	if j.State == rcq.JobRunning {
		j.State = o.State
	}
	j.Reason, j.ExitCode, j.Signal = o.Reason, o.ExitCode, o.Signal
	t := o.EndedAt
	j.CompletedAt = &t
	s.outcomes[o.JobID] = o
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

func (s *memStore) ClaimJob(ctx context.Context, id rcq.JobID, node, holder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil || j.State != rcq.JobRunning {
		return rcq.Errorf(rcq.KindConflict, "job_not_running", "job %d is not running", id)
	}
	if by := s.launchedBy[id]; by != "" && by != holder {
		return rcq.Errorf(rcq.KindConflict, "job_launched_elsewhere", "job %d was launched by %s", id, by)
	}
	s.launchedBy[id] = holder
	return nil
}

func (s *memStore) PendingSignals(ctx context.Context, node, holder string) ([]rcq.JobSignal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rcq.JobSignal
	for _, sg := range s.signals {
		j := s.jobs[sg.JobID]
		if by := s.launchedBy[sg.JobID]; sg.delivered || j.CompletedAt != nil || by != "" && by != holder {
			continue
		}
		out = append(out, sg.JobSignal)
	}
	return out, nil
}

func (s *memStore) SignalDelivered(ctx context.Context, id int64) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sg := range s.signals {
		if sg.ID == id && !sg.delivered {
			sg.delivered = true
			return true, nil
		}
	}
	return false, nil
}

// signal records a signal request for job id, as the API does, and returns it.
func (s *memStore) signal(id rcq.JobID, name string) *memSignal {
	s.mu.Lock()
	defer s.mu.Unlock()
	sg := &memSignal{JobSignal: rcq.JobSignal{ID: int64(len(s.signals) + 1), JobID: id, Signal: name}}
	s.signals = append(s.signals, sg)
	return sg
}

func (s *memStore) delivered(sg *memSignal) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sg.delivered
}

// add stores j as started now on this node.
func (s *memStore) add(j *rcq.Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	j.State, j.StartedAt = rcq.JobRunning, &now
	if j.Resources.CPUCores == 0 {
		j.Resources.CPUCores = 1
	}
	if j.EstimatedHours == 0 {
		j.EstimatedHours = 1
	}
	if j.UserEmail == "" {
		j.UserEmail = "alice@example.org"
	}
	j.WorkerName = "w1"
	s.jobs[j.ID] = j
}

func (s *memStore) cancel(id rcq.JobID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.jobs[id].State = rcq.JobCancelled
}

// wait returns the job once the executor has finished it.
func (s *memStore) wait(t testing.TB, id rcq.JobID, within time.Duration) rcq.Job {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		j := s.jobs[id]
		ch := s.changed
		if j.CompletedAt != nil {
			c := *j
			s.mu.Unlock()
			return c
		}
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("job %d not finished within %v", id, within)
		}
	}
}

func (s *memStore) outcome(id rcq.JobID) rcq.Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outcomes[id]
}

func (s *memStore) finishCount(id rcq.JobID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.finishes[id]
}

type testExec struct {
	*Executor
	cancel context.CancelFunc
	done   chan struct{}
}

// startExec runs an Executor over st on stateDir until the test ends (or stop).
func startExec(t testing.TB, st Store, stateDir string, mod func(*Config)) *testExec {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Node: "n1", Holder: "n1:" + stateDir, StateDir: stateDir, KillGrace: time.Second, Tick: 200 * time.Millisecond,
		SupervisorCommand: []string{exe, "supervise"}}
	if mod != nil {
		mod(&cfg)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, ok := t.(*testing.B); ok {
		logger = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	e, err := New(cfg, st, logger)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	te := &testExec{Executor: e, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(te.done)
		e.Run(ctx)
	}()
	t.Cleanup(func() {
		te.stop()
		cancelLeftovers(stateDir)
		if e.cgroups != nil {
			e.cgroups.close() // again: the leftovers were still ending when it stopped
		}
	})
	return te
}

// cancelLeftovers cancels jobs still running when a test ends (it failed
// half-way): supervisors outlive their executor by design, so the test must
// stop them. The supervisor ends its job and exits by itself.
func cancelLeftovers(stateDir string) {
	dirs, _ := os.ReadDir(filepath.Join(stateDir, jobsSubdir))
	for _, d := range dirs {
		if locked, pid := supervisorAlive(filepath.Join(stateDir, jobsSubdir, d.Name())); locked && pid > 0 {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}
}

func (te *testExec) stop() {
	te.cancel()
	<-te.done
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// openDir returns a fresh directory any user may write to (jobs run as nobody).
func openDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	for p := d; p != "/" && p != os.TempDir(); p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o005 != 0o005 {
			if err := os.Chmod(p, fi.Mode().Perm()|0o005); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
}

// testUser is who jobs run as: nobody when the tests run as root.
func testUser() string {
	if os.Geteuid() == 0 {
		return "nobody"
	}
	return ""
}

// waitFile waits for a file an external process writes; polling is the only
// way to watch another process's file system writes without inotify.
func waitFile(t *testing.T, path string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		data, err := os.ReadFile(path)
		if err == nil && len(data) > 0 && strings.HasSuffix(string(data), "\n") {
			return strings.TrimSpace(string(data))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written within %v", path, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Store is what the executor needs from the database.
type Store interface {
	// NodeJobs returns jobs that hold resources on workers of this node: started and not yet
	// completed (State running, or cancelled while their processes are still alive), and not
	// launched by another holder of the node's lease, with Script, Args, Env, WorkingDir, Output,
	// Error, UserEmail, UnixUser, WorkerName, GPUIndices, StartedAt filled.
	NodeJobs(ctx context.Context, node, holder string) ([]rcq.Job, error)
	// ClaimJob marks a running job of node as launched by holder, fenced by the node's lease:
	// it fails when holder does not hold the lease, or the job is no longer running on node, or
	// another holder launched it. holder may claim a job it claimed before.
	ClaimJob(ctx context.Context, id rcq.JobID, node, holder string) error
	// PendingSignals returns the signals asked for and not yet delivered, oldest first, of the
	// uncompleted jobs of node that holder launched or may launch.
	PendingSignals(ctx context.Context, node, holder string) ([]rcq.JobSignal, error)
	// SignalDelivered records that a signal request is being sent; false when it already was.
	SignalDelivered(ctx context.Context, id int64) (bool, error)
	// FinishJob records how a job's processes ended, in one transaction with its usage_logs row
	// (cpu_hours = cpu_cores x wall hours, gpu_hours likewise) and a job_ended notification.
	// A running job moves to o.State; a cancelled job stays cancelled and gets exit code and times.
	// Finishing an already-completed job is a no-op (idempotent), not an error.
	// With o.Holder set the report is fenced by the launch claim: a run that was
	// requeued since (o.Restarts is behind) or launched by another holder is not
	// recorded, and FinishJob returns an error with Code "stale_run".
	FinishJob(ctx context.Context, o rcq.Outcome) error
}

// codeStaleRun is the rcq.Error code of FinishJob's refusal of a stale run.
const codeStaleRun = "stale_run"

// Config configures an Executor.
type Config struct {
	Node string // this rcqd's node name: it runs the jobs of workers with this Node
	// Holder names this rcqd in the node's lease (rcqd holds it while it
	// runs); every launch is claimed in the store under it.
	Holder   string
	StateDir string // job directories go in <StateDir>/jobs/<id> unless RunDir is set
	// RunDir, when set, holds the job directories instead: they are runtime
	// state (meaningless after a reboot), so a tmpfs such as /run/rcq saves
	// a dozen disk metadata operations per job. Jobs started before the
	// machine booted and without a directory end as WorkerLost either way.
	RunDir    string
	LogDir    string        // per-job daemon logs <LogDir>/job-<id>.log; default <StateDir>/logs
	OutputDir string        // default directory of output files; "" for the job's working dir
	KillGrace time.Duration // SIGTERM to SIGKILL on cancel and time limit; 0: 30s; < 0: none

	// SupervisorCommand runs a supervisor; the job directory is appended.
	// Default: this executable with the argument "supervise".
	SupervisorCommand []string
	// Tick is how often the loop re-reads the store without a Notify; default 3s.
	Tick time.Duration
	// MaxLaunches bounds concurrent launches; default 32 (a launch mostly
	// waits on the file system and fork/exec, so more than the cores helps).
	MaxLaunches int
	// PidsMax is pids.max of a job's cgroup (v2 or v1); 0 for no limit.
	PidsMax int
	// NoCgroups turns cgroup enforcement (v2 or v1) off even where it is available.
	NoCgroups bool
	// CompatDir, when set, is put first on every job's PATH: rcq's Slurm
	// command names (srun), so a script's srun is rcq's even where a
	// Slurm client is installed.
	CompatDir string
	// OnEnded, when set, is called after a job's end is recorded (rcqd
	// wakes its scheduler: capacity is free). It must return promptly.
	OnEnded func(rcq.JobID)
}

// Executor launches, watches, cancels and finishes the jobs of one node.
type Executor struct {
	cfg      Config
	store    Store
	log      *slog.Logger
	jobsDir  string
	bootTime time.Time // when this machine booted; zero when unknown
	root     bool      // rcqd is root: jobs run as their owners' mapped users

	devnull     *os.File
	logDir      *os.File   // LogDir, held open: job logs are opened relative to it
	cgroups     cgroupMode // nil: CPU affinity only
	enforcement string
	allowedCPUs []int

	wake    chan struct{}
	sigWake chan struct{} // signals asked for: deliver them
	launch  chan struct{} // semaphore

	scanned bool // the job directories a previous rcqd left were checked (first pass)

	mu       sync.Mutex
	jobs     map[rcq.JobID]*tracked
	done     map[rcq.JobID]endedRun // runs whose end we recorded in the store
	stopping bool
	wg       sync.WaitGroup
}

// endedRun is a run of a job whose end this executor recorded, and when: a
// list of the node's jobs read before that commit may still show the run,
// which must not be taken again; a later run of the job (it was requeued
// since) must be.
type endedRun struct {
	run int
	at  time.Time
}

// tracked is a job this executor supervises.
type tracked struct {
	job      rcq.Job
	dir      string
	pid      int      // the supervisor's pid; 0 while launching
	pidfd    *os.File // the supervisor's pidfd, watched through the netpoller
	cpus     []int
	termSent bool
	busy     bool         // a goroutine is launching, inspecting or finishing it
	outcome  *rcq.Outcome // ended, but the store has not recorded it yet
	// staleKilled: the store moved past this run and its processes were
	// killed (stopStaleLocked); its end will not be recorded.
	staleKilled bool
}

// New checks the configuration, creates the state directories and detects
// which limits the machine can enforce.
func New(cfg Config, store Store, logger *slog.Logger) (*Executor, error) {
	if cfg.Node == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("executor: node name: %w", err)
		}
		cfg.Node = h
	}
	if cfg.StateDir == "" {
		return nil, errors.New("executor: a state directory is required")
	}
	if cfg.Holder == "" {
		return nil, errors.New("executor: a lease holder name is required")
	}
	if cfg.LogDir == "" {
		cfg.LogDir = filepath.Join(cfg.StateDir, "logs")
	}
	switch {
	case cfg.KillGrace == 0:
		cfg.KillGrace = 30 * time.Second
	case cfg.KillGrace < 0:
		cfg.KillGrace = 0
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 3 * time.Second
	}
	if cfg.MaxLaunches <= 0 {
		cfg.MaxLaunches = 32
	}
	if len(cfg.SupervisorCommand) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("executor: find rcqd's executable for supervisors: %w", err)
		}
		cfg.SupervisorCommand = []string{exe, "supervise"}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	e := &Executor{
		cfg:         cfg,
		store:       store,
		log:         logger.With("node", cfg.Node),
		jobsDir:     filepath.Join(cfg.StateDir, jobsSubdir),
		bootTime:    bootTime(),
		root:        os.Geteuid() == 0,
		allowedCPUs: allowedCPUs(),
		wake:        make(chan struct{}, 1),
		sigWake:     make(chan struct{}, 1),
		launch:      make(chan struct{}, cfg.MaxLaunches),
		jobs:        make(map[rcq.JobID]*tracked),
		done:        make(map[rcq.JobID]endedRun),
	}
	if cfg.RunDir != "" {
		e.jobsDir = cfg.RunDir
	}
	var err error
	if e.devnull, err = os.Open(os.DevNull); err != nil {
		return nil, fmt.Errorf("executor: %w", err)
	}
	for _, d := range []string{e.jobsDir, cfg.LogDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("executor: %w", err)
		}
	}
	if e.logDir, err = openDirNoFollow(cfg.LogDir); err != nil {
		return nil, fmt.Errorf("executor: %w", err)
	}
	why := "cgroups disabled by configuration"
	if !cfg.NoCgroups {
		e.cgroups, why = detectCgroups(cgroupInstance(e.jobsDir))
	}
	if e.cgroups != nil {
		e.enforcement = e.cgroups.describe()
	} else {
		e.enforcement = EnforceAffinity + " (no memory limit; " + why + ")"
	}
	return e, nil
}

// Enforcement says how job limits are enforced on this node, for the start-up
// banner: cgroup v2 (memory, cpu, pids), cgroup v1 (memory, cpuset, pids), or
// CPU affinity only, with the reasons.
func (e *Executor) Enforcement() string { return e.enforcement }

// OutputPaths is OutputPathsIn with this executor's output directory.
func (e *Executor) OutputPaths(j *rcq.Job) (stdout, stderr string) {
	return OutputPathsIn(j, e.cfg.OutputDir)
}

// Notify asks for a reconcile pass soon and never blocks.
func (e *Executor) Notify() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// NotifySignals asks for the signals recorded in the store to be delivered
// soon, and never blocks.
func (e *Executor) NotifySignals() {
	select {
	case e.sigWake <- struct{}{}:
	default:
	}
}

// Run reconciles until ctx ends: first the jobs a previous rcqd left (adopted,
// finished or failed as WorkerLost), then on every Notify and tick. Between
// passes it delivers the signals recorded in the store: on NotifySignals, on
// every tick, and soon again while one waits for its job to start. It returns
// when ctx ends, leaving jobs running under their supervisors.
func (e *Executor) Run(ctx context.Context) error {
	t := time.NewTicker(e.cfg.Tick)
	defer t.Stop()
	defer e.shutdown()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	var backoff time.Duration
	reconcile, signals := true, true
	for {
		if reconcile {
			e.runOnce(ctx)
		}
		if signals {
			if r := e.deliverSignals(ctx); r.Deferred > 0 {
				backoff = min(max(2*backoff, signalRetry), e.cfg.Tick)
				retry.Reset(backoff)
			} else {
				backoff = 0
			}
		}
		reconcile, signals = false, false
		select {
		case <-ctx.Done():
			return nil
		case <-e.wake:
			reconcile = true
		case <-e.sigWake:
			signals = true
		case <-retry.C:
			signals = true
		case <-t.C:
			reconcile, signals = true, true
		}
	}
}

// shutdown stops watching supervisors and waits for the executor's goroutines.
func (e *Executor) shutdown() {
	e.mu.Lock()
	e.stopping = true
	for _, tr := range e.jobs {
		if tr.pidfd != nil {
			tr.pidfd.Close() // wakes its watcher
		}
	}
	e.mu.Unlock()
	e.wg.Wait()
	if e.cgroups != nil {
		e.cgroups.close()
	}
}

// passResult says what one reconcile pass did, for tests.
type passResult struct {
	Taken, Terminated, Retried int
	// Killed counts the runs stopped because the store moved past them (the
	// job ended node_fail, was requeued, or another holder launched it).
	Killed int
	Err    error
}

// runOnce diffs the store's jobs of this node with what is supervised.
func (e *Executor) runOnce(ctx context.Context) passResult {
	var r passResult
	began := time.Now()
	jobs, err := e.store.NodeJobs(ctx, e.cfg.Node, e.cfg.Holder)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("read this node's jobs", "err", err)
		}
		r.Err = err
		return r
	}
	if !e.scanned {
		// Before anything is taken: every job directory now is a previous
		// rcqd's.
		e.scanned = true
		r.Killed += e.stopOrphans(jobs)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return r
	}
	listed := make(map[rcq.JobID]bool, len(jobs))
	for i := range jobs {
		j := jobs[i]
		listed[j.ID] = true
		if d, ok := e.done[j.ID]; ok {
			if d.run == j.Restarts {
				continue
			}
			delete(e.done, j.ID) // requeued since, and started again: a new run
		}
		tr := e.jobs[j.ID]
		if tr != nil && tr.job.Restarts != j.Restarts {
			// The job was requeued and started again since this run began
			// (on this node too): stop the old run; a later pass takes
			// the new one.
			if e.stopStaleLocked(tr, fmt.Sprintf("the job was requeued (run %d) and started again", j.Restarts)) {
				r.Killed++
			}
			continue
		}
		if tr == nil {
			tr = &tracked{job: j, dir: filepath.Join(e.jobsDir, strconv.FormatInt(int64(j.ID), 10)), busy: true}
			e.jobs[j.ID] = tr
			e.goTake(ctx, tr)
			r.Taken++
			continue
		}
		tr.job.State = j.State
		if e.termLocked(tr) {
			r.Terminated++
		}
	}
	for id, tr := range e.jobs {
		if !listed[id] && e.stopStaleLocked(tr, "the store no longer lists it for this node: it ended (node_fail after this node was lost) or was requeued or launched elsewhere") {
			r.Killed++
		}
	}
	for id, d := range e.done {
		if !listed[id] && d.at.Before(began) {
			delete(e.done, id) // the store no longer lists it: no stale list can revive it
		}
	}
	for _, tr := range e.jobs {
		if tr.outcome != nil && !tr.busy {
			tr.busy = true
			o := *tr.outcome
			e.wg.Go(func() { e.report(ctx, tr, o) })
			r.Retried++
		}
	}
	return r
}

// stopStaleLocked kills the processes of a run the store has moved past: the
// job's node was declared dead (node_fail) while this rcqd was paused or cut
// off, and the job ended or went back to the queue; or it was requeued and
// started again. Never two copies: the job's process group gets SIGKILL at
// once (no grace: the job may be running elsewhere already), and the
// supervisor, seeing it die, exits; its report is then refused as stale and
// the run forgotten. Only a run this executor watches is stopped (a launch
// or report in flight is left to finish: its claim or report is fenced).
func (e *Executor) stopStaleLocked(tr *tracked, why string) bool {
	if tr.busy || tr.pidfd == nil || tr.outcome != nil || tr.staleKilled {
		return false
	}
	tr.staleKilled = true
	id := tr.job.ID
	e.log.Warn("stopping a run the store has moved past: never two copies", "job_id", id, "pid", tr.pid, "reason", why)
	e.jobLog(id, "stopped (SIGKILL to the job's process group): %s", why)
	killed := false
	if pgid, start, err := readPid(filepath.Join(tr.dir, jobPidFile)); err == nil {
		if now, err := procStartTime(pgid); err == nil && now == start {
			killed = unix.Kill(-pgid, unix.SIGKILL) == nil
		}
	}
	if !killed {
		// The job has not started its process group yet (or is gone): stop
		// the supervisor itself, through its pidfd.
		if rc, err := tr.pidfd.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { unix.PidfdSendSignal(int(fd), unix.SIGKILL, nil, 0) })
		}
	}
	return true
}

// termLocked sends the cancel (SIGTERM) to a cancelled job's supervisor once.
// A supervisor that has not written its pid file yet may not have installed
// its signal handler either (SIGTERM would kill it outright, losing the job's
// status): the cancel then waits for a later pass.
func (e *Executor) termLocked(tr *tracked) bool {
	if tr.job.State != rcq.JobCancelled || tr.termSent || tr.pidfd == nil || tr.outcome != nil {
		return false
	}
	if _, _, err := readPid(filepath.Join(tr.dir, pidFile)); err != nil {
		e.Notify() // soon, not at the next tick
		return false
	}
	tr.termSent = true
	// Through the pidfd, so a reused pid can never get it; Control, not Fd,
	// keeps the descriptor non-blocking for its watcher.
	var err error
	if rc, cerr := tr.pidfd.SyscallConn(); cerr != nil {
		err = cerr
	} else if cerr := rc.Control(func(fd uintptr) { err = unix.PidfdSendSignal(int(fd), unix.SIGTERM, nil, 0) }); cerr != nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, unix.ESRCH) {
		e.log.Warn("cancel job", "job_id", tr.job.ID, "err", err)
	}
	e.jobLog(tr.job.ID, "cancel: SIGTERM to supervisor %d (grace %v)", tr.pid, e.cfg.KillGrace)
	return true
}

func (e *Executor) goTake(ctx context.Context, tr *tracked) {
	e.wg.Go(func() { e.take(ctx, tr) })
}

// take handles a job this executor does not supervise yet: launch it, or, when
// a previous rcqd left its directory, adopt or finish it.
func (e *Executor) take(ctx context.Context, tr *tracked) {
	id := tr.job.ID
	if _, err := os.Stat(tr.dir); errors.Is(err, os.ErrNotExist) {
		if st := tr.job.StartedAt; st != nil && !e.bootTime.IsZero() && st.Before(e.bootTime) {
			// Started before this machine booted: whatever ran died with it.
			e.jobLog(id, "worker lost: the machine restarted after the job started")
			e.log.Warn("job lost: the machine restarted", "job_id", id)
			e.report(ctx, tr, rcq.Outcome{JobID: id, State: rcq.JobFailed, Reason: rcq.ReasonWorkerLost,
				Detail: "the machine restarted after the job started", EndedAt: time.Now()})
			return
		}
		e.launchOrSkip(ctx, tr)
		return
	}
	var old jobSpec
	if readJSON(filepath.Join(tr.dir, specFile), &old) == nil && old.Restarts != tr.job.Restarts {
		// The directory is an earlier run's, left by a previous rcqd or
		// a paused one: the job was requeued since. Stop what is left of
		// that run and launch this one.
		e.stopOldRun(tr, old.Restarts)
		e.launchOrSkip(ctx, tr)
		return
	}
	locked, pid := supervisorAlive(tr.dir)
	if locked && pid == 0 {
		e.drop(tr) // a supervisor is starting: a later pass adopts it
		return
	}
	if locked {
		fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
		if err == nil {
			if ok, _ := supervisorAlive(tr.dir); ok { // pid not reused: its holder is alive
				var sp jobSpec
				readJSON(filepath.Join(tr.dir, specFile), &sp)
				e.jobLog(id, "adopted supervisor %d", pid)
				e.log.Info("adopted job", "job_id", id, "pid", pid)
				e.watch(ctx, tr, pid, fd, sp.CPUs)
				return
			}
			unix.Close(fd)
		}
	}
	if st, err := readStatus(tr.dir); err == nil {
		e.report(ctx, tr, st.outcome(id))
		return
	}
	if _, _, err := readPid(filepath.Join(tr.dir, pidFile)); errors.Is(err, os.ErrNotExist) {
		// A supervisor never ran for it: the script never started.
		os.RemoveAll(tr.dir)
		e.launchOrSkip(ctx, tr)
		return
	}
	detail := "its supervisor ended without recording an exit status (killed, or the machine restarted)"
	e.killLeftovers(tr.dir)
	e.jobLog(id, "worker lost: %s", detail)
	e.log.Warn("job lost", "job_id", id, "reason", detail)
	e.report(ctx, tr, rcq.Outcome{JobID: id, State: rcq.JobFailed, Reason: rcq.ReasonWorkerLost, Detail: detail, EndedAt: time.Now()})
}

// stopOrphans, at start, stops what a previous rcqd left running of jobs
// that are no longer this node's: their node was declared dead while no rcqd
// ran here, and they ended node_fail or were requeued (and may run elsewhere
// now). Each such job directory's supervisor and process group are killed
// and the directory removed, with the reason in the job's log. Never two
// copies. It returns how many it stopped.
func (e *Executor) stopOrphans(jobs []rcq.Job) int {
	listed := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		listed[strconv.FormatInt(int64(j.ID), 10)] = true
	}
	entries, err := os.ReadDir(e.jobsDir)
	if err != nil {
		e.log.Warn("read the job directories", "err", err)
		return 0
	}
	n := 0
	for _, ent := range entries {
		id, err := strconv.ParseInt(ent.Name(), 10, 64)
		if err != nil || id <= 0 || listed[ent.Name()] || !ent.IsDir() {
			continue
		}
		dir := filepath.Join(e.jobsDir, ent.Name())
		alive := false
		if locked, pid := supervisorAlive(dir); locked && pid > 0 {
			alive = true
			if fd, err := unix.PidfdOpen(pid, 0); err == nil {
				unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
				unix.Close(fd)
			}
		}
		e.killLeftovers(dir)
		if alive {
			n++
			why := "the job is no longer this node's: it ended (node_fail) or was requeued while no rcqd ran here"
			e.log.Warn("stopped a job left running by a previous rcqd: never two copies", "job_id", id, "reason", why)
			e.jobLog(rcq.JobID(id), "stopped at rcqd start (SIGKILL): %s", why)
		}
		if err := os.RemoveAll(dir); err != nil {
			e.log.Warn("remove a stale job directory", "job_id", id, "err", err)
		}
	}
	return n
}

// stopOldRun kills what is left of an earlier run of tr's job in its
// directory (its process group, then its supervisor) and removes the
// directory, so the current run starts clean. Never two copies.
func (e *Executor) stopOldRun(tr *tracked, oldRun int) {
	id := tr.job.ID
	if locked, pid := supervisorAlive(tr.dir); locked && pid > 0 {
		if fd, err := unix.PidfdOpen(pid, 0); err == nil {
			unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
			unix.Close(fd)
		}
	}
	e.killLeftovers(tr.dir)
	why := fmt.Sprintf("run %d of the job was still here; the job was requeued since and is now in run %d", oldRun, tr.job.Restarts)
	e.log.Warn("stopping an earlier run of a requeued job: never two copies", "job_id", id, "reason", why)
	e.jobLog(id, "stopped: %s", why)
	if err := os.RemoveAll(tr.dir); err != nil {
		e.log.Warn("remove an earlier run's job directory", "job_id", id, "err", err)
	}
}

// supervisorAlive reports whether a supervisor holds the job directory's lock,
// and its pid (0 when it has not written it yet). The lock, not the pid, is
// the proof: a pid can be reused, a lock dies with its holder.
func supervisorAlive(dir string) (locked bool, pid int) {
	f, err := openDirNoFollow(dir)
	if err != nil {
		return false, 0
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil {
		return false, 0
	}
	p, _, err := readPid(filepath.Join(dir, pidFile))
	if err != nil {
		return true, 0
	}
	return true, p
}

// killLeftovers kills the processes of a job whose supervisor died.
func (e *Executor) killLeftovers(dir string) {
	if pgid, start, err := readPid(filepath.Join(dir, jobPidFile)); err == nil {
		if now, err := procStartTime(pgid); err == nil && now == start {
			unix.Kill(-pgid, unix.SIGKILL)
		}
	}
	var sp jobSpec
	if readJSON(filepath.Join(dir, specFile), &sp) == nil {
		if cg := jobCgroupOf(&sp); cg != nil {
			if err := cg.remove(); err != nil {
				e.log.Warn("remove a lost job's cgroups", "dir", dir, "err", err)
			}
		}
	}
}

func (e *Executor) launchOrSkip(ctx context.Context, tr *tracked) {
	e.mu.Lock()
	cancelled := tr.job.State == rcq.JobCancelled
	e.mu.Unlock()
	if cancelled {
		// Cancelled before it was ever launched here: nothing to kill.
		e.report(ctx, tr, rcq.Outcome{JobID: tr.job.ID, State: rcq.JobCancelled, Reason: rcq.ReasonCancelledByUser, EndedAt: time.Now()})
		return
	}
	select {
	case e.launch <- struct{}{}:
	case <-ctx.Done():
		e.drop(tr)
		return
	}
	defer func() { <-e.launch }()
	if err := e.start(ctx, tr); err != nil {
		var nc notClaimed
		if errors.As(err, &nc) {
			// Not launched, and not failed either: the store says whether
			// and when it may be (a later pass takes it again).
			level := slog.LevelDebug
			if rcq.KindOf(nc.err) != rcq.KindConflict {
				level = slog.LevelWarn
			}
			e.log.Log(ctx, level, "job not launched: the store refused this rcqd's claim", "job_id", tr.job.ID, "err", nc.err)
			e.drop(tr)
			return
		}
		detail := rcq.MessageOf(err)
		if rcq.KindOf(err) == rcq.KindInternal {
			detail = err.Error()
		}
		e.jobLog(tr.job.ID, "launch failed: %s", detail)
		e.log.Warn("launch failed", "job_id", tr.job.ID, "err", err)
		os.RemoveAll(tr.dir)
		e.report(ctx, tr, rcq.Outcome{JobID: tr.job.ID, State: rcq.JobFailed, Reason: rcq.ReasonLaunchFailed, Detail: detail, EndedAt: time.Now()})
	}
}

// notClaimed is a launch the store refused (ClaimJob): nothing was started.
type notClaimed struct{ err error }

func (n notClaimed) Error() string { return "claim: " + n.err.Error() }
func (n notClaimed) Unwrap() error { return n.err }

// drop forgets a job that was not launched, so a later pass takes it again.
func (e *Executor) drop(tr *tracked) {
	e.mu.Lock()
	delete(e.jobs, tr.job.ID)
	e.mu.Unlock()
}

// credentials returns who a job runs as when rcqd is root.
func credentials(j *rcq.Job) (uid, gid uint32, groups []uint32, err error) {
	if j.UnixUser == "" {
		return 0, 0, nil, rcq.Errorf(rcq.KindUnprocessable, "no_unix_user",
			"account %s has no Unix user mapping, and rcqd runs as root so it never runs jobs as itself; an admin maps it with: rcq-admin user set %s --unix-user NAME", j.UserEmail, j.UserEmail)
	}
	u, err := user.Lookup(j.UnixUser)
	if err != nil {
		return 0, 0, nil, rcq.Errorf(rcq.KindUnprocessable, "no_unix_user",
			"account %s maps to Unix user %q, which does not exist on this node", j.UserEmail, j.UnixUser)
	}
	u64, err1 := strconv.ParseUint(u.Uid, 10, 32)
	g64, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, nil, fmt.Errorf("user %s: bad uid %q or gid %q", j.UnixUser, u.Uid, u.Gid)
	}
	if u64 == 0 {
		return 0, 0, nil, rcq.Errorf(rcq.KindUnprocessable, "root_user",
			"account %s maps to Unix user %q with uid 0; rcq never runs jobs as root", j.UserEmail, j.UnixUser)
	}
	gids, _ := u.GroupIds()
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			groups = append(groups, uint32(n))
		}
	}
	return uint32(u64), uint32(g64), groups, nil
}

// start writes the job directory and starts its supervisor.
func (e *Executor) start(ctx context.Context, tr *tracked) error {
	j := &tr.job
	sp := jobSpec{
		JobID:       j.ID,
		Restarts:    j.Restarts,
		Script:      j.Script,
		Interpreter: interpreter(j.Script),
		Args:        j.Args,
		Env:         jobEnv(j),
		Dir:         j.WorkingDir,
		Umask:       j.Umask,
		TimeLimit:   j.TimeLimit(),
		Grace:       e.cfg.KillGrace,
		CPUCores:    j.Resources.CPUCores,
		MemoryBytes: int64(j.Resources.MemoryGB) << 30,
		PidsMax:     e.cfg.PidsMax,
	}
	if sp.Dir == "" {
		sp.Dir = "/"
	}
	sp.Stdout, sp.Stderr = e.OutputPaths(j)
	if e.root {
		uid, gid, groups, err := credentials(j)
		if err != nil {
			return err
		}
		sp.SetUser, sp.User, sp.UID, sp.GID, sp.Groups = true, j.UnixUser, uid, gid, groups
		sp.Env = loginEnv(sp.Env, j.UnixUser)
	} else if self, err := user.Current(); err == nil { // cached by os/user
		sp.Env = loginEnv(sp.Env, self.Username)
	}
	sp.Env = compatPath(sp.Env, e.cfg.CompatDir)
	if e.cgroups != nil {
		e.cgroups.assign(&sp, j.ID)
	}
	e.mu.Lock()
	used := map[int]int{}
	for _, o := range e.jobs {
		for _, c := range o.cpus {
			used[c]++
		}
	}
	sp.CPUs = pickCPUs(e.allowedCPUs, used, j.Resources.CPUCores)
	tr.cpus = sp.CPUs
	e.mu.Unlock()

	// Claimed in the store before anything of the job exists on disk: a
	// job directory always belongs to a job this holder claimed, so a
	// restarted rcqd (same holder) adopts what it finds without asking, and
	// no other rcqd on this node name can launch the job too.
	if err := e.store.ClaimJob(ctx, j.ID, e.cfg.Node, e.cfg.Holder); err != nil {
		return notClaimed{err}
	}
	if err := os.Mkdir(tr.dir, 0o700); err != nil {
		return err
	}
	if err := writeJSONNew(filepath.Join(tr.dir, specFile), &sp); err != nil {
		return err
	}
	logf, err := e.openJobLog(j.ID)
	if err != nil {
		return err
	}
	defer logf.Close()
	fmt.Fprintf(logf, "%s executor: launching job %d for %s on worker %s (cores %d, memory %d GB, gpus %v, limit %v)\n",
		time.Now().UTC().Format(time.RFC3339Nano), j.ID, j.UserEmail, j.WorkerName,
		j.Resources.CPUCores, j.Resources.MemoryGB, j.GPUIndices, sp.TimeLimit)
	// The lock (flock on the job directory) is taken here and handed to the
	// supervisor as fd 3 (one open
	// file description, so one lock): it is held without a gap from before
	// the fork until the supervisor exits, even if rcqd dies in between.
	lock, err := openDirNoFollow(tr.dir)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("lock %s: %w", tr.dir, err)
	}
	argv := append(append([]string(nil), e.cfg.SupervisorCommand...), tr.dir)
	pidfd := -1
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{
		Dir:   "/",
		Env:   supervisorEnv,
		Files: []uintptr{e.devnull.Fd(), e.devnull.Fd(), logf.Fd(), lock.Fd()},
		Sys:   &syscall.SysProcAttr{Setsid: true, PidFD: &pidfd},
	})
	if err != nil {
		return fmt.Errorf("start supervisor %s: %w", argv[0], err)
	}
	if pidfd < 0 {
		if pidfd, err = unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK); err != nil {
			unix.Kill(pid, unix.SIGKILL)
			var ws unix.WaitStatus
			unix.Wait4(pid, &ws, 0, nil)
			return fmt.Errorf("pidfd of supervisor %d: %w", pid, err)
		}
	}
	e.log.Debug("launched job", "job_id", j.ID, "pid", pid)
	e.watch(ctx, tr, pid, pidfd, sp.CPUs)
	return nil
}

// watch waits, without holding a thread, for a supervisor to exit, then
// reports the job's outcome.
func (e *Executor) watch(ctx context.Context, tr *tracked, pid, pidfd int, cpus []int) {
	unix.SetNonblock(pidfd, true)
	f := os.NewFile(uintptr(pidfd), "pidfd")
	e.mu.Lock()
	tr.pid, tr.pidfd, tr.cpus, tr.busy = pid, f, cpus, false
	if e.stopping {
		e.mu.Unlock()
		f.Close()
		return
	}
	e.termLocked(tr)
	e.mu.Unlock()
	e.wg.Go(func() {
		rc, err := f.SyscallConn()
		if err == nil {
			err = rc.Read(func(fd uintptr) bool {
				p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
				n, _ := unix.Poll(p, 0)
				return n > 0
			})
		}
		if err != nil {
			return // closed by shutdown: the next rcqd adopts it
		}
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, unix.WNOHANG, nil) // reap it if it is our child
		e.mu.Lock()
		tr.busy = true
		tr.pidfd = nil
		e.mu.Unlock()
		f.Close()
		o, err := e.readOutcome(tr)
		if err != nil {
			e.killLeftovers(tr.dir)
			e.log.Warn("job lost", "job_id", tr.job.ID, "err", err)
			e.jobLog(tr.job.ID, "worker lost: supervisor %d exited without an exit status: %v", pid, err)
		}
		e.report(ctx, tr, o)
	})
}

func (e *Executor) readOutcome(tr *tracked) (rcq.Outcome, error) {
	st, err := readStatus(tr.dir)
	if err != nil {
		return rcq.Outcome{JobID: tr.job.ID, State: rcq.JobFailed, Reason: rcq.ReasonWorkerLost, EndedAt: time.Now()}, err
	}
	return st.outcome(tr.job.ID), nil
}

// report records a job's outcome in the store; on failure a later pass retries.
func (e *Executor) report(ctx context.Context, tr *tracked, o rcq.Outcome) {
	id := tr.job.ID
	o.Holder, o.Restarts = e.cfg.Holder, tr.job.Restarts
	err := e.store.FinishJob(ctx, o)
	if rcq.CodeOf(err) == codeStaleRun {
		// The store moved past this run (node_fail and requeue while this
		// rcqd was cut off, or launched elsewhere): record nothing, leave
		// nothing running, and forget the run without marking the job
		// done, so its current run (if on this node) is taken.
		e.killLeftovers(tr.dir)
		e.mu.Lock()
		delete(e.jobs, id)
		e.mu.Unlock()
		e.jobLog(id, "end of run %d not recorded: the job was requeued or launched elsewhere since", tr.job.Restarts)
		e.log.Warn("end of a stale run not recorded", "job_id", id, "run", tr.job.Restarts, "state", o.State)
		if err := os.RemoveAll(tr.dir); err != nil {
			e.log.Warn("remove job directory", "job_id", id, "err", err)
		}
		// A pass that listed the job's current run here while this one
		// was still tracked left it: take it now, not at the next tick.
		e.Notify()
		return
	}
	e.mu.Lock()
	if err != nil {
		tr.outcome, tr.busy = &o, false
		e.mu.Unlock()
		if ctx.Err() == nil {
			e.log.Warn("record job end; will retry", "job_id", id, "err", err)
		}
		return
	}
	delete(e.jobs, id)
	e.done[id] = endedRun{run: tr.job.Restarts, at: time.Now()}
	e.mu.Unlock()
	if e.cfg.OnEnded != nil {
		e.cfg.OnEnded(id)
	}
	code := "none"
	if o.ExitCode != nil {
		code = strconv.Itoa(*o.ExitCode)
	}
	e.log.Info("job ended", "job_id", id, "state", o.State, "reason", o.Reason, "exit_code", code)
	if err := os.RemoveAll(tr.dir); err != nil {
		e.log.Warn("remove job directory", "job_id", id, "err", err)
	}
}

// openJobLog opens a job's daemon log for appending, by name in the held
// log directory and never through a symbolic link.
func (e *Executor) openJobLog(id rcq.JobID) (*os.File, error) {
	return OpenIn(e.logDir, fmt.Sprintf("job-%d.log", id), unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND, 0o600)
}

// jobLog appends a line to the job's daemon log.
func (e *Executor) jobLog(id rcq.JobID, format string, args ...any) {
	f, err := e.openJobLog(id)
	if err != nil {
		return
	}
	fmt.Fprintf(f, "%s executor: %s\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
	f.Close()
}

// supervisorEnv is a supervisor's whole environment: no daemon secret, and a
// single-threaded Go runtime (a supervisor mostly waits), which starts faster.
var supervisorEnv = []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin", "GOMAXPROCS=1"}

package executor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rcq-project/rcq/internal/rcq"
)

// SuperviseMain is the hidden `rcqd supervise <job dir>` mode: it runs one
// job to its end and writes its exit status into the job directory. It
// returns the process exit code: 0 when a status was written (whatever the
// job's result), non-zero when it could not even do that.
func SuperviseMain(args []string) int {
	if len(args) != 1 || args[0] == "" {
		fmt.Fprintln(os.Stderr, "usage: rcqd supervise <job directory>")
		return 2
	}
	// Before anything else: a cancel that arrives early must not kill us.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)
	// Signals we do not act on are caught and dropped, never ignored: an
	// ignored signal stays ignored in the job (a job with SIGPIPE ignored
	// breaks pipelines), while a caught one is reset to its default at exec.
	// This also undoes SIG_IGN inherited from whoever started rcqd (nohup).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP, syscall.SIGPIPE, syscall.SIGQUIT,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)

	s := &supervisor{dir: args[0], log: os.Stderr, sigs: sigs, chld: chld}
	if err := s.run(); err != nil {
		s.logf("supervisor error: %v", err)
		return 1
	}
	return 0
}

type supervisor struct {
	dir  string
	log  io.Writer
	sigs chan os.Signal // cancel
	chld chan os.Signal // SIGCHLD
	spec jobSpec
	lock *os.File // held (flock) until the process exits

	pid      int       // the job's main process, also its process group id
	cgroup   jobCgroup // nil when the job runs in none
	started  time.Time
	state    rcq.JobState // set when we end the job: cancelled or timeout
	killAt   time.Time
	waitStat syscall.WaitStatus
	rusage   syscall.Rusage
}

func (s *supervisor) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "%s job supervisor: %s\n", time.Now().UTC().Format(time.RFC3339Nano), fmt.Sprintf(format, args...))
}

func (s *supervisor) run() error {
	// fd 3 is the job directory itself, flock'ed by the executor before the
	// fork (one open file description, so one lock held without a gap until
	// we exit); move it out of the way of the job's descriptors.
	lfd, err := unix.FcntlInt(3, unix.F_DUPFD_CLOEXEC, 10)
	if err != nil {
		return fmt.Errorf("no lock descriptor (fd 3) from the executor: %w", err)
	}
	unix.Close(3)
	s.lock = os.NewFile(uintptr(lfd), s.dir)
	if err := unix.Flock(lfd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return fmt.Errorf("another supervisor holds %s: %w", s.dir, err)
	}
	if err := writePid(filepath.Join(s.dir, pidFile), os.Getpid()); err != nil {
		return err
	}
	if err := readJSON(filepath.Join(s.dir, specFile), &s.spec); err != nil {
		return err
	}
	script := []byte(s.spec.Script)
	// The job creates files as its submitter's shell would; so do we, for
	// its output files.
	unix.Umask(int(s.spec.Umask))
	// Orphaned descendants (daemonized, setsid'd) are re-parented to us, so
	// none escapes the end of the job.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

	// The time limit runs, and a cancel is heard, from before the first
	// user-chosen path is touched: opening one may block (a FUSE or NFS
	// server that does not answer), and the job must still end and free its
	// cores.
	var limit <-chan time.Time
	if s.spec.TimeLimit > 0 {
		t := time.NewTimer(s.spec.TimeLimit)
		defer t.Stop()
		limit = t.C
	}
	files, end := s.openFiles(limit, s.openFilesNow)
	if end != nil {
		return s.writeStatus(end)
	}
	if f := s.start(script, files); f != nil {
		return s.writeStatus(s.launchFailed(files.stdout, rcq.ReasonLaunchFailed, f.Error()))
	}
	files.close()
	var cgroups []string
	if s.cgroup != nil {
		cgroups = s.cgroup.dirs()
	}
	s.logf("started job %d: pid %d, user %q, umask %v, cpus %v, cgroups %q", s.spec.JobID, s.pid, s.spec.User, s.spec.Umask, s.spec.CPUs, cgroups)
	s.wait(limit)
	return s.writeStatus(s.finish())
}

// jobFiles are the job's standard output and error (often one file).
type jobFiles struct{ stdout, stderr *os.File }

func (f *jobFiles) close() {
	if f.stderr != nil && f.stderr != f.stdout {
		f.stderr.Close()
	}
	if f.stdout != nil {
		f.stdout.Close()
	}
}

// openFiles runs open (openFilesNow: the working directory check and the
// output files, as the job's user) in a goroutine: a cancel or the time limit
// that comes first ends the job without them. It returns the files, or the
// job's end.
func (s *supervisor) openFiles(limit <-chan time.Time, open func() (*jobFiles, string, string)) (*jobFiles, *exitStatus) {
	type result struct {
		files  *jobFiles
		reason string
		detail string
	}
	done := make(chan result, 1)
	go func() {
		f, reason, detail := open()
		done <- result{f, reason, detail}
	}()
	now := time.Now()
	select {
	case r := <-done:
		if r.reason != "" {
			defer r.files.close()
			return nil, s.launchFailed(r.files.stdout, r.reason, r.detail)
		}
		return r.files, nil
	case sig := <-s.sigs:
		// Left blocked, the goroutine ends with this process.
		s.logf("cancel (%v) before the job started: its files were still being opened", sig)
		return nil, &exitStatus{State: rcq.JobCancelled, Reason: rcq.ReasonCancelledByUser,
			Detail: "cancelled before the job started, while its output files were being opened", StartedAt: now, EndedAt: time.Now()}
	case <-limit:
		s.logf("time limit %v reached before the job started: its files were still being opened", s.spec.TimeLimit)
		return nil, &exitStatus{State: rcq.JobTimeout, Reason: rcq.ReasonTimeLimit,
			Detail: "the time limit was reached before the job started: opening its output files did not finish", StartedAt: now, EndedAt: time.Now()}
	}
}

// openFilesNow is openFiles' work: it returns the files, or a reason and a
// one-line detail (with stdout set when that one opened).
func (s *supervisor) openFilesNow() (*jobFiles, string, string) {
	sp := &s.spec
	c := specCred(sp)
	f := &jobFiles{}
	if err := checkWorkDir(c, sp.Dir); err != nil {
		return f, rcq.ReasonLaunchFailed, fmt.Sprintf("working directory %s: %v (as user %s)", sp.Dir, pathErr(err), s.userName())
	}
	open := func(what, path string) (*os.File, string, string) {
		out, err := openOutput(c, path)
		switch {
		case errors.Is(err, errNotRegular):
			return nil, rcq.ReasonOutputNotRegularFile, fmt.Sprintf("%s file %s is not a regular file (a FIFO, device or socket); give a file path or /dev/null", what, path)
		case err != nil:
			return nil, rcq.ReasonLaunchFailed, fmt.Sprintf("cannot open %s file %s as user %s: %v", what, path, s.userName(), pathErr(err))
		}
		return out, "", ""
	}
	var reason, detail string
	if f.stdout, reason, detail = open("output", sp.Stdout); reason != "" {
		return f, reason, detail
	}
	f.stderr = f.stdout
	if sp.Stderr != sp.Stdout {
		if f.stderr, reason, detail = open("error", sp.Stderr); reason != "" {
			return f, reason, detail // stdout stays open to say why
		}
	}
	return f, "", ""
}

// launchFailed is the end of a job that never started; the detail goes to
// its output file too when that one is open.
func (s *supervisor) launchFailed(stdout *os.File, reason, detail string) *exitStatus {
	s.logf("launch failed: %s", detail)
	if stdout != nil {
		fmt.Fprintf(stdout, "rcq: job %d failed to start: %s\n", s.spec.JobID, detail)
	}
	now := time.Now()
	return &exitStatus{State: rcq.JobFailed, Reason: reason, Detail: detail, StartedAt: now, EndedAt: now}
}

// start launches the job's script with its files; it returns why it cannot.
func (s *supervisor) start(script []byte, files *jobFiles) error {
	sp := &s.spec
	stdout, stderr := files.stdout, files.stderr
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	defer devnull.Close()
	// The interpreter reads the script as stored at submit from a memfd:
	// nothing on disk that the job's user would need to reach.
	mfd, err := unix.MemfdCreate(fmt.Sprintf("rcq-job-%d", sp.JobID), unix.MFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("memfd: %v", err)
	}
	memfd := os.NewFile(uintptr(mfd), "script")
	defer memfd.Close()
	if _, err := memfd.Write(script); err != nil {
		return fmt.Errorf("write script: %v", err)
	}
	if _, err := memfd.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("write script: %v", err)
	}

	attr := &syscall.SysProcAttr{Setsid: true}
	if sp.SetUser {
		attr.Credential = &syscall.Credential{Uid: sp.UID, Gid: sp.GID, Groups: sp.Groups}
	}
	if cg := jobCgroupOf(sp); cg != nil {
		if err := cg.create(sp); err != nil {
			s.logf("cgroups %q: %v; running without them", cg.dirs(), err)
		} else {
			s.cgroup = cg
		}
	}
	env := slices.Clip(sp.Env)
	now := time.Now()
	env = append(env, "SLURM_JOB_START_TIME="+strconv.FormatInt(now.Unix(), 10))
	if sp.TimeLimit > 0 {
		env = append(env, "SLURM_JOB_END_TIME="+strconv.FormatInt(now.Add(sp.TimeLimit).Unix(), 10))
	}
	argv := append(append(append([]string(nil), sp.Interpreter...), "/dev/fd/3"), sp.Args...)
	pa := &syscall.ProcAttr{
		Dir:   sp.Dir,
		Env:   env,
		Files: []uintptr{devnull.Fd(), stdout.Fd(), stderr.Fd(), memfd.Fd()},
		Sys:   attr,
	}
	pid, err := s.fork(argv, pa)
	if err != nil && s.cgroup != nil {
		if rerr := s.cgroup.remove(); rerr != nil {
			s.logf("%v", rerr)
		}
		s.cgroup = nil
	}
	if err != nil {
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			return fmt.Errorf("cannot start %s in %s as user %s: %v", argv[0], sp.Dir, s.userName(), err)
		}
		return fmt.Errorf("cannot start interpreter %s: %v", argv[0], err)
	}
	s.pid, s.started = pid, now
	if err := writePid(filepath.Join(s.dir, jobPidFile), pid); err != nil {
		s.logf("%v", err)
	}
	return nil
}

// fork starts the job on an OS thread of its own, locked and discarded when
// done: what the job must inherit from its first instruction is set on that
// thread (CPU affinity; with cgroup v1, the thread's own cgroups) and leaves
// with it.
func (s *supervisor) fork(argv []string, pa *syscall.ProcAttr) (pid int, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		sp := &s.spec
		if len(sp.CPUs) > 0 && (s.cgroup == nil || !s.cgroup.limitsCPU()) {
			var set unix.CPUSet
			for _, c := range sp.CPUs {
				set.Set(c)
			}
			if err := unix.SchedSetaffinity(0, &set); err != nil {
				s.logf("cpu affinity %v: %v", sp.CPUs, err)
			}
		}
		forkExec := func() (int, error) { return syscall.ForkExec(argv[0], argv, pa) }
		if s.cgroup != nil {
			pid, err = s.cgroup.fork(pa.Sys, forkExec)
		} else {
			pid, err = forkExec()
		}
	}()
	<-done
	return pid, err
}

func (s *supervisor) userName() string {
	if s.spec.User != "" {
		return s.spec.User
	}
	return strconv.Itoa(os.Getuid())
}

func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, syscall.ELOOP) {
			return errors.New("it is a symbolic link (not followed)")
		}
		return pe.Err
	}
	return err
}

// wait runs until the job's main process has exited, ending it on cancel
// (SIGTERM from the executor) or at its time limit (when limit fires):
// SIGTERM to the group, then SIGKILL after the grace period.
func (s *supervisor) wait(limit <-chan time.Time) {
	var kill <-chan time.Time
	for {
		if s.reap() {
			return
		}
		select {
		case <-s.chld:
		case sig := <-s.sigs:
			if s.state == "" {
				s.state = rcq.JobCancelled
				s.logf("cancel (%v): SIGTERM to process group %d, SIGKILL in %v", sig, s.pid, s.spec.Grace)
				kill = s.terminate()
			}
		case <-limit:
			if s.state == "" {
				s.state = rcq.JobTimeout
				s.logf("time limit %v reached: SIGTERM to process group %d, SIGKILL in %v", s.spec.TimeLimit, s.pid, s.spec.Grace)
				kill = s.terminate()
			}
		case <-kill:
			s.logf("grace period over: SIGKILL to process group %d", s.pid)
			s.killAll()
		}
	}
}

// terminate sends SIGTERM (and SIGCONT, so a stopped job sees it) to the
// job's process group and returns the timer of the grace period.
func (s *supervisor) terminate() <-chan time.Time {
	unix.Kill(-s.pid, unix.SIGTERM)
	unix.Kill(-s.pid, unix.SIGCONT)
	return time.After(s.spec.Grace)
}

// reap collects exited children without blocking. It reports whether the
// main process has exited. Orphaned descendants re-parented to us are reaped
// too.
func (s *supervisor) reap() bool {
	done := false
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, &ru)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return done
		}
		if pid == s.pid {
			s.waitStat, s.rusage, done = ws, ru, true
			s.killAt = time.Now()
		}
	}
}

// killAll kills everything the job started: its process group, its cgroup,
// and any descendant that left the group (they are our children, as we are
// a subreaper, once their parents die).
func (s *supervisor) killAll() {
	unix.Kill(-s.pid, unix.SIGKILL)
	if s.cgroup != nil {
		s.cgroup.kill()
	}
}

// cleanup kills and reaps whatever the job left behind after its main
// process exited, like Slurm does at the end of a job.
func (s *supervisor) cleanup() {
	s.killAll()
	for range 1000 {
		kids := children()
		if len(kids) == 0 {
			return
		}
		for _, k := range kids {
			unix.Kill(k, unix.SIGKILL)
		}
		for _, k := range kids {
			var ws syscall.WaitStatus
			syscall.Wait4(k, &ws, 0, nil)
		}
	}
}

// children lists this process's child processes.
func children() []int {
	tasks, _ := os.ReadDir("/proc/self/task")
	var pids []int
	for _, t := range tasks {
		data, err := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		for f := range strings.FieldsSeq(string(data)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
	}
	return pids
}

// finish computes the job's exit status once its main process has exited.
func (s *supervisor) finish() *exitStatus {
	s.cleanup()
	st := &exitStatus{StartedAt: s.started, EndedAt: s.killAt}
	ws := s.waitStat
	switch {
	case ws.Exited():
		code := ws.ExitStatus()
		st.ExitCode = &code
	case ws.Signaled():
		code := 128 + int(ws.Signal())
		st.ExitCode = &code
		st.Signal = strings.TrimPrefix(unix.SignalName(ws.Signal()), "SIG") // KILL, as rcq names signals
	}
	st.CPUSeconds = tv(s.rusage.Utime) + tv(s.rusage.Stime)
	st.PeakMemoryKB = s.rusage.Maxrss
	oom := false
	if s.cgroup != nil {
		oom = s.cgroup.oomKilled()
		cpu, cpuOK, peak := s.cgroup.usage()
		if cpuOK {
			st.CPUSeconds = cpu
		}
		if peak > 0 {
			st.PeakMemoryKB = peak
		}
		if err := s.cgroup.remove(); err != nil {
			s.logf("%v", err)
		}
	}
	switch {
	case s.state == rcq.JobCancelled:
		st.State, st.Reason = rcq.JobCancelled, rcq.ReasonCancelledByUser
	case s.state == rcq.JobTimeout:
		st.State, st.Reason = rcq.JobTimeout, rcq.ReasonTimeLimit
	case oom:
		st.State, st.Reason = rcq.JobFailed, rcq.ReasonOutOfMemory
		st.Detail = "the job used more than its memory limit and the kernel killed it"
	case st.ExitCode != nil && *st.ExitCode == 0:
		st.State, st.Reason = rcq.JobCompleted, rcq.ReasonNone
	default:
		st.State, st.Reason = rcq.JobFailed, rcq.ReasonNonZeroExit
	}
	return st
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

func (s *supervisor) writeStatus(st *exitStatus) error {
	code := "none"
	if st.ExitCode != nil {
		code = strconv.Itoa(*st.ExitCode)
	}
	s.logf("job %d ended: state %s, reason %s, exit code %s, signal %q, cpu %.3fs, peak memory %d KB",
		s.spec.JobID, st.State, st.Reason, code, st.Signal, st.CPUSeconds, st.PeakMemoryKB)
	return writeJSONAtomic(filepath.Join(s.dir, statusFile), st)
}

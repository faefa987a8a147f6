package pgserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Superuser is the superuser role that initdb creates in the cluster.
const Superuser = "rcq"

// DefaultPort names the server's socket file (.s.PGSQL.5432). No TCP port is ever opened.
const DefaultPort = 5432

// DefaultStartTimeout bounds Start when Options.StartTimeout is zero.
const DefaultStartTimeout = 2 * time.Minute

// Options say where the cluster lives and how its server runs. Only DataDir is required.
type Options struct {
	// DataDir is the cluster's data directory (PGDATA). Start creates it with initdb when it is
	// missing or empty; an existing directory that is neither is refused.
	DataDir string
	// SocketDir is the directory of the server's Unix socket, made mode 0700 and owned by the
	// server's user. Default: DataDir + "-socket".
	SocketDir string
	// LogFile receives the output of initdb and the server, appended. Default: DataDir + ".log".
	LogFile string
	// RunAs is the unprivileged user that runs the server when the calling process is root
	// (PostgreSQL refuses to run as root). Default: DefaultRunAs. Ignored when not root.
	RunAs string
	// BinDir holds initdb and postgres. Default: the version matching an existing cluster in
	// /usr/lib/postgresql/<version>/bin, else FindBinDir.
	BinDir string
	// Port names the socket file; default DefaultPort. Two servers may use the same port in
	// different socket directories.
	Port int
	// Settings are extra server settings (postgres -c name=value), such as fsync=off for tests.
	// listen_addresses, unix_socket_directories, unix_socket_permissions and port are always
	// set by Start and cannot be overridden. With fsync=off, initdb also skips its fsync.
	Settings map[string]string
	// StartTimeout bounds Start (waiting for the lock, initdb, start-up and crash recovery) on
	// top of ctx. Default: DefaultStartTimeout.
	StartTimeout time.Duration
	// StopWithParent makes the kernel shut the server down (fast) when the calling process
	// dies, even by SIGKILL or a panic. For throwaway test clusters: rcqd leaves it off so that
	// its server survives a crash and is reused by the next start. Linux only.
	StopWithParent bool
	// Logger receives a few Info records (initdb, start, reuse, stale pid file, directory
	// modes). Default: discard.
	Logger *slog.Logger
}

// Server is a running private PostgreSQL server, started or reused by Start.
type Server struct {
	dataDir   string
	socketDir string
	port      int
	pid       int
	reused    bool
	logger    *slog.Logger

	proc    *os.Process
	exited  chan struct{} // closed when the server, our child, has exited; nil when reused
	waitErr error         // the child's exit status, set before exited is closed

	stopMu  sync.Mutex
	stopped bool
}

// Start starts the server of o.DataDir, or reuses it when it is already running (left behind
// by a process that was killed), and returns once it accepts connections. It creates the
// cluster with initdb when the data directory is missing or empty. See the package
// documentation for what happens as root.
func Start(ctx context.Context, o Options) (*Server, error) {
	if err := o.normalize(); err != nil {
		return nil, err
	}
	own, err := lookupOwner(o.RunAs)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()

	if err := os.MkdirAll(filepath.Dir(o.DataDir), 0o700); err != nil {
		return nil, fmt.Errorf("create the parent of data directory %s: %w", o.DataDir, err)
	}
	unlock, err := lockFile(ctx, o.DataDir+".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()

	if s, err := running(ctx, o); s != nil || err != nil {
		return s, err
	}
	return startNew(ctx, o, own)
}

// URL is a connection URL for database on the server, for pgx and libpq alike:
// postgres://rcq@/<database>?host=<socket dir>&port=<port>&sslmode=disable.
func (s *Server) URL(database string) string {
	q := url.Values{}
	q.Set("host", s.socketDir)
	q.Set("port", strconv.Itoa(s.port))
	q.Set("sslmode", "disable")
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(Superuser),
		Path:     "/" + database,
		RawQuery: q.Encode(),
	}
	return u.String()
}

// Reused reports whether Start found the server already running rather than starting it.
func (s *Server) Reused() bool { return s.reused }

// Stop shuts the server down with a fast shutdown (SIGINT: active sessions are ended, a
// checkpoint is written) and waits until it has exited. If ctx ends first (or after a minute
// when ctx has no deadline), Stop falls back to an immediate shutdown (SIGQUIT) and returns
// an error. Stop stops a reused server too. Calling Stop again does nothing.
func (s *Server) Stop(ctx context.Context) error {
	s.stopMu.Lock()
	defer s.stopMu.Unlock()
	if s.stopped {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	err := s.signalAndWait(ctx, syscall.SIGINT)
	if err != nil && ctx.Err() != nil {
		qctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if qerr := s.signalAndWait(qctx, syscall.SIGQUIT); qerr != nil {
			return fmt.Errorf("stop PostgreSQL (pid %d): %w; immediate shutdown: %w", s.pid, err, qerr)
		}
	}
	s.stopped = true
	if s.exited == nil {
		_ = s.proc.Release() // a reused server is not our child: drop its pidfd
	}
	if err != nil {
		return fmt.Errorf("stop PostgreSQL (pid %d): %w", s.pid, err)
	}
	s.logger.Info("stopped PostgreSQL", "pid", s.pid, "data_dir", s.dataDir)
	return nil
}

// signalAndWait sends sig to the postmaster and waits until it has exited.
func (s *Server) signalAndWait(ctx context.Context, sig os.Signal) error {
	if err := s.proc.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal: %w", err)
	}
	if s.exited != nil {
		select {
		case <-s.exited:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("still running after %v: %w", sig, ctx.Err())
		}
	}
	return poll(ctx, 20*time.Millisecond, func() bool { return processGone(s.pid) })
}

func (o *Options) normalize() error {
	if o.DataDir == "" {
		return errors.New("pgserver: no data directory given")
	}
	var err error
	if o.DataDir, err = filepath.Abs(o.DataDir); err != nil {
		return err
	}
	if o.SocketDir == "" {
		o.SocketDir = o.DataDir + "-socket"
	}
	if o.SocketDir, err = filepath.Abs(o.SocketDir); err != nil {
		return err
	}
	if o.LogFile == "" {
		o.LogFile = o.DataDir + ".log"
	}
	if o.LogFile, err = filepath.Abs(o.LogFile); err != nil {
		return err
	}
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if sock := socketPath(o.SocketDir, o.Port); len(sock) > maxSocketPath {
		return fmt.Errorf("PostgreSQL socket path %s is longer than %d bytes: choose a shorter socket directory",
			sock, maxSocketPath)
	}
	if o.BinDir == "" {
		o.BinDir = binDirFor(o.DataDir)
	}
	if o.BinDir == "" {
		if o.BinDir, err = FindBinDir(); err != nil {
			return err
		}
	} else if !hasServerBinaries(o.BinDir) {
		return fmt.Errorf("no PostgreSQL server binaries (initdb, postgres) in %s: %w", o.BinDir, ErrNotInstalled)
	}
	return nil
}

// binDirFor returns the Debian-style bin directory of an existing cluster's major version, so
// that installing a newer PostgreSQL next to it does not break it, or "".
func binDirFor(dataDir string) string {
	v, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if err != nil {
		return ""
	}
	dir := filepath.Join("/usr/lib/postgresql", strings.TrimSpace(string(v)), "bin")
	if !hasServerBinaries(dir) {
		return ""
	}
	return dir
}

// serverArgs are postgres's arguments: the data directory and every setting.
func (o *Options) serverArgs() []string {
	settings := map[string]string{"cluster_name": "rcq"}
	maps.Copy(settings, o.Settings)
	settings["listen_addresses"] = "" // no TCP
	settings["unix_socket_directories"] = `"` + strings.ReplaceAll(o.SocketDir, `"`, `""`) + `"`
	settings["unix_socket_permissions"] = "0700"
	settings["port"] = strconv.Itoa(o.Port)
	args := []string{"-D", o.DataDir}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		args = append(args, "-c", k+"="+settings[k])
	}
	return args
}

// running returns the server already running on o.DataDir, or nil when there is none. It
// deals with a stale postmaster.pid, and waits for a server that is starting (crash recovery)
// or stopping.
func running(ctx context.Context, o Options) (*Server, error) {
	pidPath := filepath.Join(o.DataDir, "postmaster.pid")
	for badReads := 0; ; {
		pf, err := readPidFile(o.DataDir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, nil
		case err != nil && badReads < 10:
			badReads++ // perhaps being written right now: look again
		case err == nil && processGone(pf.pid):
			// The server died without cleaning up (kill -9, power loss). Leave the file to
			// postgres: it removes it after checking, with the shared memory key recorded
			// there, that no old server process still uses the cluster.
			o.Logger.Info("found stale postmaster.pid: its server is gone", "path", pidPath, "pid", pf.pid)
			return nil, nil
		case err != nil || !isPostmasterOf(pf.pid, o.DataDir):
			// Unreadable, or its pid now belongs to another program (pid reuse after a
			// reboot): postgres would refuse to start. Remove it, unless an old server
			// process still works in the data directory.
			if users := dataDirUsers(o.DataDir); len(users) > 0 {
				return nil, fmt.Errorf("old PostgreSQL processes %v still use %s: stop them (kill -QUIT) and start again",
					users, o.DataDir)
			}
			if err := os.Remove(pidPath); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("remove stale %s: %w", pidPath, err)
			}
			o.Logger.Info("removed stale postmaster.pid", "path", pidPath, "pid", pf.pid)
			return nil, nil
		case pf.status == "ready" && answers(socketPath(pf.socketDir, pf.port)):
			proc, err := os.FindProcess(pf.pid)
			if err != nil {
				return nil, fmt.Errorf("find PostgreSQL pid %d: %w", pf.pid, err)
			}
			o.Logger.Info("reusing running PostgreSQL", "pid", pf.pid, "data_dir", o.DataDir, "socket_dir", pf.socketDir)
			return &Server{dataDir: o.DataDir, socketDir: pf.socketDir, port: pf.port, pid: pf.pid,
				reused: true, proc: proc, logger: o.Logger}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("PostgreSQL (pid %d) is running on %s but does not accept connections on %s "+
				"(if that process is not PostgreSQL, remove %s): %w",
				pf.pid, o.DataDir, socketPath(pf.socketDir, pf.port), pidPath, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startNew prepares the directories, runs initdb when needed, starts postgres and waits until
// it accepts connections.
func startNew(ctx context.Context, o Options, own *owner) (*Server, error) {
	if err := os.MkdirAll(o.SocketDir, 0o700); err != nil {
		return nil, fmt.Errorf("create socket directory: %w", err)
	}
	if err := os.Chmod(o.SocketDir, 0o700); err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	if err := own.chown(o.SocketDir); err != nil {
		return nil, err
	}
	for _, dir := range []string{o.SocketDir, filepath.Dir(o.DataDir)} {
		if err := own.ensureTraversable(dir, o.Logger); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Dir(o.LogFile), 0o700); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	logFile, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open PostgreSQL log: %w", err)
	}
	defer logFile.Close()
	if err := own.chown(o.LogFile); err != nil {
		return nil, err
	}

	if err := initdb(ctx, o, own, logFile); err != nil {
		return nil, err
	}

	cmd := exec.Command(filepath.Join(o.BinDir, "postgres"), o.serverArgs()...)
	cmd.Dir = o.DataDir
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr(own.credential(), o.StopWithParent)
	s := &Server{dataDir: o.DataDir, socketDir: o.SocketDir, port: o.Port, logger: o.Logger,
		exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		if o.StopWithParent {
			// The parent-death signal fires when the thread that forked the server exits:
			// pin this goroutine to its thread for the server's whole life.
			runtime.LockOSThread()
		}
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s.proc, s.pid = cmd.Process, cmd.Process.Pid

	if err := s.waitReady(ctx, o.LogFile); err != nil {
		qctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = s.signalAndWait(qctx, syscall.SIGQUIT)
		return nil, err
	}
	o.Logger.Info("started PostgreSQL", "pid", s.pid, "data_dir", o.DataDir, "socket_dir", o.SocketDir,
		"bin_dir", o.BinDir, "log", o.LogFile)
	return s, nil
}

// waitReady waits until the server says it is ready in postmaster.pid and its socket answers.
func (s *Server) waitReady(ctx context.Context, logPath string) error {
	sock := socketPath(s.socketDir, s.port)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("postgres exited during start-up (%v): %s", s.waitErr, logTail(logPath))
		case <-ctx.Done():
			return fmt.Errorf("postgres did not accept connections on %s in time (%w): %s", sock, ctx.Err(), logTail(logPath))
		case <-tick.C:
		}
		pf, err := readPidFile(s.dataDir)
		if err == nil && pf.pid == s.pid && pf.status == "ready" && answers(sock) {
			return nil
		}
	}
}

// initdb creates the cluster when o.DataDir is missing or empty. A missing directory is built
// under a temporary name and renamed into place, so a crash during initdb leaves no
// half-made cluster behind.
func initdb(ctx context.Context, o Options, own *owner, log *os.File) error {
	if _, err := os.Stat(filepath.Join(o.DataDir, "PG_VERSION")); err == nil {
		return nil
	}
	target := o.DataDir
	entries, err := os.ReadDir(o.DataDir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		target = o.DataDir + ".initdb"
		if err := os.RemoveAll(target); err != nil {
			return fmt.Errorf("remove unfinished cluster: %w", err)
		}
	case err != nil:
		return fmt.Errorf("data directory: %w", err)
	case len(entries) > 0:
		return fmt.Errorf("data directory %s is neither empty nor a PostgreSQL cluster (no PG_VERSION): "+
			"empty it or choose another", o.DataDir)
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := own.chown(target); err != nil {
		return err
	}
	args := []string{"-D", target, "-U", Superuser, "-E", "UTF8", "--no-locale",
		// Trust on the local socket is safe: only the server's user (and root) can enter the
		// socket directory. TCP is off, and rejected in pg_hba.conf as well.
		"--auth-local=trust", "--auth-host=reject"}
	if o.Settings["fsync"] == "off" {
		args = append(args, "--no-sync")
	}
	cmd := exec.CommandContext(ctx, filepath.Join(o.BinDir, "initdb"), args...)
	cmd.Dir = filepath.Dir(o.DataDir)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr(own.credential(), false)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initdb %s: %w: %s", o.DataDir, err, logTail(log.Name()))
	}
	if target != o.DataDir {
		if err := os.Rename(target, o.DataDir); err != nil {
			return fmt.Errorf("move new cluster into place: %w", err)
		}
	}
	o.Logger.Info("created PostgreSQL cluster", "data_dir", o.DataDir, "superuser", Superuser)
	return nil
}

// childEnv is the environment of initdb and postgres: ours without PG* variables, which could
// point them elsewhere (PGDATA, PGPORT, ...).
func childEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "PG") })
}

// answers reports whether something accepts connections on the Unix socket at path.
func answers(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// poll calls done every interval until it returns true or ctx ends.
func poll(ctx context.Context, interval time.Duration, done func() bool) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// logTail is the last lines of the log at path on one line, for error messages.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "no log: " + err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return "log " + path + ": " + strings.Join(lines, " | ")
}

// lockFile takes an exclusive lock on path (created if needed) and returns its release. It
// serializes Start on one data directory across goroutines and processes.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	lock := func() bool {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		return !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR)
	}
	if perr := poll(ctx, 20*time.Millisecond, lock); perr != nil {
		f.Close()
		return nil, fmt.Errorf("wait for lock %s: %w", path, perr)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing the file releases the lock
}

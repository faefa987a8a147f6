package daemon

import (
	"context"

	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/config"
	"github.com/rcq-project/rcq/internal/executor"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/sched"
	"github.com/rcq-project/rcq/internal/store"
)

// shutdownGrace bounds how long in-flight requests may take after SIGTERM.
const shutdownGrace = 10 * time.Second

// heartbeatEvery is how often this rcqd marks its workers alive; workers not
// heard from for staleAfter are marked offline.
const (
	heartbeatEvery = 10 * time.Second
	staleAfter     = 60 * time.Second
)

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// run is rcqd's life: start everything, serve until ctx ends, stop everything.
func run(ctx context.Context, cfg *config.Config, stderr io.Writer) error {
	logger := newLogger(cfg, stderr)
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	unlock, err := lockStateDir(cfg.StateDir)
	if err != nil {
		return err
	}
	defer unlock()

	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(logger)
	st := db.store

	secret := []byte(cfg.Auth.JWTSecret)
	if len(secret) == 0 {
		if secret, err = auth.LoadOrCreateSecret(cfg.JWTSecretFile()); err != nil {
			return fmt.Errorf("jwt secret: %w", err)
		}
	}
	passwords, err := auth.NewPasswords(cfg.Auth.BcryptCost)
	if err != nil {
		return err
	}
	boot, err := bootstrap(ctx, cfg, st, passwords, logger)
	if err != nil {
		return err
	}

	// The executor and the scheduler wake each other in process: a start
	// wakes the executor, an end wakes the scheduler.
	var loop *sched.Loop
	ex, err := executor.New(executor.Config{
		Node:              cfg.Node.Name,
		StateDir:          cfg.StateDir,
		LogDir:            cfg.Jobs.LogDirectory,
		OutputDir:         cfg.Jobs.OutputDirectory,
		KillGrace:         killGrace(cfg),
		PidsMax:           cfg.Jobs.MaxPids,
		SupervisorCommand: supervisorCommand(),
		OnEnded:           func(rcq.JobID) { loop.Notify() },
	}, st, logger.With("component", "executor"))
	if err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	holder := leaseHolder(cfg.Node.Name, cfg.StateDir)
	loop = sched.New(st, sched.Config{
		Interval:          cfg.Interval(),
		LeaseTTL:          cfg.Scheduler.LeaseTTL,
		FairShareWindow:   cfg.Scheduler.FairShareWindow,
		FairShareHalfLife: cfg.Scheduler.FairShareHalfLife,
		FairShareMin:      cfg.Scheduler.FairShareMin,
		FairShareMax:      cfg.Scheduler.FairShareMax,
		WaitBoostPerHour:  cfg.Scheduler.WaitBoostPerHour,
		WaitBoostCap:      cfg.Scheduler.WaitBoostCap,
		MaxConcurrentJobs: cfg.Scheduler.MaxConcurrentJobs,
		OnStarted:         func([]rcq.Start) { ex.Notify() },
	}, logger.With("component", "sched"), holder)

	server := api.New(api.Config{
		Version:           Version,
		Limits:            cfg.Limits(),
		OpenRegistration:  cfg.Auth.OpenRegistration,
		UnixUserFromEmail: cfg.Auth.UnixUserFromEmail,
		LoginPerMinute:    cfg.Auth.LoginRateLimitPerMinute,
		TrustedProxies:    cfg.Auth.ProxyPrefixes(),
		RunningAsRoot:     os.Geteuid() == 0,
	}, api.Deps{
		Store:       st,
		Planner:     loop,
		Signer:      auth.NewSigner(secret, "rcqd", cfg.JWTExpiry()),
		Passwords:   passwords,
		OutputPaths: ex.OutputPaths,
		UnixUID:     unixUID,
		HomeDir:     homeDir,
		Wake:        loop.Notify,
		Logger:      logger.With("component", "api"),
	})

	ls, err := listen(cfg, logger)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	goFn := func(name string, fn func(ctx context.Context) error) {
		wg.Go(func() {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				logger.Error(name+" stopped", "err", err)
				cancel()
			}
		})
	}
	listening := make(chan struct{})
	var once sync.Once
	goFn("event listener", func(ctx context.Context) error {
		return st.Listen(ctx, func(ev rcq.Event) { dispatch(ev, cfg.Node.Name, loop, ex, logger) },
			func() { once.Do(func() { close(listening) }) })
	})
	// Start the loops once events flow, so no wake-up is missed in between.
	select {
	case <-listening:
	case <-ctx.Done():
		ls.close()
		wg.Wait()
		return nil
	}
	goFn("scheduler", loop.Run)
	goFn("executor", ex.Run)
	goFn("heartbeat", func(ctx context.Context) error { return heartbeat(ctx, st, cfg.Node.Name, logger) })
	serveErr := ls.serve(server, logger)

	banner(stderr, cfg, db, ls, ex.Enforcement(), boot)
	logger.Info("rcqd started", "version", Version, "node", cfg.Node.Name)

	select {
	case <-ctx.Done():
		logger.Info("shutting down: finishing requests; running jobs keep running under their supervisors")
	case err := <-serveErr:
		logger.Error("listener failed", "err", err)
	}
	cancel()
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer scancel()
	ls.shutdown(sctx)
	wg.Wait()
	if err := st.ReleaseLease(sctx, sched.LeaseName, holder); err != nil {
		logger.Warn("could not release the scheduler lease; another rcqd takes over when it expires", "err", err)
	}
	return nil
}

// dispatch routes an event to whoever must act on it. Events are wake-ups:
// the receivers re-read the store.
func dispatch(ev rcq.Event, node string, loop *sched.Loop, ex *executor.Executor, logger *slog.Logger) {
	switch ev.Kind {
	case rcq.EventJobSubmitted, rcq.EventJobEnded:
		loop.Notify()
	case rcq.EventWorkerChanged:
		loop.Notify()
		ex.Notify()
	case rcq.EventJobsStarted, rcq.EventJobCancelled:
		if ev.Node == "" || ev.Node == node {
			ex.Notify()
		}
	case rcq.EventJobSignal:
		sig, ok := rcq.SignalNumber(ev.Signal)
		if !ok {
			return
		}
		if err := ex.Signal(ev.JobID, sig); err != nil && !errors.Is(err, rcq.ErrNotFound) {
			logger.Warn("signal job", "job_id", ev.JobID, "signal", ev.Signal, "err", err)
		}
	}
}

func heartbeat(ctx context.Context, st *store.Store, node string, logger *slog.Logger) error {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := st.Heartbeat(ctx, node); err != nil {
			logger.Warn("heartbeat", "err", err)
			continue
		}
		if n, err := st.MarkStaleWorkersOffline(ctx, staleAfter); err != nil {
			logger.Warn("mark stale workers", "err", err)
		} else if n > 0 {
			logger.Warn("workers marked offline: their rcqd stopped heartbeating", "count", n)
		}
	}
}

// leaseHolder names this rcqd in the scheduler lease. It is stable across
// restarts of the same node and state directory, so an rcqd restarted after a
// crash takes its own lease back at once instead of waiting for it to expire.
// That is safe because only one rcqd can hold the state directory's lock: the
// old holder is gone, not merely paused.
func leaseHolder(node, stateDir string) string {
	return node + ":" + stateDir
}

// lockStateDir makes sure one rcqd at a time uses a state directory. The
// kernel drops the lock when the process dies, however it dies.
func lockStateDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, "rcqd.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("state directory lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another rcqd is running with the state directory %s: stop it first, or give this one another --state-dir", dir)
		}
		return nil, fmt.Errorf("state directory lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// homeDir is where a job submitted without a working directory runs: the
// home of its account's Unix user when rcqd is root, else rcqd's own home.
func homeDir(u *rcq.User) string {
	if os.Geteuid() != 0 {
		h, _ := os.UserHomeDir()
		return h
	}
	if u.UnixUser == "" {
		return ""
	}
	pw, err := user.Lookup(u.UnixUser)
	if err != nil {
		return ""
	}
	return pw.HomeDir
}

func unixUID(name string) (int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return -1, err
	}
	return strconv.Atoi(u.Uid)
}

// killGrace is the executor's grace period: a configured 0 means SIGKILL right
// after SIGTERM, which the executor spells as a negative duration.
func killGrace(cfg *config.Config) time.Duration {
	if cfg.Jobs.KillGraceSeconds == 0 {
		return -1
	}
	return cfg.KillGrace()
}

// supervisorCommand prefers the small rcq-supervise binary installed beside
// rcqd, which starts several times faster than rcqd itself; without it, the
// executor re-executes rcqd in its hidden supervise mode.
func supervisorCommand() []string {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	sup := filepath.Join(filepath.Dir(exe), "rcq-supervise")
	if fi, err := os.Stat(sup); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return []string{sup}
	}
	return nil
}

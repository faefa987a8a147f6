package daemon

import (
	"context"

	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/config"
	"github.com/rcq-project/rcq/internal/executor"
	"github.com/rcq-project/rcq/internal/metrics"
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
	// auditPruneEvery is how often audit rows past audit.retention are deleted.
	auditPruneEvery = time.Hour
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
	stateDir, err := ownDir(cfg.StateDir)
	if err != nil {
		return fmt.Errorf("state_dir %s: %w", cfg.StateDir, err)
	}
	defer stateDir.Close()
	unlock, err := lockStateDir(stateDir)
	if err != nil {
		return err
	}
	defer unlock()
	secret := []byte(cfg.Auth.JWTSecret)
	if len(secret) == 0 {
		if secret, err = auth.LoadOrCreateSecret(stateDir, filepath.Base(cfg.JWTSecretFile())); err != nil {
			return fmt.Errorf("jwt secret: %w", err)
		}
	}

	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(logger)
	st := db.store

	// One launcher per node: the node's lease before anything else runs.
	holder := leaseHolder(cfg.Node.Name, cfg.StateDir)
	if err := takeNodeLease(ctx, st, cfg.Node.Name, holder, cfg.Scheduler.LeaseTTL); err != nil {
		return err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := st.ReleaseLease(rctx, store.NodeLease(cfg.Node.Name), holder); err != nil {
			logger.Warn("could not release the node lease; another rcqd with this node name can start when it expires", "err", err)
		}
	}()

	passwords, err := auth.NewPasswords(cfg.Auth.BcryptCost)
	if err != nil {
		return err
	}
	unixUsers := auth.NewUnixUsers(auth.LoginDefs, cfg.Database.RunAs)
	boot, err := bootstrap(ctx, cfg, st, passwords, stateDir, logger)
	if err != nil {
		return err
	}

	compatDir, err := slurmCompatDir(cfg.Listen.Socket, cfg.Root())
	if err != nil {
		return fmt.Errorf("slurm-compat directory: %w", err)
	}

	// The executor and the scheduler wake each other in process: a start
	// wakes the executor, an end wakes the scheduler.
	var loop *sched.Loop
	var server *api.Server // set before the loops start
	met := metrics.New(metrics.Options{State: st.OpsState, Pool: st.PoolStats, Leader: func() bool { return loop.Leader() }})
	ex, err := executor.New(executor.Config{
		Node:              cfg.Node.Name,
		Holder:            holder,
		StateDir:          cfg.StateDir,
		LogDir:            cfg.Jobs.LogDirectory,
		OutputDir:         cfg.Jobs.OutputDirectory,
		KillGrace:         killGrace(cfg),
		PidsMax:           cfg.Jobs.MaxPids,
		SupervisorCommand: supervisorCommand(),
		CompatDir:         compatDir,
		OnEnded:           func(rcq.JobID) { loop.Notify() },
	}, st, logger.With("component", "executor"))
	if err != nil {
		return fmt.Errorf("executor: %w", err)
	}
	if os.Geteuid() == 0 {
		for _, d := range ex.Dirs() {
			if err := checkOwnedDir(d); err != nil {
				return fmt.Errorf("executor directory %s: %w", d, err)
			}
		}
	}
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
		Lost: rcq.LostJobPolicy{DeadAfter: cfg.Node.DeadAfter, StartTimeout: cfg.Jobs.StartTimeout,
			RequeueArrays: cfg.Jobs.RequeueArrayElements},
		OnStarted: func([]rcq.Start) { ex.Notify() },
		OnCycle: func(res sched.CycleResult) {
			met.Cycle(res)
			server.PlanChanged(res.Plan) // queue positions for event streams
		},
	}, logger.With("component", "sched"), holder)

	server = api.New(api.Config{
		Version:           Version,
		Limits:            cfg.Limits(),
		OpenRegistration:  cfg.Auth.OpenRegistration,
		UnixUserFromEmail: cfg.Auth.UnixUserFromEmail,
		LoginPerMinute:    cfg.Auth.LoginRateLimitPerMinute,
		TrustedProxies:    cfg.Auth.ProxyPrefixes(),
		RunningAsRoot:     cfg.Root(),
		OwnerUID:          os.Geteuid(),
		AllowedHosts:      allowedHosts(cfg),
	}, api.Deps{
		Store:          st,
		Planner:        loop,
		Signer:         auth.NewSigner(secret, "rcqd", cfg.JWTExpiry()),
		Passwords:      passwords,
		OutputPaths:    ex.OutputPaths,
		UnixUsers:      unixUsers,
		ReadOutput:     executor.ReadOutput,
		HomeDir:        homeDir,
		Wake:           loop.Notify,
		Logger:         logger.With("component", "api"),
		EventLog:       st,
		Metrics:        met,
		MetricsHandler: met.Handler(),
	})

	// Events reach the scheduler, the executor and the event hub the same
	// way whether this process announced them (at once, OnAnnounce) or
	// another did (over LISTEN).
	deliver := func(ev rcq.Event) {
		dispatch(ev, cfg.Node.Name, loop, ex)
		server.PokeEvents() // every event may have logged events: GET /api/events streams them
	}
	st.OnAnnounce(deliver)
	ls, err := listen(cfg, logger)
	if err != nil {
		return err
	}
	ls.metricsHandler = met.Handler()

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
		return st.Listen(ctx, deliver, func() { once.Do(func() { close(listening) }) })
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
	goFn("node lease", func(ctx context.Context) error {
		return renewNodeLease(ctx, st, cfg.Node.Name, holder, cfg.Scheduler.LeaseTTL, logger)
	})
	goFn("audit pruning", func(ctx context.Context) error { return pruneAudit(ctx, st, cfg.Audit.Retention, logger) })
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
// the receivers re-read the store. It runs inside the event listener and
// in the request that announced the event, so it only pokes: nothing here
// may wait (a signal is delivered by the executor's own loop, from the
// store).
func dispatch(ev rcq.Event, node string, loop *sched.Loop, ex *executor.Executor) {
	loop.Event(ev)
	switch ev.Kind {
	case rcq.EventWorkerChanged: // also sent after the listener reconnects
		ex.Notify()
		ex.NotifySignals()
	case rcq.EventJobsStarted, rcq.EventJobCancelled:
		if ev.Node == "" || ev.Node == node {
			ex.Notify()
		}
	case rcq.EventJobSignal:
		if ev.Node == "" || ev.Node == node {
			ex.NotifySignals()
		}
	}
}

// takeNodeLease makes this rcqd the one launcher of its node's jobs, or says
// which rcqd already is. The same holder (this node and state directory,
// after a crash) takes its lease back at once: the state directory's lock
// proves the old process is gone.
func takeNodeLease(ctx context.Context, st *store.Store, node, holder string, ttl time.Duration) error {
	name := store.NodeLease(node)
	ok, err := st.AcquireLease(ctx, name, holder, ttl)
	if err != nil {
		return fmt.Errorf("node lease: %w", err)
	}
	if ok {
		return nil
	}
	other, left, err := st.LeaseHolder(ctx, name)
	if err != nil {
		return fmt.Errorf("node lease: %w", err)
	}
	return fmt.Errorf("node name %q is in use by another rcqd (%s) on this database: give this one another node.name (RCQ_NODE_NAME), or stop the other (if it has stopped already, its lease expires within %v)",
		node, other, max(left, 0).Round(time.Second))
}

// renewNodeLease renews the node's lease every ttl/3 on the database's clock.
// While it is lost (another rcqd with this node name took it after it
// expired), this rcqd launches nothing: every launch is claimed under the
// lease. Its running jobs still end and are recorded.
func renewNodeLease(ctx context.Context, st *store.Store, node, holder string, ttl time.Duration, logger *slog.Logger) error {
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	held := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		ok, err := st.AcquireLease(ctx, store.NodeLease(node), holder, ttl)
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("renew the node lease", "err", err)
			}
			continue
		}
		switch {
		case !ok && held:
			other, _, _ := st.LeaseHolder(ctx, store.NodeLease(node))
			logger.Error("node lease lost: another rcqd with this node name launches its jobs now; this one launches nothing until it gets the lease back",
				"node", node, "holder", other)
		case ok && !held:
			logger.Info("node lease taken back", "node", node)
		}
		held = ok
	}
}

// pruneAudit deletes audit rows older than keep (audit.retention) at start
// and every auditPruneEvery. Every rcqd runs it; the store lets one prune
// at a time and the others skip.
func pruneAudit(ctx context.Context, st *store.Store, keep time.Duration, logger *slog.Logger) error {
	t := time.NewTicker(auditPruneEvery)
	defer t.Stop()
	for {
		if n, err := st.PruneAudit(ctx, keep); err != nil {
			logger.Warn("prune the audit log", "err", err)
		} else if n > 0 {
			logger.Info("audit rows past audit.retention deleted", "count", n, "retention", keep)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
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

// leaseHolder names this rcqd in the scheduler lease and its node's lease.
// It is stable across restarts of the same node and state directory, so an
// rcqd restarted after a crash takes its own leases back at once instead of
// waiting for them to expire. That is safe because only one rcqd can hold the
// state directory's lock: the old holder is gone, not merely paused.
func leaseHolder(node, stateDir string) string {
	return node + ":" + stateDir
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

// allowedHosts are the Host names the API answers to on TCP besides localhost
// and IP addresses: allowed_hosts, and the listen address's host when it is
// a name (--listen rcq.example.org:8080).
func allowedHosts(cfg *config.Config) []string {
	hosts := append([]string{}, cfg.Listen.AllowedHosts...)
	if host, _, err := net.SplitHostPort(cfg.Listen.Addr); err == nil && host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			hosts = append(hosts, host)
		}
	}
	return hosts
}

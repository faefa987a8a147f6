package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/rcq-project/rcq/internal/config"
	"github.com/rcq-project/rcq/internal/pgserver"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// database is the store and where it lives.
type database struct {
	store  *store.Store
	desc   string           // for the banner, password masked
	server *pgserver.Server // the private server, nil with a URL
}

func (d *database) close(logger *slog.Logger) {
	d.store.Close()
	if d.server == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.server.Stop(ctx); err != nil {
		logger.Error("stop the private PostgreSQL", "err", err)
	}
}

// openDatabase starts the private server (no URL configured) or waits for
// the configured one, migrates, and connects. While the database is
// unreachable it retries with backoff and serves nothing: an empty queue is
// never shown as if it were real.
func openDatabase(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*database, error) {
	d := &database{}
	url := cfg.Database.URL
	if url == "" {
		dataDir := filepath.Join(cfg.StateDir, "pgdata")
		srv, err := pgserver.Start(ctx, pgserver.Options{
			DataDir: dataDir,
			RunAs:   cfg.Database.RunAs,
			Logger:  logger.With("component", "pgserver"),
		})
		if err != nil {
			return nil, fmt.Errorf("private database: %w", err)
		}
		d.server = srv
		url = srv.URL("postgres")
		d.desc = "private PostgreSQL in " + dataDir
		if srv.Reused() {
			d.desc += " (reused the server left running)"
		}
	} else {
		d.desc = config.MaskURL(url)
	}
	fail := func(err error) (*database, error) {
		if d.server != nil {
			_ = d.server.Stop(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	backoff := 250 * time.Millisecond
	for {
		err := store.Migrate(ctx, url)
		if err == nil {
			break
		}
		if errors.Is(err, store.ErrSchemaTooNew) {
			return fail(err)
		}
		if ctx.Err() != nil {
			return fail(fmt.Errorf("stopped while waiting for the database at %s", d.desc))
		}
		if rcq.KindOf(err) != rcq.KindUnavailable {
			return fail(fmt.Errorf("database at %s: %w", d.desc, err))
		}
		logger.Warn("waiting for the database", "database", d.desc, "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
	st, err := store.Open(ctx, url, store.Options{MaxConns: int32(cfg.Database.MaxConns), Logger: logger.With("component", "store"),
		MaxPendingPerUser: cfg.Jobs.MaxPendingPerUser, MaxPendingTotal: cfg.Jobs.MaxPendingTotal})
	if err != nil {
		return fail(err)
	}
	d.store = st
	return d, nil
}

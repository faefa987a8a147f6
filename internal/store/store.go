package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/rcq-project/rcq/internal/rcq"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is rcq's state in PostgreSQL.
type Store struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	// pendingHint sizes the next snapshot's pending slice: the last count
	// plus an eighth.
	pendingHint atomic.Int64
	// queueHint sizes the next QueueJobs page the same way: growing a page
	// of 10,000 jobs and joining its chunks was a third of a queue read.
	queueHint atomic.Int64

	// fitWorkers caches the worker list for LargestFit, which every submit
	// calls while workers change rarely: changes made through this Store
	// clear it, changes by another rcqd show within fitWorkersTTL.
	fitMu      sync.Mutex
	fitWorkers []rcq.Worker
	fitAt      time.Time

	annMu      sync.Mutex
	annPending map[annKey]rcq.Event            // events to announce, latest per kind and node
	annRunning bool                            // announceLoop is running
	onAnnounce atomic.Pointer[func(rcq.Event)] // OnAnnounce's hook
	origin     string                          // names this Store in the events it announces

	pending *pendingCaps // jobs.max_pending_per_user and jobs.max_pending_total
}

// Options tune the connection pool and the caps the store enforces.
type Options struct {
	MaxConns       int32         // 0: pgxpool's default (max(4, CPUs))
	ConnectTimeout time.Duration // 0: 5 s; a request never hangs past it while the database is down
	Logger         *slog.Logger
	// MaxPendingPerUser and MaxPendingTotal cap the pending jobs of one
	// account and of all (jobs.max_pending_*); 0: no cap.
	MaxPendingPerUser int
	MaxPendingTotal   int
}

// Open connects to the database at url. It does not migrate: call Migrate first.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("database url: %w", redact(err))
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "rcqd"
	// rcq's tables live in their own schema, so rcqd can share a
	// database with anything (the seed's tables in public included).
	cfg.ConnConfig.RuntimeParams["search_path"] = Schema
	// A query stuck behind a lock must not hold a request forever.
	cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "60000"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Store{pool: pool, logger: o.Logger, pending: newPendingCaps(o.MaxPendingPerUser, o.MaxPendingTotal),
		origin: rand.Text()}, nil
}

// Close closes every connection.
func (s *Store) Close() { s.pool.Close() }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return wrap("ping database", err)
	}
	return nil
}

// SchemaVersion is the newest migration this binary carries.
func SchemaVersion() int64 {
	entries, _ := migrations.ReadDir("migrations")
	var v int64
	for _, e := range entries {
		var n int64
		if _, err := fmt.Sscanf(e.Name(), "%d_", &n); err == nil && n > v {
			v = n
		}
	}
	return v
}

// ErrSchemaTooNew is returned by Migrate when the database was migrated by a
// newer rcqd: this binary must not touch it.
var ErrSchemaTooNew = errors.New("database schema is newer than this rcqd")

// Migrate applies every embedded migration the database lacks, under a
// PostgreSQL advisory lock so two rcqd starting together migrate once. A
// database whose schema is newer than this binary is refused, untouched.
func Migrate(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("database url: %w", redact(err))
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["search_path"] = Schema
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		return unavailable("migrate", err)
	}
	if err := ensureSchema(ctx, db); err != nil {
		return err
	}
	return migrate(ctx, db)
}

func migrate(ctx context.Context, db *sql.DB) error {
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, mustSub(),
		goose.WithSessionLocker(locker), goose.WithTableName("rcq_schema_migrations"),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	current, err := p.GetDBVersion(ctx)
	if err != nil {
		return fmt.Errorf("migrate: read schema version: %w", err)
	}
	if want := SchemaVersion(); current > want {
		return fmt.Errorf("%w: database is at version %d, this binary knows up to %d: upgrade rcqd", ErrSchemaTooNew, current, want)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// mustSub is the migrations directory as goose wants it: files at its root.
func mustSub() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// wrap turns a database error into rcq's vocabulary, keeping the cause for the log.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *rcq.Error
	if errors.As(err, &re) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &rcq.Error{Kind: rcq.KindNotFound, Code: "not_found", Msg: "not found", Err: fmt.Errorf("%s: %w", op, err)}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &rcq.Error{Kind: rcq.KindUnavailable, Code: "database_unavailable",
			Msg: "the database did not answer in time; try again", Err: fmt.Errorf("%s: %w", op, err)}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case accountChangedCode:
			return &rcq.Error{Kind: rcq.ErrAccountChanged.Kind, Code: rcq.ErrAccountChanged.Code, Msg: rcq.ErrAccountChanged.Msg, Err: fmt.Errorf("%s: %w", op, err)}
		case pgerrcode.UniqueViolation:
			return &rcq.Error{Kind: rcq.KindConflict, Code: "duplicate", Msg: "already exists", Err: fmt.Errorf("%s: %w", op, err)}
		case pgerrcode.ForeignKeyViolation, pgerrcode.CheckViolation, pgerrcode.NumericValueOutOfRange,
			pgerrcode.InvalidTextRepresentation, pgerrcode.NotNullViolation:
			return &rcq.Error{Kind: rcq.KindInvalid, Code: "invalid", Msg: "a value is out of range or refers to something missing", Err: fmt.Errorf("%s: %w", op, err)}
		case pgerrcode.AdminShutdown, pgerrcode.CrashShutdown, pgerrcode.CannotConnectNow,
			pgerrcode.ConnectionException, pgerrcode.ConnectionDoesNotExist, pgerrcode.ConnectionFailure,
			pgerrcode.SQLClientUnableToEstablishSQLConnection, pgerrcode.SQLServerRejectedEstablishmentOfSQLConnection,
			pgerrcode.TooManyConnections:
			return unavailable(op, err)
		}
		return fmt.Errorf("%s: %w", op, err)
	}
	if pgconn.SafeToRetry(err) || isConnErr(err) {
		return unavailable(op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func unavailable(op string, err error) error {
	return &rcq.Error{Kind: rcq.KindUnavailable, Code: "database_unavailable",
		Msg: "the database is unavailable; try again shortly", Err: fmt.Errorf("%s: %w", op, err)}
}

func isConnErr(err error) bool {
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || pgconn.Timeout(err)
}

// redact drops the URL from a parse error: it may hold a password.
func redact(err error) error {
	return errors.New("cannot parse the database URL (check its form: postgres://user:password@host:port/dbname)")
}

// notify queues an event on rcq_events, delivered when tx commits.
func notify(ctx context.Context, tx pgx.Tx, ev rcq.Event) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify('rcq_events', $1)`, encodeEvent(ev))
	return err
}

// querier is what a pool and a transaction share.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Package dbtest gives each test a fresh PostgreSQL database with the rcq schema, for tests
// only. A test binary starts one throwaway cluster (with internal/pgserver, the code rcqd uses
// for its embedded database) the first time a test asks for a database, migrates a template
// database once with store.Migrate, and clones it for every test with CREATE DATABASE ...
// TEMPLATE: a few milliseconds, full isolation. When RCQ_TEST_DATABASE_URL is set, that server
// is used instead of a private cluster.
//
// A package that uses it must let dbtest wrap its tests, so that the cluster is stopped and
// its directory removed after the last test, pass or fail:
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		t.Parallel()
//		s, err := store.Open(ctx, dbtest.URL(t), store.Options{})
//		...
//	}
//
// The cluster runs with fsync, synchronous_commit and full_page_writes off: fast, and
// disposable. It is started with pgserver's StopWithParent, so even a test binary that panics
// or times out (and never returns to Main) takes its server down with it; the directory such a
// binary leaves in the temporary directory is removed by the next test binary that starts a
// cluster.
package dbtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rcq-project/rcq/internal/pgserver"
	"github.com/rcq-project/rcq/internal/store"
)

// EnvURL names the environment variable holding the URL of an existing server to create the
// test databases on instead of starting a private cluster. Its user must be allowed to create
// databases.
const EnvURL = "RCQ_TEST_DATABASE_URL"

// dirPrefix starts the name of every private cluster's directory in os.TempDir().
const dirPrefix = "rcq-dbtest-"

// settings are the server settings of the private cluster.
var settings = map[string]string{
	"fsync":              "off",
	"synchronous_commit": "off",
	"full_page_writes":   "off",
	"max_connections":    "300",
	"cluster_name":       "rcq-dbtest",
}

var (
	mainRunning atomic.Bool
	seq         atomic.Int64

	// mu guards h and serializes CREATE DATABASE ... TEMPLATE: PostgreSQL refuses to copy a
	// template that another session is using, and a copy counts as using it.
	mu sync.Mutex
	h  *harness
)

// harness is the server of this test binary and what was made on it.
type harness struct {
	ready bool  // setup finished without error
	err   error // setup's error, returned to every later URL call

	dir    string   // the private cluster's directory; "" on RCQ_TEST_DATABASE_URL
	dirLck *os.File // flock held on dir/lock while the cluster lives
	srv    *pgserver.Server

	baseURL  string // the server's URL as given (RCQ_TEST_DATABASE_URL) or made (pgserver)
	admin    *pgxpool.Pool
	template string // name of the migrated template database
	prefix   string // name prefix of the test databases
}

// Main runs the tests of a package that uses dbtest and returns the exit code for os.Exit. It
// always stops the cluster (if a test started one) and removes its directory, and on a shared
// server (RCQ_TEST_DATABASE_URL) drops the template it made. It installs no signal handler
// (tests may signal themselves): a test binary killed by a signal, a panic or a timeout takes
// its server down through the parent-death signal, and leaves its directory to the next sweep.
func Main(m *testing.M) int {
	mainRunning.Store(true)
	code := m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintln(os.Stderr, "dbtest:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// URL creates a fresh database holding the migrated rcq schema and returns its URL. The
// database is dropped when the test ends. Safe for parallel tests.
func URL(t testing.TB) string {
	t.Helper()
	if !mainRunning.Load() {
		t.Fatal("dbtest: the package's TestMain must run the tests through dbtest.Main: " +
			"func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	hr, name, err := createDatabase(ctx)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := hr.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("dbtest: drop database %s: %v", name, err)
		}
	})
	u, err := hr.databaseURL(name)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	return withSearchPath(u)
}

// withSearchPath makes a connection to u see rcq's tables, which live in
// their own schema (store.Schema), as the store's connections do: a test's
// own SQL checks name them unqualified.
func withSearchPath(u string) string {
	if strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		if strings.Contains(u, "?") {
			return u + "&search_path=" + store.Schema
		}
		return u + "?search_path=" + store.Schema
	}
	return u + " search_path=" + store.Schema
}

// createDatabase sets the server up on first use and clones the template into a new database.
func createDatabase(ctx context.Context) (*harness, string, error) {
	mu.Lock()
	defer mu.Unlock()
	if h == nil {
		h = &harness{}
		h.err = h.setup(ctx)
		h.ready = h.err == nil
	}
	if !h.ready {
		return nil, "", h.err
	}
	name := fmt.Sprintf("%s%d", h.prefix, seq.Add(1))
	if _, err := h.admin.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(h.template)); err != nil {
		return nil, "", fmt.Errorf("create database %s from %s: %w", name, h.template, err)
	}
	return h, name, nil
}

// setup connects to RCQ_TEST_DATABASE_URL or starts a private cluster, then makes the
// template. What it made is recorded in h as it goes, so teardown can undo a partial setup.
func (h *harness) setup(ctx context.Context) error {
	if u := os.Getenv(EnvURL); u != "" {
		// A shared server may serve several test binaries at once: names carry our pid.
		h.baseURL = u
		h.template = fmt.Sprintf("rcq_template_%d", os.Getpid())
		h.prefix = fmt.Sprintf("test_%d_", os.Getpid())
	} else {
		if err := h.startCluster(ctx); err != nil {
			return err
		}
		h.baseURL = h.srv.URL("postgres")
		h.template = "rcq_template"
		h.prefix = "test_"
	}
	var err error
	if h.admin, err = pgxpool.New(ctx, h.baseURL); err != nil {
		return fmt.Errorf("connect to the test server: %w", err)
	}
	return h.makeTemplate(ctx)
}

// startCluster starts a private cluster in a new temporary directory, after removing the
// directories that crashed test binaries left behind.
func (h *harness) startCluster(ctx context.Context) error {
	sweep(os.TempDir())
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return err
	}
	h.dir = dir
	if h.dirLck, err = lockDir(dir); err != nil {
		return err
	}
	h.srv, err = pgserver.Start(ctx, pgserver.Options{
		DataDir:        filepath.Join(dir, "data"),
		SocketDir:      filepath.Join(dir, "sock"),
		LogFile:        filepath.Join(dir, "postgres.log"),
		Settings:       settings,
		StopWithParent: true,
	})
	if err != nil {
		return fmt.Errorf("start the test cluster: %w", err)
	}
	return nil
}

// makeTemplate creates the template database and migrates it, then closes it to connections:
// a template copy fails while anyone is connected to it.
func (h *harness) makeTemplate(ctx context.Context) error {
	if err := h.dropDatabase(ctx, h.template); err != nil { // a leftover on a shared server
		return err
	}
	if _, err := h.admin.Exec(ctx, "CREATE DATABASE "+ident(h.template)); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	u, err := h.databaseURL(h.template)
	if err != nil {
		return err
	}
	if err := store.Migrate(ctx, u); err != nil {
		return fmt.Errorf("migrate template database: %w", err)
	}
	if _, err := h.admin.Exec(ctx, "ALTER DATABASE "+ident(h.template)+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("close template database: %w", err)
	}
	if _, err := h.admin.Exec(ctx,
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", h.template); err != nil {
		return fmt.Errorf("close template database: %w", err)
	}
	return nil
}

// dropDatabase drops a database, template or not, if it exists.
func (h *harness) dropDatabase(ctx context.Context, name string) error {
	var exists bool
	err := h.admin.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		return fmt.Errorf("look for database %s: %w", name, err)
	}
	if !exists {
		return nil
	}
	if _, err := h.admin.Exec(ctx, "ALTER DATABASE "+ident(name)+" WITH IS_TEMPLATE false"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	if _, err := h.admin.Exec(ctx, "DROP DATABASE "+ident(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// databaseURL is the URL of database name on the harness's server.
func (h *harness) databaseURL(name string) (string, error) {
	if h.srv != nil {
		return h.srv.URL(name), nil
	}
	return withDatabase(h.baseURL, name)
}

// withDatabase returns the connection string base with its database replaced by name. base is a
// URL (postgres://...) or a keyword/value string (host=... dbname=...), where a later keyword
// wins.
func withDatabase(base, name string) (string, error) {
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		if err != nil {
			return "", fmt.Errorf("%s is not a valid URL: %w", EnvURL, err)
		}
		u.Path, u.RawPath = "/"+name, ""
		return u.String(), nil
	}
	return base + " dbname='" + name + "'", nil
}

// teardown undoes setup: drops the template on a shared server, stops the private cluster and
// removes its directory.
func teardown() error {
	mu.Lock()
	defer mu.Unlock()
	if h == nil {
		return nil
	}
	hr := h
	h = &harness{err: errors.New("the test binary is shutting down")} // no new databases
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	if hr.admin != nil {
		if hr.srv == nil && hr.template != "" {
			errs = append(errs, hr.dropDatabase(ctx, hr.template))
		}
		hr.admin.Close()
	}
	if hr.srv != nil {
		errs = append(errs, hr.srv.Stop(ctx))
	}
	if hr.dir != "" {
		if err := os.RemoveAll(hr.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove the test cluster: %w", err))
		}
		if hr.dirLck != nil {
			hr.dirLck.Close()
		}
	}
	return errors.Join(errs...)
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// lockDir takes a lock on dir/lock that lasts until the file is closed or the process dies,
// marking dir as in use for sweep. The lock file appears under its name already locked.
func lockDir(dir string) (*os.File, error) {
	tmp := filepath.Join(dir, "lock.new")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "lock")); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// sweep removes the cluster directories in root whose test binary is gone: those whose lock
// file is no longer locked. Directories without a lock file yet are left alone.
func sweep(root string) {
	dirs, _ := filepath.Glob(filepath.Join(root, dirPrefix+"*"))
	for _, dir := range dirs {
		f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR, 0)
		if err != nil {
			continue
		}
		// Unlocked: its test binary died, and its server went with it (StopWithParent) unless
		// it is still shutting down, in which case the next sweep removes it.
		if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil && !serverRuns(dir) {
			_ = os.RemoveAll(dir)
		}
		f.Close()
	}
}

// serverRuns reports whether the postmaster.pid of the cluster in dir names a live process.
func serverRuns(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	return err == nil && pid > 0 && !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

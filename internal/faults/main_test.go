package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/pgserver"
)

// suite is what every test of the package shares: the binaries, built once,
// and one PostgreSQL cluster in which each test gets its own database.
var suite struct {
	root string // short temporary directory, removed at the end
	bin  string // rcqd and the commands

	pgOnce sync.Once
	pg     *pgserver.Server
	pgErr  error
	dbSeq  int
	dbMu   sync.Mutex
}

// long reports whether the long fault loops run (make test-faults).
func long() bool { return os.Getenv("RCQ_FAULTS") == "1" }

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if !hasPostgres() {
		// A machine without PostgreSQL must not report the suite green.
		fmt.Fprintln(os.Stderr, "faults: no PostgreSQL server binaries (pg_ctl): install them with scripts/ensure-postgres.sh (make test does)")
		return 1
	}
	root, err := os.MkdirTemp("", "rcqf")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	suite.root = root
	// Traversable by the jobs' user and by the postgres user.
	_ = os.Chmod(root, 0o755)
	defer os.RemoveAll(root)

	code := m.Run()

	if suite.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_ = suite.pg.Stop(ctx)
		cancel()
	}
	// Nothing the suite started may outlive it.
	if left := leftovers(root); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "faults: processes left running after the suite (now killed):\n  %s\n", strings.Join(left, "\n  "))
		killUnder(root)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func hasPostgres() bool {
	if _, err := exec.LookPath("pg_ctl"); err == nil {
		return true
	}
	m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	return len(m) > 0
}

// binaries builds rcqd and the commands once into the suite's directory.
func binaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		gomod, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			buildErr = err
			return
		}
		dir := filepath.Join(suite.root, "bin")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		args := []string{"build", "-C", filepath.Dir(strings.TrimSpace(string(gomod))), "-o", dir,
			"./cmd/rcqd", "./cmd/rcq", "./cmd/rcq-login", "./cmd/rcq-submit", "./cmd/rcq-queue", "./cmd/rcq-cancel"} // rcq: the thin rcq-submit hands all but a plain submit to it
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		suite.bin = dir
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return suite.bin
}

var (
	buildOnce sync.Once
	buildErr  error
)

// sharedCluster is the suite's PostgreSQL, started on first use.
func sharedCluster(t testing.TB) *pgserver.Server {
	t.Helper()
	suite.pgOnce.Do(func() {
		suite.pg, suite.pgErr = startCluster(filepath.Join(suite.root, "pg"))
	})
	if suite.pgErr != nil {
		t.Fatal(suite.pgErr)
	}
	return suite.pg
}

// startCluster starts (or restarts) a throwaway cluster in dir; the kernel
// stops it if the test binary dies.
func startCluster(dir string) (*pgserver.Server, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return pgserver.Start(ctx, pgserver.Options{
		DataDir:        filepath.Join(dir, "data"),
		SocketDir:      filepath.Join(dir, "s"),
		LogFile:        filepath.Join(dir, "pg.log"),
		StopWithParent: true,
		Settings:       map[string]string{"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200"},
	})
}

// freshDatabase creates an empty database for one test in cluster srv and
// returns its URL.
func freshDatabase(t testing.TB, srv *pgserver.Server) string {
	t.Helper()
	suite.dbMu.Lock()
	suite.dbSeq++
	name := fmt.Sprintf("f%d", suite.dbSeq)
	suite.dbMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return srv.URL(name)
}

// tempDir is a short directory (Unix socket paths are limited to 108 bytes)
// under the suite's root, open to every user: jobs run as nobody and write
// there.
func tempDir(t testing.TB, prefix string) string {
	t.Helper()
	d, err := os.MkdirTemp(suite.root, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
}

// procs lists the processes whose command line contains s, with that line.
func procs(s string) map[int]string {
	out := map[int]string{}
	ms, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	self := os.Getpid()
	for _, p := range ms {
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		line := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		if !strings.Contains(line, s) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil || pid == self {
			continue
		}
		out[pid] = line
	}
	return out
}

// leftovers names live processes started from under root: rcqd,
// supervisors, PostgreSQL servers, and job processes (whose environment
// names a working directory under root).
func leftovers(root string) []string {
	var out []string
	for pid, line := range procs(root) {
		if isZombie(pid) {
			continue
		}
		out = append(out, fmt.Sprintf("%d %s", pid, line))
	}
	for _, pid := range jobProcs(root) {
		out = append(out, fmt.Sprintf("%d (a job process)", pid))
	}
	return out
}

// jobProcs are live processes whose working directory is under root (a
// job's processes run in their working directory).
func jobProcs(root string) []int {
	var out []int
	ms, _ := filepath.Glob("/proc/[0-9]*/cwd")
	for _, p := range ms {
		cwd, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(cwd, root) || strings.Contains(cwd, "/pg") {
			continue // PostgreSQL's processes run in their data directory
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil || pid == os.Getpid() || isZombie(pid) {
			continue
		}
		out = append(out, pid)
	}
	return out
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// killUnder kills every process started from under root (SIGKILL), job
// processes first, then supervisors and rcqd, then PostgreSQL (SIGQUIT).
func killUnder(root string) {
	for _, pid := range jobProcs(root) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for pid, line := range procs(root) {
		if strings.Contains(line, "postgres") && !strings.Contains(line, "rcqd") {
			_ = syscall.Kill(pid, syscall.SIGQUIT)
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

package pgserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// helperEnv makes the test binary act as a process that starts a server and then waits on
// stdin; tests kill it to play a crashed rcqd.
const helperEnv = "RCQ_PGSERVER_TEST_HELPER"

func TestMain(m *testing.M) {
	if dataDir := os.Getenv(helperEnv); dataDir != "" {
		os.Exit(helperMain(dataDir, os.Getenv(helperEnv+"_STOP_WITH_PARENT") == "1"))
	}
	os.Exit(m.Run())
}

func helperMain(dataDir string, stopWithParent bool) int {
	ctx := context.Background()
	o := testOptions(dataDir)
	o.StopWithParent = stopWithParent
	s, err := Start(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	fmt.Println(s.pid)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the test closes stdin or kills us
	if err := s.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// testOptions are fast settings for a throwaway cluster in dir.
func testOptions(dataDir string) Options {
	return Options{
		DataDir:  dataDir,
		Settings: map[string]string{"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"},
	}
}

// startServer starts a server for the test and stops it at the end of the test.
func startServer(t *testing.T, o Options) *Server {
	t.Helper()
	s, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { stopServer(t, s) })
	return s
}

// stopServer stops s and checks that its postmaster is gone.
func stopServer(t *testing.T, s *Server) {
	t.Helper()
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if !processGone(s.pid) {
		t.Errorf("postmaster pid %d still runs after Stop", s.pid)
	}
}

func connect(t *testing.T, s *Server) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		t.Fatalf("connect to %s: %v", s.URL("postgres"), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string) string {
	t.Helper()
	var v string
	if err := conn.QueryRow(context.Background(), sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// waitGone waits (bounded) for an external process to exit.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := poll(ctx, 20*time.Millisecond, func() bool { return processGone(pid) }); err != nil {
		t.Fatalf("process %d still runs: %v", pid, err)
	}
}

func TestStartConnectStop(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := testOptions(filepath.Join(dir, "data"))
	s := startServer(t, o)
	if s.Reused() {
		t.Error("a new cluster's server was reported as reused")
	}
	conn := connect(t, s)

	if got := queryString(t, conn, "SELECT current_user"); got != Superuser {
		t.Errorf("current_user = %q, want %q", got, Superuser)
	}
	if got := queryString(t, conn, "SHOW listen_addresses"); got != "" {
		t.Errorf("listen_addresses = %q, want empty (no TCP)", got)
	}
	if got := queryString(t, conn, "SHOW server_encoding"); got != "UTF8" {
		t.Errorf("server_encoding = %q, want UTF8", got)
	}
	if got := queryString(t, conn, "SHOW fsync"); got != "off" {
		t.Errorf("fsync = %q, want off (from Options.Settings)", got)
	}
	if got := queryString(t, conn, "SHOW data_directory"); got != o.DataDir {
		t.Errorf("data_directory = %q, want %q", got, o.DataDir)
	}

	sockDir := filepath.Join(dir, "data-socket")
	fi, err := os.Stat(sockDir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory mode = %o, want 700", fi.Mode().Perm())
	}
	wantUID := os.Getuid()
	if wantUID == 0 {
		u, err := user.Lookup(DefaultRunAs)
		if err != nil {
			t.Fatal(err)
		}
		wantUID, _ = strconv.Atoi(u.Uid)
	}
	for _, p := range []string{sockDir, o.DataDir, filepath.Join(dir, "data.log")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != wantUID {
			t.Errorf("%s is owned by uid %d, want %d", p, uid, wantUID)
		}
	}
	if _, err := os.Stat(filepath.Join(sockDir, ".s.PGSQL.5432")); err != nil {
		t.Errorf("no socket in the socket directory: %v", err)
	}
	if os.Getuid() == 0 {
		// The server must not run as root.
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
		if err == nil && strings.Contains(string(status), "\nUid:\t0\t") {
			t.Errorf("postmaster runs as root:\n%s", status)
		}
	}
	if got, want := s.URL("my db"), "postgres://rcq@/my%20db?host="; !strings.HasPrefix(got, want) {
		t.Errorf("URL = %q, want prefix %q", got, want)
	}

	conn.Close(context.Background())
	stopServer(t, s)
	if _, err := os.Stat(filepath.Join(o.DataDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid left after Stop: %v", err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	o := testOptions(filepath.Join(t.TempDir(), "data"))
	s := startServer(t, o)
	conn := connect(t, s)
	if _, err := conn.Exec(context.Background(), "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	firstPID := s.pid
	stopServer(t, s)

	s = startServer(t, o)
	if s.Reused() || s.pid == firstPID {
		t.Errorf("second start reused pid %d (Reused %v), want a new server", s.pid, s.Reused())
	}
	if got := queryString(t, connect(t, s), "SELECT v FROM kept"); got != "hello" {
		t.Errorf("kept row = %q, want hello", got)
	}
}

func TestSecondStartReusesRunningServer(t *testing.T) {
	t.Parallel()
	o := testOptions(filepath.Join(t.TempDir(), "data"))
	first := startServer(t, o)
	second, err := Start(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !second.Reused() || second.pid != first.pid {
		t.Errorf("second Start: pid %d reused %v, want pid %d reused", second.pid, second.Reused(), first.pid)
	}
	if second.URL("postgres") != first.URL("postgres") {
		t.Errorf("URLs differ: %s and %s", second.URL("postgres"), first.URL("postgres"))
	}
	queryString(t, connect(t, second), "SELECT 1")
	stopServer(t, second) // stopping the reused handle stops the one server
	select {
	case <-first.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the first server did not exit when the reused handle stopped it")
	}
}

func TestConcurrentStartsRunOneServer(t *testing.T) {
	t.Parallel()
	o := testOptions(filepath.Join(t.TempDir(), "data"))
	const n = 3
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { servers[i], errs[i] = Start(context.Background(), o) })
	}
	wg.Wait()
	var started *Server
	for i, s := range servers {
		if errs[i] != nil {
			t.Fatalf("Start %d: %v", i, errs[i])
		}
		if !s.Reused() {
			if started != nil {
				t.Errorf("two servers started: pids %d and %d", started.pid, s.pid)
			}
			started = s
		}
	}
	if started == nil {
		t.Fatal("no Start started a server")
	}
	for _, s := range servers {
		if s.pid != started.pid {
			t.Errorf("pid %d, want %d", s.pid, started.pid)
		}
	}
	stopServer(t, started)
	for _, s := range servers {
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("Stop of a reused handle after the server stopped: %v", err)
		}
	}
}

func TestStalePidFile(t *testing.T) {
	t.Parallel()
	o := testOptions(filepath.Join(t.TempDir(), "data"))
	s := startServer(t, o)
	pidFileContent := func() []byte {
		b, err := os.ReadFile(filepath.Join(o.DataDir, "postmaster.pid"))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	content := pidFileContent()
	stopServer(t, s)

	// A dead pid: a process that has exited and been reaped.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	// A live process that is not PostgreSQL (a pid reused after a reboot).
	alive := exec.Command("sleep", "300")
	if err := alive.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = alive.Process.Kill(); _ = alive.Wait() })

	for _, tc := range []struct {
		name string
		pid  int
	}{
		{"dead pid", dead.Process.Pid},
		{"live pid of another program", alive.Process.Pid},
	} {
		writeStalePidFile(t, o.DataDir, strings.Replace(string(content), strconv.Itoa(s.pid), strconv.Itoa(tc.pid), 1))
		s2 := startServer(t, o)
		if s2.Reused() || s2.pid == tc.pid {
			t.Errorf("%s: Start reused pid %d, want a fresh server", tc.name, tc.pid)
		}
		queryString(t, connect(t, s2), "SELECT 1")
		stopServer(t, s2)
	}

	if runtime.GOOS != "linux" {
		return
	}
	// A live non-postgres pid, while some process still works in the data directory (an
	// orphaned backend of a killed server): Start must not start a second server.
	writeStalePidFile(t, o.DataDir, strings.Replace(string(content), strconv.Itoa(s.pid), strconv.Itoa(alive.Process.Pid), 1))
	orphan := exec.Command("sleep", "300")
	orphan.Dir = o.DataDir
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), o)
	_ = orphan.Process.Kill()
	_ = orphan.Wait()
	if err == nil || !strings.Contains(err.Error(), strconv.Itoa(orphan.Process.Pid)) {
		t.Fatalf("Start while process %d works in the data directory: %v, want a refusal naming it", orphan.Process.Pid, err)
	}
	s3 := startServer(t, o) // the orphan is gone: now it starts
	queryString(t, connect(t, s3), "SELECT 1")
}

// writeStalePidFile writes dataDir's postmaster.pid as the server's user would have left it.
func writeStalePidFile(t *testing.T, dataDir, content string) {
	t.Helper()
	path := filepath.Join(dataDir, "postmaster.pid")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Chown(path, int(st.Uid), int(st.Gid)); err != nil {
		t.Fatal(err)
	}
}

// startHelper runs a child process that starts a server on dataDir and prints its pid.
func startHelper(t *testing.T, dataDir string, stopWithParent bool) (helper *exec.Cmd, pid int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dataDir)
	if stopWithParent {
		cmd.Env = append(cmd.Env, helperEnv+"_STOP_WITH_PARENT=1")
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("helper printed no pid: %v", err)
	}
	if pid, err = strconv.Atoi(strings.TrimSpace(line)); err != nil {
		t.Fatalf("helper printed %q", line)
	}
	return cmd, pid
}

func TestReuseAfterParentKilled(t *testing.T) {
	t.Parallel()
	o := testOptions(filepath.Join(t.TempDir(), "data"))
	helper, pid := startHelper(t, o.DataDir, false)
	if err := helper.Process.Kill(); err != nil { // kill -9 of the "rcqd" that started the server
		t.Fatal(err)
	}
	_ = helper.Wait()
	if processGone(pid) {
		t.Fatalf("postgres pid %d died with its parent; it should survive a crash of rcqd", pid)
	}

	s := startServer(t, o)
	if !s.Reused() || s.pid != pid {
		t.Errorf("Start after the parent was killed: pid %d reused %v, want pid %d reused", s.pid, s.Reused(), pid)
	}
	queryString(t, connect(t, s), "SELECT 1")
	stopServer(t, s)
	waitGone(t, pid)
}

func TestStopWithParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("StopWithParent needs Linux's parent-death signal")
	}
	t.Parallel()
	o := testOptions(filepath.Join(t.TempDir(), "data"))
	helper, pid := startHelper(t, o.DataDir, true)
	if err := helper.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	waitGone(t, pid) // the kernel's parent-death signal shut the server down
	if _, err := os.Stat(filepath.Join(o.DataDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid left after a shutdown by the parent's death: %v", err)
	}
}

func TestRefusesForeignDataDir(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), testOptions(dir))
	if err == nil || !strings.Contains(err.Error(), "neither empty nor a PostgreSQL cluster") {
		t.Fatalf("Start on a non-empty foreign directory: %v, want a refusal", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "precious.txt")); err != nil || string(b) != "mine" {
		t.Errorf("foreign file damaged: %q %v", b, err)
	}
}

func TestStartWithoutBinaries(t *testing.T) {
	t.Parallel()
	o := testOptions(filepath.Join(t.TempDir(), "data"))
	o.BinDir = t.TempDir()
	_, err := Start(context.Background(), o)
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start with an empty BinDir: %v, want ErrNotInstalled", err)
	}
}

func TestSocketPathTooLong(t *testing.T) {
	t.Parallel()
	o := testOptions(filepath.Join(t.TempDir(), "data"))
	o.SocketDir = "/" + strings.Repeat("s", maxSocketPath)
	_, err := Start(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "choose a shorter socket directory") {
		t.Fatalf("Start with a long socket path: %v", err)
	}
}

package cli_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs testdata/script/*.txtar: the real binaries against a real
// rcqd on its private PostgreSQL. Each script starts its own rcqd:
//
//	exec rcqd --state-dir $WORK/state --listen '' --socket $SOCK &rcqd&
//	waitsock $SOCK
//
// and stops it with "kill -INT rcqd" and "wait rcqd". The environment has
// RCQ_SERVER=unix://$SOCK, XDG_CONFIG_HOME=$WORK/cfg, and settings that
// make rcqd quick (bcrypt cost 4) and able to run jobs when it runs as root:
// registration is for admins only and maps accounts to the Unix user named
// by their email's local part, so nobody@lab runs jobs as nobody. On the
// socket the test's own user is an admin without logging in (root in
// system mode, rcqd's owner in personal mode), so "rcq-login --register"
// works until a login saves another account's token.
func TestScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	if _, err := exec.LookPath("pg_ctl"); err != nil {
		if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl"); len(m) == 0 {
			t.Fatal("no PostgreSQL server binaries (pg_ctl): install them with scripts/ensure-postgres.sh (make test does)")
		}
	}
	// As root (system mode), rcqd runs each account's jobs as the Unix user
	// named by its email's local part; the scripts use nobody@lab. Otherwise
	// (personal mode) jobs run as the test's own user and any name works.
	jobUser := "ann"
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("nobody"); err != nil {
			t.Skip("running as root needs a Unix user named nobody to run jobs as")
		}
		jobUser = "nobody"
	}
	bin := buildBinaries(t)
	// Short paths (Unix sockets are limited to 108 bytes), traversable by the
	// jobs' user.
	root, err := os.MkdirTemp("", "rcqs")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// The committed completion scripts, for completion.txtar.
	completionsDir, err := filepath.Abs(filepath.Join("..", "..", "completions"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		WorkdirRoot:         root,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// As root, jobs run as nobody and write here: sticky, like /tmp,
			// since rcqd as root refuses a state directory inside a directory
			// others could rename it out of. Otherwise the socket's directory
			// must be private (personal mode).
			mode := os.FileMode(0o700)
			if os.Geteuid() == 0 {
				mode = os.ModeSticky | 0o777
			}
			if err := os.Chmod(env.WorkDir, mode); err != nil {
				return err
			}
			sock := filepath.Join(env.WorkDir, "rcqd.sock")
			env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("SOCK", sock)
			env.Setenv("RCQ_SERVER", "unix://"+sock)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, "cfg"))
			env.Setenv("RCQ_AUTH_OPEN_REGISTRATION", "false")
			env.Setenv("RCQ_AUTH_UNIX_USER_FROM_EMAIL", "true")
			env.Setenv("RCQ_AUTH_BCRYPT_COST", "4")
			env.Setenv("RCQ_AUTH_LOGIN_RATE_LIMIT_PER_MINUTE", "100000")
			env.Setenv("RCQ_JOBS_KILL_GRACE_SECONDS", "2")
			env.Setenv("NOBODY", jobUser)
			env.Setenv("COMPLETIONS", completionsDir)
			state := filepath.Join(env.WorkDir, "state")
			// Whatever happens to the script, leave no job or PostgreSQL behind.
			env.Defer(func() { stopLeftovers(state) })
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitsock": cmdWaitSock,
			"waitjob":  cmdWaitJob,
			"expire":   cmdExpire,
		},
	})
}

// buildBinaries builds rcqd and the commands once into a temporary directory.
func buildBinaries(t *testing.T) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// Jobs run rcq (as srun) from here: as root they run as another user,
	// who must reach it through the test's temporary directory too.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"build", "-C", filepath.Dir(strings.TrimSpace(string(gomod))), "-o", dir,
		"./cmd/rcqd", "./cmd/rcq-login", "./cmd/rcq-submit", "./cmd/rcq-queue", "./cmd/rcq-cancel", "./cmd/rcq-acct", "./cmd/rcq-show", "./cmd/rcq-control", "./cmd/rcq-admin", "./cmd/rcq",
		"./cmd/rcq-info", "./cmd/rcq-share", "./cmd/rcq-tail"}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

// cmdWaitSock waits until rcqd answers on the socket: waitsock PATH.
func cmdWaitSock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitsock PATH")
	}
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(90 * time.Second)
	for {
		c, err := client.New("unix://" + path)
		if err != nil {
			ts.Fatalf("%v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		h, err := c.Health(ctx)
		cancel()
		if err == nil && h.Status == "healthy" {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("rcqd did not answer on %s: %v", path, err)
		}
		time.Sleep(50 * time.Millisecond) // polling an external process
	}
}

// cmdWaitJob waits until a job is in one of the states: waitjob ID STATE...
// It uses the saved credentials, like the commands.
func cmdWaitJob(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: waitjob ID STATE...")
	}
	id, err := strconv.ParseInt(args[0], 10, 64)
	if err != nil {
		ts.Fatalf("bad job id %q", args[0])
	}
	creds, err := client.LoadCredentials(filepath.Join(ts.Getenv("XDG_CONFIG_HOME"), "rcq", "credentials"))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	c, err := client.New(ts.Getenv("RCQ_SERVER"), client.WithToken(creds.Token))
	if err != nil {
		ts.Fatalf("%v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		j, err := c.Job(context.Background(), id)
		if err != nil {
			ts.Fatalf("%v", err)
		}
		for _, st := range args[1:] {
			if j.Status == st {
				return
			}
		}
		if last = j.Status; rcq.JobState(last).Terminal() {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling an external process
	}
	ts.Fatalf("job %d is %s, not %s", id, last, strings.Join(args[1:], " or "))
}

// cmdExpire rewrites the saved credentials so the token expired an hour ago.
func cmdExpire(ts *testscript.TestScript, neg bool, args []string) {
	path := filepath.Join(ts.Getenv("XDG_CONFIG_HOME"), "rcq", "credentials")
	creds, err := client.LoadCredentials(path)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	creds.ExpiresAt = time.Now().Add(-time.Hour)
	if err := client.SaveCredentials(path, creds); err != nil {
		ts.Fatalf("%v", err)
	}
}

// stopSupervisor asks a job's supervisor to end its job (SIGTERM: it kills
// the job and removes the job's cgroups), and kills it if it has not
// exited within 15 s.
func stopSupervisor(pid int) {
	if syscall.Kill(pid, syscall.SIGTERM) != nil {
		return
	}
	for i := 0; i < 300 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond) // waiting for an external process to exit
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// stopLeftovers ends the processes a failed script may have left: job
// supervisors and the private PostgreSQL under state.
func stopLeftovers(state string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), state) || !strings.Contains(string(b), "supervise") {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
			stopSupervisor(pid)
		}
	}
	b, err := os.ReadFile(filepath.Join(state, "pgdata", "postmaster.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return
	}
	if syscall.Kill(pid, syscall.SIGQUIT) != nil {
		return
	}
	for i := 0; i < 200 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond) // waiting for an external process to exit
	}
	fmt.Fprintf(os.Stderr, "stopped a PostgreSQL (pid %d) left by a failed script\n", pid)
}

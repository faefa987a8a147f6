package cli_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/spf13/cobra"
)

func TestExitCode(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	bg := context.Background()
	cases := []struct {
		ctx  context.Context
		err  error
		code int
		msg  string
	}{
		{bg, errors.New("boom"), 1, "boom"},
		{bg, cli.Usagef("--mem: bad"), 2, "--mem: bad"},
		{bg, fmt.Errorf("submit: %w", &client.ConnError{Addr: "/run/rcq/rcqd.sock"}), 3, "cannot reach rcqd at /run/rcq/rcqd.sock: is it running? Start it with: rcqd"},
		{bg, fmt.Errorf("submit: %w", &rcq.Error{Kind: rcq.KindUnauthorized, Code: "token_expired", Msg: "token expired"}), 4, "session expired: run rcq-login"},
		{bg, &cli.AuthError{Msg: "not logged in: run rcq-login"}, 4, "not logged in: run rcq-login"},
		{bg, &cli.ExitError{Code: 7}, 7, ""},
		{bg, &cli.ExitError{Code: 4, Err: errors.New("log in as a: nope")}, 4, "log in as a: nope"},
		{cancelled, fmt.Errorf("x: %w", context.Canceled), 130, ""},
		{cancelled, errors.New("read: interrupted"), 130, ""},
		{bg, fmt.Errorf("cancel: %w", rcq.Errorf(rcq.KindConflict, "job_finished", "job 3 is already completed")), 1, "cancel: job 3 is already completed"},
	}
	for _, c := range cases {
		code, msg := cli.ExitCode(c.ctx, c.err)
		if code != c.code || msg != c.msg {
			t.Errorf("ExitCode(%v) = %d %q, want %d %q", c.err, code, msg, c.code, c.msg)
		}
	}
}

func TestRunPrintsOneLine(t *testing.T) {
	e := clitest.NewEnv(t, "rcq-x", "unix:///nowhere.sock")
	cmd := &cobra.Command{Use: "rcq-x", RunE: func(*cobra.Command, []string) error {
		return fmt.Errorf("do it: %w", errors.New("it broke"))
	}}
	if code := e.Run(cmd); code != 1 || e.Stderr.String() != "rcq-x: do it: it broke\n" || e.Stdout.Len() != 0 {
		t.Errorf("exit %d, stderr %q, stdout %q", code, e.Stderr, e.Stdout)
	}
}

func TestServerResolution(t *testing.T) {
	api := clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq-x", "")
	delete(e.Vars, "RCQ_SERVER")
	if got := e.F.Server(); got != client.DefaultServer() {
		t.Errorf("nothing configured: %q", got)
	}
	e.Login(t, api, "ann@lab")
	if got := e.F.Server(); got != api.URL {
		t.Errorf("logged in: %q", got)
	}
	e.Vars["RCQ_SERVER"] = "http://other:1"
	if got := e.F.Server(); got != "http://other:1" {
		t.Errorf("RCQ_SERVER: %q", got)
	}
	// The saved token is not sent to another server.
	if _, err := e.F.Client(); !errors.As(err, new(*cli.AuthError)) {
		t.Errorf("token for another server: %v", err)
	}
	// RCQ_TOKEN is used as is.
	e.Vars["RCQ_TOKEN"] = "t"
	s, err := e.F.Client()
	if err != nil || s.Token() != "t" || s.Server() != "http://other:1" {
		t.Errorf("RCQ_TOKEN: %v %v", s, err)
	}
}

func TestArgsUsage(t *testing.T) {
	e := clitest.NewEnv(t, "rcq-x", "unix:///nowhere.sock")
	cmd := &cobra.Command{Use: "rcq-x", Args: cli.ArgsUsage(cobra.NoArgs), RunE: func(*cobra.Command, []string) error { return nil }}
	if code := e.Run(cmd, "extra"); code != cli.ExitUsage || !strings.Contains(e.Stderr.String(), "Run 'rcq-x --help' for usage.") {
		t.Errorf("exit %d, %q", code, e.Stderr)
	}
}

// An exit code of 2 that is not a usage error (a job's or a task's exit
// code passed on) prints no usage hint.
func TestExitTwoIsNotUsage(t *testing.T) {
	e := clitest.NewEnv(t, "rcq-x", "unix:///nowhere.sock")
	cmd := &cobra.Command{Use: "rcq-x", RunE: func(*cobra.Command, []string) error { return &cli.ExitError{Code: 2} }}
	if code := e.Run(cmd); code != 2 || e.Stderr.Len() != 0 {
		t.Errorf("exit %d, %q", code, e.Stderr)
	}
}

// The command-line binaries must not link the daemon's parts.
func TestBinariesDoNotLinkTheDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(strings.TrimSpace(string(root)))
	cmds := []string{"./cmd/rcq-login", "./cmd/rcq-submit", "./cmd/rcq-queue", "./cmd/rcq-cancel", "./cmd/rcq-acct", "./cmd/rcq-show", "./cmd/rcq-control", "./cmd/rcq-admin", "./cmd/rcq",
		"./cmd/rcq-info", "./cmd/rcq-share", "./cmd/rcq-tail"}
	out, err := exec.Command("go", append([]string{"list", "-C", dir, "-deps"}, cmds...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 20 {
		t.Fatalf("go list printed too little: %q", out)
	}
	for _, d := range deps {
		for _, banned := range []string{"github.com/rcq-project/rcq/internal/store", "github.com/rcq-project/rcq/internal/sched",
			"github.com/rcq-project/rcq/internal/executor", "github.com/rcq-project/rcq/internal/daemon", "github.com/jackc/pgx"} {
			if d == banned || strings.HasPrefix(d, banned+"/") {
				t.Errorf("a command-line binary links %s", d)
			}
		}
	}
}

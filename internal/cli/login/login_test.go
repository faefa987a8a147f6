package login

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/clitest"
	"github.com/rcq-project/rcq/internal/client"
)

func TestLoginStatusLogout(t *testing.T) {
	api := clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq-login", api.URL)
	old := syscall.Umask(0)
	e.Stdin.WriteString("pw\n")
	code := e.Run(NewRootCmd(e.F), "--email", "ann@lab", "--password-stdin")
	syscall.Umask(old)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if !strings.HasPrefix(e.Stdout.String(), "Logged in to "+api.URL+" as ann@lab; the token expires ") {
		t.Errorf("stdout = %q", e.Stdout)
	}
	path, _ := e.F.CredentialsPath()
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("credentials file: %v %v", st.Mode(), err)
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("credentials dir mode %v", st.Mode())
	}
	creds, err := client.LoadCredentials(path)
	if err != nil || creds.Server != api.URL || creds.Email != "ann@lab" || creds.Token == "" || !creds.ExpiresAt.Equal(clitest.Now.Add(24*60*60*1e9)) {
		t.Errorf("credentials = %+v, %v", creds, err)
	}

	e.Stdout.Reset()
	if code := e.Run(NewRootCmd(e.F), "--status"); code != 0 {
		t.Fatalf("status: exit %d: %s", code, e.Stderr)
	}
	if !strings.HasPrefix(e.Stdout.String(), "Logged in to "+api.URL+" as ann@lab (user 1, group 1); the token expires") {
		t.Errorf("status = %q", e.Stdout)
	}
	e.Stdout.Reset()
	if code := e.Run(NewRootCmd(e.F), "--status", "--json"); code != 0 {
		t.Fatal(code)
	}
	var s Session
	if err := json.Unmarshal(e.Stdout.Bytes(), &s); err != nil || s.Email != "ann@lab" || s.UserID != 1 || s.Server != api.URL {
		t.Errorf("status --json = %s (%v)", e.Stdout, err)
	}

	e.Stdout.Reset()
	if code := e.Run(NewRootCmd(e.F), "--logout"); code != 0 || e.Stdout.String() != "Logged out of "+api.URL+"\n" {
		t.Fatalf("logout: exit %d, %q %s", code, e.Stdout, e.Stderr)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("credentials still there: %v", err)
	}
	// The old token is invalid on the server too.
	e.Vars["RCQ_TOKEN"] = creds.Token
	e.Stderr.Reset()
	if code := e.Run(NewRootCmd(e.F), "--status"); code != cli.ExitAuth || e.Stderr.String() != "rcq-login: session expired: run rcq-login\n" {
		t.Errorf("status after logout: exit %d, %q", code, e.Stderr)
	}
	delete(e.Vars, "RCQ_TOKEN")
	e.Stderr.Reset()
	if code := e.Run(NewRootCmd(e.F), "--status"); code != cli.ExitAuth || e.Stderr.String() != "rcq-login: not logged in: run rcq-login\n" {
		t.Errorf("status, never logged in: exit %d, %q", code, e.Stderr)
	}
}

func TestRegisterOnATerminal(t *testing.T) {
	api := clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq-login", api.URL)
	e.F.IO.SetTTY(true, false, false) // no real terminal: passwords are read as lines
	e.Stdin.WriteString("new@lab\nsecret\nsecret\n")
	if code := e.Run(NewRootCmd(e.F), "--register", "--group", "2"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if !strings.Contains(e.Stderr.String(), "Email: Password: ") || !strings.Contains(e.Stderr.String(), "rcq-login: Registered new@lab") {
		t.Errorf("stderr = %q", e.Stderr)
	}
	if !strings.Contains(e.Stdout.String(), "as new@lab") {
		t.Errorf("stdout = %q", e.Stdout)
	}
}

// A root rcqd's warning that the new account cannot run jobs yet is shown.
func TestRegisterShowsTheWarning(t *testing.T) {
	api := clitest.NewAPI(t)
	api.RegisterWarning = "new@lab cannot run jobs until an admin maps it to a Unix user"
	e := clitest.NewEnv(t, "rcq-login", api.URL)
	e.Stdin.WriteString("secret\n")
	if code := e.Run(NewRootCmd(e.F), "--register", "--email", "new@lab", "--password-stdin"); code != 0 {
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if want := "rcq-login: Registered new@lab\nrcq-login: warning: new@lab cannot run jobs until an admin maps it to a Unix user\n"; e.Stderr.String() != want {
		t.Errorf("stderr = %q, want %q", e.Stderr, want)
	}
}

func TestLoginFailures(t *testing.T) {
	api := clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq-login", api.URL)
	e.Stdin.WriteString("wrong\n")
	if code := e.Run(NewRootCmd(e.F), "--email", "ann@lab", "--password-stdin"); code != cli.ExitAuth || e.Stderr.String() != "rcq-login: log in as ann@lab: invalid email or password\n" {
		t.Errorf("wrong password: exit %d, %q", code, e.Stderr)
	}
	e = clitest.NewEnv(t, "rcq-login", api.URL)
	if code := e.Run(NewRootCmd(e.F), "--email", "ann@lab"); code != cli.ExitUsage || !strings.Contains(e.Stderr.String(), "no terminal to ask for the password") {
		t.Errorf("no terminal: exit %d, %q", code, e.Stderr)
	}
	for _, args := range [][]string{{"--status", "--logout"}, {"--group", "2"}, {"--status", "--email", "x"}, {"extra"}} {
		e = clitest.NewEnv(t, "rcq-login", api.URL)
		if code := e.Run(NewRootCmd(e.F), args...); code != cli.ExitUsage {
			t.Errorf("%q: exit %d", args, code)
		}
	}
	// A group-readable credentials file is refused with the fix.
	e = clitest.NewEnv(t, "rcq-login", api.URL)
	e.Login(t, api, "ann@lab")
	path, _ := e.F.CredentialsPath()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := e.Run(NewRootCmd(e.F), "--status"); code != cli.ExitFailure || !strings.Contains(e.Stderr.String(), "fix it with: chmod 600 "+path) {
		t.Errorf("open file: exit %d, %q", code, e.Stderr)
	}
}

// On rcqd's socket, rcq-login needs no password: it fetches a token for the
// caller's Unix user's account and keeps it; --email still logs in with a
// password; without any login the commands work there too.
func TestLoginOnTheSocket(t *testing.T) {
	api := clitest.NewSocketAPI(t, "ann@lab")
	e := clitest.NewEnv(t, "rcq-login", api.URL)

	// No login yet: the socket knows the caller.
	if code := e.Run(NewRootCmd(e.F), "--status"); code != 0 {
		t.Fatalf("status without a login: exit %d: %s", code, e.Stderr)
	}
	if want := "Known to " + api.URL + " as ann@lab (user 1, group 1) by your Unix user: no login needed on the socket\n"; e.Stdout.String() != want {
		t.Errorf("status without a login = %q, want %q", e.Stdout, want)
	}

	e.Stdout.Reset()
	if code := e.Run(NewRootCmd(e.F)); code != 0 { // stdin is no terminal: no password could be asked for
		t.Fatalf("exit %d: %s", code, e.Stderr)
	}
	if !strings.HasPrefix(e.Stdout.String(), "Logged in to "+api.URL+" as ann@lab; the token expires ") {
		t.Errorf("stdout = %q", e.Stdout)
	}
	path, _ := e.F.CredentialsPath()
	creds, err := client.LoadCredentials(path)
	if err != nil || creds.Server != api.URL || creds.Email != "ann@lab" || creds.Token == "" {
		t.Fatalf("credentials = %+v, %v", creds, err)
	}
	if last := api.Requests[len(api.Requests)-1]; last != "POST /api/auth/token" {
		t.Errorf("last request %q, want the token route", last)
	}

	// --email: a password login, as over TCP.
	e.Stdout.Reset()
	e.Stdin.WriteString("pw\n")
	if code := e.Run(NewRootCmd(e.F), "--email", "bob@lab", "--password-stdin"); code != 0 {
		t.Fatalf("password login on the socket: exit %d: %s", code, e.Stderr)
	}
	if !strings.HasPrefix(e.Stdout.String(), "Logged in to "+api.URL+" as bob@lab;") {
		t.Errorf("stdout = %q", e.Stdout)
	}
}

// Over TCP, rcq-login without --email still asks for the password, and a
// command without a login is refused.
func TestNoPeerLoginOverTCP(t *testing.T) {
	api := clitest.NewAPI(t)
	e := clitest.NewEnv(t, "rcq-login", api.URL)
	if code := e.Run(NewRootCmd(e.F)); code != cli.ExitUsage || !strings.Contains(e.Stderr.String(), "no terminal to ask for the password") {
		t.Errorf("rcq-login over TCP without a terminal: exit %d, %q", code, e.Stderr)
	}
	for _, r := range api.Requests {
		if r == "POST /api/auth/token" {
			t.Errorf("rcq-login asked for a token without a password over TCP")
		}
	}
}

package auth_test

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/unixtest"
)

func TestReadUIDMin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, c := range []struct {
		name, text string
		want       int
	}{
		{"debian", "# comment\nUID_MIN\t\t\t 1000\nUID_MAX\t\t\t60000\n", 1000},
		{"raised", "UID_MIN 5000\n", 5000},
		{"commented out", "#UID_MIN 5000\n", auth.DefaultUIDMin},
		{"garbage", "UID_MIN lots\n", auth.DefaultUIDMin},
		{"no line", "UID_MAX 60000\n", auth.DefaultUIDMin},
	} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := auth.ReadUIDMin(p); got != c.want {
			t.Errorf("%s: UID_MIN = %d, want %d", c.name, got, c.want)
		}
	}
	if got := auth.ReadUIDMin(filepath.Join(dir, "missing")); got != auth.DefaultUIDMin {
		t.Errorf("missing file: UID_MIN = %d, want %d", got, auth.DefaultUIDMin)
	}
}

// TestUnixUserCheckRefusesPrivileged is the attack "map my account to a Unix
// user with more powers than mine": root, a system account, the PostgreSQL
// server's user and members of privileged groups are all refused, naming
// unix_user and the reason; an ordinary user is accepted.
func TestUnixUserCheckRefusesPrivileged(t *testing.T) {
	ordinary := unixtest.New(t)
	sudoer := unixtest.New(t)
	sudoer.AddToGroup(t, "sudo", false)
	admPrimary := unixtest.New(t)
	admPrimary.AddToGroup(t, "adm", true)

	// A stand-in PostgreSQL user: an ordinary account named by database.run_as.
	pgUser := unixtest.New(t)
	c := auth.NewUnixUsers(auth.LoginDefs, pgUser.Name)

	if err := c.Check(ordinary.Name); err != nil {
		t.Errorf("ordinary user %s refused: %v", ordinary.Name, err)
	}
	system := systemAccount(t)
	for _, tc := range []struct {
		name, mention string
	}{
		{"root", "uid 0"},
		{system, "system account"},
		{pgUser.Name, "PostgreSQL"},
		{sudoer.Name, "group sudo"},
		{admPrimary.Name, "group adm"},
		{"Root", "not a Unix login name"},
		{"../etc", "not a Unix login name"},
	} {
		err := c.Check(tc.name)
		if rcq.KindOf(err) != rcq.KindInvalid || !strings.HasPrefix(rcq.MessageOf(err), "unix_user: ") || !strings.Contains(rcq.MessageOf(err), tc.mention) {
			t.Errorf("Check(%q) = %v (kind %v), want a 400 naming unix_user and %q", tc.name, err, rcq.KindOf(err), tc.mention)
		}
	}
	if err := c.Check("rcqt-nosuchuser"); rcq.CodeOf(err) != auth.CodeUnknownUnixUser {
		t.Errorf("Check(missing user) = %v, want code %s", err, auth.CodeUnknownUnixUser)
	}

	// UID_MIN comes from login.defs: raised above the user's uid, it refuses.
	defs := filepath.Join(t.TempDir(), "login.defs")
	if err := os.WriteFile(defs, []byte("UID_MIN 60001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := auth.NewUnixUsers(defs, "postgres").Check(ordinary.Name); err == nil || !strings.Contains(err.Error(), "at least 60001") {
		t.Errorf("with UID_MIN 60001, Check(%s) = %v", ordinary.Name, err)
	}
}

func TestUnixUsersLogin(t *testing.T) {
	u := unixtest.New(t)
	c := auth.NewUnixUsers(auth.LoginDefs, "postgres")
	if got, err := c.Login(u.UID); err != nil || got != u.Name {
		t.Errorf("Login(%d) = %q, %v, want %s", u.UID, got, err, u.Name)
	}
	if got, err := c.Login(0); err != nil || got != "root" {
		t.Errorf("Login(0) = %q, %v", got, err)
	}
}

// systemAccount returns a user with 0 < uid < UID_MIN (daemon, bin, ...).
func systemAccount(t *testing.T) string {
	t.Helper()
	min := auth.ReadUIDMin(auth.LoginDefs)
	for _, n := range []string{"daemon", "bin", "sys", "mail", "www-data"} {
		if u, err := user.Lookup(n); err == nil {
			if uid, _ := strconv.Atoi(u.Uid); uid > 0 && uid < min {
				return n
			}
		}
	}
	t.Skip("no system account (daemon, bin, ...) on this machine")
	return ""
}

// Package unixtest gives tests real Unix accounts, for the attacks of the trust
// model: one local user trying to act as another. It is for tests only.
//
// New creates a fresh user with useradd (a uid from the system's normal range,
// a private group and a 0700 home directory) and deletes it, home included,
// when the test ends. It needs root; elsewhere it skips the test and says why.
// CI runs as root, so these tests run there.
//
// useradd and userdel take /etc/passwd's lock and fail at once when another
// process holds it, so every call here first takes an flock shared by all test
// binaries of the machine: parallel packages wait for each other instead of
// failing.
package unixtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Prefix starts the login name of every user New creates.
const Prefix = "rcqt"

// lockPath serializes useradd and userdel across test binaries: in
// /run/lock where the machine has it, else in the temporary directory.
var lockPath = func() string {
	if st, err := os.Stat("/run/lock"); err == nil && st.IsDir() {
		return "/run/lock/rcq-unixtest.lock"
	}
	return filepath.Join(os.TempDir(), "rcq-unixtest.lock")
}()

// User is a Unix account created for one test.
type User struct {
	Name string
	UID  int
	GID  int
	Home string
}

// Skip skips t unless real Unix users can be created here, logging why.
func Skip(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create real Unix users (CI runs as root)")
	}
	for _, c := range []string{"useradd", "userdel"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("needs %s to create real Unix users: %v", c, err)
		}
	}
}

// New creates a Unix user for t and deletes it when t ends. It skips t when
// not root.
func New(t testing.TB) User {
	t.Helper()
	Skip(t)
	name := Prefix + randomHex(6)
	unlock, err := lock()
	if err != nil {
		t.Fatalf("unixtest: %v", err)
	}
	out, err := exec.Command("useradd", "--create-home", "--user-group", "--shell", "/bin/sh", name).CombinedOutput()
	unlock()
	if err != nil {
		t.Fatalf("unixtest: useradd %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { remove(t, name) })
	pw, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("unixtest: look up %s: %v", name, err)
	}
	u := User{Name: name, Home: pw.HomeDir}
	u.UID, _ = strconv.Atoi(pw.Uid)
	u.GID, _ = strconv.Atoi(pw.Gid)
	if err := os.Chmod(u.Home, 0o700); err != nil {
		t.Fatalf("unixtest: %v", err)
	}
	return u
}

// Credential is the SysProcAttr credential that runs a command as u.
func (u User) Credential() *syscall.Credential {
	return &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: []uint32{uint32(u.GID)}}
}

// Command is exec.Command run as u, with HOME, USER and LOGNAME set to u's.
func (u User) Command(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
	c.Env = append(os.Environ(), "HOME="+u.Home, "USER="+u.Name, "LOGNAME="+u.Name)
	c.Dir = u.Home
	return c
}

// WriteFile writes a file owned by u with the given mode.
func (u User) WriteFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// Mkdir makes a directory owned by u with the given mode.
func (u User) Mkdir(t testing.TB, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(path, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// AddToGroup adds u to the system group (as a supplementary group, or as
// its primary group when primary is set), for tests of what members of
// privileged groups may not do. It skips t when the group does not exist.
// userdel takes the membership away with the user.
func (u User) AddToGroup(t testing.TB, group string, primary bool) {
	t.Helper()
	if _, err := user.LookupGroup(group); err != nil {
		t.Skipf("no group %s on this machine", group)
	}
	args := []string{"-a", "-G", group, u.Name}
	if primary {
		args = []string{"-g", group, u.Name}
	}
	unlock, err := lock()
	if err != nil {
		t.Fatalf("unixtest: %v", err)
	}
	out, err := exec.Command("usermod", args...).CombinedOutput()
	unlock()
	if err != nil {
		t.Fatalf("unixtest: usermod %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
}

func remove(t testing.TB, name string) {
	// Processes a failed test left behind would make userdel refuse.
	_ = exec.Command("pkill", "-KILL", "-u", name).Run()
	unlock, err := lock()
	if err != nil {
		t.Errorf("unixtest: %v", err)
		return
	}
	defer unlock()
	if out, err := exec.Command("userdel", "--remove", name).CombinedOutput(); err != nil {
		// Exit 12: the home directory could not be removed; the account is gone.
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 12 {
			t.Errorf("unixtest: userdel %s: %v: %s", name, err, strings.TrimSpace(string(out)))
		}
	}
}

func lock() (unlock func(), err error) {
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	return func() { f.Close() }, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

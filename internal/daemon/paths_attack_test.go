package daemon_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/unixtest"
)

// refused runs rcqd with the extra arguments and environment, expects it to
// refuse to start, and returns what it printed.
func refused(t *testing.T, state string, env []string, args ...string) string {
	t.Helper()
	bin := buildBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	argv := append([]string{"--state-dir", state, "--socket", filepath.Join(t.TempDir(), "rcqd.sock"), "--listen", ""}, args...)
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "rcqd"), argv...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("rcqd started with state directory %s:\n%s", state, out)
	}
	return string(out)
}

// As root, rcqd refuses a state directory that an ordinary user made, or
// that its group may write: that user could plant a symlink where rcqd writes
// or a secret of their own. The refusal is one line naming the directory and
// the command that fixes it, and rcqd leaves nothing in the directory.
func TestRootRefusesStateDirOthersCanChange(t *testing.T) {
	u := unixtest.New(t)
	byUser := filepath.Join(t.TempDir(), "state")
	u.Mkdir(t, byUser, 0o700)
	groupWritable := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(groupWritable, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(groupWritable, 0o770); err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{byUser, groupWritable} {
		out := refused(t, state, nil)
		fix := "chown root:root " + state + " && chmod go-w " + state
		if !strings.Contains(out, fix) {
			t.Errorf("rcqd on %s said:\n%s\nwant the fix %q", state, out, fix)
		}
		if ents, _ := os.ReadDir(state); len(ents) != 0 {
			t.Errorf("rcqd left %d entries in the refused %s (%s, ...)", len(ents), state, ents[0].Name())
		}
	}
}

// A jwt-secret planted in the state directory by another user, or left open
// to others, is refused at start (whoever planted or read it could sign admin
// tokens), and so is a configured secret of 3 bytes.
func TestRootRefusesPlantedOrShortSecret(t *testing.T) {
	u := unixtest.New(t)
	secret := bytes.Repeat([]byte("s"), 32)
	planted := t.TempDir()
	u.WriteFile(t, filepath.Join(planted, "jwt-secret"), secret, 0o600)
	open := t.TempDir()
	if err := os.WriteFile(filepath.Join(open, "jwt-secret"), secret, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(open, "jwt-secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	for state, want := range map[string]string{planted: "belongs to uid " + strconv.Itoa(u.UID), open: "mode 0644"} {
		path := filepath.Join(state, "jwt-secret")
		if out := refused(t, state, nil); !strings.Contains(out, path) || !strings.Contains(out, want) || !strings.Contains(out, "rm "+path) {
			t.Errorf("rcqd with %s said:\n%s\nwant the file, %q and the fix", path, out, want)
		}
	}
	if out := refused(t, t.TempDir(), []string{"JWT_SECRET=abc"}); !strings.Contains(out, "auth.jwt_secret (from env JWT_SECRET): is 3 bytes; at least 32 are needed") {
		t.Errorf("rcqd with a 3-byte JWT_SECRET said:\n%s", out)
	}
}

// Symlinks planted where rcqd writes its own files are never followed: one at
// admin-password and one at a job's log, both pointing at a root-owned file,
// leave that file as it was; rcqd writes a fresh admin-password that logs in.
// A log directory an ordinary user owns is refused at start.
func TestRootNeverFollowsPlantedSymlinks(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	u := unixtest.New(t)
	target := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(target, []byte("root's data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if err := os.Symlink(target, filepath.Join(state, "admin-password")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(state, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(state, "logs", "job-1.log")); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if err := os.Chmod(work, 0o777); err != nil {
		t.Fatal(err)
	}

	d := startDaemon(t, state)
	d.ready()
	if fi, err := os.Lstat(filepath.Join(state, "admin-password")); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin-password after start: %v %v, want a regular 0600 file", fi, err)
	}
	_, token := d.login() // with the password in the fresh file
	if code := d.api("PATCH", "/api/admin/users/1", token, map[string]any{"unix_user": "nobody"}, nil); code != 200 {
		t.Fatalf("map admin to nobody: %d", code)
	}
	var sub struct {
		JobID int64 `json:"job_id"`
	}
	if code := d.api("POST", "/api/jobs", token, map[string]any{"script": "#!/bin/sh\ntrue\n", "working_dir": work}, &sub); code != 201 {
		t.Fatalf("submit: %d", code)
	}
	c, _ := d.login()
	if j := waitJob(t, c, sub.JobID); j.Status != "failed" {
		t.Errorf("job %d with a planted log symlink ended %s (%s), want failed", sub.JobID, j.Status, j.Reason)
	}
	d.stop()
	if b, _ := os.ReadFile(target); string(b) != "root's data\n" {
		t.Errorf("the root-owned file behind the planted symlinks now holds %q", b)
	}

	logs := filepath.Join(t.TempDir(), "logs")
	u.Mkdir(t, logs, 0o755)
	if out := refused(t, t.TempDir(), []string{"RCQ_AUTH_BCRYPT_COST=4", "LOG_DIRECTORY=" + logs}); !strings.Contains(out, "chown root:root "+logs+" && chmod go-w "+logs) {
		t.Errorf("rcqd with a log directory owned by %s said:\n%s", u.Name, out)
	}
}

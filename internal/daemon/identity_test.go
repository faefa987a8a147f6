package daemon_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/unixtest"
)

// peerResult is what rcq-peer saw.
type peerResult struct {
	status int
	body   string
	dial   string // the connection error, when it could not connect
}

func (r peerResult) code(t *testing.T) string {
	t.Helper()
	var b apitype.ErrorBody
	if err := json.Unmarshal([]byte(r.body), &b); err != nil {
		t.Fatalf("%d %q is not an error body: %v", r.status, r.body, err)
	}
	return b.Code
}

// peer makes one request on sock as the Unix user cred (through rcq-peer, so
// rcqd's SO_PEERCRED sees that user), with token when not empty.
func peer(t *testing.T, cred *syscall.Credential, sock, token, method, path, body string) peerResult {
	t.Helper()
	args := []string{sock, method, path}
	if body != "" {
		args = append(args, body)
	}
	cmd := exec.Command(filepath.Join(buildBinaries(t), "rcq-peer"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = "/"
	cmd.Env = []string{"RCQ_TOKEN=" + token}
	out, err := cmd.Output()
	s := string(out)
	if rest, ok := strings.CutPrefix(s, "dial: "); ok {
		return peerResult{dial: rest}
	}
	if err != nil {
		t.Fatalf("rcq-peer %v: %v: %s", args, err, out)
	}
	st, rest, _ := strings.Cut(s, " ")
	n, err := strconv.Atoi(st)
	if err != nil {
		t.Fatalf("rcq-peer %v: %q", args, out)
	}
	return peerResult{status: n, body: rest}
}

// openDir is a fresh directory under /tmp that every user may traverse,
// owned by u when u is not nil (else by root), with the given mode.
func openDir(t *testing.T, u *unixtest.User, mode os.FileMode) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rcqid")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if u != nil {
		if err := os.Chown(dir, u.UID, u.GID); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (d *daemon) banner(t *testing.T, want string) {
	t.Helper()
	if !strings.Contains(d.log(), want) {
		t.Errorf("banner lacks %q:\n%s", want, d.log())
	}
}

// bannerLimitsRe is the banner's limits line: the mechanism in force and,
// when it is not cgroup v2, why cgroup v2 (and for affinity, v1) was not used.
var bannerLimitsRe = regexp.MustCompile(`(?m)^  limits:     (cgroup-v2 \(.*memory\.max.*\)|cgroup-v1 \(memory\.limit_in_bytes.*; cgroup v2 unavailable: .+\)|cpu-affinity \(no memory limit; (cgroups disabled by configuration|cgroup v2 unavailable: .+; cgroup v1 unavailable: .+)\))$`)

// bannerLimits checks that the banner says which limits are in force.
func (d *daemon) bannerLimits(t *testing.T) {
	t.Helper()
	if !bannerLimitsRe.MatchString(d.log()) {
		t.Errorf("banner lacks a limits line naming cgroup v2, cgroup v1 or cpu-affinity and why:\n%s", d.log())
	}
}

// adminTCP logs in as admin@localhost over TCP with the generated password.
func (d *daemon) adminTCP(addr string) *client.Client {
	d.t.Helper()
	pw, err := os.ReadFile(filepath.Join(d.dir, "admin-password"))
	if err != nil {
		d.t.Fatal(err)
	}
	anon, err := client.New("http://" + addr)
	if err != nil {
		d.t.Fatal(err)
	}
	lr, err := anon.Login(context.Background(), apitype.LoginRequest{Email: "admin@localhost", Password: strings.TrimSpace(string(pw))})
	if err != nil {
		d.t.Fatal(err)
	}
	c, _ := client.New("http://"+addr, client.WithToken(lr.Token))
	return c
}

// TestPersonalModeOnlyOwner: user A runs rcqd, so its jobs run as A. User B
// cannot reach its socket (the directory is A's alone), root reaching it is
// refused by uid, and B is refused by uid when the directory is opened up;
// A submits with no login and the job runs as A.
func TestPersonalModeOnlyOwner(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	a, b := unixtest.New(t), unixtest.New(t)
	dir := openDir(t, &a, 0o700)
	d := startDaemonAs(t, dir, &a)
	addr := d.ready()
	d.banner(t, "mode:       personal (rcqd runs as uid "+strconv.Itoa(a.UID))

	// B: the kernel refuses the connection.
	if r := peer(t, b.Credential(), d.socket, "", "GET", "/health", ""); !strings.Contains(r.dial, "permission denied") {
		t.Errorf("B on A's socket: %+v, want permission denied", r)
	}
	// Root passes file permissions; rcqd refuses it by uid.
	var eb apitype.ErrorBody
	if code := d.api("GET", "/api/jobs", "", nil, &eb); code != 403 || eb.Code != "not_owner" {
		t.Errorf("root on A's socket: %d %+v, want 403 not_owner", code, eb)
	}

	// A needs no password; the job runs as A.
	r := peer(t, a.Credential(), d.socket, "", "POST", "/api/jobs",
		fmt.Sprintf(`{"script":"#!/bin/sh\nid -u\n","working_dir":%q}`, a.Home))
	if r.status != 201 {
		t.Fatalf("A submitting on its own socket without a token: %+v", r)
	}
	var sub apitype.SubmitResponse
	if err := json.Unmarshal([]byte(r.body), &sub); err != nil {
		t.Fatal(err)
	}
	admin := d.adminTCP(addr)
	if j := waitJob(t, admin, sub.JobID); j.Status != "completed" {
		t.Fatalf("A's job ended %s (%s %s)", j.Status, j.Reason, j.ReasonDetail)
	}
	out, err := os.ReadFile(filepath.Join(a.Home, fmt.Sprintf("rcq-%d.out", sub.JobID)))
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(a.UID) {
		t.Errorf("A's job ran as uid %q (%v), want %d", out, err, a.UID)
	}

	// With the directory and socket opened up, B connects and is refused
	// by uid on every route, with or without A's token.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d.socket, 0o666); err != nil {
		t.Fatal(err)
	}
	tok := admin.Token()
	for _, c := range []struct{ token, method, path, body string }{
		{"", "GET", "/health", ""},
		{"", "GET", "/api/jobs", ""},
		{tok, "GET", "/api/jobs", ""},
		{tok, "POST", "/api/jobs", `{"script":"#!/bin/sh\nid\n"}`},
		{"", "POST", "/api/auth/token", ""},
	} {
		r := peer(t, b.Credential(), d.socket, c.token, c.method, c.path, c.body)
		if r.status != 403 || r.code(t) != "not_owner" {
			t.Errorf("B %s %s (token %v) on the opened socket: %+v, want 403 not_owner", c.method, c.path, c.token != "", r)
		}
	}
	js, err := admin.Jobs(context.Background(), client.JobsQuery{})
	if err != nil || len(js.Jobs) != 1 {
		t.Errorf("jobs after B's attempts: %+v %v, want A's one", js, err)
	}
	d.stop()
	d.bannerLimits(t) // the whole banner is read once rcqd exited
}

// TestSystemModeIdentity: rcqd as root. A new Unix user submits with no login
// and the job runs as their uid; root is the admin; a system account is
// refused; a token carried from one user to another's shell is refused.
func TestSystemModeIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	unixtest.Skip(t)
	c, other := unixtest.New(t), unixtest.New(t)
	dir := openDir(t, nil, 0o755)
	d := startDaemon(t, dir)
	d.ready()
	d.banner(t, "mode:       system (rcqd runs as root")
	if fi, err := os.Stat(d.socket); err != nil || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket mode %v, %v, want 0666", fi, err)
	}

	r := peer(t, c.Credential(), d.socket, "", "POST", "/api/jobs",
		fmt.Sprintf(`{"script":"#!/bin/sh\nid -u\n","working_dir":%q}`, c.Home))
	if r.status != 201 {
		t.Fatalf("a new user submitting on the socket without a token: %+v", r)
	}
	var sub apitype.SubmitResponse
	if err := json.Unmarshal([]byte(r.body), &sub); err != nil {
		t.Fatal(err)
	}
	// Root without a token is the admin.
	root, err := client.New("unix://" + d.socket)
	if err != nil {
		t.Fatal(err)
	}
	me, err := root.Me(context.Background())
	if err != nil || me.Email != "admin@localhost" || !me.IsAdmin {
		t.Fatalf("root on the socket is %+v, %v", me, err)
	}
	if j := waitJob(t, root, sub.JobID); j.Status != "completed" {
		t.Fatalf("the new user's job ended %s (%s %s)", j.Status, j.Reason, j.ReasonDetail)
	}
	out, err := os.ReadFile(filepath.Join(c.Home, fmt.Sprintf("rcq-%d.out", sub.JobID)))
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(c.UID) {
		t.Errorf("the job ran as uid %q (%v), want %d", out, err, c.UID)
	}

	// A system account (uid 1, daemon on most systems) is refused.
	if r := peer(t, &syscall.Credential{Uid: 1, Gid: 1}, d.socket, "", "GET", "/api/jobs", ""); r.status != 403 || r.code(t) != "system_account" {
		t.Errorf("uid 1 on the socket: %+v, want 403 system_account", r)
	}
	// C's token, fetched without a password, is refused in another user's hands.
	r = peer(t, c.Credential(), d.socket, "", "POST", "/api/auth/token", "")
	var lr apitype.LoginResponse
	if r.status != 200 || json.Unmarshal([]byte(r.body), &lr) != nil || lr.Token == "" || lr.User.UnixUser != c.Name {
		t.Fatalf("token for %s: %+v", c.Name, r)
	}
	if r := peer(t, other.Credential(), d.socket, lr.Token, "GET", "/api/jobs", ""); r.status != 403 || r.code(t) != "token_not_yours" {
		t.Errorf("another user with %s's token: %+v, want 403 token_not_yours", c.Name, r)
	}
	if r := peer(t, c.Credential(), d.socket, lr.Token, "GET", "/api/jobs/"+strconv.FormatInt(sub.JobID, 10), ""); r.status != 200 {
		t.Errorf("%s with its own token: %+v", c.Name, r)
	}
	d.stop()
	d.bannerLimits(t) // the whole banner is read once rcqd exited
}

// TestStartRefusals: configurations that would let one user act as another
// stop rcqd at start with one line naming the key or the path and the fix.
func TestStartRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	a := unixtest.New(t)
	bin := buildBinaries(t)
	run := func(u *unixtest.User, dir string, env ...string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join(bin, "rcqd"), "--state-dir", dir, "--socket", filepath.Join(dir, "s", "rcqd.sock"))
		cmd.Env = append(os.Environ(), append([]string{"RCQ_AUTH_BCRYPT_COST=4", "XDG_RUNTIME_DIR="}, env...)...)
		if u != nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
			cmd.Env = append(cmd.Env, "HOME="+u.Home, "USER="+u.Name)
			cmd.Dir = u.Home
		}
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("rcqd %v started:\n%s", env, out)
		}
		return string(out)
	}
	oneLine := func(out string, want ...string) {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(out), "\n")
		last := lines[len(lines)-1]
		for _, w := range want {
			if !strings.Contains(last, w) {
				t.Errorf("rcqd's last line %q does not say %q; all of it:\n%s", last, w, out)
			}
		}
	}
	// Personal mode with open registration.
	out := run(&a, openDir(t, &a, 0o700), "RCQ_AUTH_OPEN_REGISTRATION=true")
	oneLine(out, "rcqd: auth.open_registration = true (from env RCQ_AUTH_OPEN_REGISTRATION)", "personal mode")
	// Emails naming Unix users, with open registration (system mode's default).
	out = run(nil, openDir(t, nil, 0o755), "RCQ_AUTH_UNIX_USER_FROM_EMAIL=true")
	oneLine(out, "rcqd: auth.unix_user_from_email = true (from env RCQ_AUTH_UNIX_USER_FROM_EMAIL)", "set auth.open_registration to false")
	// Personal mode with its socket in a directory others may open.
	dir := openDir(t, &a, 0o700)
	a.Mkdir(t, filepath.Join(dir, "s"), 0o755)
	out = run(&a, dir)
	oneLine(out, "socket directory "+filepath.Join(dir, "s")+" is open to other users (mode 0755)", "chmod 700 "+filepath.Join(dir, "s"))
}

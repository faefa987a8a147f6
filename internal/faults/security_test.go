package faults

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: rcqd maps accounts to Unix users only when it runs as root (CI runs as root)")
	}
}

// withPassword puts password into a postgres:// URL's user part.
func withPassword(url, password string) string {
	return strings.Replace(url, "://rcq@", "://rcq:"+password+"@", 1)
}

const (
	knownJWTSecret  = "faults-known-jwt-secret-5f1d2c3b4a59687766554433"
	knownDBPassword = "faults-known-db-password-77a1"
	knownUserPass   = "faults-known-user-password-9c3e"
	knownWrongPass  = "faults-known-wrong-password-1b7d"
	knownNewPass    = "faults-known-new-password-44d0"
)

// secretDaemon runs rcqd with its database URL (holding a password) and
// its JWT secret in the environment, under every name rcqd reads.
func secretDaemon(t *testing.T, extra ...string) *daemon {
	url := withPassword(freshDatabase(t, sharedCluster(t)), knownDBPassword)
	env := append([]string{
		"RCQ_DATABASE_URL=" + url, "DATABASE_URL=" + url,
		"RCQ_JWT_SECRET=" + knownJWTSecret, "JWT_SECRET=" + knownJWTSecret, "RCQ_AUTH_JWT_SECRET=" + knownJWTSecret,
	}, extra...)
	d := newDaemon(t, daemonOptions{dbURL: url, env: env})
	// The URL comes from the environment only.
	d.args = slices.DeleteFunc(slices.Clone(d.args), func(s string) bool { return s == "--database-url" || s == url })
	return d
}

// Item 19: as root, jobs never run as root: an account mapped to root (or
// to a Unix user that does not exist) is refused; a mapped job sees its
// user's uid and groups; its environment holds no daemon secret.
func TestFaultNeverRoot(t *testing.T) {
	needRoot(t)
	nob, err := user.Lookup("nobody")
	if err != nil {
		t.Skip("needs a Unix user named nobody")
	}
	d := secretDaemon(t)
	d.start()
	work := tempDir(t, "w")
	admin := d.admin()

	// An admin may not map an account to root.
	ghost := d.jobUser("rcqghost@x")
	me, err := ghost.Me(ctxT(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	status, body := rawRequest(t, d.sock, admin.Token(), "PATCH", fmt.Sprintf("/api/admin/users/%d", me.ID),
		strings.NewReader(`{"unix_user":"root"}`), nil)
	if status != 400 {
		t.Errorf("mapping an account to root: %d %s, want 400", status, body)
	}

	// Accounts whose jobs would run as root, or as nobody that exists.
	if _, err := user.Lookup("rcqghost"); err == nil {
		t.Fatal("this machine has a user rcqghost; the test needs a name that does not exist")
	}
	// unix_user_from_email would map root@x to root: the registration is
	// refused and no account is made.
	status, body = rawRequest(t, d.sock, admin.Token(), "POST", "/api/auth/register",
		strings.NewReader(`{"email":"root@x","password":"job-user-password-1"}`), nil)
	if status != 400 || !strings.Contains(body, "root") {
		t.Errorf("registering root@x: %d %s, want 400 naming root", status, body)
	}
	cases := []struct {
		email string
		want  string // in the reason detail
	}{
		{"rcqghost@x", "rcqghost"}, // no such Unix user: an account without a mapping
	}
	for _, tc := range cases {
		c := d.jobUser(tc.email)
		id, err := c.Submit(ctxT(t, 30*time.Second), jobSpec(work, markRun(work)+"\nid -u > "+work+"/uid-$RCQ_JOB_ID"), client.SubmitOptions{})
		if err != nil {
			// Refused at submit: as good, as long as nothing ran.
			t.Logf("%s: submit refused: %v", tc.email, err)
			continue
		}
		j := waitJobs(t, c, []int64{id.JobID}, time.Minute)[id.JobID]
		if j.Status != "failed" || !strings.Contains(j.ReasonDetail+j.Reason, tc.want) {
			t.Errorf("%s: job %d ended %s (%s: %s), want failed naming %q", tc.email, j.ID, j.Status, j.Reason, j.ReasonDetail, tc.want)
		}
		if _, err := os.Stat(filepath.Join(work, "uid-"+strconv.FormatInt(j.ID, 10))); err == nil {
			t.Errorf("%s: job %d ran", tc.email, j.ID)
		}
		if runCounts(t, work)[j.ID] != 0 {
			t.Errorf("%s: job %d ran", tc.email, j.ID)
		}
		t.Logf("%s: job %d %s: %s", tc.email, j.ID, j.Reason, j.ReasonDetail)
	}

	// A mapped job sees its user's uid and groups, and no daemon secret.
	c := d.nobody()
	id := submit(t, c, jobSpec(work, "id -u\nid -G\necho ENV\nenv"))
	j := waitJobs(t, c, []int64{id}, time.Minute)[id]
	if j.Status != "completed" {
		t.Fatalf("job %d ended %s (%s %s)", id, j.Status, j.Reason, j.ReasonDetail)
	}
	out, err := os.ReadFile(filepath.Join(work, fmt.Sprintf("out-%d.txt", id)))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) < 3 {
		t.Fatalf("job output: %q", out)
	}
	if lines[0] != nob.Uid {
		t.Errorf("job's id -u = %q, want nobody's %s", lines[0], nob.Uid)
	}
	wantGroups, err := nob.GroupIds()
	if err != nil {
		t.Fatal(err)
	}
	gotGroups := strings.Fields(lines[1])
	slices.Sort(gotGroups)
	slices.Sort(wantGroups)
	if !slices.Equal(gotGroups, wantGroups) {
		t.Errorf("job's id -G = %v, want nobody's groups %v", gotGroups, wantGroups)
	}
	env := string(out)
	for _, s := range []string{knownJWTSecret, knownDBPassword, "RCQ_DATABASE_URL=", "\nDATABASE_URL=", "JWT_SECRET",
		"admin-password", "jwt-secret", filepath.Join(d.dir, "pgdata")} {
		if strings.Contains(env, s) {
			t.Errorf("the job's environment holds %q", s)
		}
	}
}

// fileState is what must not change about a file.
type fileState struct {
	exists bool
	mode   fs.FileMode
	uid    uint32
	size   int64
	mtime  time.Time
	sum    [32]byte
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fileState{}
	}
	if err != nil {
		t.Fatal(err)
	}
	st := fileState{exists: true, mode: fi.Mode(), uid: fi.Sys().(*syscall.Stat_t).Uid, size: fi.Size(), mtime: fi.ModTime()}
	if fi.Mode().IsRegular() {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		st.sum = sha256.Sum256(b)
	}
	return st
}

// Item 20: output paths that reach root's files, from a job running as a
// mapped user: nothing root-owned is created or changed, and the job fails
// with a permission reason (or the submit is refused).
func TestFaultOutputPathsAsRoot(t *testing.T) {
	needRoot(t)
	d := newDaemon(t, daemonOptions{})
	d.start()
	c := d.nobody()

	// A working directory two levels below /, so that ../../etc is /etc.
	work, err := os.MkdirTemp("/tmp", "rcqo")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	if err := os.Chmod(work, 0o777); err != nil {
		t.Fatal(err)
	}
	rel := "../../etc/cron.d/x"
	if filepath.Join(work, rel) != "/etc/cron.d/x" {
		t.Fatalf("%s from %s is %s", rel, work, filepath.Join(work, rel))
	}
	// A root-owned file behind a symlink in the job's own directory.
	rootDir := t.TempDir()
	target := filepath.Join(rootDir, "root-owned")
	if err := os.WriteFile(target, []byte("root's data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(work, "link.out")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	watched := []string{"/etc/cron.d/x", "/etc/cron.d", "/etc/shadow", target}
	before := map[string]fileState{}
	for _, p := range watched {
		before[p] = stateOf(t, p)
	}
	for _, out := range []string{rel, "/etc/shadow", "link.out"} {
		for _, stream := range []string{"output", "error"} {
			req := jobSpec(work, "echo pwned; echo pwned >&2")
			req.Output, req.Error = "", ""
			if stream == "output" {
				req.Output = out
			} else {
				req.Error = out
			}
			r, err := c.Submit(ctxT(t, 30*time.Second), req, client.SubmitOptions{})
			if err != nil {
				if !errors.Is(err, rcq.ErrInvalid) && !errors.Is(err, rcq.ErrForbidden) && !errors.Is(err, rcq.ErrUnprocessable) {
					t.Errorf("--%s %s: submit: %v", stream, out, err)
				}
				t.Logf("--%s %s: refused at submit: %v", stream, out, err)
				continue
			}
			j := waitJobs(t, c, []int64{r.JobID}, time.Minute)[r.JobID]
			why := strings.ToLower(j.Reason + " " + j.ReasonDetail)
			want := "permission"
			if out == "link.out" {
				want = "symbolic link (not followed)"
			}
			if j.Status != "failed" || !strings.Contains(why, want) {
				t.Errorf("--%s %s: job %d ended %s (%s: %s), want failed with a reason naming %q",
					stream, out, j.ID, j.Status, j.Reason, j.ReasonDetail, want)
			}
			t.Logf("--%s %s: job %d %s: %s", stream, out, j.ID, j.Reason, j.ReasonDetail)
		}
	}
	for _, p := range watched {
		if after := stateOf(t, p); after != before[p] {
			t.Errorf("%s changed: %+v, then %+v", p, before[p], after)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "root's data\n" {
		t.Errorf("the root-owned file behind the symlink now holds %q", b)
	}
}

// Item 21a: the Unix socket has the documented mode (0666 by default, or
// socket_mode); a second rcqd on the same socket refuses to start; the
// stale socket a kill -9 leaves is replaced.
func TestFaultSocket(t *testing.T) {
	d := newDaemon(t, daemonOptions{})
	d.start()
	if fi, err := os.Stat(d.sock); err != nil || fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o666 {
		t.Errorf("socket %s: %v %v, want a socket of mode 0666 (the documented default)", d.sock, fi.Mode(), err)
	}

	// A second rcqd with the same socket: with the same state directory it
	// is refused by the directory's lock, with another one by the socket (it
	// has its own node name: the same one would be refused by the node's
	// lease before it reached the socket).
	otherState := filepath.Join(filepath.Dir(d.dir), "state2")
	for _, tc := range []struct{ state, says string }{
		{d.dir, "another rcqd is running with the state directory " + d.dir},
		{otherState, "another rcqd is already serving on " + d.sock},
	} {
		args := slices.Clone(d.args)
		args[slices.Index(args, "--state-dir")+1] = tc.state
		twin := &daemon{t: t, name: d.name, dir: tc.state, sock: d.sock, dbURL: d.dbURL, env: append(slices.Clone(d.env), "RCQ_NODE_NAME=twin"), args: args,
			logf: filepath.Join(filepath.Dir(d.dir), "twin-"+filepath.Base(tc.state)+".log")}
		t.Cleanup(twin.cleanup)
		twin.launch()
		if code := twin.wait(60 * time.Second); code == 0 {
			t.Errorf("a second rcqd on %s (state %s) started", d.sock, tc.state)
		}
		if !strings.Contains(twin.log(), tc.says) {
			t.Errorf("the second rcqd (state %s) did not say %q:\n%s", tc.state, tc.says, twin.logTail(5))
		}
		if _, err := d.client("").Health(ctxT(t, 10*time.Second)); err != nil || !d.running() {
			t.Errorf("the first rcqd stopped serving after a second one tried its socket: %v", err)
		}
		if _, err := os.Stat(d.sock); err != nil {
			t.Errorf("the second rcqd removed the first one's socket: %v", err)
		}
	}

	// kill -9 leaves the socket file behind; the next start replaces it.
	d.kill9()
	if _, err := os.Lstat(d.sock); err != nil {
		t.Logf("no stale socket after kill -9: %v", err)
	}
	d.start()
	if !strings.Contains(d.log(), "replacing a stale socket") {
		t.Errorf("rcqd did not say it replaced the stale socket")
	}
	d.stop()
	if _, err := os.Lstat(d.sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left after a clean stop: %v", err)
	}

	// socket_mode.
	d2 := newDaemon(t, daemonOptions{env: []string{"RCQ_SOCKET_MODE=0660"}})
	d2.start()
	if fi, err := os.Stat(d2.sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket with socket_mode 0660: %v %v", fi.Mode(), err)
	}
}

// cli runs one of the commands with env, stdin, and returns its exit code,
// stdout and stderr.
func cli(t *testing.T, env []string, stdin string, shell string) (int, string, string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", shell)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s: still running after 60 s", shell)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

func cliEnv(d *daemon, cfg string) []string {
	return append(cleanEnv(), "PATH="+suite.bin+":/usr/bin:/bin", "RCQ_SERVER=unix://"+d.sock, "XDG_CONFIG_HOME="+cfg, "NO_COLOR=1")
}

// Item 21b: with umask 000, rcq-login writes a 0700 directory and a 0600
// file; the commands refuse a token file group or others may read, naming
// the chmod that fixes it.
func TestFaultCredentialsFile(t *testing.T) {
	d := newDaemon(t, daemonOptions{})
	d.start()
	d.jobUser("ann@x")
	cfg := filepath.Join(tempDir(t, "c"), "cfg")
	env := cliEnv(d, cfg)
	code, out, errOut := cli(t, env, "job-user-password-1\n", "umask 000; rcq-login --email ann@x --password-stdin")
	if code != 0 {
		t.Fatalf("rcq-login: exit %d\n%s%s", code, out, errOut)
	}
	dir := filepath.Join(cfg, "rcq")
	file := filepath.Join(dir, "credentials")
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("credentials directory %s: %v %v, want 0700", dir, fi.Mode(), err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file %s: %v %v, want 0600", file, fi.Mode(), err)
	}
	if code, out, errOut := cli(t, env, "", "rcq-queue"); code != 0 {
		t.Fatalf("rcq-queue with good credentials: exit %d\n%s%s", code, out, errOut)
	}
	for _, mode := range []fs.FileMode{0o640, 0o604} {
		if err := os.Chmod(file, mode); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"rcq-queue", "rcq-submit --wrap true", "rcq-cancel 1"} {
			code, out, errOut := cli(t, env, "", cmd)
			if code == 0 || !strings.Contains(errOut, "chmod 600 "+file) {
				t.Errorf("%s with a credentials file of mode %04o: exit %d, stderr %q, want a refusal naming chmod 600 %s",
					cmd, mode, code, errOut, file)
			}
			if strings.Contains(out, "Submitted") {
				t.Errorf("%s used a credentials file of mode %04o: %s", cmd, mode, out)
			}
		}
	}
}

// Item 22: secrets never logged. rcqd runs with a database password, a
// JWT secret, users log in with known passwords (and fail with known wrong
// ones), change them, use their tokens, through the API and the commands,
// with debug logging: none of these strings appears in anything rcqd or
// the commands wrote.
func TestFaultSecretsNeverLogged(t *testing.T) {
	d := secretDaemon(t)
	d.args = append(d.args, "--log-level", "debug")
	d.start()
	work := tempDir(t, "w")
	cfg := filepath.Join(tempDir(t, "c"), "cfg")
	env := cliEnv(d, cfg)
	var outputs []string
	run := func(stdin, cmd string) {
		code, out, errOut := cli(t, env, stdin, cmd)
		outputs = append(outputs, out+errOut) // what the command wrote, not its command line
		t.Logf("$ %s: exit %d", cmd, code)
	}

	email := "nobody@x"
	if _, err := d.client("").Register(ctxT(t, 30*time.Second), apitype.RegisterRequest{Email: email, Password: knownUserPass}); err != nil {
		t.Fatal(err)
	}
	// Bad logins, through the API and the command.
	if _, err := d.client("").Login(ctxT(t, 30*time.Second), apitype.LoginRequest{Email: email, Password: knownWrongPass}); err == nil {
		t.Fatal("login with a wrong password succeeded")
	}
	if _, err := d.client("").Login(ctxT(t, 30*time.Second), apitype.LoginRequest{Email: "unknown-" + knownWrongPass + "@x", Password: knownWrongPass}); err == nil {
		t.Fatal("login of an unknown account succeeded")
	}
	run(knownWrongPass+"\n", "rcq-login --email "+email+" --password-stdin")
	run(knownUserPass+"\n", "rcq-login --email "+email+" --password-stdin")
	creds, err := client.LoadCredentials(filepath.Join(cfg, "rcq", "credentials"))
	if err != nil {
		t.Fatal(err)
	}
	token := creds.Token
	script := filepath.Join(work, "job.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("", "cd "+work+" && rcq-submit --wait job.sh")
	run("", "rcq-queue -t all")
	run("", "rcq-cancel 999999")
	run("", "RCQ_SERVER=unix://"+d.sock+".nope rcq-queue") // unreachable
	// A token that was tampered with, and a bad token.
	c := d.client(token)
	_, _ = d.client(token + "x").Me(ctxT(t, 30*time.Second))
	_, _ = d.client(knownJWTSecret).Me(ctxT(t, 30*time.Second))
	// Password change with a wrong, then the right old password.
	for _, old := range []string{knownWrongPass, knownUserPass} {
		_, _ = rawRequest(t, d.sock, token, "POST", "/api/auth/password",
			strings.NewReader(fmt.Sprintf(`{"old_password":%q,"new_password":%q}`, old, knownNewPass)), nil)
	}
	_, _ = c.Me(ctxT(t, 30*time.Second)) // a revoked token
	run(knownNewPass+"\n", "rcq-login --email "+email+" --password-stdin")
	run("", "rcq-login --status")
	// rcqd config masks the secrets it prints.
	run("", fmt.Sprintf("RCQ_DATABASE_URL='%s' RCQ_JWT_SECRET='%s' rcqd config --state-dir %s",
		withPassword(d.dbURL, knownDBPassword), knownJWTSecret, d.dir))
	d.stop()

	secrets := map[string]string{
		"database password": knownDBPassword, "JWT secret": knownJWTSecret, "user password": knownUserPass,
		"wrong password": knownWrongPass, "new password": knownNewPass, "token": token,
		"admin password": d.adminPassword(),
	}
	// Token parts: the signature alone must not leak either.
	if parts := strings.Split(token, "."); len(parts) == 3 {
		secrets["token signature"] = parts[2]
	}
	texts := map[string]string{"rcqd's log": d.log(), "the commands' output": strings.Join(outputs, "\n")}
	// Every file rcqd keeps about jobs (supervisor logs, job logs).
	_ = filepath.WalkDir(d.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		switch e.Name() {
		case "admin-password", "jwt-secret", "spec.json":
			return nil
		}
		if strings.Contains(p, "pgdata") {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			texts[p] = string(b)
		}
		return nil
	})
	if !strings.Contains(texts["rcqd's log"], "level=DEBUG") {
		t.Errorf("rcqd did not log at debug level: the test proves nothing")
	}
	for what, text := range texts {
		for name, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("the %s appears in %s", name, what)
			}
		}
	}
	if t.Failed() {
		t.Logf("commands:\n%s", texts["the commands' output"])
	}
}

// The state directory and the secrets rcqd generates in it are private to
// rcqd's user even when it starts with umask 000: the directory 0700 (or
// 0701 as root: the private PostgreSQL's user must pass through it to its
// data directory, but may not list it), the JWT secret and the admin
// password 0600.
func TestFaultStateFilesPrivate(t *testing.T) {
	d := newDaemon(t, daemonOptions{dbURL: "private"})
	// The private PostgreSQL's first start runs initdb: give it time.
	d.umask000 = true
	d.start()
	for path, want := range map[string]fs.FileMode{
		d.dir:                                  0o700,
		filepath.Join(d.dir, "jwt-secret"):     0o600,
		filepath.Join(d.dir, "admin-password"): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		got := fi.Mode().Perm()
		if fi.IsDir() && os.Geteuid() == 0 {
			got &^= 0o001
		}
		if got != want {
			t.Errorf("%s has mode %04o under umask 000, want %04o", path, fi.Mode().Perm(), want)
		}
	}
	d.stop()
}

// Item 15 against a real rcqd (the in-process half is internal/api
// TestOversizedBodyIsNotRead): 10 MiB of JSON, with a Content-Length and
// streamed without one, is refused with 413, and rcqd's heap does not grow
// by the body's size.
func TestFaultHugeBody(t *testing.T) {
	d := newDaemon(t, daemonOptions{})
	d.start()
	admin := d.admin()
	c := d.nobody()
	before := heapInuse(t, admin, d.sock)
	const size = 10 << 20
	huge := func() []byte {
		b := make([]byte, 0, size+64)
		b = append(b, `{"script":"`...)
		b = append(b, bytes.Repeat([]byte("a"), size)...)
		return append(b, `"}`...)
	}()
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(huge)
		if chunked {
			body = io.MultiReader(bytes.NewReader(huge)) // no length known: sent chunked
		}
		status, out := rawRequest(t, d.sock, c.Token(), "POST", "/api/jobs", body, nil)
		if status != 413 {
			t.Errorf("10 MiB submit (chunked %v): %d %s, want 413", chunked, status, out)
		}
	}
	after := heapInuse(t, admin, d.sock)
	t.Logf("heap in use: %d KiB before, %d KiB after two 10 MiB bodies", before>>10, after>>10)
	if after-before > size/2 {
		t.Errorf("rcqd's heap grew by %d KiB after refusing two 10 MiB bodies", (after-before)>>10)
	}
	var n int
	if err := db(t, d.dbURL).QueryRow(ctxT(t, 10*time.Second), `SELECT count(*) FROM jobs`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d jobs stored from refused bodies", n)
	}
}

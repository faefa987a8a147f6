package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/unixtest"
)

// binDir holds rcqd and rcq-supervise, built once for the package.
var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func buildBinaries(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "rcqd-bin-")
		if buildErr != nil {
			return
		}
		// Other Unix users run these binaries too.
		if buildErr = os.Chmod(binDir, 0o755); buildErr != nil {
			return
		}
		for _, pkg := range []string{"../../cmd/rcqd", "../../cmd/rcq-supervise", "./testdata/rcq-peer"} {
			cmd := exec.Command("go", "build", "-o", binDir, pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := dbtest.Main(m) // starts PostgreSQL only for a test that asks for it
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// daemon is one rcqd process under test.
type daemon struct {
	t      testing.TB
	cmd    *exec.Cmd
	dir    string
	socket string
	mu     sync.Mutex
	stderr bytes.Buffer
	tcp    chan string // the TCP address from the banner
	done   chan error
}

// startDaemon starts rcqd on the state directory dir, with env added to its
// environment.
func startDaemon(t testing.TB, dir string, env ...string) *daemon {
	t.Helper()
	return startDaemonAs(t, dir, nil, env...)
}

// startDaemonAs starts rcqd as the Unix user u (in personal mode), or as
// the test's own user when u is nil, with env added to its environment.
func startDaemonAs(t testing.TB, dir string, u *unixtest.User, env ...string) *daemon {
	t.Helper()
	bin := buildBinaries(t)
	d := &daemon{t: t, dir: dir, socket: filepath.Join(dir, "rcqd.sock"), tcp: make(chan string, 1), done: make(chan error, 1)}
	d.cmd = exec.Command(filepath.Join(bin, "rcqd"), "--state-dir", dir, "--socket", d.socket, "--listen", "127.0.0.1:0")
	d.cmd.Env = append(os.Environ(), "RCQ_AUTH_BCRYPT_COST=4", "RCQ_NODE_CPU_CORES=2", "RCQ_NODE_MEMORY_GB=4", "RCQ_NODE_NAME=testnode")
	if u != nil {
		d.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: u.Credential()}
		d.cmd.Env = append(d.cmd.Env, "HOME="+u.Home, "USER="+u.Name, "LOGNAME="+u.Name, "XDG_RUNTIME_DIR=", "XDG_STATE_HOME=", "XDG_CONFIG_HOME=")
		d.cmd.Dir = u.Home
	}
	d.cmd.Env = append(d.cmd.Env, env...)
	pipe, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := regexp.MustCompile(`tcp:\s+http://(\S+)`)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.stderr.WriteString(line + "\n")
			d.mu.Unlock()
			if m := addr.FindStringSubmatch(line); m != nil {
				d.tcp <- m[1]
			}
		}
		d.done <- d.cmd.Wait()
	}()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.done:
			case <-time.After(30 * time.Second):
				_ = d.cmd.Process.Kill()
			}
		}
		if t.Failed() {
			t.Logf("rcqd stderr:\n%s", d.log())
		}
	})
	return d
}

func (d *daemon) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// ready waits for the banner and returns the TCP address.
func (d *daemon) ready() string {
	d.t.Helper()
	select {
	case a := <-d.tcp:
		return a
	case err := <-d.done:
		d.t.Fatalf("rcqd exited before it was ready: %v\n%s", err, d.log())
	case <-time.After(2 * time.Minute):
		d.t.Fatalf("rcqd not ready after 2 minutes:\n%s", d.log())
	}
	return ""
}

// stop sends SIGTERM and waits for a clean exit.
func (d *daemon) stop() {
	d.t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		d.t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			d.t.Fatalf("rcqd exited with %v after SIGTERM\n%s", err, d.log())
		}
	case <-time.After(time.Minute):
		d.t.Fatalf("rcqd still running a minute after SIGTERM\n%s", d.log())
	}
}

// api calls the API over the Unix socket with a raw request (for routes the
// client package does not cover).
func (d *daemon) api(method, path, token string, body any, out any) int {
	d.t.Helper()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.socket)
	}}}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://rcq"+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			d.t.Fatalf("%s %s: decode: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

func (d *daemon) login() (*client.Client, string) {
	d.t.Helper()
	pw, err := os.ReadFile(filepath.Join(d.dir, "admin-password"))
	if err != nil {
		d.t.Fatal(err)
	}
	anon, err := client.New("unix://" + d.socket)
	if err != nil {
		d.t.Fatal(err)
	}
	lr, err := anon.Login(context.Background(), apitype.LoginRequest{Email: "admin@localhost", Password: strings.TrimSpace(string(pw))})
	if err != nil {
		d.t.Fatal(err)
	}
	c, _ := client.New("unix://"+d.socket, client.WithToken(lr.Token))
	return c, lr.Token
}

func waitJob(t testing.TB, c *client.Client, id int64) *apitype.Job {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		j, err := c.Job(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.CompletedAt != nil {
			return j
		}
		time.Sleep(50 * time.Millisecond) // polling an external process: no event to wait on
	}
	t.Fatalf("job %d did not end within a minute", id)
	return nil
}

func fairShareOf(t *testing.T, c *client.Client, id int64) float64 {
	t.Helper()
	q, err := c.Queue(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range q.Jobs {
		if j.ID == id && j.Computed != nil {
			return j.Computed.FairShare
		}
	}
	t.Fatalf("job %d has no computed priority in the queue: %+v", id, q.Jobs)
	return 0
}

func postgresRunning(dir string) bool {
	out, _ := exec.Command("pgrep", "-f", filepath.Join(dir, "pgdata")).Output()
	return len(bytes.TrimSpace(out)) > 0
}

// TestLifecycle is issue 2's promise end to end: rcqd starts on its private
// database, answers on the socket and TCP, runs a job whose usage changes its
// group's fair share, stops on SIGTERM with its postgres, and a restart finds
// the same data.
func TestLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	dir := t.TempDir()
	work := t.TempDir()
	if err := os.Chmod(work, 0o777); err != nil { // a job may run as nobody
		t.Fatal(err)
	}
	d := startDaemon(t, dir)
	addr := d.ready()

	for _, url := range []string{"unix://" + d.socket, "http://" + addr} {
		c, err := client.New(url)
		if err != nil {
			t.Fatal(err)
		}
		h, err := c.Health(context.Background())
		if err != nil || h.Status != "healthy" {
			t.Fatalf("health over %s: %+v, %v", url, h, err)
		}
	}

	c, token := d.login()
	if os.Geteuid() == 0 { // rcqd as root never runs a job as root
		if code := d.api("PATCH", "/api/admin/users/1", token, map[string]any{"unix_user": "nobody"}, nil); code != http.StatusOK {
			t.Fatalf("map admin to nobody: %d", code)
		}
	}
	// A tiny quota: one short job's usage puts the group far over it.
	if code := d.api("PATCH", "/api/admin/groups/1", token, map[string]any{"cpu_quota": 1e-7}, nil); code != http.StatusOK {
		t.Fatalf("set quota: %d", code)
	}
	ctx := context.Background()
	held, err := c.Submit(ctx, apitype.SubmitRequest{Script: "#!/bin/sh\ntrue\n", WorkingDir: work, Hold: true}, client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fs := fairShareOf(t, c, held.JobID); fs != 2.0 {
		t.Errorf("fair share with no usage = %v, want 2.0", fs)
	}

	sub, err := c.Submit(ctx, apitype.SubmitRequest{Script: "#!/bin/sh\necho hello from $RCQ_JOB_ID\n", WorkingDir: work}, client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, c, sub.JobID)
	if j.Status != "completed" || j.ExitCode == nil || *j.ExitCode != 0 {
		t.Fatalf("job ended %s (exit %v, reason %s %s)", j.Status, j.ExitCode, j.Reason, j.ReasonDetail)
	}
	out, err := os.ReadFile(filepath.Join(work, fmt.Sprintf("rcq-%d.out", sub.JobID)))
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprintf("hello from %d", sub.JobID) {
		t.Errorf("output %q, %v", out, err)
	}
	if fs := fairShareOf(t, c, held.JobID); fs != 0.5 {
		t.Errorf("fair share after the group used more than its quota = %v, want 0.5 (the floor)", fs)
	}

	d.stop()
	if postgresRunning(dir) {
		t.Fatal("the private PostgreSQL still runs after rcqd stopped")
	}
	if _, err := os.Stat(d.socket); !os.IsNotExist(err) {
		t.Errorf("socket left behind after a clean stop: %v", err)
	}

	d2 := startDaemon(t, dir)
	d2.ready()
	c2, _ := d2.login()
	again, err := c2.Job(ctx, sub.JobID)
	if err != nil || again.Status != "completed" {
		t.Fatalf("after restart, job %d: %+v, %v", sub.JobID, again, err)
	}
	if h, err := c2.Job(ctx, held.JobID); err != nil || h.Status != "pending" {
		t.Fatalf("after restart, held job: %+v, %v", h, err)
	}
	d2.stop()
	if postgresRunning(dir) {
		t.Fatal("the private PostgreSQL still runs after the second stop")
	}
}

// TestSecondDaemonOnOneSocketRefused: a live rcqd on the socket makes a
// second one exit with one clear line.
func TestSecondDaemonOnOneSocketRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	dir := t.TempDir()
	d := startDaemon(t, dir)
	d.ready()
	bin := buildBinaries(t)
	out, err := exec.Command(filepath.Join(bin, "rcqd"), "--state-dir", t.TempDir(), "--socket", d.socket, "--listen", "").CombinedOutput()
	if err == nil {
		t.Fatalf("second rcqd on %s started:\n%s", d.socket, out)
	}
	if !strings.Contains(string(out), "another rcqd is already serving on "+d.socket) {
		t.Errorf("second rcqd said:\n%s", out)
	}
	d.stop()
}

// TestSecondDaemonWithTheSameNodeNameRefused: two rcqd with one node name on
// one database would both launch that node's jobs. The second (another state
// directory) refuses to start, naming the first; once the first has stopped
// cleanly (releasing its node lease), the second starts at once.
func TestSecondDaemonWithTheSameNodeNameRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	url := "RCQ_DATABASE_URL=" + dbtest.URL(t)
	first := t.TempDir()
	d := startDaemon(t, first, url)
	d.ready()

	second := t.TempDir()
	cmd := exec.Command(filepath.Join(buildBinaries(t), "rcqd"), "--state-dir", second, "--socket", filepath.Join(second, "rcqd.sock"), "--listen", "")
	cmd.Env = append(os.Environ(), "RCQ_AUTH_BCRYPT_COST=4", "RCQ_NODE_NAME=testnode", url)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("a second rcqd with node name testnode started:\n%s", out)
	}
	want := `rcqd: node name "testnode" is in use by another rcqd (testnode:` + first + `) on this database: give this one another node.name (RCQ_NODE_NAME), or stop the other`
	if lines := strings.Split(strings.TrimSpace(string(out)), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], want) {
		t.Errorf("second rcqd said:\n%s\nwant one line starting:\n%s", out, want)
	}
	if _, err := os.Stat(filepath.Join(second, "rcqd.sock")); err == nil {
		t.Error("the refused rcqd left a socket")
	}

	d.stop()
	d2 := startDaemon(t, second, url)
	d2.ready()
	d2.stop()
}

// TestSignalEndToEnd: a signal asked for over the API reaches the job's
// processes (recorded in the store, announced, delivered by the executor).
func TestSignalEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	d := startDaemon(t, t.TempDir(), "RCQ_DATABASE_URL="+dbtest.URL(t))
	d.ready()
	// A job may run as nobody: its directory hangs off /tmp, not off the
	// test's private temporary directory.
	work, err := os.MkdirTemp("", "rcq-signal-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	if err := os.Chmod(work, 0o777); err != nil {
		t.Fatal(err)
	}
	c, token := d.login()
	if os.Geteuid() == 0 {
		if code := d.api("PATCH", "/api/admin/users/1", token, map[string]any{"unix_user": "nobody"}, nil); code != http.StatusOK {
			t.Fatalf("map admin to nobody: %d", code)
		}
	}
	sub, err := c.Submit(context.Background(), apitype.SubmitRequest{WorkingDir: work,
		Script: "#!/bin/bash\ntrap 'echo got-usr1; exit 0' USR1\necho ready > ready\nwhile :; do sleep 0.05; done\n"}, client.SubmitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) { // an external process's file
		if _, err := os.Stat(filepath.Join(work, "ready")); err == nil {
			break
		}
		if j, err := c.Job(context.Background(), sub.JobID); err != nil || j.CompletedAt != nil || time.Now().After(deadline) {
			t.Fatalf("the job did not start: %+v %v", j, err)
		}
	}
	var act apitype.JobAction
	if code := d.api("POST", fmt.Sprintf("/api/jobs/%d/signal", sub.JobID), token, map[string]string{"signal": "USR1"}, &act); code != http.StatusOK {
		t.Fatalf("signal: %d %+v", code, act)
	}
	j := waitJob(t, c, sub.JobID)
	if j.Status != "completed" {
		t.Errorf("job after USR1: %s (signal %q), want completed by its trap", j.Status, j.Signal)
	}
	if out, _ := os.ReadFile(filepath.Join(work, fmt.Sprintf("rcq-%d.out", sub.JobID))); !strings.Contains(string(out), "got-usr1") {
		t.Errorf("output %q lacks the trap's line", out)
	}
	d.stop()
}

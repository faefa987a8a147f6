package faults

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
)

// daemon is one rcqd process (restartable) with its own state directory
// and socket.
type daemon struct {
	t      testing.TB
	name   string // node name
	dir    string // state directory
	sock   string
	dbURL  string // "" = private PostgreSQL under dir
	env    []string
	args   []string
	logf   string // rcqd's stderr, appended across restarts
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the process's exit, set before exited closes

	umask000 bool // start rcqd with umask 000
}

// daemonOptions configure newDaemon.
type daemonOptions struct {
	name  string   // node name, default "n1"
	dbURL string   // database URL; "" means a fresh database in the shared cluster; "private" the private server
	env   []string // extra environment, KEY=VALUE
	args  []string // extra flags
	cores int      // CPU cores of the node; default 8
	gpus  int      // GPUs of the node; default 2
}

// newDaemon prepares (but does not start) an rcqd; Cleanup kills it, its
// supervisors and jobs.
func newDaemon(t testing.TB, o daemonOptions) *daemon {
	t.Helper()
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL: not in -short")
	}
	bin := binaries(t)
	if o.name == "" {
		o.name = "n1"
	}
	if o.cores == 0 {
		o.cores = 8
	}
	if o.gpus == 0 {
		o.gpus = 2
	}
	dir := tempDir(t, "d")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, name: o.name, dir: filepath.Join(dir, "state"), sock: filepath.Join(dir, "rcqd.sock"),
		logf: filepath.Join(dir, "rcqd.log")}
	switch o.dbURL {
	case "":
		d.dbURL = freshDatabase(t, sharedCluster(t))
	case "private":
	default:
		d.dbURL = o.dbURL
	}
	d.env = append(cleanEnv(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"RCQ_NODE_NAME="+o.name,
		"RCQ_NODE_CPU_CORES="+strconv.Itoa(o.cores),
		"RCQ_NODE_MEMORY_GB=64",
		"RCQ_NODE_GPU_COUNT="+strconv.Itoa(o.gpus),
		"RCQ_MAX_CONCURRENT_JOBS=1000",
		"RCQ_AUTH_BCRYPT_COST=4",
		"RCQ_AUTH_UNIX_USER_FROM_EMAIL=true", // admins register accounts here: registration is closed
		"RCQ_AUTH_OPEN_REGISTRATION=false",
		"RCQ_AUTH_LOGIN_RATE_LIMIT_PER_MINUTE=1000000",
		"RCQ_JOBS_KILL_GRACE_SECONDS=2",
		"RCQ_SCHEDULER_INTERVAL_SECONDS=1",
		"RCQ_DATABASE_MAX_CONNS=20",
	)
	d.env = append(d.env, o.env...)
	d.args = append([]string{"--state-dir", d.dir, "--socket", d.sock, "--listen", ""}, o.args...)
	if d.dbURL != "" {
		d.args = append(d.args, "--database-url", d.dbURL)
	}
	t.Cleanup(d.cleanup)
	return d
}

// cleanEnv is the test's environment without anything rcqd would read.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "RCQ_"), k == "DATABASE_URL", k == "PORT", k == "ENVIRONMENT",
			strings.HasPrefix(k, "JWT_"), k == "SCHEDULER_INTERVAL_SECONDS", k == "MAX_CONCURRENT_JOBS",
			k == "LOG_DIRECTORY", k == "OUTPUT_DIRECTORY", k == "PATH", strings.HasPrefix(k, "XDG_"):
			continue
		}
		out = append(out, kv)
	}
	return out
}

// start starts rcqd and waits until it answers.
func (d *daemon) start() {
	d.t.Helper()
	d.launch()
	d.waitReady()
}

// launch starts rcqd without waiting.
func (d *daemon) launch() {
	d.t.Helper()
	if d.cmd != nil {
		select {
		case <-d.exited:
		default:
			d.t.Fatalf("rcqd %s is already running", d.name)
		}
	}
	lf, err := os.OpenFile(d.logf, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer lf.Close()
	fmt.Fprintf(lf, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(filepath.Join(suite.bin, "rcqd"), d.args...)
	if d.umask000 {
		cmd = exec.Command("/bin/sh", append([]string{"-c", `umask 000; exec "$0" "$@"`, filepath.Join(suite.bin, "rcqd")}, d.args...)...)
	}
	cmd.Env = d.env
	cmd.Stdout = lf
	cmd.Stderr = lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.cmd = cmd
	exited := make(chan struct{})
	d.exited = exited
	go func() {
		err := cmd.Wait()
		d.err = err
		close(exited)
	}()
}

// running reports whether the current process is alive.
func (d *daemon) running() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// pid is the current process's pid.
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// waitReady waits until rcqd answers /health on its socket.
func (d *daemon) waitReady() {
	d.t.Helper()
	c := d.client("")
	deadline := time.Now().Add(90 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		h, err := c.Health(ctx)
		cancel()
		if err == nil && h.Status == "healthy" {
			return
		}
		select {
		case <-d.exited:
			d.t.Fatalf("rcqd %s exited while starting (%v):\n%s", d.name, d.err, d.logTail(30))
		default:
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("rcqd %s did not answer on %s: %v\n%s", d.name, d.sock, err, d.logTail(30))
		}
		time.Sleep(20 * time.Millisecond) // polling an external process
	}
}

// kill9 kills rcqd with SIGKILL and waits for it; supervisors live on.
func (d *daemon) kill9() {
	d.t.Helper()
	if !d.running() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// stop stops rcqd with SIGINT and waits (bounded) for it.
func (d *daemon) stop() {
	d.t.Helper()
	if !d.running() {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-d.exited:
	case <-time.After(60 * time.Second):
		_ = d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.exited
		d.t.Errorf("rcqd %s did not stop within 60 s of SIGINT", d.name)
	}
}

// wait waits (bounded) for rcqd to exit by itself and returns its exit code.
func (d *daemon) wait(limit time.Duration) int {
	d.t.Helper()
	select {
	case <-d.exited:
	case <-time.After(limit):
		d.t.Fatalf("rcqd %s still running after %v", d.name, limit)
	}
	var ee *exec.ExitError
	if errors.As(d.err, &ee) {
		return ee.ExitCode()
	}
	if d.err != nil {
		d.t.Fatalf("rcqd: %v", d.err)
	}
	return 0
}

// cleanup kills rcqd, then every job and supervisor under its state
// directory, then its private PostgreSQL.
func (d *daemon) cleanup() {
	if d.t.Failed() {
		d.t.Logf("rcqd %s's errors:\n%s", d.name, d.errorLines(40))
	}
	if d.running() {
		_ = d.cmd.Process.Signal(syscall.SIGKILL)
		<-d.exited
	}
	killJobs(d.dir)
	stopPrivatePostgres(d.dir)
}

// killJobs kills the process group of every job under state, then their
// supervisors, and waits (bounded) for them to be gone.
func killJobs(state string) {
	dirs, _ := filepath.Glob(filepath.Join(state, "jobs", "*"))
	for _, dir := range dirs {
		if pgid, _ := readPidFile(filepath.Join(dir, "job.pid")); pgid > 0 {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ps := procs(state + "/jobs/")
		if len(ps) == 0 || time.Now().After(deadline) {
			return
		}
		for pid := range ps {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond) // waiting for external processes to die
	}
}

func stopPrivatePostgres(state string) {
	pid, _ := readPidFile(filepath.Join(state, "pgdata", "postmaster.pid"))
	if pid <= 0 || syscall.Kill(pid, syscall.SIGQUIT) != nil {
		return
	}
	for i := 0; i < 400 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(25 * time.Millisecond) // waiting for an external process to exit
	}
}

// readPidFile reads the first number of a pid file ("<pid> <start>").
func readPidFile(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, fmt.Errorf("%s: empty", path)
	}
	return strconv.Atoi(f[0])
}

// log is everything rcqd wrote so far, across restarts.
func (d *daemon) log() string {
	b, _ := os.ReadFile(d.logf)
	return string(b)
}

// errorLines is the last n lines of rcqd's log that report an error: what
// a failed test needs to say why rcqd answered as it did.
func (d *daemon) errorLines(n int) string {
	var out []string
	for l := range strings.Lines(d.log()) {
		if strings.Contains(l, "level=ERROR") {
			out = append(out, strings.TrimRight(l, "\n"))
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}

func (d *daemon) logTail(n int) string {
	lines := strings.Split(strings.TrimRight(d.log(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// client is a client on the socket with token (may be "").
func (d *daemon) client(token string) *client.Client {
	d.t.Helper()
	c, err := client.New("unix://"+d.sock, client.WithToken(token),
		client.WithHTTPClient(&http.Client{Timeout: 60 * time.Second}))
	if err != nil {
		d.t.Fatal(err)
	}
	return c
}

// adminPassword reads the password rcqd generated for admin@localhost.
func (d *daemon) adminPassword() string {
	d.t.Helper()
	b, err := os.ReadFile(filepath.Join(d.dir, "admin-password"))
	if err != nil {
		d.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// admin logs in as admin@localhost.
func (d *daemon) admin() *client.Client {
	d.t.Helper()
	return d.login("admin@localhost", d.adminPassword())
}

// login logs in and returns a client holding the token.
func (d *daemon) login(email, password string) *client.Client {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := d.client("").Login(ctx, apitype.LoginRequest{Email: email, Password: password})
	if err != nil {
		d.t.Fatalf("login %s: %v", email, err)
	}
	return d.client(r.Token)
}

// jobUser registers email (whose local part names the Unix user jobs run as
// when rcqd is root) and logs it in.
func (d *daemon) jobUser(email string) *client.Client {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const pw = "job-user-password-1"
	if _, err := d.client("").Register(ctx, apitype.RegisterRequest{Email: email, Password: pw}); err != nil && !errors.Is(err, rcq.ErrConflict) {
		d.t.Fatalf("register %s: %v", email, err)
	}
	return d.login(email, pw)
}

// nobody is the account whose jobs run as the Unix user nobody when the
// suite runs as root; it skips the test when root has no nobody user.
func (d *daemon) nobody() *client.Client {
	d.t.Helper()
	if os.Geteuid() == 0 {
		if _, err := user.Lookup("nobody"); err != nil {
			d.t.Skip("running as root needs a Unix user named nobody to run jobs as")
		}
	}
	return d.jobUser("nobody@x")
}

// goroutines reads rcqd's goroutine count from pprof (admins, Unix socket).
func goroutines(t testing.TB, c *client.Client, sock string) int {
	t.Helper()
	body := pprofGet(t, c, sock, "/debug/pprof/goroutine?debug=1")
	line, _, _ := strings.Cut(body, "\n")
	var n int
	if _, err := fmt.Sscanf(line, "goroutine profile: total %d", &n); err != nil {
		t.Fatalf("goroutine profile: %q: %v", line, err)
	}
	return n
}

// heapInuse reads rcqd's HeapInuse after a forced garbage collection.
func heapInuse(t testing.TB, c *client.Client, sock string) int64 {
	t.Helper()
	body := pprofGet(t, c, sock, "/debug/pprof/heap?debug=1&gc=1")
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapInuse = "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no HeapInuse in the heap profile")
	return 0
}

func pprofGet(t testing.TB, c *client.Client, sock, path string) string {
	t.Helper()
	status, body := rawRequest(t, sock, c.Token(), "GET", path, nil, nil)
	if status != 200 {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	return body
}

// rawRequest sends one request over the Unix socket and returns the status
// and body.
func rawRequest(t testing.TB, sock, token, method, path string, body io.Reader, hdr map[string]string) (int, string) {
	t.Helper()
	hc := unixHTTP(sock, 30*time.Second)
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(method, "http://rcqd"+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/store"
)

// daemonOpts configure one throwaway rcqd.
type daemonOpts struct {
	env      []string // extra KEY=VALUE settings
	config   string   // YAML configuration file contents
	logLevel string   // "" = info
	drain    bool     // drain every worker after start (nothing runs)
}

// daemon is one rcqd started by rcq-bench on its own state directory.
type daemon struct {
	bin      string // directory of the rcq binaries
	Dir      string // state directory (removed by stop)
	Sock     string // Unix socket
	Addr     string // TCP host:port
	WorkDir  string // 0777 working directory for jobs
	CLIEnv   []string
	LogPath  string
	Password string
	Token    string

	cmd    *exec.Cmd
	exited chan struct{}
	hc     *http.Client // over the Unix socket, for raw admin calls
}

// plainEnv are the unprefixed variables rcqd reads; a user's settings must
// not leak into a benchmark daemon.
var plainEnv = []string{"DATABASE_URL", "PORT", "ENVIRONMENT", "JWT_SECRET", "JWT_EXPIRY_HOURS",
	"SCHEDULER_INTERVAL_SECONDS", "MAX_CONCURRENT_JOBS", "LOG_DIRECTORY", "OUTPUT_DIRECTORY"}

func cleanEnv() []string {
	var out []string
next:
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "RCQ_") || k == "XDG_CONFIG_HOME" || k == "XDG_RUNTIME_DIR" || k == "XDG_STATE_HOME" {
			continue
		}
		for _, p := range plainEnv {
			if k == p {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startDaemon starts rcqd on a fresh state directory, waits until it
// answers, logs in as the admin, maps the admin to an unprivileged Unix user
// when running as root, and drains the workers when asked.
func (b *Bench) startDaemon(ctx context.Context, o daemonOpts) (*daemon, error) {
	dir, err := os.MkdirTemp("", "rcq-bench-")
	if err != nil {
		return nil, err
	}
	// PostgreSQL (as postgres) and jobs (as nobody) must traverse it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	d := &daemon{bin: b.bin, Dir: dir, Sock: filepath.Join(dir, "rcqd.sock"), WorkDir: filepath.Join(dir, "wd"),
		LogPath: filepath.Join(dir, "rcqd.log"), exited: make(chan struct{})}
	b.daemons = append(b.daemons, d) // stopped by Bench.cleanup whatever happens next
	if err := os.Mkdir(d.WorkDir, 0o777); err != nil {
		return nil, err
	}
	if err := os.Chmod(d.WorkDir, 0o777); err != nil { // umask
		return nil, err
	}
	if d.Addr, err = freePort(); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "rcqd.yaml")
	if err := os.WriteFile(cfgPath, []byte(o.config+"\n"), 0o644); err != nil {
		return nil, err
	}
	level := o.logLevel
	if level == "" {
		level = "info"
	}
	logf, err := os.Create(d.LogPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	env := append(cleanEnv(),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"),
		"RCQ_AUTH_BCRYPT_COST=4",
		"RCQ_AUTH_LOGIN_RATE_LIMIT_PER_MINUTE=100000",
		// The scenarios hold up to 100,000 pending jobs of one account, and
		// more in all: above the default caps.
		"RCQ_JOBS_MAX_PENDING_PER_USER=10000000",
		"RCQ_JOBS_MAX_PENDING_TOTAL=10000000",
		// Jobs placed on the absent node's workers (absentWorkers) are
		// never launched: not LaunchFailed during a run either.
		"RCQ_JOBS_START_TIMEOUT=24h",
	)
	env = append(env, o.env...)
	d.cmd = exec.Command(filepath.Join(b.bin, "rcqd"), "--state-dir", dir, "--socket", d.Sock,
		"--listen", d.Addr, "--config", cfgPath, "--log-level", level)
	d.cmd.Env = env
	d.cmd.Stdout = logf
	d.cmd.Stderr = logf
	// Its own process group: a Ctrl-C on the terminal reaches rcq-bench,
	// which stops the daemons in order.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start rcqd: %w", err)
	}
	go func() { _ = d.cmd.Wait(); close(d.exited) }()

	d.hc = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", d.Sock)
		},
		MaxIdleConnsPerHost: 4,
	}}
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := d.hc.Get("http://rcq/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-d.exited:
			return nil, fmt.Errorf("rcqd exited at start; log %s:\n%s", d.LogPath, tail(d.LogPath, 20))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("rcqd did not answer on %s within 90s; log %s:\n%s", d.Sock, d.LogPath, tail(d.LogPath, 20))
		}
	}
	pw, err := os.ReadFile(filepath.Join(dir, "admin-password"))
	if err != nil {
		return nil, err
	}
	d.Password = strings.TrimSpace(string(pw))
	c, err := client.New("unix://" + d.Sock)
	if err != nil {
		return nil, err
	}
	lr, err := c.Login(ctx, apitype.LoginRequest{Email: "admin@localhost", Password: d.Password})
	if err != nil {
		return nil, err
	}
	d.Token = lr.Token
	if os.Geteuid() == 0 {
		// rcqd as root never runs a job as root: map the admin to nobody.
		if _, err := user.Lookup("nobody"); err != nil {
			return nil, fmt.Errorf("running as root needs the user nobody for the jobs: %w", err)
		}
		if err := d.admin(ctx, http.MethodPatch, fmt.Sprintf("/api/admin/users/%d", lr.User.ID), map[string]string{"unix_user": "nobody"}, nil); err != nil {
			return nil, err
		}
	}
	if o.drain {
		if err := d.drainAll(ctx); err != nil {
			return nil, err
		}
	}
	d.CLIEnv = append(cleanEnv(), "RCQ_SERVER=unix://"+d.Sock, "XDG_CONFIG_HOME="+filepath.Join(dir, "cli-config"))
	return d, nil
}

// transport is how a bench client reaches rcqd and says who it is.
type transport string

const (
	viaUnix transport = "unix"      // the Unix socket, with the admin's bearer token
	viaPeer transport = "unix peer" // the Unix socket without a token: the kernel's peer credentials say who
	viaTCP  transport = "tcp"       // TCP, with the admin's bearer token
)

// client returns a new API client with its own connection(s).
func (d *daemon) client(t transport) (*client.Client, error) {
	switch t {
	case viaTCP:
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
		return client.New("http://"+d.Addr, client.WithToken(d.Token), client.WithHTTPClient(hc))
	case viaPeer:
		return client.New("unix://" + d.Sock)
	}
	return client.New("unix://"+d.Sock, client.WithToken(d.Token))
}

// admin sends one JSON request with the admin token over the Unix socket.
func (d *daemon) admin(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://rcq"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+d.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type workerList struct {
	Workers []struct {
		ID     int64  `json:"id"`
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"workers"`
}

func (d *daemon) drainAll(ctx context.Context) error {
	var wl workerList
	if err := d.admin(ctx, http.MethodGet, "/api/admin/workers", nil, &wl); err != nil {
		return err
	}
	for _, w := range wl.Workers {
		if err := d.admin(ctx, http.MethodPost, fmt.Sprintf("/api/admin/workers/%d/drain", w.ID), nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// pid is rcqd's process id.
func (d *daemon) pid() int { return d.cmd.Process.Pid }

// pgSocket is the directory of the daemon's private PostgreSQL's socket;
// rcqd's role and database there are rcq and postgres.
func (d *daemon) pgSocket() string { return filepath.Join(d.Dir, "pgdata-socket") }

// store opens the daemon's database through internal/store: loading a
// queue or history of a given size, and counting jobs without loading rcqd,
// go through the store's methods; rcq-bench has no SQL of its own.
func (d *daemon) store(ctx context.Context) (*store.Store, error) {
	return store.Open(ctx, "host="+d.pgSocket()+" user=rcq dbname=postgres sslmode=disable", store.Options{MaxConns: 2})
}

// loginCLI writes the CLI credentials file with rcq-login.
func (d *daemon) loginCLI(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, filepath.Join(d.bin, "rcq-login"), "--email", "admin@localhost", "--password-stdin")
	cmd.Env = d.CLIEnv
	cmd.Stdin = strings.NewReader(d.Password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rcq-login: %w: %s", err, out)
	}
	return nil
}

// stop ends rcqd (SIGTERM, then SIGKILL), then anything it left behind
// under its state directory (PostgreSQL, job supervisors), and removes the
// state directory unless keep.
func (d *daemon) stop(keep bool) error {
	var errs []error
	if d.cmd != nil && d.cmd.Process != nil {
		select {
		case <-d.exited:
		default:
			_ = d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.exited:
			case <-time.After(20 * time.Second):
				_ = d.cmd.Process.Kill()
				<-d.exited
				errs = append(errs, fmt.Errorf("rcqd %d did not stop within 20s after SIGTERM; killed", d.cmd.Process.Pid))
			}
		}
	}
	// PostgreSQL: rcqd stops it on a clean shutdown; after a crash its
	// postmaster.pid names it.
	if b, err := os.ReadFile(filepath.Join(d.Dir, "pgdata", "postmaster.pid")); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		if pid, err := strconv.Atoi(strings.TrimSpace(line)); err == nil && pid > 1 && cmdlineHas(pid, d.Dir) {
			_ = syscall.Kill(pid, syscall.SIGQUIT) // immediate shutdown
			waitGone(pid, 10*time.Second)
		}
	}
	// Whatever still names the state directory or works in it (job
	// supervisors, jobs, a postgres that ignored SIGQUIT) is ours: kill it
	// with its process group (a job's shell may fork between a scan and
	// its kill, and its child is in its group; the kernel makes a group's
	// kill and a fork in it exclusive), until a scan finds nothing (a
	// supervisor may start a job in between: one generation a round).
	own := syscall.Getpgrp()
	for range 10 {
		pids := pidsWith(d.Dir)
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 && pgid != own {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
			}
			_ = syscall.Kill(pid, syscall.SIGKILL)
			waitGone(pid, 5*time.Second)
		}
	}
	if !keep {
		if err := os.RemoveAll(d.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func cmdlineHas(pid int, s string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(b, []byte(s))
}

// pidsWith lists the processes whose command line names dir (rcqd,
// PostgreSQL, job supervisors) or whose working directory is under it (the
// jobs, which run in its wd and in sessions of their own).
func pidsWith(dir string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if cmdlineHas(pid, dir) || cwd == dir || strings.HasPrefix(cwd, dir+"/") {
			out = append(out, pid)
		}
	}
	return out
}

// waitGone waits until pid has exited (a zombie counts: its parent, not
// rcq-bench, reaps it).
func waitGone(pid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		if s := string(b); strings.HasPrefix(strings.TrimSpace(s[strings.LastIndexByte(s, ')')+1:]), "Z") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// procStatus reads a field of /proc/PID/status in kB (VmRSS, VmHWM).
func procStatus(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// cpuTicks is utime+stime of pid, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	// after ")": state(3) ppid(4) ... utime is field 14, stime 15 (1-based overall)
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return u + st, nil
}

// quiesce waits until rcqd uses (almost) no CPU for a quarter second, so
// the scheduler's cycles after a load do not run under the next measure.
func (d *daemon) quiesce(ctx context.Context, limit time.Duration) {
	deadline := time.Now().Add(limit)
	prev, _ := cpuTicks(d.pid())
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(250 * time.Millisecond)
		cur, err := cpuTicks(d.pid())
		if err != nil {
			return
		}
		if cur-prev <= 2 {
			return
		}
		prev = cur
	}
}

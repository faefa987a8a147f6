package compat

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/unixtest"
)

// slurmNames are the Slurm commands the tools run, answered by rcq.
var slurmNames = []string{"sbatch", "squeue", "scancel", "sacct", "sinfo", "scontrol", "sacctmgr", "srun"}

// rig is one throwaway rcqd and the user the tools run as.
type rig struct {
	t     *testing.T
	root  string // short, traversable by the tools' user
	bin   string // rcqd, rcq, rcq-supervise
	names string // the Slurm names, linked to rcq
	sock  string
	user  *unixtest.User // nil: the test's own user (personal mode)
	home  string
	rcqd  *exec.Cmd
}

// need fails (RCQ_COMPAT=1) or skips the test when a tool is missing.
func need(t *testing.T, tools ...string) {
	t.Helper()
	if os.Getenv("RCQ_COMPAT") != "1" {
		t.Skip("runs real workflow tools: make test-compat (RCQ_COMPAT=1)")
	}
	for _, tool := range tools {
		if _, err := os.Stat(tool); err != nil {
			t.Fatalf("%s is not installed: make test-compat installs Debian's snakemake and toil packages (apt-get install snakemake toil): %v", tool, err)
		}
	}
}

func newRig(t *testing.T) *rig {
	t.Helper()
	root, err := os.MkdirTemp("", "rcqc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, root: root, bin: filepath.Join(root, "bin"), names: filepath.Join(root, "slurm"), sock: filepath.Join(root, "run", "rcqd.sock")}
	if os.Geteuid() == 0 {
		u := unixtest.New(t)
		r.user, r.home = &u, u.Home
	} else {
		r.home = filepath.Join(root, "home")
		if err := os.Mkdir(r.home, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r.build()
	r.startRcqd()
	return r
}

// build builds the binaries and installs the Slurm names.
func (r *rig) build() {
	t := r.t
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(r.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"build", "-C", filepath.Dir(strings.TrimSpace(string(gomod))), "-o", r.bin, "./cmd/rcqd", "./cmd/rcq", "./cmd/rcq-supervise"}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// The names as users install them.
	if out, err := exec.Command(filepath.Join(r.bin, "rcq"), "slurm-compat", "install", r.names).CombinedOutput(); err != nil {
		t.Fatalf("rcq slurm-compat install: %v\n%s", err, out)
	}
	for _, n := range slurmNames {
		if _, err := os.Stat(filepath.Join(r.names, n)); err != nil {
			t.Fatalf("rcq slurm-compat install wrote no %s: %v", n, err)
		}
	}
}

// startRcqd starts rcqd and waits until it answers.
func (r *rig) startRcqd() {
	t := r.t
	logf, err := os.Create(filepath.Join(r.root, "rcqd.log"))
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(r.root, "state")
	cmd := exec.Command(filepath.Join(r.bin, "rcqd"), "--state-dir", state, "--listen", "", "--socket", r.sock)
	cmd.Env = append(os.Environ(), "RCQ_NODE_NAME=compat", "RCQ_NODE_CPU_CORES=8", "RCQ_NODE_MEMORY_GB=32",
		"RCQ_JOBS_KILL_GRACE_SECONDS=2", "RCQ_SCHEDULER_MAX_CONCURRENT_JOBS=100")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.rcqd = cmd
	t.Cleanup(r.stop)
	c, err := client.New("unix://" + r.sock)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		h, err := c.Health(ctx)
		cancel()
		if err == nil && h.Status == "healthy" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rcqd did not answer on %s: %v\n%s", r.sock, err, r.log())
		}
		time.Sleep(100 * time.Millisecond) // polling an external process
	}
}

func (r *rig) log() string {
	b, _ := os.ReadFile(filepath.Join(r.root, "rcqd.log"))
	return string(b)
}

// stop cancels what the tools left running, then stops rcqd (and its
// PostgreSQL).
func (r *rig) stop() {
	if r.rcqd == nil || r.rcqd.Process == nil {
		return
	}
	r.run("", nil, filepath.Join(r.names, "scancel"), "--me")
	r.killUserProcesses()
	r.rcqd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { r.rcqd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		r.rcqd.Process.Kill()
		<-done
	}
	if r.t.Failed() {
		r.t.Logf("rcqd's log:\n%s", tail(r.log(), 80))
	}
}

// killUserProcesses kills what still runs as the tools' user (a cancelled
// job's grandchildren, a tool that did not stop): each by its pid.
func (r *rig) killUserProcesses() {
	if r.user == nil {
		return
	}
	ms, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, m := range ms {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && f[1] == strconv.Itoa(r.user.UID) {
				if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(m))); err == nil {
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
		}
	}
}

// env is the tools' environment: the Slurm names first on PATH, rcqd's
// socket, the user's home and names, and no Slurm or rcq job variables.
func (r *rig) env(extra ...string) []string {
	name := "self"
	if r.user != nil {
		name = r.user.Name
	} else if u := os.Getenv("USER"); u != "" {
		name = u
	}
	env := []string{
		"PATH=" + r.names + ":/usr/bin:/bin",
		"RCQ_SERVER=unix://" + r.sock,
		"HOME=" + r.home, "USER=" + name, "LOGNAME=" + name,
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TMPDIR=" + filepath.Join(r.home, "tmp"),
		"XDG_CONFIG_HOME=" + filepath.Join(r.home, ".config"),
	}
	return append(env, extra...)
}

// mkdir makes a directory the tools' user owns.
func (r *rig) mkdir(path string) {
	if r.user != nil {
		r.user.Mkdir(r.t, path, 0o755)
		return
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		r.t.Fatal(err)
	}
}

// write writes a file the tools' user owns.
func (r *rig) write(path, text string, mode os.FileMode) {
	if r.user != nil {
		r.user.WriteFile(r.t, path, []byte(text), mode)
		return
	}
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		r.t.Fatal(err)
	}
}

// command is name args as the tools' user in dir, its output into out.
func (r *rig) command(dir string, out *bytes.Buffer, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	if r.user != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: r.user.Credential()}
	}
	cmd.Env = r.env()
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = r.home
	}
	if out == nil {
		out = &bytes.Buffer{}
	}
	cmd.Stdout, cmd.Stderr = out, out
	return cmd
}

// run runs a command to its end and returns its exit code and output.
func (r *rig) run(dir string, env []string, name string, args ...string) (int, string) {
	var out bytes.Buffer
	cmd := r.command(dir, &out, name, args...)
	cmd.Env = append(cmd.Env, env...)
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		return -1, err.Error()
	}
	return 0, out.String()
}

// tool is a workflow tool running in the background.
type tool struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan struct{}
	code int
}

// start starts name args as the tools' user in dir.
func (r *rig) start(dir, name string, args ...string) *tool {
	tl := &tool{out: &bytes.Buffer{}, done: make(chan struct{})}
	tl.cmd = r.command(dir, tl.out, name, args...)
	if err := tl.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	go func() {
		err := tl.cmd.Wait()
		tl.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			tl.code = ee.ExitCode()
		} else if err != nil {
			tl.code = -1
		}
		close(tl.done)
	}()
	r.t.Cleanup(func() {
		tl.cmd.Process.Kill()
		<-tl.done
	})
	return tl
}

// wait waits for the tool to end, killing it past limit, and returns its
// exit code.
func (tl *tool) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-tl.done:
		return tl.code
	case <-time.After(limit):
		tl.cmd.Process.Kill()
		<-tl.done
		t.Fatalf("%s did not end within %v; output:\n%s", tl.cmd.Path, limit, tail(tl.out.String(), 80))
		return -1
	}
}

// waitFile waits for a file a job of the running tool writes and returns
// its content.
func (r *rig) waitFile(path string, limit time.Duration, tl *tool) string {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return strings.TrimSpace(string(b))
		}
		select {
		case <-tl.done:
			r.t.Fatalf("%s ended (exit %d) before %s appeared; output:\n%s", tl.cmd.Path, tl.code, path, tail(tl.out.String(), 80))
		case <-time.After(100 * time.Millisecond): // polling a file a job writes
		}
	}
	r.t.Fatalf("%s did not appear within %v; tool output:\n%s", path, limit, tail(tl.out.String(), 80))
	return ""
}

// sacct is sacct's JobIDRaw|State|ExitCode line of job id.
func (r *rig) sacct(id string) string {
	code, out := r.run("", nil, filepath.Join(r.names, "sacct"), "-X", "-n", "-P", "-j", id, "--format", "JobIDRaw,State,ExitCode")
	if code != 0 {
		r.t.Errorf("sacct -j %s: exit %d: %s", id, code, out)
	}
	return strings.TrimSpace(out)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("%v", err)
	}
	return string(b)
}

func mustContain(t *testing.T, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s lacks %q:\n%s", what, sub, tail(s, 80))
		}
	}
}

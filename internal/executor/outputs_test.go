package executor

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/unixtest"
)

// An output path that is a FIFO, a device or a socket would block the job's
// start (a FIFO nobody reads), write somewhere with effects of its own
// (/dev/kmsg is the kernel log) or is not a file at all: the job fails with
// OutputNotRegularFile naming the path, before anything is opened, and its
// end is recorded, which frees its cores. /dev/null stays a valid output.
func TestOutputNotRegularFile(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	startExec(t, st, t.TempDir(), nil)
	fifo := filepath.Join(dir, "fifo.out")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock.out")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cases := []struct {
		id          rcq.JobID
		out, errOut string
		bad         string // the path the detail must name; "" for a job that completes
	}{
		{1, fifo, "", fifo},
		{2, "/dev/kmsg", "", "/dev/kmsg"},
		{3, sock, "", sock},
		{4, "ok4.out", fifo, fifo},
		{5, "/dev/null", "", ""},
	}
	for _, c := range cases {
		j := newJob(c.id, dir, "#!/bin/sh\necho pwned\n")
		j.Output, j.Error = c.out, c.errOut
		st.add(j)
	}
	for _, c := range cases {
		j := st.wait(t, c.id, 30*time.Second)
		if c.bad == "" {
			if j.State != rcq.JobCompleted {
				t.Errorf("job %d (-o %s): %s %s, want completed", c.id, c.out, j.State, j.Reason)
			}
			continue
		}
		o := st.outcome(c.id)
		if j.State != rcq.JobFailed || j.Reason != rcq.ReasonOutputNotRegularFile || !strings.Contains(o.Detail, c.bad) {
			t.Errorf("job %d (-o %q -e %q): %s %s %q, want failed %s naming %s", c.id, c.out, c.errOut, j.State, j.Reason, o.Detail, rcq.ReasonOutputNotRegularFile, c.bad)
		}
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was replaced: %v %v", fi, err)
	}
}

// The supervisor hears a cancel and its time limit from before it opens the
// first output file, so a job whose open blocks (a FUSE or NFS server that
// never answers) still ends, and its end frees its cores.
func TestEndWhileOpeningOutput(t *testing.T) {
	t.Parallel()
	blocked := make(chan struct{})
	defer close(blocked)
	never := func() (*jobFiles, string, string) {
		<-blocked
		return &jobFiles{}, "", ""
	}
	sigs := make(chan os.Signal, 1)
	s := &supervisor{log: io.Discard, sigs: sigs, spec: jobSpec{JobID: 1, TimeLimit: time.Hour}}
	sigs <- syscall.SIGTERM
	if f, end := s.openFiles(nil, never); f != nil || end == nil || end.State != rcq.JobCancelled || end.Reason != rcq.ReasonCancelledByUser {
		t.Errorf("cancel while opening: files %v, end %+v; want cancelled", f, end)
	}
	limit := make(chan time.Time, 1)
	limit <- time.Now()
	if f, end := s.openFiles(limit, never); f != nil || end == nil || end.State != rcq.JobTimeout || end.Reason != rcq.ReasonTimeLimit {
		t.Errorf("time limit while opening: files %v, end %+v; want timeout", f, end)
	}
}

// A job runs with its submitter's umask: 0077 makes the files it creates, and
// its output file, private (0600); the default 0022 gives 0644.
func TestJobUmask(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	startExec(t, st, t.TempDir(), nil)
	for id, m := range map[rcq.JobID]rcq.Umask{1: 0o077, 2: 0o022} {
		j := newJob(id, dir, "#!/bin/sh\numask\ntouch made-"+itoa(id)+"\n")
		j.Umask = m
		st.add(j)
	}
	for id, want := range map[rcq.JobID]os.FileMode{1: 0o600, 2: 0o644} {
		if j := st.wait(t, id, 30*time.Second); j.State != rcq.JobCompleted {
			t.Fatalf("job %d: %s %s", id, j.State, j.Reason)
		}
		for _, f := range []string{"made-" + itoa(id), "rcq-" + itoa(id) + ".out"} {
			fi, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != want {
				t.Errorf("job %d made %s with mode %04o, want %04o", id, f, fi.Mode().Perm(), want)
			}
		}
	}
	if got := strings.TrimSpace(readFile(t, filepath.Join(dir, "rcq-1.out"))); got != "0077" {
		t.Errorf("job 1's shell reports umask %q, want 0077", got)
	}
}

// A symlink planted at a job's log path is not followed: the file it points
// to (root's) is unchanged, and the job is not launched through it.
func TestJobLogSymlinkNotFollowed(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	state := t.TempDir()
	target := filepath.Join(t.TempDir(), "root-owned")
	if err := os.WriteFile(target, []byte("root's data\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(state, "logs"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, filepath.Join(state, "logs", "job-1.log")); err != nil {
		t.Fatal(err)
	}
	startExec(t, st, state, nil)
	st.add(newJob(1, dir, "#!/bin/sh\ntouch ran\n"))
	if j := st.wait(t, 1, 30*time.Second); j.State != rcq.JobFailed || j.Reason != rcq.ReasonLaunchFailed {
		t.Errorf("job with a planted log symlink: %s %s, want failed LaunchFailed", j.State, j.Reason)
	}
	if got := readFile(t, target); got != "root's data\n" {
		t.Errorf("the file behind the log symlink now holds %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Error("the job ran")
	}
}

// User B's job reaching into user A's 0700 home: a working directory or an
// output file there fails the same way whether the path exists or not (the
// checks run as B, who cannot look inside), and streaming a path there
// (ReadOutput) refuses an existing file exactly like a missing one. B's own
// files still work.
func TestOtherUsersPathsAnswerAlike(t *testing.T) {
	t.Parallel()
	a, b := unixtest.New(t), unixtest.New(t)
	secretDir := filepath.Join(a.Home, "private")
	a.Mkdir(t, secretDir, 0o755)
	a.WriteFile(t, filepath.Join(a.Home, "secret.txt"), []byte("a's secret\n"), 0o644)
	work := filepath.Join(b.Home, "work")
	b.Mkdir(t, work, 0o755)

	st := newMemStore()
	startExec(t, st, t.TempDir(), nil)
	job := func(id rcq.JobID, dir, out string) {
		j := newJob(id, dir, "#!/bin/sh\necho hi\n")
		j.UnixUser, j.Output = b.Name, out
		st.add(j)
	}
	job(1, secretDir, "")                             // exists
	job(2, filepath.Join(a.Home, "missing"), "")      // does not
	job(3, work, filepath.Join(a.Home, "x.out"))      // a new file in A's home
	job(4, work, filepath.Join(a.Home, "secret.txt")) // an existing one
	job(5, work, "")
	detail := func(id rcq.JobID, path string) string {
		j := st.wait(t, id, 30*time.Second)
		if j.State != rcq.JobFailed || j.Reason != rcq.ReasonLaunchFailed {
			t.Errorf("job %d: %s %s, want failed LaunchFailed", id, j.State, j.Reason)
		}
		return strings.ReplaceAll(st.outcome(id).Detail, path, "PATH")
	}
	if d1, d2 := detail(1, secretDir), detail(2, filepath.Join(a.Home, "missing")); d1 != d2 {
		t.Errorf("an existing and a missing working directory in A's home fail differently:\n%s\n%s", d1, d2)
	}
	if d3, d4 := detail(3, filepath.Join(a.Home, "x.out")), detail(4, filepath.Join(a.Home, "secret.txt")); d3 != d4 {
		t.Errorf("an existing and a missing output file in A's home fail differently:\n%s\n%s", d3, d4)
	}
	if got := readFile(t, filepath.Join(a.Home, "secret.txt")); got != "a's secret\n" {
		t.Errorf("A's file now holds %q", got)
	}
	if j := st.wait(t, 5, 30*time.Second); j.State != rcq.JobCompleted {
		t.Fatalf("B's own job: %s %s", j.State, j.Reason)
	}

	bJob := &rcq.Job{ID: 5, UnixUser: b.Name, UserEmail: "b@example.org"}
	_, errExists := ReadOutput(bJob, filepath.Join(a.Home, "secret.txt"))
	_, errMissing := ReadOutput(bJob, filepath.Join(a.Home, "missing.txt"))
	if errExists == nil || errMissing == nil || !errors.Is(errExists, os.ErrPermission) || !errors.Is(errMissing, os.ErrPermission) {
		t.Errorf("B reading A's files: existing %v, missing %v; want permission denied for both", errExists, errMissing)
	}
	f, err := ReadOutput(bJob, filepath.Join(work, "rcq-5.out"))
	if err != nil {
		t.Fatalf("B reading B's own output: %v", err)
	}
	defer f.Close()
	if got, _ := io.ReadAll(f); string(got) != "hi\n" {
		t.Errorf("B's output reads %q", got)
	}
}

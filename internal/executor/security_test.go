package executor

import (
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("runs only as root: rcqd maps accounts to Unix users only when it is root")
	}
}

func TestRootNeverRunsJobsAsRootOrUnmapped(t *testing.T) {
	t.Parallel()
	needRoot(t)
	st, dir := newMemStore(), openDir(t)
	state := t.TempDir()
	startExec(t, st, state, nil)
	unmapped := newJob(1, dir, "#!/bin/sh\ntouch ran-unmapped\n")
	unmapped.UnixUser = ""
	asRoot := newJob(2, dir, "#!/bin/sh\ntouch ran-root\n")
	asRoot.UnixUser = "root"
	unknown := newJob(3, dir, "#!/bin/sh\ntouch ran-unknown\n")
	unknown.UnixUser = "no-such-user-rcq"
	for _, j := range []*rcq.Job{unmapped, asRoot, unknown} {
		st.add(j)
	}
	for _, c := range []struct {
		id   rcq.JobID
		file string
		log  string
	}{
		{1, "ran-unmapped", "has no Unix user mapping"},
		{2, "ran-root", "never runs jobs as root"},
		{3, "ran-unknown", "does not exist on this node"},
	} {
		j := st.wait(t, c.id, 30*time.Second)
		if j.State != rcq.JobFailed || j.Reason != rcq.ReasonLaunchFailed {
			t.Errorf("job %d: state %s reason %s, want failed LaunchFailed", c.id, j.State, j.Reason)
		}
		if _, err := os.Stat(filepath.Join(dir, c.file)); err == nil {
			t.Errorf("job %d ran", c.id)
		}
		if log := readFile(t, filepath.Join(state, "logs", "job-"+itoa(c.id)+".log")); !strings.Contains(log, c.log) {
			t.Errorf("job %d's log does not say %q:\n%s", c.id, c.log, log)
		}
	}
}

func itoa(id rcq.JobID) string { return strconv.FormatInt(int64(id), 10) }

// TestOutputPathsCannotReachRootFiles: a job's user cannot make root create,
// truncate or write a file through its output options. The root-owned
// targets are the test's own (stand-ins for /etc/shadow and /etc/cron.d), so
// a regression can never damage the machine's real files.
func TestOutputPathsCannotReachRootFiles(t *testing.T) {
	t.Parallel()
	needRoot(t)
	st, dir := newMemStore(), openDir(t)
	startExec(t, st, t.TempDir(), nil)

	etc := t.TempDir() // like /etc: root-owned, world-readable, not writable by the user
	if err := os.Chmod(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	shadow := filepath.Join(etc, "shadow") // root-owned, readable, not writable by the user
	if err := os.WriteFile(shadow, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.out") // the user's symlink to it
	if err := os.Symlink(shadow, link); err != nil {
		t.Fatal(err)
	}
	up := strings.Repeat("../", strings.Count(dir, "/")) + strings.TrimPrefix(etc, "/") + "/cron.d-x"

	cases := []struct {
		id        rcq.JobID
		out, err  string
		mustNotBe string
	}{
		{1, link, "", ""},
		{2, etc + "/rcq-test-%j.out", "", etc + "/rcq-test-2.out"},
		{3, up, "", filepath.Join(etc, "cron.d-x")},
		{4, "ok.out", shadow, ""},
		{5, "ok5.out", link, ""},
		// The real /etc, only for creating a new file (never an existing one).
		{6, "/etc/rcq-test-" + strconv.Itoa(os.Getpid()) + "-%j.out", "", "/etc/rcq-test-" + strconv.Itoa(os.Getpid()) + "-6.out"},
	}
	for _, c := range cases {
		j := newJob(c.id, dir, "#!/bin/sh\necho pwned\necho pwned >&2\n")
		j.Output, j.Error = c.out, c.err
		st.add(j)
	}
	for _, c := range cases {
		j := st.wait(t, c.id, 30*time.Second)
		if j.State != rcq.JobFailed || j.Reason != rcq.ReasonLaunchFailed {
			t.Errorf("job %d (-o %q -e %q): state %s reason %s, want failed LaunchFailed", c.id, c.out, c.err, j.State, j.Reason)
		}
		if c.mustNotBe != "" {
			if _, err := os.Lstat(c.mustNotBe); err == nil {
				t.Errorf("job %d created %s", c.id, c.mustNotBe)
				os.Remove(c.mustNotBe)
			}
		}
	}
	if got := readFile(t, shadow); got != "precious\n" {
		t.Errorf("the root-owned file was changed to %q", got)
	}
	out := readFile(t, filepath.Join(dir, "ok.out"))
	if !strings.Contains(out, "cannot open error file") || !strings.Contains(out, "permission denied") {
		t.Errorf("the job's output does not say why it failed: %q", out)
	}
}

// TestSupplementaryGroups: a job runs with its user's uid, primary group and
// every supplementary group, as `id` shows them for that user.
func TestSupplementaryGroups(t *testing.T) {
	t.Parallel()
	needRoot(t)
	name := userWithSupplementaryGroups()
	if name == "" {
		t.Skip("no user on this machine belongs to a supplementary group")
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		t.Fatal(err)
	}
	st, dir := newMemStore(), openDir(t)
	startExec(t, st, t.TempDir(), nil)
	j := newJob(1, dir, "#!/bin/sh\nid -u\nid -g\nid -G\n")
	j.UnixUser = name
	st.add(j)
	if got := st.wait(t, 1, 30*time.Second); got.State != rcq.JobCompleted {
		t.Fatalf("state %s reason %s", got.State, got.Reason)
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, filepath.Join(dir, "rcq-1.out"))), "\n")
	if len(lines) != 3 || lines[0] != u.Uid || lines[1] != u.Gid {
		t.Fatalf("job as %s printed %q, want uid %s gid %s", name, lines, u.Uid, u.Gid)
	}
	have := strings.Fields(lines[2])
	slices.Sort(have)
	slices.Sort(gids)
	if !slices.Equal(have, gids) {
		t.Errorf("job as %s has groups %v, want %v", name, have, gids)
	}
}

// userWithSupplementaryGroups finds a non-root user listed as a member of a
// group in /etc/group.
func userWithSupplementaryGroups() string {
	data, err := os.ReadFile("/etc/group")
	if err != nil {
		return ""
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 || f[3] == "" {
			continue
		}
		for _, m := range strings.Split(f[3], ",") {
			if u, err := user.Lookup(m); err == nil && u.Uid != "0" {
				return m
			}
		}
	}
	return ""
}

package executor

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// TestCgroupLimits runs where cgroup v2 is delegated to the test process: a
// job gets its own cgroup with memory.max and cpu.max from its request, and
// a job over its memory ends as failed with reason OutOfMemory.
func TestCgroupLimits(t *testing.T) {
	if parent, why := detectCgroup(); parent == "" {
		t.Skip("cgroup v2 enforcement unavailable here: " + why)
	}
	st, dir := newMemStore(), openDir(t)
	e := startExec(t, st, t.TempDir(), nil)
	if !strings.HasPrefix(e.Enforcement(), EnforceCgroup) {
		t.Fatalf("detectCgroup succeeded but the executor enforces %s", e.Enforcement())
	}
	look := newJob(1, dir, "#!/bin/sh\ncg=$(sed -n 's/^0:://p' /proc/self/cgroup)\necho \"cg=$cg\"\necho \"mem=$(cat /sys/fs/cgroup$cg/memory.max)\"\necho \"cpu=$(cat /sys/fs/cgroup$cg/cpu.max)\"\n")
	look.Resources = rcq.Resources{CPUCores: 2, MemoryGB: 1}
	hog := newJob(2, dir, "#!/bin/sh\ndd if=/dev/zero of=/dev/null bs=1536M count=1\n")
	hog.Resources = rcq.Resources{CPUCores: 1, MemoryGB: 1}
	st.add(look)
	st.add(hog)

	if j := st.wait(t, 1, 30*time.Second); j.State != rcq.JobCompleted {
		t.Fatalf("job 1: %s %s", j.State, j.Reason)
	}
	out := readFile(t, filepath.Join(dir, "rcq-1.out"))
	for _, want := range []string{"/rcq-job-1\n", "mem=1073741824\n", "cpu=200000 100000\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("job 1's cgroup: output lacks %q:\n%s", want, out)
		}
	}
	if j := st.wait(t, 2, 60*time.Second); j.State != rcq.JobFailed || j.Reason != rcq.ReasonOutOfMemory {
		t.Errorf("job 2 over its memory: %s %s, want failed OutOfMemory", j.State, j.Reason)
	}
}

package executor

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// cgroupExec starts an executor that enforces limits with cgroups (v2 or
// v1). It skips, saying why, only where neither can be used: not root (on a
// cgroup v1 or hybrid host cgroups are root's), or no cgroup mounted or
// writable. On this project's machines (a v1/v2 hybrid, root) it runs.
func cgroupExec(t *testing.T, st Store, state string, mod func(*Config)) *testExec {
	t.Helper()
	e := startExec(t, st, state, mod)
	if e.cgroups == nil {
		if os.Geteuid() != 0 {
			t.Skip("needs root, or a cgroup v2 subtree delegated to this user: " + e.Enforcement())
		}
		t.Skip("no cgroup mechanism usable here: " + e.Enforcement())
	}
	return e
}

// jobCgroups returns the cgroups the executor gives job id.
func jobCgroups(e *testExec, id rcq.JobID) jobCgroup {
	var sp jobSpec
	e.cgroups.assign(&sp, id)
	return jobCgroupOf(&sp)
}

// assertNoCgroups fails for each of the job's cgroup directories that still
// exists.
func assertNoCgroups(t *testing.T, cg jobCgroup, when string) {
	t.Helper()
	for _, d := range cg.dirs() {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s still there %s (stat: %v)", d, when, err)
		}
	}
}

// TestCgroupLimits: a job gets its own cgroups with its memory, CPUs and
// pids.max (cgroup v2: memory.max, cpu.max; cgroup v1: memory.limit_in_bytes
// and memsw, cpuset.cpus of its allocated CPUs, cpuset.mems of the parent);
// a job that allocates past its memory is killed by the kernel and ends as
// failed OutOfMemory with its peak from the cgroup; both jobs' cgroups are
// gone once they ended (with cgroup v1, rcq-<instance> too, after the last).
func TestCgroupLimits(t *testing.T) {
	st, dir := newMemStore(), openDir(t)
	e := cgroupExec(t, st, t.TempDir(), func(c *Config) { c.PidsMax = 64 })
	var look *rcq.Job
	var want []string
	switch m := e.cgroups.(type) {
	case cgroupV2:
		if !strings.HasPrefix(e.Enforcement(), EnforceCgroup+" ") {
			t.Fatalf("cgroup v2 in use but the banner says %s", e.Enforcement())
		}
		look = newJob(1, dir, "#!/bin/sh\ncg=$(sed -n 's/^0:://p' /proc/self/cgroup)\necho \"cg=$cg\"\necho \"mem=$(cat /sys/fs/cgroup$cg/memory.max)\"\necho \"cpu=$(cat /sys/fs/cgroup$cg/cpu.max)\"\necho \"pids=$(cat /sys/fs/cgroup$cg/pids.max)\"\n")
		want = []string{"/rcq-" + m.instance + "-job-1\n", "mem=1073741824\n", "cpu=200000 100000\n", "pids=64\n"}
	case *cgroupV1:
		if !strings.HasPrefix(e.Enforcement(), EnforceCgroupV1+" (memory.limit_in_bytes") {
			t.Fatalf("cgroup v1 in use but the banner says %s", e.Enforcement())
		}
		by := jobCgroups(e, 1).(cgroupV1Job).by
		for _, c := range []string{"memory", "cpuset", "pids"} {
			if by[c] == "" {
				t.Fatalf("cgroup v1 without the %s controller here: %s", c, e.Enforcement())
			}
		}
		look = newJob(1, dir, fmt.Sprintf(`#!/bin/sh
cat /proc/self/cgroup
echo "mem=$(cat %[1]s/memory.limit_in_bytes)"
[ -e %[1]s/memory.memsw.limit_in_bytes ] && echo "memsw=$(cat %[1]s/memory.memsw.limit_in_bytes)"
echo "cpus=$(cat %[2]s/cpuset.cpus)"
echo "mems=$(cat %[2]s/cpuset.mems)"
echo "pids=$(cat %[3]s/pids.max)"
grep Cpus_allowed_list /proc/self/status
`, by["memory"], by["cpuset"], by["pids"]))
		// rcq-<instance> copies rcqd's cpuset.mems, and the job the same.
		parentMems := strings.TrimSpace(readFile(t, filepath.Join(filepath.Dir(filepath.Dir(by["cpuset"])), "cpuset.mems")))
		want = []string{"mem=1073741824\n", "mems=" + parentMems + "\n", "pids=64\n"}
		if m.memsw {
			want = append(want, "memsw=1073741824\n")
		}
		for _, c := range []string{"memory", "cpuset", "pids"} {
			want = append(want, ":"+c+":")
		}
	default:
		t.Fatalf("unknown cgroup mode %T", e.cgroups)
	}
	look.Resources = rcq.Resources{CPUCores: 2, MemoryGB: 1}
	hog := newJob(2, dir, "#!/bin/sh\ndd if=/dev/zero of=/dev/null bs=1536M count=1\n")
	hog.Resources = rcq.Resources{CPUCores: 1, MemoryGB: 1}
	st.add(look)
	st.add(hog)

	if j := st.wait(t, 1, 30*time.Second); j.State != rcq.JobCompleted {
		t.Fatalf("job 1: %s %s", j.State, j.Reason)
	}
	out := readFile(t, filepath.Join(dir, "rcq-1.out"))
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("job 1's cgroup: output lacks %q:\n%s", w, out)
		}
	}
	if m, ok := e.cgroups.(*cgroupV1); ok {
		// Each of its cgroups is rcq-<instance>/job_1, in rcqd's own.
		for _, c := range []string{"memory", "cpuset", "pids"} {
			re := regexp.MustCompile(`(?m)^\d+:([a-z,]*,)?` + c + `(,[a-z,]*)?:(.*)$`)
			mm := re.FindStringSubmatch(out)
			if mm == nil || !strings.HasSuffix(mm[3], filepath.Base(m.parents[c])+"/job_1") {
				t.Errorf("job 1's %s cgroup is %q, want .../%s/job_1", c, mm, filepath.Base(m.parents[c]))
			}
		}
		// cpuset.cpus holds the CPUs the job was given, and is what it may run on.
		cpus := regexp.MustCompile(`(?m)^cpus=(.*)$`).FindStringSubmatch(out)
		allowed := regexp.MustCompile(`(?m)^Cpus_allowed_list:\s*(.*)$`).FindStringSubmatch(out)
		n := min(2, len(allowedCPUs()))
		if cpus == nil || allowed == nil || cpus[1] != allowed[1] || len(parseCPUList(t, cpus[1])) != n {
			t.Errorf("job 1 (2 cores) has cpuset.cpus %q and may run on %q, want the same %d CPUs", cpus, allowed, n)
		}
	}
	assertNoCgroups(t, jobCgroups(e, 1), "after job 1 completed")

	j := st.wait(t, 2, 60*time.Second)
	if j.State != rcq.JobFailed || j.Reason != rcq.ReasonOutOfMemory {
		t.Errorf("job 2 over its memory: %s %s, want failed OutOfMemory", j.State, j.Reason)
	}
	// The peak is the cgroup's: at most the limit, and near it (dd touched
	// more than the limit before it was killed).
	if peak := st.outcome(2).PeakMemoryKB; peak < 3<<18 || peak > 1<<20 {
		t.Errorf("job 2's peak memory %d KB, want between 768 MiB and its 1 GiB limit", peak)
	}
	assertNoCgroups(t, jobCgroups(e, 2), "after job 2 was killed for its memory")
	if m, ok := e.cgroups.(*cgroupV1); ok {
		for c, p := range m.parents {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s cgroup %s still there after the last job ended (stat: %v)", c, p, err)
			}
		}
	}
}

// parseCPUList reads a kernel CPU list such as 0-2,5.
func parseCPUList(t *testing.T, s string) []int {
	t.Helper()
	var cpus []int
	for r := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		lo, hi, isRange := strings.Cut(r, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			t.Fatalf("CPU list %q: %v", s, err)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				t.Fatalf("CPU list %q: %v", s, err)
			}
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus
}

// TestCgroupPidsMax: a job cannot have more processes than jobs.max_pids at
// once; the fork past it fails in the job, and its processes are gone with
// its cgroups when it ends.
func TestCgroupPidsMax(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	e := cgroupExec(t, st, t.TempDir(), func(c *Config) { c.PidsMax = 8 })
	// The shell is one of the 8: at most 7 sleeps start.
	st.add(newJob(1, dir, "#!/bin/sh\ni=0\nwhile [ $i -lt 20 ]; do\n  sleep 600 &\n  i=$((i+1))\n  echo started $i\ndone\n"))
	st.wait(t, 1, 30*time.Second)
	out := readFile(t, filepath.Join(dir, "rcq-1.out"))
	started := strings.Count(out, "started ")
	if started == 0 || started > 7 {
		t.Errorf("with pids.max 8 the job started %d processes besides its shell, want 1 to 7:\n%s", started, out)
	}
	if !strings.Contains(out, "fork") {
		t.Errorf("the fork past pids.max did not fail in the job:\n%s", out)
	}
	assertNoCgroups(t, jobCgroups(e, 1), "after the job ended")
}

// TestCgroupCpuset (cgroup v1): a job runs on the CPUs it was given
// (cpuset.cpus), cannot widen them with sched_setaffinity as it could a
// mere affinity, and two one-core jobs running at once get different CPUs.
func TestCgroupCpuset(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	e := cgroupExec(t, st, t.TempDir(), nil)
	if _, ok := e.cgroups.(*cgroupV1); !ok {
		t.Skip("cgroup v2 limits CPU with cpu.max, not a cpuset: " + e.Enforcement())
	}
	all := allowedCPUs()
	if len(all) < 2 {
		t.Skip("needs two CPUs to see two jobs on different ones")
	}
	widen := fmt.Sprintf("%d-%d", all[0], all[len(all)-1])
	script := func(n string) string {
		return "#!/bin/sh\ntouch " + n + ".started\nwhile [ ! -e go ]; do sleep 0.05; done\n" +
			"grep Cpus_allowed_list /proc/self/status\ntaskset -pc " + widen + " $$ >/dev/null\ngrep Cpus_allowed_list /proc/self/status\n"
	}
	st.add(newJob(1, dir, script("a")))
	st.add(newJob(2, dir, script("b")))
	waitExists(t, filepath.Join(dir, "a.started"), 30*time.Second)
	waitExists(t, filepath.Join(dir, "b.started"), 30*time.Second)
	os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
	seen := map[string]rcq.JobID{}
	for id := rcq.JobID(1); id <= 2; id++ {
		if j := st.wait(t, id, 30*time.Second); j.State != rcq.JobCompleted {
			t.Fatalf("job %d: %s %s", id, j.State, j.Reason)
		}
		out := readFile(t, filepath.Join(dir, fmt.Sprintf("rcq-%d.out", id)))
		lines := regexp.MustCompile(`(?m)^Cpus_allowed_list:\s*(.*)$`).FindAllStringSubmatch(out, -1)
		if len(lines) != 2 {
			t.Fatalf("job %d output:\n%s", id, out)
		}
		before, after := lines[0][1], lines[1][1]
		if len(parseCPUList(t, before)) != 1 || after != before {
			t.Errorf("job %d (1 core) ran on %q, and on %q after taskset -pc %s; want one CPU, kept", id, before, after, widen)
		}
		if other, dup := seen[before]; dup {
			t.Errorf("jobs %d and %d ran at once on the same CPU %s", other, id, before)
		}
		seen[before] = id
		assertNoCgroups(t, jobCgroups(e, id), "after the job ended")
	}
}

// TestCgroupCleanupAfterSupervisorCrash: when a job's supervisor dies (kill
// -9) its job ends as WorkerLost, whatever it left is killed and its cgroups
// are removed, both when rcqd sees the supervisor die and when a restarted
// rcqd finds the dead supervisor's job directory (reconcile).
func TestCgroupCleanupAfterSupervisorCrash(t *testing.T) {
	t.Parallel()
	st, dir, state := newMemStore(), openDir(t), t.TempDir()
	script := func(n string) string {
		return "#!/bin/sh\nsleep 600 &\necho $! > " + n + ".child\necho $$ > " + n + ".started\nwait\n"
	}
	st.add(newJob(1, dir, script("a")))
	st.add(newJob(2, dir, script("b")))
	first := cgroupExec(t, st, state, nil)
	waitFile(t, filepath.Join(dir, "a.started"), 30*time.Second)
	waitFile(t, filepath.Join(dir, "b.started"), 30*time.Second)
	for id := rcq.JobID(1); id <= 2; id++ {
		for _, d := range jobCgroups(first, id).dirs() {
			if _, err := os.Stat(d); err != nil {
				t.Fatalf("job %d runs without its cgroup %s: %v", id, d, err)
			}
		}
	}
	killSupervisor := func(id rcq.JobID, reap bool) {
		pid, _, err := readPid(filepath.Join(state, "jobs", strconv.Itoa(int(id)), pidFile))
		if err != nil {
			t.Fatal(err)
		}
		syscall.Kill(pid, syscall.SIGKILL)
		if reap {
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil) // the test process is its parent
		}
	}
	lost := func(id rcq.JobID, child, when string) {
		t.Helper()
		if j := st.wait(t, id, 60*time.Second); j.State != rcq.JobFailed || j.Reason != rcq.ReasonWorkerLost {
			t.Errorf("job %d: %s %s, want failed WorkerLost", id, j.State, j.Reason)
		}
		pid, _ := strconv.Atoi(waitFile(t, filepath.Join(dir, child), time.Second))
		waitGone(t, pid, fmt.Sprintf("job %d's process %s", id, when))
		assertNoCgroups(t, jobCgroups(first, id), when)
	}

	// While rcqd runs: it sees the supervisor die.
	killSupervisor(1, false)
	lost(1, "a.child", "after its supervisor died under a running rcqd")

	// While no rcqd runs: the next one reconciles.
	first.stop()
	killSupervisor(2, true)
	cgroupExec(t, st, state, nil)
	lost(2, "b.child", "after a restarted rcqd found its supervisor dead")
}

// TestCgroupV1ParentRecreated (cgroup v1): an idle executor leaves no
// rcq-<instance> cgroup, and a job's supervisor makes it (cpuset.cpus and
// cpuset.mems included) rather than running its job without cgroups.
func TestCgroupV1ParentRecreated(t *testing.T) {
	t.Parallel()
	e := cgroupExec(t, newMemStore(), t.TempDir(), nil)
	m, ok := e.cgroups.(*cgroupV1)
	if !ok {
		t.Skip("cgroup v2 here: " + e.Enforcement())
	}
	for c, p := range m.parents {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s cgroup %s there with no job (stat: %v)", c, p, err)
		}
	}
	cg := jobCgroups(e, 1)
	sp := &jobSpec{CPUs: allowedCPUs()[:1], MemoryBytes: 1 << 30, PidsMax: 10}
	if err := cg.create(sp); err != nil {
		t.Fatalf("create after the parents were removed: %v", err)
	}
	if got := strings.TrimSpace(readFile(t, filepath.Join(m.parents["cpuset"], "cpuset.mems"))); got == "" {
		t.Error("recreated rcq cpuset has no memory nodes")
	}
	if err := cg.remove(); err != nil {
		t.Error(err)
	}
	assertNoCgroups(t, cg, "after remove")
	m.close()
}

// TestParseCgroupV1: the cgroup v1 mounts and rcqd's cgroups are read as the
// kernel writes them, co-mounted controllers (cpu,cpuacct) and a container's
// mount of part of a hierarchy included; cgroup v2 lines are not v1.
func TestParseCgroupV1(t *testing.T) {
	mounts := parseV1Mounts(`30 22 0:27 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
34 30 0:31 /kubepods/pod1 /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
`)
	want := map[string]v1Mount{
		"cpuacct": {"/", "/sys/fs/cgroup/cpu,cpuacct"},
		"memory":  {"/kubepods/pod1", "/sys/fs/cgroup/memory"},
		"pids":    {"/", "/sys/fs/cgroup/pids"},
	}
	if fmt.Sprint(mounts) != fmt.Sprint(want) {
		t.Errorf("mounts %v, want %v", mounts, want)
	}
	own := parseV1Own("12:pids:/system.slice/rcqd.service\n4:memory:/kubepods/pod1/c2\n3:cpu,cpuacct:/\n1:name=systemd:/x\n0::/system.slice/rcqd.service\n")
	if own["pids"] != "/system.slice/rcqd.service" || own["memory"] != "/kubepods/pod1/c2" || own["cpuacct"] != "/" || own["cpu"] != "/" || own[""] != "" {
		t.Errorf("own cgroups %v", own)
	}
	for _, c := range []struct {
		mt   v1Mount
		path string
		dir  string
		ok   bool
	}{
		{v1Mount{"/", "/sys/fs/cgroup/pids"}, "/system.slice/rcqd.service", "/sys/fs/cgroup/pids/system.slice/rcqd.service", true},
		{v1Mount{"/", "/sys/fs/cgroup/cpuset"}, "/", "/sys/fs/cgroup/cpuset", true},
		{v1Mount{"/kubepods/pod1", "/sys/fs/cgroup/memory"}, "/kubepods/pod1/c2", "/sys/fs/cgroup/memory/c2", true},
		{v1Mount{"/kubepods/pod1", "/sys/fs/cgroup/memory"}, "/kubepods/pod1", "/sys/fs/cgroup/memory", true},
		{v1Mount{"/kubepods/pod1", "/sys/fs/cgroup/memory"}, "/kubepods/pod12", "", false},
		{v1Mount{"/kubepods/pod1", "/sys/fs/cgroup/memory"}, "/other", "", false},
	} {
		if dir, ok := v1Dir(c.mt, c.path); dir != c.dir || ok != c.ok {
			t.Errorf("v1Dir(%v, %s) = %q %v, want %q %v", c.mt, c.path, dir, ok, c.dir, c.ok)
		}
	}
}

// TestCgroupManyAtOnce: jobs launched together (their supervisors making
// the shared rcq-<instance> at the same moment, and removing it as the last
// ones end) each run inside all their cgroups, and nothing is left after.
func TestCgroupManyAtOnce(t *testing.T) {
	t.Parallel()
	st, dir := newMemStore(), openDir(t)
	e := cgroupExec(t, st, t.TempDir(), nil)
	const n = 12
	for id := rcq.JobID(1); id <= n; id++ {
		base := filepath.Base(jobCgroups(e, id).dirs()[0])
		st.add(newJob(id, dir, "#!/bin/sh\ngrep -c '/"+base+"$' /proc/self/cgroup\n"))
	}
	e.Notify()
	for id := rcq.JobID(1); id <= n; id++ {
		if j := st.wait(t, id, 60*time.Second); j.State != rcq.JobCompleted {
			t.Errorf("job %d: %s %s", id, j.State, j.Reason)
			continue
		}
		cg := jobCgroups(e, id)
		want := len(cg.dirs())
		if v1, ok := cg.(cgroupV1Job); ok {
			want = len(v1.by) // controllers, each one line of /proc/self/cgroup
		}
		if out := strings.TrimSpace(readFile(t, filepath.Join(dir, fmt.Sprintf("rcq-%d.out", id)))); out != strconv.Itoa(want) {
			t.Errorf("job %d ran in %s of its %d cgroups", id, out, want)
		}
		assertNoCgroups(t, cg, "after the job ended")
	}
	if m, ok := e.cgroups.(*cgroupV1); ok {
		for c, p := range m.parents {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("%s cgroup %s still there after the last job ended (stat: %v)", c, p, err)
			}
		}
	}
}

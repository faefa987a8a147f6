package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/rcq-project/rcq/internal/rcq"
)

// v1Controllers are the cgroup v1 controllers rcq uses, as Slurm's cgroup/v1
// plugin does: memory (required) for memory.limit_in_bytes, the OOM count and
// the peak; cpuset for the job's CPUs; pids for pids.max; cpuacct, where
// mounted, for the CPU time of every process of the job.
var v1Controllers = []string{"memory", "cpuset", "pids", "cpuacct"}

// cgroupV1 puts each job into a cgroup <rcqd's cgroup>/rcq-<instance>/job_<id>
// of each cgroup v1 controller it uses. Cgroup v1 has neither cgroup.kill nor
// clone3(CLONE_INTO_CGROUP): the supervisor moves the thread that forks the
// job into the job's cgroups (a v1 "tasks" file takes a thread), so the job
// is inside from its first instruction, and kills what is left by pid.
type cgroupV1 struct {
	parents  map[string]string // controller → <rcqd's cgroup>/rcq-<instance>
	memsw    bool              // memory.memsw.limit_in_bytes exists (swap accounting)
	missing  []string          // optional controllers not used, with why
	whyNotV2 string
}

// v1Mount is where a cgroup v1 hierarchy is mounted: root is the part of the
// hierarchy the mount shows (not "/" in some containers).
type v1Mount struct{ root, point string }

// detectCgroupV1 finds, for each controller of v1Controllers mounted as
// cgroup v1, the cgroup rcqd runs in, and checks that it can make
// rcq-<instance> under it (with cpuset.cpus and cpuset.mems copied from its
// parent, which cpuset requires before a task may join). It removes it again
// (unless jobs of a previous rcqd run there): a job's supervisor makes it
// when needed, and removes it after the last job, so an rcqd that is killed,
// or refuses to start after this, leaves no cgroup behind. The memory
// controller is required; it returns nil and why when it cannot be used.
func detectCgroupV1(instance string) (*cgroupV1, string) {
	mounts, err := v1Mounts()
	if err != nil {
		return nil, err.Error()
	}
	own, err := v1OwnCgroups()
	if err != nil {
		return nil, err.Error()
	}
	m := &cgroupV1{parents: map[string]string{}}
	for _, c := range v1Controllers {
		parent, why := v1Parent(c, mounts, own, instance)
		if why != "" {
			if c == "memory" {
				return nil, why
			}
			m.missing = append(m.missing, why)
			continue
		}
		m.parents[c] = parent
	}
	_, err = os.Stat(filepath.Join(m.parents["memory"], "memory.memsw.limit_in_bytes"))
	m.memsw = err == nil
	return m, ""
}

// v1Parent makes <rcqd's cgroup>/rcq-<instance> in controller c's hierarchy.
func v1Parent(c string, mounts map[string]v1Mount, own map[string]string, instance string) (string, string) {
	mt, ok := mounts[c]
	if !ok {
		return "", "the " + c + " controller is not mounted as cgroup v1"
	}
	path, ok := own[c]
	if !ok {
		return "", "rcqd is in no " + c + " cgroup (/proc/self/cgroup)"
	}
	dir, ok := v1Dir(mt, path)
	if !ok {
		return "", fmt.Sprintf("rcqd's %s cgroup %s is outside what %s shows", c, path, mt.point)
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return "", fmt.Sprintf("%s is not writable by rcqd: %v", dir, err)
	}
	parent := filepath.Join(dir, "rcq-"+instance)
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return "", fmt.Sprintf("cannot create %s: %v", parent, err)
	}
	if c == "cpuset" {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if err := copyCgroupFile(parent, f); err != nil {
				return "", err.Error()
			}
		}
	}
	unix.Rmdir(parent) // EBUSY while jobs run in it
	return parent, ""
}

// copyCgroupFile sets file of cgroup dir to its parent's value when empty
// (a new cpuset has no CPUs and no memory nodes).
func copyCgroupFile(dir, file string) error {
	cur, _ := os.ReadFile(filepath.Join(dir, file))
	if strings.TrimSpace(string(cur)) != "" {
		return nil
	}
	v, err := os.ReadFile(filepath.Join(filepath.Dir(dir), file))
	if err != nil {
		return fmt.Errorf("read %s of %s: %w", file, filepath.Dir(dir), err)
	}
	if strings.TrimSpace(string(v)) == "" {
		return fmt.Errorf("%s of %s is empty", file, filepath.Dir(dir))
	}
	if err := os.WriteFile(filepath.Join(dir, file), v, 0); err != nil {
		return fmt.Errorf("set %s of %s to %s: %w", file, dir, strings.TrimSpace(string(v)), err)
	}
	return nil
}

// v1Mounts maps each cgroup v1 controller to its mount (/proc/self/mountinfo).
func v1Mounts() (map[string]v1Mount, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cannot read /proc/self/mountinfo: %v", err)
	}
	mounts := parseV1Mounts(string(data))
	if len(mounts) == 0 {
		return nil, errors.New("no cgroup v1 controller is mounted")
	}
	return mounts, nil
}

// parseV1Mounts reads the cgroup v1 mounts of a mountinfo text, the first
// one of each controller of v1Controllers.
func parseV1Mounts(mountinfo string) map[string]v1Mount {
	mounts := map[string]v1Mount{}
	for line := range strings.SplitSeq(mountinfo, "\n") {
		// 34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
		pre, post, ok := strings.Cut(line, " - ")
		a, b := strings.Fields(pre), strings.Fields(post)
		if !ok || len(a) < 5 || len(b) < 3 || b[0] != "cgroup" {
			continue
		}
		for opt := range strings.SplitSeq(b[2], ",") {
			if slices.Contains(v1Controllers, opt) {
				if _, dup := mounts[opt]; !dup {
					mounts[opt] = v1Mount{root: a[3], point: a[4]}
				}
			}
		}
	}
	return mounts
}

// v1OwnCgroups maps each cgroup v1 controller to rcqd's cgroup in it.
func v1OwnCgroups() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("cannot read /proc/self/cgroup: %v", err)
	}
	return parseV1Own(string(data)), nil
}

// parseV1Own reads the cgroup v1 lines of a /proc/<pid>/cgroup text.
func parseV1Own(text string) map[string]string {
	own := map[string]string{}
	for line := range strings.SplitSeq(strings.TrimSpace(text), "\n") {
		// 4:memory:/process_api/64d1   3:cpu,cpuacct:/   0::/ (v2: skipped)
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 || f[1] == "" {
			continue
		}
		for c := range strings.SplitSeq(f[1], ",") {
			own[c] = f[2]
		}
	}
	return own
}

// v1Dir is the directory of cgroup path (as /proc/self/cgroup names it)
// under mount mt, false when the mount does not show it.
func v1Dir(mt v1Mount, path string) (string, bool) {
	if mt.root == "/" {
		return filepath.Join(mt.point, path), strings.HasPrefix(path, "/")
	}
	rel, ok := strings.CutPrefix(path, mt.root)
	if !ok || rel != "" && !strings.HasPrefix(rel, "/") {
		return "", false
	}
	return filepath.Join(mt.point, rel), true
}

func (m *cgroupV1) describe() string {
	var limits []string
	limits = append(limits, "memory.limit_in_bytes")
	if m.memsw {
		limits = append(limits, "memory.memsw.limit_in_bytes")
	}
	if m.parents["cpuset"] != "" {
		limits = append(limits, "cpuset.cpus")
	}
	if m.parents["pids"] != "" {
		limits = append(limits, "pids.max")
	}
	var dirs []string
	for _, c := range v1Controllers {
		if p := m.parents[c]; p != "" && !slices.Contains(dirs, p) {
			dirs = append(dirs, p)
		}
	}
	s := EnforceCgroupV1 + " (" + strings.Join(limits, ", ") + "; job cgroups in " + strings.Join(dirs, ", ")
	for _, why := range m.missing {
		s += "; " + why
	}
	if m.parents["cpuset"] == "" {
		s += ": CPU affinity instead"
	}
	return s + "; cgroup v2 unavailable: " + m.whyNotV2 + ")"
}

// close removes the rcq-<instance> cgroups detect made, unless jobs still
// run in them (rmdir fails on a cgroup with children).
func (m *cgroupV1) close() {
	for _, p := range m.parents {
		unix.Rmdir(p)
	}
}

func (m *cgroupV1) assign(sp *jobSpec, id rcq.JobID) {
	sp.CgroupV1 = make(map[string]string, len(m.parents))
	for c, p := range m.parents {
		sp.CgroupV1[c] = filepath.Join(p, fmt.Sprintf("job_%d", id))
	}
}

// cgroupV1Job is a job's cgroup v1 directories, by controller (controllers
// mounted together share one).
type cgroupV1Job struct{ by map[string]string }

func (c cgroupV1Job) dirs() []string {
	var d []string
	for _, p := range c.by {
		if !slices.Contains(d, p) {
			d = append(d, p)
		}
	}
	slices.Sort(d)
	return d
}

func (c cgroupV1Job) limitsCPU() bool { return c.by["cpuset"] != "" }

func (c cgroupV1Job) create(s *jobSpec) error {
	var made []string
	err := func() error {
		for _, d := range c.dirs() {
			if err := c.mkdir(d); err != nil {
				return err
			}
			made = append(made, d)
		}
		write := func(ctrl, file, v string) error {
			if err := os.WriteFile(filepath.Join(c.by[ctrl], file), []byte(v), 0); err != nil {
				return fmt.Errorf("set %s to %s: %w", file, v, err)
			}
			return nil
		}
		if mem := c.by["memory"]; mem != "" && s.MemoryBytes > 0 {
			v := strconv.FormatInt(s.MemoryBytes, 10)
			// memsw (memory + swap) may never be below the memory limit:
			// unlimited first, then the limit, then memsw = limit (no swap).
			_, err := os.Stat(filepath.Join(mem, "memory.memsw.limit_in_bytes"))
			memsw := err == nil
			if memsw {
				if err := write("memory", "memory.memsw.limit_in_bytes", "-1"); err != nil {
					return err
				}
			}
			if err := write("memory", "memory.limit_in_bytes", v); err != nil {
				return err
			}
			if memsw {
				if err := write("memory", "memory.memsw.limit_in_bytes", v); err != nil {
					return err
				}
			}
		}
		if cs := c.by["cpuset"]; cs != "" {
			if err := copyCgroupFile(cs, "cpuset.mems"); err != nil {
				return err
			}
			if len(s.CPUs) > 0 {
				if err := write("cpuset", "cpuset.cpus", cpuList(s.CPUs)); err != nil {
					return err
				}
			} else if err := copyCgroupFile(cs, "cpuset.cpus"); err != nil {
				return err
			}
		}
		if c.by["pids"] != "" && s.PidsMax > 0 {
			if err := write("pids", "pids.max", strconv.Itoa(s.PidsMax)); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		for _, d := range made {
			unix.Rmdir(d)
		}
	}
	return err
}

// mkdir makes the job cgroup d, and its parent rcq-<instance> first: the
// supervisor of a job that starts alone makes it, and removes it when the
// job ends (remove). Each supervisor initializes the parent's cpuset itself
// (idempotent) rather than trust one started at the same moment to have done
// it; when the parent vanishes meanwhile (the last job's supervisor removed
// it), it starts over.
func (c cgroupV1Job) mkdir(d string) error {
	var err error
	for range 5 {
		if err = c.mkdirOnce(d); err == nil || !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return err
}

func (c cgroupV1Job) mkdirOnce(d string) error {
	parent := filepath.Dir(d)
	if err := os.Mkdir(parent, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if d == c.by["cpuset"] {
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if err := copyCgroupFile(parent, f); err != nil {
				return err
			}
		}
	}
	if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	return nil
}

// cpuList writes CPUs as a cpuset list: 0,2,3.
func cpuList(cpus []int) string {
	s := make([]string, len(cpus))
	for i, c := range cpus {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// fork moves the calling thread (locked, and discarded by the caller) into
// each of the job's cgroups, forks there, so the job starts inside them, and
// moves the thread back to rcqd's cgroups (the parents of rcq-<instance>).
func (c cgroupV1Job) fork(attr *syscall.SysProcAttr, fork func() (int, error)) (int, error) {
	tid := []byte(strconv.Itoa(unix.Gettid()))
	var moved []string
	defer func() {
		for _, d := range moved {
			os.WriteFile(filepath.Join(filepath.Dir(filepath.Dir(d)), "tasks"), tid, 0)
		}
	}()
	for _, d := range c.dirs() {
		if err := os.WriteFile(filepath.Join(d, "tasks"), tid, 0); err != nil {
			return 0, fmt.Errorf("enter cgroup %s: %w", d, err)
		}
		moved = append(moved, d)
	}
	return fork()
}

// oomKilled reads the oom_kill counter of memory.oom_control (Linux 4.13 and
// later); before it, a job that reached its limit counts (memory.failcnt, or
// memory.memsw.failcnt: with memsw equal to the limit, that one fails first).
func (c cgroupV1Job) oomKilled() bool {
	mem := c.by["memory"]
	if mem == "" {
		return false
	}
	if n, ok := cgroupKeyValue(filepath.Join(mem, "memory.oom_control"), "oom_kill"); ok {
		return n > 0
	}
	return readInt(filepath.Join(mem, "memory.failcnt")) > 0 || readInt(filepath.Join(mem, "memory.memsw.failcnt")) > 0
}

func (c cgroupV1Job) usage() (cpu float64, cpuOK bool, peakKB int64) {
	if mem := c.by["memory"]; mem != "" {
		peakKB = readInt(filepath.Join(mem, "memory.max_usage_in_bytes")) / 1024
	}
	if acct := c.by["cpuacct"]; acct != "" {
		if _, err := os.Stat(filepath.Join(acct, "cpuacct.usage")); err == nil {
			cpu, cpuOK = float64(readInt(filepath.Join(acct, "cpuacct.usage")))/1e9, true
		}
	}
	return cpu, cpuOK, peakKB
}

// kill sends SIGKILL to every process in the job's cgroups (never to the
// calling process, whose forking thread may still be in one).
func (c cgroupV1Job) kill() {
	self := os.Getpid()
	for _, d := range c.dirs() {
		data, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for f := range strings.FieldsSeq(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != self {
				unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
}

// remove kills the job's processes until none is left and removes its
// cgroups, and rcq-<instance> too when it was the last job there (as Slurm
// removes a user's cgroup after their last job): nothing is left behind by
// an rcqd that was killed or stopped while jobs ran. The next launch makes
// it again (mkdir).
func (c cgroupV1Job) remove() error {
	c.kill()
	var errs []error
	for _, d := range c.dirs() {
		errs = append(errs, rmdirCgroup(d, c.kill))
		if parent := filepath.Dir(d); strings.HasPrefix(filepath.Base(parent), "rcq-") {
			unix.Rmdir(parent) // EBUSY while other jobs run
		}
	}
	return errors.Join(errs...)
}

package executor

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Enforcement modes, as Enforcement reports them.
const (
	EnforceCgroup   = "cgroup-v2"
	EnforceCgroupV1 = "cgroup-v1"
	EnforceAffinity = "cpu-affinity"
)

const cgroupRoot = "/sys/fs/cgroup"

var cgroupControllers = []string{"memory", "cpu", "pids"}

// detectCgroup finds the cgroup v2 directory under which job cgroups go: the
// cgroup rcqd runs in, when the machine mounts cgroup v2 and that subtree is
// delegated to rcqd (writable, with the memory, cpu and pids controllers).
// Because cgroup v2 lets a cgroup with processes in it hand controllers to its
// children only at the root, rcqd moves itself into a leaf "<its cgroup>/rcqd"
// first when needed (as container runtimes do). It returns "" and the reason
// when cgroups cannot be used.
func detectCgroup() (parent, why string) {
	var st unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &st); err != nil {
		return "", fmt.Sprintf("cannot read %s: %v", cgroupRoot, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return "", cgroupRoot + " is not cgroup v2"
	}
	own, err := ownCgroup()
	if err != nil {
		return "", err.Error()
	}
	dir := filepath.Join(cgroupRoot, own)
	if filepath.Base(dir) == "rcqd" && hasControllers(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control")) {
		dir = filepath.Dir(dir) // a previous rcqd moved itself here
	}
	avail, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return "", fmt.Sprintf("cannot read controllers of %s: %v", dir, err)
	}
	for _, c := range cgroupControllers {
		if !slices.Contains(strings.Fields(string(avail)), c) {
			return "", fmt.Sprintf("controller %s is not delegated to %s", c, dir)
		}
	}
	if err := unix.Access(dir, unix.W_OK); err != nil {
		return "", fmt.Sprintf("%s is not writable by rcqd (not delegated)", dir)
	}
	if hasControllers(filepath.Join(dir, "cgroup.subtree_control")) {
		return dir, ""
	}
	enable := []byte("+memory +cpu +pids")
	err = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), enable, 0)
	if errors.Is(err, unix.EBUSY) && dir != cgroupRoot {
		leaf := filepath.Join(dir, "rcqd")
		if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return "", fmt.Sprintf("cannot create %s: %v", leaf, err)
		}
		if err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
			return "", fmt.Sprintf("cannot move rcqd into %s: %v", leaf, err)
		}
		err = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), enable, 0)
	}
	if err != nil {
		return "", fmt.Sprintf("cannot enable controllers in %s: %v", dir, err)
	}
	return dir, ""
}

func ownCgroup() (string, error) {
	data, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", fmt.Errorf("cannot read /proc/self/cgroup: %v", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p, nil
		}
	}
	return "", errors.New("rcqd is in no cgroup v2 group")
}

func hasControllers(subtreeControl string) bool {
	data, err := os.ReadFile(subtreeControl)
	if err != nil {
		return false
	}
	f := strings.Fields(string(data))
	for _, c := range cgroupControllers {
		if !slices.Contains(f, c) {
			return false
		}
	}
	return true
}

// cgroupMode is how this node puts jobs into cgroups, chosen once when the
// executor starts (detectCgroups): cgroupV2 where cgroup v2 with the memory,
// cpu and pids controllers is delegated to rcqd, else cgroupV1 where rcqd
// may write cgroup v1's memory hierarchy (hybrid and legacy hosts).
type cgroupMode interface {
	// describe is the banner's account of the mechanism and its limits.
	describe() string
	// assign names the job's cgroups in its spec; its supervisor creates them.
	assign(sp *jobSpec, id rcq.JobID)
	// close removes what detection made, where no job uses it any more
	// (when the executor stops).
	close()
}

// jobCgroup is one job's cgroups, as its supervisor creates, fills, reads and
// removes them, and as an executor that finds the supervisor dead removes
// them. jobCgroupOf rebuilds it from the job's spec in either process.
type jobCgroup interface {
	// create makes the cgroups with the job's limits; on error it removes
	// what it made.
	create(sp *jobSpec) error
	// fork runs fork (a fork+exec of the job) on the calling goroutine's
	// locked OS thread, which the caller discards afterwards, so that the
	// job is inside the cgroups before its first instruction.
	fork(attr *syscall.SysProcAttr, fork func() (int, error)) (int, error)
	// limitsCPU says whether the cgroups limit the job's CPUs (cpu.max, or
	// cpuset); otherwise the supervisor pins the job with its CPU affinity.
	limitsCPU() bool
	// oomKilled reports whether the kernel's OOM killer killed a process of
	// the job for going over its memory limit.
	oomKilled() bool
	// usage returns the CPU seconds (cpuOK false when no cgroup counts them)
	// and the peak memory in KB (0 when unknown) of every process of the job.
	usage() (cpuSeconds float64, cpuOK bool, peakKB int64)
	// kill sends SIGKILL to every process in the cgroups.
	kill()
	// remove kills what is left in the cgroups and removes them once empty.
	remove() error
	// dirs are the cgroup directories, for logs and tests.
	dirs() []string
}

// jobCgroupOf returns the cgroups a job's spec names, nil when none.
func jobCgroupOf(sp *jobSpec) jobCgroup {
	switch {
	case sp.Cgroup != "":
		return cgroupV2Job{sp.Cgroup}
	case len(sp.CgroupV1) > 0:
		return cgroupV1Job{sp.CgroupV1}
	}
	return nil
}

// detectCgroups chooses the cgroup mechanism once, at start: cgroup v2 when
// delegated to rcqd, else cgroup v1; nil and the reasons when neither works.
// instance names this executor's jobs among other rcqd's on the machine.
func detectCgroups(instance string) (cgroupMode, string) {
	parent, why2 := detectCgroup()
	if parent != "" {
		return cgroupV2{parent: parent, instance: instance}, ""
	}
	m, why1 := detectCgroupV1(instance)
	if m != nil {
		m.whyNotV2 = why2
		return m, ""
	}
	return nil, "cgroup v2 unavailable: " + why2 + "; cgroup v1 unavailable: " + why1
}

// cgroupInstance names an executor's job cgroups apart from those of any
// other rcqd on the machine (tests run many at once, all with job 1): a short
// hash of its job directory.
func cgroupInstance(jobsDir string) string {
	sum := sha256.Sum256([]byte(jobsDir))
	return hex.EncodeToString(sum[:4])
}

// cgroupV2 puts each job into its own cgroup v2 <parent>/rcq-<instance>-job-<id>
// with memory.max, cpu.max and pids.max.
type cgroupV2 struct{ parent, instance string }

func (m cgroupV2) describe() string {
	return EnforceCgroup + " (" + m.parent + ": memory.max, cpu.max, pids.max)"
}

func (m cgroupV2) close() {} // rcqd's own cgroup (and its leaf rcqd) stay

func (m cgroupV2) assign(sp *jobSpec, id rcq.JobID) {
	sp.Cgroup = filepath.Join(m.parent, fmt.Sprintf("rcq-%s-job-%d", m.instance, id))
}

// cgroupV2Job is a job's cgroup v2 directory.
type cgroupV2Job struct{ path string }

func (c cgroupV2Job) dirs() []string  { return []string{c.path} }
func (c cgroupV2Job) limitsCPU() bool { return true } // cpu.max

func (c cgroupV2Job) create(s *jobSpec) error {
	if err := os.Mkdir(c.path, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	write := func(file, v string) error {
		if err := os.WriteFile(filepath.Join(c.path, file), []byte(v), 0); err != nil {
			return fmt.Errorf("set %s to %s: %w", file, v, err)
		}
		return nil
	}
	err := func() error {
		if s.MemoryBytes > 0 {
			if err := write("memory.max", strconv.FormatInt(s.MemoryBytes, 10)); err != nil {
				return err
			}
			write("memory.swap.max", "0") // absent without swap accounting
		}
		if s.CPUCores > 0 {
			if err := write("cpu.max", fmt.Sprintf("%d 100000", s.CPUCores*100000)); err != nil {
				return err
			}
		}
		if s.PidsMax > 0 {
			if err := write("pids.max", strconv.Itoa(s.PidsMax)); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		unix.Rmdir(c.path)
	}
	return err
}

// fork starts the job with clone3(CLONE_INTO_CGROUP); a kernel before 5.7
// lacks it, and the job is moved in right after the fork (it may run a few
// instructions outside).
func (c cgroupV2Job) fork(attr *syscall.SysProcAttr, fork func() (int, error)) (int, error) {
	fd, err := unix.Open(c.path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open cgroup %s: %w", c.path, err)
	}
	defer unix.Close(fd)
	attr.UseCgroupFD, attr.CgroupFD = true, fd
	pid, err := fork()
	if err != nil && (errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.E2BIG)) {
		attr.UseCgroupFD = false
		if pid, err = fork(); err == nil {
			procs := filepath.Join(c.path, "cgroup.procs")
			if werr := os.WriteFile(procs, []byte(strconv.Itoa(pid)), 0); werr != nil {
				unix.Kill(pid, unix.SIGKILL)
				var ws unix.WaitStatus
				unix.Wait4(pid, &ws, 0, nil)
				return 0, fmt.Errorf("move job into %s: %w", procs, werr)
			}
		}
	}
	return pid, err
}

// oomKilled reads the oom_kill counter of memory.events.
func (c cgroupV2Job) oomKilled() bool {
	n, _ := cgroupKeyValue(filepath.Join(c.path, "memory.events"), "oom_kill")
	return n > 0
}

func (c cgroupV2Job) usage() (float64, bool, int64) {
	usec, ok := cgroupKeyValue(filepath.Join(c.path, "cpu.stat"), "usage_usec")
	if !ok {
		return 0, false, 0
	}
	return float64(usec) / 1e6, true, readInt(filepath.Join(c.path, "memory.peak")) / 1024
}

func (c cgroupV2Job) kill() {
	os.WriteFile(filepath.Join(c.path, "cgroup.kill"), []byte("1"), 0)
}

// remove kills every process of the cgroup and removes it once empty.
func (c cgroupV2Job) remove() error {
	if err := os.WriteFile(filepath.Join(c.path, "cgroup.kill"), []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return rmdirCgroup(c.path, nil)
}

// rmdirCgroup removes an empty cgroup, waiting up to 10 s for the kernel to
// empty it; kill, when set, is called again while it is not empty (cgroup
// v1 has no cgroup.kill: a process that forked while being killed leaves a
// child behind).
func rmdirCgroup(path string, kill func()) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := unix.Rmdir(path)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", path, err)
		}
		if kill != nil {
			kill()
		}
		time.Sleep(5 * time.Millisecond) // the kernel empties a killed cgroup asynchronously
	}
}

// cgroupKeyValue reads "key value" lines of a cgroup file.
func cgroupKeyValue(path, key string) (int64, bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		if k == key {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// readInt reads a cgroup file holding one number; 0 when it cannot.
func readInt(path string) int64 {
	data, _ := os.ReadFile(path)
	n, _ := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64)
	return n
}

// allowedCPUs lists the CPUs this process may run on.
func allowedCPUs() []int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil
	}
	var cpus []int
	for i := 0; i < len(set)*64; i++ {
		if set.IsSet(i) {
			cpus = append(cpus, i)
		}
	}
	return cpus
}

// pickCPUs chooses n of the allowed CPUs, the least used first (ties: lower
// number), given how many running jobs are pinned to each.
func pickCPUs(allowed []int, used map[int]int, n int) []int {
	if n <= 0 || len(allowed) == 0 {
		return nil
	}
	if n >= len(allowed) {
		return slices.Clone(allowed)
	}
	c := slices.Clone(allowed)
	slices.SortStableFunc(c, func(a, b int) int { return used[a] - used[b] })
	c = c[:n]
	slices.Sort(c)
	return c
}

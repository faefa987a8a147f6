package executor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Enforcement modes, as Enforcement reports them.
const (
	EnforceCgroup   = "cgroup-v2"
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

// createCgroup makes a job's cgroup with its limits and returns a descriptor
// of its directory for clone3(CLONE_INTO_CGROUP).
func createCgroup(path string, s *jobSpec) (int, error) {
	if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return -1, err
	}
	write := func(file, v string) error {
		if err := os.WriteFile(filepath.Join(path, file), []byte(v), 0); err != nil {
			return fmt.Errorf("set %s to %s: %w", file, v, err)
		}
		return nil
	}
	if s.MemoryBytes > 0 {
		if err := write("memory.max", strconv.FormatInt(s.MemoryBytes, 10)); err != nil {
			return -1, err
		}
		write("memory.swap.max", "0") // absent without swap accounting
	}
	if s.CPUCores > 0 {
		if err := write("cpu.max", fmt.Sprintf("%d 100000", s.CPUCores*100000)); err != nil {
			return -1, err
		}
	}
	if s.PidsMax > 0 {
		if err := write("pids.max", strconv.Itoa(s.PidsMax)); err != nil {
			return -1, err
		}
	}
	return unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
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

// cgroupOOMKilled reports whether the OOM killer killed a process of the cgroup.
func cgroupOOMKilled(path string) bool {
	n, _ := cgroupKeyValue(filepath.Join(path, "memory.events"), "oom_kill")
	return n > 0
}

// cgroupUsage returns the CPU seconds and peak memory of a job's cgroup.
func cgroupUsage(path string) (cpuSeconds float64, peakKB int64, ok bool) {
	usec, ok := cgroupKeyValue(filepath.Join(path, "cpu.stat"), "usage_usec")
	if !ok {
		return 0, 0, false
	}
	data, _ := os.ReadFile(filepath.Join(path, "memory.peak"))
	peak, _ := strconv.ParseInt(string(bytes.TrimSpace(data)), 10, 64)
	return float64(usec) / 1e6, peak / 1024, true
}

// killCgroup kills every process of the cgroup and removes it once empty.
func killCgroup(path string) error {
	if err := os.WriteFile(filepath.Join(path, "cgroup.kill"), []byte("1"), 0); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := unix.Rmdir(path)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", path, err)
		}
		time.Sleep(5 * time.Millisecond) // the kernel empties a killed cgroup asynchronously
	}
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

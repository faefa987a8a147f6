package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Names of the files in a job directory; doc.go describes the protocol.
const (
	specFile   = "spec.json"
	pidFile    = "pid"
	jobPidFile = "job.pid"
	statusFile = "status.json"
	jobsSubdir = "jobs"
)

// jobSpec is what the executor tells a supervisor about one job.
type jobSpec struct {
	JobID       rcq.JobID `json:"job_id"`
	Restarts    int       `json:"restarts,omitempty"` // which run of the job this is (requeues before it)
	Script      string    `json:"script"`             // the text stored at submit
	Interpreter []string  `json:"interpreter"`
	Args        []string  `json:"args,omitempty"`
	Env         []string  `json:"env"`
	Dir         string    `json:"dir"`
	Stdout      string    `json:"stdout"`
	Stderr      string    `json:"stderr"` // equal to Stdout: one file for both
	Umask       rcq.Umask `json:"umask"`  // the job's and its output files'

	// Credential: when SetUser is true the job runs as UID/GID/Groups and its
	// output files are opened as that user.
	SetUser bool     `json:"set_user"`
	User    string   `json:"user,omitempty"`
	UID     uint32   `json:"uid"`
	GID     uint32   `json:"gid"`
	Groups  []uint32 `json:"groups,omitempty"`

	TimeLimit time.Duration `json:"time_limit"` // 0: none
	Grace     time.Duration `json:"grace"`

	CPUs   []int  `json:"cpus,omitempty"`   // cpuset.cpus with cgroup v1, else affinity when no cgroup
	Cgroup string `json:"cgroup,omitempty"` // absolute cgroup v2 directory to create
	// CgroupV1 are the absolute cgroup v1 directories to create, by
	// controller (memory, cpuset, pids, cpuacct); set instead of Cgroup.
	CgroupV1    map[string]string `json:"cgroup_v1,omitempty"`
	CPUCores    int               `json:"cpu_cores"`
	MemoryBytes int64             `json:"memory_bytes"` // 0: no memory limit
	PidsMax     int               `json:"pids_max"`
	LogFile     string            `json:"log_file,omitempty"`
}

// exitStatus is what a supervisor writes when its job's processes are gone.
type exitStatus struct {
	State        rcq.JobState `json:"state"`
	Reason       string       `json:"reason"`
	Detail       string       `json:"detail,omitempty"`
	ExitCode     *int         `json:"exit_code,omitempty"`
	Signal       string       `json:"signal,omitempty"`
	StartedAt    time.Time    `json:"started_at"`
	EndedAt      time.Time    `json:"ended_at"`
	CPUSeconds   float64      `json:"cpu_seconds"`
	PeakMemoryKB int64        `json:"peak_memory_kb"`
}

func (s *exitStatus) outcome(id rcq.JobID) rcq.Outcome {
	return rcq.Outcome{JobID: id, State: s.State, Reason: s.Reason, Detail: s.Detail, ExitCode: s.ExitCode,
		Signal: s.Signal, EndedAt: s.EndedAt, CPUSeconds: s.CPUSeconds, PeakMemoryKB: s.PeakMemoryKB}
}

// writeFileAtomic writes data to path so that readers see the old file or the
// whole new one: a temporary file in the same directory, then rename. It does
// not fsync: the files it writes matter while the machine runs (to a
// restarted rcqd); after a machine crash the jobs died with it anyway.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil && perm != 0o600 { // CreateTemp made it 0600
		err = tmp.Chmod(perm)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, path)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writeJSONAtomic(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data, 0o600)
}

// writeJSONNew writes v to a new file in place: for files that nobody reads
// before the writer is done with them (the spec, written before the fork).
func writeJSONNew(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func readJSON(path string, v any) error {
	data, err := readNoFollow(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// readStatus reads a job directory's exit status; os.ErrNotExist when the
// supervisor has not written it.
func readStatus(dir string) (*exitStatus, error) {
	var st exitStatus
	if err := readJSON(filepath.Join(dir, statusFile), &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// writePid writes a pid file: "<pid> <start ticks>\n". It is written in
// place; readPid treats a file without its final newline as not written yet.
func writePid(path string, pid int) error {
	start, _ := procStartTime(pid)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d %d\n", pid, start)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// readPid reads a pid file written by writePid: os.ErrNotExist when it is
// missing or not completely written.
func readPid(path string) (pid int, start uint64, err error) {
	data, err := readNoFollow(path)
	if err != nil {
		return 0, 0, err
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return 0, 0, fmt.Errorf("%s is incomplete: %w", path, os.ErrNotExist)
	}
	f := strings.Fields(string(data))
	if len(f) == 0 {
		return 0, 0, fmt.Errorf("%s is empty", path)
	}
	pid, err = strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return 0, 0, fmt.Errorf("%s: bad pid %q", path, f[0])
	}
	if len(f) > 1 {
		start, _ = strconv.ParseUint(f[1], 10, 64)
	}
	return pid, start, nil
}

// procStartTime returns a process's start time in clock ticks since boot
// (field 22 of /proc/<pid>/stat), to tell a process from a later one that
// reused its pid.
func procStartTime(pid int) (uint64, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); start time is field 22.
	if len(f) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// bootTime returns when this machine booted (btime in /proc/stat), or the
// zero time when it cannot tell.
func bootTime() time.Time {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(n, 0)
			}
		}
	}
	return time.Time{}
}

// The files of rcqd's own directories (job logs, job directories) are opened
// without following a symbolic link: whoever could plant one there must not
// make root read or write another file through it. rcqd refuses to start as
// root unless those directories are root's and closed to others (internal/
// daemon), so these are the second line.

// openDirNoFollow opens a directory, refusing a symbolic link.
func openDirNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
}

// OpenIn opens name in the held directory dir (openat) as rcqd opens its own
// files: never through a symbolic link (no path component can be swapped
// under it), without blocking on a FIFO planted there, and only a regular
// file. The daemon uses it for its state directory's files too.
func OpenIn(dir *os.File, name string, flags int, perm uint32) (*os.File, error) {
	path := filepath.Join(dir.Name(), name)
	fd, err := unix.Openat(int(dir.Fd()), name, flags|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, perm)
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("%s is a symbolic link; rcqd never follows one in its own directories: remove it", path)
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, fmt.Errorf("%s is not a regular file: remove it", path)
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, &os.PathError{Op: "fcntl", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// readNoFollow reads a whole file, refusing a symbolic link.
func readNoFollow(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// Dirs are the directories the executor writes in (the job directories'
// parent, the job logs), for rcqd to check as root.
func (e *Executor) Dirs() []string { return []string{e.jobsDir, e.cfg.LogDir} }

package srun

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/rcq"
	"golang.org/x/sys/unix"
)

// step is one srun call: what its tasks share.
type step struct {
	JobID   string
	StepID  int
	NTasks  int
	Node    string
	JobName string // -J, else the job's name
	User    string
	ArrayID string // SLURM_ARRAY_JOB_ID, else the job id
	Index   string // SLURM_ARRAY_TASK_ID, else 4294967294 as Slurm prints it
}

// newStep describes a step of the job srun runs in.
func newStep(opts *Options, stepID int) *step {
	f := opts.F
	s := &step{
		JobID:   f.Getenv("RCQ_JOB_ID"),
		StepID:  stepID,
		NTasks:  opts.NTasks,
		Node:    nodeName(f),
		JobName: opts.JobName,
		User:    f.Getenv("USER"),
		ArrayID: f.Getenv("SLURM_ARRAY_JOB_ID"),
		Index:   f.Getenv("SLURM_ARRAY_TASK_ID"),
	}
	if s.JobName == "" {
		s.JobName = f.Getenv("SLURM_JOB_NAME")
	}
	if s.User == "" {
		if u, err := user.Current(); err == nil {
			s.User = u.Username
		}
	}
	if s.ArrayID == "" {
		s.ArrayID = s.JobID
	}
	if s.Index == "" {
		s.Index = "4294967294"
	}
	return s
}

// nodeName is the job's node: RCQ_WORKER, else SLURMD_NODENAME, else the
// host name.
func nodeName(f *cli.Factory) string {
	for _, k := range []string{"RCQ_WORKER", "SLURMD_NODENAME"} {
		if v := f.Getenv(k); v != "" {
			return v
		}
	}
	h, _ := os.Hostname()
	return h
}

func shortHost(h string) string {
	s, _, _ := strings.Cut(h, ".")
	return s
}

// expand replaces srun's filename patterns in p for task (-1: none): %t task
// id, %j job id, %J job.step, %s step, %n node id (0), %N node name, %x job
// name, %u user, %A/%a array job id and index, %% a literal %, with an
// optional zero-pad width (%3t -> 007). Unknown patterns are kept as
// written; substituted values never contain '/'.
func (s *step) expand(p string, task int) string {
	return rcq.ExpandFilename(p, func(letter byte) (string, bool) {
		switch letter {
		case 't':
			return strconv.Itoa(task), task >= 0
		case 'j':
			return s.JobID, true
		case 'J':
			return s.JobID + "." + strconv.Itoa(s.StepID), true
		case 's':
			return strconv.Itoa(s.StepID), true
		case 'n':
			return "0", true
		case 'N':
			return shortHost(s.Node), true
		case 'x':
			return s.JobName, true
		case 'u':
			return s.User, true
		case 'A':
			return s.ArrayID, true
		case 'a':
			return s.Index, true
		}
		return "", false
	})
}

// env is task's environment: base filtered by --export, then Slurm's step
// and task variables.
func (s *step) env(base []string, export string, task int, cpusPerTask int) []string {
	env := exportEnv(base, export)
	n := strconv.Itoa(s.NTasks)
	gtids := make([]string, s.NTasks)
	for i := range gtids {
		gtids[i] = strconv.Itoa(i)
	}
	id, step := strconv.Itoa(task), strconv.Itoa(s.StepID)
	set := [][2]string{
		{"SLURM_STEP_ID", step},
		{"SLURM_STEPID", step},
		{"SLURM_PROCID", id},
		{"SLURM_LOCALID", id},
		{"SLURM_NODEID", "0"},
		{"SLURM_NTASKS", n},
		{"SLURM_NPROCS", n},
		{"SLURM_STEP_NUM_TASKS", n},
		{"SLURM_STEP_NUM_NODES", "1"},
		{"SLURM_STEP_NODELIST", s.Node},
		{"SLURM_STEP_TASKS_PER_NODE", n},
		{"SLURM_TASKS_PER_NODE", n},
		{"SLURM_NNODES", "1"},
		{"SLURM_JOB_NUM_NODES", "1"},
		{"SLURM_NODELIST", s.Node},
		{"SLURM_JOB_NODELIST", s.Node},
		{"SLURMD_NODENAME", s.Node},
		{"SLURM_GTIDS", strings.Join(gtids, ",")},
		{"SLURM_DISTRIBUTION", "block"},
		{"RCQ_STEP_ID", step},
		{"RCQ_TASK_ID", id},
		{"RCQ_NTASKS", n},
	}
	if cpusPerTask > 0 {
		set = append(set, [2]string{"SLURM_CPUS_PER_TASK", strconv.Itoa(cpusPerTask)})
	}
	return setEnv(env, set)
}

// setEnv replaces or appends the variables of set in env.
func setEnv(env []string, set [][2]string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, s := range set {
			if s[0] == k {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	for _, s := range set {
		out = append(out, s[0]+"="+s[1])
	}
	return out
}

// exportEnv applies --export to base: ALL (or empty) keeps it all, NONE
// keeps only SLURM_* and RCQ_* variables, a list keeps those plus the named
// ones (or everything when it starts with ALL), NAME=VALUE items set values.
func exportEnv(base []string, export string) []string {
	if export == "" || export == "ALL" {
		return append([]string(nil), base...)
	}
	items := splitExport(export)
	all := items[0] == "ALL"
	if items[0] == "ALL" || items[0] == "NONE" {
		items = items[1:]
	}
	named := map[string]bool{}
	var set [][2]string
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if ok {
			set = append(set, [2]string{k, v})
		} else {
			named[k] = true
		}
	}
	var env []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if all || named[k] || strings.HasPrefix(k, "SLURM_") || strings.HasPrefix(k, "RCQ_") {
			env = append(env, kv)
		}
	}
	return setEnv(env, set)
}

// nextStepID numbers the job's steps 0, 1, 2... as Slurm does, with a
// counter in a file of the temporary directory that only the job's user
// owns, named for the job and its start time (a restarted rcqd may reuse
// job ids). Without a usable file every step is 0.
func nextStepID(f *cli.Factory) int {
	name := fmt.Sprintf("rcq-steps-%d-%s-%s", os.Geteuid(), f.Getenv("RCQ_JOB_ID"), f.Getenv("SLURM_JOB_START_TIME"))
	for _, dir := range []string{f.Getenv("TMPDIR"), "/tmp"} {
		if dir == "" {
			continue
		}
		if id, ok := countStep(filepath.Join(dir, name)); ok {
			return id
		}
	}
	return 0
}

// countStep returns the number in the counter file path (0 when new) and
// stores the next one; false when the file cannot be used: it is not a
// regular file of this user's.
func countStep(path string) (int, bool) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Uid != uint32(os.Geteuid()) || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return 0, false
	}
	if unix.Flock(fd, unix.LOCK_EX) != nil {
		return 0, false
	}
	buf := make([]byte, 32)
	n, err := unix.Pread(fd, buf, 0)
	if err != nil || n < 0 {
		n = 0
	}
	id, _ := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if unix.Ftruncate(fd, 0) != nil {
		return id, true
	}
	unix.Pwrite(fd, []byte(strconv.Itoa(id+1)+"\n"), 0)
	return id, true
}

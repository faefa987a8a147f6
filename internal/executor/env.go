package executor

import (
	"bufio"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/rcq"
)

// secretEnv lists variables that may hold a daemon secret. They are removed
// from a job's environment even when the submitter's shell had them.
var secretEnv = []string{
	"DATABASE_URL", "RCQ_DATABASE_URL", "PGPASSWORD", "PGPASSFILE",
	"JWT_SECRET", "RCQ_JWT_SECRET", "RCQ_AUTH_JWT_SECRET", "RCQ_JWT_SECRET_FILE",
	"RCQ_ADMIN_PASSWORD", "RCQ_ADMIN_PASSWORD_FILE",
}

// isSecretEnv reports whether the variable k must never reach a job: the
// names above, and any RCQ_ variable naming a secret, password or database.
func isSecretEnv(k string) bool {
	if slices.Contains(secretEnv, k) {
		return true
	}
	if !strings.HasPrefix(k, "RCQ_") {
		return false
	}
	return strings.Contains(k, "SECRET") || strings.Contains(k, "PASSWORD") || strings.Contains(k, "DATABASE")
}

// jobEnv is the environment of j's script without the start and end times
// (the supervisor adds those): the captured environment, minus secrets and
// the variables rcq sets, plus rcq's and Slurm's job variables.
func jobEnv(j *rcq.Job) []string {
	id := strconv.FormatInt(int64(j.ID), 10)
	cpus := strconv.Itoa(j.Resources.CPUCores)
	gpus := make([]string, len(j.GPUIndices))
	for i, g := range j.GPUIndices {
		gpus[i] = strconv.Itoa(g)
	}
	gpuList := strings.Join(gpus, ",")
	limit := strconv.FormatInt(int64(j.TimeLimit().Seconds()), 10)
	set := [][2]string{
		{"RCQ_JOB_ID", id},
		{"RCQ_JOB_NAME", j.Name},
		{"RCQ_SUBMIT_DIR", j.WorkingDir},
		{"RCQ_CPUS", cpus},
		{"RCQ_MEM_GB", strconv.Itoa(j.Resources.MemoryGB)},
		{"RCQ_GPUS", strconv.Itoa(j.Resources.GPUs)},
		{"RCQ_WORKER", j.WorkerName},
		{"RCQ_TIME_LIMIT_SECONDS", limit},
		{"CUDA_VISIBLE_DEVICES", gpuList},
		{"SLURM_JOB_ID", id},
		{"SLURM_JOBID", id},
		{"SLURM_JOB_NAME", j.Name},
		{"SLURM_CPUS_PER_TASK", cpus},
		{"SLURM_CPUS_ON_NODE", cpus},
		{"SLURM_SUBMIT_DIR", j.WorkingDir},
		{"SLURM_MEM_PER_NODE", strconv.Itoa(j.Resources.MemoryGB * 1024)},
		{"SLURM_JOB_GPUS", gpuList},
		{"SLURM_JOB_NUM_NODES", "1"},
		{"SLURM_NNODES", "1"},
		{"SLURM_NTASKS", "1"},
	}
	set = append(set, arrayEnv(j)...)
	ours := func(k string) bool {
		if k == "SLURM_JOB_START_TIME" || k == "SLURM_JOB_END_TIME" {
			return true
		}
		// A job submitted from inside an array element must not look like
		// one: the array variables are only ever rcq's own.
		if strings.HasPrefix(k, "SLURM_ARRAY_") || strings.HasPrefix(k, "RCQ_ARRAY_") {
			return true
		}
		for _, kv := range set {
			if kv[0] == k {
				return true
			}
		}
		return false
	}
	env := make([]string, 0, len(j.Env)+len(set)+2)
	for _, kv := range j.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || isSecretEnv(k) || ours(k) {
			continue
		}
		env = append(env, kv)
	}
	for _, kv := range set {
		env = append(env, kv[0]+"="+kv[1])
	}
	return env
}

// arrayEnv is the environment of an array element, as Slurm sets it, with
// rcq's names alongside: the array's id, the element's index, and the
// array's element count, smallest and largest index and step.
func arrayEnv(j *rcq.Job) [][2]string {
	a := j.Array
	if a == nil || a.TaskID == nil {
		return nil
	}
	vals := [][2]string{
		{"JOB_ID", strconv.FormatInt(int64(a.ID), 10)},
		{"TASK_ID", strconv.Itoa(*a.TaskID)},
		{"TASK_COUNT", strconv.Itoa(a.Count)},
		{"TASK_MIN", strconv.Itoa(a.Min)},
		{"TASK_MAX", strconv.Itoa(a.Max)},
		{"TASK_STEP", strconv.Itoa(a.Step)},
	}
	out := make([][2]string, 0, 2*len(vals))
	for _, v := range vals {
		out = append(out, [2]string{"SLURM_ARRAY_" + v[0], v[1]}, [2]string{"RCQ_ARRAY_" + v[0], v[1]})
	}
	return out
}

// interpreter returns the command that runs script: its shebang's interpreter
// and optional argument (as the kernel reads them), or /bin/bash.
func interpreter(script string) []string {
	if !strings.HasPrefix(script, "#!") {
		return []string{"/bin/bash"}
	}
	line, _, _ := strings.Cut(script[2:], "\n")
	line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
	if line == "" {
		return []string{"/bin/bash"}
	}
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return []string{line}
	}
	arg := strings.TrimSpace(line[i:])
	if arg == "" {
		return []string{line[:i]}
	}
	return []string{line[:i], arg}
}

// safePath is the PATH of a job whose environment has none (--export=NONE).
const safePath = "/usr/local/bin:/usr/bin:/bin"

// loginEnv adds to env what login(1) would set and the submitted environment
// lacks (--export=NONE sends nothing): HOME, USER, LOGNAME and SHELL of the
// Unix user name the job runs as, and a safe PATH. Variables the submitter
// sent are kept as they are.
func loginEnv(env []string, name string) []string {
	missing := map[string]bool{"HOME": true, "USER": true, "LOGNAME": true, "SHELL": true, "PATH": true}
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		delete(missing, k)
	}
	if len(missing) == 0 {
		return env // the usual case (--export=ALL): no passwd lookups at launch
	}
	home, shell := "/", "/bin/sh"
	if missing["HOME"] {
		if u, err := user.Lookup(name); err == nil && u.HomeDir != "" {
			home = u.HomeDir
		}
	}
	if missing["SHELL"] {
		if sh := loginShell(name); sh != "" {
			shell = sh
		}
	}
	for _, kv := range [][2]string{{"HOME", home}, {"USER", name}, {"LOGNAME", name}, {"SHELL", shell}, {"PATH", safePath}} {
		if missing[kv[0]] {
			env = append(env, kv[0]+"="+kv[1])
		}
	}
	return env
}

// loginShell is name's shell from /etc/passwd, or "" when it has none there.
func loginShell(name string) string {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) == 7 && fields[0] == name {
			return fields[6]
		}
	}
	return ""
}

// compatPath puts dir (rcq's Slurm-compatibility directory) first on env's
// PATH, once: a script's srun is then rcq's even where a Slurm client is
// installed. An empty dir leaves env as it is.
func compatPath(env []string, dir string) []string {
	if dir == "" {
		return env
	}
	for i, kv := range env {
		v, ok := strings.CutPrefix(kv, "PATH=")
		if !ok {
			continue
		}
		parts := []string{dir}
		for p := range strings.SplitSeq(v, ":") {
			if p != dir {
				parts = append(parts, p)
			}
		}
		env[i] = "PATH=" + strings.Join(parts, ":")
		return env
	}
	return append(env, "PATH="+dir+":"+safePath)
}

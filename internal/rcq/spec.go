package rcq

import (
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// JobSpec is what a user asks for when submitting a job. Pointer fields are
// optional: nil takes the default.
type JobSpec struct {
	Name           string
	Script         string
	Args           []string
	WorkingDir     string
	Env            []string
	CPUCores       *int
	MemoryGB       *int
	GPUs           *int
	EstimatedHours *float64
	// Unlimited asks for the most time the server allows (sbatch
	// --time=UNLIMITED): the job gets Limits.MaxEstimatedHours.
	Unlimited    bool
	Priority     *int
	Output       string
	Error        string
	Dependencies []Dependency
	Hold         bool
	Umask        string // octal, as umask(1) prints it; "" for DefaultUmask
	Array        string // sbatch --array: "" for an ordinary job
	// Requeue: put the job back in the queue (once) when its node fails
	// (sbatch --requeue); false never; nil the default.
	Requeue *bool
}

// Limits bound what one request may ask for, so that no account can make
// rcqd hold more than these allow. The daemon's configuration fills it.
type Limits struct {
	DefaultEstimatedHours float64
	MaxEstimatedHours     float64
	MaxScriptBytes        int
	MaxCPUCores           int // far above any machine: stops overflow, not fit
	MaxMemoryGB           int
	MaxGPUs               int
	DefaultMemoryGB       int // memory of a job that asks for none or for 0: a job always has a limit
	MaxPathBytes          int // working directory, output and error paths
	MaxNameBytes          int
	MaxDependencies       int // per job
	MaxBatchesPerUser     int // batch submits one account may have in flight
	MaxBatches            int // batch submits in flight in all (each may hold a database connection)
	MaxPageSize           int // most jobs in one page of GET /api/jobs or /api/queue
	MaxArraySize          int // most elements of one job array (jobs.max_array_size)
}

// DefaultLimits are the limits with no configuration.
var DefaultLimits = Limits{
	DefaultEstimatedHours: 1,
	MaxEstimatedHours:     24 * 30,
	MaxScriptBytes:        1 << 20,
	MaxCPUCores:           1 << 16,
	MaxMemoryGB:           1 << 24,
	MaxGPUs:               1 << 10,
	DefaultMemoryGB:       1,
	MaxPathBytes:          4096, // PATH_MAX
	MaxNameBytes:          200,
	MaxDependencies:       100,
	MaxBatchesPerUser:     2,
	MaxBatches:            5, // half of the default database.max_conns
	MaxPageSize:           10_000,
	MaxArraySize:          DefaultMaxArraySize,
}

// Validate checks the spec against lim and returns the job it describes, with
// defaults filled in. Errors name the field and the accepted form.
func (s *JobSpec) Validate(lim Limits) (*Job, error) {
	j := &Job{
		Name:           strings.TrimSpace(s.Name),
		Script:         s.Script,
		Args:           s.Args,
		WorkingDir:     s.WorkingDir,
		Env:            s.Env,
		Resources:      Resources{CPUCores: 1, MemoryGB: lim.DefaultMemoryGB},
		EstimatedHours: lim.DefaultEstimatedHours,
		Priority:       1,
		State:          JobPending,
		Output:         s.Output,
		Error:          s.Error,
		Dependencies:   s.Dependencies,
		Requeue:        s.Requeue,
	}
	if s.Hold {
		j.Hold = HoldUser
	}
	if s.Array != "" || s.Array != strings.TrimSpace(s.Array) {
		spec, err := ParseArraySpec(s.Array, lim.MaxArraySize)
		if err != nil {
			msg := err.Error()
			if !strings.Contains(msg, ArrayForm) {
				msg += "; use " + ArrayForm
			}
			return nil, Errorf(KindInvalid, "invalid_array", "array: %s, at most %d elements", msg, lim.MaxArraySize)
		}
		j.Array = NewJobArray(spec)
	}
	umask, err := ParseUmask(s.Umask)
	if err != nil {
		return nil, err
	}
	j.Umask = umask
	if strings.TrimSpace(s.Script) == "" {
		return nil, Invalid("script", "must not be empty")
	}
	if len(s.Script) > lim.MaxScriptBytes {
		return nil, Invalid("script", "is %d bytes; the limit is %d bytes", len(s.Script), lim.MaxScriptBytes)
	}
	if !utf8.ValidString(s.Script) || strings.ContainsRune(s.Script, 0) {
		return nil, Invalid("script", "must be UTF-8 text without NUL bytes")
	}
	if err := lim.CheckJobName(j.Name); err != nil {
		return nil, err
	}
	if s.CPUCores != nil {
		if err := lim.CPUCoresRange().Check(*s.CPUCores); err != nil {
			return nil, err
		}
		j.Resources.CPUCores = *s.CPUCores
	}
	if s.MemoryGB != nil {
		if r := lim.MemoryGBRange(); !r.Contains(*s.MemoryGB) {
			return nil, Invalid("memory_gb", "must be a whole number of gigabytes from %d to %d (0: the default, %d)", r.Min, r.Max, lim.DefaultMemoryGB)
		}
		if *s.MemoryGB > 0 { // 0 is the default, never "no limit"
			j.Resources.MemoryGB = *s.MemoryGB
		}
	}
	if s.GPUs != nil {
		if err := lim.GPUsRange().Check(*s.GPUs); err != nil {
			return nil, err
		}
		j.Resources.GPUs = *s.GPUs
	}
	if s.Unlimited {
		if s.EstimatedHours != nil {
			return nil, Invalid("time_limit", "give estimated_hours or time_limit %q, not both", Unlimited)
		}
		j.EstimatedHours = lim.MaxEstimatedHours
	}
	if s.EstimatedHours != nil {
		if err := lim.CheckEstimatedHours(*s.EstimatedHours); err != nil {
			return nil, err
		}
		j.EstimatedHours = *s.EstimatedHours
	}
	if s.Priority != nil {
		if err := PriorityRange.Check(*s.Priority); err != nil {
			return nil, err
		}
		j.Priority = *s.Priority
	}
	for _, p := range []struct{ field, v string }{{"working_dir", s.WorkingDir}, {"output", s.Output}, {"error", s.Error}} {
		if err := lim.CheckPath(p.field, p.v); err != nil {
			return nil, err
		}
	}
	if s.WorkingDir != "" && !filepath.IsAbs(s.WorkingDir) {
		return nil, Invalid("working_dir", "must be an absolute path")
	}
	for _, kv := range s.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.ContainsRune(kv, 0) {
			return nil, Invalid("env", "entries must be KEY=value without NUL bytes")
		}
	}
	for _, a := range s.Args {
		if strings.ContainsRune(a, 0) {
			return nil, Invalid("args", "must not contain NUL bytes")
		}
	}
	if len(s.Dependencies) > lim.MaxDependencies {
		return nil, Invalid("dependencies", "at most %d per job, got %d", lim.MaxDependencies, len(s.Dependencies))
	}
	for _, d := range s.Dependencies {
		if !ValidDependencyType(d.Type) {
			return nil, Invalid("dependencies", "type %q: use "+DependencyTypes, d.Type)
		}
		if d.JobID <= 0 {
			return nil, Invalid("dependencies", "job_id must be a positive job id")
		}
	}
	return j, nil
}

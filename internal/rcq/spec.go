package rcq

import (
	"math"
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
	Priority       *int
	Output         string
	Error          string
	Dependencies   []Dependency
	Hold           bool
	Umask          string // octal, as umask(1) prints it; "" for DefaultUmask
}

// Limits bound what a submit may ask for. The daemon's configuration fills it.
type Limits struct {
	DefaultEstimatedHours float64
	MaxEstimatedHours     float64
	MaxScriptBytes        int
	MaxCPUCores           int // far above any machine: stops overflow, not fit
	MaxMemoryGB           int
	MaxGPUs               int
}

// DefaultLimits are the limits with no configuration.
var DefaultLimits = Limits{
	DefaultEstimatedHours: 1,
	MaxEstimatedHours:     24 * 30,
	MaxScriptBytes:        1 << 20,
	MaxCPUCores:           1 << 16,
	MaxMemoryGB:           1 << 24,
	MaxGPUs:               1 << 10,
}

const maxNameLen = 200

// Validate checks the spec against lim and returns the job it describes, with
// defaults filled in. Errors name the field and the accepted form.
func (s *JobSpec) Validate(lim Limits) (*Job, error) {
	j := &Job{
		Name:           strings.TrimSpace(s.Name),
		Script:         s.Script,
		Args:           s.Args,
		WorkingDir:     s.WorkingDir,
		Env:            s.Env,
		Resources:      Resources{CPUCores: 1, MemoryGB: 1},
		EstimatedHours: lim.DefaultEstimatedHours,
		Priority:       1,
		State:          JobPending,
		Output:         s.Output,
		Error:          s.Error,
		Dependencies:   s.Dependencies,
	}
	if s.Hold {
		j.Hold = HoldUser
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
	if len(j.Name) > maxNameLen || strings.ContainsAny(j.Name, "\x00\n\r\t/") {
		return nil, Invalid("name", "must be at most %d characters, without '/' or control characters", maxNameLen)
	}
	if s.CPUCores != nil {
		if *s.CPUCores < 1 || *s.CPUCores > lim.MaxCPUCores {
			return nil, Invalid("cpu_cores", "must be a whole number from 1 to %d", lim.MaxCPUCores)
		}
		j.Resources.CPUCores = *s.CPUCores
	}
	if s.MemoryGB != nil {
		if *s.MemoryGB < 0 || *s.MemoryGB > lim.MaxMemoryGB {
			return nil, Invalid("memory_gb", "must be a whole number of gigabytes from 0 to %d", lim.MaxMemoryGB)
		}
		j.Resources.MemoryGB = *s.MemoryGB
	}
	if s.GPUs != nil {
		if *s.GPUs < 0 || *s.GPUs > lim.MaxGPUs {
			return nil, Invalid("gpu_count", "must be a whole number from 0 to %d", lim.MaxGPUs)
		}
		j.Resources.GPUs = *s.GPUs
	}
	if s.EstimatedHours != nil {
		h := *s.EstimatedHours
		if math.IsNaN(h) || h <= 0 || h > lim.MaxEstimatedHours {
			return nil, Invalid("estimated_hours", "must be more than 0 and at most %g hours", lim.MaxEstimatedHours)
		}
		j.EstimatedHours = h
	}
	if s.Priority != nil {
		if *s.Priority < 1 || *s.Priority > 10 {
			return nil, Invalid("priority", "must be a whole number from 1 to 10")
		}
		j.Priority = *s.Priority
	}
	if s.WorkingDir != "" && (!filepath.IsAbs(s.WorkingDir) || strings.ContainsRune(s.WorkingDir, 0)) {
		return nil, Invalid("working_dir", "must be an absolute path without NUL")
	}
	for _, p := range []struct{ field, v string }{{"output", s.Output}, {"error", s.Error}} {
		if strings.ContainsRune(p.v, 0) || len(p.v) > 4096 {
			return nil, Invalid(p.field, "must be a path of at most 4096 bytes without NUL")
		}
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
	for _, d := range s.Dependencies {
		if d.Type != AfterOK && d.Type != AfterAny && d.Type != AfterNotOK {
			return nil, Invalid("dependencies", "type %q: use afterok, afterany or afternotok", d.Type)
		}
		if d.JobID <= 0 {
			return nil, Invalid("dependencies", "job_id must be a positive job id")
		}
	}
	return j, nil
}

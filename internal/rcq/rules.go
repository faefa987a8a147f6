package rcq

import (
	"fmt"
	"math"
	"strings"
)

// The domain's bounds, each stated once. rcqd's API (submit, update, the
// admin routes), the CLIs (rcq-submit, rcq-control, rcq-admin) and the
// configuration (workers:) check them here; the schema's CHECK constraints
// (internal/store/migrations) mirror the same bounds as the last line of
// defence, and TestSchemaMirrorsRules (internal/store) holds the two together.

// IntRange is the accepted range of a whole-number field.
type IntRange struct {
	Field    string // the field as the API names it, e.g. "priority"
	Min, Max int
}

// String is the accepted form, as messages give it: "a whole number from 1 to 10".
func (r IntRange) String() string {
	return fmt.Sprintf("a whole number from %d to %d", r.Min, r.Max)
}

// Contains reports whether n is within r.
func (r IntRange) Contains(n int) bool { return n >= r.Min && n <= r.Max }

// Check returns an invalid_<field> error naming the accepted form when n is
// outside r.
func (r IntRange) Check(n int) error {
	if !r.Contains(n) {
		return Invalid(r.Field, "must be %s", r)
	}
	return nil
}

// PriorityRange bounds a job's priority and a group's (sbatch --priority,
// rcq-admin groups --priority); the schema's CHECK (priority BETWEEN 1 AND 10)
// mirrors it.
var PriorityRange = IntRange{Field: "priority", Min: 1, Max: 10}

// CPUCoresRange bounds the cores a job asks for or a worker has: at least
// one; the most stops overflow, not fit.
func (l Limits) CPUCoresRange() IntRange { return IntRange{"cpu_cores", 1, l.MaxCPUCores} }

// MemoryGBRange bounds a job's or a worker's memory in whole gigabytes. A
// job's 0 means the configured default (DefaultMemoryGB), a worker's 0 that
// memory is not counted.
func (l Limits) MemoryGBRange() IntRange { return IntRange{"memory_gb", 0, l.MaxMemoryGB} }

// GPUsRange bounds the GPUs a job asks for or a worker has.
func (l Limits) GPUsRange() IntRange { return IntRange{"gpu_count", 0, l.MaxGPUs} }

// CheckCapacity checks a worker's size (POST /api/admin/workers, the
// configuration's workers:) against l's bounds.
func (l Limits) CheckCapacity(r Resources) error {
	if err := l.CPUCoresRange().Check(r.CPUCores); err != nil {
		return err
	}
	if err := l.MemoryGBRange().Check(r.MemoryGB); err != nil {
		return err
	}
	return l.GPUsRange().Check(r.GPUs)
}

// Unlimited is the time limit that asks for the most the server allows
// (sbatch --time=UNLIMITED): rcqd gives such a job its configured
// MaxEstimatedHours. On the wire it is "time_limit": "unlimited".
const Unlimited = "unlimited"

// CheckEstimatedHours checks a job's time limit in hours: more than 0, at
// most l.MaxEstimatedHours.
func (l Limits) CheckEstimatedHours(h float64) error {
	if math.IsNaN(h) || h <= 0 || h > l.MaxEstimatedHours {
		return Invalid("estimated_hours", "must be more than 0 and at most %g hours", l.MaxEstimatedHours)
	}
	return nil
}

// CheckJobName checks a job's name (already trimmed): at most
// l.MaxNameBytes bytes, no '/' (it goes into output file names) and no
// control characters. An empty name is allowed: rcq names the job after
// its script.
func (l Limits) CheckJobName(name string) error {
	if len(name) > l.MaxNameBytes || strings.ContainsAny(name, "\x00\n\r\t/") {
		return Invalid("name", "must be at most %d bytes, without '/' or control characters", l.MaxNameBytes)
	}
	return nil
}

// CheckPath checks a path a job names (working_dir, output, error): at most
// l.MaxPathBytes bytes, no NUL.
func (l Limits) CheckPath(field, p string) error {
	if len(p) > l.MaxPathBytes {
		return Invalid(field, "is %d bytes; a path may be at most %d bytes", len(p), l.MaxPathBytes)
	}
	if strings.ContainsRune(p, 0) {
		return Invalid(field, "must be a path without NUL bytes")
	}
	return nil
}

// MaxGroupNameBytes bounds a group's name; the schema's CHECK
// (length(name) <= 100) mirrors it.
const MaxGroupNameBytes = 100

// CheckGroupName checks a new group's name (already trimmed): 1 to 100
// characters.
func CheckGroupName(name string) error {
	if name == "" || len(name) > MaxGroupNameBytes {
		return Invalid("name", "must be 1 to %d characters", MaxGroupNameBytes)
	}
	return nil
}

// MaxCPUQuota bounds a group's quota in CPU-hours per fair-share window;
// CPUQuotaRange says it in words.
const (
	MaxCPUQuota   = 1e12
	CPUQuotaRange = "a number of CPU-hours from 0 to 1e12"
)

// CheckCPUQuota checks a group's quota: 0 to MaxCPUQuota CPU-hours.
func CheckCPUQuota(q float64) error {
	if math.IsNaN(q) || q < 0 || q > MaxCPUQuota {
		return Invalid("cpu_quota", "must be "+CPUQuotaRange)
	}
	return nil
}

// MaxWorkerNameBytes bounds a worker's name; the schema's CHECK
// (length(name) <= 100) mirrors it.
const MaxWorkerNameBytes = 100

// CheckWorkerName checks a worker's name: 1 to MaxWorkerNameBytes bytes,
// without spaces, '/', ',' (Slurm's node lists) or control characters.
func CheckWorkerName(name string) error {
	ok := name != "" && len(name) <= MaxWorkerNameBytes
	for _, r := range name {
		if r <= ' ' || r == 0x7f || r == '/' || r == ',' {
			ok = false
		}
	}
	if !ok {
		return Invalid("name", "must be 1 to %d characters without spaces, '/', ',' or control characters", MaxWorkerNameBytes)
	}
	return nil
}

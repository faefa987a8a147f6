package plan

import (
	"math"
	"slices"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/jsonappend"
)

// appendRequest appends r as json.Marshal writes it, byte for byte
// (TestAppendRequestMatchesEncodingJSON): rcq-submit's start-up path sends
// it without encoding/json's reflection, whose first use cost every submit
// more than the rest of its encoding. ok is false for what json.Marshal
// refuses (a NaN or infinite estimate).
func appendRequest(b []byte, r *apitype.SubmitRequest) (_ []byte, ok bool) {
	o := jsonappend.Open(b, true)
	o.String("script", r.Script)
	if r.Name != "" {
		o.String("name", r.Name)
	}
	if len(r.Args) > 0 {
		o.Key("args")
		o.B = appendStrings(o.B, r.Args)
	}
	if r.WorkingDir != "" {
		o.String("working_dir", r.WorkingDir)
	}
	if len(r.Env) > 0 {
		o.Key("env")
		keys := make([]string, 0, len(r.Env))
		for k := range r.Env {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		o.B = append(o.B, '{')
		for i, k := range keys {
			if i > 0 {
				o.B = append(o.B, ',')
			}
			o.B = jsonappend.String(o.B, k, true)
			o.B = append(o.B, ':')
			o.B = jsonappend.String(o.B, r.Env[k], true)
		}
		o.B = append(o.B, '}')
	}
	intPtr(&o, "cpu_cores", r.CPUCores)
	intPtr(&o, "memory_gb", r.MemoryGB)
	intPtr(&o, "gpu_count", r.GPUCount)
	if r.EstimatedHours != nil {
		if math.IsNaN(*r.EstimatedHours) || math.IsInf(*r.EstimatedHours, 0) {
			return b, false
		}
		o.Float("estimated_hours", *r.EstimatedHours)
	}
	intPtr(&o, "priority", r.Priority)
	if r.Output != "" {
		o.String("output", r.Output)
	}
	if r.Error != "" {
		o.String("error", r.Error)
	}
	if len(r.Dependencies) > 0 {
		o.Key("dependencies")
		o.B = append(o.B, '[')
		for i, d := range r.Dependencies {
			if i > 0 {
				o.B = append(o.B, ',')
			}
			do := jsonappend.Open(o.B, true)
			do.String("type", d.Type)
			do.Int("job_id", d.JobID)
			if d.ArrayTaskID != nil {
				do.Int("array_task_id", int64(*d.ArrayTaskID))
			}
			if d.State != "" {
				do.String("state", d.State)
			}
			o.B = do.Close()
		}
		o.B = append(o.B, ']')
	}
	if r.Hold {
		o.Bool("hold", true)
	}
	if r.Umask != "" {
		o.String("umask", r.Umask)
	}
	if r.Array != "" {
		o.String("array", r.Array)
	}
	if r.TimeLimit != "" {
		o.String("time_limit", r.TimeLimit)
	}
	if r.Requeue != nil {
		o.Bool("requeue", *r.Requeue)
	}
	return o.Close(), true
}

func intPtr(o *jsonappend.Object, k string, v *int) {
	if v != nil {
		o.Int(k, int64(*v))
	}
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonappend.String(b, s, true)
	}
	return append(b, ']')
}

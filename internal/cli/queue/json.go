package queue

import (
	"strconv"
	"time"

	"github.com/rcq-project/rcq/internal/jsonappend"
)

// appendOutput appends out as encoding/json encodes it without HTML
// escaping (cli.PrintJSON's compact form, before indenting). Written for
// Row: encoding/json's reflection was most of rcq-queue --json's time at
// 10,000 jobs (docs/performance.md); TestOutputJSONMatchesEncodingJSON
// holds it to encoding/json's bytes.
func appendOutput(b []byte, out *Output) []byte {
	b = append(b, `{"jobs":[`...)
	for i := range out.Jobs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRow(b, &out.Jobs[i])
	}
	b = append(b, `],"count":`...)
	b = strconv.AppendInt(b, int64(out.Count), 10)
	b = append(b, `,"now":`...)
	b = jsonappend.Time(b, out.Now)
	return append(b, '}')
}

func appendRow(b []byte, r *Row) []byte {
	str := func(k, v string) {
		b = append(b, k...)
		b = jsonappend.String(b, v, false)
	}
	num := func(k string, v int64) {
		b = append(b, k...)
		b = strconv.AppendInt(b, v, 10)
	}
	b = strconv.AppendInt(append(b, `{"id":`...), r.ID, 10)
	str(`,"name":`, r.Name)
	str(`,"user":`, r.User)
	if r.UnixUser != "" {
		str(`,"unix_user":`, r.UnixUser)
	}
	num(`,"group_id":`, r.GroupID)
	str(`,"state":`, r.State)
	str(`,"state_code":`, r.StateCode)
	b = strconv.AppendBool(append(b, `,"own":`...), r.Own)
	num(`,"cpu_cores":`, int64(r.CPUCores))
	num(`,"memory_gb":`, int64(r.MemoryGB))
	num(`,"gpu_count":`, int64(r.GPUCount))
	if r.TimeLimitHours != 0 {
		b = jsonappend.Float(append(b, `,"time_limit_hours":`...), r.TimeLimitHours)
	}
	num(`,"elapsed_seconds":`, r.ElapsedSeconds)
	if r.Priority != 0 {
		num(`,"priority":`, int64(r.Priority))
	}
	if p := r.Computed; p != nil {
		b = jsonappend.Float(append(b, `,"computed_priority":{"base":`...), p.Base)
		b = jsonappend.Float(append(b, `,"fair_share":`...), p.FairShare)
		b = jsonappend.Float(append(b, `,"wait_boost":`...), p.WaitBoost)
		b = jsonappend.Float(append(b, `,"final":`...), p.Final)
		b = append(b, '}')
	}
	if r.Rank != 0 {
		num(`,"rank":`, int64(r.Rank))
	}
	if r.Reason != "" {
		str(`,"reason":`, r.Reason)
	}
	if r.ReasonDetail != "" {
		str(`,"reason_detail":`, r.ReasonDetail)
	}
	if r.Worker != "" {
		str(`,"worker":`, r.Worker)
	}
	if len(r.GPUIndices) > 0 {
		b = append(b, `,"gpu_indices":[`...)
		for i, g := range r.GPUIndices {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(g), 10)
		}
		b = append(b, ']')
	}
	for _, t := range []struct {
		k string
		v *time.Time
	}{{`,"submitted_at":`, r.SubmittedAt}, {`,"started_at":`, r.StartedAt}, {`,"completed_at":`, r.CompletedAt}, {`,"expected_start":`, r.ExpectedStart}} {
		if t.v != nil {
			b = jsonappend.Time(append(b, t.k...), *t.v)
		}
	}
	if r.ExitCode != nil {
		num(`,"exit_code":`, int64(*r.ExitCode))
	}
	if r.ArrayJobID != nil {
		num(`,"array_job_id":`, *r.ArrayJobID)
	}
	if r.ArrayTaskID != nil {
		num(`,"array_task_id":`, int64(*r.ArrayTaskID))
	}
	if r.ArrayTasks != "" {
		str(`,"array_tasks":`, r.ArrayTasks)
	}
	if r.ArrayThrottle != 0 {
		num(`,"array_throttle":`, int64(r.ArrayThrottle))
	}
	return append(b, '}')
}

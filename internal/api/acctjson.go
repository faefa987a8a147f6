package api

import (
	"slices"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/jsonappend"
	"github.com/rcq-project/rcq/internal/rcq"
)

// acctFields are the keys of an accounting row (apitype.AcctJob), in its
// order; GET /api/acct?fields=a,b,... sends only those (sacct's default
// columns need a fifth of a row's bytes: not its paths).
var acctFields = []string{"id", "user", "unix_user", "group_id", "group", "name", "status", "working_dir", "cpu_cores",
	"memory_gb", "gpu_count", "estimated_hours", "reason", "reason_detail", "submitted_at", "started_at", "completed_at",
	"exit_code", "signal", "worker", "cpu_seconds", "peak_memory_kb", "output", "error",
	"array_job_id", "array_task_id", "array_tasks", "array_throttle"}

// parseAcctFields reads ?fields= for GET /api/acct ("": every key).
func parseAcctFields(s string) (fieldSet, error) {
	if s == "" {
		return nil, nil
	}
	f := make(fieldSet, len(acctFields))
	for _, name := range strings.Split(s, ",") {
		i := slices.Index(acctFields, strings.TrimSpace(name))
		if i < 0 {
			return nil, rcq.Invalid("fields", "%q is not a field of an accounting row: use a comma-separated list of %s", name, strings.Join(acctFields, ", "))
		}
		f[i] = true
	}
	return f, nil
}

// appendAcct appends l as json.Encoder encodes it, keeping only the row
// keys of fields (see appendQueue; TestAcctJSONMatchesEncodingJSON).
func appendAcct(b []byte, l *apitype.AcctList, fields fieldSet) []byte {
	b = append(b, `{"jobs":[`...)
	for i := range l.Jobs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendAcctJob(b, &l.Jobs[i], fields)
	}
	return appendAcctEnd(b, l.Count, l.Next)
}

// appendAcctEnd closes the rows and appends the page's count and cursor.
func appendAcctEnd(b []byte, count int, next string) []byte {
	return jsonappend.PageEnd(b, count, nil, next)
}

func appendAcctJob(b []byte, j *apitype.AcctJob, f fieldSet) []byte {
	o := jsonappend.Open(b, true)
	str := func(i int, k, v string, omitEmpty bool) {
		if f.has(i) && (v != "" || !omitEmpty) {
			o.String(k, v)
		}
	}
	num := func(i int, k string, v int64) {
		if f.has(i) {
			o.Int(k, v)
		}
	}
	num(0, "id", j.ID)
	str(1, "user", j.User, false)
	str(2, "unix_user", j.UnixUser, true)
	num(3, "group_id", j.GroupID)
	str(4, "group", j.Group, false)
	str(5, "name", j.Name, false)
	str(6, "status", j.Status, false)
	str(7, "working_dir", j.WorkingDir, false)
	num(8, "cpu_cores", int64(j.CPUCores))
	num(9, "memory_gb", int64(j.MemoryGB))
	num(10, "gpu_count", int64(j.GPUCount))
	if f.has(11) {
		o.Float("estimated_hours", j.EstimatedHours)
	}
	str(12, "reason", j.Reason, true)
	str(13, "reason_detail", j.ReasonDetail, true)
	if f.has(14) {
		o.Time("submitted_at", j.SubmittedAt)
	}
	if f.has(15) {
		o.TimeOrNull("started_at", j.StartedAt)
	}
	if f.has(16) {
		o.TimeOrNull("completed_at", j.CompletedAt)
	}
	if f.has(17) {
		if j.ExitCode == nil {
			o.Key("exit_code")
			o.B = append(o.B, "null"...)
		} else {
			o.Int("exit_code", int64(*j.ExitCode))
		}
	}
	str(18, "signal", j.Signal, true)
	str(19, "worker", j.Worker, true)
	if f.has(20) {
		o.Float("cpu_seconds", j.CPUSeconds)
	}
	num(21, "peak_memory_kb", j.PeakMemoryKB)
	str(22, "output", j.Output, false)
	str(23, "error", j.Error, false)
	if f.has(24) && j.ArrayJobID != nil {
		o.Int("array_job_id", *j.ArrayJobID)
	}
	if f.has(25) && j.ArrayTaskID != nil {
		o.Int("array_task_id", int64(*j.ArrayTaskID))
	}
	str(26, "array_tasks", j.ArrayTasks, true)
	if f.has(27) && j.ArrayThrottle != 0 {
		o.Int("array_throttle", int64(j.ArrayThrottle))
	}
	return o.Close()
}

package api

import (
	"slices"
	"strconv"
	"strings"
	"time"

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
	b = append(b, `],"count":`...)
	b = strconv.AppendInt(b, int64(count), 10)
	b = append(b, `,"next":`...)
	b = jsonappend.String(b, next, true)
	return append(b, "}\n"...)
}

func appendAcctJob(b []byte, j *apitype.AcctJob, f fieldSet) []byte {
	b = append(b, '{')
	first := true
	key := func(k string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
	}
	str := func(i int, k, v string, omitEmpty bool) {
		if f.has(i) && (v != "" || !omitEmpty) {
			key(k)
			b = jsonappend.String(b, v, true)
		}
	}
	num := func(i int, k string, v int64) {
		if f.has(i) {
			key(k)
			b = strconv.AppendInt(b, v, 10)
		}
	}
	if f.has(0) {
		key("id")
		b = strconv.AppendInt(b, j.ID, 10)
	}
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
		key("estimated_hours")
		b = jsonappend.Float(b, j.EstimatedHours)
	}
	str(12, "reason", j.Reason, true)
	str(13, "reason_detail", j.ReasonDetail, true)
	if f.has(14) {
		key("submitted_at")
		b = jsonappend.Time(b, j.SubmittedAt)
	}
	for _, t := range []struct {
		i int
		k string
		v *time.Time
	}{{15, "started_at", j.StartedAt}, {16, "completed_at", j.CompletedAt}} {
		if f.has(t.i) {
			key(t.k)
			if t.v == nil {
				b = append(b, "null"...)
			} else {
				b = jsonappend.Time(b, *t.v)
			}
		}
	}
	if f.has(17) {
		key("exit_code")
		if j.ExitCode == nil {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, int64(*j.ExitCode), 10)
		}
	}
	str(18, "signal", j.Signal, true)
	str(19, "worker", j.Worker, true)
	if f.has(20) {
		key("cpu_seconds")
		b = jsonappend.Float(b, j.CPUSeconds)
	}
	num(21, "peak_memory_kb", j.PeakMemoryKB)
	str(22, "output", j.Output, false)
	str(23, "error", j.Error, false)
	if f.has(24) && j.ArrayJobID != nil {
		key("array_job_id")
		b = strconv.AppendInt(b, *j.ArrayJobID, 10)
	}
	if f.has(25) && j.ArrayTaskID != nil {
		key("array_task_id")
		b = strconv.AppendInt(b, int64(*j.ArrayTaskID), 10)
	}
	str(26, "array_tasks", j.ArrayTasks, true)
	if f.has(27) && j.ArrayThrottle != 0 {
		key("array_throttle")
		b = strconv.AppendInt(b, int64(j.ArrayThrottle), 10)
	}
	return append(b, '}')
}

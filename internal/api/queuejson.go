package api

import (
	"slices"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/jsonappend"
	"github.com/rcq-project/rcq/internal/rcq"
)

// queueFields are the keys of a queue row (apitype.QueueJob), in its order;
// GET /api/queue?fields=a,b,... sends only those (the table of rcq-queue
// needs about half of the bytes of a row).
var queueFields = []string{"id", "user", "unix_user", "group_id", "status", "cpu_cores", "memory_gb", "gpu_count", "own",
	"name", "priority", "computed_priority", "rank", "reason", "reason_detail", "expected_start", "submitted_at",
	"started_at", "estimated_hours", "worker", "gpu_indices", "array_job_id", "array_task_id", "array_tasks", "array_throttle"}

// fieldSet selects queue row keys by their index in queueFields; nil is
// every key.
type fieldSet []bool

func (f fieldSet) has(i int) bool { return f == nil || f[i] }

// parseQueueFields reads ?fields=: a comma-separated list of queueFields
// ("" or absent: all of them). The key is the canonical form, for the
// rendering cache.
func parseQueueFields(s string) (fieldSet, string, error) {
	if s == "" {
		return nil, "", nil
	}
	f := make(fieldSet, len(queueFields))
	for _, name := range strings.Split(s, ",") {
		i := slices.Index(queueFields, strings.TrimSpace(name))
		if i < 0 {
			return nil, "", rcq.Invalid("fields", "%q is not a field of the queue: use a comma-separated list of %s", name, strings.Join(queueFields, ", "))
		}
		f[i] = true
	}
	var key []byte
	for i, on := range f {
		if on {
			key = strconv.AppendInt(append(key, ','), int64(i), 10)
		}
	}
	return f, string(key), nil
}

// appendQueue appends q as encoding/json encodes it (with a newline, as
// json.Encoder), keeping only the row keys of fields. Written for the shape
// of the page: encoding/json took a quarter of rcqd's time for a page of
// 10,000 jobs, most of it reflection and growing its buffer
// (docs/performance.md). TestQueueJSONMatchesEncodingJSON holds it to
// encoding/json's bytes.
func appendQueue(b []byte, q *apitype.Queue, fields fieldSet) []byte {
	b = append(b, `{"jobs":[`...)
	for i := range q.Jobs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendQueueJob(b, &q.Jobs[i], fields)
	}
	b = append(b, `],"count":`...)
	b = strconv.AppendInt(b, int64(q.Count), 10)
	b = append(b, `,"now":`...)
	b = jsonappend.Time(b, q.Now)
	b = append(b, `,"next":`...)
	b = jsonappend.String(b, q.Next, true)
	return append(b, "}\n"...)
}

func appendQueueJob(b []byte, j *apitype.QueueJob, f fieldSet) []byte {
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
	if f.has(0) {
		key("id")
		b = strconv.AppendInt(b, j.ID, 10)
	}
	if f.has(1) {
		key("user")
		b = jsonappend.String(b, j.User, true)
	}
	if f.has(2) && j.UnixUser != "" {
		key("unix_user")
		b = jsonappend.String(b, j.UnixUser, true)
	}
	if f.has(3) {
		key("group_id")
		b = strconv.AppendInt(b, j.GroupID, 10)
	}
	if f.has(4) {
		key("status")
		b = jsonappend.String(b, j.Status, true)
	}
	if f.has(5) {
		key("cpu_cores")
		b = strconv.AppendInt(b, int64(j.CPUCores), 10)
	}
	if f.has(6) {
		key("memory_gb")
		b = strconv.AppendInt(b, int64(j.MemoryGB), 10)
	}
	if f.has(7) {
		key("gpu_count")
		b = strconv.AppendInt(b, int64(j.GPUCount), 10)
	}
	if f.has(8) {
		key("own")
		b = strconv.AppendBool(b, j.Own)
	}
	if f.has(9) && j.Name != "" {
		key("name")
		b = jsonappend.String(b, j.Name, true)
	}
	if f.has(10) && j.Priority != 0 {
		key("priority")
		b = strconv.AppendInt(b, int64(j.Priority), 10)
	}
	if f.has(11) && j.Computed != nil {
		key("computed_priority")
		b = append(b, `{"base":`...)
		b = jsonappend.Float(b, j.Computed.Base)
		b = append(b, `,"fair_share":`...)
		b = jsonappend.Float(b, j.Computed.FairShare)
		b = append(b, `,"wait_boost":`...)
		b = jsonappend.Float(b, j.Computed.WaitBoost)
		b = append(b, `,"final":`...)
		b = jsonappend.Float(b, j.Computed.Final)
		b = append(b, '}')
	}
	if f.has(12) && j.Rank != 0 {
		key("rank")
		b = strconv.AppendInt(b, int64(j.Rank), 10)
	}
	if f.has(13) && j.Reason != "" {
		key("reason")
		b = jsonappend.String(b, j.Reason, true)
	}
	if f.has(14) && j.ReasonDetail != "" {
		key("reason_detail")
		b = jsonappend.String(b, j.ReasonDetail, true)
	}
	if f.has(15) && j.ExpectedStart != nil {
		key("expected_start")
		b = jsonappend.Time(b, *j.ExpectedStart)
	}
	if f.has(16) && j.SubmittedAt != nil {
		key("submitted_at")
		b = jsonappend.Time(b, *j.SubmittedAt)
	}
	if f.has(17) && j.StartedAt != nil {
		key("started_at")
		b = jsonappend.Time(b, *j.StartedAt)
	}
	if f.has(18) && j.EstimatedHours != 0 {
		key("estimated_hours")
		b = jsonappend.Float(b, j.EstimatedHours)
	}
	if f.has(19) && j.Worker != "" {
		key("worker")
		b = jsonappend.String(b, j.Worker, true)
	}
	if f.has(20) && len(j.GPUIndices) > 0 {
		key("gpu_indices")
		b = append(b, '[')
		for i, g := range j.GPUIndices {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(g), 10)
		}
		b = append(b, ']')
	}
	if f.has(21) && j.ArrayJobID != nil {
		key("array_job_id")
		b = strconv.AppendInt(b, *j.ArrayJobID, 10)
	}
	if f.has(22) && j.ArrayTaskID != nil {
		key("array_task_id")
		b = strconv.AppendInt(b, int64(*j.ArrayTaskID), 10)
	}
	if f.has(23) && j.ArrayTasks != "" {
		key("array_tasks")
		b = jsonappend.String(b, j.ArrayTasks, true)
	}
	if f.has(24) && j.ArrayThrottle != 0 {
		key("array_throttle")
		b = strconv.AppendInt(b, int64(j.ArrayThrottle), 10)
	}
	return append(b, '}')
}

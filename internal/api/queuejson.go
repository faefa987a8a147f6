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

// fieldSet selects queue row keys by their index in apitype.QueueFields;
// nil is every key.
type fieldSet []bool

func (f fieldSet) has(i int) bool { return f == nil || f[i] }

// parseQueueFields reads ?fields=: a comma-separated list of
// apitype.QueueFields ("" or absent: all of them). The key is the canonical form, for the
// rendering cache.
func parseQueueFields(s string) (fieldSet, string, error) {
	if s == "" {
		return nil, "", nil
	}
	f := make(fieldSet, len(apitype.QueueFields))
	for _, name := range strings.Split(s, ",") {
		i := slices.Index(apitype.QueueFields, strings.TrimSpace(name))
		if i < 0 {
			return nil, "", rcq.Invalid("fields", "%q is not a field of the queue: use a comma-separated list of %s", name, strings.Join(apitype.QueueFields, ", "))
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
	return jsonappend.PageEnd(b, q.Count, &q.Now, q.Next)
}

func appendQueueJob(b []byte, j *apitype.QueueJob, f fieldSet) []byte {
	o := jsonappend.Open(b, true)
	if f.has(0) {
		o.Int("id", j.ID)
	}
	if f.has(1) {
		o.String("user", j.User)
	}
	if f.has(2) && j.UnixUser != "" {
		o.String("unix_user", j.UnixUser)
	}
	if f.has(3) {
		o.Int("group_id", j.GroupID)
	}
	if f.has(4) {
		o.String("status", j.Status)
	}
	if f.has(5) {
		o.Int("cpu_cores", int64(j.CPUCores))
	}
	if f.has(6) {
		o.Int("memory_gb", int64(j.MemoryGB))
	}
	if f.has(7) {
		o.Int("gpu_count", int64(j.GPUCount))
	}
	if f.has(8) {
		o.Bool("own", j.Own)
	}
	if f.has(9) && j.Name != "" {
		o.String("name", j.Name)
	}
	if f.has(10) && j.Priority != 0 {
		o.Int("priority", int64(j.Priority))
	}
	if f.has(11) && j.Computed != nil {
		o.Key("computed_priority")
		c := jsonappend.Open(o.B, true)
		c.Float("base", j.Computed.Base)
		c.Float("fair_share", j.Computed.FairShare)
		c.Float("wait_boost", j.Computed.WaitBoost)
		c.Float("final", j.Computed.Final)
		o.B = c.Close()
	}
	if f.has(12) && j.Rank != 0 {
		o.Int("rank", int64(j.Rank))
	}
	if f.has(13) && j.Reason != "" {
		o.String("reason", j.Reason)
	}
	if f.has(14) && j.ReasonDetail != "" {
		o.String("reason_detail", j.ReasonDetail)
	}
	if f.has(15) && j.ExpectedStart != nil {
		o.Time("expected_start", *j.ExpectedStart)
	}
	if f.has(16) && j.SubmittedAt != nil {
		o.Time("submitted_at", *j.SubmittedAt)
	}
	if f.has(17) && j.StartedAt != nil {
		o.Time("started_at", *j.StartedAt)
	}
	if f.has(18) && j.EstimatedHours != 0 {
		o.Float("estimated_hours", j.EstimatedHours)
	}
	if f.has(19) && j.Worker != "" {
		o.String("worker", j.Worker)
	}
	if f.has(20) && len(j.GPUIndices) > 0 {
		o.Ints("gpu_indices", j.GPUIndices)
	}
	if f.has(21) && j.ArrayJobID != nil {
		o.Int("array_job_id", *j.ArrayJobID)
	}
	if f.has(22) && j.ArrayTaskID != nil {
		o.Int("array_task_id", int64(*j.ArrayTaskID))
	}
	if f.has(23) && j.ArrayTasks != "" {
		o.String("array_tasks", j.ArrayTasks)
	}
	if f.has(24) && j.ArrayThrottle != 0 {
		o.Int("array_throttle", int64(j.ArrayThrottle))
	}
	return o.Close()
}

// parseQueueForm reads ?form=: "objects" (or absent), a row as an object
// of its keys; "rows", a row as an array of its values in the order of
// the page's "fields" (appendQueueRows).
func parseQueueForm(s string) (rows bool, err error) {
	switch s {
	case "", "objects":
		return false, nil
	case "rows":
		return true, nil
	}
	return false, rcq.Invalid("form", "%q is not a form of the queue: use objects (the default) or rows", s)
}

// appendQueueRows appends q in the rows form (GET /api/queue?form=rows):
//
//	{"count":1,"now":"...","next":"","fields":["id","status",...],"rows":[[42,"pending",...],...]}
//
// Each row is an array of the values of fields, in that order; a key the
// object form leaves out is null (a time, computed_priority, array_job_id,
// array_task_id) or its zero value ("", 0, false, []); computed_priority
// is [base, fair_share, wait_boost, final]. The keys are named once, not in
// every row: a page of 10,000 held jobs is about half the object form's
// bytes, which rcqd renders, sends and rcq-queue decodes
// (docs/performance.md). The page's count, clock and cursor come first,
// so a client reading the rows as they arrive knows how many to expect.
func appendQueueRows(b []byte, q *apitype.Queue, f fieldSet) []byte {
	b = append(b, `{"count":`...)
	b = strconv.AppendInt(b, int64(q.Count), 10)
	b = append(b, `,"now":`...)
	b = jsonappend.Time(b, q.Now)
	b = append(b, `,"next":`...)
	b = jsonappend.String(b, q.Next, true)
	b = append(b, `,"fields":[`...)
	first := true
	for i, name := range apitype.QueueFields {
		if f.has(i) {
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(append(append(b, '"'), name...), '"')
		}
	}
	b = append(b, `],"rows":[`...)
	for i := range q.Jobs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendQueueRow(b, &q.Jobs[i], f)
	}
	return append(b, "]}\n"...)
}

func appendQueueRow(b []byte, j *apitype.QueueJob, f fieldSet) []byte {
	b = append(b, '[')
	n := 0
	sep := func() {
		if n > 0 {
			b = append(b, ',')
		}
		n++
	}
	integer := func(v int64) { b = strconv.AppendInt(b, v, 10) }
	str := func(v string) { b = jsonappend.String(b, v, true) }
	tm := func(t *time.Time) {
		if t == nil {
			b = append(b, "null"...)
		} else {
			b = jsonappend.Time(b, *t)
		}
	}
	for i := range apitype.QueueFields {
		if !f.has(i) {
			continue
		}
		sep()
		switch i {
		case 0:
			integer(j.ID)
		case 1:
			str(j.User)
		case 2:
			str(j.UnixUser)
		case 3:
			integer(j.GroupID)
		case 4:
			str(j.Status)
		case 5:
			integer(int64(j.CPUCores))
		case 6:
			integer(int64(j.MemoryGB))
		case 7:
			integer(int64(j.GPUCount))
		case 8:
			b = strconv.AppendBool(b, j.Own)
		case 9:
			str(j.Name)
		case 10:
			integer(int64(j.Priority))
		case 11:
			if p := j.Computed; p == nil {
				b = append(b, "null"...)
			} else {
				b = jsonappend.Float(append(b, '['), p.Base)
				b = jsonappend.Float(append(b, ','), p.FairShare)
				b = jsonappend.Float(append(b, ','), p.WaitBoost)
				b = jsonappend.Float(append(b, ','), p.Final)
				b = append(b, ']')
			}
		case 12:
			integer(int64(j.Rank))
		case 13:
			str(j.Reason)
		case 14:
			str(j.ReasonDetail)
		case 15:
			tm(j.ExpectedStart)
		case 16:
			tm(j.SubmittedAt)
		case 17:
			tm(j.StartedAt)
		case 18:
			b = jsonappend.Float(b, j.EstimatedHours)
		case 19:
			str(j.Worker)
		case 20:
			b = append(b, '[')
			for k, g := range j.GPUIndices {
				if k > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendInt(b, int64(g), 10)
			}
			b = append(b, ']')
		case 21:
			if j.ArrayJobID == nil {
				b = append(b, "null"...)
			} else {
				integer(*j.ArrayJobID)
			}
		case 22:
			if j.ArrayTaskID == nil {
				b = append(b, "null"...)
			} else {
				integer(int64(*j.ArrayTaskID))
			}
		case 23:
			str(j.ArrayTasks)
		case 24:
			integer(int64(j.ArrayThrottle))
		}
	}
	return append(b, ']')
}

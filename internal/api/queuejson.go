package api

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rcq-project/rcq/internal/apitype"
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
	b = appendTime(b, q.Now)
	b = append(b, `,"next":`...)
	b = appendJSONString(b, q.Next)
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
		b = appendJSONString(b, j.User)
	}
	if f.has(2) && j.UnixUser != "" {
		key("unix_user")
		b = appendJSONString(b, j.UnixUser)
	}
	if f.has(3) {
		key("group_id")
		b = strconv.AppendInt(b, j.GroupID, 10)
	}
	if f.has(4) {
		key("status")
		b = appendJSONString(b, j.Status)
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
		b = appendJSONString(b, j.Name)
	}
	if f.has(10) && j.Priority != 0 {
		key("priority")
		b = strconv.AppendInt(b, int64(j.Priority), 10)
	}
	if f.has(11) && j.Computed != nil {
		key("computed_priority")
		b = append(b, `{"base":`...)
		b = appendFloat(b, j.Computed.Base)
		b = append(b, `,"fair_share":`...)
		b = appendFloat(b, j.Computed.FairShare)
		b = append(b, `,"wait_boost":`...)
		b = appendFloat(b, j.Computed.WaitBoost)
		b = append(b, `,"final":`...)
		b = appendFloat(b, j.Computed.Final)
		b = append(b, '}')
	}
	if f.has(12) && j.Rank != 0 {
		key("rank")
		b = strconv.AppendInt(b, int64(j.Rank), 10)
	}
	if f.has(13) && j.Reason != "" {
		key("reason")
		b = appendJSONString(b, j.Reason)
	}
	if f.has(14) && j.ReasonDetail != "" {
		key("reason_detail")
		b = appendJSONString(b, j.ReasonDetail)
	}
	if f.has(15) && j.ExpectedStart != nil {
		key("expected_start")
		b = appendTime(b, *j.ExpectedStart)
	}
	if f.has(16) && j.SubmittedAt != nil {
		key("submitted_at")
		b = appendTime(b, *j.SubmittedAt)
	}
	if f.has(17) && j.StartedAt != nil {
		key("started_at")
		b = appendTime(b, *j.StartedAt)
	}
	if f.has(18) && j.EstimatedHours != 0 {
		key("estimated_hours")
		b = appendFloat(b, j.EstimatedHours)
	}
	if f.has(19) && j.Worker != "" {
		key("worker")
		b = appendJSONString(b, j.Worker)
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
		b = appendJSONString(b, j.ArrayTasks)
	}
	if f.has(24) && j.ArrayThrottle != 0 {
		key("array_throttle")
		b = strconv.AppendInt(b, int64(j.ArrayThrottle), 10)
	}
	return append(b, '}')
}

// appendTime is time.Time's MarshalJSON (RFC 3339 with nanoseconds).
func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendFloat is encoding/json's float64: the shortest form, 'e' notation
// below 1e-6 and from 1e21, with a one-digit negative exponent. NaN and the
// infinities never occur in a page (encoding/json refuses them).
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendJSONString is encoding/json's string with HTML escaping (its
// default): <, > and & as \u003c..., control characters escaped, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

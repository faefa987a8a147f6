package queue

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/rcq-project/rcq/internal/jsonappend"
)

// appendRow appends r as encoding/json writes it: compact when nl is "",
// else indented as json.MarshalIndent with "  " at the depth nl gives
// (nl is a newline and the indentation of the row's keys).
func appendRow(b []byte, r *Row, nl string) []byte {
	b = append(b, '{')
	first := true
	key := func(k string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, nl...)
		b = append(append(append(b, '"'), k...), '"', ':')
		if nl != "" {
			b = append(b, ' ')
		}
	}
	str := func(k, v string) {
		key(k)
		b = jsonappend.String(b, v, false)
	}
	num := func(k string, v int64) {
		key(k)
		b = strconv.AppendInt(b, v, 10)
	}
	inner := nl // the keys of a nested object, the elements of a list
	if nl != "" {
		inner = nl + "  "
	}
	num("id", r.ID)
	str("name", r.Name)
	str("user", r.User)
	if r.UnixUser != "" {
		str("unix_user", r.UnixUser)
	}
	num("group_id", r.GroupID)
	str("state", r.State)
	str("state_code", r.StateCode)
	key("own")
	b = strconv.AppendBool(b, r.Own)
	num("cpu_cores", int64(r.CPUCores))
	num("memory_gb", int64(r.MemoryGB))
	num("gpu_count", int64(r.GPUCount))
	if r.TimeLimitHours != 0 {
		key("time_limit_hours")
		b = jsonappend.Float(b, r.TimeLimitHours)
	}
	num("elapsed_seconds", r.ElapsedSeconds)
	if r.Priority != 0 {
		num("priority", int64(r.Priority))
	}
	if p := r.Computed; p != nil {
		key("computed_priority")
		for i, f := range [...]struct {
			k string
			v float64
		}{{"base", p.Base}, {"fair_share", p.FairShare}, {"wait_boost", p.WaitBoost}, {"final", p.Final}} {
			if i == 0 {
				b = append(b, '{')
			} else {
				b = append(b, ',')
			}
			b = append(b, inner...)
			b = append(append(append(b, '"'), f.k...), '"', ':')
			if nl != "" {
				b = append(b, ' ')
			}
			b = jsonappend.Float(b, f.v)
		}
		b = append(append(b, nl...), '}')
	}
	if r.Rank != 0 {
		num("rank", int64(r.Rank))
	}
	if r.Reason != "" {
		str("reason", r.Reason)
	}
	if r.ReasonDetail != "" {
		str("reason_detail", r.ReasonDetail)
	}
	if r.Worker != "" {
		str("worker", r.Worker)
	}
	if len(r.GPUIndices) > 0 {
		key("gpu_indices")
		for i, g := range r.GPUIndices {
			if i == 0 {
				b = append(b, '[')
			} else {
				b = append(b, ',')
			}
			b = append(b, inner...)
			b = strconv.AppendInt(b, int64(g), 10)
		}
		b = append(append(b, nl...), ']')
	}
	for _, t := range [...]struct {
		k string
		v *time.Time
	}{{"submitted_at", r.SubmittedAt}, {"started_at", r.StartedAt}, {"completed_at", r.CompletedAt}, {"expected_start", r.ExpectedStart}} {
		if t.v != nil {
			key(t.k)
			b = jsonappend.Time(b, *t.v)
		}
	}
	if r.ExitCode != nil {
		num("exit_code", int64(*r.ExitCode))
	}
	if r.ArrayJobID != nil {
		num("array_job_id", *r.ArrayJobID)
	}
	if r.ArrayTaskID != nil {
		num("array_task_id", int64(*r.ArrayTaskID))
	}
	if r.ArrayTasks != "" {
		str("array_tasks", r.ArrayTasks)
	}
	if r.ArrayThrottle != 0 {
		num("array_throttle", int64(r.ArrayThrottle))
	}
	if nl != "" {
		b = append(b, nl[:len(nl)-2]...)
	}
	return append(b, '}')
}

// writeOutput writes out as cli.PrintJSON does (json.MarshalIndent with
// two spaces, no HTML escaping, and a newline), row by row through one
// small buffer: rcq-queue --json of 10,000 jobs is 7 MB, which built whole,
// compact and then indented, was 15 MB of memory to fault in
// (docs/performance.md). TestWriteOutputMatchesEncodingJSON holds it to
// encoding/json's bytes.
func writeOutput(w io.Writer, out *Output) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	b := make([]byte, 0, 4<<10)
	b = append(b, "{\n  \"jobs\": ["...)
	for i := range out.Jobs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n    "...)
		b = appendRow(b, &out.Jobs[i], "\n      ")
		if len(b) >= 2<<10 {
			if _, err := bw.Write(b); err != nil {
				return fmt.Errorf("write JSON: %w", err)
			}
			b = b[:0]
		}
	}
	if len(out.Jobs) > 0 {
		b = append(b, "\n  "...)
	}
	b = append(b, "],\n  \"count\": "...)
	b = strconv.AppendInt(b, int64(out.Count), 10)
	b = append(b, ",\n  \"now\": "...)
	b = jsonappend.Time(b, out.Now)
	b = append(b, "\n}\n"...)
	if _, err := bw.Write(b); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

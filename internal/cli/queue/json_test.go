package queue

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/jsonappend"
	"github.com/rcq-project/rcq/internal/rcq"
)

// TestOutputJSONMatchesEncodingJSON holds appendOutput to encoding/json's
// bytes (without HTML escaping, as cli.PrintJSON), row shapes and strings
// of every kind.
func TestOutputJSONMatchesEncodingJSON(t *testing.T) {
	out := sampleOutput()
	// A key added to Row must be written by appendRow too: the full rows
	// above carry every key.
	rt := reflect.TypeOf(Row{})
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if !bytes.Contains(appendRow(nil, &out.Jobs[1], ""), []byte(`"`+name+`":`)) {
			t.Errorf("Row key %s is not set by the test or not written by appendRow", name)
		}
	}
	for _, o := range []*Output{out, {Jobs: []Row{}}} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(o); err != nil {
			t.Fatal(err)
		}
		if got := appendOutput(nil, o); !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("appendOutput:\n%s\nencoding/json:\n%s", got, want.Bytes())
		}
	}
}

// sampleOutput has rows of every shape, strings and floats of every kind.
func sampleOutput() *Output {
	t1 := time.Date(2026, 12, 4, 3, 4, 5, 123456789, time.UTC)
	t2 := time.Date(2026, 12, 4, 3, 4, 5, 0, time.FixedZone("x", -7200))
	aid, tid, code := int64(9), 4, 2
	strs := []string{"", "plain", `q"uote\back`, "<b>&amp;", "tab\tnl\nret\rbs\bff\f", "\x00\x1f\x7f", "héllo ✓", "bad\xffutf8", "l\u2028s\u2029", "😀"}
	floats := []float64{0, 1, 0.1, 1.0 / 3, 4.02, 1e-7, 1e21, -2.5e-8, math.MaxFloat64}
	out := &Output{Now: t2, Count: 30}
	for i := range 30 {
		r := Row{ID: int64(i), Name: strs[i%len(strs)], User: strs[(i+1)%len(strs)], GroupID: int64(i), State: "pending", StateCode: "PD",
			Own: i%2 == 0, CPUCores: i, MemoryGB: i, GPUCount: i % 2, ElapsedSeconds: int64(i * 100)}
		if i%3 != 0 {
			r.UnixUser, r.TimeLimitHours, r.Priority, r.Rank = strs[(i+2)%len(strs)], floats[i%len(floats)], i, i
			r.Computed = &rcq.PriorityFactors{Base: floats[i%len(floats)], FairShare: floats[(i+1)%len(floats)], WaitBoost: floats[(i+2)%len(floats)], Final: floats[(i+3)%len(floats)]}
			r.Reason, r.ReasonDetail, r.Worker = strs[(i+3)%len(strs)], strs[(i+4)%len(strs)], strs[(i+5)%len(strs)]
			r.GPUIndices = []int{i, 0}
			r.SubmittedAt, r.StartedAt, r.CompletedAt, r.ExpectedStart = &t1, &t2, &t1, &t2
			r.ExitCode, r.ArrayJobID, r.ArrayTaskID, r.ArrayTasks, r.ArrayThrottle = &code, &aid, &tid, "1-9", 3
		}
		if i == 4 {
			r.GPUIndices = []int{}
		}
		out.Jobs = append(out.Jobs, r)
	}
	return out
}

// TestWriteOutputMatchesEncodingJSON holds writeOutput to what cli.PrintJSON
// (encoding/json, indented, without HTML escaping) writes, and to the
// compact form indented (rcq-queue --json before it streamed).
func TestWriteOutputMatchesEncodingJSON(t *testing.T) {
	for _, o := range []*Output{sampleOutput(), {Jobs: []Row{}}} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(o); err != nil {
			t.Fatal(err)
		}
		var got, old bytes.Buffer
		if err := writeOutput(&got, o); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("writeOutput:\n%s\nencoding/json:\n%s", got.Bytes(), want.Bytes())
		}
		if err := cli.PrintCompactJSON(&old, appendOutput(nil, o)); err != nil || !bytes.Equal(got.Bytes(), old.Bytes()) {
			t.Fatalf("writeOutput:\n%s\ncompact, indented:\n%s", got.Bytes(), old.Bytes())
		}
	}
}

// appendOutput appends out compact, as encoding/json encodes it without
// HTML escaping (cli.PrintJSON's compact form, before indenting): how
// rcq-queue --json was written before writeOutput streamed it. Written for
// Row: encoding/json's reflection was most of rcq-queue --json's time at
// 10,000 jobs (docs/performance.md); TestOutputJSONMatchesEncodingJSON
// holds it to encoding/json's bytes.
func appendOutput(b []byte, out *Output) []byte {
	b = append(b, `{"jobs":[`...)
	for i := range out.Jobs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRow(b, &out.Jobs[i], "")
	}
	b = append(b, `],"count":`...)
	b = strconv.AppendInt(b, int64(out.Count), 10)
	b = append(b, `,"now":`...)
	b = jsonappend.Time(b, out.Now)
	return append(b, '}')
}

package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// rowsSample is a page with every kind of row and value.
func rowsSample(n int) []apitype.QueueJob {
	aid, tid := int64(7), 3
	t1 := time.Date(2026, 12, 4, 3, 4, 5, 123456789, time.UTC)
	t2 := time.Date(2026, 12, 4, 3, 4, 5, 0, time.FixedZone("x", 3600))
	strs := []string{"", "plain", `q"uote\back`, "<script>&amp;", "tab\tnl\nret\rbs\bff\f", "\x00\x01\x1f\x7f", "héllo wörld ✓",
		"line\u2028sep\u2029", "emoji 😀", strings.Repeat("long ", 60)}
	floats := []float64{0, 1, -1, 0.1, 1.0 / 3, 4.000005733333333, 1e-7, 1.5e-10, 1e21, math.SmallestNonzeroFloat64, 1e20}
	var js []apitype.QueueJob
	for i := range n {
		j := apitype.QueueJob{ID: int64(i + 1), User: strs[i%len(strs)], GroupID: int64(i), Status: "pending", CPUCores: i, MemoryGB: i * 2, GPUCount: i % 3, Own: i%2 == 0}
		if i%3 == 0 {
			j.UnixUser, j.Name, j.Priority, j.Rank = strs[(i+1)%len(strs)], strs[(i+2)%len(strs)], i, i*7
			j.Computed = &rcq.PriorityFactors{Base: floats[i%len(floats)], FairShare: floats[(i+1)%len(floats)], WaitBoost: floats[(i+2)%len(floats)], Final: floats[(i+3)%len(floats)]}
			j.Reason, j.ReasonDetail, j.Worker = strs[(i+3)%len(strs)], strs[(i+4)%len(strs)], strs[(i+5)%len(strs)]
			j.ExpectedStart, j.SubmittedAt, j.StartedAt = &t1, &t2, &t1
			j.EstimatedHours = floats[(i+4)%len(floats)]
			j.GPUIndices = []int{0, i}
			j.ArrayJobID, j.ArrayTaskID, j.ArrayTasks, j.ArrayThrottle = &aid, &tid, "4-99", 8
		}
		if i%3 == 1 {
			j.Status, j.Worker, j.StartedAt, j.ArrayJobID = "running", "node1", &t2, &aid
		}
		js = append(js, j)
	}
	return js
}

// rowsBody is a page in the rows form as docs/api.md describes it, built
// from each job's object form (rcqd's TestQueueRowsMatchObjects holds
// rcqd's rows to the same rule).
func rowsBody(t testing.TB, q apitype.Queue, fields []string) []byte {
	t.Helper()
	if fields == nil {
		fields = apitype.QueueFields
	}
	var b bytes.Buffer
	now, _ := json.Marshal(q.Now)
	next, _ := json.Marshal(q.Next)
	names, _ := json.Marshal(fields)
	fmt.Fprintf(&b, `{"count":%d,"now":%s,"next":%s,"fields":%s,"rows":[`, q.Count, now, next, names)
	for i, j := range q.Jobs {
		obj, _ := json.Marshal(j)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(obj, &m)
		var row []json.RawMessage
		for _, f := range fields {
			v, ok := m[f]
			switch {
			case f == "computed_priority" && ok:
				a, _ := json.Marshal([]float64{j.Computed.Base, j.Computed.FairShare, j.Computed.WaitBoost, j.Computed.Final})
				v = a
			case ok:
			case f == "computed_priority" || strings.HasSuffix(f, "_at") || f == "expected_start" || f == "array_job_id" || f == "array_task_id":
				v = json.RawMessage("null")
			case f == "own":
				v = json.RawMessage("false")
			case f == "gpu_indices":
				v = json.RawMessage("[]")
			case f == "user" || f == "unix_user" || f == "status" || f == "name" || f == "reason" || f == "reason_detail" || f == "worker" || f == "array_tasks":
				v = json.RawMessage(`""`)
			default:
				v = json.RawMessage("0")
			}
			row = append(row, v)
		}
		if i > 0 {
			b.WriteString(",\n ") // white space is allowed anywhere
		}
		r, _ := json.Marshal(row)
		b.Write(r)
	}
	b.WriteString("]}\n")
	return b.Bytes()
}

// objectsOf is what encoding/json makes of the object form of js, with only
// fields kept.
func objectsOf(t testing.TB, js []apitype.QueueJob, fields []string) []apitype.QueueJob {
	t.Helper()
	var out []apitype.QueueJob
	for _, j := range js {
		obj, _ := json.Marshal(j)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(obj, &m)
		if fields != nil {
			for k := range m {
				if !slices.Contains(fields, k) {
					delete(m, k)
				}
			}
		}
		kept, _ := json.Marshal(m)
		var back apitype.QueueJob
		if err := json.Unmarshal(kept, &back); err != nil {
			t.Fatal(err)
		}
		out = append(out, back)
	}
	return out
}

// TestReadQueueRowsMatchesEncodingJSON: the rows form decodes to the jobs
// encoding/json makes of the object form, for every field and for a
// subset, however the body arrives (one byte at a time, or in pieces of
// any size: a row cut by the end of what was read is decoded again).
func TestReadQueueRowsMatchesEncodingJSON(t *testing.T) {
	now := time.Date(2026, 12, 4, 1, 2, 3, 456, time.UTC)
	js := rowsSample(40)
	for _, fields := range [][]string{nil, {"id", "status", "computed_priority", "reason", "gpu_indices"}, {"user", "array_task_id"}} {
		q := apitype.Queue{Jobs: js, Count: len(js), Now: now, Next: "c2"}
		body := rowsBody(t, q, fields)
		want := objectsOf(t, js, fields)
		readers := map[string]func() ([]apitype.QueueJob, *apitype.Queue, string, error){}
		for _, kind := range []string{"whole", "one byte", "half"} {
			readers[kind] = func() ([]apitype.QueueJob, *apitype.Queue, string, error) {
				var got []apitype.QueueJob
				var page *apitype.Queue
				var r = bytes.NewReader(body)
				src := map[string]func() any{"whole": func() any { return r }, "one byte": func() any { return iotest.OneByteReader(r) }, "half": func() any { return iotest.HalfReader(r) }}[kind]()
				next, err := readQueueRows(src.(interface{ Read([]byte) (int, error) }), QueueVisitor{
					Page: func(p *apitype.Queue) { page = p },
					Row:  func(j *apitype.QueueJob) error { got = append(got, *j); return nil },
				})
				return got, page, next, err
			}
		}
		for kind, read := range readers {
			got, page, next, err := read()
			if err != nil {
				t.Fatalf("fields %v, %s: %v", fields, kind, err)
			}
			if next != "c2" || page == nil || page.Count != len(js) || !page.Now.Equal(now) || page.Jobs != nil {
				t.Fatalf("fields %v, %s: next %q page %+v", fields, kind, next, page)
			}
			if !reflect.DeepEqual(got, want) {
				for i := range got {
					if !reflect.DeepEqual(got[i], want[i]) {
						t.Fatalf("fields %v, %s: row %d\n got %+v\nwant %+v", fields, kind, i, got[i], want[i])
					}
				}
				t.Fatalf("fields %v, %s: %d rows, want %d", fields, kind, len(got), len(want))
			}
		}
	}
	// No rows.
	var rows int
	next, err := readQueueRows(bytes.NewReader(rowsBody(t, apitype.Queue{}, []string{"id"})), QueueVisitor{Row: func(*apitype.QueueJob) error { rows++; return nil }})
	if err != nil || rows != 0 || next != "" {
		t.Fatalf("an empty page: %d rows, next %q, %v", rows, next, err)
	}
	// Anything cut or malformed is an error, never a short queue.
	body := rowsBody(t, apitype.Queue{Jobs: js, Count: len(js)}, nil)
	for _, bad := range [][]byte{body[:len(body)/2], body[:len(body)-3], bytes.Replace(body, []byte(",\n ["), []byte(",\n x["), 1),
		bytes.Replace(body, []byte(`[1,`), []byte(`[1.5,`), 1), append(bytes.TrimSuffix(body, []byte("}\n")), `,"more":1}`...)} {
		if _, err := readQueueRows(bytes.NewReader(bad), QueueVisitor{Row: func(*apitype.QueueJob) error { return nil }}); err == nil {
			t.Errorf("a bad page was read without an error: ...%s", bad[max(0, len(bad)-60):])
		}
	}
}

// TestEachQueueRow reads every page in the rows form, passes a visitor's
// error back as is, and reads an older rcqd's object form the same way.
func TestEachQueueRow(t *testing.T) {
	t.Parallel()
	js := rowsSample(25)
	for _, rows := range []bool{true, false} {
		var queries []string
		mux := http.NewServeMux()
		mux.HandleFunc("GET /api/queue", func(w http.ResponseWriter, r *http.Request) {
			queries = append(queries, r.URL.RawQuery)
			from, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
			to := min(from+10, len(js))
			q := apitype.Queue{Jobs: js[from:to], Count: to - from}
			if to < len(js) {
				q.Next = strconv.Itoa(to)
			}
			if rows && r.URL.Query().Get("form") == "rows" {
				w.Write(rowsBody(t, q, nil))
				return
			}
			_ = json.NewEncoder(w).Encode(q) // an rcqd without the rows form
		})
		srv := httptest.NewServer(mux)
		defer srv.Close()
		c, err := New(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		var got []apitype.QueueJob
		counts := 0
		pages, err := c.EachQueueRow(context.Background(), QueueQuery{User: "ann"}, QueueVisitor{
			Page: func(p *apitype.Queue) { counts += p.Count },
			Row:  func(j *apitype.QueueJob) error { got = append(got, *j); return nil },
		})
		if err != nil || pages != 3 || counts != len(js) {
			t.Fatalf("rows %v: %d pages, counts %d, %v", rows, pages, counts, err)
		}
		if want := objectsOf(t, js, nil); !reflect.DeepEqual(got, want) {
			t.Fatalf("rows %v: the rows differ from encoding/json's", rows)
		}
		if want := []string{"form=rows&user=ann", "cursor=10&form=rows&user=ann", "cursor=20&form=rows&user=ann"}; !slices.Equal(queries, want) {
			t.Errorf("requests %q, want %q", queries, want)
		}
		stop := errors.New("enough")
		if _, err := c.EachQueueRow(context.Background(), QueueQuery{}, QueueVisitor{Row: func(*apitype.QueueJob) error { return stop }}); err != stop {
			t.Errorf("rows %v: the visitor's error came back as %v", rows, err)
		}
	}
}

// BenchmarkReadQueueRows decodes a page of 10,000 held jobs as rcq-queue's
// table asks for them, against the object form of the same page.
func BenchmarkReadQueueRows(b *testing.B) {
	fields := []string{"id", "user", "unix_user", "group_id", "status", "cpu_cores", "memory_gb", "gpu_count", "own",
		"name", "priority", "computed_priority", "rank", "reason", "started_at", "worker",
		"array_job_id", "array_task_id", "array_tasks", "array_throttle"}
	js := make([]apitype.QueueJob, 10_000)
	t0 := time.Date(2026, 12, 4, 1, 2, 3, 456, time.UTC)
	for i := range js {
		js[i] = apitype.QueueJob{ID: int64(i + 1), User: "admin@localhost", UnixUser: "nobody", GroupID: 1, Status: "pending", CPUCores: 1, MemoryGB: 1,
			Own: true, Name: "bench", Priority: 1, Rank: i + 1, Reason: "JobHeldUser", SubmittedAt: &t0,
			Computed: &rcq.PriorityFactors{Base: 2, FairShare: 2, WaitBoost: 1.0000014333333334, Final: 4.000005733333333}}
	}
	q := apitype.Queue{Jobs: js, Count: len(js), Now: t0}
	rows := rowsBody(b, q, fields)
	objects, _ := json.Marshal(apitype.Queue{Jobs: objectsOf(b, js, fields), Count: len(js), Now: t0})
	b.Run("rows", func(b *testing.B) {
		b.SetBytes(int64(len(rows)))
		b.ReportAllocs()
		for range b.N {
			n := 0
			if _, err := readQueueRows(bytes.NewReader(rows), QueueVisitor{Row: func(*apitype.QueueJob) error { n++; return nil }}); err != nil || n != len(js) {
				b.Fatal(err, n)
			}
		}
	})
	b.Run("objects", func(b *testing.B) {
		b.SetBytes(int64(len(objects)))
		b.ReportAllocs()
		for range b.N {
			var out apitype.Queue
			if err := decodeJSON(objects, &out); err != nil || len(out.Jobs) != len(js) {
				b.Fatal(err)
			}
		}
	})
}

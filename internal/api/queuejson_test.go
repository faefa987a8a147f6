package api

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

func queueSample() apitype.Queue {
	aid, tid := int64(7), 3
	t1 := time.Date(2026, 12, 4, 3, 4, 5, 123456789, time.UTC)
	t2 := time.Date(2026, 12, 4, 3, 4, 5, 0, time.FixedZone("x", 3600))
	strs := []string{"", "plain", `q"uote\back`, "<script>&amp;", "tab\tnl\nret\rbs\bff\f", "\x00\x01\x1f\x7f", "héllo wörld ✓",
		"bad\xffutf8\xc3", "line\u2028sep\u2029", "emoji 😀"}
	floats := []float64{0, 1, -1, 0.1, 1.0 / 3, 4.02, 1e-7, 1.5e-10, 1e21, 123456789012345678901234.0, -2.5e-8, math.SmallestNonzeroFloat64, 1e20}
	q := apitype.Queue{Count: 0, Now: t1, Next: "c<1>"}
	for i := range 40 {
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
		q.Jobs = append(q.Jobs, j)
	}
	q.Count = len(q.Jobs)
	return q
}

// TestQueueJSONMatchesEncodingJSON holds appendQueue to the bytes
// json.Encoder writes for the same page, key for key.
func TestQueueJSONMatchesEncodingJSON(t *testing.T) {
	q := queueSample()
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(q); err != nil {
		t.Fatal(err)
	}
	if got := appendQueue(nil, &q, nil); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("appendQueue:\n%s\nencoding/json:\n%s", got, want.Bytes())
	}
	empty := apitype.Queue{Jobs: []apitype.QueueJob{}}
	want.Reset()
	_ = json.NewEncoder(&want).Encode(empty)
	if got := appendQueue(nil, &empty, nil); !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("empty: %s, want %s", got, want.Bytes())
	}
}

// TestQueueFieldsKeepOnlyThoseKeys: ?fields= gives each row exactly the
// asked keys that encoding/json would have written, with the same values.
func TestQueueFieldsKeepOnlyThoseKeys(t *testing.T) {
	q := queueSample()
	full, _ := json.Marshal(q)
	var all struct{ Jobs []map[string]json.RawMessage }
	_ = json.Unmarshal(full, &all)
	for _, list := range []string{"id", "id,status,computed_priority,reason", "user,unix_user,array_tasks,started_at,gpu_indices"} {
		f, _, err := parseQueueFields(list)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Jobs []map[string]json.RawMessage }
		if err := json.Unmarshal(appendQueue(nil, &q, f), &got); err != nil {
			t.Fatalf("%s: %v", list, err)
		}
		for i, row := range got.Jobs {
			for k, v := range all.Jobs[i] {
				kept := f[slices.Index(apitype.QueueFields, k)]
				if gv, ok := row[k]; ok != kept || ok && !bytes.Equal(gv, v) {
					t.Fatalf("fields=%s row %d key %s: got %s (present %v), want present %v with %s", list, i, k, gv, ok, kept, v)
				}
			}
			if len(row) > len(all.Jobs[i]) {
				t.Fatalf("fields=%s row %d has keys encoding/json does not write: %v", list, i, row)
			}
		}
	}
	if _, _, err := parseQueueFields("id,bogus"); err == nil {
		t.Fatal("an unknown field was accepted")
	}
}

// TestQueueFieldsAreTheRowKeys: a key added to apitype.QueueJob must be
// added to apitype.QueueFields and appendQueueJob too.
func TestQueueFieldsAreTheRowKeys(t *testing.T) {
	rt := reflect.TypeOf(apitype.QueueJob{})
	var keys []string
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		keys = append(keys, name)
	}
	if !slices.Equal(keys, apitype.QueueFields) {
		t.Fatalf("apitype.QueueJob's keys %v, apitype.QueueFields %v", keys, apitype.QueueFields)
	}
}

// TestQueueRowsMatchObjects: ?form=rows carries the same page as the object
// form: each row's values, in the order of its "fields", are the keys the
// object form writes (null or zero where it leaves one out), for every
// field and for subsets of them.
func TestQueueRowsMatchObjects(t *testing.T) {
	q := queueSample()
	q.Jobs[1].GPUIndices = []int{} // empty and absent are the same
	for _, list := range []string{"", "id", "id,status,computed_priority,reason", "user,unix_user,array_tasks,started_at,gpu_indices,array_task_id"} {
		f, _, err := parseQueueFields(list)
		if err != nil {
			t.Fatal(err)
		}
		var objects struct {
			Jobs  []map[string]json.RawMessage
			Count int
			Now   string
			Next  string
		}
		if err := json.Unmarshal(appendQueue(nil, &q, f), &objects); err != nil {
			t.Fatal(err)
		}
		body := appendQueueRows(nil, &q, f)
		if !bytes.HasSuffix(body, []byte("}\n")) {
			t.Fatalf("fields=%s: the body does not end as json.Encoder's: %q", list, body[len(body)-5:])
		}
		var rows struct {
			Fields []string
			Rows   [][]json.RawMessage
			Count  int
			Now    string
			Next   string
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rows); err != nil {
			t.Fatalf("fields=%s: %v\n%s", list, err, body)
		}
		if rows.Count != objects.Count || rows.Now != objects.Now || rows.Next != objects.Next || len(rows.Rows) != len(objects.Jobs) {
			t.Fatalf("fields=%s: count %d now %s next %q rows %d, want %d %s %q %d", list, rows.Count, rows.Now, rows.Next, len(rows.Rows),
				objects.Count, objects.Now, objects.Next, len(objects.Jobs))
		}
		want := []string{}
		for i, k := range apitype.QueueFields {
			if f.has(i) {
				want = append(want, k)
			}
		}
		if !slices.Equal(rows.Fields, want) {
			t.Fatalf("fields=%s: fields %v, want %v", list, rows.Fields, want)
		}
		for i, row := range rows.Rows {
			if len(row) != len(want) {
				t.Fatalf("fields=%s row %d: %d values for %d fields", list, i, len(row), len(want))
			}
			for k, name := range want {
				v, present := objects.Jobs[i][name]
				got := row[k]
				switch {
				case name == "computed_priority" && present:
					var p rcq.PriorityFactors
					_ = json.Unmarshal(v, &p)
					var a []float64
					if err := json.Unmarshal(got, &a); err != nil || !slices.Equal(a, []float64{p.Base, p.FairShare, p.WaitBoost, p.Final}) {
						t.Fatalf("fields=%s row %d computed_priority: %s, want the values of %s", list, i, got, v)
					}
				case present:
					if !bytes.Equal(got, v) {
						t.Fatalf("fields=%s row %d %s: %s, want %s", list, i, name, got, v)
					}
				default:
					switch string(got) {
					case "null", `""`, "0", "false", "[]":
					default:
						t.Fatalf("fields=%s row %d %s: %s where the object form has no key", list, i, name, got)
					}
				}
			}
		}
	}
	if _, err := parseQueueForm("table"); err == nil {
		t.Fatal("an unknown form was accepted")
	}
}

// BenchmarkQueueEncode encodes a page of 10,000 held jobs as rcq-queue's
// table asks for it, in the object form and in the rows form.
//
//	go test -run '^$' -bench QueueEncode -benchmem ./internal/api
func BenchmarkQueueEncode(b *testing.B) {
	t0 := time.Date(2026, 12, 4, 1, 2, 3, 456, time.UTC)
	q := apitype.Queue{Now: t0, Count: 10_000}
	for i := range q.Count {
		q.Jobs = append(q.Jobs, apitype.QueueJob{ID: int64(i + 1), User: "admin@localhost", UnixUser: "nobody", GroupID: 1, Status: "pending",
			CPUCores: 1, MemoryGB: 1, Own: true, Name: "bench", Priority: 1, Rank: i + 1, Reason: "JobHeldUser", SubmittedAt: &t0,
			Computed: &rcq.PriorityFactors{Base: 2, FairShare: 2, WaitBoost: 1.0000014333333334, Final: 4.000005733333333}})
	}
	f, _, err := parseQueueFields("id,user,unix_user,group_id,status,cpu_cores,memory_gb,gpu_count,own,name,priority,computed_priority,rank,reason,started_at,worker,array_job_id,array_task_id,array_tasks,array_throttle")
	if err != nil {
		b.Fatal(err)
	}
	for _, form := range []struct {
		name string
		enc  func([]byte, *apitype.Queue, fieldSet) []byte
	}{{"objects", appendQueue}, {"rows", appendQueueRows}} {
		b.Run(form.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 4<<20)
			for b.Loop() {
				buf = form.enc(buf[:0], &q, f)
			}
			b.SetBytes(int64(len(buf)))
		})
	}
}

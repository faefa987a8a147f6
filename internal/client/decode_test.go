package client

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// sameAsEncodingJSON decodes data into a fresh *T both ways and fails t
// unless the values and the errors agree.
func sameAsEncodingJSON[T any](t *testing.T, data []byte) {
	t.Helper()
	var want, got T
	werr := json.Unmarshal(data, &want)
	gerr := decodeJSON(data, &got)
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("%T from %.200q: error %v, encoding/json's %v", got, data, gerr, werr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%T from %.300q:\n got %+v\nwant %+v", got, data, got, want)
	}
}

func TestDecodeJSONMatchesEncodingJSON(t *testing.T) {
	now := time.Date(2026, 12, 3, 22, 53, 19, 690421000, time.UTC)
	later := now.Add(90 * time.Minute).In(time.FixedZone("X", 3600))
	code := 3
	q := apitype.Queue{Now: now, Next: "c1", Count: 3, Jobs: []apitype.QueueJob{
		{ID: 1, User: "a@localhost", Status: "pending", CPUCores: 2, Own: true, Name: "tab\there \"q\" \\ é ✓ \u2028 😀",
			Computed: &rcq.PriorityFactors{Base: 6, FairShare: 2, WaitBoost: 1.0008706224027777, Final: 12.010447468833332},
			Rank:     1, Reason: "JobHeldUser", ReasonDetail: "held <by> & its owner", SubmittedAt: &now, EstimatedHours: 0.5},
		{ID: 2, User: "b@x", Status: "running", StartedAt: &later, Worker: "w1", GPUIndices: []int{0, 3}},
		{ID: -3},
	}}
	acct := apitype.AcctList{Count: 2, Jobs: []apitype.AcctJob{
		{ID: 9, User: "u", Group: "g", SubmittedAt: now, StartedAt: &now, CompletedAt: &later, ExitCode: &code, CPUSeconds: 1e-7, PeakMemoryKB: 1 << 40},
		{ID: 10, Name: "\x01\x1f"},
	}}
	sum := apitype.AcctSummary{Groups: []apitype.AcctGroup{{Group: "g", ByState: map[string]int{"COMPLETED": 3, "FAILED": 0}}}, From: &now}
	var fixtures [][]byte
	for _, v := range []any{q, acct, sum, apitype.Queue{}, apitype.AcctList{Jobs: []apitype.AcctJob{}}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fixtures = append(fixtures, b)
		ind, _ := json.MarshalIndent(v, " ", "\t")
		fixtures = append(fixtures, ind)
	}
	for _, b := range fixtures {
		sameAsEncodingJSON[apitype.Queue](t, b)
		sameAsEncodingJSON[apitype.AcctList](t, b)
		sameAsEncodingJSON[apitype.AcctSummary](t, b)
	}
	// Input that takes the slow path, or fails, must end exactly as
	// encoding/json ends it.
	for _, s := range []string{
		``, ` `, `null`, `{}`, `[]`, `{"jobs":null}`, `{"jobs":[]}`, `{"jobs":[null]}`, `{"JOBS":[{"ID":5,"Name":"x"}]}`,
		`{"jobs":[{"id":"5"}]}`, `{"jobs":[{"id":1.5}]}`, `{"jobs":[{"id":1e2}]}`, `{"jobs":[{"id":99999999999999999999}]}`,
		`{"jobs":[{"id":-0}]}`, `{"jobs":[{"id":01}]}`, `{"count":1}x`, `{"count":1} `, `{"count":1,}`, `{"count":}`,
		`{"now":"2026-12-03T22:53:19Z"}`, `{"now":"yesterday"}`, `{"now":null}`, `{"now":5}`,
		`{"jobs":[{"submitted_at":null,"computed_priority":null,"gpu_indices":null}]}`,
		`{"jobs":[{"name":"\ud83d\ude00 \ud83d x \udc00 \u00e9\/\b\f\n\r\t"}]}`, `{"jobs":[{"name":"\q"}]}`,
		`{"jobs":[{"name":"` + "\xff\xfe" + `"}]}`, `{"jobs":[{"name":"` + "a\nb" + `"}]}`, `{"jobs":[{"name":"\u00"}]}`,
		`{"unknown":{"a":[1,{"b":null},"c\"",true,false,-1.5e3]},"count":2,"more":[[],{}]}`, `{"unknown":{"a" 1}}`,
		`{"n\u0061me":"x","count":1}`, `{"jobs":[{"own":true}],"jobs":[{"own":false}]}`, `{"jobs":[{"own":tru}]}`,
		`{"groups":[{"by_state":{"A":1,"A":2,"\u0042":3}}]}`, `{"groups":[{"by_state":{"A":"1"}}]}`, `{"groups":[{"by_state":[]}]}`,
		`{"jobs":[{"exit_code":null,"started_at":"2026-12-03T22:53:19.5+01:00","cpu_seconds":1e400}]}`,
		`{"jobs":[{"cpu_seconds":-0.0,"estimated_hours":1E-2,"peak_memory_kb":-9223372036854775808}]}`,
	} {
		sameAsEncodingJSON[apitype.Queue](t, []byte(s))
		sameAsEncodingJSON[apitype.AcctList](t, []byte(s))
		sameAsEncodingJSON[apitype.AcctSummary](t, []byte(s))
	}
}

func TestDecodeJSONSizesRowsNotTheirLists(t *testing.T) {
	var page apitype.Queue
	data := []byte(`{"jobs":[{"id":1,"gpu_indices":[0]},{"id":2,"gpu_indices":[1,2]},{"id":3,"gpu_indices":[3]},{"id":4}]}`)
	if err := decodeJSON(data, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Jobs) != 4 || cap(page.Jobs) > 8 {
		t.Errorf("jobs: len %d cap %d, want 4 and a cap near it", len(page.Jobs), cap(page.Jobs))
	}
	for _, j := range page.Jobs {
		if cap(j.GPUIndices) > 4 {
			t.Errorf("job %d: gpu_indices cap %d: sized from the page, not the list", j.ID, cap(j.GPUIndices))
		}
	}
}

func TestDecodeJSONKnowsItsTypes(t *testing.T) {
	for _, c := range []struct {
		v    any
		fast bool
	}{
		{apitype.Queue{}, true}, {apitype.AcctList{}, true}, {apitype.AcctSummary{}, true}, {apitype.JobList{}, true},
		{struct{ X any }{}, false}, {struct{ B []byte }{}, false}, {struct {
			N int `json:"n,string"`
		}{}, false}, {struct{ json.RawMessage }{}, false}, {struct{ M map[int]int }{}, false},
	} {
		if got := fastType(reflect.TypeOf(c.v)); got != c.fast {
			t.Errorf("fastType(%T) = %v, want %v", c.v, got, c.fast)
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	f.Add([]byte(`{"jobs":[{"id":1,"name":"a\u00e9","submitted_at":"2026-12-03T22:53:19Z","gpu_indices":[1]}],"count":1,"next":""}`))
	f.Add([]byte(`{"groups":[{"by_state":{"A":1}}],"from":null}`))
	f.Add([]byte(`{"jobs":[{"exit_code":3,"completed_at":"2026-12-03T22:53:19.1+02:00","cpu_seconds":0.25}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsEncodingJSON[apitype.Queue](t, data)
		sameAsEncodingJSON[apitype.AcctList](t, data)
		sameAsEncodingJSON[apitype.AcctSummary](t, data)
	})
}

// BenchmarkDecodeQueue decodes a page of 10,000 queue rows as rcqd writes it
// for an admin, with encoding/json and with decodeJSON.
func BenchmarkDecodeQueue(b *testing.B) {
	now := time.Now().UTC()
	q := apitype.Queue{Now: now}
	for i := range 10_000 {
		q.Jobs = append(q.Jobs, apitype.QueueJob{ID: int64(i), User: "admin@localhost", GroupID: 1, Status: "pending", CPUCores: 1,
			MemoryGB: 1, Own: true, Name: fmt.Sprintf("bench-%d", i), Priority: 5,
			Computed: &rcq.PriorityFactors{Base: 6, FairShare: 2, WaitBoost: 1.0008706224027777, Final: 12.010447468833332},
			Rank:     i + 1, Reason: "JobHeldUser", ReasonDetail: strings.Repeat("held by its owner ", 4), SubmittedAt: &now, EstimatedHours: 1})
	}
	data, err := json.Marshal(q)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encoding/json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var out apitype.Queue
			if err := json.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeJSON", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var out apitype.Queue
			if err := decodeJSON(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Goroutines meeting a type for the first time at once all decode it: none
// may see the type judged fast before its layout is published (a panic in
// TestTransports under -race found that).
func TestDecodeNewTypeConcurrently(t *testing.T) {
	type inner struct {
		N    int      `json:"n"`
		Next *inner   `json:"next"`
		Tags []string `json:"tags"`
	}
	type page struct {
		Items []inner `json:"items"`
	}
	data := []byte(`{"items":[{"n":1,"next":{"n":2},"tags":["a"]},{"n":3}]}`)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			var p page
			if err := decodeJSON(data, &p); err != nil || len(p.Items) != 2 || p.Items[0].Next.N != 2 {
				t.Errorf("decode: %v %+v", err, p)
			}
		})
	}
	wg.Wait()
}

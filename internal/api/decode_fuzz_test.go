package api

import (
	"encoding/json"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// FuzzDecodeSubmit: whatever the body, the strict decoder of POST /api/jobs
// never panics, refuses only with a 400-kind error, and what it accepts is
// also what plain encoding/json reads (it is only ever stricter).
func FuzzDecodeSubmit(f *testing.F) {
	for _, s := range []string{
		`{"script":"echo hi"}`,
		`{"script":"echo","cpu_cores":2,"memory_gb":4,"gpu_count":1,"estimated_hours":1.5,"priority":3}`,
		`{"script":"echo","env":{"A":"1","a":"2"},"args":["x","y"],"dependencies":[{"type":"afterok","job_id":1}]}`,
		`{"script":"echo","priority":1,"Priority":10}`,
		`{"script":"echo"} {}`,
		`{"script":"echo","env":{"A":"1"},"priority":1,"priority":2}`,
		`[{"script":"x"}]`,
		`{"script":"\u0000"}`,
		`{"script":"echo","cpu_cores":1e9}`,
		`{"jobs":[{"script":"a"}]}`,
		`{"script":"a","K":1,"\u212a":2}`,
		`{`, `}`, `]`, `null`, `""`, `{"a":{"b":{"c":[{"d":{}}]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req apitype.SubmitRequest
		err := decodeBytes(body, &req)
		if err != nil {
			if k := rcq.KindOf(err); k != rcq.KindInvalid {
				t.Fatalf("decode %q: error of kind %v: %v", body, k, err)
			}
			return
		}
		var plain apitype.SubmitRequest
		if err := json.Unmarshal(body, &plain); err != nil {
			t.Fatalf("strict decode accepted %q, encoding/json refuses it: %v", body, err)
		}
		a, _ := json.Marshal(req)
		b, _ := json.Marshal(plain)
		if string(a) != string(b) {
			t.Fatalf("strict and plain decodes of %q differ: %s vs %s", body, a, b)
		}
	})
}

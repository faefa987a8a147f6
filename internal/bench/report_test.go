package bench

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, c := range []struct{ p, want float64 }{{50, 5}, {99, 10}, {100, 10}, {1, 1}, {0, 1}, {90, 9}} {
		if got := percentile(xs, c.p); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if xs[0] != 5 {
		t.Error("percentile sorted its argument in place")
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("percentile of no samples is not NaN")
	}
}

func TestGoal(t *testing.T) {
	r := Result{Value: 60}.goal(false, 60)
	if r.Met == nil || !*r.Met || r.Goal != "<= 60" {
		t.Errorf("60 <= 60: %+v", r)
	}
	r = Result{Value: 499.9}.goal(true, 500)
	if r.Met == nil || *r.Met || r.Goal != ">= 500" {
		t.Errorf("499.9 >= 500: %+v", r)
	}
}

func TestLogFields(t *testing.T) {
	line := `time=2026-11-28T17:11:30.187Z level=DEBUG msg="scheduling cycle" component=sched pending=100001 started=4000 rejected=0 cancelled=0 took=1.234s`
	kv := logFields(line)
	if kv["started"] != "4000" || kv["took"] != "1.234s" || kv["pending"] != "100001" {
		t.Errorf("logFields = %v", kv)
	}
}

func TestWriteTable(t *testing.T) {
	rep := &Report{Results: []Result{
		Result{Scenario: 4, Name: "end-to-end", Params: "jobs=2000", Metric: "jobs/s", Value: 77.9}.goal(true, 500),
		{Scenario: 2, Name: "PostgreSQL insert", Params: "clients=16", Metric: "tx/s", Value: 22812},
	}}
	var buf bytes.Buffer
	if err := rep.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"end-to-end", "jobs=2000", "77.9", ">= 500", "no", "22812", "goals met: 0 of 1", "missed: 4 end-to-end jobs/s"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestParseGoBench(t *testing.T) {
	out := []byte(`goos: linux
BenchmarkSchedule/100kx1000-2        	       3	  31627520 ns/op	      1170 starts	 22044680 B/op	   29900 allocs/op
BenchmarkCycle/100kx1000-2           	       3	 149993620 ns/op	      7465 running	36493386 B/op	   21279 allocs/op
PASS
`)
	got := parseGoBench(out)
	if got["BenchmarkSchedule/100kx1000"] != 31627520 || got["BenchmarkCycle/100kx1000"] != 149993620 || len(got) != 2 {
		t.Errorf("parseGoBench = %v", got)
	}
}

func TestEdgeRates(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	// 2 completions in the first 100 ms, then 2 over the last 400 ms.
	done := []time.Duration{ms(1000), ms(50), ms(600), ms(100), ms(700), ms(800)}
	first, last := edgeRates(done, 2)
	if first != 20 || last != 2/0.3 {
		t.Errorf("edgeRates = %v, %v; want 20, %v", first, last, 2/0.3)
	}
	if f, _ := edgeRates(done, 4); !math.IsNaN(f) {
		t.Errorf("edgeRates with 2k > n = %v, want NaN", f)
	}
}

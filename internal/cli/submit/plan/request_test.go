package plan

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
)

func TestAppendRequestMatchesEncodingJSON(t *testing.T) {
	one, two, half, no, task := 1, 2, 0.5, false, 3
	for _, r := range []apitype.SubmitRequest{
		{},
		{Script: "#!/bin/sh\ntrue\n", Hold: true, Umask: "0022", WorkingDir: "/tmp/wd", Name: "wrap", Output: "/dev/null"},
		{Script: "#!/bin/sh\necho \"<&>\" \\ \t\u2028 \xff é\n", Args: []string{"a", "", "b c"},
			Env:      map[string]string{"PATH": "/bin", "A<": "x&y", "": "empty", "Z": "\x01"},
			CPUCores: &two, MemoryGB: &one, GPUCount: &one, EstimatedHours: &half, Priority: &two,
			Error: "e.%j", Array: "0-9%2", TimeLimit: "unlimited", Requeue: &no,
			Dependencies: apitype.DependencyList{{Type: "afterok", JobID: 7}, {Type: "afterany", JobID: 8, ArrayTaskID: &task, State: "pending"}}},
		{Script: "x", EstimatedHours: new(1e-7)},
		{Script: "x", EstimatedHours: new(1e21), Env: map[string]string{}},
	} {
		want, err := json.Marshal(&r)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendRequest([]byte("prefix"), &r)
		if !ok || !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Errorf("appendRequest(%+v) =\n%s (ok %v), encoding/json:\n%s", r, got, ok, want)
		}
	}
	if _, ok := appendRequest(nil, &apitype.SubmitRequest{EstimatedHours: new(math.NaN())}); ok {
		t.Error("a NaN estimate was encoded; json.Marshal refuses it")
	}
}

func FuzzAppendRequest(f *testing.F) {
	f.Add("#!/bin/sh\n", "name", "K", "V", "arg", 1.5, 3, true)
	f.Fuzz(func(t *testing.T, script, name, k, v, arg string, hours float64, n int, hold bool) {
		r := apitype.SubmitRequest{Script: script, Name: name, Env: map[string]string{k: v, "PATH": v}, Args: []string{arg},
			CPUCores: &n, EstimatedHours: &hours, Hold: hold, Umask: name,
			Dependencies: apitype.DependencyList{{Type: name, JobID: int64(n)}}}
		want, err := json.Marshal(&r)
		got, ok := appendRequest(nil, &r)
		if (err == nil) != ok {
			t.Fatalf("encoding/json error %v, appendRequest ok %v", err, ok)
		}
		if ok && !bytes.Equal(got, want) {
			t.Fatalf("appendRequest:\n%s\nencoding/json:\n%s", got, want)
		}
	})
}

func TestJobIDOf(t *testing.T) {
	for body, want := range map[string]int64{
		`{"message":"Job submitted successfully","job_id":10618,"status":"pending"}`: 10618,
		`{"job_id":7}`: 7,
		`{"message":"a \"job_id\":99 b","job_id":5,"status":"pending"}`: 5,
		`{"message":"x", "job_id" : 12 }`:                               12, // another spelling: encoding/json
	} {
		if got, err := jobIDOf([]byte(body)); err != nil || got != want {
			t.Errorf("jobIDOf(%s) = %d, %v; want %d", body, got, err, want)
		}
	}
	for _, body := range []string{``, `{"job_id":"7"}`, `<html>`} {
		if got, err := jobIDOf([]byte(body)); err == nil {
			t.Errorf("jobIDOf(%s) = %d, want an error", body, got)
		}
	}
}

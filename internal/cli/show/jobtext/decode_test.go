package jobtext

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/jsonscan"
	"github.com/rcq-project/rcq/internal/rcq"
)

// sameAsEncodingJSON decodes in with decodeJob and with encoding/json and
// fails unless both agree on the job and on whether it is an error.
func sameAsEncodingJSON(t *testing.T, in []byte) {
	t.Helper()
	got, gotErr := decodeJob(in)
	var want apitype.Job
	wantErr := json.Unmarshal(in, &want)
	if (gotErr == nil) != (wantErr == nil) || !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ndecodeJob     %+v, %v\nencoding/json %+v, %v", in, got, gotErr, want, wantErr)
	}
}

func TestDecodeJobMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 12, 4, 13, 7, 15, 497178000, time.UTC)
	later, code, task, wid, yes := at.Add(time.Minute), 3, 4, int64(2), true
	full := apitype.Job{ID: 5, UserID: 1, User: "ann@lab", UnixUser: "ann", GroupID: 1, Name: "job \"<é>\"\n",
		Script: "#!/bin/sh\necho \\ \t\u0001 ok\n", Args: []string{"a", ""}, WorkingDir: "/w", CPUCores: 2, MemoryGB: 4,
		GPUCount: 1, EstimatedHours: 1.5, Priority: -3, Status: "completed", Reason: "r", ReasonDetail: "d", Hold: "user",
		Dependencies: []apitype.Dependency{{Type: "afterok", JobID: 4, ArrayTaskID: &task, State: "completed"}, {Type: "afterany", JobID: 3}},
		SubmittedAt:  at, StartedAt: &at, CompletedAt: &later, WorkerID: &wid, Worker: "w1", GPUIndices: []int{0, 3},
		ExitCode: &code, Signal: "KILL", OutputPath: "/o", ErrorPath: "/e", ErrorMessage: "m", Umask: "0022",
		CPUSeconds: 1e-7, PeakMemoryKB: 1 << 40, Rank: 2, Computed: &rcq.PriorityFactors{Base: 2, FairShare: 0.5, WaitBoost: 1.0041, Final: 4e21},
		ExpectedStart: &later, ArrayJobID: &wid, ArrayTaskID: &task, ArrayTasks: "0-9", ArrayThrottle: 2, Requeue: &yes,
		Restarts: 1, RequeuedAt: &at}
	for _, j := range []apitype.Job{full, {Args: []string{}, Dependencies: []apitype.Dependency{}, GPUIndices: []int{}}} {
		b, err := json.Marshal(j)
		if err != nil {
			t.Fatal(err)
		}
		sameAsEncodingJSON(t, b)
		// The scanner, not the fallback, read rcqd's own form.
		s := scanner{jsonscan.Scanner{B: b}}
		var got apitype.Job
		if !s.job(&got) || !s.End() {
			t.Errorf("rcqd's form of a job was left to encoding/json: %s", b)
		}
	}
	for _, in := range []string{
		`{}`, ` {"id": 7 , "name" : "x"} `, `null`, `[]`, ``, `{"id":1} x`, `{"id":1,}`,
		`{"ID":7}`, `{"id":7,"id":8}`, `{"extra":1}`, `{"id":"7"}`, `{"id":7.0}`, `{"id":1e2}`, `{"id":-0}`, `{"id":01}`,
		`{"id":99999999999999999999}`, `{"estimated_hours":1e400}`, `{"estimated_hours":.5}`, `{"estimated_hours":+1}`,
		`{"name":null}`, `{"args":null}`, `{"started_at":null,"exit_code":null,"computed_priority":null,"requeue":null}`,
		`{"submitted_at":null}`, `{"submitted_at":"yesterday"}`, `{"submitted_at":"2026-12-04T13:07:15\u002e5Z"}`,
		`{"name":"\ud83d\ude00"}`, `{"name":"\ud800"}`, `{"name":"` + "\xff" + `"}`, `{"name":"a\/b\u00e9"}`, `{"name":"\x"}`,
		`{"computed_priority":{"base":1},"computed_priority":{"final":2}}`, `{"dependencies":[{"job_id":1,"job_id":2}]}`,
		`{"dependencies":[{"type":"afterok","job_id":1,"Extra":1}]}`, `{"gpu_indices":[1,2.5]}`, `{"requeue":"yes"}`,
	} {
		sameAsEncodingJSON(t, []byte(in))
	}
}

func FuzzDecodeJob(f *testing.F) {
	f.Add([]byte(`{"id":5,"user":"a","args":[],"dependencies":[{"type":"afterok","job_id":4}],"submitted_at":"2026-12-04T13:07:15Z","started_at":null,"exit_code":1,"computed_priority":{"base":2,"final":4.5},"gpu_indices":[0]}`))
	f.Add([]byte(`{"name":"a\n\u00e9\\","estimated_hours":1.5e-7,"requeue":true}`))
	f.Fuzz(func(t *testing.T, in []byte) { sameAsEncodingJSON(t, in) })
}

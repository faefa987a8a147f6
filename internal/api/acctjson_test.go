package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
)

func acctSample() apitype.AcctList {
	q := queueSample()
	l := apitype.AcctList{Next: "n&1"}
	code := 3
	for i, qj := range q.Jobs {
		j := apitype.AcctJob{ID: qj.ID, User: qj.User, UnixUser: qj.UnixUser, GroupID: qj.GroupID, Group: qj.Name, Name: qj.Reason,
			Status: qj.Status, WorkingDir: qj.ReasonDetail, CPUCores: qj.CPUCores, MemoryGB: qj.MemoryGB, GPUCount: qj.GPUCount,
			EstimatedHours: qj.EstimatedHours, Reason: qj.Worker, ReasonDetail: qj.ReasonDetail, StartedAt: qj.StartedAt,
			CompletedAt: qj.ExpectedStart, Worker: qj.Name, Output: qj.User, Error: qj.Worker,
			ArrayJobID: qj.ArrayJobID, ArrayTaskID: qj.ArrayTaskID, ArrayTasks: qj.ArrayTasks, ArrayThrottle: qj.ArrayThrottle}
		if qj.SubmittedAt != nil {
			j.SubmittedAt = *qj.SubmittedAt
		}
		if qj.Computed != nil {
			j.CPUSeconds, j.PeakMemoryKB, j.ExitCode, j.Signal = qj.Computed.Final, int64(i)*1000, &code, "KILL"
		}
		l.Jobs = append(l.Jobs, j)
	}
	l.Count = len(l.Jobs)
	return l
}

func TestAcctJSONMatchesEncodingJSON(t *testing.T) {
	for _, l := range []apitype.AcctList{acctSample(), {Jobs: []apitype.AcctJob{}}} {
		var want bytes.Buffer
		if err := json.NewEncoder(&want).Encode(l); err != nil {
			t.Fatal(err)
		}
		if got := appendAcct(nil, &l, nil); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("appendAcct:\n%s\nencoding/json:\n%s", got, want.Bytes())
		}
	}
}

func TestAcctFieldsKeepOnlyThoseKeys(t *testing.T) {
	l := acctSample()
	full, _ := json.Marshal(l)
	var all struct{ Jobs []map[string]json.RawMessage }
	_ = json.Unmarshal(full, &all)
	for _, list := range []string{"id", "id,status,exit_code,started_at,array_tasks", "working_dir,output,error,cpu_seconds,signal"} {
		f, err := parseAcctFields(list)
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Jobs []map[string]json.RawMessage }
		if err := json.Unmarshal(appendAcct(nil, &l, f), &got); err != nil {
			t.Fatalf("%s: %v", list, err)
		}
		for i, row := range got.Jobs {
			for k, v := range all.Jobs[i] {
				kept := f[slices.Index(acctFields, k)]
				if gv, ok := row[k]; ok != kept || ok && !bytes.Equal(gv, v) {
					t.Fatalf("fields=%s row %d key %s: got %s (present %v), want present %v with %s", list, i, k, gv, ok, kept, v)
				}
			}
		}
	}
	if _, err := parseAcctFields("bogus"); err == nil {
		t.Fatal("an unknown field was accepted")
	}
	rt := reflect.TypeOf(apitype.AcctJob{})
	var keys []string
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		keys = append(keys, name)
	}
	if !slices.Equal(keys, acctFields) {
		t.Fatalf("apitype.AcctJob's keys %v, acctFields %v", keys, acctFields)
	}
}

package ui

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
)

// scanQueue splits what encoding/json writes (and rcqd's queue writer,
// which matches it byte for byte) into rows that decode to the same jobs,
// whatever their strings hold.
func TestScanQueue(t *testing.T) {
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	arr, task := int64(7), 3
	names := []string{"plain", `quo"te`, `back\slash`, `{"status":"running","group_id":9}`, "]}],", "ünïcode ✓", "tab\tnew\nline", ""}
	var q apitype.Queue
	for i, n := range names {
		j := apitype.QueueJob{ID: int64(i + 1), User: "ann@example.org", GroupID: int64(i%3 + 1), Status: []string{"pending", "running"}[i%2],
			Name: n, Reason: "Resources", ReasonDetail: `needs "4" cores`, Rank: i, SubmittedAt: &now}
		if i == 2 {
			j.ArrayJobID, j.ArrayTaskID = &arr, &task
		}
		if i == 3 {
			j.ArrayJobID, j.ArrayTasks, j.ArrayThrottle = &arr, "4-9", 2
		}
		q.Jobs = append(q.Jobs, j)
	}
	q.Count, q.Now, q.Next = len(q.Jobs), now, "cursor-x"
	body, _ := json.Marshal(&q)
	rows, tail, err := scanQueue(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(q.Jobs) || !tail.Now.Equal(now) || tail.Next != "cursor-x" {
		t.Fatalf("rows %d, now %v, next %q", len(rows), tail.Now, tail.Next)
	}
	for i, r := range rows {
		var got apitype.QueueJob
		if err := json.Unmarshal(r.raw, &got); err != nil {
			t.Fatalf("row %d %s: %v", i, r.raw, err)
		}
		if !reflect.DeepEqual(got, q.Jobs[i]) || r.status != q.Jobs[i].Status || r.groupID != q.Jobs[i].GroupID {
			t.Errorf("row %d: %+v status %q group %d, want %+v", i, got, r.status, r.groupID, q.Jobs[i])
		}
	}
	// Empty, and shapes it does not read (the caller then decodes whole).
	if rows, _, err := scanQueue([]byte(`{"jobs":[],"count":0,"now":"2026-12-04T10:00:00Z","next":""}`)); err != nil || len(rows) != 0 {
		t.Errorf("empty queue: %v %v", rows, err)
	}
	for _, bad := range []string{"", `{"count":0,"jobs":[]}`, `{ "jobs": [] }`, `{"jobs":[{"id":1}`, `{"jobs":[{"id":"}"]`} {
		if _, _, err := scanQueue([]byte(bad)); err == nil {
			t.Errorf("scanQueue(%q): no error", bad)
		}
	}
}

func TestExitCode(t *testing.T) {
	three := 3
	for _, c := range []struct {
		code   *int
		signal string
		want   string
	}{{nil, "", "-"}, {&three, "", "3:0"}, {nil, "TERM", "0:15"}, {nil, "KILL", "0:9"}} {
		if got := exitCode(c.code, c.signal); got != c.want {
			t.Errorf("exitCode(%v, %q) = %q, want %q", c.code, c.signal, got, c.want)
		}
	}
}

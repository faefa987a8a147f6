package rcq

import (
	"strings"
	"testing"
)

func TestParseDependenciesArrays(t *testing.T) {
	deps, err := ParseDependencies("afterok:123_4:7,aftercorr:200,afterany:123")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range deps {
		got = append(got, d.String())
	}
	if want := "afterok:123_4 afterok:7 aftercorr:200 afterany:123"; strings.Join(got, " ") != want {
		t.Errorf("parsed %q, want %q", strings.Join(got, " "), want)
	}
	if deps[0].ArrayTaskID == nil || *deps[0].ArrayTaskID != 4 || deps[1].ArrayTaskID != nil {
		t.Errorf("array task ids: %+v", deps)
	}
	for _, bad := range []string{"afterok:123_", "afterok:123_x", "afterok:_4", "afterok:123_-1", "aftercorr:123_4", "afterok:123_04", "before:1"} {
		if _, err := ParseDependencies(bad); err == nil {
			t.Errorf("ParseDependencies(%q) took it", bad)
		}
	}
}

func TestAfterCorrSatisfied(t *testing.T) {
	d := Dependency{Type: AfterCorr, JobID: 1}
	if met, can := d.Satisfied(JobCompleted); !met || !can {
		t.Error("aftercorr not met by a completed element")
	}
	if met, can := d.Satisfied(JobFailed); met || can {
		t.Error("aftercorr met or possible after a failed element")
	}
}

// TestUpdateElementDependsBeforeArray: an element split off late (a large
// id) may still only depend on jobs submitted before its array.
func TestUpdateElementDependsBeforeArray(t *testing.T) {
	task := 5
	el := &Job{ID: 300, Priority: 1, EstimatedHours: 1, Array: &JobArray{ID: 123, TaskID: &task}}
	for id, ok := range map[JobID]bool{122: true, 200: false, 123: false} {
		deps := []Dependency{{Type: AfterOK, JobID: id}}
		u := JobUpdate{Dependencies: &deps}
		err := u.Check(el, false, DefaultLimits)
		if (err == nil) != ok {
			t.Errorf("element of 123 depending on %d: %v", id, err)
		}
	}
}

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

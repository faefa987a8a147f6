package rcq

import (
	"errors"
	"math"
	"testing"
)

func TestJobUpdateCheck(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	hours := func(h float64) *float64 { return &h }
	prio := func(p int) *int { return &p }
	deps := func(ds ...Dependency) *[]Dependency { return &ds }
	job := Job{ID: 10, EstimatedHours: 2, Priority: 5, State: JobPending}
	tests := []struct {
		name  string
		u     JobUpdate
		admin bool
		code  string // "" = allowed
	}{
		{"nothing", JobUpdate{}, false, "invalid_update"},
		{"rename", JobUpdate{Name: str("new")}, false, ""},
		{"rename with slash", JobUpdate{Name: str("a/b")}, false, "invalid_name"},
		{"rename too long", JobUpdate{Name: str(string(make([]byte, 201)))}, true, "invalid_name"},
		{"lower time limit", JobUpdate{EstimatedHours: hours(1)}, false, ""},
		{"same time limit", JobUpdate{EstimatedHours: hours(2)}, false, ""},
		{"raise time limit", JobUpdate{EstimatedHours: hours(3)}, false, "admin_required"},
		{"admin raises time limit", JobUpdate{EstimatedHours: hours(3)}, true, ""},
		{"zero time limit", JobUpdate{EstimatedHours: hours(0)}, true, "invalid_estimated_hours"},
		{"NaN time limit", JobUpdate{EstimatedHours: hours(math.NaN())}, true, "invalid_estimated_hours"},
		{"time limit over the maximum", JobUpdate{EstimatedHours: hours(24*30 + 1)}, true, "invalid_estimated_hours"},
		{"lower priority", JobUpdate{Priority: prio(1)}, false, ""},
		{"raise priority", JobUpdate{Priority: prio(6)}, false, "admin_required"},
		{"admin raises priority", JobUpdate{Priority: prio(10)}, true, ""},
		{"priority out of range", JobUpdate{Priority: prio(11)}, true, "invalid_priority"},
		{"priority zero", JobUpdate{Priority: prio(0)}, false, "invalid_priority"},
		{"lower one, raise another", JobUpdate{Priority: prio(1), EstimatedHours: hours(5)}, false, "admin_required"},
		{"set dependencies", JobUpdate{Dependencies: deps(Dependency{Type: AfterOK, JobID: 3}, Dependency{Type: AfterAny, JobID: 9})}, false, ""},
		{"clear dependencies", JobUpdate{Dependencies: deps()}, false, ""},
		{"depend on itself", JobUpdate{Dependencies: deps(Dependency{Type: AfterOK, JobID: 10})}, true, "invalid_dependencies"},
		{"depend on a later job", JobUpdate{Dependencies: deps(Dependency{Type: AfterOK, JobID: 11})}, true, "invalid_dependencies"},
		{"bad dependency type", JobUpdate{Dependencies: deps(Dependency{Type: "after", JobID: 3})}, false, "invalid_dependencies"},
		{"bad dependency id", JobUpdate{Dependencies: deps(Dependency{Type: AfterOK, JobID: 0})}, false, "invalid_dependencies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := job
			err := tt.u.Check(&j, tt.admin, DefaultLimits)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if got := CodeOf(err); got != tt.code {
				t.Fatalf("code %q (%v), want %q", got, err, tt.code)
			}
			if tt.code == "admin_required" && !errors.Is(err, ErrForbidden) {
				t.Errorf("%v is not Forbidden", err)
			}
		})
	}
}

func TestJobUpdateApply(t *testing.T) {
	t.Parallel()
	name, h, p := " renamed ", 0.5, 2
	ds := []Dependency{{Type: AfterOK, JobID: 1}}
	j := Job{ID: 4, Name: "old", EstimatedHours: 1, Priority: 3, Dependencies: []Dependency{{Type: AfterAny, JobID: 2}}}
	u := JobUpdate{Name: &name, EstimatedHours: &h, Priority: &p, Dependencies: &ds}
	u.Apply(&j)
	if j.Name != "renamed" || j.EstimatedHours != 0.5 || j.Priority != 2 || len(j.Dependencies) != 1 || j.Dependencies[0] != ds[0] {
		t.Errorf("after apply: %+v", j)
	}
	only := JobUpdate{Priority: &p}
	k := Job{Name: "keep", EstimatedHours: 7, Dependencies: []Dependency{{Type: AfterAny, JobID: 2}}}
	only.Apply(&k)
	if k.Name != "keep" || k.EstimatedHours != 7 || len(k.Dependencies) != 1 {
		t.Errorf("fields not in the update changed: %+v", k)
	}
}

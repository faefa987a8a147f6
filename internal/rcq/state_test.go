package rcq

import (
	"errors"
	"testing"
	"time"
)

func TestJobStateMachine(t *testing.T) {
	P, R, CD, F, CA, TO, NF := JobPending, JobRunning, JobCompleted, JobFailed, JobCancelled, JobTimeout, JobNodeFail
	cases := []struct {
		from, to JobState
		ok       bool
	}{
		{P, R, true}, {P, CA, true},
		{P, F, false}, {P, CD, false}, {P, TO, false}, {P, P, false},
		{R, CD, true}, {R, F, true}, {R, CA, true}, {R, TO, true}, {R, NF, true},
		{R, P, true}, // requeued after node_fail or a lost launch, or by hand
		{R, R, false}, {P, NF, false},
		// An end state goes back to pending when requeued by hand, nowhere else.
		{CD, P, true}, {F, P, true}, {CA, P, true}, {TO, P, true}, {NF, P, true},
		{CD, R, false}, {CA, R, false}, {CA, CD, false}, {TO, F, false}, {NF, R, false}, {CD, CD, false},
		{"bogus", R, false}, {P, "bogus", false},
	}
	for _, c := range cases {
		if got := c.from.CanBecome(c.to); got != c.ok {
			t.Errorf("%s.CanBecome(%s) = %v, want %v", c.from, c.to, got, c.ok)
		}
	}
	for _, s := range JobStates {
		terminal := s != P && s != R
		if s.Terminal() != terminal {
			t.Errorf("%s.Terminal() = %v", s, s.Terminal())
		}
		for _, to := range JobStates {
			if terminal && to != P && s.CanBecome(to) {
				t.Errorf("terminal %s can become %s", s, to)
			}
		}
		if !s.Valid() {
			t.Errorf("%s is not Valid", s)
		}
	}
	if JobState("done").Valid() || JobState("").Valid() {
		t.Error("unknown states are Valid")
	}
}

func TestParseJobState(t *testing.T) {
	for in, want := range map[string]JobState{
		"pending": JobPending, "RUNNING": JobRunning, " cd ": JobCompleted, "F": JobFailed,
		"ca": JobCancelled, "Timeout": JobTimeout, "TO": JobTimeout, "pd": JobPending, "r": JobRunning,
		"node_fail": JobNodeFail, "NF": JobNodeFail,
	} {
		got, err := ParseJobState(in)
		if err != nil || got != want {
			t.Errorf("ParseJobState(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "done", "CG", "pend"} {
		_, err := ParseJobState(in)
		checkErr(t, "ParseJobState("+in+")", err, "state", "use pending, running")
	}
	for s, short := range map[JobState]string{JobPending: "PD", JobRunning: "R", JobCompleted: "CD", JobFailed: "F",
		JobCancelled: "CA", JobTimeout: "TO", JobNodeFail: "NF", "x": "??"} {
		if got := s.Short(); got != short {
			t.Errorf("%q.Short() = %q, want %q", s, got, short)
		}
	}
}

func TestResources(t *testing.T) {
	free := Resources{CPUCores: 4, MemoryGB: 16, GPUs: 1}
	cases := []struct {
		r     Resources
		fits  bool
		short string
	}{
		{Resources{CPUCores: 4, MemoryGB: 16, GPUs: 1}, true, ""},
		{Resources{CPUCores: 1}, true, ""},
		{Resources{CPUCores: 5}, false, "cpu_cores (need 5, free 4)"},
		{Resources{CPUCores: 1, MemoryGB: 17}, false, "memory_gb (need 17, free 16)"},
		{Resources{CPUCores: 1, GPUs: 2}, false, "gpu_count (need 2, free 1)"},
		{Resources{CPUCores: 8, MemoryGB: 32, GPUs: 2}, false, "cpu_cores (need 8, free 4)"},
	}
	for _, c := range cases {
		if got := c.r.Fits(free); got != c.fits {
			t.Errorf("%v.Fits(%v) = %v", c.r, free, got)
		}
		if got := c.r.Short(free); got != c.short {
			t.Errorf("%v.Short(%v) = %q, want %q", c.r, free, got, c.short)
		}
	}
	a, b := Resources{CPUCores: 3, MemoryGB: 5, GPUs: 1}, Resources{CPUCores: 1, MemoryGB: 2, GPUs: 1}
	if got := a.Sub(b); got != (Resources{2, 3, 0}) {
		t.Errorf("Sub = %v", got)
	}
	if got := a.Add(b); got != (Resources{4, 7, 2}) {
		t.Errorf("Add = %v", got)
	}
	if got := a.Sub(b).Add(b); got != a {
		t.Errorf("Sub then Add = %v, want %v", got, a)
	}
	if s := a.String(); s != "3 cores, 5 GB, 1 GPUs" {
		t.Errorf("String = %q", s)
	}
}

func TestLargestFit(t *testing.T) {
	ws := []Worker{
		{Name: "small", Capacity: Resources{CPUCores: 4, MemoryGB: 64}, State: WorkerOnline},
		{Name: "wide", Capacity: Resources{CPUCores: 16, MemoryGB: 32}, State: WorkerDrained},
		{Name: "wide-mem", Capacity: Resources{CPUCores: 16, MemoryGB: 128}, State: WorkerOnline},
		{Name: "huge-gone", Capacity: Resources{CPUCores: 128, MemoryGB: 1024, GPUs: 8}, State: WorkerOffline},
	}
	cases := []struct {
		r       Resources
		fits    bool
		largest string
	}{
		{Resources{CPUCores: 4, MemoryGB: 64}, true, ""},
		{Resources{CPUCores: 16, MemoryGB: 100}, true, ""},                   // a drained worker still counts
		{Resources{CPUCores: 64}, false, "wide-mem"},                         // offline workers never count
		{Resources{CPUCores: 1, GPUs: 1}, false, "wide-mem"},                 // most cores, then most memory
		{Resources{CPUCores: 1, MemoryGB: 1024, GPUs: 8}, false, "wide-mem"}, // the offline one would fit
	}
	for _, c := range cases {
		fits, largest := LargestFit(ws, c.r)
		name := ""
		if largest != nil {
			name = largest.Name
		}
		if fits != c.fits || name != c.largest {
			t.Errorf("LargestFit(%v) = %v, %q; want %v, %q", c.r, fits, name, c.fits, c.largest)
		}
	}
	if fits, largest := LargestFit(ws[3:], Resources{CPUCores: 1}); fits || largest != nil {
		t.Errorf("only offline workers: %v, %v; want false, nil", fits, largest)
	}
}

func TestJobTimes(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	j := &Job{EstimatedHours: 1.5}
	if j.TimeLimit() != 90*time.Minute {
		t.Errorf("TimeLimit = %v", j.TimeLimit())
	}
	if !j.ExpectedEnd().IsZero() {
		t.Errorf("a job not started has an expected end: %v", j.ExpectedEnd())
	}
	j.StartedAt = &start
	if want := start.Add(90 * time.Minute); !j.ExpectedEnd().Equal(want) {
		t.Errorf("ExpectedEnd = %v, want %v", j.ExpectedEnd(), want)
	}
}

func TestDependencySatisfied(t *testing.T) {
	cases := []struct {
		typ           DependencyType
		state         JobState
		met, possible bool
	}{
		{AfterOK, JobPending, false, true}, {AfterOK, JobRunning, false, true},
		{AfterOK, JobCompleted, true, true}, {AfterOK, JobFailed, false, false}, {AfterOK, JobCancelled, false, false},
		{AfterAny, JobCompleted, true, true}, {AfterAny, JobFailed, true, true}, {AfterAny, JobTimeout, true, true},
		{AfterAny, JobRunning, false, true},
		{AfterNotOK, JobCompleted, false, false}, {AfterNotOK, JobFailed, true, true}, {AfterNotOK, JobCancelled, true, true},
		{AfterCorr, JobCompleted, true, true}, {AfterCorr, JobTimeout, false, false},
	}
	for _, c := range cases {
		met, possible := Dependency{Type: c.typ, JobID: 1}.Satisfied(c.state)
		if met != c.met || possible != c.possible {
			t.Errorf("%s on a %s job: met %v possible %v, want %v %v", c.typ, c.state, met, possible, c.met, c.possible)
		}
	}
	four := 4
	for d, want := range map[*Dependency]string{
		{Type: AfterOK, JobID: 12}:                       "afterok:12",
		{Type: AfterAny, JobID: 12, ArrayTaskID: &four}:  "afterany:12_4",
		{Type: AfterCorr, JobID: 12, ArrayTaskID: &four}: "aftercorr:12",
	} {
		if got := d.String(); got != want {
			t.Errorf("String = %q, want %q", got, want)
		}
	}
	for _, ok := range []DependencyType{AfterOK, AfterAny, AfterNotOK, AfterCorr} {
		if !ValidDependencyType(ok) {
			t.Errorf("%s not valid", ok)
		}
	}
	if ValidDependencyType("afterburn") || ValidDependencyType("") {
		t.Error("unknown dependency types are valid")
	}
	_, err := ParseDependencies("afterok:0")
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("afterok:0 = %v, want invalid", err)
	}
}

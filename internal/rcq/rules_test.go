package rcq

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// checkErr asserts err is nil when field is "", else invalid_<field> with a
// message naming the field and saying want.
func checkErr(t *testing.T, what string, err error, field, want string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Errorf("%s = %v, want accepted", what, err)
		}
		return
	}
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalid || e.Code != "invalid_"+field {
		t.Errorf("%s = %#v, want invalid_%s", what, err, field)
		return
	}
	if !strings.HasPrefix(e.Msg, field+": ") || !strings.Contains(e.Msg, want) {
		t.Errorf("%s: message %q, want it to name %s and say %q", what, e.Msg, field, want)
	}
}

func TestIntRanges(t *testing.T) {
	lim := DefaultLimits
	cases := []struct {
		r     IntRange
		n     int
		field string // "" when accepted
	}{
		{PriorityRange, 0, "priority"},
		{PriorityRange, 1, ""},
		{PriorityRange, 10, ""},
		{PriorityRange, 11, "priority"},
		{PriorityRange, -5, "priority"},
		{lim.CPUCoresRange(), 0, "cpu_cores"},
		{lim.CPUCoresRange(), 1, ""},
		{lim.CPUCoresRange(), 1 << 16, ""},
		{lim.CPUCoresRange(), 1<<16 + 1, "cpu_cores"},
		{lim.MemoryGBRange(), -1, "memory_gb"},
		{lim.MemoryGBRange(), 0, ""},
		{lim.MemoryGBRange(), 1 << 24, ""},
		{lim.MemoryGBRange(), 1<<24 + 1, "memory_gb"},
		{lim.GPUsRange(), -1, "gpu_count"},
		{lim.GPUsRange(), 0, ""},
		{lim.GPUsRange(), 1 << 10, ""},
		{lim.GPUsRange(), 1<<10 + 1, "gpu_count"},
	}
	for _, c := range cases {
		if got := c.r.Contains(c.n); got != (c.field == "") {
			t.Errorf("%s.Contains(%d) = %v", c.r.Field, c.n, got)
		}
		checkErr(t, c.r.Field, c.r.Check(c.n), c.field, c.r.String())
	}
	if s := PriorityRange.String(); s != "a whole number from 1 to 10" {
		t.Errorf("PriorityRange = %q", s)
	}
}

func TestCheckCapacity(t *testing.T) {
	lim := DefaultLimits
	for _, c := range []struct {
		r     Resources
		field string
	}{
		{Resources{CPUCores: 1}, ""},
		{Resources{CPUCores: 64, MemoryGB: 512, GPUs: 8}, ""},
		{Resources{CPUCores: 0}, "cpu_cores"},
		{Resources{CPUCores: 1, MemoryGB: -1}, "memory_gb"},
		{Resources{CPUCores: 1, GPUs: -1}, "gpu_count"},
		{Resources{CPUCores: 1, GPUs: 1<<10 + 1}, "gpu_count"},
	} {
		checkErr(t, c.r.String(), lim.CheckCapacity(c.r), c.field, "whole number")
	}
}

func TestCheckEstimatedHours(t *testing.T) {
	lim := DefaultLimits
	lim.MaxEstimatedHours = 48
	for _, c := range []struct {
		h     float64
		field string
	}{
		{0.01, ""}, {48, ""}, {0, "estimated_hours"}, {-1, "estimated_hours"}, {48.01, "estimated_hours"},
		{math.NaN(), "estimated_hours"}, {math.Inf(1), "estimated_hours"},
	} {
		checkErr(t, "hours", lim.CheckEstimatedHours(c.h), c.field, "at most 48 hours")
	}
}

func TestCheckNames(t *testing.T) {
	lim := DefaultLimits
	lim.MaxNameBytes = 5
	cases := []struct {
		what  string
		err   error
		field string
		want  string
	}{
		{"empty job name", lim.CheckJobName(""), "", ""},
		{"job name at the limit", lim.CheckJobName("abcde"), "", ""},
		{"job name too long", lim.CheckJobName("abcdef"), "name", "at most 5 bytes"},
		{"job name with slash", lim.CheckJobName("a/b"), "name", "without '/'"},
		{"job name with newline", lim.CheckJobName("a\nb"), "name", "control characters"},
		{"job name with spaces", lim.CheckJobName("a b"), "", ""},
		{"group name", CheckGroupName("physics lab"), "", ""},
		{"empty group name", CheckGroupName(""), "name", "1 to 100 characters"},
		{"group name of 100", CheckGroupName(strings.Repeat("g", 100)), "", ""},
		{"group name of 101", CheckGroupName(strings.Repeat("g", 101)), "name", "1 to 100 characters"},
		{"worker name", CheckWorkerName("gpu-a.1"), "", ""},
		{"empty worker name", CheckWorkerName(""), "name", "1 to 100 characters"},
		{"worker name of 100", CheckWorkerName(strings.Repeat("w", 100)), "", ""},
		{"worker name of 101", CheckWorkerName(strings.Repeat("w", 101)), "name", "1 to 100"},
		{"worker name with space", CheckWorkerName("gpu a"), "name", "without spaces"},
		{"worker name with comma", CheckWorkerName("a,b"), "name", "','"},
		{"worker name with slash", CheckWorkerName("a/b"), "name", "'/'"},
		{"worker name with DEL", CheckWorkerName("a\x7f"), "name", "control"},
	}
	for _, c := range cases {
		checkErr(t, c.what, c.err, c.field, c.want)
	}
}

func TestCheckPathAndQuota(t *testing.T) {
	lim := DefaultLimits
	lim.MaxPathBytes = 4
	checkErr(t, "path at the limit", lim.CheckPath("output", "/a/b"), "", "")
	checkErr(t, "path too long", lim.CheckPath("output", "/a/bc"), "output", "is 5 bytes; a path may be at most 4 bytes")
	checkErr(t, "path with NUL", lim.CheckPath("error", "/\x00"), "error", "without NUL")
	for _, c := range []struct {
		q     float64
		field string
	}{{0, ""}, {1000, ""}, {1e12, ""}, {-0.5, "cpu_quota"}, {1e12 + 1e6, "cpu_quota"}, {math.NaN(), "cpu_quota"}, {math.Inf(1), "cpu_quota"}} {
		checkErr(t, "quota", CheckCPUQuota(c.q), c.field, CPUQuotaRange)
	}
}

// TestValidateUnlimited: time_limit "unlimited" is the server's own
// maximum, never the client's guess of it; with estimated_hours too it is
// refused.
func TestValidateUnlimited(t *testing.T) {
	lim := DefaultLimits
	lim.MaxEstimatedHours = 72
	j, err := (&JobSpec{Script: "true", Unlimited: true}).Validate(lim)
	if err != nil || j.EstimatedHours != 72 {
		t.Fatalf("unlimited: %v, hours %v; want 72 (the configured maximum)", err, j)
	}
	h := 2.0
	_, err = (&JobSpec{Script: "true", Unlimited: true, EstimatedHours: &h}).Validate(lim)
	checkErr(t, "unlimited and hours", err, "time_limit", "not both")
}

// TestValidateUsesRules: submit and update refuse what the rules refuse,
// with the rules' messages.
func TestValidateUsesRules(t *testing.T) {
	lim := DefaultLimits
	p0, c0, g, h := 0, 0, -1, -1.0
	for _, c := range []struct {
		spec  JobSpec
		field string
		want  string
	}{
		{JobSpec{Priority: &p0}, "priority", PriorityRange.String()},
		{JobSpec{CPUCores: &c0}, "cpu_cores", lim.CPUCoresRange().String()},
		{JobSpec{GPUs: &g}, "gpu_count", lim.GPUsRange().String()},
		{JobSpec{EstimatedHours: &h}, "estimated_hours", "more than 0"},
		{JobSpec{Name: "a/b"}, "name", "without '/'"},
	} {
		sp := c.spec
		sp.Script = "true"
		_, err := sp.Validate(lim)
		checkErr(t, "Validate "+c.field, err, c.field, c.want)
	}
	j := &Job{ID: 5, Priority: 5, EstimatedHours: 2}
	p11 := 11
	name := "x/y"
	for _, c := range []struct {
		u     JobUpdate
		field string
		want  string
	}{
		{JobUpdate{Priority: &p11}, "priority", PriorityRange.String()},
		{JobUpdate{Priority: &p0}, "priority", PriorityRange.String()},
		{JobUpdate{EstimatedHours: &h}, "estimated_hours", "more than 0"},
		{JobUpdate{Name: &name}, "name", "without '/'"},
	} {
		checkErr(t, "Check "+c.field, c.u.Check(j, true, lim), c.field, c.want)
	}
}

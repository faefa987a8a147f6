package rcq

import (
	"errors"
	"strings"
	"testing"
)

func intp(n int) *int { return &n }

// TestValidateLimits is each bound of a submit as the request it refuses:
// every refusal is invalid_<field> with a message naming the field and the
// limit, and the largest accepted value passes.
func TestValidateLimits(t *testing.T) {
	lim := DefaultLimits
	long := func(n int) string { return "/" + strings.Repeat("d", n-1) }
	deps := func(n int) []Dependency {
		ds := make([]Dependency, n)
		for i := range ds {
			ds[i] = Dependency{Type: AfterOK, JobID: JobID(i + 1)}
		}
		return ds
	}
	cases := []struct {
		name  string
		spec  JobSpec
		field string // "" when accepted
		msg   string // part of the message
	}{
		{"working dir of 3.9 MiB", JobSpec{WorkingDir: long(4_000_000)}, "working_dir", "at most 4096 bytes"},
		{"working dir one byte too long", JobSpec{WorkingDir: long(4097)}, "working_dir", "is 4097 bytes"},
		{"working dir at the limit", JobSpec{WorkingDir: long(4096)}, "", ""},
		{"working dir with NUL", JobSpec{WorkingDir: "/tmp/a\x00b"}, "working_dir", "without NUL"},
		{"relative working dir", JobSpec{WorkingDir: "tmp"}, "working_dir", "absolute"},
		{"output too long", JobSpec{Output: long(4097)}, "output", "at most 4096 bytes"},
		{"output at the limit", JobSpec{Output: long(4096)}, "", ""},
		{"output with NUL", JobSpec{Output: "out\x00"}, "output", "without NUL"},
		{"error too long", JobSpec{Error: long(10_000)}, "error", "at most 4096 bytes"},
		{"error with NUL", JobSpec{Error: "\x00"}, "error", "without NUL"},
		{"name too long", JobSpec{Name: strings.Repeat("n", 201)}, "name", "at most 200 bytes"},
		{"name of 200 multi-byte bytes", JobSpec{Name: strings.Repeat("é", 100)}, "", ""},
		{"name of 201 bytes in 101 characters", JobSpec{Name: strings.Repeat("é", 100) + "x"}, "name", "at most 200 bytes"},
		{"30,000 dependencies", JobSpec{Dependencies: deps(30_000)}, "dependencies", "at most 100 per job, got 30000"},
		{"101 dependencies", JobSpec{Dependencies: deps(101)}, "dependencies", "at most 100"},
		{"100 dependencies", JobSpec{Dependencies: deps(100)}, "", ""},
		{"negative memory", JobSpec{MemoryGB: intp(-1)}, "memory_gb", "from 0 to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sp := c.spec
			sp.Script = "#!/bin/sh\ntrue\n"
			j, err := sp.Validate(lim)
			if c.field == "" {
				if err != nil || j == nil {
					t.Fatalf("Validate = %v, want accepted", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Kind != KindInvalid || e.Code != "invalid_"+c.field {
				t.Fatalf("Validate = %#v, want invalid_%s", err, c.field)
			}
			if !strings.HasPrefix(e.Msg, c.field+": ") || !strings.Contains(e.Msg, c.msg) {
				t.Errorf("message %q: want it to name %s and say %q", e.Msg, c.field, c.msg)
			}
			if len(e.Msg) > 200 {
				t.Errorf("message is %d bytes: it must not echo the value back", len(e.Msg))
			}
		})
	}
}

// TestValidateLimitsConfigured: the bounds are the configured ones, not
// constants.
func TestValidateLimitsConfigured(t *testing.T) {
	lim := DefaultLimits
	lim.MaxPathBytes, lim.MaxNameBytes, lim.MaxDependencies = 10, 3, 1
	for _, sp := range []JobSpec{
		{WorkingDir: "/0123456789"},
		{Output: "/0123456789"},
		{Name: "four"},
		{Dependencies: []Dependency{{Type: AfterOK, JobID: 1}, {Type: AfterOK, JobID: 2}}},
	} {
		sp.Script = "true"
		if _, err := sp.Validate(lim); !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%+v) = %v, want invalid under %+v", sp, err, lim)
		}
	}
	ok := JobSpec{Script: "true", WorkingDir: "/012345678", Name: "abc", Dependencies: []Dependency{{Type: AfterOK, JobID: 1}}}
	if _, err := ok.Validate(lim); err != nil {
		t.Errorf("Validate(%+v) = %v, want accepted", ok, err)
	}
}

// TestValidateMemoryDefault: memory_gb 0 or absent is the configured
// default, never 0 (which the executor would read as "no memory limit").
func TestValidateMemoryDefault(t *testing.T) {
	lim := DefaultLimits
	lim.DefaultMemoryGB = 4
	for _, c := range []struct {
		mem  *int
		want int
	}{{nil, 4}, {intp(0), 4}, {intp(1), 1}, {intp(64), 64}} {
		sp := JobSpec{Script: "true", MemoryGB: c.mem}
		j, err := sp.Validate(lim)
		if err != nil {
			t.Fatal(err)
		}
		if j.Resources.MemoryGB != c.want {
			t.Errorf("memory_gb %v: job has %d GB, want %d", c.mem, j.Resources.MemoryGB, c.want)
		}
	}
}

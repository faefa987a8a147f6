package rcq

import "testing"

func TestParseUmask(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Umask
		ok   bool
	}{
		{"", DefaultUmask, true},
		{"0022", 0o022, true},
		{"077", 0o077, true},
		{"0", 0, true},
		{"0777", 0o777, true},
		{"1000", 0, false}, // beyond permission bits
		{"00777", 0, false},
		{"8", 0, false},
		{"0o22", 0, false},
		{"-1", 0, false},
		{"+22", 0, false},
		{" 022", 0, false},
		{"22\x00", 0, false},
	} {
		got, err := ParseUmask(c.in)
		if c.ok != (err == nil) || got != c.want {
			t.Errorf("ParseUmask(%q) = %v, %v; want %v, ok %v", c.in, got, err, c.want, c.ok)
		}
		if err != nil && CodeOf(err) != "invalid_umask" {
			t.Errorf("ParseUmask(%q): code %q, want invalid_umask", c.in, CodeOf(err))
		}
	}
	for m, want := range map[Umask]string{0: "0000", 0o7: "0007", 0o77: "0077", 0o777: "0777", 0o1777: "1777", 0o12345: "12345"} {
		if s := m.String(); s != want {
			t.Errorf("Umask(%o).String() = %q, want %q", uint32(m), s, want)
		}
	}
}

// A submit without a umask gets the default; one with 0077 keeps it.
func TestSpecUmask(t *testing.T) {
	for in, want := range map[string]Umask{"": DefaultUmask, "0077": 0o077} {
		j, err := (&JobSpec{Script: "true", Umask: in}).Validate(DefaultLimits)
		if err != nil || j.Umask != want {
			t.Errorf("umask %q: %v, %v; want %v", in, j, err, want)
		}
	}
	if _, err := (&JobSpec{Script: "true", Umask: "999"}).Validate(DefaultLimits); CodeOf(err) != "invalid_umask" {
		t.Errorf("umask 999: %v, want invalid_umask", err)
	}
}

package rcq

import "testing"

func TestExpandFilename(t *testing.T) {
	vals := map[byte]string{'j': "42", 'x': "a/b"}
	value := func(c byte) (string, bool) { v, ok := vals[c]; return v, ok }
	for in, want := range map[string]string{
		"out-%j.log": "out-42.log",
		"%5j":        "00042",
		"%x-%q":      "a_b-%q",
		"100%%":      "100%",
		"%3%":        "%3%",
		"tail%":      "tail%",
		"plain":      "plain",
	} {
		if got := ExpandFilename(in, value); got != want {
			t.Errorf("ExpandFilename(%q) = %q, want %q", in, got, want)
		}
	}
}

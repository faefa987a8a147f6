package rcq

import (
	"slices"
	"strings"
	"testing"
)

func TestParseArraySpec(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		count    int
		throttle int
	}{
		{"0-99", "0-99", 100, 0},
		{"1,3,5-7", "1,3,5-7", 5, 0},
		{"0-99:4", "0-96:4", 25, 0},
		{"0-99:4%8", "0-96:4", 25, 8},
		{"1-10%2", "1-10", 10, 2},
		{"7", "7", 1, 0},
		{"5,1,3", "1-5:2", 3, 0},
		{"1,2,4,6,8", "1-2,4-8:2", 5, 0},
		{"3-3:5", "3", 1, 0},
		{"0,0,0", "0", 1, 0},
	} {
		spec, err := ParseArraySpec(tc.in, 1000)
		if err != nil {
			t.Errorf("ParseArraySpec(%q): %v", tc.in, err)
			continue
		}
		if got := spec.Tasks.String(); got != tc.want {
			t.Errorf("ParseArraySpec(%q).Tasks = %q, want %q", tc.in, got, tc.want)
		}
		if spec.Tasks.Len() != tc.count || spec.Throttle != tc.throttle {
			t.Errorf("ParseArraySpec(%q): %d elements throttle %d, want %d and %d", tc.in, spec.Tasks.Len(), spec.Throttle, tc.count, tc.throttle)
		}
		again, err := ParseArraySpec(spec.String(), 1000)
		if err != nil || again.String() != spec.String() {
			t.Errorf("%q does not read back: %v %v", spec.String(), again, err)
		}
	}
}

func TestParseArraySpecRefuses(t *testing.T) {
	for _, tc := range []struct{ in, says string }{
		{"", "no indices"},
		{"5-1", "reversed"},
		{"0-99:0", "step"},
		{"0-99:-2", "step"},
		{"0-9%0", "throttle"},
		{"0-9%-1", "throttle"},
		{"0-9%x", "throttle"},
		{"0-1000", "more than 1000"},
		{"1,,2", "no indices"},
		{"-3", "not an index"},
		{"a-b", "not an index"},
		{"4000001", "above the largest"},
		{"5:2", "needs a range"},
	} {
		_, err := ParseArraySpec(tc.in, 1000)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ParseArraySpec(%q) = %v, want an error saying %q", tc.in, err, tc.says)
		}
	}
}

func TestIndexSetOperations(t *testing.T) {
	spec, _ := ParseArraySpec("0-9", 100)
	s := spec.Tasks
	if !s.Contains(9) || s.Contains(10) || s.Min() != 0 || s.Max() != 9 || s.Step() != 1 {
		t.Fatalf("0-9: Contains/Min/Max/Step wrong")
	}
	if got := s.Without(0, 1, 5).String(); got != "2-4,6-9" {
		t.Errorf("Without = %q", got)
	}
	if got := s.First(3); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("First(3) = %v", got)
	}
	stepped, _ := ParseArraySpec("0-20:5", 100)
	if stepped.Tasks.Step() != 5 || stepped.Tasks.Contains(3) || !stepped.Tasks.Contains(15) {
		t.Errorf("0-20:5: Step/Contains wrong")
	}
	if got := s.Intersect(stepped.Tasks).String(); got != "0,5" {
		t.Errorf("Intersect = %q", got)
	}
	if got := s.Without(s.Indices()...); got.Len() != 0 || got.String() != "" {
		t.Errorf("Without(all) = %q", got)
	}
}

func TestParseJobRef(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"123", "123"},
		{"123_4", "123_4"},
		{"123_[1-3,7]", "123_[1-3,7]"},
		{"123_[4]", "123_4"},
	} {
		r, err := ParseJobRef(tc.in)
		if err != nil || r.String() != tc.want {
			t.Errorf("ParseJobRef(%q) = %v, %v; want %s", tc.in, r, err, tc.want)
		}
	}
	for _, bad := range []string{"", "x", "0", "-1", "+5", "123_", "123_[1-3", "123_x", "123_5-1"} {
		if _, err := ParseJobRef(bad); err == nil {
			t.Errorf("ParseJobRef(%q) succeeded", bad)
		}
	}
}

func TestArrayJobName(t *testing.T) {
	pending, _ := ParseIndexSet("4-99")
	if got := ArrayJobName(123, 0, pending, 8); got != "123_[4-99%8]" {
		t.Errorf("pending remainder = %q", got)
	}
	if got := ArrayJobName(123, 3, nil, 0); got != "123_3" {
		t.Errorf("element = %q", got)
	}
}

func FuzzParseArraySpec(f *testing.F) {
	for _, s := range []string{"0-99", "1,3,5-7", "0-99:4%8", "5-1", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParseArraySpec(s, 1000)
		if err != nil {
			return
		}
		n := spec.Tasks.Len()
		if n < 1 || n > 1000 {
			t.Fatalf("%q: %d elements", s, n)
		}
		again, err := ParseArraySpec(spec.String(), 1000)
		if err != nil || again.String() != spec.String() || !slices.Equal(again.Tasks.Indices(), spec.Tasks.Indices()) {
			t.Fatalf("%q: %q does not read back (%v)", s, spec.String(), err)
		}
	})
}

func TestIndexSetMinusAndRead(t *testing.T) {
	for _, tc := range []struct {
		set    string
		remove []int
		want   string
	}{
		{"0-99", []int{0, 1, 2}, "3-99"},
		{"0-99", []int{99}, "0-98"},
		{"0-9", []int{5}, "0-4,6-9"},
		{"0-96:4", []int{0, 4, 5}, "8-96:4"},
		{"0-12:4", []int{4}, "0,8,12"},
		{"1,3,5-7", []int{3, 6}, "1,5,7"},
		{"3", []int{3}, ""},
		{"0-4", []int{0, 1, 2, 3, 4}, ""},
	} {
		set, err := ReadIndexSet(tc.set)
		if err != nil {
			t.Fatalf("ReadIndexSet(%q): %v", tc.set, err)
		}
		if set.String() != tc.set {
			t.Errorf("ReadIndexSet(%q) = %q", tc.set, set)
		}
		got := set.Minus(tc.remove)
		if got.String() != tc.want {
			t.Errorf("%s minus %v = %q, want %q", tc.set, tc.remove, got, tc.want)
		}
		if slow := set.Without(tc.remove...); slow.Len() != got.Len() {
			t.Errorf("%s minus %v: %d elements, Without has %d", tc.set, tc.remove, got.Len(), slow.Len())
		}
	}
}

// TestParseOneRangeIsCanonical: the one-range fast path gives what listing
// the indices would.
func TestParseOneRangeIsCanonical(t *testing.T) {
	for _, s := range []string{"5", "0-0", "0-1", "0-4:4", "0-5:4", "0-8:4", "3-99:7", "0-99999", "1-2:1"} {
		spec, err := ParseArraySpec(s, DefaultMaxArraySize)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := ParseArraySpec(s+","+s, DefaultMaxArraySize*2) // two parts: the listing path
		if err != nil {
			t.Fatal(err)
		}
		if spec.Tasks.String() != slow.Tasks.String() || spec.Tasks.Len() != slow.Tasks.Len() {
			t.Errorf("%q: %q (%d), listed %q (%d)", s, spec.Tasks, spec.Tasks.Len(), slow.Tasks, slow.Tasks.Len())
		}
	}
}

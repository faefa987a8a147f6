package slurm

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseColumns(t *testing.T) {
	got, err := ParseColumns("%.18i %9P|%%%j", "iPj")
	want := []Column{{Code: 'i', Width: 18, Right: true}, {Literal: " "}, {Code: 'P', Width: 9}, {Literal: "|%"}, {Code: 'j'}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseColumns = %+v, %v; want %+v", got, err, want)
	}
	for bad, msg := range map[string]string{
		"%z": "%z is not a field: use %i %P %j", "%": "ends inside a field", "%.": "ends inside a field",
		"%1234i": "width \"1234\" is too large",
	} {
		if _, err := ParseColumns(bad, "iPj"); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseColumns(%q) = %v, want %q", bad, err, msg)
		}
	}
}

func TestColumnPad(t *testing.T) {
	for _, c := range []struct {
		col  Column
		v    string
		want string
	}{
		{Column{}, "abc", "abc"},
		{Column{Width: 5}, "abc", "abc  "},
		{Column{Width: 5, Right: true}, "abc", "  abc"},
		{Column{Width: 2}, "abc", "ab"},
		{Column{Width: 3}, "ééé€", "ééé"},
	} {
		if got := c.col.Pad(c.v); got != c.want {
			t.Errorf("%+v.Pad(%q) = %q, want %q", c.col, c.v, got, c.want)
		}
	}
}

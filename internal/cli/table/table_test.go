package table

import (
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	var b strings.Builder
	if err := Write(&b, []string{"NAME", "N", "NOTE"}, [][]string{{"w1", "8", "a_b"}, {"gpu-node", "12", ""}}, 1); err != nil {
		t.Fatal(err)
	}
	want := "NAME      N NOTE\nw1        8 a_b\ngpu-node 12\n"
	if b.String() != want {
		t.Errorf("got\n%q\nwant\n%q", b.String(), want)
	}
	b.Reset()
	if err := Write(&b, nil, [][]string{{"x", "y"}}); err != nil || b.String() != "x y\n" {
		t.Errorf("without header: %q %v", b.String(), err)
	}
}

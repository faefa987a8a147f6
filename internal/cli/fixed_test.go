package cli

import (
	clitable "github.com/rcq-project/rcq/internal/cli/table"

	"bytes"
	"strings"
	"testing"
)

func TestFixedWriter(t *testing.T) {
	t.Parallel()
	cols := []FixedColumn{{"JobID", 6, false}, {"JobName", 8, true}, {"State", 9, true}}
	rows := [][]string{{"1", "short", "COMPLETED"}, {"22", "a-long-name", "FAILED"}, {"3", "日本語の名前", "R"}}
	for _, c := range []struct {
		name, sep string
		trailing  bool
		want      string
	}{
		{"aligned", "", false, "" +
			"JobID   JobName     State\n" +
			"------ -------- ---------\n" +
			"1         short COMPLETED\n" +
			"22     a-long-+    FAILED\n" +
			"3      日本語 +         R\n"},
		{"-P", "|", false, "JobID|JobName|State\n1|short|COMPLETED\n22|a-long-name|FAILED\n3|日本語の名前|R\n"},
		{"-p", "|", true, "JobID|JobName|State|\n1|short|COMPLETED|\n22|a-long-name|FAILED|\n3|日本語の名前|R|\n"},
	} {
		var buf bytes.Buffer
		w := NewFixedWriter(&buf, cols, c.sep, c.trailing)
		if err := w.Header(); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if err := w.Row(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if buf.String() != c.want {
			t.Errorf("%s:\n%s\nwant:\n%s", c.name, buf.String(), c.want)
		}
	}
}

// wideRows mix ASCII, CJK (two columns a character) and emoji (two columns).
var wideRows = [][]string{
	{"JOBID", "NAME", "CPUS", "REASON"},
	{"1", "日本語", "2", "(None)"},
	{"22", "🎉party", "16", "(Resources)"},
	{"333", "plain", "1", ""},
}

const wideWant = "" +
	"JOBID NAME    CPUS REASON\n" +
	"    1 日本語     2 (None)\n" +
	"   22 🎉party   16 (Resources)\n" +
	"  333 plain      1\n"

// Every table writer counts display columns: wide characters align.
func TestWideCharactersAlign(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WriteAligned(&b, wideRows, []bool{true, false, true, false}); err != nil {
		t.Fatal(err)
	}
	if b.String() != wideWant {
		t.Errorf("WriteAligned:\n%s\nwant:\n%s", b.String(), wideWant)
	}
	b.Reset()
	if err := clitable.Write(&b, wideRows[0], wideRows[1:], 0, 2); err != nil {
		t.Fatal(err)
	}
	if b.String() != wideWant {
		t.Errorf("table.Write:\n%s\nwant:\n%s", b.String(), wideWant)
	}
	// Each line's REASON column starts at the same display column.
	for _, line := range strings.Split(strings.TrimSuffix(wideWant, "\n"), "\n")[:3] {
		i := strings.LastIndexByte(line, ' ')
		if w := DisplayWidth(line[:i]); w != 18 {
			t.Errorf("%q: REASON at column %d, want 18", line, w)
		}
	}
	for _, c := range []struct {
		v     string
		width int
		right bool
		want  string
	}{
		{"日本語", 8, false, "日本語  "},
		{"日本語", 8, true, "  日本語"},
		{"日本語", 5, false, "日本 "}, // a wide character is never cut in half
		{"🎉ab", 3, false, "🎉a"},
		{"abc", 0, false, "abc"},
		{"abcdef", 4, true, "abcd"},
	} {
		if got := Fit(c.v, c.width, c.right); got != c.want {
			t.Errorf("Fit(%q, %d, %v) = %q, want %q", c.v, c.width, c.right, got, c.want)
		}
	}
}

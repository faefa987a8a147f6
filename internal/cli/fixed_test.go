package cli

import (
	"bytes"
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

package cli

import (
	"io"
	"slices"
	"strconv"
	"testing"

	clitable "github.com/rcq-project/rcq/internal/cli/table"
)

// BenchmarkTables draws one 10,000-row table of rcq-queue's default columns
// with tablewriter (table.Write) and with the fast writer (WriteAligned, and
// FixedWriter as rcq-acct streams), to io.Discard: the measured reason why
// the unbounded tables do not use tablewriter (docs/performance.md).
//
//	go test -run '^$' -bench Tables -benchmem ./internal/cli
func BenchmarkTables(b *testing.B) {
	header := []string{"JOBID", "NAME", "USER", "GROUP", "ST", "TIME", "CPUS", "MEM", "GPUS", "PRIORITY", "NODELIST(REASON)"}
	right := []int{0, 3, 5, 6, 7, 8, 9}
	rows := make([][]string, 10_000)
	for i := range rows {
		rows[i] = []string{strconv.Itoa(100000 + i), "sweep-" + strconv.Itoa(i%97), "alice@example.org", "1", "PD",
			"0:00", "2", "4G", "0", strconv.Itoa(1000 + i%500), "(Priority)"}
	}
	b.Run("tablewriter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := clitable.Write(io.Discard, header, rows, right...); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast/aligned", func(b *testing.B) {
		b.ReportAllocs()
		r := make([]bool, len(header))
		for _, c := range right {
			r[c] = true
		}
		all := append([][]string{header}, rows...)
		for b.Loop() {
			if err := WriteAligned(io.Discard, all, r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast/aligned-cells", func(b *testing.B) {
		// As rcq-queue builds it: cell by cell into one buffer (Aligned).
		b.ReportAllocs()
		r := make([]bool, len(header))
		for _, c := range right {
			r[c] = true
		}
		for b.Loop() {
			t := NewAligned(r, len(rows)+1)
			for _, h := range header {
				t.Cells = append(t.Cells, h...)
				t.End()
			}
			for _, row := range rows {
				for _, v := range row {
					t.Cells = append(t.Cells, v...)
					t.End()
				}
			}
			if err := t.Write(io.Discard, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("fast/fixed", func(b *testing.B) {
		b.ReportAllocs()
		cols := make([]FixedColumn, len(header))
		for i, h := range header {
			cols[i] = FixedColumn{Header: h, Width: 10, Right: slices.Contains(right, i)}
		}
		for b.Loop() {
			t := NewFixedWriter(io.Discard, cols, "", false)
			if err := t.Header(); err != nil {
				b.Fatal(err)
			}
			for _, r := range rows {
				if err := t.Row(r); err != nil {
					b.Fatal(err)
				}
			}
			if err := t.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

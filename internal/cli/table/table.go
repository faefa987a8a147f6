// Package table draws the bounded tables of the rcq commands (rcq-info,
// rcq-share, rcq-admin) with tablewriter. It is a package of its own so that
// the commands without such a table do not link tablewriter: its package
// initialisation alone costs 1.5-5 ms at every start (docs/performance.md).
package table

import (
	"bytes"
	"fmt"
	"io"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Write draws a bounded table with tablewriter in Slurm's style: no
// borders, one space between columns, the columns listed in right
// right-aligned, no trailing spaces. A nil header prints the rows only.
// (rcq-queue and rcq-acct, whose rows are unbounded, use the fast writer in
// internal/cli/fixed.go.)
func Write(w io.Writer, header []string, rows [][]string, right ...int) error {
	n := len(header)
	if n == 0 && len(rows) > 0 {
		n = len(rows[0])
	}
	align := make([]tw.Align, n)
	for i := range align {
		align[i] = tw.AlignLeft
	}
	for _, c := range right {
		align[c] = tw.AlignRight
	}
	var buf bytes.Buffer
	t := tablewriter.NewTable(&buf,
		tablewriter.WithRenderer(renderer.NewBlueprint(tw.Rendition{
			Borders: tw.BorderNone,
			Symbols: tw.NewSymbols(tw.StyleNone),
			Settings: tw.Settings{Separators: tw.Separators{BetweenColumns: tw.Off, BetweenRows: tw.Off},
				Lines: tw.Lines{ShowHeaderLine: tw.Off, ShowTop: tw.Off, ShowBottom: tw.Off}},
		})),
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithPadding(tw.Padding{Left: "", Right: " ", Overwrite: true}),
		tablewriter.WithHeaderAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithRowAlignmentConfig(tw.CellAlignment{PerColumn: align}),
		tablewriter.WithTrimSpace(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
	)
	if header != nil {
		t.Header(header)
	}
	if err := t.Bulk(rows); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	var out bytes.Buffer
	for line := range bytes.Lines(buf.Bytes()) {
		out.Write(bytes.TrimRight(line, " \n"))
		out.WriteByte('\n')
	}
	if _, err := w.Write(out.Bytes()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

package cli

import (
	"bufio"
	"bytes"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/mattn/go-runewidth"
)

// FixedColumn is one column of a FixedWriter.
type FixedColumn struct {
	Header string
	Width  int  // display columns; longer values are cut to Width-1 and a "+"
	Right  bool // right-align (numbers, times)
}

// The fast writer. rcq-queue and rcq-acct print tables of any number of
// rows, so they use this writer rather than tablewriter (table.Write): at
// 10,000 rows tablewriter takes over 100 times as long and makes 243
// allocations a row, against 8 in all here (BenchmarkTables,
// docs/performance.md). It has two forms over one cell formatter:
// FixedWriter streams rows with widths known in advance (sacct), and
// WriteAligned measures a table it is given whole (squeue). Both count
// display columns with go-runewidth, so wide characters (CJK, emoji) align.

// FixedWriter streams an unbounded table row by row, sacct's way: every
// column has a width known before the first row (so nothing is held to
// measure), cells are padded to it or cut with a trailing "+", columns are
// separated by one space, and the header is followed by a rule of dashes.
// With Sep set (sacct -P: "|") it writes the values whole, separated by Sep,
// instead. Rows go through one buffer; call Flush at the end.
type FixedWriter struct {
	w        *bufio.Writer
	cols     []FixedColumn
	sep      string
	trailing bool // Sep after the last value too (sacct -p)
	line     []byte
}

// NewFixedWriter writes cols to w; sep "" aligns, anything else separates.
// trailing adds sep after the last value (sacct's -p; -P has none).
func NewFixedWriter(w io.Writer, cols []FixedColumn, sep string, trailing bool) *FixedWriter {
	return &FixedWriter{w: bufio.NewWriterSize(w, 64<<10), cols: cols, sep: sep, trailing: trailing}
}

// Header writes the column names and, when aligned, the rule under them.
func (t *FixedWriter) Header() error {
	names := make([]string, len(t.cols))
	for i, c := range t.cols {
		names[i] = c.Header
	}
	if err := t.Row(names); err != nil {
		return err
	}
	if t.sep != "" {
		return nil
	}
	t.line = t.line[:0]
	for i, c := range t.cols {
		if i > 0 {
			t.line = append(t.line, ' ')
		}
		for range c.Width {
			t.line = append(t.line, '-')
		}
	}
	t.line = append(t.line, '\n')
	_, err := t.w.Write(t.line)
	return err
}

// Row writes one row: one value per column.
func (t *FixedWriter) Row(vals []string) error {
	b := t.line[:0]
	for i, v := range vals {
		if t.sep != "" {
			if i > 0 {
				b = append(b, t.sep...)
			}
			b = append(b, v...)
			continue
		}
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendCell(b, v, t.cols[i].Width, t.cols[i].Right)
	}
	if t.sep != "" && t.trailing {
		b = append(b, t.sep...)
	}
	if t.sep == "" {
		b = bytes.TrimRight(b, " ") // no trailing blanks
	}
	b = append(b, '\n')
	t.line = b
	_, err := t.w.Write(b)
	return err
}

// Flush writes what is buffered.
func (t *FixedWriter) Flush() error { return t.w.Flush() }

// WriteAligned writes rows (a header, when wanted, is the first) as one
// aligned table without borders, squeue's way: each column as wide as its
// widest cell in display columns, one space between columns, the columns
// marked in right right-aligned, no trailing spaces. It makes one pass to
// measure and one to print.
func WriteAligned(w io.Writer, rows [][]string, right []bool) error {
	var widths []int
	for _, row := range rows {
		for len(widths) < len(row) {
			widths = append(widths, 0)
		}
		for k, v := range row {
			widths[k] = max(widths[k], DisplayWidth(v))
		}
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var b []byte
	for _, row := range rows {
		b = b[:0]
		for k, v := range row {
			if k > 0 {
				b = append(b, ' ')
			}
			b = appendCell(b, v, widths[k], k < len(right) && right[k])
		}
		b = append(bytes.TrimRight(b, " "), '\n')
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Aligned is a table for WriteAligned's layout built cell by cell into one
// buffer: no string and no slice a row (rcq-queue's 10,000 rows were 110,000
// strings and their slices, most of its memory). Append a cell's text to
// Cells, then call End; the cells fill the rows left to right.
type Aligned struct {
	Cells  []byte
	ends   []uint32 // where each cell ends in Cells
	widths []int
	right  []bool
}

// NewAligned starts a table of len(right) columns, those marked in right
// right-aligned, with room for about rows rows of about 8 bytes a cell.
func NewAligned(right []bool, rows int) *Aligned {
	n := rows * len(right)
	return &Aligned{Cells: make([]byte, 0, 8*n), ends: make([]uint32, 0, n), widths: make([]int, len(right)), right: right}
}

// Grow makes room for about rows more rows.
func (t *Aligned) Grow(rows int) {
	n := rows * len(t.widths)
	t.Cells = slices.Grow(t.Cells, 8*n)
	t.ends = slices.Grow(t.ends, n)
}

// End ends the cell appended to Cells since the last End.
func (t *Aligned) End() {
	start := 0
	if n := len(t.ends); n > 0 {
		start = int(t.ends[n-1])
	}
	k := len(t.ends) % len(t.widths)
	if w := DisplayWidth(unsafe.String(unsafe.SliceData(t.Cells[start:]), len(t.Cells)-start)); w > t.widths[k] {
		t.widths[k] = w
	}
	t.ends = append(t.ends, uint32(len(t.Cells)))
}

// Rows is the number of rows ended so far.
func (t *Aligned) Rows() int { return len(t.ends) / len(t.widths) }

// Write writes the table as WriteAligned does, its rows in order (indices
// of rows as added; nil: as added).
func (t *Aligned) Write(w io.Writer, order []int) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cols := len(t.widths)
	b := make([]byte, 0, 256)
	n := t.Rows()
	if order != nil {
		n = len(order)
	}
	for i := range n {
		row := i
		if order != nil {
			row = order[i]
		}
		b = b[:0]
		start := 0
		if row > 0 {
			start = int(t.ends[row*cols-1])
		}
		for k := range cols {
			end := int(t.ends[row*cols+k])
			if k > 0 {
				b = append(b, ' ')
			}
			cell := t.Cells[start:end]
			b = appendCell(b, unsafe.String(unsafe.SliceData(cell), len(cell)), t.widths[k], t.right[k])
			start = end
		}
		b = append(bytes.TrimRight(b, " "), '\n')
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Fit pads v to width display columns (none when width is 0), or cuts it
// to width without a mark, as squeue and sinfo treat -o widths.
func Fit(v string, width int, right bool) string {
	n := DisplayWidth(v)
	if width == 0 || n == width {
		return v
	}
	if n > width {
		cut := runewidth.Truncate(v, width, "")
		return cut + strings.Repeat(" ", width-DisplayWidth(cut))
	}
	if right {
		return strings.Repeat(" ", width-n) + v
	}
	return v + strings.Repeat(" ", width-n)
}

// DisplayWidth is how many terminal columns s takes: its length for ASCII,
// East Asian wide characters and emoji counted twice otherwise.
func DisplayWidth(s string) int {
	if isASCII(s) {
		return len(s)
	}
	return runewidth.StringWidth(s)
}

// appendCell pads v to width w or cuts it to w-1 columns and a "+".
func appendCell(b []byte, v string, w int, right bool) []byte {
	n := DisplayWidth(v)
	if n > w {
		if w <= 1 {
			return append(b, '+')
		}
		if isASCII(v) {
			b = append(b, v[:w-1]...)
		} else {
			cut := runewidth.Truncate(v, w-1, "")
			b = append(b, cut...)
			for i := runewidth.StringWidth(cut); i < w-1; i++ {
				b = append(b, ' ')
			}
		}
		return append(b, '+')
	}
	if !right {
		b = append(b, v...)
	}
	for i := n; i < w; i++ {
		b = append(b, ' ')
	}
	if right {
		b = append(b, v...)
	}
	return b
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

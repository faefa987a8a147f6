package cli

import (
	"bufio"
	"bytes"
	"io"
	"unicode/utf8"

	"github.com/mattn/go-runewidth"
)

// FixedColumn is one column of a FixedWriter.
type FixedColumn struct {
	Header string
	Width  int  // display columns; longer values are cut to Width-1 and a "+"
	Right  bool // right-align (numbers, times)
}

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

// appendCell pads v to width w or cuts it to w-1 columns and a "+".
func appendCell(b []byte, v string, w int, right bool) []byte {
	n := len(v)
	if !isASCII(v) {
		n = runewidth.StringWidth(v)
	}
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

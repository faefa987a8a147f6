package slurm

import (
	"fmt"
	"strings"
)

// Column is one part of an squeue or sinfo -o format: a %[.][width]code field,
// or literal text (Code 0).
type Column struct {
	Code    byte
	Width   int  // 0: the value's own width
	Right   bool // %.N: right-justified
	Literal string
}

// ParseColumns reads an squeue or sinfo -o format: text with %[.][width]code
// fields and %% for a %. codes lists the accepted letters, in the order an
// error names them.
func ParseColumns(s, codes string) ([]Column, error) {
	var fs []Column
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			fs = append(fs, Column{Literal: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			lit.WriteByte(s[i])
			continue
		}
		i++
		if i < len(s) && s[i] == '%' {
			lit.WriteByte('%')
			continue
		}
		var f Column
		if i < len(s) && s[i] == '.' {
			f.Right = true
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			f.Width = f.Width*10 + int(s[i]-'0')
			i++
		}
		if i-start > 3 {
			return nil, fmt.Errorf("width %q is too large", s[start:i])
		}
		if i >= len(s) {
			return nil, fmt.Errorf("%q ends inside a field: use %%[.][width]letter, e.g. %%.10%c", s, codes[0])
		}
		if strings.IndexByte(codes, s[i]) < 0 {
			list := make([]string, len(codes))
			for j := range codes {
				list[j] = "%" + codes[j:j+1]
			}
			return nil, fmt.Errorf("%%%c is not a field: use %s", s[i], strings.Join(list, " "))
		}
		f.Code = s[i]
		flush()
		fs = append(fs, f)
	}
	flush()
	return fs, nil
}

// Pad fits v to the field's width as squeue does: cut when longer, filled
// with spaces on the left (right-justified) or the right when shorter.
func (f Column) Pad(v string) string {
	if f.Width == 0 {
		return v
	}
	r := []rune(v)
	if len(r) > f.Width {
		return string(r[:f.Width])
	}
	fill := strings.Repeat(" ", f.Width-len(r))
	if f.Right {
		return fill + v
	}
	return v + fill
}

package rcq

import (
	"strconv"
	"strings"
)

// ExpandFilename replaces the filename patterns of sbatch's and srun's
// -o/-e/-i in p: "%" then an optional zero-pad width then a letter, whose
// value comes from value (false: the pattern is kept as written, as Slurm
// keeps unknown ones). "%%" is a literal % (with a width it is kept as
// written). Values are padded with zeros to the width (at most 64) and
// never contain '/' (it becomes '_'), so a value cannot leave the
// directory the pattern names.
func ExpandFilename(p string, value func(letter byte) (string, bool)) string {
	if !strings.Contains(p, "%") {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if p[i] != '%' {
			b.WriteByte(p[i])
			continue
		}
		k := i + 1
		for k < len(p) && p[k] >= '0' && p[k] <= '9' {
			k++
		}
		if k >= len(p) {
			b.WriteString(p[i:])
			break
		}
		width := 0
		if k > i+1 {
			width, _ = strconv.Atoi(p[i+1 : k])
			width = min(width, 64)
		}
		v, ok := "%", k == i+1
		if p[k] != '%' {
			v, ok = value(p[k])
		}
		if !ok {
			b.WriteString(p[i : k+1])
			i = k
			continue
		}
		v = strings.ReplaceAll(v, "/", "_")
		for n := len(v); n < width; n++ {
			b.WriteByte('0')
		}
		b.WriteString(v)
		i = k
	}
	return b.String()
}

package slurm

import (
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/rcq"
)

// longFields are squeue's -O/--Format names rcq knows, with the -o code each
// one is; in the order of the accepted-values message.
var longFields = []struct {
	name string
	code byte
}{
	{"JobID", 'i'}, {"JobArrayID", 'i'}, {"Name", 'j'}, {"UserName", 'u'}, {"GroupName", 'g'},
	{"State", 'T'}, {"StateCompact", 't'}, {"TimeUsed", 'M'}, {"TimeLimit", 'l'}, {"StartTime", 'S'},
	{"NumCPUs", 'C'}, {"MinMemory", 'm'}, {"tres-per-node", 'b'}, {"Gres", 'b'}, {"Priority", 'Q'},
	{"Reason", 'r'}, {"ReasonList", 'R'}, {"NodeList", 'N'}, {"Partition", 'P'}, {"NumNodes", 'D'},
}

// LongFormat turns squeue's -O/--Format (comma-separated field names in any
// case, each with an optional :[.]WIDTH; 20 columns, left-justified, when
// none is given) into the -o format that prints the same columns.
func LongFormat(s string) (string, error) {
	var b strings.Builder
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, spec, hasSpec := strings.Cut(part, ":")
		code := byte(0)
		for _, f := range longFields {
			if strings.EqualFold(name, f.name) {
				code = f.code
				break
			}
		}
		if code == 0 {
			names := make([]string, len(longFields))
			for i, f := range longFields {
				names[i] = f.name
			}
			return "", rcq.Invalid("format", "Invalid job format specification: %s (use %s)", name, strings.Join(names, ", "))
		}
		right, width := false, 20
		if hasSpec {
			right = strings.HasPrefix(spec, ".")
			w := strings.TrimPrefix(spec, ".")
			if w != "" {
				n, err := strconv.Atoi(w)
				if err != nil || n < 0 || n > 999 {
					return "", rcq.Invalid("format", "%q: the width after : is a number such as 10 (JobID:10 or JobID:.10)", part)
				}
				width = n
			}
		}
		b.WriteByte('%')
		if right {
			b.WriteByte('.')
		}
		if width > 0 {
			b.WriteString(strconv.Itoa(width))
		}
		b.WriteByte(code)
	}
	if b.Len() == 0 {
		return "", rcq.Invalid("format", "Format long option lacks specification")
	}
	return b.String(), nil
}

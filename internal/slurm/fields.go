package slurm

import (
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Field is one of sacct's --format fields as rcq prints it.
type Field struct {
	Name  string // as Slurm spells it: JobID
	Width int    // sacct's default width
	Right bool   // numbers and times are right-aligned
}

// AcctFields are the sacct fields rcq-acct knows, in the order of the
// accepted-values message.
var AcctFields = []Field{
	{"JobID", 12, false}, {"JobName", 10, true}, {"User", 9, true}, {"Group", 9, true},
	{"State", 10, true}, {"ExitCode", 8, true}, {"Elapsed", 10, true}, {"Start", 19, true},
	{"End", 19, true}, {"Submit", 19, true}, {"AllocCPUS", 10, true}, {"AllocTRES", 20, true},
	{"ReqMem", 10, true}, {"MaxRSS", 10, true}, {"TotalCPU", 10, true}, {"CPUTime", 10, true},
	{"NodeList", 15, true}, {"Reason", 20, true}, {"WorkDir", 20, true}, {"StdOut", 20, true},
	{"JobIDRaw", 12, false}, {"Timelimit", 10, true},
	{"Account", 10, true}, {"Partition", 10, true}, {"Cluster", 10, true}, {"NNodes", 8, true},
	{"NCPUS", 10, true}, {"ReqCPUS", 8, true}, {"QOS", 10, true}, {"Priority", 10, true},
}

// FieldNames is the accepted-values list for messages.
func FieldNames() string {
	names := make([]string, len(AcctFields))
	for i, f := range AcctFields {
		names[i] = f.Name
	}
	return strings.Join(names, ", ")
}

// FormatColumn is one column of a --format: a field and its width.
type FormatColumn struct {
	Field
	Set bool // the width was given (JobName%30)
}

// ParseFormat reads sacct's --format: comma-separated field names in any
// case, each with an optional %WIDTH (JobName%30; a negative width flips
// the alignment).
func ParseFormat(s string) ([]FormatColumn, error) {
	var cols []FormatColumn
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, width, hasWidth := strings.Cut(part, "%")
		var col FormatColumn
		found := false
		for _, f := range AcctFields {
			if strings.EqualFold(name, f.Name) {
				col.Field, found = f, true
				break
			}
		}
		if !found {
			return nil, rcq.Invalid("format", "%q is not a field: use %s", name, FieldNames())
		}
		if hasWidth {
			n, err := strconv.Atoi(width)
			if err != nil || n < -999 || n > 999 || n == 0 {
				return nil, rcq.Invalid("format", "%q: the width after %% is a number such as 20 (JobName%%20)", part)
			}
			if n < 0 {
				n, col.Right = -n, !col.Right
			}
			col.Width, col.Set = n, true
		}
		cols = append(cols, col)
	}
	if len(cols) == 0 {
		return nil, rcq.Invalid("format", "names no field: use %s", FieldNames())
	}
	return cols, nil
}

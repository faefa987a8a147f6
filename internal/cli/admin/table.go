package admin

import (
	"io"

	clitable "github.com/rcq-project/rcq/internal/cli/table"
)

// table gathers a bounded table (groups, users, workers) and draws it with
// clitable.Write (tablewriter) in rcq-queue's style: one space between
// columns, numbers right-aligned, no trailing spaces.
type table struct {
	header []string
	right  []int
	rows   [][]string
}

func newTable(header ...string) *table { return &table{header: header} }

// rightAlign right-aligns the columns with these indexes.
func (t *table) rightAlign(cols ...int) *table {
	t.right = append(t.right, cols...)
	return t
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) render(w io.Writer) error { return clitable.Write(w, t.header, t.rows, t.right...) }

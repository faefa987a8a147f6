package store

import (
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/rcq"
)

// conds builds the WHERE clause of a job query filtered at run time (a
// typed filter struct, never text from a caller): each condition names its
// values as $n placeholders, collected in args.
type conds struct {
	where []string
	args  []any
}

// arg adds v to the arguments and returns its placeholder.
func (c *conds) arg(v any) string {
	c.args = append(c.args, v)
	return "$" + strconv.Itoa(len(c.args))
}

func (c *conds) add(cond string) { c.where = append(c.where, cond) }

// owner keeps one account's jobs; 0 keeps everyone's.
func (c *conds) owner(id rcq.UserID) {
	if id != 0 {
		c.add("j.user_id = " + c.arg(id))
	}
}

// states keeps jobs in ss (none when ss is empty).
func (c *conds) states(ss []rcq.JobState) {
	names := make([]string, len(ss))
	for i, st := range ss {
		names[i] = string(st)
	}
	c.add("j.status = ANY(" + c.arg(names) + ")")
}

// ids keeps these jobs; none given keeps every job.
func (c *conds) ids(ids []rcq.JobID) {
	if len(ids) == 0 {
		return
	}
	ns := make([]int64, len(ids))
	for i, id := range ids {
		ns[i] = int64(id)
	}
	c.add("j.id = ANY(" + c.arg(ns) + ")")
}

// after keeps the jobs past a page's last one in (submit time, id) order,
// descending when newest.
func (c *conds) after(p rcq.JobPos, newest bool) {
	if p.ID == 0 {
		return
	}
	cmp := ">"
	if newest {
		cmp = "<"
	}
	c.add("(j.submitted_at, j.id) " + cmp + " (" + c.arg(p.SubmittedAt) + "::timestamptz, " + c.arg(p.ID) + "::bigint)")
}

// clause is " WHERE ..." of every condition, or "" without any.
func (c *conds) clause() string {
	if len(c.where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.where, " AND ")
}

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

// refs keeps the jobs job refs name: "123" the job, or every row of the
// array 123; "123_[1-3]" those elements and the array's meta row (which
// stands for its elements not yet split off; elementsOf narrows it). None
// given keeps every job.
func (c *conds) refs(refs []rcq.JobRef) {
	if len(refs) == 0 {
		return
	}
	var whole []int64
	var or []string
	for _, r := range refs {
		if r.Tasks == nil {
			whole = append(whole, int64(r.JobID))
			continue
		}
		tasks := make([]int32, 0, r.Tasks.Len())
		for _, t := range r.Tasks.Indices() {
			tasks = append(tasks, int32(t))
		}
		or = append(or, "(j.array_job_id = "+c.arg(int64(r.JobID))+" AND (j.array_task_id IS NULL OR j.array_task_id = ANY("+c.arg(tasks)+")))")
	}
	if len(whole) > 0 {
		p := c.arg(whole)
		or = append(or, "j.id = ANY("+p+")", "j.array_job_id = ANY("+p+")")
	}
	c.add("(" + strings.Join(or, " OR ") + ")")
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

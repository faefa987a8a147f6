package store

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Job arrays are stored as Slurm stores them (migration 00009): one jobs row
// for the whole array, the "meta" row, whose id is the array's id and which
// stands for every element not yet split off (job_arrays.pending), plus one
// job_arrays row. An element gets a row of its own, a copy of the meta row's,
// when it is split off (it starts, or is cancelled, held, released or
// updated on its own); when the last pending index leaves, the meta row
// itself becomes that element. A pending array is one row, so it counts once
// against the pending caps, which bound rows and memory.

// insertArraySQL stores an array's meta row (array_job_id = its own id) and
// its job_arrays row in one statement.
const insertArraySQL = `
WITH j AS (
	INSERT INTO jobs (id, array_job_id, user_id, group_id, name, script, args, working_dir, env, cpu_cores,
		memory_gb, gpu_count, estimated_hours, priority, hold, output_path, error_path, umask, requeue)
	SELECT n, n, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17
	FROM (SELECT nextval(pg_get_serial_sequence('jobs', 'id')) AS n) s
	RETURNING id),
a AS (
	INSERT INTO job_arrays (job_id, spec, pending, throttle, task_count, task_min, task_max, task_step)
	SELECT id, $18, $19, $20, $21, $22, $23, $24 FROM j)
SELECT id FROM j`

func insertArrayArgs(j *rcq.Job) []any {
	a := j.Array
	return append(insertJobArgs(j), a.Spec, a.Pending.String(), a.Throttle, a.Count, a.Min, a.Max, a.Step)
}

// elementColumns are the columns an element copies from its array's meta row.
const elementColumns = `user_id, group_id, name, script, args, working_dir, env, cpu_cores, memory_gb,
	gpu_count, estimated_hours, priority, status, reason, reason_detail, hold, output_path, error_path, umask, submitted_at,
	requeue`

// splitElements gives the elements of array arrayID among tasks (in
// increasing order) that are still pending in the meta row rows of their
// own, inside tx, and returns their row ids by index. Indices not pending
// there (split off before, or not in the array) are left out; an array whose
// meta row is no longer pending (cancelled with its remainder) splits
// nothing. When the last pending index leaves, the meta row becomes that
// element.
func splitElements(ctx context.Context, tx pgx.Tx, arrayID rcq.JobID, tasks []int) (map[int]rcq.JobID, error) {
	var pendingText string
	var status rcq.JobState
	err := tx.QueryRow(ctx, `
		SELECT a.pending, j.status FROM job_arrays a JOIN jobs j ON j.id = a.job_id
		WHERE a.job_id = $1 AND j.array_task_id IS NULL FOR UPDATE OF a, j`, arrayID).Scan(&pendingText, &status)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if status != rcq.JobPending {
		return nil, nil
	}
	pending, err := rcq.ReadIndexSet(pendingText)
	if err != nil {
		return nil, fmt.Errorf("array %d: stored pending indices: %w", arrayID, err)
	}
	var take []int
	for _, t := range tasks {
		if pending.Contains(t) {
			take = append(take, t)
		}
	}
	if len(take) == 0 {
		return nil, nil
	}
	rest := pending.Minus(take)
	out := make(map[int]rcq.JobID, len(take))
	copies, last := take, -1
	if len(rest) == 0 {
		copies, last = take[:len(take)-1], take[len(take)-1]
	}
	if len(copies) > 0 {
		rows, _ := tx.Query(ctx, `
			INSERT INTO jobs (`+elementColumns+`, array_job_id, array_task_id)
			SELECT `+elementColumns+`, m.id, t.i
			FROM jobs m CROSS JOIN unnest($2::integer[]) AS t(i) WHERE m.id = $1
			RETURNING id, array_task_id`, arrayID, copies)
		var ids []int64
		var taskIDs []int32
		var id int64
		var task int32
		if _, err := pgx.ForEachRow(rows, []any{&id, &task}, func() error {
			out[int(task)] = rcq.JobID(id)
			ids, taskIDs = append(ids, id), append(taskIDs, task)
			return nil
		}); err != nil {
			return nil, err
		}
		// The elements wait on what the array waits on; aftercorr on the
		// element of the same index.
		if _, err := tx.Exec(ctx, `
			INSERT INTO job_dependencies (job_id, depends_on, type, array_task_id)
			SELECT n.id, d.depends_on, d.type, CASE WHEN d.type = 'aftercorr' THEN n.task ELSE d.array_task_id END
			FROM job_dependencies d CROSS JOIN unnest($2::bigint[], $3::integer[]) AS n(id, task)
			WHERE d.job_id = $1`, arrayID, ids, taskIDs); err != nil {
			return nil, err
		}
	}
	if last >= 0 {
		if _, err := tx.Exec(ctx, `UPDATE jobs SET array_task_id = $2 WHERE id = $1`, arrayID, last); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE job_dependencies SET array_task_id = $2 WHERE job_id = $1 AND type = 'aftercorr'`, arrayID, last); err != nil {
			return nil, err
		}
		out[last] = arrayID
	}
	_, err = tx.Exec(ctx, `UPDATE job_arrays SET pending = $2 WHERE job_id = $1`, arrayID, rest.String())
	return out, err
}

// ResolveRef returns the rows a job ref names for owner (0: any owner):
// "123" is the job 123, or, when 123 is an array, every row of the array;
// "123_4" and "123_[1-3,7]" are those elements, split off first when split
// is true (to act on them one by one). A job of another owner, and elements
// the array does not have, are NotFound like a missing job. Without split,
// elements still pending in the meta row are not listed: the meta row is.
func (s *Store) ResolveRef(ctx context.Context, ref rcq.JobRef, owner rcq.UserID, split bool) ([]rcq.JobID, error) {
	var ids []rcq.JobID
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		ids, err = resolveRef(ctx, tx, ref, owner, split)
		return err
	})
	if err != nil {
		return nil, wrap("job "+ref.String(), err)
	}
	return ids, nil
}

func resolveRef(ctx context.Context, tx pgx.Tx, ref rcq.JobRef, owner rcq.UserID, split bool) ([]rcq.JobID, error) {
	notFound := rcq.Errorf(rcq.KindNotFound, "not_found", "job %s not found", ref)
	var arrayID *int64
	err := tx.QueryRow(ctx, `SELECT array_job_id FROM jobs WHERE id = $1 AND ($2 = 0 OR user_id = $2)`, ref.JobID, owner).Scan(&arrayID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, err
	}
	isArray := arrayID != nil && *arrayID == int64(ref.JobID)
	if !isArray {
		if ref.Tasks != nil {
			return nil, notFound
		}
		return []rcq.JobID{ref.JobID}, nil
	}
	var tasks []int32
	if ref.Tasks != nil {
		idx := ref.Tasks.Indices()
		if split {
			if _, err := splitElements(ctx, tx, ref.JobID, idx); err != nil {
				return nil, err
			}
		}
		tasks = make([]int32, len(idx))
		for i, t := range idx {
			tasks[i] = int32(t)
		}
	}
	rows, _ := tx.Query(ctx, `
		SELECT id FROM jobs WHERE array_job_id = $1 AND ($2::integer[] IS NULL OR array_task_id = ANY($2))
		ORDER BY array_task_id NULLS FIRST, id`, ref.JobID, tasks)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[rcq.JobID])
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, notFound
	}
	return ids, nil
}

// ArrayElement is the job a ref to one element names, as GET
// /api/jobs/123_4 shows it: the element's own row, or, while the element is
// still pending in the array's meta row, that row as the element (its
// Array.TaskID set, its Pending empty). NotFound when the array (of owner)
// has no such element.
func (s *Store) ArrayElement(ctx context.Context, arrayID rcq.JobID, task int, owner rcq.UserID) (*rcq.Job, error) {
	notFound := rcq.Errorf(rcq.KindNotFound, "not_found", "job %d_%d not found", arrayID, task)
	rows, _ := s.pool.Query(ctx, jobSelect+` WHERE j.array_job_id = $1 AND ($2 = 0 OR j.user_id = $2)
		AND (j.array_task_id = $3 OR j.array_task_id IS NULL) ORDER BY j.array_task_id NULLS LAST LIMIT 1`, arrayID, owner, task)
	js, err := collectJobs(rows)
	if err != nil {
		return nil, wrap(fmt.Sprintf("job %d_%d", arrayID, task), err)
	}
	if len(js) == 0 {
		return nil, notFound
	}
	j := &js[0]
	if j.Array.TaskID == nil {
		if !j.Array.Pending.Contains(task) {
			return nil, notFound
		}
		t := task
		j.Array.TaskID, j.Array.Pending = &t, nil
	}
	return j, nil
}

// elementsOf narrows jobs listed by refs: a meta row listed for a ref to
// some elements shows only those of its pending indices, and is dropped when
// it has none of them.
func elementsOf(js []rcq.Job, refs []rcq.JobRef) []rcq.Job {
	keep := elementFilter(refs)
	return slices.DeleteFunc(js, func(j rcq.Job) bool { return !keep(&j) })
}

// elementFilter is elementsOf for one job at a time: it narrows j's pending
// indices in place and reports whether j stays.
func elementFilter(refs []rcq.JobRef) func(*rcq.Job) bool {
	if len(refs) == 0 {
		return func(*rcq.Job) bool { return true }
	}
	tasks := map[rcq.JobID]rcq.IndexSet{}
	whole := map[rcq.JobID]bool{}
	for _, r := range refs {
		if r.Tasks == nil {
			whole[r.JobID] = true
		} else {
			tasks[r.JobID] = rcq.NewIndexSet(append(tasks[r.JobID].Indices(), r.Tasks.Indices()...))
		}
	}
	return func(j *rcq.Job) bool {
		a := j.Array
		if a == nil || a.TaskID != nil || whole[a.ID] || whole[j.ID] {
			return true
		}
		want, ok := tasks[a.ID]
		if !ok {
			return true
		}
		a.Pending = a.Pending.Intersect(want)
		return len(a.Pending) > 0
	}
}

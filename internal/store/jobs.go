package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// jobRow is a job as stored, joined with its owner, worker and dependencies.
type jobRow struct {
	ID             int64      `db:"id"`
	UserID         int64      `db:"user_id"`
	UserEmail      string     `db:"email"`
	UnixUser       string     `db:"unix_user"`
	GroupID        int64      `db:"group_id"`
	Name           string     `db:"name"`
	Script         string     `db:"script"`
	Args           []string   `db:"args"`
	WorkingDir     string     `db:"working_dir"`
	Env            []string   `db:"env"`
	CPUCores       int32      `db:"cpu_cores"`
	MemoryGB       int32      `db:"memory_gb"`
	GPUCount       int32      `db:"gpu_count"`
	EstimatedHours float64    `db:"estimated_hours"`
	Priority       int32      `db:"priority"`
	Status         string     `db:"status"`
	Reason         string     `db:"reason"`
	ReasonDetail   string     `db:"reason_detail"`
	Hold           string     `db:"hold"`
	OutputPath     string     `db:"output_path"`
	ErrorPath      string     `db:"error_path"`
	Umask          int32      `db:"umask"`
	SubmittedAt    time.Time  `db:"submitted_at"`
	StartedAt      *time.Time `db:"started_at"`
	CompletedAt    *time.Time `db:"completed_at"`
	ExitCode       *int32     `db:"exit_code"`
	Signal         string     `db:"signal"`
	WorkerID       *int64     `db:"worker_id"`
	WorkerName     *string    `db:"worker_name"`
	GPUIndices     []int32    `db:"gpu_indices"`
	CPUSeconds     float64    `db:"cpu_seconds"`
	PeakMemoryKB   int64      `db:"peak_memory_kb"`
	Deps           []string   `db:"deps"`
	Requeue        *bool      `db:"requeue"`
	Restarts       int32      `db:"restarts"`
	RequeuedAt     *time.Time `db:"requeued_at"`
	arrayCols
}

// arrayCols are a job row's array columns (arrayColumns), NULL for a job
// that is not part of an array.
type arrayCols struct {
	ArrayJobID    *int64  `db:"array_job_id"`
	ArrayTaskID   *int32  `db:"array_task_id"`
	ArraySpec     *string `db:"array_spec"`
	ArrayPending  *string `db:"array_pending"`
	ArrayThrottle *int32  `db:"array_throttle"`
	ArrayCount    *int32  `db:"array_count"`
	ArrayMin      *int32  `db:"array_min"`
	ArrayMax      *int32  `db:"array_max"`
	ArrayStep     *int32  `db:"array_step"`
}

// arrayColumns select arrayCols from jobs j with job_arrays a joined on
// a.job_id = j.array_job_id (arrayJoin).
const (
	arrayColumns = `j.array_job_id, j.array_task_id, a.spec AS array_spec, a.pending AS array_pending,
		a.throttle AS array_throttle, a.task_count AS array_count, a.task_min AS array_min, a.task_max AS array_max,
		a.task_step AS array_step`
	arrayJoin = ` LEFT JOIN job_arrays a ON a.job_id = j.array_job_id`
)

func (r *arrayCols) array() *rcq.JobArray {
	if r.ArrayJobID == nil || r.ArraySpec == nil {
		return nil
	}
	a := &rcq.JobArray{ID: rcq.JobID(*r.ArrayJobID), Spec: *r.ArraySpec, Throttle: int(*r.ArrayThrottle),
		Count: int(*r.ArrayCount), Min: int(*r.ArrayMin), Max: int(*r.ArrayMax), Step: int(*r.ArrayStep)}
	if r.ArrayTaskID != nil {
		t := int(*r.ArrayTaskID)
		a.TaskID = &t
	} else {
		a.Pending, _ = rcq.ReadIndexSet(*r.ArrayPending)
	}
	return a
}

const jobSelect = `SELECT j.id, j.user_id, u.email, u.unix_user, j.group_id, j.name, j.script, j.args,
	j.working_dir, j.env, j.cpu_cores, j.memory_gb, j.gpu_count, j.estimated_hours, j.priority,
	j.status, j.reason, j.reason_detail, j.hold, j.output_path, j.error_path, j.umask, j.submitted_at, j.started_at,
	j.completed_at, j.exit_code, j.signal, j.worker_id, w.name AS worker_name, j.gpu_indices, j.cpu_seconds,
	j.peak_memory_kb,
	ARRAY(SELECT d.type || ':' || d.depends_on || coalesce('_' || d.array_task_id, '') FROM job_dependencies d
		WHERE d.job_id = j.id ORDER BY d.depends_on, d.type, d.array_task_id) AS deps,
	j.requeue, j.restarts, j.requeued_at,
	` + arrayColumns + `
FROM jobs j JOIN users u ON u.id = j.user_id LEFT JOIN workers w ON w.id = j.worker_id` + arrayJoin

func (r *jobRow) job() rcq.Job {
	j := rcq.Job{
		ID: rcq.JobID(r.ID), UserID: rcq.UserID(r.UserID), UserEmail: r.UserEmail, UnixUser: r.UnixUser,
		GroupID: rcq.GroupID(r.GroupID), Name: r.Name, Script: r.Script, Args: r.Args,
		WorkingDir: r.WorkingDir, Env: r.Env,
		Resources:      rcq.Resources{CPUCores: int(r.CPUCores), MemoryGB: int(r.MemoryGB), GPUs: int(r.GPUCount)},
		EstimatedHours: r.EstimatedHours, Priority: int(r.Priority), State: rcq.JobState(r.Status),
		Reason: r.Reason, ReasonDetail: r.ReasonDetail, Hold: rcq.Hold(r.Hold), Output: r.OutputPath, Error: r.ErrorPath, Umask: rcq.Umask(r.Umask),
		SubmittedAt: r.SubmittedAt, StartedAt: r.StartedAt, CompletedAt: r.CompletedAt, Signal: r.Signal,
		CPUSeconds: r.CPUSeconds, PeakMemoryKB: r.PeakMemoryKB,
		Requeue: r.Requeue, Restarts: int(r.Restarts), RequeuedAt: r.RequeuedAt,
	}
	if r.ExitCode != nil {
		c := int(*r.ExitCode)
		j.ExitCode = &c
	}
	if r.WorkerID != nil {
		w := rcq.WorkerID(*r.WorkerID)
		j.WorkerID = &w
	}
	if r.WorkerName != nil {
		j.WorkerName = *r.WorkerName
	}
	j.GPUIndices = make([]int, len(r.GPUIndices))
	for i, g := range r.GPUIndices {
		j.GPUIndices[i] = int(g)
	}
	for _, d := range r.Deps {
		typ, id, _ := strings.Cut(d, ":")
		id, task, isTask := strings.Cut(id, "_")
		var n int64
		fmt.Sscan(id, &n)
		dep := rcq.Dependency{Type: rcq.DependencyType(typ), JobID: rcq.JobID(n)}
		if isTask {
			t, _ := strconv.Atoi(task)
			dep.ArrayTaskID = &t
		}
		j.Dependencies = append(j.Dependencies, dep)
	}
	j.Array = r.array()
	return j
}

func collectJobs(rows pgx.Rows) ([]rcq.Job, error) {
	return collectNamed(rows, (*jobRow).job)
}

// CreateJob stores a new pending job for its owner (j.UserID, j.GroupID) with
// its dependencies, within the pending caps (see pendingCaps), and notifies
// the scheduler once committed.
//
// With an idempotency key, the same user sending the same key within 24 hours
// gets the first job's id back (existed = true) and nothing new is stored.
// Dependencies must name jobs of the same owner (another user's job is
// reported as missing, like any job the caller may not see); a job can only
// depend on jobs that exist before it, so a dependency cycle cannot form.
func (s *Store) CreateJob(ctx context.Context, j *rcq.Job, idemKey string) (id rcq.JobID, existed bool, err error) {
	return s.CreateJobChecked(ctx, nil, j, idemKey)
}

// CreateJobChecked is CreateJob for the account c describes, when c is set:
// it stores nothing, and returns rcq.ErrAccountChanged, unless c's check
// holds (see rcq.AccountCheck).
func (s *Store) CreateJobChecked(ctx context.Context, c *rcq.AccountCheck, j *rcq.Job, idemKey string) (id rcq.JobID, existed bool, err error) {
	per := map[rcq.UserID]int64{j.UserID: 1}
	if len(j.Dependencies) == 0 && j.Array == nil && s.pending.far(j.UserID, 1, time.Now()) {
		// One statement is its own transaction: one round trip, not five.
		// Far below the caps it needs no count (see pendingCaps).
		if idemKey == "" {
			err = s.queryRow(ctx, c, insertJobSQL, insertJobArgs(j), &id)
		} else {
			err = s.queryRow(ctx, c, insertKeyedJobSQL, append(insertJobArgs(j), idemKey), &id, &existed)
			if errors.Is(err, pgx.ErrNoRows) {
				err = errIdemRace
			}
		}
	} else {
		id, existed, err = s.createJobTx(ctx, c, j, idemKey, per)
	}
	if err == nil && !existed {
		s.pending.stored(per)
		s.announce(rcq.Event{Kind: rcq.EventJobSubmitted, JobID: id,
			Held: j.Hold != rcq.HoldNone && len(j.Dependencies) == 0 && j.Array == nil})
	}
	if errors.Is(err, errIdemRace) {
		err = s.pool.QueryRow(ctx, `SELECT job_id FROM idempotency_keys WHERE user_id = $1 AND key = $2`,
			j.UserID, idemKey).Scan(&id)
		return id, true, wrap("create job", err)
	}
	if err != nil {
		return 0, false, wrap("create job", err)
	}
	return id, existed, nil
}

// createJobTx is CreateJob in a transaction: with dependencies to check, an
// array, or near the pending caps.
func (s *Store) createJobTx(ctx context.Context, c *rcq.AccountCheck, j *rcq.Job, idemKey string, per map[rcq.UserID]int64) (id rcq.JobID, existed bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		existed = false
		if err := checkAccount(ctx, tx, c); err != nil {
			return err
		}
		if idemKey != "" {
			err := tx.QueryRow(ctx, `
				SELECT job_id FROM idempotency_keys
				WHERE user_id = $1 AND key = $2 AND created_at > now() - interval '24 hours'`,
				j.UserID, idemKey).Scan(&id)
			if err == nil {
				existed = true
				return nil
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
		}
		js := []*rcq.Job{j}
		if err := checkDependencies(ctx, tx, js, -1); err != nil {
			return err
		}
		insert, args := insertJobSQL, insertJobArgs(j)
		if j.Array != nil {
			insert, args = insertArraySQL, insertArrayArgs(j)
		}
		if err := tx.QueryRow(ctx, insert, args...).Scan(&id); err != nil {
			return err
		}
		if err := insertDependencies(ctx, tx, []rcq.JobID{id}, js); err != nil {
			return err
		}
		if err := s.reserve(ctx, tx, per); err != nil {
			return err
		}
		if idemKey != "" {
			tag, err := tx.Exec(ctx, `
				INSERT INTO idempotency_keys (user_id, key, job_id) VALUES ($1, $2, $3)
				ON CONFLICT (user_id, key) DO UPDATE SET job_id = excluded.job_id, created_at = now()
				WHERE idempotency_keys.created_at <= now() - interval '24 hours'`, j.UserID, idemKey, id)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				// A concurrent request with the same key committed first.
				return errIdemRace
			}
		}
		return nil
	})
	return id, existed, err
}

// errIdemRace: a concurrent request with the same idempotency key committed
// first; its job is the answer.
var errIdemRace = errors.New("idempotency key taken concurrently")

// insertKeyedJobSQL is insertJobSQL under an idempotency key ($18) in one
// statement: the key is claimed first, with the new job's id, and the job is
// inserted only if the claim succeeded; a key younger than 24 hours returns
// its job instead (existed = true). A concurrent request with the same key
// waits on the key's row and, once that commits, claims nothing and sees
// nothing (its snapshot is older): no row, which CreateJob answers as
// errIdemRace. The key's reference to the job is checked at the end of the
// statement, when both rows exist.
const insertKeyedJobSQL = `
WITH k AS (
	INSERT INTO idempotency_keys (user_id, key, job_id)
	VALUES ($1, $18, nextval(pg_get_serial_sequence('jobs', 'id')))
	ON CONFLICT (user_id, key) DO UPDATE SET job_id = excluded.job_id, created_at = now()
		WHERE idempotency_keys.created_at <= now() - interval '24 hours'
	RETURNING job_id
), j AS (
	INSERT INTO jobs (id, user_id, group_id, name, script, args, working_dir, env, cpu_cores, memory_gb,
		gpu_count, estimated_hours, priority, hold, output_path, error_path, umask, requeue)
	SELECT k.job_id, $1::bigint, $2::bigint, $3::text, $4::text, $5::text[], $6::text, $7::text[], $8::integer,
		$9::integer, $10::integer, $11::double precision, $12::integer, $13::text, $14::text, $15::text,
		$16::integer, $17::boolean
	FROM k
	RETURNING id
)
SELECT id, false FROM j
UNION ALL
SELECT job_id, true FROM idempotency_keys
WHERE user_id = $1 AND key = $18 AND created_at > now() - interval '24 hours' AND NOT EXISTS (SELECT FROM k)`

const insertJobSQL = `
INSERT INTO jobs (user_id, group_id, name, script, args, working_dir, env, cpu_cores, memory_gb,
	gpu_count, estimated_hours, priority, hold, output_path, error_path, umask, requeue)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
RETURNING id`

func insertJobArgs(j *rcq.Job) []any {
	return []any{j.UserID, j.GroupID, j.Name, j.Script, nonNil(j.Args), j.WorkingDir, nonNil(j.Env),
		j.Resources.CPUCores, j.Resources.MemoryGB, j.Resources.GPUs, j.EstimatedHours, j.Priority,
		j.Hold, j.Output, j.Error, int32(j.Umask), j.Requeue}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// checkDependencies refuses a dependency on a job that does not exist or is
// not the dependent job's owner's (another user's job is as missing as one
// that never was), with one query for all of js. first is the batch index of
// js[0], for the message; -1 for a single submit.
func checkDependencies(ctx context.Context, tx pgx.Tx, js []*rcq.Job, first int) error {
	var ids []int64
	for _, j := range js {
		for _, d := range j.Dependencies {
			ids = append(ids, int64(d.JobID))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids) // a batch's jobs often wait on the same few
	rows, _ := tx.Query(ctx, `SELECT j.id, j.user_id, a.spec FROM jobs j
		LEFT JOIN job_arrays a ON a.job_id = j.id AND j.array_job_id = j.id WHERE j.id = ANY($1)`, ids)
	owner := make(map[rcq.JobID]rcq.UserID, len(ids))
	arrays := map[rcq.JobID]string{}
	var id rcq.JobID
	var uid rcq.UserID
	var spec *string
	if _, err := pgx.ForEachRow(rows, []any{&id, &uid, &spec}, func() error {
		owner[id] = uid
		if spec != nil {
			arrays[id] = *spec
		}
		return nil
	}); err != nil {
		return err
	}
	for i, j := range js {
		at := ""
		if first >= 0 {
			at = fmt.Sprintf("jobs[%d].", first+i)
		}
		for _, d := range j.Dependencies {
			if u, ok := owner[d.JobID]; !ok || u != j.UserID {
				return rcq.Errorf(rcq.KindInvalid, "invalid_dependencies", "%sdependencies: job %d not found (a job may depend only on your own jobs)", at, d.JobID)
			}
			spec, isArray := arrays[d.JobID]
			switch {
			case d.Type == rcq.AfterCorr && (!isArray || j.Array == nil):
				return rcq.Errorf(rcq.KindInvalid, "invalid_dependencies", "%sdependencies: aftercorr:%d: aftercorr makes each element of an array wait for the element of the same index of another array; both must be arrays", at, d.JobID)
			case d.Type != rcq.AfterCorr && d.ArrayTaskID != nil:
				set, _ := rcq.ParseArraySpec(spec, rcq.MaxArrayIndex+1)
				if !isArray || !set.Tasks.Contains(*d.ArrayTaskID) {
					return rcq.Errorf(rcq.KindInvalid, "invalid_dependencies", "%sdependencies: job %s not found (a job may depend only on your own jobs)", at, d.Target())
				}
			}
		}
	}
	return nil
}

// insertDependencies stores the dependencies of js (stored as ids) in one
// statement.
func insertDependencies(ctx context.Context, tx pgx.Tx, ids []rcq.JobID, js []*rcq.Job) error {
	var jobIDs, on []int64
	var types []string
	var tasks []*int32
	for i, j := range js {
		for _, d := range j.Dependencies {
			jobIDs, on, types = append(jobIDs, int64(ids[i])), append(on, int64(d.JobID)), append(types, string(d.Type))
			var task *int32
			switch {
			case d.Type == rcq.AfterCorr && j.Array != nil && j.Array.TaskID != nil:
				t := int32(*j.Array.TaskID) // an element waits on the element of its own index
				task = &t
			case d.Type != rcq.AfterCorr && d.ArrayTaskID != nil:
				t := int32(*d.ArrayTaskID)
				task = &t
			}
			tasks = append(tasks, task)
		}
	}
	if len(jobIDs) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO job_dependencies (job_id, depends_on, type, array_task_id)
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::integer[]) ON CONFLICT DO NOTHING`, jobIDs, on, types, tasks)
	return err
}

// CreateJobs stores many jobs in one transaction, all or nothing, and returns
// their ids in order: CreateJobsFrom with a single chunk.
func (s *Store) CreateJobs(ctx context.Context, js []*rcq.Job) ([]rcq.JobID, error) {
	handed := false
	return s.CreateJobsFrom(ctx, func() ([]*rcq.Job, error) {
		if handed {
			return nil, nil
		}
		handed = true
		return js, nil
	})
}

// CreateJobsFrom stores the jobs next hands out, a chunk per call until it
// returns none, in one transaction: all or nothing, within the pending caps
// (every job counts), and returns their ids in order. Only one chunk is held
// at a time, so a batch of any size costs rcqd the memory of one chunk.
//
// The transaction begins once the first chunk is in hand (a batch of one
// chunk holds no connection while it arrives); later calls of next run inside
// it and must not wait on the database. An error from next ends the batch,
// storing nothing, and is returned as it is. The caps are checked once every
// job is in (see reserve), so the account's other submits never wait for the
// batch's body.
//
// Ids are drawn from the sequence per chunk so the rows can be loaded with
// COPY, which is what makes a 10,000-job batch take milliseconds.
func (s *Store) CreateJobsFrom(ctx context.Context, next func() ([]*rcq.Job, error)) ([]rcq.JobID, error) {
	chunk, err := next()
	if err != nil || len(chunk) == 0 {
		return nil, err
	}
	var ids []rcq.JobID
	var fromNext error
	per := map[rcq.UserID]int64{}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var now time.Time
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			return err
		}
		for len(chunk) > 0 {
			got, err := s.insertJobs(ctx, tx, chunk, len(ids), now)
			if err != nil {
				return err
			}
			ids = append(ids, got...)
			for _, j := range chunk {
				per[j.UserID]++
			}
			if chunk, fromNext = next(); fromNext != nil {
				return fromNext
			}
		}
		return s.reserve(ctx, tx, per)
	})
	if fromNext != nil {
		return nil, fromNext
	}
	if err != nil {
		return nil, wrap("create jobs", err)
	}
	s.pending.stored(per)
	s.announce(rcq.Event{Kind: rcq.EventJobSubmitted})
	return ids, nil
}

// insertJobs stores one chunk of a batch inside tx; first is the batch index
// of js[0], for messages.
func (s *Store) insertJobs(ctx context.Context, tx pgx.Tx, js []*rcq.Job, first int, now time.Time) ([]rcq.JobID, error) {
	if err := checkDependencies(ctx, tx, js, first); err != nil {
		return nil, err
	}
	rows, _ := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('jobs', 'id')) FROM generate_series(1, $1)`, len(js))
	seq, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, err
	}
	ids := make([]rcq.JobID, len(js))
	for i := range seq {
		ids[i] = rcq.JobID(seq[i])
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"jobs"}, []string{"id", "user_id", "group_id", "name", "script",
		"args", "working_dir", "env", "cpu_cores", "memory_gb", "gpu_count", "estimated_hours", "priority",
		"hold", "output_path", "error_path", "umask", "submitted_at", "requeue"},
		pgx.CopyFromSlice(len(js), func(i int) ([]any, error) {
			j := js[i]
			return []any{int64(ids[i]), int64(j.UserID), int64(j.GroupID), j.Name, j.Script, nonNil(j.Args),
				j.WorkingDir, nonNil(j.Env), int32(j.Resources.CPUCores), int32(j.Resources.MemoryGB),
				int32(j.Resources.GPUs), j.EstimatedHours, int32(j.Priority), string(j.Hold), j.Output, j.Error, int32(j.Umask), now, j.Requeue}, nil
		}))
	if err != nil {
		return nil, err
	}
	if err := insertDependencies(ctx, tx, ids, js); err != nil {
		return nil, err
	}
	return ids, nil
}

// JobByID returns one job. A job of another user is NotFound unless owner is
// 0 (an admin's view): the caller can't tell it from a missing one.
func (s *Store) JobByID(ctx context.Context, id rcq.JobID, owner rcq.UserID) (*rcq.Job, error) {
	return s.JobByIDChecked(ctx, nil, id, owner)
}

// JobByIDChecked is JobByID for the account c describes, when c is set: it
// returns rcq.ErrAccountChanged, and no job, unless c's check holds (see
// rcq.AccountCheck).
func (s *Store) JobByIDChecked(ctx context.Context, c *rcq.AccountCheck, id rcq.JobID, owner rcq.UserID) (*rcq.Job, error) {
	var j rcq.Job
	err := s.query(ctx, c, jobSelect+` WHERE j.id = $1 AND ($2 = 0 OR j.user_id = $2)`, []any{id, owner}, func(rows pgx.Rows) error {
		var err error
		j, err = collectOneNamed(rows, (*jobRow).job)
		return err
	})
	if err != nil {
		return nil, notFound(wrap("job", err), "not_found", "job %d not found", id)
	}
	return &j, nil
}

// ListJobs returns the jobs f selects, oldest first (or newest first).
func (s *Store) ListJobs(ctx context.Context, f rcq.JobFilter) ([]rcq.Job, error) {
	var c conds
	c.owner(f.UserID)
	if len(f.States) > 0 {
		c.states(f.States)
	}
	if f.Name != "" {
		c.add("j.name = " + c.arg(f.Name))
	}
	c.ids(f.IDs)
	c.refs(f.Refs)
	if !f.Since.IsZero() {
		c.add("j.submitted_at >= " + c.arg(f.Since))
	}
	if f.DependsOn != 0 {
		c.add("EXISTS (SELECT 1 FROM job_dependencies d WHERE d.job_id = j.id AND d.depends_on = " + c.arg(f.DependsOn) + ")")
	}
	c.after(f.After, f.NewestFirst)
	q := jobSelect + c.clause()
	if f.NewestFirst {
		q += " ORDER BY j.submitted_at DESC, j.id DESC"
	} else {
		q += " ORDER BY j.submitted_at, j.id"
	}
	if f.Limit > 0 {
		q += " LIMIT " + c.arg(f.Limit)
	}
	rows, _ := s.pool.Query(ctx, q, c.args...)
	js, err := collectJobs(rows)
	if err != nil {
		return nil, wrap("list jobs", err)
	}
	return elementsOf(js, f.Refs), nil
}

// CancelJob cancels a pending or running job of owner (0: any owner, for
// admins). A pending job ends at once; a running job becomes cancelled and
// keeps its resources until its executor reports its processes gone. It
// returns the job's state before the cancel.
func (s *Store) CancelJob(ctx context.Context, id rcq.JobID, owner rcq.UserID) (rcq.JobState, error) {
	var prev rcq.JobState
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var node *string
		var jobOwner rcq.UserID
		err := tx.QueryRow(ctx, `
			WITH old AS (SELECT id, status FROM jobs WHERE id = $1 AND ($2 = 0 OR user_id = $2)
			             AND status IN ('pending', 'running') FOR UPDATE)
			UPDATE jobs j SET status = 'cancelled', reason = $3, hold = '',
				completed_at = CASE WHEN old.status = 'pending' THEN now() END
			FROM old WHERE j.id = old.id
			RETURNING old.status, (SELECT node FROM workers WHERE id = j.worker_id), j.user_id`,
			id, owner, rcq.ReasonCancelledByUser).Scan(&prev, &node, &jobOwner)
		if errors.Is(err, pgx.ErrNoRows) {
			return s.whyNot(ctx, tx, id, owner)
		}
		if err != nil {
			return err
		}
		if err := auditJob(ctx, tx, jobOwner, rcq.AuditEntry{Action: "job.cancel", TargetID: jobIDText(id),
			Before: jsonOf(map[string]any{"state": prev}), After: jsonOf(map[string]any{"state": rcq.JobCancelled})}); err != nil {
			return err
		}
		ev := rcq.Event{Kind: rcq.EventJobEnded, JobID: id}
		if node != nil {
			ev = rcq.Event{Kind: rcq.EventJobCancelled, JobID: id, Node: *node}
		}
		return notify(ctx, tx, ev)
	})
	if err != nil {
		return "", wrap(fmt.Sprintf("cancel job %d", id), err)
	}
	return prev, nil
}

// whyNot explains why a conditional update on a job of owner matched
// nothing: NotFound, a Conflict naming the job's state, or nil when the job is
// in one of want (the caller knows what else blocked it).
func (s *Store) whyNot(ctx context.Context, q querier, id rcq.JobID, owner rcq.UserID, want ...rcq.JobState) error {
	var st rcq.JobState
	err := q.QueryRow(ctx, `SELECT status FROM jobs WHERE id = $1 AND ($2 = 0 OR user_id = $2)`, id, owner).Scan(&st)
	if errors.Is(err, pgx.ErrNoRows) {
		return rcq.Errorf(rcq.KindNotFound, "not_found", "job %d not found", id)
	}
	if err != nil {
		return err
	}
	if slices.Contains(want, st) {
		return nil
	}
	if st.Terminal() {
		return rcq.Errorf(rcq.KindConflict, "job_finished", "job %d is already %s", id, st)
	}
	return rcq.Errorf(rcq.KindConflict, "job_not_pending", "job %d is %s, not pending", id, st)
}

// SetHold holds a pending job back (hold = user or admin) or releases it
// (hold = none). A user may not release an admin's hold (admin = false).
func (s *Store) SetHold(ctx context.Context, id rcq.JobID, owner rcq.UserID, hold rcq.Hold, admin bool) error {
	return wrap(fmt.Sprintf("hold job %d", id), pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var jobOwner rcq.UserID
		var prev rcq.Hold
		err := tx.QueryRow(ctx, `
			WITH old AS (SELECT id, hold FROM jobs WHERE id = $1 AND ($2 = 0 OR user_id = $2) AND status = 'pending'
			             AND (hold <> 'admin' OR $4) FOR UPDATE)
			UPDATE jobs j SET hold = $3 FROM old WHERE j.id = old.id
			RETURNING j.user_id, old.hold`, id, owner, hold, admin).Scan(&jobOwner, &prev)
		if errors.Is(err, pgx.ErrNoRows) {
			if err := s.whyNot(ctx, tx, id, owner, rcq.JobPending); err != nil {
				return err
			}
			return rcq.Errorf(rcq.KindForbidden, "held_by_admin", "job %d is held by an admin; only an admin can release it", id)
		}
		if err != nil {
			return err
		}
		action := "job.hold"
		if hold == rcq.HoldNone {
			action = "job.release"
		}
		if err := auditJob(ctx, tx, jobOwner, rcq.AuditEntry{Action: action, TargetID: jobIDText(id),
			Before: jsonOf(map[string]any{"hold": prev}), After: jsonOf(map[string]any{"hold": hold})}); err != nil {
			return err
		}
		return notify(ctx, tx, rcq.Event{Kind: rcq.EventJobSubmitted, JobID: id})
	}))
}

// queueRow is a job as the queue view shows it: no script, arguments,
// environment or outcome. Its owner's email and login, its worker's name
// and its array's record are looked up by id after the rows (queueNames).
type queueRow struct {
	ID             int64      `db:"id"`
	UserID         int64      `db:"user_id"`
	GroupID        int64      `db:"group_id"`
	Name           string     `db:"name"`
	CPUCores       int32      `db:"cpu_cores"`
	MemoryGB       int32      `db:"memory_gb"`
	GPUCount       int32      `db:"gpu_count"`
	EstimatedHours float64    `db:"estimated_hours"`
	Priority       int32      `db:"priority"`
	Status         string     `db:"status"`
	Reason         string     `db:"reason"`
	Hold           string     `db:"hold"`
	SubmittedAt    time.Time  `db:"submitted_at"`
	StartedAt      *time.Time `db:"started_at"`
	WorkerID       *int64     `db:"worker_id"`
	GPUIndices     []int32    `db:"gpu_indices"`
	ArrayJobID     *int64     `db:"array_job_id"`
	ArrayTaskID    *int32     `db:"array_task_id"`
}

// queueRefs are the ids of a queue row that queueNames resolves.
type queueRefs struct {
	workerID    int64 // 0: none
	arrayTaskID *int32
}

func (r *queueRow) job(refs *[]queueRefs) rcq.Job {
	j := rcq.Job{
		ID: rcq.JobID(r.ID), UserID: rcq.UserID(r.UserID),
		GroupID: rcq.GroupID(r.GroupID), Name: r.Name,
		Resources:      rcq.Resources{CPUCores: int(r.CPUCores), MemoryGB: int(r.MemoryGB), GPUs: int(r.GPUCount)},
		EstimatedHours: r.EstimatedHours, Priority: int(r.Priority), State: rcq.JobState(r.Status),
		Reason: r.Reason, Hold: rcq.Hold(r.Hold), SubmittedAt: r.SubmittedAt, StartedAt: r.StartedAt,
		GPUIndices: make([]int, len(r.GPUIndices)),
	}
	for i, g := range r.GPUIndices {
		j.GPUIndices[i] = int(g)
	}
	ref := queueRefs{arrayTaskID: r.ArrayTaskID}
	if r.WorkerID != nil {
		ref.workerID = *r.WorkerID
	}
	if r.ArrayJobID != nil {
		j.Array = &rcq.JobArray{ID: rcq.JobID(*r.ArrayJobID)} // the rest from job_arrays
	}
	*refs = append(*refs, ref)
	return j
}

// queueSQL reads a page of the queue: each state in id order from its own
// index range (jobs_status_id), the two merged, so a page costs its size,
// not the size of the queue. The jobs table alone: joined to users,
// workers and job_arrays in SQL, the page was sorted again whole, wide
// rows and all, which was most of the query's time at 10,000 rows
// (docs/performance.md); queueNames looks those up by id instead.
const queueSQL = `
	(SELECT id, user_id, group_id, name, cpu_cores, memory_gb, gpu_count, estimated_hours, priority, status, reason,
		hold, submitted_at, started_at, worker_id, gpu_indices, array_job_id, array_task_id
	FROM jobs WHERE status = 'pending' AND id > $1 AND ($3 = 0 OR user_id = $3) ORDER BY id LIMIT $2)
	UNION ALL
	(SELECT id, user_id, group_id, name, cpu_cores, memory_gb, gpu_count, estimated_hours, priority, status, reason,
		hold, submitted_at, started_at, worker_id, gpu_indices, array_job_id, array_task_id
	FROM jobs WHERE status = 'running' AND id > $1 AND ($3 = 0 OR user_id = $3) ORDER BY id LIMIT $2)
	ORDER BY id LIMIT $2`

// QueueJobs returns a page of the pending and running jobs f selects, by id,
// without the heavy fields (script, args, environment), for the queue view.
// The page and the names in it are read in one snapshot.
func (s *Store) QueueJobs(ctx context.Context, f rcq.QueueFilter) ([]rcq.Job, error) {
	limit := int64(f.Limit)
	if limit <= 0 {
		limit = math.MaxInt64
	}
	var js []rcq.Job
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, queueSQL, f.After, limit, f.UserID)
		if err != nil {
			return err
		}
		// Sized for the last page read plus an eighth (at most the limit).
		hint := s.queueHint.Load()
		hint = min(hint+hint/8+16, limit)
		refs := make([]queueRefs, 0, hint)
		js, err = collectNamedCap(rows, func(r *queueRow) rcq.Job { return r.job(&refs) }, int(hint))
		if err != nil {
			return err
		}
		return queueNames(ctx, tx, js, refs)
	})
	if err != nil {
		return nil, wrap("queue", err)
	}
	s.queueHint.Store(int64(len(js)))
	return js, nil
}

// queueNames fills in the owners' emails and logins, the workers' names
// and the arrays' records of a page of the queue (refs: each job's ids),
// each table read once for the ids the page holds (a page of 10,000 jobs
// has a few users, workers and arrays).
func queueNames(ctx context.Context, tx pgx.Tx, js []rcq.Job, refs []queueRefs) error {
	users, workers, arrays := map[int64]int{}, map[int64]int{}, map[int64]int{}
	var userIDs, workerIDs, arrayIDs []int64
	add := func(m map[int64]int, ids *[]int64, id int64) {
		if _, ok := m[id]; !ok {
			m[id] = len(*ids)
			*ids = append(*ids, id)
		}
	}
	for i := range js {
		add(users, &userIDs, int64(js[i].UserID))
		if refs[i].workerID != 0 {
			add(workers, &workerIDs, refs[i].workerID)
		}
		if js[i].Array != nil {
			add(arrays, &arrayIDs, int64(js[i].Array.ID))
		}
	}
	type user struct{ email, unix string }
	userOf := make([]user, len(userIDs))
	if len(userIDs) > 0 {
		rows, _ := tx.Query(ctx, `SELECT id, email, unix_user FROM users WHERE id = ANY($1)`, userIDs)
		var id int64
		var u user
		if _, err := pgx.ForEachRow(rows, []any{&id, &u.email, &u.unix}, func() error {
			userOf[users[id]] = u
			return nil
		}); err != nil {
			return err
		}
	}
	workerOf := make([]string, len(workerIDs))
	if len(workerIDs) > 0 {
		rows, _ := tx.Query(ctx, `SELECT id, name FROM workers WHERE id = ANY($1)`, workerIDs)
		var id int64
		var name string
		if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error {
			workerOf[workers[id]] = name
			return nil
		}); err != nil {
			return err
		}
	}
	arrayOf := make([]*arrayCols, len(arrayIDs))
	if len(arrayIDs) > 0 {
		rows, _ := tx.Query(ctx, `SELECT job_id, spec, pending, throttle, task_count, task_min, task_max, task_step
			FROM job_arrays WHERE job_id = ANY($1)`, arrayIDs)
		var id int64
		var spec, pending string
		var throttle, count, lo, hi, step int32
		if _, err := pgx.ForEachRow(rows, []any{&id, &spec, &pending, &throttle, &count, &lo, &hi, &step}, func() error {
			sp, pe, th, co, mi, ma, st := spec, pending, throttle, count, lo, hi, step // the scan reuses its targets
			arrayOf[arrays[id]] = &arrayCols{ArraySpec: &sp, ArrayPending: &pe, ArrayThrottle: &th, ArrayCount: &co,
				ArrayMin: &mi, ArrayMax: &ma, ArrayStep: &st}
			return nil
		}); err != nil {
			return err
		}
	}
	for i := range js {
		j := &js[i]
		u := userOf[users[int64(j.UserID)]]
		j.UserEmail, j.UnixUser = u.email, u.unix
		if refs[i].workerID != 0 {
			j.WorkerName = workerOf[workers[refs[i].workerID]]
		}
		if j.Array != nil {
			// As a join on job_arrays: a job whose array has no record
			// shows as none.
			a := arrayOf[arrays[int64(j.Array.ID)]]
			if a == nil {
				j.Array = nil
				continue
			}
			c := *a
			id := int64(j.Array.ID)
			c.ArrayJobID, c.ArrayTaskID = &id, refs[i].arrayTaskID
			j.Array = c.array()
		}
	}
	return nil
}

// UpdatePendingJob changes a pending job of owner (0: any owner, for admins)
// as u says, after check approves the job as it is now (rcq.JobUpdate.Check
// with the caller's rights), and returns the job as changed. The job is
// locked while it is checked, so the rules see the values they change. New
// dependencies must name jobs of the job's owner, like a submit's. A job no
// longer pending is a Conflict naming its state; another user's job is
// NotFound.
func (s *Store) UpdatePendingJob(ctx context.Context, id rcq.JobID, owner rcq.UserID, u rcq.JobUpdate, check func(*rcq.Job) error) (*rcq.Job, error) {
	var out *rcq.Job
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, jobSelect+` WHERE j.id = $1 AND ($2 = 0 OR j.user_id = $2) AND j.status = 'pending' FOR UPDATE OF j`, id, owner)
		j, err := collectOneNamed(rows, (*jobRow).job)
		if errors.Is(err, pgx.ErrNoRows) {
			return s.whyNot(ctx, tx, id, owner)
		}
		if err != nil {
			return err
		}
		if err := check(&j); err != nil {
			return err
		}
		before := jobUpdateAudit(&j)
		u.Apply(&j)
		tag, err := tx.Exec(ctx, `UPDATE jobs SET name = $2, estimated_hours = $3, priority = $4
			WHERE id = $1 AND status = 'pending'`, id, j.Name, j.EstimatedHours, j.Priority)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 { // cannot happen under the row lock; never report a change not made
			return s.whyNot(ctx, tx, id, owner)
		}
		if u.Dependencies != nil {
			if err := checkDependencies(ctx, tx, []*rcq.Job{&j}, -1); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM job_dependencies WHERE job_id = $1`, id); err != nil {
				return err
			}
			if err := insertDependencies(ctx, tx, []rcq.JobID{id}, []*rcq.Job{&j}); err != nil {
				return err
			}
		}
		if err := auditJob(ctx, tx, j.UserID, rcq.AuditEntry{Action: "job.update", TargetID: jobIDText(id),
			Before: before, After: jobUpdateAudit(&j)}); err != nil {
			return err
		}
		out = &j
		return notify(ctx, tx, rcq.Event{Kind: rcq.EventJobSubmitted, JobID: id})
	})
	if err != nil {
		return nil, wrap(fmt.Sprintf("update job %d", id), err)
	}
	return out, nil
}

// JobStates returns the states of the jobs ids names that exist, for showing
// a job's dependencies with the states of the jobs they wait on; an array's
// is the state of its elements taken together, as a dependency sees it.
func (s *Store) JobStates(ctx context.Context, ids []rcq.JobID) (map[rcq.JobID]rcq.JobState, error) {
	out := make(map[rcq.JobID]rcq.JobState, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	raw := make([]int64, len(ids))
	for i, id := range ids {
		raw[i] = int64(id)
	}
	// An array's state is its elements' (see arrayDepStates).
	rows, _ := s.pool.Query(ctx, `
		SELECT o.id, CASE WHEN o.array_job_id = o.id THEN (
			SELECT CASE
				WHEN bool_or(e.status = 'running') THEN 'running'
				WHEN bool_or(e.status = 'pending') THEN 'pending'
				WHEN bool_and(e.status = 'completed') THEN 'completed'
				ELSE min(e.status) FILTER (WHERE e.status <> 'completed') END
			FROM jobs e WHERE e.array_job_id = o.id) ELSE o.status END
		FROM jobs o WHERE o.id = ANY($1)`, raw)
	var id rcq.JobID
	var st rcq.JobState
	if _, err := pgx.ForEachRow(rows, []any{&id, &st}, func() error { out[id] = st; return nil }); err != nil {
		return nil, wrap("job states", err)
	}
	return out, nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// jobRow is a job as stored, joined with its owner, worker and dependencies.
type jobRow struct {
	ID             int64
	UserID         int64
	UserEmail      string
	UnixUser       string
	GroupID        int64
	Name           string
	Script         string
	Args           []string
	WorkingDir     string
	Env            []string
	CPUCores       int32
	MemoryGB       int32
	GPUCount       int32
	EstimatedHours float64
	Priority       int32
	Status         string
	Reason         string
	ReasonDetail   string
	Hold           string
	OutputPath     string
	ErrorPath      string
	Umask          int32
	SubmittedAt    time.Time
	StartedAt      *time.Time
	CompletedAt    *time.Time
	ExitCode       *int32
	Signal         string
	WorkerID       *int64
	WorkerName     *string
	GPUIndices     []int32
	CPUSeconds     float64
	PeakMemoryKB   int64
	Deps           []string
}

const jobSelect = `SELECT j.id, j.user_id, u.email, u.unix_user, j.group_id, j.name, j.script, j.args,
	j.working_dir, j.env, j.cpu_cores, j.memory_gb, j.gpu_count, j.estimated_hours, j.priority,
	j.status, j.reason, j.reason_detail, j.hold, j.output_path, j.error_path, j.umask, j.submitted_at, j.started_at,
	j.completed_at, j.exit_code, j.signal, j.worker_id, w.name, j.gpu_indices, j.cpu_seconds,
	j.peak_memory_kb,
	ARRAY(SELECT d.type || ':' || d.depends_on FROM job_dependencies d WHERE d.job_id = j.id ORDER BY d.depends_on, d.type)
FROM jobs j JOIN users u ON u.id = j.user_id LEFT JOIN workers w ON w.id = j.worker_id`

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
		var n int64
		fmt.Sscan(id, &n)
		j.Dependencies = append(j.Dependencies, rcq.Dependency{Type: rcq.DependencyType(typ), JobID: rcq.JobID(n)})
	}
	return j
}

func collectJobs(rows pgx.Rows) ([]rcq.Job, error) {
	rs, err := pgx.CollectRows(rows, pgx.RowToAddrOfStructByPos[jobRow])
	if err != nil {
		return nil, err
	}
	js := make([]rcq.Job, len(rs))
	for i, r := range rs {
		js[i] = r.job()
	}
	return js, nil
}

// CreateJob stores a new pending job for its owner (j.UserID, j.GroupID) with
// its dependencies, in one transaction that notifies the scheduler.
//
// With an idempotency key, the same user sending the same key within 24 hours
// gets the first job's id back (existed = true) and nothing new is stored.
// Dependencies must name jobs of the same owner (another user's job is
// reported as missing, like any job the caller may not see); a job can only
// depend on jobs that exist before it, so a dependency cycle cannot form.
func (s *Store) CreateJob(ctx context.Context, j *rcq.Job, idemKey string) (id rcq.JobID, existed bool, err error) {
	if idemKey == "" && len(j.Dependencies) == 0 {
		// One statement is its own transaction: one round trip, not three.
		if err := s.pool.QueryRow(ctx, insertJobSQL, insertJobArgs(j)...).Scan(&id); err != nil {
			return 0, false, wrap("create job", err)
		}
		s.announce(rcq.Event{Kind: rcq.EventJobSubmitted, JobID: id})
		return id, false, nil
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
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
		if err := checkDependencies(ctx, tx, j); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, insertJobSQL, insertJobArgs(j)...).Scan(&id); err != nil {
			return err
		}
		if err := insertDependencies(ctx, tx, id, j.Dependencies); err != nil {
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
	if err == nil && !existed {
		s.announce(rcq.Event{Kind: rcq.EventJobSubmitted, JobID: id})
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

var errIdemRace = errors.New("idempotency key taken concurrently")

const insertJobSQL = `
INSERT INTO jobs (user_id, group_id, name, script, args, working_dir, env, cpu_cores, memory_gb,
	gpu_count, estimated_hours, priority, hold, output_path, error_path, umask)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING id`

func insertJobArgs(j *rcq.Job) []any {
	return []any{j.UserID, j.GroupID, j.Name, j.Script, nonNil(j.Args), j.WorkingDir, nonNil(j.Env),
		j.Resources.CPUCores, j.Resources.MemoryGB, j.Resources.GPUs, j.EstimatedHours, j.Priority,
		j.Hold, j.Output, j.Error, int32(j.Umask)}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func checkDependencies(ctx context.Context, tx pgx.Tx, j *rcq.Job) error {
	if len(j.Dependencies) == 0 {
		return nil
	}
	ids := make([]int64, len(j.Dependencies))
	for i, d := range j.Dependencies {
		ids[i] = int64(d.JobID)
	}
	rows, _ := tx.Query(ctx, `SELECT id FROM jobs WHERE id = ANY($1) AND user_id = $2`, ids, j.UserID)
	found, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	have := make(map[int64]bool, len(found))
	for _, id := range found {
		have[id] = true
	}
	for _, id := range ids {
		if !have[id] {
			return rcq.Errorf(rcq.KindInvalid, "invalid_dependencies", "dependencies: job %d not found (a job may depend only on your own jobs)", id)
		}
	}
	return nil
}

func insertDependencies(ctx context.Context, tx pgx.Tx, id rcq.JobID, deps []rcq.Dependency) error {
	for _, d := range deps {
		if _, err := tx.Exec(ctx, `
			INSERT INTO job_dependencies (job_id, depends_on, type) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, id, d.JobID, d.Type); err != nil {
			return err
		}
	}
	return nil
}

// CreateJobs stores many jobs in one transaction, all or nothing, and returns
// their ids in order. Ids are drawn from the sequence first so the rows can be
// loaded with COPY, which is what makes a 10,000-job batch take milliseconds.
func (s *Store) CreateJobs(ctx context.Context, js []*rcq.Job) ([]rcq.JobID, error) {
	if len(js) == 0 {
		return nil, nil
	}
	ids := make([]rcq.JobID, len(js))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT nextval(pg_get_serial_sequence('jobs', 'id')) FROM generate_series(1, $1)`, len(js))
		seq, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		for i := range js {
			ids[i] = rcq.JobID(seq[i])
			if err := checkDependencies(ctx, tx, js[i]); err != nil {
				var re *rcq.Error
				if errors.As(err, &re) { // the user must learn which spec is wrong
					return &rcq.Error{Kind: re.Kind, Code: re.Code, Msg: fmt.Sprintf("jobs[%d].%s", i, re.Msg), Err: err}
				}
				return fmt.Errorf("jobs[%d]: %w", i, err)
			}
		}
		now := time.Now()
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
			return err
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"jobs"}, []string{"id", "user_id", "group_id", "name", "script",
			"args", "working_dir", "env", "cpu_cores", "memory_gb", "gpu_count", "estimated_hours", "priority",
			"hold", "output_path", "error_path", "umask", "submitted_at"},
			pgx.CopyFromSlice(len(js), func(i int) ([]any, error) {
				j := js[i]
				return []any{int64(ids[i]), int64(j.UserID), int64(j.GroupID), j.Name, j.Script, nonNil(j.Args),
					j.WorkingDir, nonNil(j.Env), int32(j.Resources.CPUCores), int32(j.Resources.MemoryGB),
					int32(j.Resources.GPUs), j.EstimatedHours, int32(j.Priority), string(j.Hold), j.Output, j.Error, int32(j.Umask), now}, nil
			}))
		if err != nil {
			return err
		}
		for i, j := range js {
			if err := insertDependencies(ctx, tx, ids[i], j.Dependencies); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap("create jobs", err)
	}
	s.announce(rcq.Event{Kind: rcq.EventJobSubmitted})
	return ids, nil
}

// JobByID returns one job. A job of another user is NotFound unless owner is
// 0 (an admin's view): the caller can't tell it from a missing one.
func (s *Store) JobByID(ctx context.Context, id rcq.JobID, owner rcq.UserID) (*rcq.Job, error) {
	rows, _ := s.pool.Query(ctx, jobSelect+` WHERE j.id = $1 AND ($2 = 0 OR j.user_id = $2)`, id, owner)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToAddrOfStructByPos[jobRow])
	if err != nil {
		return nil, notFound(wrap("job", err), "not_found", "job %d not found", id)
	}
	j := r.job()
	return &j, nil
}

// ListJobs returns the jobs f selects, oldest first (or newest first).
func (s *Store) ListJobs(ctx context.Context, f rcq.JobFilter) ([]rcq.Job, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.UserID != 0 {
		where = append(where, "j.user_id = "+arg(f.UserID))
	}
	if len(f.States) > 0 {
		ss := make([]string, len(f.States))
		for i, st := range f.States {
			ss[i] = string(st)
		}
		where = append(where, "j.status = ANY("+arg(ss)+")")
	}
	if f.Name != "" {
		where = append(where, "j.name = "+arg(f.Name))
	}
	if len(f.IDs) > 0 {
		ids := make([]int64, len(f.IDs))
		for i, id := range f.IDs {
			ids[i] = int64(id)
		}
		where = append(where, "j.id = ANY("+arg(ids)+")")
	}
	if !f.Since.IsZero() {
		where = append(where, "j.submitted_at >= "+arg(f.Since))
	}
	q := jobSelect
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.NewestFirst {
		q += " ORDER BY j.submitted_at DESC, j.id DESC"
	} else {
		q += " ORDER BY j.submitted_at, j.id"
	}
	if f.Limit > 0 {
		q += " LIMIT " + arg(f.Limit)
	}
	rows, _ := s.pool.Query(ctx, q, args...)
	js, err := collectJobs(rows)
	if err != nil {
		return nil, wrap("list jobs", err)
	}
	return js, nil
}

// CancelJob cancels a pending or running job of owner (0: any owner, for
// admins). A pending job ends at once; a running job becomes cancelled and
// keeps its resources until its executor reports its processes gone. It
// returns the job's state before the cancel.
func (s *Store) CancelJob(ctx context.Context, id rcq.JobID, owner rcq.UserID) (rcq.JobState, error) {
	var prev rcq.JobState
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var node *string
		err := tx.QueryRow(ctx, `
			WITH old AS (SELECT id, status FROM jobs WHERE id = $1 AND ($2 = 0 OR user_id = $2)
			             AND status IN ('pending', 'running') FOR UPDATE)
			UPDATE jobs j SET status = 'cancelled', reason = $3, hold = '',
				completed_at = CASE WHEN old.status = 'pending' THEN now() END
			FROM old WHERE j.id = old.id
			RETURNING old.status, (SELECT node FROM workers WHERE id = j.worker_id)`,
			id, owner, rcq.ReasonCancelledByUser).Scan(&prev, &node)
		if errors.Is(err, pgx.ErrNoRows) {
			return s.whyNot(ctx, tx, id, owner)
		}
		if err != nil {
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
		tag, err := tx.Exec(ctx, `
			UPDATE jobs SET hold = $3 WHERE id = $1 AND ($2 = 0 OR user_id = $2) AND status = 'pending'
				AND (hold <> 'admin' OR $4)`, id, owner, hold, admin)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			if err := s.whyNot(ctx, tx, id, owner, rcq.JobPending); err != nil {
				return err
			}
			return rcq.Errorf(rcq.KindForbidden, "held_by_admin", "job %d is held by an admin; only an admin can release it", id)
		}
		return notify(ctx, tx, rcq.Event{Kind: rcq.EventJobSubmitted, JobID: id})
	}))
}

// QueueJobs returns every pending and running job, without the heavy fields
// (script, args, environment), for the queue view.
func (s *Store) QueueJobs(ctx context.Context) ([]rcq.Job, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT j.id, j.user_id, u.email, j.group_id, j.name, j.cpu_cores, j.memory_gb, j.gpu_count,
			j.estimated_hours, j.priority, j.status, j.reason, j.hold, j.submitted_at, j.started_at,
			coalesce(w.name, ''), j.gpu_indices
		FROM jobs j JOIN users u ON u.id = j.user_id LEFT JOIN workers w ON w.id = j.worker_id
		WHERE j.status IN ('pending', 'running') ORDER BY j.id`)
	if err != nil {
		return nil, wrap("queue", err)
	}
	var js []rcq.Job
	var j rcq.Job
	var cpu, mem, gpu, prio int32
	var status, hold string
	var gpus []int32
	_, err = pgx.ForEachRow(rows, []any{&j.ID, &j.UserID, &j.UserEmail, &j.GroupID, &j.Name, &cpu, &mem, &gpu,
		&j.EstimatedHours, &prio, &status, &j.Reason, &hold, &j.SubmittedAt, &j.StartedAt, &j.WorkerName, &gpus}, func() error {
		j.Resources = rcq.Resources{CPUCores: int(cpu), MemoryGB: int(mem), GPUs: int(gpu)}
		j.Priority, j.State, j.Hold = int(prio), rcq.JobState(status), rcq.Hold(hold)
		j.GPUIndices = make([]int, len(gpus))
		for i, g := range gpus {
			j.GPUIndices[i] = int(g)
		}
		js = append(js, j)
		j.StartedAt = nil
		return nil
	})
	if err != nil {
		return nil, wrap("queue", err)
	}
	return js, nil
}

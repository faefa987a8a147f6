package store

import (
	"context"
	"strconv"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// acctSelect is what accounting shows of a job: no script, arguments or
// environment, which a history of thousands of jobs would carry for nothing.
const acctSelect = `SELECT j.id, j.user_id, u.email, u.unix_user, j.group_id, g.name AS group_name, j.name,
	j.working_dir, j.cpu_cores, j.memory_gb, j.gpu_count, j.estimated_hours, j.status, j.reason,
	j.reason_detail, j.hold, j.output_path, j.error_path, j.submitted_at, j.started_at, j.completed_at,
	j.exit_code, j.signal, w.name AS worker_name, j.cpu_seconds, j.peak_memory_kb, ` + arrayColumns + `
FROM jobs j JOIN users u ON u.id = j.user_id JOIN groups g ON g.id = j.group_id
LEFT JOIN workers w ON w.id = j.worker_id` + arrayJoin

type acctRow struct {
	ID             int64      `db:"id"`
	UserID         int64      `db:"user_id"`
	Email          string     `db:"email"`
	UnixUser       string     `db:"unix_user"`
	GroupID        int64      `db:"group_id"`
	GroupName      string     `db:"group_name"`
	Name           string     `db:"name"`
	WorkingDir     string     `db:"working_dir"`
	CPUCores       int32      `db:"cpu_cores"`
	MemoryGB       int32      `db:"memory_gb"`
	GPUCount       int32      `db:"gpu_count"`
	EstimatedHours float64    `db:"estimated_hours"`
	Status         string     `db:"status"`
	Reason         string     `db:"reason"`
	ReasonDetail   string     `db:"reason_detail"`
	Hold           string     `db:"hold"`
	OutputPath     string     `db:"output_path"`
	ErrorPath      string     `db:"error_path"`
	SubmittedAt    time.Time  `db:"submitted_at"`
	StartedAt      *time.Time `db:"started_at"`
	CompletedAt    *time.Time `db:"completed_at"`
	ExitCode       *int32     `db:"exit_code"`
	Signal         string     `db:"signal"`
	WorkerName     *string    `db:"worker_name"`
	CPUSeconds     float64    `db:"cpu_seconds"`
	PeakMemoryKB   int64      `db:"peak_memory_kb"`
	arrayCols
}

func (r *acctRow) job() rcq.Job {
	j := rcq.Job{
		ID: rcq.JobID(r.ID), UserID: rcq.UserID(r.UserID), UserEmail: r.Email, UnixUser: r.UnixUser,
		GroupID: rcq.GroupID(r.GroupID), GroupName: r.GroupName, Name: r.Name, WorkingDir: r.WorkingDir,
		Resources:      rcq.Resources{CPUCores: int(r.CPUCores), MemoryGB: int(r.MemoryGB), GPUs: int(r.GPUCount)},
		EstimatedHours: r.EstimatedHours, State: rcq.JobState(r.Status), Reason: r.Reason,
		ReasonDetail: r.ReasonDetail, Hold: rcq.Hold(r.Hold), Output: r.OutputPath, Error: r.ErrorPath,
		SubmittedAt: r.SubmittedAt, StartedAt: r.StartedAt, CompletedAt: r.CompletedAt, Signal: r.Signal,
		CPUSeconds: r.CPUSeconds, PeakMemoryKB: r.PeakMemoryKB,
	}
	if r.ExitCode != nil {
		c := int(*r.ExitCode)
		j.ExitCode = &c
	}
	if r.WorkerName != nil {
		j.WorkerName = *r.WorkerName
	}
	j.Array = r.array()
	return j
}

// acctWhere builds the conditions f selects, as $n placeholders. States
// nil keeps every state; empty keeps none (a Slurm state rcq has not).
func acctWhere(f rcq.AcctFilter) (string, []any) {
	var c conds
	c.owner(f.UserID)
	if f.States != nil {
		c.states(f.States)
	}
	c.ids(f.IDs)
	c.refs(f.Refs)
	if !f.To.IsZero() {
		c.add("j.submitted_at <= " + c.arg(f.To))
	}
	if !f.From.IsZero() {
		c.add("(j.completed_at IS NULL OR j.completed_at >= " + c.arg(f.From) + ")")
	}
	c.after(f.After, true)
	return c.clause(), c.args
}

// acctJobsSQL is the query AcctJobs runs for f (tests EXPLAIN it).
func acctJobsSQL(f rcq.AcctFilter) (string, []any) {
	where, args := acctWhere(f)
	q := acctSelect + where + " ORDER BY j.submitted_at DESC, j.id DESC"
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q += " LIMIT $" + strconv.Itoa(len(args))
	}
	return q, args
}

// AcctJobs returns a page of the jobs f selects, newest first (submit time,
// then id), without their scripts and environments.
func (s *Store) AcctJobs(ctx context.Context, f rcq.AcctFilter) ([]rcq.Job, error) {
	q, args := acctJobsSQL(f)
	rows, _ := s.pool.Query(ctx, q, args...)
	js, err := collectNamed(rows, (*acctRow).job)
	if err != nil {
		return nil, wrap("list jobs for accounting", err)
	}
	return elementsOf(js, f.Refs), nil
}

// EachAcctJob calls fn with every job AcctJobs would return for f, in the
// same order, as each row arrives: no page of jobs is gathered. The job is
// reused for the next row, so fn must copy what it keeps; an error from fn
// ends the read and is returned as it is.
func (s *Store) EachAcctJob(ctx context.Context, f rcq.AcctFilter, fn func(*rcq.Job) error) error {
	q, args := acctJobsSQL(f)
	rows, _ := s.pool.Query(ctx, q, args...)
	keep := elementFilter(f.Refs)
	var fnErr error
	var j rcq.Job
	err := eachNamed(rows, func(r *acctRow) error {
		j = r.job()
		if !keep(&j) {
			return nil
		}
		fnErr = fn(&j)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	return wrap("list jobs for accounting", err)
}

// acctSummarySelect totals f's jobs per group and state; the caller folds the
// states into one row per group. Hours run up to now for running jobs.
const acctSummarySelect = `SELECT j.group_id, g.name, j.status, count(*),
	coalesce(sum(j.cpu_cores * extract(epoch FROM coalesce(j.completed_at, now()) - j.started_at)) / 3600, 0)::float8,
	coalesce(sum(j.gpu_count * extract(epoch FROM coalesce(j.completed_at, now()) - j.started_at)) / 3600, 0)::float8,
	coalesce(sum(j.cpu_seconds) / 3600, 0)::float8
FROM jobs j JOIN groups g ON g.id = j.group_id`

// AcctSummary totals the jobs f selects per group (f.After and f.Limit are
// ignored), ordered by group id.
func (s *Store) AcctSummary(ctx context.Context, f rcq.AcctFilter) ([]rcq.GroupAcct, error) {
	f.After, f.Limit = rcq.JobPos{}, 0
	where, args := acctWhere(f)
	rows, err := s.pool.Query(ctx, acctSummarySelect+where+" GROUP BY j.group_id, g.name, j.status ORDER BY j.group_id", args...)
	if err != nil {
		return nil, wrap("summarize jobs", err)
	}
	defer rows.Close()
	var out []rcq.GroupAcct
	for rows.Next() {
		var (
			gid               int64
			name, status      string
			n                 int
			cpu, gpu, usedCPU float64
		)
		if err := rows.Scan(&gid, &name, &status, &n, &cpu, &gpu, &usedCPU); err != nil {
			return nil, wrap("summarize jobs", err)
		}
		if len(out) == 0 || out[len(out)-1].GroupID != rcq.GroupID(gid) {
			out = append(out, rcq.GroupAcct{GroupID: rcq.GroupID(gid), GroupName: name, ByState: map[rcq.JobState]int{}})
		}
		g := &out[len(out)-1]
		g.Jobs += n
		g.ByState[rcq.JobState(status)] += n
		g.CPUHours += cpu
		g.GPUHours += gpu
		g.UsedCPUHours += usedCPU
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("summarize jobs", err)
	}
	return out, nil
}

package store

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// The audit log (migration 00011). A change the API makes writes its row
// with auditTx inside the change's own transaction: when the row cannot be
// written the change is rolled back and the caller gets 503 audit_failed.
// The actor comes from the context (rcq.WithActor, set by the API for every
// authenticated request); rcqd's own work carries none and writes no row.

// errAuditFailed is what a change answers when its audit row could not be
// written; the cause stays in Err for the log.
func errAuditFailed(err error) error {
	return &rcq.Error{Kind: rcq.KindUnavailable, Code: "audit_failed",
		Msg: "the audit log could not be written, so nothing was changed; try again shortly", Err: err}
}

// auditTx writes e in tx, with the actor of ctx. Without an actor it writes
// nothing. Fill Action, TargetKind, TargetID, Before and After (jsonOf),
// Detail; Outcome defaults to ok.
func auditTx(ctx context.Context, tx pgx.Tx, e rcq.AuditEntry) error {
	a, ok := rcq.ActorOf(ctx)
	if !ok {
		return nil
	}
	return insertAudit(ctx, tx, a, e)
}

func insertAudit(ctx context.Context, tx pgx.Tx, a rcq.Actor, e rcq.AuditEntry) error {
	if e.Outcome == "" {
		e.Outcome = rcq.AuditOK
	}
	var actor *int64
	if a.ID != 0 {
		id := int64(a.ID)
		actor = &id
	}
	_, err := tx.Exec(ctx, `
		INSERT INTO audit_events (actor_id, actor_email, peer, action, target_kind, target_id, before, after, request_id, outcome, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		actor, a.Email, a.Peer, e.Action, e.TargetKind, e.TargetID, rawOrNil(e.Before), rawOrNil(e.After), a.RequestID, e.Outcome, e.Detail)
	if err != nil {
		return errAuditFailed(err)
	}
	return nil
}

// rawOrNil passes JSON to jsonb, or NULL for none.
func rawOrNil(m json.RawMessage) any {
	if len(m) == 0 {
		return nil
	}
	return string(m)
}

// jsonOf encodes v for Before and After.
func jsonOf(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil // every value given is plain data
	}
	return b
}

// WriteAudit writes e alone, in its own transaction, with the actor of ctx
// (a refused attempt at an admin route: there is no change to join).
func (s *Store) WriteAudit(ctx context.Context, e rcq.AuditEntry) error {
	a, ok := rcq.ActorOf(ctx)
	if !ok {
		a = rcq.Actor{}
	}
	return wrap("write audit row", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return insertAudit(ctx, tx, a, e)
	}))
}

type auditRow struct {
	ID         int64
	At         time.Time
	ActorID    *int64
	ActorEmail string
	Peer       string
	Action     string
	TargetKind string
	TargetID   string
	Before     []byte
	After      []byte
	RequestID  string
	Outcome    string
	Detail     string
}

// AuditEvents returns the rows f selects, newest first.
func (s *Store) AuditEvents(ctx context.Context, f rcq.AuditFilter) ([]rcq.AuditEntry, error) {
	var c conds
	if !f.Since.IsZero() {
		c.add("a.at >= " + c.arg(f.Since))
	}
	if !f.Until.IsZero() {
		c.add("a.at < " + c.arg(f.Until))
	}
	if f.ActorID != 0 {
		c.add("a.actor_id = " + c.arg(int64(f.ActorID)))
	}
	if f.ActorEmail != "" {
		c.add("lower(a.actor_email) = lower(" + c.arg(f.ActorEmail) + ")")
	}
	if f.TargetKind != "" {
		c.add("a.target_kind = " + c.arg(f.TargetKind))
	}
	if f.TargetID != "" {
		c.add("a.target_id = " + c.arg(f.TargetID))
	}
	if f.Action != "" {
		if f.Action[len(f.Action)-1] == '.' {
			c.add("starts_with(a.action, " + c.arg(f.Action) + ")")
		} else {
			c.add("a.action = " + c.arg(f.Action))
		}
	}
	if f.Before > 0 {
		c.add("a.id < " + c.arg(f.Before))
	}
	limit := int64(f.Limit)
	if limit <= 0 {
		limit = 1000
	}
	lim := c.arg(limit)
	where := c.clause()
	rows, _ := s.pool.Query(ctx, `
		SELECT a.id, a.at, a.actor_id, a.actor_email, a.peer, a.action, a.target_kind, a.target_id,
			a.before, a.after, a.request_id, a.outcome, a.detail
		FROM audit_events a`+where+`
		ORDER BY a.id DESC LIMIT `+lim, c.args...)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[auditRow])
	if err != nil {
		return nil, wrap("list audit events", err)
	}
	out := make([]rcq.AuditEntry, len(rs))
	for i, r := range rs {
		e := rcq.AuditEntry{ID: r.ID, At: r.At, ActorEmail: r.ActorEmail, Peer: r.Peer, Action: r.Action,
			TargetKind: r.TargetKind, TargetID: r.TargetID, Before: r.Before, After: r.After,
			RequestID: r.RequestID, Outcome: r.Outcome, Detail: r.Detail}
		if r.ActorID != nil {
			e.ActorID = rcq.UserID(*r.ActorID)
		}
		out[i] = e
	}
	return out, nil
}

// PruneAudit deletes the rows older than keep and returns how many. Every
// rcqd calls it now and then; a transaction-scoped advisory lock lets one
// prune at a time and the others skip.
func (s *Store) PruneAudit(ctx context.Context, keep time.Duration) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var got bool
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext('rcq.audit_prune'))`).Scan(&got); err != nil || !got {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM audit_events WHERE at < now() - make_interval(secs => $1)`, keep.Seconds())
		n = tag.RowsAffected()
		return err
	})
	return n, wrap("prune audit events", err)
}

// The values rows record, named as the API names them.

func groupAudit(g rcq.Group) json.RawMessage {
	return jsonOf(map[string]any{"id": g.ID, "name": g.Name, "cpu_quota": g.CPUQuota, "priority": g.Priority})
}

func userAudit(u *rcq.User) json.RawMessage {
	return jsonOf(map[string]any{"id": u.ID, "email": u.Email, "group_id": u.GroupID, "is_admin": u.IsAdmin, "unix_user": u.UnixUser})
}

func workerAudit(w rcq.Worker) json.RawMessage {
	return jsonOf(map[string]any{"id": w.ID, "name": w.Name, "node": w.Node, "cpu_cores": w.Capacity.CPUCores,
		"memory_gb": w.Capacity.MemoryGB, "gpu_count": w.Capacity.GPUs, "status": w.State})
}

// auditJob writes e for a change to a job of owner when the actor is someone
// else (an admin acting on another user's job); a user's own jobs are not
// audited.
func auditJob(ctx context.Context, tx pgx.Tx, owner rcq.UserID, e rcq.AuditEntry) error {
	a, ok := rcq.ActorOf(ctx)
	if !ok || a.ID == owner {
		return nil
	}
	e.TargetKind = rcq.AuditJob
	if e.Detail == "" {
		e.Detail = "owner " + strconv.FormatInt(int64(owner), 10)
	} else {
		e.Detail += "; owner " + strconv.FormatInt(int64(owner), 10)
	}
	return insertAudit(ctx, tx, a, e)
}

func jobIDText(id rcq.JobID) string { return strconv.FormatInt(int64(id), 10) }

// jobUpdateAudit is what an update may change of a pending job.
func jobUpdateAudit(j *rcq.Job) json.RawMessage {
	deps := make([]rcq.Dependency, len(j.Dependencies))
	copy(deps, j.Dependencies)
	return jsonOf(map[string]any{"name": j.Name, "estimated_hours": j.EstimatedHours, "priority": j.Priority, "dependencies": deps})
}

// auditBulkLimit bounds the job ids one bulk cancel's row lists (the count
// is always whole).
const auditBulkLimit = 1000

// auditBulkCancel writes one row for a bulk cancel that ended other users'
// jobs: the filter, how many, and their ids (the first auditBulkLimit).
func auditBulkCancel(ctx context.Context, tx pgx.Tx, f rcq.CancelFilter, others []rcq.JobID) error {
	slices.Sort(others)
	listed := others[:min(len(others), auditBulkLimit)]
	filter := map[string]any{}
	if f.UserID != 0 {
		filter["user_id"] = f.UserID
	}
	if len(f.IDs) > 0 {
		filter["ids"] = f.IDs
	}
	if len(f.States) > 0 {
		filter["states"] = f.States
	}
	if len(f.Names) > 0 {
		filter["names"] = f.Names
	}
	detail := strconv.Itoa(len(others)) + " jobs of other users cancelled"
	if len(listed) < len(others) {
		detail += "; the first " + strconv.Itoa(len(listed)) + " ids listed"
	}
	return auditTx(ctx, tx, rcq.AuditEntry{Action: "job.cancel_bulk", TargetKind: rcq.AuditJobs,
		Before: jsonOf(map[string]any{"filter": filter}),
		After:  jsonOf(map[string]any{"count": len(others), "cancelled": listed}),
		Detail: detail})
}

// auditWorkerDelete records the deletion of w in tx: DeleteWorker (rcq-admin
// worker delete) calls it in its transaction after the DELETE, with the
// worker as it was, so a delete whose row cannot be written is rolled back.
func auditWorkerDelete(ctx context.Context, tx pgx.Tx, w rcq.Worker, detail string) error {
	return auditTx(ctx, tx, rcq.AuditEntry{Action: "worker.delete", TargetKind: rcq.AuditWorker,
		TargetID: strconv.FormatInt(int64(w.ID), 10), Before: workerAudit(w), Detail: detail})
}

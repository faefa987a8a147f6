package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// NodeLease names the lease row of a node. Its holder is the one rcqd that
// may launch that node's jobs: it takes the lease at start (AcquireLease),
// renews it every ttl/3 and releases it when it stops. Every launch is
// claimed under it (ClaimJob).
func NodeLease(node string) string { return "node:" + node }

// LeaseHolder returns who holds the named lease and how long it lasts
// unrenewed (negative once expired), by the database's clock; holder is ""
// when nobody does.
func (s *Store) LeaseHolder(ctx context.Context, name string) (holder string, left time.Duration, err error) {
	var secs float64
	err = s.pool.QueryRow(ctx, `SELECT holder, extract(epoch FROM expires_at - now())::float8 FROM leases WHERE name = $1`, name).Scan(&holder, &secs)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0, nil
	}
	if err != nil {
		return "", 0, wrap("read lease", err)
	}
	return holder, time.Duration(secs * float64(time.Second)), nil
}

// ErrNodeLeaseLost is returned by ClaimJob when holder no longer holds the
// lease of the job's node: another rcqd with the same node name took it.
var ErrNodeLeaseLost = &rcq.Error{Kind: rcq.KindConflict, Code: "node_lease_lost", Msg: "this node's lease is held by another rcqd"}

// ClaimJob marks a started job of node as launched by holder, right before
// holder forks its supervisor. It succeeds only while holder holds the
// node's lease unexpired (the lease row is share-locked until the claim
// commits, so a takeover waits for it and a claim after a takeover fails) and
// the job is running on a worker of node and not launched by another holder.
// A holder may claim again a job it claimed before: a restarted rcqd (same
// node and state directory, which only one process can hold) relaunches a
// job whose supervisor never started.
//
// Errors: ErrNodeLeaseLost; a Conflict job_launched_elsewhere naming the
// other holder; a Conflict job_not_running when the job was cancelled,
// finished or is not on node (nothing of it must be launched).
func (s *Store) ClaimJob(ctx context.Context, id rcq.JobID, node, holder string) error {
	tag, err := s.pool.Exec(ctx, `
		WITH lease AS (
			SELECT 1 FROM leases WHERE name = $3 AND holder = $4 AND expires_at > now() FOR SHARE)
		UPDATE jobs j SET launched_by = $4 FROM lease
		WHERE j.id = $1 AND j.status = 'running' AND (j.launched_by IS NULL OR j.launched_by = $4)
			AND j.worker_id IN (SELECT id FROM workers WHERE node = $2)`,
		id, node, NodeLease(node), holder)
	if err != nil {
		return wrap(fmt.Sprintf("claim job %d", id), err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	// Why not, read after the fact: the job's state can only move on
	// (launched, ended), so a job still claimable now means the lease was
	// not ours when the claim ran, even if it is again.
	var status string
	var by *string
	var here bool
	err = s.pool.QueryRow(ctx, `
		SELECT j.status, j.launched_by, coalesce(w.node = $2, false)
		FROM jobs j LEFT JOIN workers w ON w.id = j.worker_id WHERE j.id = $1`, id, node).Scan(&status, &by, &here)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return rcq.Errorf(rcq.KindConflict, "job_not_running", "job %d no longer exists", id)
	case err != nil:
		return wrap(fmt.Sprintf("claim job %d", id), err)
	case by != nil && *by != holder:
		return rcq.Errorf(rcq.KindConflict, "job_launched_elsewhere", "job %d was launched by %s", id, *by)
	case !here:
		return rcq.Errorf(rcq.KindConflict, "job_not_running", "job %d was not started on node %s", id, node)
	case status != string(rcq.JobRunning):
		return rcq.Errorf(rcq.KindConflict, "job_not_running", "job %d is %s: nothing to launch", id, status)
	}
	return ErrNodeLeaseLost
}

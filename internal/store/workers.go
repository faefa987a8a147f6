package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

type workerRow struct {
	ID            int64     `db:"id"`
	Name          string    `db:"name"`
	Node          string    `db:"node"`
	CPUCores      int32     `db:"cpu_cores"`
	MemoryGB      int32     `db:"memory_gb"`
	GPUCount      int32     `db:"gpu_count"`
	Status        string    `db:"status"`
	LastHeartbeat time.Time `db:"last_heartbeat"`
}

func (r workerRow) worker() rcq.Worker {
	return rcq.Worker{ID: rcq.WorkerID(r.ID), Name: r.Name, Node: r.Node,
		Capacity: rcq.Resources{CPUCores: int(r.CPUCores), MemoryGB: int(r.MemoryGB), GPUs: int(r.GPUCount)},
		State:    rcq.WorkerState(r.Status), LastHeartbeat: r.LastHeartbeat}
}

const workerCols = `id, name, node, cpu_cores, memory_gb, gpu_count, status, last_heartbeat`

// Workers lists every worker by id (deleted ones are gone from every list).
func (s *Store) Workers(ctx context.Context) ([]rcq.Worker, error) {
	return s.workers(ctx, s.pool)
}

func (s *Store) workers(ctx context.Context, q querier) ([]rcq.Worker, error) {
	rows, _ := q.Query(ctx, `SELECT `+workerCols+` FROM workers WHERE deleted_at IS NULL ORDER BY id`)
	rs, err := pgx.CollectRows(rows, pgx.RowToStructByName[workerRow])
	if err != nil {
		return nil, wrap("list workers", err)
	}
	ws := make([]rcq.Worker, len(rs))
	for i, r := range rs {
		ws[i] = r.worker()
	}
	return ws, nil
}

// WorkerByID returns one worker.
func (s *Store) WorkerByID(ctx context.Context, id rcq.WorkerID) (*rcq.Worker, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+workerCols+` FROM workers WHERE id = $1 AND deleted_at IS NULL`, id)
	r, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[workerRow])
	if err != nil {
		return nil, notFound(wrap("worker", err), "worker_not_found", "worker %d does not exist", id)
	}
	w := r.worker()
	return &w, nil
}

// RegisterWorker creates a worker or, when one of that name exists, updates
// its node and size and marks it (and its node) seen. A drained worker
// stays drained; an offline one comes back online. rcqd registers its own
// worker this way.
func (s *Store) RegisterWorker(ctx context.Context, w rcq.Worker) (rcq.WorkerID, error) {
	out, err := s.writeWorker(ctx, "", 0, `
		INSERT INTO workers (name, node, cpu_cores, memory_gb, gpu_count)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (name) WHERE deleted_at IS NULL DO UPDATE SET
			node = excluded.node, cpu_cores = excluded.cpu_cores, memory_gb = excluded.memory_gb,
			gpu_count = excluded.gpu_count, last_heartbeat = now(),
			status = CASE WHEN workers.status = 'offline' THEN 'online' ELSE workers.status END`,
		w.Name, w.Node, w.Capacity.CPUCores, w.Capacity.MemoryGB, w.Capacity.GPUs)
	if err != nil {
		return 0, wrap(fmt.Sprintf("register worker %q", w.Name), err)
	}
	if _, err := s.pool.Exec(ctx, seenSQL, w.Node); err != nil {
		return 0, wrap(fmt.Sprintf("register worker %q", w.Name), err)
	}
	return out.ID, nil
}

// CreateWorker adds a worker; a taken name is a Conflict.
func (s *Store) CreateWorker(ctx context.Context, w rcq.Worker) (*rcq.Worker, error) {
	out, err := s.writeWorker(ctx, "worker.create", 0, `
		INSERT INTO workers (name, node, cpu_cores, memory_gb, gpu_count, status)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		w.Name, w.Node, w.Capacity.CPUCores, w.Capacity.MemoryGB, w.Capacity.GPUs, w.State)
	if err != nil {
		return nil, conflict(wrap("create worker", err), "worker_exists", "a worker named %q already exists", w.Name)
	}
	return out, nil
}

// UpdateWorker applies u. Shrinking a worker below what its running jobs use
// is allowed (they keep running); the scheduler starts nothing more there
// until they end.
func (s *Store) UpdateWorker(ctx context.Context, id rcq.WorkerID, u rcq.WorkerPatch) (*rcq.Worker, error) {
	action := "worker.update"
	if u.CPUCores == nil && u.MemoryGB == nil && u.GPUs == nil && u.State != nil {
		switch *u.State {
		case rcq.WorkerDrained:
			action = "worker.drain"
		case rcq.WorkerOnline:
			action = "worker.resume"
		}
	}
	out, err := s.writeWorker(ctx, action, id, `
		UPDATE workers SET
			cpu_cores = coalesce($2, cpu_cores), memory_gb = coalesce($3, memory_gb),
			gpu_count = coalesce($4, gpu_count), status = coalesce($5, status)
		WHERE id = $1 AND deleted_at IS NULL`, id, u.CPUCores, u.MemoryGB, u.GPUs, u.State)
	if err != nil {
		return nil, notFound(wrap("update worker", err), "worker_not_found", "worker %d does not exist", id)
	}
	return out, nil
}

// writeWorker runs one statement that changes one worker and returns the
// worker as it now is. Every rcqd hears of the change (NOTIFY: schedulers
// replan, executors re-read) and LargestFit's cache is cleared. An action
// writes its audit row in the same transaction, with the worker as it was
// (id, locked first) and as it is; "" writes none (rcqd's own registration).
func (s *Store) writeWorker(ctx context.Context, action string, id rcq.WorkerID, sql string, args ...any) (*rcq.Worker, error) {
	var r workerRow
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var before json.RawMessage
		if action != "" && id != 0 {
			rows, _ := tx.Query(ctx, `SELECT `+workerCols+` FROM workers WHERE id = $1 AND deleted_at IS NULL FOR UPDATE`, id)
			old, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[workerRow])
			if err != nil {
				return err
			}
			before = workerAudit(old.worker())
		}
		rows, _ := tx.Query(ctx, sql+` RETURNING `+workerCols, args...)
		var err error
		if r, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[workerRow]); err != nil {
			return err
		}
		if action != "" {
			if err := auditTx(ctx, tx, rcq.AuditEntry{Action: action, TargetKind: rcq.AuditWorker,
				TargetID: strconv.FormatInt(r.ID, 10), Before: before, After: workerAudit(r.worker())}); err != nil {
				return err
			}
		}
		return notify(ctx, tx, rcq.Event{Kind: rcq.EventWorkerChanged})
	})
	s.forgetWorkers()
	if err != nil {
		return nil, err
	}
	w := r.worker()
	return &w, nil
}

// Heartbeat marks node and every worker of it as seen now.
func (s *Store) Heartbeat(ctx context.Context, node string) error {
	b := &pgx.Batch{}
	b.Queue(`
		UPDATE workers SET last_heartbeat = now(),
			status = CASE WHEN status = 'offline' THEN 'online' ELSE status END
		WHERE node = $1 AND deleted_at IS NULL`, node)
	b.Queue(seenSQL, node)
	return wrap("heartbeat", s.pool.SendBatch(ctx, b).Close())
}

// MarkStaleWorkersOffline sets workers not heard from for longer than after
// to offline, so the scheduler stops placing jobs on a dead node. It returns
// how many changed.
func (s *Store) MarkStaleWorkersOffline(ctx context.Context, after time.Duration) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE workers SET status = 'offline'
		WHERE status = 'online' AND deleted_at IS NULL AND last_heartbeat < now() - make_interval(secs => $1)`, after.Seconds())
	s.forgetWorkers()
	if err != nil {
		return 0, wrap("mark stale workers", err)
	}
	return int(tag.RowsAffected()), nil
}

// LargestFit reports whether some worker (online or drained) could ever hold
// r, and otherwise returns the largest worker for the error message.
func (s *Store) LargestFit(ctx context.Context, r rcq.Resources) (fits bool, largest *rcq.Worker, err error) {
	ws, err := s.workersForFit(ctx)
	if err != nil {
		return false, nil, err
	}
	fits, largest = rcq.LargestFit(ws, r)
	return fits, largest, nil
}

// fitWorkersTTL bounds how stale LargestFit's view of workers another rcqd
// changed may be.
const fitWorkersTTL = time.Second

func (s *Store) workersForFit(ctx context.Context) ([]rcq.Worker, error) {
	s.fitMu.Lock()
	ws, at := s.fitWorkers, s.fitAt
	s.fitMu.Unlock()
	if ws != nil && time.Since(at) < fitWorkersTTL {
		return ws, nil
	}
	ws, err := s.Workers(ctx)
	if err != nil {
		return nil, err
	}
	s.fitMu.Lock()
	s.fitWorkers, s.fitAt = ws, time.Now()
	s.fitMu.Unlock()
	return ws, nil
}

// forgetWorkers clears LargestFit's cache after a change to workers.
func (s *Store) forgetWorkers() {
	s.fitMu.Lock()
	s.fitWorkers = nil
	s.fitMu.Unlock()
}

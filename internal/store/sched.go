package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Snapshot reads one consistent view for a scheduling cycle (REPEATABLE READ):
// pending jobs, jobs holding resources, workers, groups with their usage over
// window (each hour of usage decayed by its age when halfLife > 0), and the
// state of every job a pending job depends on. Now is the database's clock.
func (s *Store) Snapshot(ctx context.Context, window, halfLife time.Duration) (*rcq.Snapshot, error) {
	snap := &rcq.Snapshot{DepStates: map[rcq.JobID]rcq.JobState{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&snap.Now); err != nil {
			return err
		}
		if err := s.snapshotPending(ctx, tx, snap); err != nil {
			return err
		}
		if err := s.snapshotRunning(ctx, tx, snap); err != nil {
			return err
		}
		var err error
		if snap.Workers, err = placeableWorkers(ctx, tx); err != nil {
			return err
		}
		return s.snapshotGroups(ctx, tx, snap, window, halfLife)
	})
	if err != nil {
		return nil, wrap("scheduler snapshot", err)
	}
	return snap, nil
}

func (s *Store) snapshotPending(ctx context.Context, tx pgx.Tx, snap *rcq.Snapshot) error {
	// Dependencies first: most queues have none, and then the pending jobs
	// need no index by id.
	type dep struct {
		job, on int64
		typ     rcq.DependencyType
		task    *int
	}
	var deps []dep
	rows, err := tx.Query(ctx, `
		SELECT d.job_id, d.type, d.depends_on, d.array_task_id, o.status, coalesce(o.array_job_id = o.id, false)
		FROM job_dependencies d
		JOIN jobs p ON p.id = d.job_id AND p.status = 'pending'
		JOIN jobs o ON o.id = d.depends_on`)
	if err != nil {
		return err
	}
	var d dep
	var typ, st string
	var task *int32
	var isArray bool
	arrays := map[int64]bool{}      // arrays depended on as a whole
	var taskArrays, taskIdx []int64 // elements depended on by index
	if _, err = pgx.ForEachRow(rows, []any{&d.job, &typ, &d.on, &task, &st, &isArray}, func() error {
		d.typ, d.task = rcq.DependencyType(typ), nil
		if task != nil {
			t := int(*task)
			d.task = &t
		}
		deps = append(deps, d)
		switch {
		case !isArray:
			snap.DepStates[rcq.JobID(d.on)] = rcq.JobState(st)
		case d.task != nil:
			taskArrays, taskIdx = append(taskArrays, d.on), append(taskIdx, int64(*d.task))
		case d.typ != rcq.AfterCorr:
			arrays[d.on] = true
		}
		return nil
	}); err != nil {
		return err
	}
	if err := arrayDepStates(ctx, tx, snap, arrays, taskArrays, taskIdx); err != nil {
		return err
	}

	// Rows of job arrays carry the array's id and throttle, and the
	// array's own row the next of its pending indices.
	rows, err = tx.Query(ctx, `
		SELECT j.id, j.user_id, j.group_id, j.cpu_cores, j.memory_gb, j.gpu_count, j.estimated_hours, j.priority,
			CASE j.hold WHEN '' THEN 0 WHEN 'user' THEN 1 ELSE 2 END, j.submitted_at,
			coalesce(j.array_job_id, 0), coalesce(a.throttle, 0), CASE WHEN j.array_task_id IS NULL THEN a.pending END
		FROM jobs j LEFT JOIN job_arrays a ON a.job_id = j.array_job_id AND j.array_job_id IS NOT NULL
		WHERE j.status = 'pending'`)
	if err != nil {
		return err
	}
	snap.Pending = make([]rcq.PendingJob, 0, s.pendingHint.Load())
	var id, user, group, arrayID int64
	var cpu, mem, gpu, prio, hold, throttle int32
	var hours float64
	var submitted time.Time
	var pendingTasks *string
	holds := [...]rcq.Hold{rcq.HoldNone, rcq.HoldUser, rcq.HoldAdmin}
	if _, err = pgx.ForEachRow(rows, []any{&id, &user, &group, &cpu, &mem, &gpu, &hours, &prio, &hold, &submitted,
		&arrayID, &throttle, &pendingTasks}, func() error {
		pj := rcq.PendingJob{
			ID: rcq.JobID(id), UserID: rcq.UserID(user), GroupID: rcq.GroupID(group),
			Resources:      rcq.Resources{CPUCores: int(cpu), MemoryGB: int(mem), GPUs: int(gpu)},
			EstimatedHours: hours, Priority: int(prio), Hold: holds[hold], SubmittedAt: submitted,
			ArrayJobID: rcq.JobID(arrayID), ArrayThrottle: int(throttle),
		}
		if pendingTasks != nil {
			set, err := rcq.ReadIndexSet(*pendingTasks)
			if err != nil {
				return fmt.Errorf("array %d: stored pending indices: %w", id, err)
			}
			pj.ArrayTasks = set.First(arrayStartsPerCycle)
			pj.ArrayMore = set.Len() > len(pj.ArrayTasks)
		}
		snap.Pending = append(snap.Pending, pj)
		return nil
	}); err != nil {
		return err
	}
	s.pendingHint.Store(int64(len(snap.Pending)) + int64(len(snap.Pending))/8)
	if len(deps) == 0 {
		return nil
	}
	index := make(map[rcq.JobID]int, len(snap.Pending))
	for i := range snap.Pending {
		index[snap.Pending[i].ID] = i
	}
	var corr []int // pending array rows with an aftercorr of their own
	for _, d := range deps {
		if i, ok := index[rcq.JobID(d.job)]; ok {
			snap.Pending[i].Dependencies = append(snap.Pending[i].Dependencies, rcq.Dependency{Type: d.typ, JobID: rcq.JobID(d.on), ArrayTaskID: d.task})
			if d.typ == rcq.AfterCorr && d.task == nil && len(snap.Pending[i].ArrayTasks) > 0 {
				corr = append(corr, i)
			}
		}
	}
	return corrTasks(ctx, tx, snap, slices.Compact(corr))
}

// arrayDepStates fills the snapshot's states of the arrays depended on as a
// whole (each array's one state, see below) and of the elements depended on
// by index (taskArrays[i]_taskIdx[i]).
//
// A whole array is running or pending while any element is (the elements
// not yet split off are pending with the array's row); once every element
// has ended, completed if every one completed, else the state of one that
// did not: so afterok waits for every element and is met when all
// completed, afternotok is met when all ended and one did not complete, and
// afterany when all ended (rcq.Dependency.Satisfied).
func arrayDepStates(ctx context.Context, tx pgx.Tx, snap *rcq.Snapshot, arrays map[int64]bool, taskArrays, taskIdx []int64) error {
	if len(arrays) > 0 {
		ids := make([]int64, 0, len(arrays))
		for id := range arrays {
			ids = append(ids, id)
		}
		rows, _ := tx.Query(ctx, `
			SELECT array_job_id, CASE
				WHEN bool_or(status = 'running') THEN 'running'
				WHEN bool_or(status = 'pending') THEN 'pending'
				WHEN bool_and(status = 'completed') THEN 'completed'
				ELSE min(status) FILTER (WHERE status <> 'completed') END
			FROM jobs WHERE array_job_id = ANY($1) GROUP BY array_job_id`, ids)
		var id int64
		var st string
		if _, err := pgx.ForEachRow(rows, []any{&id, &st}, func() error {
			snap.DepStates[rcq.JobID(id)] = rcq.JobState(st)
			return nil
		}); err != nil {
			return err
		}
	}
	if len(taskArrays) == 0 {
		return nil
	}
	states, err := elementStates(ctx, tx, taskArrays, taskIdx)
	if err != nil {
		return err
	}
	snap.TaskStates = states
	return nil
}

// elementStates returns the states of the elements arrays[i]_tasks[i] that
// exist: an element's own row, or the array's row while the element is
// still one of its pending indices (pending, or cancelled with the row).
func elementStates(ctx context.Context, tx pgx.Tx, arrays, tasks []int64) (map[rcq.ArrayTask]rcq.JobState, error) {
	out := make(map[rcq.ArrayTask]rcq.JobState, len(arrays))
	rows, _ := tx.Query(ctx, `
		SELECT n.a, n.t, j.status FROM unnest($1::bigint[], $2::bigint[]) AS n(a, t)
		JOIN jobs j ON j.array_job_id = n.a AND j.array_task_id = n.t`, arrays, tasks)
	var a, t int64
	var st string
	if _, err := pgx.ForEachRow(rows, []any{&a, &t, &st}, func() error {
		out[rcq.ArrayTask{Array: rcq.JobID(a), Task: int(t)}] = rcq.JobState(st)
		return nil
	}); err != nil {
		return nil, err
	}
	var missing []int64
	for i := range arrays {
		if _, ok := out[rcq.ArrayTask{Array: rcq.JobID(arrays[i]), Task: int(tasks[i])}]; !ok {
			missing = append(missing, arrays[i])
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	rows, _ = tx.Query(ctx, `
		SELECT a.job_id, a.pending, j.status FROM job_arrays a JOIN jobs j ON j.id = a.job_id
		WHERE a.job_id = ANY($1) AND j.array_task_id IS NULL`, missing)
	pending := map[int64]rcq.IndexSet{}
	status := map[int64]rcq.JobState{}
	var text string
	if _, err := pgx.ForEachRow(rows, []any{&a, &text, &st}, func() error {
		set, err := rcq.ReadIndexSet(text)
		if err != nil {
			return fmt.Errorf("array %d: stored pending indices: %w", a, err)
		}
		pending[a], status[a] = set, rcq.JobState(st)
		return nil
	}); err != nil {
		return nil, err
	}
	for i := range arrays {
		k := rcq.ArrayTask{Array: rcq.JobID(arrays[i]), Task: int(tasks[i])}
		if _, ok := out[k]; !ok && pending[arrays[i]].Contains(k.Task) {
			out[k] = status[arrays[i]]
		}
	}
	return out, nil
}

// corrTasks narrows the indices offered to start of the array rows at idx
// (rows with aftercorr:ID of their own) to those whose element i of each ID
// completed or does not exist (aftercorr, as Slurm).
func corrTasks(ctx context.Context, tx pgx.Tx, snap *rcq.Snapshot, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	var arrays, tasks []int64
	for _, i := range idx {
		j := &snap.Pending[i]
		for _, d := range j.Dependencies {
			if d.Type == rcq.AfterCorr && d.ArrayTaskID == nil {
				for _, t := range j.ArrayTasks {
					arrays, tasks = append(arrays, int64(d.JobID)), append(tasks, int64(t))
				}
			}
		}
	}
	states, err := elementStates(ctx, tx, arrays, tasks)
	if err != nil {
		return err
	}
	for _, i := range idx {
		j := &snap.Pending[i]
		offered := len(j.ArrayTasks)
		j.ArrayTasks = slices.DeleteFunc(j.ArrayTasks, func(t int) bool {
			for _, d := range j.Dependencies {
				if d.Type != rcq.AfterCorr || d.ArrayTaskID != nil {
					continue
				}
				if st, ok := states[rcq.ArrayTask{Array: d.JobID, Task: t}]; ok && st != rcq.JobCompleted {
					if st.Terminal() {
						j.ArrayNever = append(j.ArrayNever, t)
					}
					return true
				}
			}
			return false
		})
		if len(j.ArrayTasks) < offered {
			j.ArrayMore = true // the rest wait on their corresponding elements
		}
	}
	return nil
}

// arrayStartsPerCycle bounds how many elements of one array a snapshot
// offers the scheduler to start in one cycle.
const arrayStartsPerCycle = 4096

func (s *Store) snapshotRunning(ctx context.Context, tx pgx.Tx, snap *rcq.Snapshot) error {
	rows, err := tx.Query(ctx, `
		SELECT id, group_id, worker_id, cpu_cores, memory_gb, gpu_count, gpu_indices, started_at, estimated_hours,
			coalesce(array_job_id, 0)
		FROM jobs WHERE started_at IS NOT NULL AND completed_at IS NULL ORDER BY id`)
	if err != nil {
		return err
	}
	var r rcq.RunningJob
	var cpu, mem, gpu int32
	var gpus []int32
	_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.GroupID, &r.WorkerID, &cpu, &mem, &gpu, &gpus, &r.StartedAt, &r.EstimatedHours, &r.ArrayJobID}, func() error {
		r.Resources = rcq.Resources{CPUCores: int(cpu), MemoryGB: int(mem), GPUs: int(gpu)}
		r.GPUIndices = make([]int, len(gpus))
		for i, g := range gpus {
			r.GPUIndices[i] = int(g)
		}
		snap.Running = append(snap.Running, r)
		return nil
	})
	return err
}

// Fair-share usage, in one place for the scheduler's snapshot and
// GroupUsages: the CPU-hours of usage_logs rows u logged inside the window
// ($1 seconds), each decayed by its age with half-life $2 seconds when > 0.
const (
	inWindow     = `u.logged_at > now() - make_interval(secs => $1)`
	decayedUsage = `coalesce(sum(u.cpu_hours * CASE WHEN $2 > 0
		THEN power(0.5, extract(epoch FROM now() - u.logged_at) / $2) ELSE 1 END), 0)`
)

func (s *Store) snapshotGroups(ctx context.Context, tx pgx.Tx, snap *rcq.Snapshot, window, halfLife time.Duration) error {
	rows, err := tx.Query(ctx, `
		SELECT g.id, g.name, g.cpu_quota, g.priority, `+decayedUsage+`
		FROM groups g
		LEFT JOIN usage_logs u ON u.group_id = g.id AND `+inWindow+`
		GROUP BY g.id ORDER BY g.id`, window.Seconds(), halfLife.Seconds())
	if err != nil {
		return err
	}
	var g rcq.GroupShare
	var prio int32
	_, err = pgx.ForEachRow(rows, []any{&g.ID, &g.Name, &g.CPUQuota, &prio, &g.UsageCPUHours}, func() error {
		g.Priority = int(prio)
		snap.Groups = append(snap.Groups, g)
		return nil
	})
	return err
}

// AcquireLease takes the named lease for holder, or renews it, for ttl timed
// by the database's clock. held is false while another holder's lease has not
// expired.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var got string
	err := s.pool.QueryRow(ctx, `
		INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at, renewed_at = now()
		WHERE leases.holder = excluded.holder OR leases.expires_at < now()
		RETURNING holder`, name, holder, ttl.Seconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, wrap("acquire lease", err)
	}
	return got == holder, nil
}

// ReleaseLease gives the lease up so another holder can take it at once.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM leases WHERE name = $1 AND holder = $2`, name, holder)
	return wrap("release lease", err)
}

// ErrLeaseLost is returned when a fenced write finds its lease gone.
var ErrLeaseLost = &rcq.Error{Kind: rcq.KindConflict, Code: "lease_lost", Msg: "the scheduler lease is held by another rcqd"}

// checkLease fences a transaction: it locks the lease row and fails unless
// holder still holds it unexpired, so a paused former holder writes nothing.
//
// The lock keeps anyone from taking the lease while the transaction runs,
// so a holder paused inside one (SIGSTOP, a frozen machine) would keep
// every other rcqd from taking over until PostgreSQL ended its session for
// idling (the pool's limit, 60 s). The transaction may idle only as long as
// the lease has left (at least a second): then its session ends, the lock
// goes with it, and another rcqd takes over as soon as the lease has run out.
func checkLease(ctx context.Context, tx pgx.Tx, name, holder string) error {
	var ok bool
	err := tx.QueryRow(ctx, `
		SELECT holder = $2 AND expires_at > now(),
			set_config('idle_in_transaction_session_timeout',
				greatest(1000, ceil(extract(epoch FROM expires_at - now()) * 1000))::bigint::text, true) IS NOT NULL
		FROM leases WHERE name = $1 FOR UPDATE`, name, holder).Scan(&ok, new(bool))
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !ok {
		return ErrLeaseLost
	}
	return err
}

// StartJobs commits a cycle's starts in one transaction fenced by the lease.
// Each start is a conditional update (the job is still pending and not held);
// the workers involved are locked and their free capacity and GPU indices
// re-checked, so a start that no longer fits is skipped, never over-committed.
// It returns the starts that took effect and notifies the executors.
func (s *Store) StartJobs(ctx context.Context, lease, holder string, starts []rcq.Start) ([]rcq.Start, error) {
	if len(starts) == 0 {
		return nil, nil
	}
	var done []rcq.Start
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		done = done[:0]
		if err := checkLease(ctx, tx, lease, holder); err != nil {
			return err
		}
		starts, err := splitStarts(ctx, tx, starts)
		if err != nil {
			return err
		}
		free, gpusInUse, err := lockWorkers(ctx, tx, starts)
		if err != nil {
			return err
		}
		// Resources of the jobs still pending, read under the row locks of the update below.
		ids := make([]int64, len(starts))
		for i, st := range starts {
			ids[i] = int64(st.JobID)
		}
		rows, _ := tx.Query(ctx, `
			SELECT id, cpu_cores, memory_gb, gpu_count FROM jobs
			WHERE id = ANY($1) AND status = 'pending' AND hold = '' FOR UPDATE`, ids)
		need := map[rcq.JobID]rcq.Resources{}
		var id rcq.JobID
		var cpu, mem, gpu int32
		if _, err := pgx.ForEachRow(rows, []any{&id, &cpu, &mem, &gpu}, func() error {
			need[id] = rcq.Resources{CPUCores: int(cpu), MemoryGB: int(mem), GPUs: int(gpu)}
			return nil
		}); err != nil {
			return err
		}
		var jobIDs, workerIDs []int64
		var gpuLists []string
		nodes := map[string]bool{}
		started := map[rcq.JobID]bool{}
		for _, st := range starts {
			r, ok := need[st.JobID]
			w, known := free[st.WorkerID]
			if !ok || !known || started[st.JobID] || !r.Fits(w.free) || len(st.GPUIndices) != r.GPUs || !gpusFree(st.GPUIndices, gpusInUse[st.WorkerID], w.gpus) {
				continue
			}
			w.free = w.free.Sub(r)
			free[st.WorkerID] = w
			gpusInUse[st.WorkerID] = append(gpusInUse[st.WorkerID], st.GPUIndices...)
			jobIDs = append(jobIDs, int64(st.JobID))
			workerIDs = append(workerIDs, int64(st.WorkerID))
			gpuLists = append(gpuLists, intArray(st.GPUIndices))
			started[st.JobID] = true
			nodes[w.node] = true
			done = append(done, st)
		}
		if len(done) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `
			UPDATE jobs j SET status = 'running', reason = '', worker_id = s.worker_id,
				gpu_indices = s.gpus::integer[], started_at = now()
			FROM unnest($1::bigint[], $2::bigint[], $3::text[]) AS s(job_id, worker_id, gpus)
			WHERE j.id = s.job_id AND j.status = 'pending' AND j.hold = ''`, jobIDs, workerIDs, gpuLists); err != nil {
			return err
		}
		for node := range nodes {
			if err := notify(ctx, tx, rcq.Event{Kind: rcq.EventJobsStarted, Node: node}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap("start jobs", err)
	}
	return done, nil
}

// splitStarts splits off the array elements starts name (ArrayTask set), in
// one statement per array, and returns the starts with the elements' own job
// ids; an element no longer pending in its array's row is left out.
func splitStarts(ctx context.Context, tx pgx.Tx, starts []rcq.Start) ([]rcq.Start, error) {
	tasks := map[rcq.JobID][]int{}
	var arrays []rcq.JobID
	for _, st := range starts {
		if st.ArrayTask == nil {
			continue
		}
		if _, ok := tasks[st.JobID]; !ok {
			arrays = append(arrays, st.JobID)
		}
		tasks[st.JobID] = append(tasks[st.JobID], *st.ArrayTask)
	}
	if len(arrays) == 0 {
		return starts, nil
	}
	slices.Sort(arrays) // lock the arrays' rows in one order
	rows := map[rcq.JobID]map[int]rcq.JobID{}
	for _, a := range arrays {
		idx := tasks[a]
		slices.Sort(idx)
		got, err := splitElements(ctx, tx, a, slices.Compact(idx))
		if err != nil {
			return nil, err
		}
		rows[a] = got
	}
	out := make([]rcq.Start, 0, len(starts))
	for _, st := range starts {
		if st.ArrayTask != nil {
			id, ok := rows[st.JobID][*st.ArrayTask]
			if !ok {
				continue
			}
			st.JobID = id
		}
		out = append(out, st)
	}
	return out, nil
}

type workerFree struct {
	node string
	free rcq.Resources
	gpus int // the worker's GPU count: valid indices are 0..gpus-1
}

// lockWorkers locks the workers the starts name (in id order, so two
// transactions never deadlock) and returns what each has free. Only online
// workers whose node holds a live lease are returned: nothing starts on a
// drained or offline one, or on one no rcqd would launch.
func lockWorkers(ctx context.Context, tx pgx.Tx, starts []rcq.Start) (map[rcq.WorkerID]workerFree, map[rcq.WorkerID][]int, error) {
	var wids []int64
	for _, st := range starts {
		wids = append(wids, int64(st.WorkerID))
	}
	slices.Sort(wids)
	wids = slices.Compact(wids)
	rows, _ := tx.Query(ctx, `
		SELECT id, node, cpu_cores, memory_gb, gpu_count FROM workers w
		WHERE id = ANY($1) AND status = 'online' AND deleted_at IS NULL AND `+nodeLive+`
		ORDER BY id FOR UPDATE OF w`, wids)
	free := map[rcq.WorkerID]workerFree{}
	var id rcq.WorkerID
	var node string
	var cpu, mem, gpu int32
	if _, err := pgx.ForEachRow(rows, []any{&id, &node, &cpu, &mem, &gpu}, func() error {
		free[id] = workerFree{node: node, free: rcq.Resources{CPUCores: int(cpu), MemoryGB: int(mem), GPUs: int(gpu)}, gpus: int(gpu)}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	rows, _ = tx.Query(ctx, `
		SELECT worker_id, cpu_cores, memory_gb, gpu_count, gpu_indices FROM jobs
		WHERE worker_id = ANY($1) AND started_at IS NOT NULL AND completed_at IS NULL`, wids)
	inUse := map[rcq.WorkerID][]int{}
	var gpus []int32
	if _, err := pgx.ForEachRow(rows, []any{&id, &cpu, &mem, &gpu, &gpus}, func() error {
		if w, ok := free[id]; ok {
			w.free = w.free.Sub(rcq.Resources{CPUCores: int(cpu), MemoryGB: int(mem), GPUs: int(gpu)})
			free[id] = w
		}
		for _, g := range gpus {
			inUse[id] = append(inUse[id], int(g))
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	return free, inUse, nil
}

func gpusFree(want, inUse []int, count int) bool {
	for i, g := range want {
		if g < 0 || g >= count || slices.Contains(inUse, g) || slices.Contains(want[:i], g) {
			return false
		}
	}
	return true
}

func intArray(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// CancelJobs ends pending jobs whose dependencies can never be satisfied, as
// cancelled with reason DependencyNeverSatisfied, fenced by the lease.
func (s *Store) CancelJobs(ctx context.Context, lease, holder string, cancels []rcq.DependencyCancel) error {
	if len(cancels) == 0 {
		return nil
	}
	var ids []int64
	var details []string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		ids, details = ids[:0], details[:0]
		if err := checkLease(ctx, tx, lease, holder); err != nil {
			return err
		}
		// Elements still pending in their array's row are split off to be
		// cancelled one by one (aftercorr on an element that failed).
		tasks := map[rcq.JobID][]int{}
		for _, c := range cancels {
			if c.ArrayTask != nil {
				tasks[c.JobID] = append(tasks[c.JobID], *c.ArrayTask)
			}
		}
		rows := map[rcq.JobID]map[int]rcq.JobID{}
		for _, a := range slices.Sorted(maps.Keys(tasks)) {
			idx := tasks[a]
			slices.Sort(idx)
			got, err := splitElements(ctx, tx, a, slices.Compact(idx))
			if err != nil {
				return err
			}
			rows[a] = got
		}
		for _, c := range cancels {
			id := c.JobID
			if c.ArrayTask != nil {
				var ok bool
				if id, ok = rows[c.JobID][*c.ArrayTask]; !ok {
					continue
				}
			}
			ids, details = append(ids, int64(id)), append(details, c.Detail)
		}
		tag, err := tx.Exec(ctx, `
			UPDATE jobs j SET status = 'cancelled', reason = $2, reason_detail = c.detail, hold = '', completed_at = now()
			FROM unnest($1::bigint[], $3::text[]) AS c(id, detail)
			WHERE j.id = c.id AND j.status = 'pending'`, ids, rcq.ReasonDependencyNeverSatisfied, details)
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			// Jobs depending on these may now be unsatisfiable too.
			return notify(ctx, tx, rcq.Event{Kind: rcq.EventJobEnded})
		}
		return nil
	})
	return wrap(fmt.Sprintf("cancel %d jobs with unsatisfiable dependencies", len(ids)), err)
}

// HasRoom reports whether any job could start now: some online worker (of a
// node with a live lease) has a
// free CPU core (every job needs one) and fewer than maxRunning jobs hold
// resources (0: no cap). The scheduler asks before an event-driven cycle, so
// a full cluster does not re-read every pending job on every submit.
func (s *Store) HasRoom(ctx context.Context, maxRunning int) (bool, error) {
	var room bool
	err := s.pool.QueryRow(ctx, `
		SELECT EXISTS (
			SELECT 1 FROM workers w
			WHERE w.status = 'online' AND w.deleted_at IS NULL AND `+nodeLive+` AND w.cpu_cores > coalesce((
				SELECT sum(j.cpu_cores) FROM jobs j
				WHERE j.worker_id = w.id AND j.started_at IS NOT NULL AND j.completed_at IS NULL), 0))
		AND ($1 = 0 OR (SELECT count(*) FROM jobs WHERE started_at IS NOT NULL AND completed_at IS NULL) < $1)`,
		maxRunning).Scan(&room)
	if err != nil {
		return false, wrap("check for room", err)
	}
	return room, nil
}

package sched

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// overdueGrace is how soon a job past its time limit is expected to be gone:
// the executor is ending it.
const overdueGrace = time.Minute

// minDuration is the shortest time a job is planned for.
const minDuration = time.Second

// maxHours bounds a time limit so that times stay far from overflow.
const maxHours = 100 * 365 * 24

func duration(hours float64) int64 {
	if !(hours > 0) { // also NaN
		return int64(minDuration)
	}
	return max(int64(min(hours, maxHours)*float64(time.Hour)), int64(minDuration))
}

// state is one cycle's working view of the cluster.
type state struct {
	snap    *rcq.Snapshot
	cfg     *Config
	workers []rcq.Worker
	byID    map[rcq.WorkerID]int
	sorted  []int // worker indices by worker id
	online  []int // leaf -> worker index, by worker id
	leaf    []int // worker index -> leaf, -1 when not online
	free    []rcq.Resources
	gpus    gpuSet
	total   rcq.Resources // online capacity
	// freeTree holds free-now amounts of online workers; capTree their
	// capacities.
	freeTree, capTree *resTree
	buckets           [3]*buckets // per dimension, for best fit; nil when values are too large
	held              [][]holder  // per worker index
	nheld             int
	running           int // jobs holding resources, including starts
	res               *reservation
	text              texts
	memo              memo[int32]
	fails             [2]failTable // requests that fit nowhere; [1]: with the reserved worker skipped
	arrays            *arrayRoom   // throttles of job arrays; nil until an array row comes up
}

func newState(snap *rcq.Snapshot, cfg *Config) *state {
	s := &state{snap: snap, cfg: cfg, workers: snap.Workers}
	n := len(snap.Workers)
	s.byID = make(map[rcq.WorkerID]int, n)
	s.leaf = make([]int, n)
	s.free = make([]rcq.Resources, n)
	s.sorted = make([]int, n)
	for i, w := range snap.Workers {
		s.byID[w.ID] = i
		s.free[i] = w.Capacity
		s.leaf[i] = -1
		s.sorted[i] = i
	}
	slices.SortStableFunc(s.sorted, func(a, b int) int {
		return cmp.Compare(snap.Workers[a].ID, snap.Workers[b].ID)
	})
	for _, i := range s.sorted {
		if snap.Workers[i].State == rcq.WorkerOnline {
			s.online = append(s.online, i)
		}
	}
	s.gpus = newGPUSet(snap.Workers)
	// Holders per worker, in one allocation; a worker's list reallocates
	// only if this cycle starts jobs on it.
	counts := make([]int, n)
	for i := range snap.Running {
		if w, ok := s.byID[snap.Running[i].WorkerID]; ok {
			counts[w]++
		}
	}
	flat := make([]holder, 0, len(snap.Running))
	s.held = make([][]holder, n)
	for w, c := range counts {
		s.held[w] = flat[len(flat) : len(flat) : len(flat)+c]
		flat = flat[:len(flat)+c]
	}
	now := snap.Now
	for i := range snap.Running {
		rj := &snap.Running[i]
		w, ok := s.byID[rj.WorkerID]
		if !ok {
			continue
		}
		s.free[w] = s.free[w].Sub(rj.Resources)
		s.gpus.mark(w, rj.GPUIndices)
		since := min(rj.StartedAt.Sub(now), maxHours*time.Hour) // a start in the future: clock skew
		end := since + time.Duration(duration(rj.EstimatedHours))
		s.held[w] = append(s.held[w], holder{end: max(int64(end), int64(overdueGrace)), r: rj.Resources})
		s.nheld++
	}
	s.running = len(snap.Running)
	freeVals := make([]rcq.Resources, len(s.online))
	capVals := make([]rcq.Resources, len(s.online))
	for leaf, w := range s.online {
		s.leaf[w] = leaf
		s.free[w].GPUs = min(s.free[w].GPUs, s.gpus.free(w))
		freeVals[leaf] = s.free[w]
		capVals[leaf] = snap.Workers[w].Capacity
		s.total = s.total.Add(snap.Workers[w].Capacity)
	}
	s.freeTree = newResTree(freeVals)
	s.capTree = newResTree(capVals)
	for d := range s.buckets {
		s.buckets[d] = newBuckets(freeVals, d, dim(s.capTree.largest(), d))
	}
	s.text = newTexts(s)
	s.memo = make(memo[int32])
	largestCap := s.capTree.largest()
	s.fails = [2]failTable{newFailTable(largestCap), newFailTable(largestCap)}
	return s
}

// start records a job needing r for d starting now on worker w and returns
// its GPU indices.
func (s *state) start(w int, r rcq.Resources, d int64) []int {
	s.free[w] = s.free[w].Sub(r)
	s.freeTree.set(s.leaf[w], s.free[w])
	for dm, b := range s.buckets {
		if b != nil {
			b.move(int32(s.leaf[w]), dim(s.free[w], dm))
		}
	}
	s.held[w] = append(s.held[w], holder{end: d, r: r})
	s.nheld++
	s.running++
	s.text.version++
	return s.gpus.take(w, r.GPUs)
}

// tryStart starts a job needing r for d on the best-fitting worker the
// reservation allows, and returns the worker index and GPUs. When it cannot,
// fitsFree reports that only the reserved worker could hold it now.
func (s *state) tryStart(r rcq.Resources, d int64) (w int, gpus []int, ok, fitsFree bool) {
	if !r.Fits(s.freeTree.largest()) {
		return 0, nil, false, false
	}
	skip := -1
	if s.res != nil {
		if ok, _ := s.res.allows(s.res.w, r, d); !ok {
			skip = s.leaf[s.res.w]
		}
	}
	if leaf := s.bestFit(r, skip); leaf >= 0 {
		w := s.online[leaf]
		if s.res != nil {
			if _, eats := s.res.allows(w, r, d); eats {
				s.res.extra = s.res.extra.Sub(r)
			}
		}
		return w, s.start(w, r, d), true, false
	}
	// Only the reserved worker, skipped above, can hold it now.
	return 0, nil, false, skip >= 0 && r.Fits(s.free[s.res.w])
}

// Schedule computes one cycle's plan from a snapshot: which pending jobs start
// now and where, which are cancelled because their dependencies can never be
// met, and, for every pending job in scheduling order, its priority, the
// reason it waits and its expected start. It reads no clock (the time is
// snap.Now) and does no I/O; one snapshot and config always yield one plan.
func Schedule(snap *rcq.Snapshot, cfg Config) rcq.Plan {
	now := snap.Now
	s := newState(snap, &cfg)
	gfs, gidx := groupFactors(snap.Groups, &cfg)
	if len(gfs) > math.MaxInt16 {
		gfs, gidx = gfs[:0], map[rcq.GroupID]int{} // absurd; treat groups as unknown
	}

	// Priorities and order.
	n := len(snap.Pending)
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	cs := grow(&sc.cs, n)
	lastGroup, lastSlot := rcq.GroupID(0), -1
	for i := range snap.Pending {
		j := &snap.Pending[i]
		slot := lastSlot
		if j.GroupID != lastGroup || i == 0 {
			var ok bool
			if slot, ok = gidx[j.GroupID]; !ok {
				slot = -1
			}
			lastGroup, lastSlot = j.GroupID, slot
		}
		cs[i] = newCandidate(j, i, priority(j, factorOf(gfs, slot), now, &cfg), slot)
	}
	cs = order(cs, sc)

	plan := rcq.Plan{Jobs: make([]rcq.PlannedJob, n)}
	var times timeArena
	waiting := make([]int, 0, min(n, 1024))
	deps := depView{snap: snap}

	for k := range cs {
		c := &cs[k]
		pj := &plan.Jobs[k]
		id := rcq.JobID(c.k3 ^ 1<<63)
		pj.JobID, pj.Rank = id, k+1
		pj.Priority = rcq.PriorityFactors{Base: float64(c.base), FairShare: factorOf(gfs, int(c.group)).fairShare,
			WaitBoost: WaitBoost(now.Sub(time.Unix(0, int64(c.k2^1<<63))), cfg.WaitBoostPerHour, cfg.WaitBoostCap)}
		pj.Priority.Final = pj.Priority.Base * pj.Priority.FairShare * pj.Priority.WaitBoost

		if c.flags&flagArray != 0 {
			// Elements whose aftercorr can never be met end now, whatever
			// the array's row waits for.
			j := &snap.Pending[c.idx]
			for _, t := range j.ArrayNever {
				task := t
				plan.Cancels = append(plan.Cancels, rcq.DependencyCancel{JobID: id, ArrayTask: &task,
					Detail: arrayNeverText(j, t)})
			}
		}
		if c.flags&flagDeps != 0 {
			j := &snap.Pending[c.idx]
			met, possible, detail := deps.check(j)
			if !possible {
				pj.Reason, pj.Detail = rcq.ReasonDependencyNeverSatisfied, detail
				plan.Cancels = append(plan.Cancels, rcq.DependencyCancel{JobID: id, Detail: detail})
				continue
			}
			if !met {
				pj.Reason, pj.Detail = rcq.ReasonDependency, detail
				continue
			}
		}
		switch {
		case c.flags&flagHoldAdmin != 0:
			pj.Reason, pj.Detail = rcq.ReasonHeldAdmin, "held by an administrator; an administrator can release it (rcq-control release)"
			continue
		case c.flags&flagHoldUser != 0:
			pj.Reason, pj.Detail = rcq.ReasonHeldUser, "held by its owner; release it with rcq-control release to let it run"
			continue
		}

		r := c.resources(snap)
		if !s.capTree.any(r) {
			pj.Reason, pj.Detail = s.text.never(r)
			continue
		}
		if lim := cfg.MaxConcurrentJobs; lim > 0 && s.running >= lim {
			pj.Reason, pj.Detail = rcq.ReasonConcurrencyLimit, s.text.limit()
			waiting = append(waiting, k)
			continue
		}
		d := c.dur
		if c.flags&flagArray != 0 {
			j := &snap.Pending[c.idx]
			if s.arrays == nil {
				s.arrays = newArrayRoom(snap)
			}
			if j.ArrayThrottle > 0 && s.arrays.room(j) <= 0 {
				pj.Reason, pj.Detail = rcq.ReasonArrayTaskLimit, arrayLimitText(j)
				continue
			}
			if len(j.ArrayTasks) > 0 {
				// The array's row: start its next elements while they fit,
				// as many as the throttle and the concurrency cap allow.
				started, all := 0, false
				for _, task := range j.ArrayTasks {
					if j.ArrayThrottle > 0 && s.arrays.room(j) <= 0 {
						break
					}
					if lim := cfg.MaxConcurrentJobs; lim > 0 && s.running >= lim {
						break
					}
					w, gpus, ok, _ := s.tryStart(r, d)
					if !ok {
						break
					}
					t := task
					plan.Starts = append(plan.Starts, rcq.Start{JobID: id, WorkerID: s.workers[w].ID, GPUIndices: gpus, ArrayTask: &t})
					s.arrays.started(j)
					started++
					if started == 1 {
						pj.ExpectedStart, pj.WorkerID = times.at(now), s.workers[w].ID
					}
				}
				all = started == len(j.ArrayTasks) && !j.ArrayMore
				switch {
				case all:
					continue
				case j.ArrayThrottle > 0 && s.arrays.room(j) <= 0:
					pj.Reason, pj.Detail = rcq.ReasonArrayTaskLimit, arrayLimitText(j)
					continue
				case cfg.MaxConcurrentJobs > 0 && s.running >= cfg.MaxConcurrentJobs:
					pj.Reason, pj.Detail = rcq.ReasonConcurrencyLimit, s.text.limit()
					waiting = append(waiting, k)
					continue
				case started > 0:
					// Some started; the rest wait for resources.
					pj.Reason, pj.Detail = rcq.ReasonResources, s.text.short(r)
					continue
				}
				// None fits now: wait (and reserve) like any job below.
			}
		}
		fitsFree := false // r fits some online worker's free amount now
		if c.flags&flagArray == 0 || len(snap.Pending[c.idx].ArrayTasks) == 0 {
			w, gpus, ok, ff := s.tryStart(r, d)
			if ok {
				plan.Starts = append(plan.Starts, rcq.Start{JobID: id, WorkerID: s.workers[w].ID, GPUIndices: gpus})
				pj.ExpectedStart, pj.WorkerID = times.at(now), s.workers[w].ID
				if c.flags&flagArray != 0 {
					s.arrays.started(&snap.Pending[c.idx])
				}
				continue
			}
			fitsFree = ff
		} else if r.Fits(s.freeTree.largest()) && s.res != nil {
			fitsFree = r.Fits(s.free[s.res.w])
		}
		// It cannot start now.
		if s.res == nil {
			w, t, extra, ok := s.reserve(r)
			if ok {
				s.res = &reservation{job: k, w: w, t: t, d: d, r: r, extra: extra}
				pj.ExpectedStart, pj.WorkerID = times.at(now.Add(time.Duration(t))), s.workers[w].ID
				pj.Reason, pj.Detail = rcq.ReasonResources, s.text.reserved(r, w, *pj.ExpectedStart)
				continue
			}
		}
		if fitsFree {
			pj.Reason, pj.Detail = rcq.ReasonPriority, s.text.behind(plan.Jobs[s.res.job].JobID)
		} else {
			pj.Reason, pj.Detail = rcq.ReasonResources, s.text.short(r)
		}
		waiting = append(waiting, k)
	}

	estimate(s, &plan, cs, &times, waiting)
	return plan
}

// estimate gives expected starts to the first EstimateDepth waiting jobs,
// in order, after the reservation.
func estimate(s *state, plan *rcq.Plan, cs []candidate, times *timeArena, waiting []int) {
	depth := s.cfg.EstimateDepth
	if depth == 0 {
		depth = DefaultEstimateDepth
	}
	if depth < 0 || s.cfg.estimateUntil != 0 {
		depth = math.MaxInt
	}
	if len(waiting) == 0 || len(s.online) == 0 {
		return
	}
	if id := s.cfg.estimateUntil; id != 0 && !slices.ContainsFunc(waiting, func(k int) bool { return plan.Jobs[k].JobID == id }) {
		return // the job of interest needs no estimate
	}
	e := newEstimator(s)
	if res := s.res; res != nil {
		e.take(s.leaf[res.w], res.t, res.d, res.r)
	}
	now := s.snap.Now
	for i, k := range waiting {
		if i >= depth {
			break
		}
		if s.res != nil && k == s.res.job {
			continue
		}
		c := &cs[k]
		t, leaf, ok := e.place(c.resources(s.snap), c.dur)
		if !ok {
			continue
		}
		pj := &plan.Jobs[k]
		pj.ExpectedStart, pj.WorkerID = times.at(now.Add(time.Duration(t))), s.workers[s.online[leaf]].ID
		if pj.JobID == s.cfg.estimateUntil {
			break
		}
	}
}

// timeArena hands out *time.Time from chunks, one allocation per 256.
type timeArena struct{ chunk []time.Time }

func (a *timeArena) at(t time.Time) *time.Time {
	if len(a.chunk) == cap(a.chunk) {
		a.chunk = make([]time.Time, 0, 256)
	}
	a.chunk = append(a.chunk, t)
	return &a.chunk[len(a.chunk)-1]
}

// memo remembers answers that hold until the next start changes the free
// capacity (version): a long queue asks about the same few shapes again and
// again. Keys pack a request into a word; requests too large to pack are not
// memoized.
type memo[V any] map[uint64]memoEntry[V]

type memoEntry[V any] struct {
	version int
	v       V
}

func (m memo[V]) get(k uint64, version int) (V, bool) {
	e, ok := m[k]
	if !ok || e.version != version {
		var zero V
		return zero, false
	}
	return e.v, true
}

// pack packs r and up to 2 bits of tag into a word.
func pack(r rcq.Resources, tag uint64) (uint64, bool) {
	if uint64(r.CPUCores) >= 1<<20 || uint64(r.MemoryGB) >= 1<<22 || uint64(r.GPUs) >= 1<<20 {
		return 0, false
	}
	return uint64(r.CPUCores) | uint64(r.MemoryGB)<<20 | uint64(r.GPUs)<<42 | tag<<62, true
}

// bestFit is resTree.bestFit for the free-now amounts, memoized. Within a
// cycle free capacity only shrinks (starts) and the reservation only
// tightens, so a request that fits nowhere keeps fitting nowhere, and so does
// any request at least as large: those are remembered in a failure table.
// Successes are remembered by request shape until the next start.
func (s *state) bestFit(r rcq.Resources, skip int) int {
	tag := 0
	if skip >= 0 {
		tag = 1
	}
	if s.fails[tag].covers(r) || tag == 1 && s.fails[0].covers(r) {
		return -1
	}
	k, ok := pack(r, uint64(tag))
	if ok {
		if leaf, hit := s.memo.get(k, s.text.version); hit {
			return int(leaf)
		}
	}
	d := scarcest(r, s.total)
	var leaf int
	if b := s.buckets[d]; b != nil {
		leaf = b.bestFit(r, d, skip, s.leafFree)
	} else {
		leaf = s.freeTree.bestFit(r, d, skip)
	}
	if ok {
		s.memo[k] = memoEntry[int32]{s.text.version, int32(leaf)}
	}
	if leaf < 0 {
		s.fails[tag].add(r)
	}
	return leaf
}

// failTable remembers requests that fit nowhere: minMem[g][c] is the least
// memory of a remembered failure with at most g GPUs and c cores, so a
// request fails if it asks at least that much memory. Requests beyond the
// table (more cores or GPUs than any online worker has) are not remembered.
type failTable struct {
	cpus, gpus int // table bounds (inclusive)
	minMem     []int
}

func newFailTable(largest rcq.Resources) failTable {
	t := failTable{cpus: max(largest.CPUCores, 0), gpus: max(largest.GPUs, 0)}
	if (t.cpus+1)*(t.gpus+1) > 1<<16 {
		return failTable{cpus: -1, gpus: -1}
	}
	t.minMem = make([]int, (t.cpus+1)*(t.gpus+1))
	for i := range t.minMem {
		t.minMem[i] = math.MaxInt
	}
	return t
}

func (t *failTable) covers(r rcq.Resources) bool {
	if r.CPUCores < 0 || r.GPUs < 0 || r.CPUCores > t.cpus || r.GPUs > t.gpus {
		return false
	}
	return r.MemoryGB >= t.minMem[r.GPUs*(t.cpus+1)+r.CPUCores]
}

func (t *failTable) add(r rcq.Resources) {
	if r.CPUCores < 0 || r.GPUs < 0 || r.CPUCores > t.cpus || r.GPUs > t.gpus {
		return
	}
	for g := r.GPUs; g <= t.gpus; g++ {
		row := t.minMem[g*(t.cpus+1):]
		for c := r.CPUCores; c <= t.cpus; c++ {
			if r.MemoryGB < row[c] {
				row[c] = r.MemoryGB
			}
		}
	}
}

func factorOf(gfs []groupFactor, slot int) groupFactor {
	if slot < 0 {
		return groupFactor{fairShare: 1}
	}
	return gfs[slot]
}

// leafFree is the free-now amount of an online worker by leaf.
func (s *state) leafFree(leaf int) rcq.Resources { return s.free[s.online[leaf]] }

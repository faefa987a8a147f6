package sched

import (
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
	holders           []holder
	running           int // jobs holding resources, including starts
	res               *reservation
	text              texts
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
		return cmpID(snap.Workers[a].ID, snap.Workers[b].ID)
	})
	for _, i := range s.sorted {
		if snap.Workers[i].State == rcq.WorkerOnline {
			s.online = append(s.online, i)
		}
	}
	s.gpus = newGPUSet(snap.Workers)
	s.holders = make([]holder, 0, len(snap.Running)+64)
	now := snap.Now
	for i := range snap.Running {
		rj := &snap.Running[i]
		w, ok := s.byID[rj.WorkerID]
		if !ok {
			continue
		}
		s.free[w] = s.free[w].Sub(rj.Resources)
		s.gpus.mark(w, rj.GPUIndices)
		end := rj.StartedAt.Sub(now) + time.Duration(duration(rj.EstimatedHours))
		s.holders = append(s.holders, holder{w: w, end: max(int64(end), int64(overdueGrace)), r: rj.Resources})
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
	s.text = newTexts(s)
	return s
}

func cmpID(a, b rcq.WorkerID) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// start records job j starting now on worker w and returns its GPU indices.
func (s *state) start(w int, r rcq.Resources, d int64) []int {
	s.free[w] = s.free[w].Sub(r)
	s.freeTree.set(s.leaf[w], s.free[w])
	s.holders = append(s.holders, holder{w: w, end: d, r: r})
	s.running++
	s.text.version++
	return s.gpus.take(w, r.GPUs)
}

// Schedule computes one cycle's plan from a snapshot: which pending jobs start
// now and where, which are cancelled because their dependencies can never be
// met, and, for every pending job in scheduling order, its priority, the
// reason it waits and its expected start. It reads no clock (the time is
// snap.Now) and does no I/O; one snapshot and config always yield one plan.
func Schedule(snap *rcq.Snapshot, cfg Config) rcq.Plan {
	now := snap.Now
	s := newState(snap, &cfg)
	gf := groupFactors(snap.Groups, &cfg)

	// Priorities and order.
	n := len(snap.Pending)
	prio := make([]rcq.PriorityFactors, n)
	cs := make([]candidate, n)
	for i := range snap.Pending {
		j := &snap.Pending[i]
		g, ok := gf[j.GroupID]
		if !ok {
			g = groupFactor{fairShare: 1}
		}
		prio[i] = priority(j, g, now, &cfg)
		cs[i] = candidate{final: prio[i].Final, submitted: j.SubmittedAt.UnixNano(), id: j.ID, idx: int32(i)}
	}
	order(cs)

	plan := rcq.Plan{Jobs: make([]rcq.PlannedJob, n)}
	times := make([]time.Time, n) // backing store for ExpectedStart
	waiting := make([]int, 0, min(n, 1024))
	deps := depView{snap: snap}

	for k, c := range cs {
		j := &snap.Pending[c.idx]
		pj := &plan.Jobs[k]
		pj.JobID, pj.Rank, pj.Priority = j.ID, k+1, prio[c.idx]

		if len(j.Dependencies) > 0 {
			met, possible, detail := deps.check(j)
			if !possible {
				pj.Reason, pj.Detail = rcq.ReasonDependencyNeverSatisfied, detail
				plan.Cancels = append(plan.Cancels, rcq.DependencyCancel{JobID: j.ID, Detail: detail})
				continue
			}
			if !met {
				pj.Reason, pj.Detail = rcq.ReasonDependency, detail
				continue
			}
		}
		switch j.Hold {
		case rcq.HoldNone:
		case rcq.HoldAdmin:
			pj.Reason, pj.Detail = rcq.ReasonHeldAdmin, "held by an administrator; an administrator can release it"
			continue
		default:
			pj.Reason, pj.Detail = rcq.ReasonHeldUser, "held by its owner; release it to let it run"
			continue
		}

		r := j.Resources
		if !s.capTree.any(r) {
			pj.Reason, pj.Detail = s.text.never(r)
			continue
		}
		if lim := cfg.MaxConcurrentJobs; lim > 0 && s.running >= lim {
			pj.Reason, pj.Detail = rcq.ReasonConcurrencyLimit, s.text.limit()
			waiting = append(waiting, k)
			continue
		}
		d := duration(j.EstimatedHours)
		if r.Fits(s.freeTree.largest()) {
			sc := scarcest(r, s.total)
			skip := -1
			if s.res != nil {
				if ok, _ := s.res.allows(s.res.w, r, d); !ok {
					skip = s.leaf[s.res.w]
				}
			}
			if leaf := s.freeTree.bestFit(r, sc, skip); leaf >= 0 {
				w := s.online[leaf]
				if s.res != nil {
					if _, eats := s.res.allows(w, r, d); eats {
						s.res.extra = s.res.extra.Sub(r)
					}
				}
				gpus := s.start(w, r, d)
				plan.Starts = append(plan.Starts, rcq.Start{JobID: j.ID, WorkerID: s.workers[w].ID, GPUIndices: gpus})
				times[k] = now
				pj.ExpectedStart, pj.WorkerID = &times[k], s.workers[w].ID
				continue
			}
		}
		// It cannot start now.
		if s.res == nil {
			w, t, extra, ok := s.reserve(r)
			if ok {
				s.res = &reservation{job: k, w: w, t: t, d: d, r: r, extra: extra}
				times[k] = now.Add(time.Duration(t))
				pj.ExpectedStart, pj.WorkerID = &times[k], s.workers[w].ID
				pj.Reason, pj.Detail = rcq.ReasonResources, s.text.reserved(r, w, times[k])
				continue
			}
		}
		if s.res != nil && s.freeTree.any(r) {
			pj.Reason, pj.Detail = rcq.ReasonPriority, s.text.behind(plan.Jobs[s.res.job].JobID)
		} else {
			pj.Reason, pj.Detail = rcq.ReasonResources, s.text.short(r)
		}
		waiting = append(waiting, k)
	}

	estimate(s, &plan, cs, times, waiting)
	return plan
}

// estimate gives expected starts to the first EstimateDepth waiting jobs,
// in order, after the reservation.
func estimate(s *state, plan *rcq.Plan, cs []candidate, times []time.Time, waiting []int) {
	depth := s.cfg.EstimateDepth
	if depth == 0 {
		depth = DefaultEstimateDepth
	}
	if depth < 0 {
		depth = math.MaxInt
	}
	if len(waiting) == 0 || len(s.online) == 0 {
		return
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
		j := &s.snap.Pending[cs[k].idx]
		t, leaf, ok := e.place(j.Resources, duration(j.EstimatedHours))
		if !ok {
			continue
		}
		pj := &plan.Jobs[k]
		times[k] = now.Add(time.Duration(t))
		pj.ExpectedStart, pj.WorkerID = &times[k], s.workers[s.online[leaf]].ID
	}
}

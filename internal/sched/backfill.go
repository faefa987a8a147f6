package sched

import (
	"cmp"
	"math"
	"slices"
	"sort"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Backfill (EASY): jobs start in priority order while they fit. The first
// job that cannot start (the top blocked job) gets a reservation: the
// earliest time enough resources free up on one worker, computed from the
// expected ends of the jobs holding resources (start + time limit). A lower
// job may then start now only if it cannot delay that reservation: it runs on
// another worker, or it ends before the reservation begins, or it fits in
// what the reserved worker has left over beside the reserved job at that
// time. Only the top blocked job is promised anything; the expected starts of
// the jobs below it are estimates (see estimator).
//
// Times inside the core are nanoseconds after the snapshot's Now.

// holder is a job holding resources on a worker: running, or starting in this
// plan.
type holder struct {
	end int64 // expected end
	r   rcq.Resources
}

// reservation is the top blocked job's promise.
type reservation struct {
	job   int // index into Plan.Jobs
	w     int // worker index
	t     int64
	d     int64
	r     rcq.Resources
	extra rcq.Resources // what the worker has free at t beside the reserved job
}

// allows reports whether a job needing r for d on worker w, starting now,
// leaves the reservation intact, and whether it eats into the left-over.
func (res *reservation) allows(w int, r rcq.Resources, d int64) (ok, eats bool) {
	if w != res.w || d <= res.t {
		return true, false
	}
	return r.Fits(res.extra), true
}

// sortHolders orders a worker's holders by expected end.
func sortHolders(hs []holder) {
	slices.SortFunc(hs, func(a, b holder) int { return cmp.Compare(a.end, b.end) })
}

// reserve finds the earliest time r fits on one online worker given the
// holders' expected ends, and what is left at that time beside r. Ties go to
// the lowest worker id.
func (s *state) reserve(r rcq.Resources) (w int, t int64, extra rcq.Resources, ok bool) {
	best := -1
	for leaf, wi := range s.online {
		if !r.Fits(s.workers[wi].Capacity) {
			continue
		}
		hs := s.held[wi]
		sortHolders(hs)
		f := s.free[wi]
		at := int64(0)
		for i := 0; !r.Fits(f) && i < len(hs); {
			at = hs[i].end
			for ; i < len(hs) && hs[i].end == at; i++ {
				f = f.Add(hs[i].r)
			}
		}
		if !r.Fits(f) {
			continue // its holders are inconsistent with its capacity
		}
		if best < 0 || at < t {
			best, w, t, extra = leaf, wi, at, f.Sub(r)
		}
	}
	return w, t, extra, best >= 0
}

// step is one piece of a free-capacity profile: free holds from t until the
// next step.
type step struct {
	t    int64
	free rcq.Resources
}

// profile is a worker's free capacity over time, from now (t=0) on.
type profile []step

// at returns the index of the step in effect at t.
func (p profile) at(t int64) int {
	return sort.Search(len(p), func(i int) bool { return p[i].t > t }) - 1
}

// fits reports whether r fits throughout [t, t+d).
func (p profile) fits(t, d int64, r rcq.Resources) bool {
	for i := p.at(t); i < len(p) && p[i].t < t+d; i++ {
		if !r.Fits(p[i].free) {
			return false
		}
	}
	return true
}

// split makes sure a step begins at t and returns its index.
func (p *profile) split(t int64) int {
	i := p.at(t)
	if (*p)[i].t == t {
		return i
	}
	*p = slices.Insert(*p, i+1, step{t, (*p)[i].free})
	return i + 1
}

// sub takes r away throughout [t, t+d).
func (p *profile) sub(t, d int64, r rcq.Resources) {
	i := p.split(t)
	j := p.split(t + d)
	for k := i; k < j; k++ {
		(*p)[k].free = (*p)[k].free.Sub(r)
	}
}

// earliest returns the earliest t >= from at which r fits for d.
func (p profile) earliest(r rcq.Resources, d, from int64) (int64, bool) {
	if p.fits(from, d, r) {
		return from, true
	}
	for i := p.at(from) + 1; i < len(p); i++ {
		if p.fits(p[i].t, d, r) {
			return p[i].t, true
		}
	}
	return 0, false
}

// event is a time at which a worker's free capacity grows.
type event struct {
	t    int64
	leaf int
}

func compareEvents(a, b event) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.leaf, b.leaf)) }

// estimator places waiting jobs, in priority order, at their earliest
// possible start on profiles of every online worker (and of the concurrency
// limit), each placement taking its resources away from the jobs below it.
// This is the expected start shown to users. It does not decide starts.
type estimator struct {
	prof   []profile       // per leaf
	cap    []rcq.Resources // per leaf
	events []event         // sorted; where a fit can begin after now
	// growth holds each leaf's event times, sorted.
	growth [][]int64
	// scanLimit is how many events earliestWorker tries in time order before
	// it searches each worker's own events instead (wide jobs).
	scanLimit int
	slots     profile  // free job slots (in CPUCores); nil without a limit
	now       *resTree // free now, an upper bound at t=0
}

func newEstimator(s *state) *estimator {
	e := &estimator{prof: make([]profile, len(s.online)), cap: make([]rcq.Resources, len(s.online)), now: s.freeTree}
	e.events = make([]event, 0, s.nheld+64)
	e.growth = make([][]int64, len(s.online))
	e.scanLimit = defaultScanLimit
	if l := s.cfg.scanLimit; l != 0 {
		e.scanLimit = max(l, 0)
	}
	// Profiles and event lists share two allocations; a leaf's slice
	// reallocates on its own only when placements outgrow its room.
	steps := make([]step, 0, s.nheld+3*len(s.online))
	times := make([]int64, 0, s.nheld+len(s.online))
	for leaf, wi := range s.online {
		e.cap[leaf] = s.workers[wi].Capacity
		hs := s.held[wi]
		sortHolders(hs)
		f := s.free[wi]
		p := profile(steps[len(steps) : len(steps)+1 : len(steps)+len(hs)+3])
		steps = steps[:len(steps)+len(hs)+3]
		e.growth[leaf] = times[len(times) : len(times) : len(times)+len(hs)+1]
		times = times[:len(times)+len(hs)+1]
		p[0] = step{0, f}
		for i := 0; i < len(hs); {
			at := hs[i].end
			for ; i < len(hs) && hs[i].end == at; i++ {
				f = f.Add(hs[i].r)
			}
			p = append(p, step{at, f})
			e.events = append(e.events, event{at, leaf})
			e.growth[leaf] = append(e.growth[leaf], at)
		}
		e.prof[leaf] = p
	}
	slices.SortFunc(e.events, compareEvents)
	if limit := s.cfg.MaxConcurrentJobs; limit > 0 {
		ends := make([]int64, 0, s.nheld)
		for _, hs := range s.held {
			for _, h := range hs {
				ends = append(ends, h.end)
			}
		}
		slices.Sort(ends)
		n := limit - s.running
		e.slots = profile{{0, rcq.Resources{CPUCores: n}}}
		for k := 0; k < len(ends); {
			at := ends[k]
			for ; k < len(ends) && ends[k] == at; k++ {
				n++
			}
			e.slots = append(e.slots, step{at, rcq.Resources{CPUCores: n}})
		}
	}
	return e
}

var oneSlot = rcq.Resources{CPUCores: 1}

// take places r for d on leaf at t.
func (e *estimator) take(leaf int, t, d int64, r rcq.Resources) {
	e.prof[leaf].sub(t, d, r)
	ev := event{t + d, leaf}
	i, found := slices.BinarySearchFunc(e.events, ev, compareEvents)
	if !found {
		e.events = slices.Insert(e.events, i, ev)
		g := e.growth[leaf]
		j, _ := slices.BinarySearch(g, ev.t)
		e.growth[leaf] = slices.Insert(g, j, ev.t)
	}
	if e.slots != nil {
		e.slots.sub(t, d, oneSlot)
	}
}

// place finds the earliest start of r for d on a worker and within the
// concurrency limit, and takes it. ok is false when nothing can be found.
func (e *estimator) place(r rcq.Resources, d int64) (t int64, leaf int, ok bool) {
	from := int64(0)
	for range 64 {
		t, leaf, ok = e.earliestWorker(r, d, from)
		if !ok || e.slots == nil {
			break
		}
		ts, found := e.slots.earliest(oneSlot, d, t)
		if !found {
			return 0, 0, false
		}
		if ts == t {
			break
		}
		from = ts
		ok = false
	}
	if ok {
		e.take(leaf, t, d, r)
	}
	return t, leaf, ok
}

// earliestWorker returns the earliest t >= from at which r fits for d on some
// online worker: at from itself, or at one of the later times a worker's free
// capacity grows.
func (e *estimator) earliestWorker(r rcq.Resources, d, from int64) (int64, int, bool) {
	if from == 0 {
		if r.Fits(e.now.largest()) {
			if leaf := e.firstNow(1, r, d); leaf >= 0 {
				return 0, leaf, true
			}
		}
	} else {
		for leaf, p := range e.prof {
			if r.Fits(e.cap[leaf]) && p.fits(from, d, r) {
				return from, leaf, true
			}
		}
	}
	i := sort.Search(len(e.events), func(i int) bool { return e.events[i].t > from })
	for n := 0; i < len(e.events) && n < e.scanLimit; i, n = i+1, n+1 {
		ev := e.events[i]
		if r.Fits(e.cap[ev.leaf]) && e.prof[ev.leaf].fits(ev.t, d, r) {
			return ev.t, ev.leaf, true
		}
	}
	if i >= len(e.events) {
		return 0, 0, false
	}
	// The job fits none of the first events: it needs room that few workers
	// will have. Search each worker's own events from there, keeping the
	// earliest (ties: the lowest leaf), which is what the scan would find.
	from, best, bestT := e.events[i].t, -1, int64(math.MaxInt64)
	for leaf, g := range e.growth {
		if !r.Fits(e.cap[leaf]) {
			continue
		}
		if t, ok := e.prof[leaf].earliestAt(g, from, bestT, d, r); ok {
			best, bestT = leaf, t
		}
	}
	return bestT, best, best >= 0
}

// defaultScanLimit: most jobs fit within a few events; a wide job may need
// thousands.
const defaultScanLimit = 64

// earliestAt returns the first of times in [from, before) at which r fits for
// d, walking the profile once.
func (p profile) earliestAt(times []int64, from, before, d int64, r rcq.Resources) (int64, bool) {
	k, _ := slices.BinarySearch(times, from)
	i := 0
	for ; k < len(times) && times[k] < before; k++ {
		t := times[k]
		for i+1 < len(p) && p[i+1].t <= t {
			i++
		}
		ok := true
		for j := i; j < len(p) && p[j].t < t+d; j++ {
			if !r.Fits(p[j].free) {
				ok = false
				break
			}
		}
		if ok {
			return t, true
		}
	}
	return 0, false
}

// firstNow returns the first leaf, among those whose free-now amount fits r,
// whose profile fits r for d from now.
func (e *estimator) firstNow(n int, r rcq.Resources, d int64) int {
	t := e.now
	if !r.Fits(t.mx[n]) {
		return -1
	}
	if n >= t.size {
		leaf := n - t.size
		if e.prof[leaf].fits(0, d, r) {
			return leaf
		}
		return -1
	}
	if leaf := e.firstNow(2*n, r, d); leaf >= 0 {
		return leaf
	}
	return e.firstNow(2*n+1, r, d)
}

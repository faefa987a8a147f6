package sched

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Properties over seeded random workloads: every failure names its seed, and
// `go test -run 'TestProperty/seed=N'` replays it.

const propertySeeds = 300

type gen struct{ rng *rand.Rand }

func newGen(seed uint64) gen { return gen{rand.New(rand.NewPCG(seed, 0x5c4ed))} }

func (g gen) pick(xs ...int) int { return xs[g.rng.IntN(len(xs))] }

func (g gen) workers(n int, allOnline bool) []rcq.Worker {
	ws := make([]rcq.Worker, n)
	for i := range ws {
		ws[i] = worker(i+1, res(g.pick(4, 8, 16, 32), g.pick(8, 16, 64, 128), g.pick(0, 0, 2, 4)))
		if !allOnline {
			switch g.rng.IntN(10) {
			case 0:
				ws[i].State = rcq.WorkerDrained
			case 1:
				ws[i].State = rcq.WorkerOffline
			}
		}
	}
	g.rng.Shuffle(n, func(i, j int) { ws[i], ws[j] = ws[j], ws[i] })
	return ws
}

// fill adds running jobs to workers without over-committing them.
func (g gen) fill(ws []rcq.Worker, perWorker int, nextID *int) []rcq.RunningJob {
	var run []rcq.RunningJob
	for _, w := range ws {
		free := w.Capacity
		used := make([]bool, w.Capacity.GPUs)
		for range g.rng.IntN(perWorker + 1) {
			r := res(1+g.rng.IntN(max(free.CPUCores, 1)), 1+g.rng.IntN(max(free.MemoryGB, 1)), g.rng.IntN(free.GPUs+1))
			if !r.Fits(free) {
				continue
			}
			var idx []int
			for i := range used {
				if len(idx) < r.GPUs && !used[i] && g.rng.IntN(2) == 0 || len(idx) < r.GPUs && !used[i] && len(used)-i <= r.GPUs-len(idx) {
					used[i] = true
					idx = append(idx, i)
				}
			}
			free = free.Sub(r)
			*nextID++
			run = append(run, running(*nextID, int(w.ID), r, time.Duration(g.rng.IntN(600))*time.Minute, 0.5+float64(g.rng.IntN(24))/2, idx...))
		}
	}
	return run
}

func (g gen) job(id int, maxRes rcq.Resources) rcq.PendingJob {
	gpus := 0
	if g.rng.IntN(5) == 0 {
		gpus = 1 + g.rng.IntN(max(maxRes.GPUs, 1))
	}
	j := pending(id, res(1+g.rng.IntN(maxRes.CPUCores), 1+g.rng.IntN(maxRes.MemoryGB), gpus), 0.25+float64(g.rng.IntN(40))/4)
	j.Priority = 1 + g.rng.IntN(10)
	j.GroupID = rcq.GroupID(1 + g.rng.IntN(3))
	j.SubmittedAt = now.Add(-time.Duration(g.rng.IntN(100*60)) * time.Minute)
	return j
}

func (g gen) groups() []rcq.GroupShare {
	gs := make([]rcq.GroupShare, 3)
	for i := range gs {
		gs[i] = rcq.GroupShare{Group: rcq.Group{ID: rcq.GroupID(i + 1), CPUQuota: float64(g.pick(0, 100, 1000)), Priority: 1 + g.rng.IntN(10)},
			UsageCPUHours: float64(g.rng.IntN(2000))}
	}
	return gs
}

// randomSnapshot is a cluster with running jobs and a queue with holds and
// dependencies.
func randomSnapshot(g gen, nw, np int) *rcq.Snapshot {
	ws := g.workers(nw, false)
	id := 10000
	run := g.fill(ws, 4, &id)
	snap := &rcq.Snapshot{Now: now, Workers: ws, Running: run, Groups: g.groups(), DepStates: map[rcq.JobID]rcq.JobState{}}
	for i := range np {
		j := g.job(i+1, res(40, 140, 5))
		switch g.rng.IntN(20) {
		case 0:
			j.Hold = rcq.HoldUser
		case 1:
			j.Hold = rcq.HoldAdmin
		case 2, 3:
			dep := rcq.JobID(500 + g.rng.IntN(5))
			snap.DepStates[dep] = rcq.JobStates[g.rng.IntN(len(rcq.JobStates))]
			j.Dependencies = []rcq.Dependency{{Type: []rcq.DependencyType{rcq.AfterOK, rcq.AfterAny, rcq.AfterNotOK}[g.rng.IntN(3)], JobID: dep}}
		}
		snap.Pending = append(snap.Pending, j)
	}
	return snap
}

// checkPlan asserts the invariants every plan keeps.
func checkPlan(t *testing.T, snap *rcq.Snapshot, p rcq.Plan) {
	t.Helper()
	workers := map[rcq.WorkerID]rcq.Worker{}
	for _, w := range snap.Workers {
		workers[w.ID] = w
	}
	jobs := map[rcq.JobID]rcq.PendingJob{}
	for _, j := range snap.Pending {
		jobs[j.ID] = j
	}
	used := map[rcq.WorkerID]rcq.Resources{}
	gpus := map[rcq.WorkerID]map[int]rcq.JobID{}
	take := func(w rcq.WorkerID, id rcq.JobID, r rcq.Resources, idx []int) {
		used[w] = used[w].Add(r)
		if gpus[w] == nil {
			gpus[w] = map[int]rcq.JobID{}
		}
		for _, i := range idx {
			if other, dup := gpus[w][i]; dup {
				t.Errorf("GPU %d of worker %d given to job %d and job %d", i, w, other, id)
			}
			if i < 0 || i >= workers[w].Capacity.GPUs {
				t.Errorf("job %d got GPU %d of worker %d, which has %d", id, i, w, workers[w].Capacity.GPUs)
			}
			gpus[w][i] = id
		}
	}
	for _, rj := range snap.Running {
		take(rj.WorkerID, rj.ID, rj.Resources, rj.GPUIndices)
	}
	started := map[rcq.JobID]bool{}
	for _, s := range p.Starts {
		j, ok := jobs[s.JobID]
		if !ok || started[s.JobID] {
			t.Fatalf("start %+v: not a pending job, or started twice", s)
		}
		started[s.JobID] = true
		if w := workers[s.WorkerID]; w.State != rcq.WorkerOnline {
			t.Errorf("job %d started on worker %d, which is %q", s.JobID, s.WorkerID, w.State)
		}
		if j.Hold != rcq.HoldNone {
			t.Errorf("held job %d started", j.ID)
		}
		for _, d := range j.Dependencies {
			if met, _ := d.Satisfied(snap.DepStates[d.JobID]); !met {
				t.Errorf("job %d started with %s unmet", j.ID, d)
			}
		}
		if len(s.GPUIndices) != j.Resources.GPUs {
			t.Errorf("job %d asked %d GPUs, got %v", j.ID, j.Resources.GPUs, s.GPUIndices)
		}
		take(s.WorkerID, s.JobID, j.Resources, s.GPUIndices)
	}
	for w, u := range used {
		if !u.Fits(workers[w].Capacity) && startedOn(p, w) {
			t.Errorf("worker %d over-committed: %v used of %v", w, u, workers[w].Capacity)
		}
	}
	// Resources means nothing free fits: after all the starts (which only
	// take capacity), such a job fits no online worker; a Priority job fits
	// only the reserved worker.
	reserved := rcq.WorkerID(0)
	for _, pj := range p.Jobs {
		if pj.Reason == rcq.ReasonResources && pj.ExpectedStart != nil && reserved == 0 {
			reserved = pj.WorkerID
		}
	}
	for _, pj := range p.Jobs {
		if pj.Reason != rcq.ReasonResources && pj.Reason != rcq.ReasonPriority {
			continue
		}
		r := jobs[pj.JobID].Resources
		for _, w := range snap.Workers {
			if w.State != rcq.WorkerOnline || pj.Reason == rcq.ReasonPriority && w.ID == reserved {
				continue
			}
			free := w.Capacity.Sub(used[w.ID])
			free.GPUs = min(free.GPUs, w.Capacity.GPUs-len(gpus[w.ID]))
			if r.Fits(free) {
				t.Errorf("job %d waits with %q (%s) but fits worker %d (free %v)", pj.JobID, pj.Reason, pj.Detail, w.ID, free)
			}
		}
	}
	for _, c := range p.Cancels {
		if started[c.JobID] {
			t.Errorf("job %d both started and cancelled", c.JobID)
		}
	}
	if len(p.Jobs) != len(snap.Pending) {
		t.Fatalf("plan has %d jobs, snapshot %d", len(p.Jobs), len(snap.Pending))
	}
	seen := map[rcq.JobID]bool{}
	for i, pj := range p.Jobs {
		if seen[pj.JobID] || pj.Rank != i+1 {
			t.Fatalf("job %d twice or rank %d at position %d", pj.JobID, pj.Rank, i)
		}
		seen[pj.JobID] = true
		if started[pj.JobID] != (pj.Reason == "") {
			t.Errorf("job %d: started %v, reason %q", pj.JobID, started[pj.JobID], pj.Reason)
		}
		if pj.Reason != "" && pj.Detail == "" {
			t.Errorf("job %d: reason %q without detail", pj.JobID, pj.Reason)
		}
		if pj.ExpectedStart != nil && pj.ExpectedStart.Before(snap.Now) {
			t.Errorf("job %d expected in the past: %v", pj.JobID, pj.ExpectedStart)
		}
		if i > 0 {
			a, b := p.Jobs[i-1], pj
			ja, jb := jobs[a.JobID], jobs[b.JobID]
			if c := cmp.Or(cmp.Compare(b.Priority.Final, a.Priority.Final), ja.SubmittedAt.Compare(jb.SubmittedAt), cmp.Compare(a.JobID, b.JobID)); c > 0 {
				t.Errorf("jobs %d and %d out of order", a.JobID, b.JobID)
			}
		}
	}
}

// startedOn reports whether the plan starts something on w: a worker that
// came over-committed in the snapshot is only a failure if the plan adds to it.
func startedOn(p rcq.Plan, w rcq.WorkerID) bool {
	for _, s := range p.Starts {
		if s.WorkerID == w {
			return true
		}
	}
	return false
}

// withStarts returns the snapshot after the starts, as running jobs that
// began now, and with pending replaced.
func withStarts(snap *rcq.Snapshot, starts []rcq.Start, pend ...rcq.PendingJob) *rcq.Snapshot {
	jobs := map[rcq.JobID]rcq.PendingJob{}
	for _, j := range snap.Pending {
		jobs[j.ID] = j
	}
	next := *snap
	next.Running = slices.Clone(snap.Running)
	for _, s := range starts {
		j := jobs[s.JobID]
		next.Running = append(next.Running, rcq.RunningJob{ID: j.ID, GroupID: j.GroupID, WorkerID: s.WorkerID, Resources: j.Resources,
			GPUIndices: s.GPUIndices, StartedAt: snap.Now, EstimatedHours: j.EstimatedHours})
	}
	next.Pending = pend
	return &next
}

func TestProperty(t *testing.T) {
	for seed := range uint64(propertySeeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			g := newGen(seed)
			snap := randomSnapshot(g, 1+g.rng.IntN(8), 1+g.rng.IntN(60))
			cfg := unlimited()
			if seed%3 == 0 {
				cfg.MaxConcurrentJobs = len(snap.Running) + g.rng.IntN(6)
			}
			p := Schedule(snap, cfg)
			checkPlan(t, snap, p)
			if lim := cfg.MaxConcurrentJobs; lim > 0 && len(p.Starts) > 0 && len(snap.Running)+len(p.Starts) > lim {
				t.Errorf("%d running + %d starts exceed the limit %d", len(snap.Running), len(p.Starts), lim)
			}

			// One snapshot yields one plan, whatever the order of its slices.
			shuffled := *snap
			shuffled.Pending, shuffled.Workers, shuffled.Running = slices.Clone(snap.Pending), slices.Clone(snap.Workers), slices.Clone(snap.Running)
			g.rng.Shuffle(len(shuffled.Pending), func(i, j int) { shuffled.Pending[i], shuffled.Pending[j] = shuffled.Pending[j], shuffled.Pending[i] })
			g.rng.Shuffle(len(shuffled.Workers), func(i, j int) { shuffled.Workers[i], shuffled.Workers[j] = shuffled.Workers[j], shuffled.Workers[i] })
			g.rng.Shuffle(len(shuffled.Running), func(i, j int) { shuffled.Running[i], shuffled.Running[j] = shuffled.Running[j], shuffled.Running[i] })
			if q := Schedule(&shuffled, cfg); !reflect.DeepEqual(normalize(p), normalize(q)) {
				t.Errorf("the plan depends on the order of the snapshot's slices")
			}

			checkReservation(t, snap, cfg, p)

			// The estimator's two searches (events in time order, and each
			// worker's own events) find the same starts.
			for _, limit := range []int{-1, 1 << 30} {
				c := cfg
				c.scanLimit = limit
				if q := Schedule(snap, c); !reflect.DeepEqual(normalize(p), normalize(q)) {
					t.Errorf("estimates differ with scan limit %d", limit)
				}
			}
		})
	}
}

func normalize(p rcq.Plan) rcq.Plan {
	for i := range p.Starts {
		if len(p.Starts[i].GPUIndices) == 0 {
			p.Starts[i].GPUIndices = nil
		}
	}
	return p
}

// checkReservation: the top blocked job's reservation is exactly what the
// higher jobs' starts leave, and the backfilled starts below it never move it
// later.
func checkReservation(t *testing.T, snap *rcq.Snapshot, cfg Config, p rcq.Plan) {
	t.Helper()
	if cfg.MaxConcurrentJobs > 0 {
		return
	}
	top := -1
	for i, pj := range p.Jobs {
		if pj.Reason == rcq.ReasonResources && pj.ExpectedStart != nil && pj.ExpectedStart.After(snap.Now) {
			top = i
			break
		}
	}
	if top < 0 {
		return
	}
	var job rcq.PendingJob
	for _, j := range snap.Pending {
		if j.ID == p.Jobs[top].JobID {
			job = j
		}
	}
	ahead := map[rcq.JobID]bool{}
	for _, pj := range p.Jobs[:top] {
		ahead[pj.JobID] = true
	}
	var before, all []rcq.Start
	for _, s := range p.Starts {
		if ahead[s.JobID] {
			before = append(before, s)
		}
		all = append(all, s)
	}
	reserved := *p.Jobs[top].ExpectedStart
	if q := Schedule(withStarts(snap, before, job), cfg); !q.Jobs[0].ExpectedStart.Equal(reserved) {
		t.Errorf("job %d reserved at %v, but the starts ahead of it alone give %v", job.ID, reserved, q.Jobs[0].ExpectedStart)
	}
	q := Schedule(withStarts(snap, all, job), cfg)
	if got := q.Jobs[0].ExpectedStart; got == nil || got.After(reserved) {
		t.Errorf("backfill delayed job %d: reserved at %v, with every start of the plan it is %v", job.ID, reserved, got)
	}
}

// TestSimulation runs finite workloads to the end: cycles at every job end,
// jobs running a random part of their time limit. Every job starts, or is
// cancelled because a dependency failed; no cycle over-commits anything.
func TestSimulation(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			g := newGen(seed)
			ws := g.workers(1+g.rng.IntN(5), true)
			largest := rcq.Resources{}
			for _, w := range ws {
				largest = maxRes(largest, w.Capacity)
			}
			cfg := unlimited()
			if seed%2 == 0 {
				cfg.MaxConcurrentJobs = 1 + g.rng.IntN(8)
			}
			snap := &rcq.Snapshot{Now: now, Workers: ws, Groups: g.groups(), DepStates: map[rcq.JobID]rcq.JobState{}}
			n := 20 + g.rng.IntN(80)
			for i := range n {
				var j rcq.PendingJob
				for { // only jobs some worker can run
					j = g.job(i+1, largest)
					if slices.ContainsFunc(ws, func(w rcq.Worker) bool { return j.Resources.Fits(w.Capacity) }) {
						break
					}
				}
				if i > 0 && g.rng.IntN(5) == 0 {
					typ := []rcq.DependencyType{rcq.AfterOK, rcq.AfterAny, rcq.AfterNotOK}[g.rng.IntN(3)]
					j.Dependencies = []rcq.Dependency{{Type: typ, JobID: rcq.JobID(1 + g.rng.IntN(i))}}
				}
				snap.Pending = append(snap.Pending, j)
			}
			ends := map[rcq.JobID]time.Time{}
			outcome := map[rcq.JobID]rcq.JobState{}
			startedOrCancelled := 0
			for step := 0; len(snap.Pending) > 0; step++ {
				if step > 10*n {
					t.Fatalf("still %d pending after %d cycles", len(snap.Pending), step)
				}
				p := Schedule(snap, cfg)
				checkPlan(t, snap, p)
				if lim := cfg.MaxConcurrentJobs; lim > 0 && len(snap.Running)+len(p.Starts) > lim {
					t.Fatalf("cycle %d: %d running, limit %d", step, len(snap.Running)+len(p.Starts), lim)
				}
				done := map[rcq.JobID]bool{}
				for _, c := range p.Cancels {
					done[c.JobID] = true
					outcome[c.JobID] = rcq.JobCancelled
				}
				byID := map[rcq.JobID]rcq.PendingJob{}
				for _, j := range snap.Pending {
					byID[j.ID] = j
				}
				for _, s := range p.Starts {
					done[s.JobID] = true
					j := byID[s.JobID]
					ends[s.JobID] = snap.Now.Add(time.Duration((0.3 + 0.7*g.rng.Float64()) * j.EstimatedHours * float64(time.Hour)))
					outcome[s.JobID] = []rcq.JobState{rcq.JobCompleted, rcq.JobCompleted, rcq.JobFailed}[g.rng.IntN(3)]
				}
				startedOrCancelled += len(done)
				next := withStarts(snap, p.Starts)
				for _, j := range snap.Pending {
					if !done[j.ID] {
						next.Pending = append(next.Pending, j)
					}
				}
				next.DepStates = maps(snap.DepStates)
				for id := range done {
					if outcome[id] == rcq.JobCancelled {
						next.DepStates[id] = rcq.JobCancelled
					} else {
						next.DepStates[id] = rcq.JobRunning
					}
				}
				if len(p.Cancels) == 0 && len(p.Starts) == 0 || len(next.Pending) > 0 && len(p.Cancels) == 0 {
					// Advance to the next job end.
					if len(next.Running) == 0 {
						if len(next.Pending) > 0 {
							t.Fatalf("cycle %d: nothing running, nothing started, %d pending: %+v", step, len(next.Pending), p.Jobs[0])
						}
						break
					}
					first := ends[next.Running[0].ID]
					for _, r := range next.Running {
						if e := ends[r.ID]; e.Before(first) {
							first = e
						}
					}
					next.Now = first
					kept := next.Running[:0:0]
					for _, r := range next.Running {
						if ends[r.ID].After(first) {
							kept = append(kept, r)
						} else {
							next.DepStates[r.ID] = outcome[r.ID]
						}
					}
					next.Running = kept
				}
				snap = next
			}
			if startedOrCancelled != n {
				t.Errorf("%d of %d jobs started or cancelled", startedOrCancelled, n)
			}
		})
	}
}

func maps(m map[rcq.JobID]rcq.JobState) map[rcq.JobID]rcq.JobState {
	c := make(map[rcq.JobID]rcq.JobState, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

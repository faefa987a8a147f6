package sched

import (
	"fmt"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Reasons. A pending job that does not start carries one reason, in Slurm's
// words, and a detail with the numbers behind it:
//
//   - Dependency: a job it depends on has not ended as required yet
//     ("waits for afterok:12 (job 12 is running)").
//   - DependencyNeverSatisfied: a dependency can no longer be met; the job is
//     cancelled (Plan.Cancels).
//   - JobHeldUser, JobHeldAdmin: held; never started until released.
//   - ConcurrencyLimit: MaxConcurrentJobs jobs already hold resources.
//   - JobArrayTaskLimit: the array's throttle (%N) is reached (arrays.go).
//   - Resources: nothing free fits it now ("needs 8 cpu_cores; largest free
//     is 4 on w1"); the top blocked job also names its reservation.
//   - Priority: it would fit now, but only where the top blocked job's
//     reservation needs the room: a higher-priority job is ahead.
//   - WorkerDrained: only drained or offline workers are big enough.
//
// A job that starts now has no reason.

// texts builds reason details. Details that depend only on a job's request
// and the free capacity are cached until the next start changes it, so a
// queue of 100k similar jobs costs few strings.
type texts struct {
	s       *state
	version int
	cache   map[textKey]string
	// shortDims caches "needs N X; largest free is M on W" texts, direct
	// mapped: a long queue asks for them once per job.
	shortDims  *[1024]shortEntry
	together   map[uint64]string // "needs ... together" by request
	args       [3]int            // argmax per dimension at argVersion-1
	argVersion int
}

type textKey struct {
	kind    byte
	r       rcq.Resources
	version int
}

func newTexts(s *state) texts {
	return texts{s: s, cache: make(map[textKey]string), shortDims: new([1024]shortEntry), together: make(map[uint64]string)}
}

func (x *texts) cached(k textKey, f func() string) string {
	if v, ok := x.cache[k]; ok {
		return v
	}
	v := f()
	x.cache[k] = v
	return v
}

var dimNames = [...]string{"cpu_cores", "memory_gb", "gpu_count"}

// worst returns the dimension of r that exceeds have the most, relative to r.
func worst(r, have rcq.Resources) (int, bool) {
	best, short := -1, 0.0
	for d := range 3 {
		need, h := dim(r, d), dim(have, d)
		if need > h {
			if s := float64(need-h) / float64(need); best < 0 || s > short {
				best, short = d, s
			}
		}
	}
	return best, best >= 0
}

// short explains why r fits nowhere now.
func (x *texts) short(r rcq.Resources) string {
	largest := x.s.freeTree.largest()
	d, ok := worst(r, largest)
	if !ok { // the text depends on r alone
		k, packed := pack(r, 0)
		if !packed {
			return x.shortNow(r)
		}
		if v, hit := x.together[k]; hit {
			return v
		}
		v := x.shortNow(r)
		x.together[k] = v
		return v
	}
	// The text depends on the short dimension, the need, the largest free
	// amount and where it is.
	need, have, leaf := dim(r, d), dim(largest, d), x.argmax(d)
	if uint64(need) >= 1<<20 || uint64(have) >= 1<<20 || uint64(leaf) >= 1<<20 {
		return x.shortNow(r)
	}
	k := uint64(d) | uint64(need)<<2 | uint64(have)<<22 | uint64(leaf)<<42
	e := &x.shortDims[(k*0x9e3779b97f4a7c15)>>54]
	if e.ok && e.key == k {
		return e.text
	}
	v := x.shortNow(r)
	*e = shortEntry{key: k, text: v, ok: true}
	return v
}

type shortEntry struct {
	key  uint64
	text string
	ok   bool
}

// argmax is resTree.argmax over free-now amounts, cached until the next start.
func (x *texts) argmax(d int) int {
	if x.argVersion != x.version+1 {
		x.args = [3]int{-1, -1, -1}
		x.argVersion = x.version + 1
	}
	if x.args[d] < 0 {
		x.args[d] = x.s.freeTree.argmax(d)
	}
	return x.args[d]
}

func (x *texts) shortNow(r rcq.Resources) string {
	s := x.s
	largest := s.freeTree.largest()
	if d, ok := worst(r, largest); ok {
		if len(s.online) == 0 || dim(largest, d) < 0 {
			return fmt.Sprintf("needs %d %s; no online worker has any free", dim(r, d), dimNames[d])
		}
		w := s.online[x.argmax(d)]
		return fmt.Sprintf("needs %d %s; largest free is %d on %s", dim(r, d), dimNames[d], dim(largest, d), s.workers[w].Name)
	}
	return fmt.Sprintf("needs %s together; no online worker has all of it free now", r)
}

// never explains a job that no online worker is big enough for: WorkerDrained
// when a drained or offline one is, Resources otherwise.
func (x *texts) never(r rcq.Resources) (string, string) {
	s := x.s
	var names []string
	for _, i := range s.sorted {
		if w := s.workers[i]; w.State != rcq.WorkerOnline && r.Fits(w.Capacity) {
			names = append(names, fmt.Sprintf("%s is %s", w.Name, w.State))
			if len(names) == 3 {
				break
			}
		}
	}
	if len(names) > 0 {
		return rcq.ReasonWorkerDrained, x.cached(textKey{'d', r, 0}, func() string {
			return fmt.Sprintf("needs %s; only drained or offline workers are that big (%s)", r, strings.Join(names, ", "))
		})
	}
	return rcq.ReasonResources, x.cached(textKey{'n', r, 0}, func() string {
		largest := s.capTree.largest()
		if len(s.online) == 0 {
			return fmt.Sprintf("needs %s; no worker is online", r)
		}
		if d, ok := worst(r, largest); ok {
			return fmt.Sprintf("needs %d %s; the largest online worker has %d, so it cannot start until a bigger worker joins",
				dim(r, d), dimNames[d], dim(largest, d))
		}
		return fmt.Sprintf("needs %s together; no online worker is that big, so it cannot start until a bigger worker joins", r)
	})
}

// limit explains ConcurrencyLimit.
func (x *texts) limit() string {
	return x.cached(textKey{kind: 'l'}, func() string {
		return fmt.Sprintf("%d of %d jobs running (max_concurrent_jobs)", x.s.running, x.s.cfg.MaxConcurrentJobs)
	})
}

// reserved explains the top blocked job.
func (x *texts) reserved(r rcq.Resources, w int, at time.Time) string {
	return fmt.Sprintf("%s; reserved on %s from %s", x.shortNow(r), x.s.workers[w].Name, clock(at, x.s.snap.Now))
}

// behind explains Priority.
func (x *texts) behind(top rcq.JobID) string {
	return x.cached(textKey{kind: 'p'}, func() string {
		res := x.s.res
		return fmt.Sprintf("fits now only where job %d (higher priority) has a reservation (%s from %s)",
			top, x.s.workers[res.w].Name, clock(x.s.snap.Now.Add(time.Duration(res.t)), x.s.snap.Now))
	})
}

// clock formats t for a detail: "14:05" today, "Jan 2 14:05" otherwise, in
// now's time zone.
func clock(t, now time.Time) string {
	t = t.In(now.Location())
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return t.Format("Jan 2 15:04")
}

// depView answers dependency questions for one snapshot.
type depView struct {
	snap    *rcq.Snapshot
	pending map[rcq.JobID]bool // built only if a dependency is missing from DepStates
	waits   map[depText]string // "waits for ..." texts
}

// depText keys a "waits for" text: a job's state is one per snapshot, so the
// dependency (type and job) is enough.
type depText struct {
	id   rcq.JobID
	typ  rcq.DependencyType
	task int // an element's index, -1 for a job or a whole array
}

func (v *depView) waitText(d rcq.Dependency, st rcq.JobState) string {
	k := depText{d.JobID, d.Type, -1}
	if d.ArrayTaskID != nil {
		k.task = *d.ArrayTaskID
	}
	if t, ok := v.waits[k]; ok {
		return t
	}
	if v.waits == nil {
		v.waits = make(map[depText]string)
	}
	t := fmt.Sprintf("waits for %s (job %s is %s)", d, d.Target(), st)
	if d.Type == rcq.AfterCorr && d.ArrayTaskID != nil {
		t = fmt.Sprintf("waits for %s (job %d_%d is %s)", d, d.JobID, *d.ArrayTaskID, st)
	}
	v.waits[k] = t
	return t
}

// depState is the state d waits on: of the job, the whole array (see
// store.Snapshot), or one element. An aftercorr element whose array lacks
// the index is met, as in Slurm.
func (v *depView) depState(d rcq.Dependency) (rcq.JobState, bool) {
	if d.ArrayTaskID == nil {
		return v.state(d.JobID)
	}
	st, ok := v.snap.TaskStates[rcq.ArrayTask{Array: d.JobID, Task: *d.ArrayTaskID}]
	if !ok && d.Type == rcq.AfterCorr {
		return rcq.JobCompleted, true
	}
	return st, ok
}

func (v *depView) state(id rcq.JobID) (rcq.JobState, bool) {
	if st, ok := v.snap.DepStates[id]; ok {
		return st, true
	}
	if v.pending == nil {
		v.pending = make(map[rcq.JobID]bool, len(v.snap.Pending))
		for _, j := range v.snap.Pending {
			v.pending[j.ID] = true
		}
	}
	if v.pending[id] {
		return rcq.JobPending, true
	}
	return "", false
}

// check reports whether every dependency of j is met, whether they can all
// still be met, and the detail: the first unmet (or impossible) condition.
func (v *depView) check(j *rcq.PendingJob) (met, possible bool, detail string) {
	met, possible = true, true
	for _, d := range j.Dependencies {
		if d.Type == rcq.AfterCorr && d.ArrayTaskID == nil {
			// The array's own row: the snapshot offers only the indices
			// whose corresponding elements completed (or do not exist).
			if len(j.ArrayTasks) == 0 && met {
				met = false
				detail = fmt.Sprintf("waits for %s (no element's corresponding element of %d has completed yet)", d, d.JobID)
			}
			continue
		}
		st, known := v.depState(d)
		if !known {
			if met {
				detail = fmt.Sprintf("waits for %s (job %s is not known yet)", d, d.Target())
			}
			met = false
			continue
		}
		ok, can := d.Satisfied(st)
		if !can {
			return false, false, fmt.Sprintf("%s can never be met: job %s ended %s", d, d.Target(), st)
		}
		if !ok && met {
			met = false
			detail = v.waitText(d, st)
		}
	}
	return met, possible, detail
}

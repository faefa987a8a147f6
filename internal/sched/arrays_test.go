package sched

import (
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

// array is the pending row of array id with the given next indices.
func array(id int, r rcq.Resources, throttle int, tasks ...int) rcq.PendingJob {
	j := pending(id, r, 1)
	j.ArrayJobID, j.ArrayThrottle, j.ArrayTasks = rcq.JobID(id), throttle, tasks
	return j
}

func arrayStarts(p rcq.Plan, id int) []int {
	var tasks []int
	for _, s := range p.Starts {
		if s.JobID == rcq.JobID(id) && s.ArrayTask != nil {
			tasks = append(tasks, *s.ArrayTask)
		}
	}
	return tasks
}

// TestArrayStartsSeveralElements: one cycle starts as many elements of an
// array as the workers hold, each with its index, and the array's row waits
// for resources with the rest.
func TestArrayStartsSeveralElements(t *testing.T) {
	snap := snapshot([]rcq.Worker{worker(1, res(4, 16, 0)), worker(2, res(2, 16, 0))}, nil,
		array(10, res(1, 1, 0), 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
	p := Schedule(snap, unlimited())
	got := arrayStarts(p, 10)
	if len(got) != 6 || got[0] != 0 || got[5] != 5 {
		t.Fatalf("started elements %v, want 0-5 (six cores)", got)
	}
	if pj := planned(p, 10); pj.Reason != rcq.ReasonResources {
		t.Errorf("the array's row waits with %q, want Resources", pj.Reason)
	}
	// All of them fit: all start, and the row has nothing left.
	snap = snapshot([]rcq.Worker{worker(1, res(64, 64, 0))}, nil, array(10, res(1, 1, 0), 0, 3, 5, 7))
	p = Schedule(snap, unlimited())
	if got := arrayStarts(p, 10); len(got) != 3 || planned(p, 10).Reason != "" {
		t.Errorf("started %v, reason %q", got, planned(p, 10).Reason)
	}
}

// TestArrayThrottle: never more than %N elements run: running elements
// count, starts of the cycle count, and split-off pending elements wait too.
func TestArrayThrottle(t *testing.T) {
	w := []rcq.Worker{worker(1, res(64, 64, 0))}
	for running0 := 0; running0 <= 3; running0++ {
		var run []rcq.RunningJob
		for i := range running0 {
			r := running(100+i, 1, res(1, 1, 0), 0, 1)
			r.ArrayJobID = 10
			run = append(run, r)
		}
		elem := pending(20, res(1, 1, 0), 1) // a released element with its own row
		elem.ArrayJobID, elem.ArrayThrottle = 10, 3
		p := Schedule(snapshot(w, run, array(10, res(1, 1, 0), 3, 0, 1, 2, 3, 4, 5), elem), unlimited())
		n := len(arrayStarts(p, 10))
		if _, ok := startOf(p, 20); ok {
			n++
		}
		if running0+n != 3 {
			t.Errorf("%d running: started %d more, want %d (throttle 3)", running0, n, 3-running0)
		}
		if pj := planned(p, 10); pj.Reason != rcq.ReasonArrayTaskLimit {
			t.Errorf("%d running: the array's row waits with %q, want %s", running0, pj.Reason, rcq.ReasonArrayTaskLimit)
		}
	}
	// Another array's elements are not held back by this one's throttle.
	run := []rcq.RunningJob{running(100, 1, res(1, 1, 0), 0, 1)}
	run[0].ArrayJobID = 10
	p := Schedule(snapshot(w, run, array(10, res(1, 1, 0), 1, 0, 1), array(11, res(1, 1, 0), 1, 0, 1)), unlimited())
	if len(arrayStarts(p, 10)) != 0 || len(arrayStarts(p, 11)) != 1 {
		t.Errorf("starts: array 10 %v, array 11 %v", arrayStarts(p, 10), arrayStarts(p, 11))
	}
}

// TestArrayConcurrencyCap: elements count against the concurrency cap.
func TestArrayConcurrencyCap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConcurrentJobs = 4
	p := Schedule(snapshot([]rcq.Worker{worker(1, res(64, 64, 0))}, nil, array(10, res(1, 1, 0), 0, 0, 1, 2, 3, 4, 5, 6)), cfg)
	if got := arrayStarts(p, 10); len(got) != 4 {
		t.Errorf("started %v under a cap of 4", got)
	}
	if pj := planned(p, 10); pj.Reason != rcq.ReasonConcurrencyLimit {
		t.Errorf("reason %q", pj.Reason)
	}
}

// TestArrayNeverCancelled: indices whose aftercorr can never be met are
// cancelled even while the array's row waits on its dependency.
func TestArrayNeverCancelled(t *testing.T) {
	j := array(10, res(1, 1, 0), 0)
	j.Dependencies = []rcq.Dependency{{Type: rcq.AfterCorr, JobID: 5}}
	j.ArrayNever = []int{2, 3}
	p := Schedule(snapshot([]rcq.Worker{worker(1, res(4, 4, 0))}, nil, j), unlimited())
	if len(p.Cancels) != 2 || *p.Cancels[0].ArrayTask != 2 || p.Cancels[0].JobID != 10 {
		t.Errorf("cancels %+v", p.Cancels)
	}
	if pj := planned(p, 10); pj.Reason != rcq.ReasonDependency {
		t.Errorf("the row waits with %q", pj.Reason)
	}
}

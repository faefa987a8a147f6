package sched

import (
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// A wide job is not starved by a stream of narrow ones: once it is the top
// blocked job, narrow jobs that would run past its reservation wait.
func TestBackfillProtectsWideJob(t *testing.T) {
	workers := []rcq.Worker{worker(1, res(8, 32, 0))}
	run := []rcq.RunningJob{running(100, 1, res(4, 8, 0), time.Hour, 3)} // ends in 2h
	wide := pending(1, res(8, 16, 0), 4)
	long := pending(2, res(4, 4, 0), 5)  // would end in 5h: past the reservation
	short := pending(3, res(4, 4, 0), 1) // ends in 1h: before it
	p := Schedule(snapshot(workers, run, wide, long, short), unlimited())

	if len(p.Starts) != 1 || p.Starts[0].JobID != 3 {
		t.Fatalf("starts = %+v, want only the short job 3 (backfilled)", p.Starts)
	}
	w := planned(p, 1)
	if w.Reason != rcq.ReasonResources || w.ExpectedStart == nil || !w.ExpectedStart.Equal(*at(2 * time.Hour)) || w.WorkerID != 1 {
		t.Errorf("wide job: %q expected %v on %d, want Resources at %v on w1", w.Reason, w.ExpectedStart, w.WorkerID, at(2*time.Hour))
	}
	if !strings.Contains(w.Detail, "needs 8 cpu_cores; largest free is 4 on w1; reserved on w1 from 14:00") {
		t.Errorf("wide job detail = %q", w.Detail)
	}
	l := planned(p, 2)
	if l.Reason != rcq.ReasonPriority || !strings.Contains(l.Detail, "job 1") {
		t.Errorf("long job: %q %q, want Priority behind job 1", l.Reason, l.Detail)
	}
	// The long job's expected start comes after the wide job's run.
	if l.ExpectedStart == nil || l.ExpectedStart.Before(*at(6 * time.Hour)) {
		t.Errorf("long job expected at %v, want after the wide job ends (%v)", l.ExpectedStart, at(6*time.Hour))
	}

	// Once the short job holds the free cores, a second long one finds
	// nothing free: reason Resources.
	long2 := pending(4, res(4, 4, 0), 5)
	p = Schedule(snapshot(workers, run, wide, short, long2), unlimited())
	if l := planned(p, 4); l.Reason != rcq.ReasonResources || !strings.Contains(l.Detail, "largest free is 0") {
		t.Errorf("second long job: %q %q, want Resources, largest free is 0", l.Reason, l.Detail)
	}
}

// A backfilled job may run past the reservation when it fits in what the
// reserved worker has left beside the reserved job.
func TestBackfillUsesLeftover(t *testing.T) {
	workers := []rcq.Worker{worker(1, res(16, 64, 0))}
	run := []rcq.RunningJob{running(100, 1, res(12, 8, 0), time.Hour, 3)} // free 4 now, ends in 2h
	p := Schedule(snapshot(workers, run,
		pending(1, res(8, 8, 0), 4),  // top: reserved at 2h, leaves 8 cores
		pending(2, res(4, 4, 0), 10), // long, fits the 8 left over: starts
		pending(3, res(4, 4, 0), 10), // no free cores now
	), unlimited())
	if len(p.Starts) != 1 || p.Starts[0].JobID != 2 {
		t.Fatalf("starts = %+v, want job 2", p.Starts)
	}
	if j := planned(p, 1); j.ExpectedStart == nil || !j.ExpectedStart.Equal(*at(2 * time.Hour)) {
		t.Errorf("top job expected %v, want %v", j.ExpectedStart, at(2*time.Hour))
	}

	// Two long jobs that together exceed the left-over: the second waits even
	// though cores are free now.
	workers = []rcq.Worker{worker(1, res(16, 64, 0))}
	run = []rcq.RunningJob{running(100, 1, res(8, 8, 0), time.Hour, 3)} // free 8 now
	p = Schedule(snapshot(workers, run,
		pending(1, res(12, 8, 0), 4), // reserved at 2h, leaves 4
		pending(2, res(4, 4, 0), 10), // uses the 4 left over
		pending(3, res(4, 4, 0), 10), // would cut into the reservation
		pending(4, res(4, 4, 0), 1),  // ends before it: starts
	), unlimited())
	got := map[rcq.JobID]bool{}
	for _, s := range p.Starts {
		got[s.JobID] = true
	}
	if !got[2] || got[3] || !got[4] || len(got) != 2 {
		t.Fatalf("starts = %+v, want jobs 2 and 4", p.Starts)
	}
	if j := planned(p, 3); j.Reason != rcq.ReasonPriority {
		t.Errorf("job 3: %q %q, want Priority", j.Reason, j.Detail)
	}
}

// Lower jobs start freely on workers the reservation does not use.
func TestBackfillOtherWorkers(t *testing.T) {
	workers := []rcq.Worker{worker(1, res(8, 32, 0)), worker(2, res(4, 32, 0))}
	run := []rcq.RunningJob{running(100, 1, res(4, 8, 0), time.Hour, 3)}
	p := Schedule(snapshot(workers, run,
		pending(1, res(8, 8, 0), 4),
		pending(2, res(4, 4, 0), 100), // w2 is not reserved
	), unlimited())
	if s, ok := startOf(p, 2); !ok || s.WorkerID != 2 {
		t.Fatalf("job 2 start = %+v, %v; want on w2", s, ok)
	}
}

// A job whose time limit has passed is expected to be gone within a minute.
func TestOverdueRunningJob(t *testing.T) {
	workers := []rcq.Worker{worker(1, res(4, 8, 0))}
	run := []rcq.RunningJob{running(100, 1, res(4, 8, 0), 5*time.Hour, 2)}
	p := Schedule(snapshot(workers, run, pending(1, res(4, 4, 0), 1)), unlimited())
	if j := planned(p, 1); j.ExpectedStart == nil || !j.ExpectedStart.Equal(*at(time.Minute)) {
		t.Errorf("expected %v, want %v", j.ExpectedStart, at(time.Minute))
	}
}

// Expected starts stack up in priority order, and are bounded by
// EstimateDepth.
func TestEstimates(t *testing.T) {
	workers := []rcq.Worker{worker(1, res(4, 8, 0))}
	run := []rcq.RunningJob{running(100, 1, res(4, 8, 0), 0, 1)}
	jobs := []rcq.PendingJob{pending(1, res(4, 4, 0), 2), pending(2, res(4, 4, 0), 2), pending(3, res(4, 4, 0), 2), pending(4, res(4, 4, 0), 2)}
	cfg := unlimited()
	p := Schedule(snapshot(workers, run, jobs...), cfg)
	for i, want := range []time.Duration{time.Hour, 3 * time.Hour, 5 * time.Hour, 7 * time.Hour} {
		if j := p.Jobs[i]; j.ExpectedStart == nil || !j.ExpectedStart.Equal(*at(want)) || j.WorkerID != 1 {
			t.Errorf("job %d expected %v on %d, want %v on w1", j.JobID, j.ExpectedStart, j.WorkerID, at(want))
		}
	}
	cfg.EstimateDepth = 2 // the reservation, then two more
	p = Schedule(snapshot(workers, run, jobs...), cfg)
	if p.Jobs[2].ExpectedStart == nil || p.Jobs[3].ExpectedStart != nil {
		t.Errorf("with depth 2: job 3 expected %v, job 4 expected %v; want a time, then none", p.Jobs[2].ExpectedStart, p.Jobs[3].ExpectedStart)
	}
}

// A wide job is not starved by a stream of narrow ones: narrow jobs of lower
// priority keep arriving and the worker's cores free up one job at a time,
// but the wide job starts when its reservation said, and narrow jobs still
// fill the gaps before it.
func TestWideJobNotStarvedByStream(t *testing.T) {
	workers := []rcq.Worker{worker(1, res(8, 64, 0))}
	snap := snapshot(workers, []rcq.RunningJob{
		running(101, 1, res(2, 1, 0), 0, 1), running(102, 1, res(2, 1, 0), 0, 2),
		running(103, 1, res(2, 1, 0), 0, 3), running(104, 1, res(2, 1, 0), 0, 4),
	})
	wide := pending(1, res(8, 8, 0), 2)
	wide.Priority = 10
	snap.Pending = []rcq.PendingJob{wide}
	cfg := unlimited()

	ends := map[rcq.JobID]time.Time{}
	for _, r := range snap.Running {
		ends[r.ID] = r.StartedAt.Add(time.Duration(r.EstimatedHours * float64(time.Hour)))
	}
	var reserved *time.Time
	backfilled := 0
	nextID := 200
	for step := 0; step < 200; step++ {
		p := Schedule(snap, cfg)
		if reserved == nil {
			reserved = planned(p, 1).ExpectedStart
			if reserved == nil || !reserved.Equal(now.Add(4*time.Hour)) {
				t.Fatalf("wide job reserved at %v, want %v", reserved, now.Add(4*time.Hour))
			}
		}
		next := withStarts(snap, p.Starts)
		for _, s := range p.Starts {
			if s.JobID == 1 {
				if !snap.Now.Equal(*reserved) {
					t.Fatalf("wide job started at %v, reserved for %v", snap.Now, reserved)
				}
				if backfilled == 0 {
					t.Errorf("no narrow job was backfilled before the wide job")
				}
				return
			}
			backfilled++
			ends[s.JobID] = snap.Now.Add(3 * time.Hour)
		}
		started := map[rcq.JobID]bool{}
		for _, s := range p.Starts {
			started[s.JobID] = true
		}
		for _, j := range snap.Pending {
			if !started[j.ID] {
				next.Pending = append(next.Pending, j)
			}
		}
		// Every 15 minutes a narrow job (priority 1, 3 hours) arrives; jobs
		// run to their time limit.
		next.Now = snap.Now.Add(15 * time.Minute)
		nextID++
		narrow := pending(nextID, res(2, 1, 0), 3)
		narrow.Priority, narrow.SubmittedAt = 1, next.Now
		next.Pending = append(next.Pending, narrow)
		kept := next.Running[:0:0]
		for _, r := range next.Running {
			if ends[r.ID].After(next.Now) {
				kept = append(kept, r)
			}
		}
		next.Running = kept
		snap = next
	}
	t.Fatalf("the wide job never started")
}

// Running jobs with absurd start times neither overflow nor block the plan.
func TestOddStartTimes(t *testing.T) {
	workers := []rcq.Worker{worker(1, res(8, 8, 0))}
	run := []rcq.RunningJob{
		{ID: 100, WorkerID: 1, Resources: res(4, 4, 0), StartedAt: now.AddDate(1000, 0, 0), EstimatedHours: 1e9},
		{ID: 101, WorkerID: 1, Resources: res(4, 4, 0), StartedAt: time.Time{}, EstimatedHours: 1},
	}
	p := Schedule(snapshot(workers, run, pending(1, res(8, 8, 0), 1)), unlimited())
	j := planned(p, 1)
	if j.ExpectedStart == nil || !j.ExpectedStart.After(now) || j.Reason != rcq.ReasonResources {
		t.Fatalf("job 1: %+v", j)
	}
	if j.ExpectedStart.Before(now.Add(time.Hour)) {
		t.Errorf("expected %v: the job started in the future still holds its cores for its limit", j.ExpectedStart)
	}
}

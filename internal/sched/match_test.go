package sched

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

func TestBestFit(t *testing.T) {
	for _, tc := range []struct {
		name    string
		workers []rcq.Worker
		run     []rcq.RunningJob
		job     rcq.Resources
		want    rcq.WorkerID
	}{
		{
			name:    "least leftover cores",
			workers: []rcq.Worker{worker(1, res(16, 64, 0)), worker(2, res(8, 64, 0)), worker(3, res(5, 64, 0))},
			job:     res(4, 4, 0), want: 3,
		},
		{
			name:    "least leftover of the scarcest resource (memory)",
			workers: []rcq.Worker{worker(1, res(4, 512, 0)), worker(2, res(64, 300, 0)), worker(3, res(64, 1024, 0))},
			job:     res(1, 256, 0), want: 2,
		},
		{
			name:    "GPUs are scarcest for a GPU job",
			workers: []rcq.Worker{worker(1, res(8, 64, 8)), worker(2, res(64, 512, 2))},
			job:     res(8, 64, 2), want: 2,
		},
		{
			name:    "a CPU-only job stays off GPU workers",
			workers: []rcq.Worker{worker(1, res(16, 64, 4)), worker(2, res(16, 64, 0))},
			job:     res(4, 8, 0), want: 2,
		},
		{
			name:    "free capacity counts, not capacity",
			workers: []rcq.Worker{worker(1, res(8, 64, 0)), worker(2, res(32, 64, 0))},
			run:     []rcq.RunningJob{running(100, 2, res(28, 8, 0), time.Hour, 4)},
			job:     res(4, 4, 0), want: 2,
		},
		{
			name:    "ties go to the lowest worker id",
			workers: []rcq.Worker{worker(3, res(8, 8, 0)), worker(1, res(8, 8, 0)), worker(2, res(8, 8, 0))},
			job:     res(2, 2, 0), want: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Schedule(snapshot(tc.workers, tc.run, pending(1, tc.job, 1)), unlimited())
			s, ok := startOf(p, 1)
			if !ok || s.WorkerID != tc.want {
				t.Fatalf("start = %+v (started %v), want worker %d; plan %+v", s, ok, tc.want, p.Jobs)
			}
		})
	}
}

func TestNeverOverCommit(t *testing.T) {
	workers := []rcq.Worker{worker(1, res(8, 16, 0))}
	for _, tc := range []struct {
		name    string
		jobs    []rcq.PendingJob
		started []rcq.JobID
	}{
		{"cores", []rcq.PendingJob{pending(1, res(4, 1, 0), 1), pending(2, res(4, 1, 0), 1), pending(3, res(4, 1, 0), 1)}, []rcq.JobID{1, 2}},
		{"memory", []rcq.PendingJob{pending(1, res(1, 10, 0), 1), pending(2, res(1, 10, 0), 1)}, []rcq.JobID{1}},
		{"several fit at once", []rcq.PendingJob{pending(1, res(2, 4, 0), 1), pending(2, res(2, 4, 0), 1), pending(3, res(4, 8, 0), 1)}, []rcq.JobID{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Schedule(snapshot(workers, nil, tc.jobs...), unlimited())
			var got []rcq.JobID
			for _, s := range p.Starts {
				got = append(got, s.JobID)
			}
			if !slices.Equal(got, tc.started) {
				t.Fatalf("started %v, want %v", got, tc.started)
			}
			for _, j := range p.Jobs {
				if !slices.Contains(tc.started, j.JobID) && j.Reason != rcq.ReasonResources {
					t.Errorf("job %d: reason %q, want Resources", j.JobID, j.Reason)
				}
			}
		})
	}
}

func TestGPUIndices(t *testing.T) {
	workers := []rcq.Worker{worker(1, res(32, 128, 4))}
	run := []rcq.RunningJob{running(100, 1, res(2, 8, 2), time.Hour, 4, 0, 2)}
	p := Schedule(snapshot(workers, run,
		pending(1, res(2, 8, 1), 1), pending(2, res(2, 8, 1), 1), pending(3, res(2, 8, 1), 1)), unlimited())
	want := map[rcq.JobID][]int{1: {1}, 2: {3}}
	if len(p.Starts) != 2 {
		t.Fatalf("starts = %+v, want jobs 1 and 2 on the two free GPUs", p.Starts)
	}
	for _, s := range p.Starts {
		if !slices.Equal(s.GPUIndices, want[s.JobID]) {
			t.Errorf("job %d got GPUs %v, want %v", s.JobID, s.GPUIndices, want[s.JobID])
		}
	}
	if j := planned(p, 3); j.Reason != rcq.ReasonResources || !strings.Contains(j.Detail, "gpu_count") {
		t.Errorf("job 3: %q %q, want Resources naming gpu_count", j.Reason, j.Detail)
	}

	// A multi-GPU job gets distinct indices; CPU-only jobs get none.
	p = Schedule(snapshot(workers, nil, pending(1, res(1, 1, 3), 1), pending(2, res(1, 1, 0), 1)), unlimited())
	if s, _ := startOf(p, 1); !slices.Equal(s.GPUIndices, []int{0, 1, 2}) {
		t.Errorf("3-GPU job got %v, want [0 1 2]", s.GPUIndices)
	}
	if s, _ := startOf(p, 2); len(s.GPUIndices) != 0 {
		t.Errorf("CPU job got GPUs %v", s.GPUIndices)
	}
}

func TestWorkerStates(t *testing.T) {
	drained := worker(2, res(64, 256, 0))
	drained.State = rcq.WorkerDrained
	offline := worker(3, res(128, 256, 0))
	offline.State = rcq.WorkerOffline
	workers := []rcq.Worker{worker(1, res(8, 16, 0)), drained, offline}
	p := Schedule(snapshot(workers, nil,
		pending(1, res(32, 8, 0), 1), pending(2, res(100, 8, 0), 1), pending(3, res(1000, 8, 0), 1), pending(4, res(2, 2, 0), 1)), unlimited())
	if len(p.Starts) != 1 || p.Starts[0].JobID != 4 || p.Starts[0].WorkerID != 1 {
		t.Fatalf("starts = %+v, want only job 4 on w1 (drained and offline workers take nothing)", p.Starts)
	}
	for id, want := range map[int]string{1: "w2 is drained", 2: "w3 is offline"} {
		if j := planned(p, id); j.Reason != rcq.ReasonWorkerDrained || !strings.Contains(j.Detail, want) || j.ExpectedStart != nil {
			t.Errorf("job %d: %q %q (start %v), want WorkerDrained naming %q, no expected start", id, j.Reason, j.Detail, j.ExpectedStart, want)
		}
	}
	if j := planned(p, 3); j.Reason != rcq.ReasonResources || !strings.Contains(j.Detail, "largest online worker has 8") || j.ExpectedStart != nil {
		t.Errorf("job 3: %q %q, want Resources: the largest online worker has 8", j.Reason, j.Detail)
	}
}

func TestMaxConcurrentJobs(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxConcurrentJobs = 3
	workers := []rcq.Worker{worker(1, res(64, 256, 0))}
	run := []rcq.RunningJob{running(100, 1, res(1, 1, 0), time.Hour, 2)}
	p := Schedule(snapshot(workers, run,
		pending(1, res(1, 1, 0), 1), pending(2, res(1, 1, 0), 1), pending(3, res(1, 1, 0), 1), pending(4, res(1, 1, 0), 1)), cfg)
	if len(p.Starts) != 2 {
		t.Fatalf("starts = %+v, want 2 (3 allowed, 1 running)", p.Starts)
	}
	for _, id := range []int{3, 4} {
		j := planned(p, id)
		if j.Reason != rcq.ReasonConcurrencyLimit || !strings.Contains(j.Detail, "3 of 3") {
			t.Errorf("job %d: %q %q, want ConcurrencyLimit 3 of 3", id, j.Reason, j.Detail)
		}
	}
	// Expected starts follow the slots: job 3 when the running job ends (in
	// an hour), job 4 when the first of the new ones ends (in an hour too,
	// since they run an hour each).
	if j := planned(p, 3); j.ExpectedStart == nil || !j.ExpectedStart.Equal(*at(time.Hour)) {
		t.Errorf("job 3 expected at %v, want %v", j.ExpectedStart, at(time.Hour))
	}
	if j := planned(p, 4); j.ExpectedStart == nil || !j.ExpectedStart.Equal(*at(time.Hour)) {
		t.Errorf("job 4 expected at %v, want %v", j.ExpectedStart, at(time.Hour))
	}
	cfg.MaxConcurrentJobs = 0
	if p := Schedule(snapshot(workers, run, pending(1, res(1, 1, 0), 1), pending(2, res(1, 1, 0), 1), pending(3, res(1, 1, 0), 1),
		pending(4, res(1, 1, 0), 1)), cfg); len(p.Starts) != 4 {
		t.Errorf("MaxConcurrentJobs 0 started %d of 4", len(p.Starts))
	}
}

// The tree's pruned search finds exactly the brute-force best fit.
func TestBestFitMatchesBruteForce(t *testing.T) {
	for seed := range uint64(200) {
		g := newGen(seed)
		n := 1 + g.rng.IntN(70)
		vals := make([]rcq.Resources, n)
		for i := range vals {
			vals[i] = res(g.rng.IntN(9), g.rng.IntN(9), g.rng.IntN(3))
			if g.rng.IntN(3) == 0 && i > 0 {
				vals[i] = vals[g.rng.IntN(i)] // ties
			}
		}
		tree := newResTree(vals)
		var bs [3]*buckets
		for d := range bs {
			bs[d] = newBuckets(vals, d, 8)
		}
		total := rcq.Resources{}
		for _, v := range vals {
			total = total.Add(v)
		}
		for range 50 {
			r := res(g.rng.IntN(6), g.rng.IntN(6), g.rng.IntN(2))
			skip := -1
			if g.rng.IntN(2) == 0 {
				skip = g.rng.IntN(n)
			}
			d := scarcest(r, total)
			want := -1
			for i, v := range vals {
				if i == skip || !r.Fits(v) {
					continue
				}
				if want < 0 || keyOf(v, r, d).less(keyOf(vals[want], r, d)) {
					want = i
				}
			}
			if got := tree.bestFit(r, d, skip); got != want {
				t.Fatalf("seed %d: tree bestFit(%v, skip %d) = %d, brute force %d", seed, r, skip, got, want)
			}
			if got := bs[d].bestFit(r, d, skip, func(leaf int) rcq.Resources { return vals[leaf] }); got != want {
				t.Fatalf("seed %d: buckets bestFit(%v, skip %d) = %d, brute force %d", seed, r, skip, got, want)
			}
			// Updates keep both right.
			i := g.rng.IntN(n)
			vals[i] = res(g.rng.IntN(9), g.rng.IntN(9), g.rng.IntN(3))
			tree.set(i, vals[i])
			for d, b := range bs {
				b.move(int32(i), dim(vals[i], d))
			}
		}
	}
}

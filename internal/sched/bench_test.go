package sched

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// benchSnapshot is a busy cluster: workers of 64 cores and 256 GB (one in
// four with 8 GPUs), each about 90% full of running jobs with staggered ends,
// and a queue of mixed jobs (1-16 cores, 1-64 GB, one in ten with 1-4 GPUs,
// 30 min to 24 h) from 10 groups, a few held or waiting on dependencies.
func benchSnapshot(jobs, workers int) *rcq.Snapshot {
	rng := rand.New(rand.NewPCG(uint64(jobs), uint64(workers)))
	snap := &rcq.Snapshot{Now: now, DepStates: map[rcq.JobID]rcq.JobState{}}
	for g := range 10 {
		snap.Groups = append(snap.Groups, rcq.GroupShare{Group: rcq.Group{ID: rcq.GroupID(g + 1), CPUQuota: 10000, Priority: 1 + g%10},
			UsageCPUHours: float64(rng.IntN(20000))})
	}
	id := 10_000_000
	for w := range workers {
		c := res(64, 256, 0)
		if w%4 == 0 {
			c.GPUs = 8
		}
		snap.Workers = append(snap.Workers, worker(w+1, c))
		free, gpu := c, 0
		for free.CPUCores > 6 {
			r := res(1+rng.IntN(8), 1+rng.IntN(32), 0)
			if c.GPUs > 0 && rng.IntN(3) == 0 {
				r.GPUs = 1 + rng.IntN(2)
			}
			if !r.Fits(free) {
				break
			}
			var idx []int
			for range r.GPUs {
				idx = append(idx, gpu)
				gpu++
			}
			free = free.Sub(r)
			id++
			snap.Running = append(snap.Running, running(id, w+1, r, time.Duration(rng.IntN(600))*time.Minute, float64(1+rng.IntN(24))))
			snap.Running[len(snap.Running)-1].GPUIndices = idx
		}
	}
	snap.Pending = make([]rcq.PendingJob, jobs)
	for i := range jobs {
		j := pending(i+1, res(1+rng.IntN(16), 1+rng.IntN(64), 0), 0.5+float64(rng.IntN(48))/2)
		if rng.IntN(10) == 0 {
			j.Resources.GPUs = 1 + rng.IntN(4)
		}
		j.GroupID = rcq.GroupID(1 + rng.IntN(10))
		j.Priority = 1 + rng.IntN(10)
		j.SubmittedAt = now.Add(-time.Duration(rng.IntN(100*3600)) * time.Second)
		switch rng.IntN(50) {
		case 0:
			j.Hold = rcq.HoldUser
		case 1:
			dep := rcq.JobID(1 + rng.IntN(jobs))
			j.Dependencies = []rcq.Dependency{{Type: rcq.AfterOK, JobID: dep}}
			snap.DepStates[dep] = rcq.JobPending // the store reports every dependency's state
		}
		snap.Pending[i] = j
	}
	return snap
}

func BenchmarkSchedule(b *testing.B) {
	for _, jobs := range []int{1_000, 10_000, 100_000} {
		for _, workers := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("%dkx%d", jobs/1000, workers), func(b *testing.B) {
				snap := benchSnapshot(jobs, workers)
				cfg := unlimited()
				b.ReportAllocs()
				var p rcq.Plan
				for b.Loop() {
					p = Schedule(snap, cfg)
				}
				b.ReportMetric(float64(len(p.Starts)), "starts")
			})
		}
	}
}

// BenchmarkScheduleIdle is the heaviest cycle: an empty cluster of 1,000
// workers and 100k queued jobs, no concurrency cap, so thousands start at once.
func BenchmarkScheduleIdle(b *testing.B) {
	snap := benchSnapshot(100_000, 1000)
	snap.Running = nil
	cfg := unlimited()
	b.ReportAllocs()
	var p rcq.Plan
	for b.Loop() {
		p = Schedule(snap, cfg)
	}
	b.ReportMetric(float64(len(p.Starts)), "starts")
}

// BenchmarkScheduleWide is the worst case for expected starts: every queued
// job needs a whole worker, so each estimate waits for workers to empty.
func BenchmarkScheduleWide(b *testing.B) {
	snap := benchSnapshot(100_000, 1000)
	for i := range snap.Pending {
		snap.Pending[i].Resources = res(64, 64, 0)
	}
	cfg := unlimited()
	b.ReportAllocs()
	for b.Loop() {
		Schedule(snap, cfg)
	}
}

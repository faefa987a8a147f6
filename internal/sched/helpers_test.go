package sched

import (
	"fmt"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// now is the database clock of every hand-written snapshot.
var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func res(cpu, mem, gpu int) rcq.Resources {
	return rcq.Resources{CPUCores: cpu, MemoryGB: mem, GPUs: gpu}
}

func worker(id int, r rcq.Resources) rcq.Worker {
	return rcq.Worker{ID: rcq.WorkerID(id), Name: fmt.Sprintf("w%d", id), Capacity: r, State: rcq.WorkerOnline}
}

// pending is a job of group 1 with priority 5, submitted id minutes before now
// minus an hour, so lower ids are older.
func pending(id int, r rcq.Resources, hours float64) rcq.PendingJob {
	return rcq.PendingJob{ID: rcq.JobID(id), UserID: 1, GroupID: 1, Resources: r, EstimatedHours: hours,
		Priority: 5, SubmittedAt: now.Add(-time.Hour + time.Duration(id)*time.Second)}
}

// running is a job on worker w that started ago and has limit hours.
func running(id, w int, r rcq.Resources, ago time.Duration, hours float64, gpus ...int) rcq.RunningJob {
	return rcq.RunningJob{ID: rcq.JobID(id), GroupID: 1, WorkerID: rcq.WorkerID(w), Resources: r,
		GPUIndices: gpus, StartedAt: now.Add(-ago), EstimatedHours: hours}
}

func snapshot(workers []rcq.Worker, run []rcq.RunningJob, jobs ...rcq.PendingJob) *rcq.Snapshot {
	return &rcq.Snapshot{Now: now, Workers: workers, Running: run, Pending: jobs,
		Groups: []rcq.GroupShare{{Group: rcq.Group{ID: 1, Name: "g1", CPUQuota: 1000, Priority: 5}, UsageCPUHours: 500}}}
}

// unlimited is the default config without the concurrency cap.
func unlimited() Config {
	c := DefaultConfig()
	c.MaxConcurrentJobs = 0
	return c
}

// planned returns the planned job id.
func planned(p rcq.Plan, id int) rcq.PlannedJob {
	for _, j := range p.Jobs {
		if j.JobID == rcq.JobID(id) {
			return j
		}
	}
	panic(fmt.Sprintf("job %d not in plan", id))
}

// startOf returns the start of job id, or false.
func startOf(p rcq.Plan, id int) (rcq.Start, bool) {
	for _, s := range p.Starts {
		if s.JobID == rcq.JobID(id) {
			return s, true
		}
	}
	return rcq.Start{}, false
}

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

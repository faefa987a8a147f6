package sched

import (
	"fmt"

	"github.com/rcq-project/rcq/internal/rcq"
)

// arrayRoom counts the running elements of each job array, including the
// starts of this cycle, for the throttle (sbatch --array=...%N).
type arrayRoom struct {
	running map[rcq.JobID]int
}

func newArrayRoom(snap *rcq.Snapshot) *arrayRoom {
	a := &arrayRoom{running: map[rcq.JobID]int{}}
	for i := range snap.Running {
		if id := snap.Running[i].ArrayJobID; id != 0 {
			a.running[id]++
		}
	}
	return a
}

// room is how many more elements of j's array may start now (j has a throttle).
func (a *arrayRoom) room(j *rcq.PendingJob) int {
	return j.ArrayThrottle - a.running[j.ArrayJobID]
}

func (a *arrayRoom) started(j *rcq.PendingJob) {
	a.running[j.ArrayJobID]++
}

func arrayLimitText(j *rcq.PendingJob) string {
	return fmt.Sprintf("at most %d elements of array %d run at once (%%%d)", j.ArrayThrottle, j.ArrayJobID, j.ArrayThrottle)
}

// arrayNeverText explains the cancel of element t of j's array whose
// aftercorr can never be met.
func arrayNeverText(j *rcq.PendingJob, t int) string {
	for _, d := range j.Dependencies {
		if d.Type == rcq.AfterCorr && d.ArrayTaskID == nil {
			return fmt.Sprintf("element %d: aftercorr:%d can never be met: job %d_%d did not complete", t, d.JobID, d.JobID, t)
		}
	}
	return fmt.Sprintf("element %d: a dependency can never be met", t)
}

package faults

import (
	"testing"
	"time"
)

// Item 8: a job that ignores SIGTERM, with a 10-second limit, ends as
// timeout after the grace period, with its whole process group gone
// (including a background child that ignores SIGTERM too).
func TestFaultTimeoutIgnoresTerm(t *testing.T) {
	d := newDaemon(t, daemonOptions{})
	d.start()
	c := d.nobody()
	work := tempDir(t, "w")

	req := jobSpec(work, markRun(work)+"\ntrap '' TERM\nsleep 600 &\nsleep 600\n")
	req.EstimatedHours = ptr(10.0 / 3600)
	id := submit(t, c, req)
	j := waitStatus(t, c, id, 60*time.Second, "running")
	if j.StartedAt == nil {
		t.Fatalf("running job %d has no start time", id)
	}
	// 10 s of limit + 2 s of grace (RCQ_JOBS_KILL_GRACE_SECONDS) + slack.
	j = waitJobs(t, c, []int64{id}, 60*time.Second)[id]
	if j.Status != "timeout" {
		t.Fatalf("job %d ended %s (%s %s), want timeout", id, j.Status, j.Reason, j.ReasonDetail)
	}
	if j.CompletedAt == nil || j.CompletedAt.Sub(*j.StartedAt) < 10*time.Second {
		t.Errorf("job %d ran %v, less than its 10 s limit", id, j.CompletedAt.Sub(*j.StartedAt))
	}
	if gone, pgid := jobGroupGone(d.dir, id); !gone {
		t.Errorf("job %d ended as timeout but its process group %d is still alive", id, pgid)
	}
	if n := runCounts(t, work)[id]; n != 1 {
		t.Errorf("job %d started %d times", id, n)
	}
	checkInvariants(t, d.dbURL, d)
}

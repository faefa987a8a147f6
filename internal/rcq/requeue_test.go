package rcq

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// A job that ran may be requeued by hand, running or ended however; a
// pending job, a job that ended before it started, and a job submitted
// with --no-requeue may not, each with its own code.
func TestCheckRequeue(t *testing.T) {
	at := time.Unix(1_700_000_000, 0)
	yes, no := true, false
	cases := []struct {
		name    string
		j       Job
		code    string // "" for allowed
		message string
	}{
		{"running", Job{State: JobRunning, StartedAt: &at}, "", ""},
		{"completed", Job{State: JobCompleted, StartedAt: &at, CompletedAt: &at}, "", ""},
		{"failed", Job{State: JobFailed, StartedAt: &at, CompletedAt: &at}, "", ""},
		{"timeout", Job{State: JobTimeout, StartedAt: &at, CompletedAt: &at}, "", ""},
		{"node_fail", Job{State: JobNodeFail, StartedAt: &at, CompletedAt: &at}, "", ""},
		{"cancelled while running", Job{State: JobCancelled, StartedAt: &at, CompletedAt: &at}, "", ""},
		{"cancelled, processes still ending", Job{State: JobCancelled, StartedAt: &at}, "", ""},
		{"asked for --requeue", Job{State: JobCompleted, StartedAt: &at, CompletedAt: &at, Requeue: &yes}, "", ""},
		{"pending", Job{State: JobPending}, "job_pending", "job 7 is pending: it is in the queue already"},
		{"held", Job{State: JobPending, Hold: HoldUser}, "job_pending", "job 7 is pending"},
		{"pending after a requeue", Job{State: JobPending, Restarts: 1}, "job_pending", "no run to requeue"},
		{"cancelled while pending", Job{State: JobCancelled, CompletedAt: &at}, "job_never_ran", "job 7 was cancelled before it started: it has no run to requeue; submit the script again"},
		{"--no-requeue", Job{State: JobFailed, StartedAt: &at, CompletedAt: &at, Requeue: &no}, "requeue_disabled", "job 7 was submitted with --no-requeue: it is never requeued"},
		{"unknown state", Job{State: "bogus", StartedAt: &at}, "job_not_requeueable", "job 7 is bogus: it cannot be requeued"},
	}
	for _, c := range cases {
		c.j.ID = 7
		err := c.j.CheckRequeue()
		if c.code == "" {
			if err != nil {
				t.Errorf("%s: %v, want allowed", c.name, err)
			}
			continue
		}
		if KindOf(err) != KindConflict || CodeOf(err) != c.code || !strings.Contains(MessageOf(err), c.message) {
			t.Errorf("%s: %v (kind %v code %q), want a conflict %q saying %q", c.name, err, KindOf(err), CodeOf(err), c.code, c.message)
		}
	}
}

func TestRequeueStates(t *testing.T) {
	want := []JobState{JobRunning, JobCompleted, JobFailed, JobCancelled, JobTimeout, JobNodeFail}
	if got := RequeueStates(); !slices.Equal(got, want) {
		t.Errorf("RequeueStates() = %v, want %v", got, want)
	}
	if got := RequeuedBy("alice@lab"); got != "requeued by alice@lab" {
		t.Errorf("RequeuedBy = %q", got)
	}
}

package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/rcq-project/rcq/internal/client"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// ExitCodeOf is the exit code rcq-submit --wait and rcq-tail return for a
// finished job: the job's own exit code; 1 when a signal ended it, or when
// it was cancelled or timed out without one.
func ExitCodeOf(j *apitype.Job) int {
	if j.Signal != "" {
		return 1
	}
	if j.ExitCode != nil && *j.ExitCode != 0 {
		return max(1, min(*j.ExitCode, 255))
	}
	if rcq.JobState(j.Status) == rcq.JobCompleted {
		return 0
	}
	return 1
}

// DescribeEnd says how a job ended, with the reason's detail when rcqd gave
// one (why a launch failed, which output path was refused, ...).
func DescribeEnd(j *apitype.Job) string {
	var msg string
	switch {
	case j.Signal != "":
		msg = fmt.Sprintf("job %d was killed by signal %s (%s)", j.ID, j.Signal, j.Status)
	case rcq.JobState(j.Status) == rcq.JobCancelled:
		msg = fmt.Sprintf("job %d was cancelled", j.ID)
	case rcq.JobState(j.Status) == rcq.JobTimeout:
		msg = fmt.Sprintf("job %d reached its time limit", j.ID)
	case j.ExitCode != nil:
		msg = fmt.Sprintf("job %d %s with exit code %d", j.ID, j.Status, *j.ExitCode)
	default:
		msg = fmt.Sprintf("job %d %s", j.ID, j.Status)
		if j.Reason != "" {
			msg += " (" + j.Reason + ")"
		}
	}
	if j.ReasonDetail != "" {
		msg += ": " + j.ReasonDetail
	}
	return msg
}

// WaitJob returns job id once until says it is what the caller waits for
// (ended, started, ...). It follows the job through rcqd's event stream,
// reading the job when an event about it arrives; against an older rcqd
// without events it polls, with a delay growing from first to most (zero:
// 100 ms and 2 s).
func WaitJob(ctx context.Context, c *client.Client, id int64, first, most time.Duration, until func(*apitype.Job) bool) (*apitype.Job, error) {
	return c.WaitJob(ctx, id, client.Poll{First: first, Most: most}, until)
}

// Ended reports whether a job has ended, for WaitJob.
func Ended(j *apitype.Job) bool { return rcq.JobState(j.Status).Terminal() }

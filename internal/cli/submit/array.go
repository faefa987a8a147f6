package submit

import (
	"context"
	"fmt"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
)

// ArrayEnd reads the rows of an array (GET /api/jobs?ids=ID): done once
// every row has ended (elements, and the array's own row, which may end
// with elements never started, as when the array is cancelled); then code
// is sbatch --wait's: the highest exit code of any element (cli.ExitCodeOf
// of each), and worst the element that gave it, failed counts the elements
// that did not complete.
func ArrayEnd(rows []apitype.Job) (done bool, code int, worst *apitype.Job, failed int) {
	if len(rows) == 0 {
		return false, 0, nil, 0
	}
	for i := range rows {
		j := &rows[i]
		if !rcq.JobState(j.Status).Terminal() {
			return false, 0, nil, 0
		}
		c := cli.ExitCodeOf(j)
		if c != 0 {
			failed++
			if j.ArrayTasks != "" {
				// The array's row for elements never started (cancelled
				// before they ran): each of them.
				if set, err := rcq.ParseIndexSet(j.ArrayTasks); err == nil {
					failed += set.Len() - 1
				}
			}
		}
		if worst == nil || c > code {
			code, worst = c, j
		}
	}
	return true, code, worst, failed
}

// waitArray is --wait for an array: it reads the array's rows whenever an
// element's state changes (polling an older rcqd without events) until
// every element has ended, and exits with the highest exit code among them.
func waitArray(ctx context.Context, opts *Options, s *cli.Session, resp *apitype.SubmitResponse, asJSON bool) error {
	f := opts.F
	var list *apitype.JobList
	var code int
	var worst *apitype.Job
	var failed int
	err := s.Client.Follow(ctx, []int64{resp.JobID}, client.Poll{First: opts.PollInterval, Most: opts.MaxPollInterval},
		func(ev client.Event) bool { return rcq.JobState(ev.Job.State).Terminal() },
		func(ctx context.Context) (bool, error) {
			l, err := s.ArrayJobs(ctx, resp.JobID)
			if err != nil {
				return false, err
			}
			var done bool
			list = l
			done, code, worst, failed = ArrayEnd(l.Jobs)
			return done, nil
		})
	if err != nil {
		return err
	}
	if asJSON {
		if err := cli.PrintJSON(f.IO.Out, list); err != nil {
			return err
		}
	}
	if code != 0 {
		desc := strings.Replace(cli.DescribeEnd(worst), fmt.Sprintf("job %d", worst.ID), "job "+worst.SlurmID(), 1)
		f.Errorf("array %d: %d of %d elements did not complete; %s", resp.JobID, failed, max(failed, resp.ArrayTaskCount), desc)
	}
	return &cli.ExitError{Code: code}
}

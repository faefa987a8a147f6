// Package show is rcq-show, the counterpart of "scontrol show job": every
// field of a job as Slurm-style Key=Value lines, or the API's job as JSON.
package show

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/show/jobtext"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/spf13/cobra"
)

// Options is what the command line gave rcq-show.
type Options struct {
	F *cli.Factory

	JobIDs []int64
	// Refs are the jobs in the order named, array elements (123_4) too;
	// JobIDs those that are plain ids. Nil: JobIDs.
	Refs []rcq.JobRef
	JSON bool
}

const long = `Show jobs in full, like "scontrol show job".

Each job is printed as Key=Value lines with Slurm's names: JobId, JobName,
UserId, GroupId, Priority (and for a pending job its rank and the factors
of its final priority: Base, FairShare, WaitBoost), JobState, Reason and
ReasonDetail (the numbers behind the reason), Dependency (each with the
state of the job it waits on), ExitCode (code:signal), RunTime, TimeLimit,
SubmitTime, StartTime (expected, for a pending job the scheduler can place),
EndTime, NodeList, NumCPUs, TRES, MinMemoryNode, GRES (GPU indices),
TotalCPU (user+system CPU time), MaxRSS (peak memory), WorkDir, StdErr,
StdIn, StdOut and Umask. Several jobs are separated by a blank line.
"rcq-show job 42" is accepted too, as scontrol's habit.

An array element (123_4, or several: 123_[1-3]) shows ArrayJobId and
ArrayTaskId on its first line; an array's id shows every element, those
not yet started as one job with their indices (ArrayTaskId=4-99) and
ArrayTaskThrottle.

--json prints the API's job object (GET /api/jobs/{id}); several jobs are
{"jobs": [...]}.

A job that is not yours is reported like a missing one: "job N not found",
exit code 1 (admins see every job).

` + cli.ExitStatusHelp

const example = `  rcq-show 42
  rcq-show job 42
  rcq-show 42 43
  rcq-show 123_4
  rcq-show --json 42 | jq .exit_code`

// NewCmd builds rcq-show. runF, when not nil, replaces the run.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:               "rcq-show [flags] [job] ID...",
		Short:             "Show jobs in full (like scontrol show job)",
		Long:              long,
		Example:           example,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: cli.CompleteJobIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 && strings.EqualFold(args[0], "job") {
				args = args[1:]
			}
			refs, err := cli.ParseJobRefs(args)
			if err != nil {
				return err
			}
			if len(refs) == 0 {
				return cli.Usagef("no job given: name a job id, e.g. rcq-show 42")
			}
			opts.JobIDs, _ = cli.SplitRefs(refs)
			opts.Refs = refs
			if runF != nil {
				return runF(opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the API's job object as JSON")
	return cmd
}

// NewRootCmd is the command of the program: NewCmd without a runF.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }

func showRun(ctx context.Context, opts *Options) error {
	f := opts.F
	s, err := f.Client()
	if err != nil {
		return err
	}
	var jobs []*apitype.Job
	failed := false
	names := targets(opts)
	for _, id := range names {
		j, err := s.JobRef(ctx, id) // one request per job: the job, its plan and its dependencies' states
		if err == nil && j.ArrayJobID != nil && *j.ArrayJobID == j.ID && !strings.Contains(id, "_") {
			// An array's id: every element, as scontrol shows it.
			var list *apitype.JobList
			if list, err = s.ArrayJobs(ctx, j.ID); err == nil && len(list.Jobs) > 0 {
				for i := range list.Jobs {
					jobs = append(jobs, &list.Jobs[i])
				}
				continue
			}
		}
		var conn *client.ConnError
		switch {
		case err == nil:
			jobs = append(jobs, j)
			continue
		case errors.As(err, &conn), errors.Is(err, rcq.ErrUnauthorized), ctx.Err() != nil:
			return err
		case errors.Is(err, rcq.ErrNotFound):
			if len(names) == 1 {
				return fmt.Errorf("job %s not found", id)
			}
			f.Errorf("job %s not found", id)
		default:
			if len(names) == 1 {
				return err
			}
			f.Errorf("%s", err)
		}
		failed = true
	}
	if opts.JSON {
		if len(names) == 1 && len(jobs) == 1 {
			if err := cli.PrintJSON(f.IO.Out, jobs[0]); err != nil {
				return err
			}
		} else {
			if jobs == nil {
				jobs = []*apitype.Job{}
			}
			if err := cli.PrintJSON(f.IO.Out, map[string]any{"jobs": jobs}); err != nil {
				return err
			}
		}
	} else {
		var b strings.Builder
		for i, j := range jobs {
			if i > 0 {
				b.WriteByte('\n')
			}
			Write(&b, j, f.Now())
		}
		if _, err := io.WriteString(f.IO.Out, b.String()); err != nil {
			return err
		}
	}
	if failed {
		return &cli.ExitError{Code: cli.ExitFailure}
	}
	return nil
}

// targets are the jobs to ask rcqd for, in the order named: ids, and each
// element of an element list (123_[1-3] is 123_1, 123_2, 123_3).
func targets(opts *Options) []string {
	refs := opts.Refs
	if refs == nil {
		for _, id := range opts.JobIDs {
			refs = append(refs, rcq.JobRef{JobID: rcq.JobID(id)})
		}
	}
	var out []string
	for _, r := range refs {
		if r.Tasks == nil {
			out = append(out, r.String())
			continue
		}
		for _, i := range r.Tasks.Indices() {
			out = append(out, rcq.ArrayJobName(r.JobID, i, nil, 0))
		}
	}
	return out
}

// Write prints j as scontrol prints a job (package jobtext).
func Write(w io.StringWriter, j *apitype.Job, now time.Time) { jobtext.Write(w, j, now) }

// ExitCode is Slurm's "code:signal" (package jobtext).
func ExitCode(code *int, signal string) string { return jobtext.ExitCode(code, signal) }

// Duration is scontrol's time: [days-]hours:minutes:seconds (package jobtext).
func Duration(sec int64) string { return jobtext.Duration(sec) }

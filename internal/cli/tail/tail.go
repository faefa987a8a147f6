// Package tail is rcq-tail: a job's output as it is written, like tail -f on
// a Slurm job's output file, ending with the job's exit code.
package tail

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/rcq"
)

// Options are rcq-tail's parsed flags and argument.
type Options struct {
	F      *cli.Factory
	JobID  int64
	Stderr bool // the job's standard error instead of its output
	Once   bool // what is there now, then exit (no following)

	// PollInterval and MaxPollInterval pace the wait for a pending job to
	// start; zero means the defaults (tests shorten them).
	PollInterval, MaxPollInterval time.Duration
}

const long = `Print a job's output as the job writes it, like tail -f on its output
file, and end when the job ends, with the job's exit code (1 when a signal
ended it, or when it was cancelled or timed out).

A job that is still pending is waited for: its output follows once it
starts. rcqd reads the file as the job's Unix user, so the output can live
wherever the job may write.

` + cli.ExitStatusHelp + `
  (otherwise: the job's exit code)`

const example = `  rcq-tail 42
  rcq-tail --stderr 42
  rcq-tail --once 42 | grep -c loss
  id=$(rcq-submit --parsable train.sh) && rcq-tail $id`

// NewCmd builds rcq-tail. runF, when not nil, replaces the run.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:     "rcq-tail [flags] <job-id>",
		Short:   "Follow a job's output until it ends (like tail -f)",
		Long:    long,
		Example: example,
		Args:    cli.ArgsUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return cli.Usagef("%q is not a job id: use a positive number", args[0])
			}
			opts.JobID = id
			if runF != nil {
				return runF(opts)
			}
			return tailRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVarP(&opts.Stderr, "stderr", "e", false, "follow the job's standard error (when it has its own file)")
	fl.BoolVar(&opts.Once, "once", false, "print what the job has written so far and exit 0, without following")
	cmd.ValidArgsFunction = cli.CompleteJobIDs(f)
	return cmd
}

// NewRootCmd is the command of the program: NewCmd without a runF.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }

func tailRun(ctx context.Context, opts *Options) error {
	f := opts.F
	s, err := f.Client()
	if err != nil {
		return err
	}
	job, err := waitStarted(ctx, opts, s)
	if err != nil {
		return err
	}
	if job.StartedAt != nil {
		stream := "stdout"
		if opts.Stderr {
			stream = "stderr"
		}
		out, err := s.Output(ctx, opts.JobID, stream, !opts.Once)
		if err != nil {
			return err
		}
		_, err = io.Copy(f.IO.Out, out)
		out.Close()
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("job %d's output: %w", opts.JobID, err)
		}
		if opts.Once {
			return nil
		}
		if job, err = s.Job(ctx, opts.JobID); err != nil {
			return err
		}
	}
	code := cli.ExitCodeOf(job)
	if code != 0 {
		f.Errorf("%s", cli.DescribeEnd(job))
	}
	return &cli.ExitError{Code: code}
}

// waitStarted returns the job once it has started, or ended without
// starting (cancelled while pending). With --once it does not wait.
func waitStarted(ctx context.Context, opts *Options, s *cli.Session) (*apitype.Job, error) {
	started := func(j *apitype.Job) bool { return j.StartedAt != nil || cli.Ended(j) }
	job, err := s.Job(ctx, opts.JobID)
	switch {
	case errors.Is(err, rcq.ErrNotFound):
		return nil, fmt.Errorf("job %d not found", opts.JobID)
	case err != nil:
		return nil, err
	case started(job):
		return job, nil
	case opts.Once:
		return nil, &cli.ExitError{Code: cli.ExitFailure, Err: fmt.Errorf("job %d has not started: it has no output yet", opts.JobID)}
	}
	return cli.WaitJob(ctx, s.Client, opts.JobID, opts.PollInterval, opts.MaxPollInterval, started)
}

// Package submit is rcq-submit, sbatch's counterpart: it reads a batch
// script's #RCQ and #SBATCH directives, RCQ_*/SBATCH_* input variables and
// command-line options into a job and submits it.
//
// The parsers for directives (ParseDirectives, SplitWords), time limits
// (ParseTime), memory sizes (ParseMem), GPUs (ParseGPUs, ParseGres) and
// --export (BuildEnv) are exported for the fuzz targets and for other tools.
package submit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/submit/plan"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/spf13/cobra"
)

// Options is what the command line gave rcq-submit.
type Options struct {
	F *cli.Factory

	// Args is the script and its arguments (empty: --wrap or standard input).
	Args []string
	// CmdLine holds the options given on the command line, by long name.
	CmdLine map[string]string
	// Slurm is set by sbatch: what Slurm refuses is refused (exit 1, Slurm's
	// words) instead of warned about.
	Slurm bool

	// PollInterval is the first delay between checks of --wait (it doubles
	// up to MaxPollInterval). Zero means the defaults.
	PollInterval, MaxPollInterval time.Duration
}

const long = `Submit a batch script to rcqd, like sbatch.

The script is a file (its arguments follow it), the command of --wrap, or
standard input. Options come from, lowest precedence first: the script's
directives, RCQ_* (and SBATCH_*) input variables, and the command line.

Directives are lines at the top of the script that start with #RCQ or
#SBATCH in column 0, up to the first line that is not a comment. They take
the same options as the command line, e.g. "#SBATCH --mem=4G". An #SBATCH
option rcq does not support is ignored with a warning, so Slurm scripts run
unchanged; an unknown #RCQ option is an error.

%s

The job runs with the umask rcq-submit runs with, like sbatch: after
"umask 077" every file the job creates is private to its user.

On success rcq-submit prints "Submitted batch job ID" (only ID with
--parsable). With --wait it then waits for the job and exits with the job's
exit code (1 when a signal ended it, or when it was cancelled or timed out).

With --array the script runs once per index, each run an element with its
own job id, state and output (default rcq-%%A_%%a.out), SLURM_ARRAY_TASK_ID
set to its index; ID is the array's id (rcq-queue -j ID, rcq-cancel ID or
ID_INDEX). --wait waits for every element and exits with the highest exit
code among them.

` + cli.ExitStatusHelp + `
  (with --wait: the job's exit code)`

const example = `  # a script with #RCQ or #SBATCH directives
  rcq-submit job.sh
  rcq-submit -J train -c 8 --mem 32G -G 1 -t 2-00:00 train.sh --epochs 10

  # a one-line job, waiting for it and keeping its exit code
  rcq-submit --wrap "python analyse.py" --wait

  # a chain: the second job starts when the first succeeded
  id=$(rcq-submit --parsable prepare.sh)
  rcq-submit -d afterok:$id compute.sh

  # a job array: 100 elements, at most 8 running at once; then a job after
  # element 4, and an array whose element i follows element i of the first
  id=$(rcq-submit --parsable --array=0-99%8 sweep.sh)
  rcq-submit -d afterok:${id}_4 check.sh
  rcq-submit --array=0-99 -d aftercorr:$id post.sh

  # a script from standard input; when would it start?
  echo 'sleep 60' | rcq-submit --test-only -c 4`

// wholeNodeMemory gives r the memory of the largest worker not offline:
// sbatch's --mem=0, "all the memory of the node", on a queue whose job may
// go to any worker.
func wholeNodeMemory(ctx context.Context, s *cli.Session, r *apitype.SubmitRequest) error {
	nodes, err := s.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("--mem=0 (all of a node's memory): %w", err)
	}
	most := 0
	for _, w := range nodes.Workers {
		if w.Status != string(rcq.WorkerOffline) {
			most = max(most, w.MemoryGB)
		}
	}
	if most == 0 {
		return errors.New("--mem=0 (all of a node's memory): no worker is online to take the size of")
	}
	r.MemoryGB = &most
	return nil
}

// NewCmd builds rcq-submit. runF, when not nil, replaces the run: flag
// parsing tests stop there and inspect the options.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	return newCmd(f, runF, false)
}

func newCmd(f *cli.Factory, runF func(*Options) error, slurm bool) *cobra.Command {
	opts := &Options{F: f, Slurm: slurm}
	cmd := &cobra.Command{
		Use:     "rcq-submit [flags] [script [args...]]",
		Short:   "Submit a batch job to rcq (like sbatch)",
		Long:    fmt.Sprintf(long, plan.InputVariables()),
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			opts.CmdLine = cmdLine(cmd.Flags())
			if runF != nil {
				return runF(opts)
			}
			return submitRun(cmd.Context(), opts)
		},
	}
	// Everything after the script belongs to the script.
	cmd.Flags().SetInterspersed(false)
	addFlags(cmd.Flags())
	_ = cmd.RegisterFlagCompletionFunc("dependency", cli.CompleteDependency)
	_ = cmd.MarkFlagDirname("chdir")
	for _, name := range []string{"job-name", "cpus-per-task", "mem", "mem-per-cpu", "gpus", "gres", "time", "priority", "export", "wrap", "array"} {
		_ = cmd.RegisterFlagCompletionFunc(name, cobra.NoFileCompletions)
	}
	return cmd
}

// Plan is a submit ready to send: the request and what to do afterwards.
type Plan = plan.Plan

// Prepare reads the script and every source of options into a Plan, without
// talking to rcqd. Warnings go through f.Warnf.
func Prepare(opts *Options) (*Plan, error) {
	f := opts.F
	return plan.Prepare(&plan.Input{Args: opts.Args, CmdLine: opts.CmdLine, Slurm: opts.Slurm,
		Getenv: f.Getenv, Environ: f.Environ, Getwd: f.Getwd, Stdin: f.IO.In, StdinTTY: f.IO.IsStdinTTY, Warnf: f.Warnf})
}

// The parsers, for the fuzz targets and other tools (rcq-control's
// --time-limit); they live in package plan with the rest of the options.
var (
	ParseDirectives = plan.ParseDirectives
	SplitWords      = plan.SplitWords
	ParseTime       = plan.ParseTime
	ParseMem        = plan.ParseMem
	ParseMemPer     = plan.ParseMemPer
	ParseGPUs       = plan.ParseGPUs
	ParseGres       = plan.ParseGres
	BuildEnv        = plan.BuildEnv
)

// Directive is one #RCQ or #SBATCH line of a script.
type Directive = plan.Directive

func submitRun(ctx context.Context, opts *Options) error {
	f := opts.F
	p, err := Prepare(opts)
	if err != nil {
		return err
	}
	s, err := f.Client()
	if err != nil {
		return err
	}
	if p.Account != "" {
		if err := checkAccount(ctx, f, s, p); err != nil {
			return err
		}
	}
	if p.WholeNodeMemory {
		if err := wholeNodeMemory(ctx, s, &p.Request); err != nil {
			return err
		}
	}
	// A fresh key per invocation: should the request be retried after a lost
	// answer, rcqd returns the job it already made instead of a second one.
	resp, err := s.Submit(ctx, p.Request, client.SubmitOptions{TestOnly: p.TestOnly, IdempotencyKey: newKey()})
	if err != nil {
		return plan.AsOptionError(err)
	}
	out := f.IO.Out
	if p.TestOnly {
		if p.JSON {
			return cli.PrintJSON(out, resp)
		}
		switch {
		case resp.ExpectedStart != nil:
			f.Errorf("Job would start at %s", resp.ExpectedStart.Local().Format("2006-01-02T15:04:05"))
		case resp.Reason != "":
			f.Errorf("Job would wait (%s): %s", resp.Reason, resp.ReasonDetail)
		default:
			f.Errorf("Job is valid; rcqd cannot tell yet when it would start")
		}
		return nil
	}
	switch {
	case p.JSON && !p.Wait:
		return cli.PrintJSON(out, resp)
	case p.JSON:
	case p.Parsable:
		fmt.Fprintf(out, "%d\n", resp.JobID)
	default:
		fmt.Fprintf(out, "Submitted batch job %d\n", resp.JobID)
	}
	if !p.Wait {
		return nil
	}
	if p.Request.Array != "" {
		return waitArray(ctx, opts, s, resp, p.JSON)
	}
	job, err := cli.WaitJob(ctx, s.Client, resp.JobID, opts.PollInterval, opts.MaxPollInterval, cli.Ended)
	if err != nil {
		return err
	}
	if p.JSON {
		if err := cli.PrintJSON(out, job); err != nil {
			return err
		}
	}
	code := cli.ExitCodeOf(job)
	if code != 0 {
		f.Errorf("%s", cli.DescribeEnd(job))
	}
	return &cli.ExitError{Code: code}
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "rcq-submit-" + hex.EncodeToString(b[:])
}

// NewRootCmd is the command of the program: NewCmd without a runF.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }

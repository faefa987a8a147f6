// Package control is rcq-control, the counterpart of scontrol's job
// actions: hold, release, requeue and update jobs.
package control

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/show"
	"github.com/rcq-project/rcq/internal/cli/submit"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/spf13/cobra"
)

// Options is what the command line gave rcq-control.
type Options struct {
	F *cli.Factory

	Action string // hold, release, requeue or update
	Hold   bool   // requeue --hold: put the jobs back held (scontrol requeuehold)
	JobIDs []int64
	// Refs are the jobs in the order named, array elements (123_4,
	// 123_[1-3]) too; JobIDs are those that are plain ids. Nil: JobIDs.
	Refs   []rcq.JobRef
	Update apitype.JobUpdate // for update
}

const long = `Change jobs, like scontrol hold, release, requeue and update, and
show them, like scontrol show job.

JOB is a job id, an array's id (every element), an element (123_4) or
elements (123_[1-3,7]).

  show [job] JOB... show jobs in full, as rcq-show does
  hold JOB...       hold pending jobs back (they do not start until released)
  release JOB...    release held jobs
  requeue [--hold] JOB...
                    put jobs that ran back in the queue under their ids:
                    a running job is stopped, an ended one (completed,
                    failed, cancelled, timeout, node_fail) queued again;
                    it runs again when the scheduler starts it. --hold:
                    put it back held (scontrol requeuehold)
  update JOB[,JOB...] KEY=VALUE...
                    change pending jobs: TimeLimit= (Slurm's time forms),
                    Priority= (1-10), JobName= (or Name=), Dependency=
                    (afterok:ID[:ID...],afterany:ID,afternotok:ID; empty to
                    remove them). "update JobId=42 ..." works too.

You may change your own pending jobs: rename them, change their
dependencies, lower their time limit and their priority. Raising a time
limit or a priority, and changing other users' jobs, is for admins. A hold
by an admin can only be released by an admin. You may requeue your own
jobs that ran (not a pending job, nor one submitted with --no-requeue);
admins anyone's. Another user's job is reported like a missing one:
"job N not found".

Like scontrol, rcq-control prints nothing when every job was changed. It
prints one line per job that was not and exits with 1.

` + cli.ExitStatusHelp

const example = `  rcq-control hold 42 43
  rcq-control release 123_[4-7]
  rcq-control release 42
  rcq-control requeue 42 123_4
  rcq-control requeue --hold 42
  rcq-control update 42 TimeLimit=30:00 JobName=short
  rcq-control update JobId=42 Priority=1 Dependency=afterok:40
  rcq-control update 42 Dependency=`

// NewCmd builds rcq-control. runF, when not nil, replaces the run.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rcq-control show|hold|release|requeue|update ID... [KEY=VALUE...]",
		Short:   "Hold, release, requeue and update jobs (like scontrol)",
		Long:    long,
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unknown command %q: use show, hold, release, requeue or update", args[0])
			}
			return cli.Usagef("no command given: use show, hold, release, requeue or update")
		},
	}
	for _, action := range []struct{ name, short string }{
		{"hold", "Hold pending jobs back"},
		{"release", "Release held jobs"},
		{"requeue", "Put jobs that ran back in the queue (running ones are stopped)"},
	} {
		var hold bool
		sub := &cobra.Command{
			Use:               action.name + " ID...",
			Short:             action.short,
			Args:              cli.ArgsUsage(cobra.MinimumNArgs(1)),
			ValidArgsFunction: cli.CompleteJobIDs(f),
			RunE: func(c *cobra.Command, args []string) error {
				refs, err := cli.ParseJobRefs(args)
				if err != nil {
					return err
				}
				if len(refs) == 0 {
					return cli.Usagef("no job given: name job ids, e.g. rcq-control %s 42", action.name)
				}
				ids, _ := cli.SplitRefs(refs)
				opts := &Options{F: f, Action: action.name, Hold: hold, JobIDs: ids, Refs: refs}
				if runF != nil {
					return runF(opts)
				}
				return controlRun(c.Context(), opts)
			},
		}
		if action.name == "requeue" {
			sub.Long = `Put jobs that ran back in the queue under their ids, like scontrol
requeue: same id, priority and submit time, Restarts one more, reason
Requeued. A running job is stopped on its node (SIGKILL to its processes)
and its run charged to fair share up to now; an ended job (completed,
failed, cancelled, timeout, node_fail) stays charged for its run, whose exit
code and times give way to the next run's. The job runs again when the
scheduler starts it, its output files written afresh. An array's id
requeues every element that ran; 123_4 one element.

A pending job has nothing to requeue, nor has a job cancelled before it
started; a job submitted with --no-requeue is never requeued. A requeued
job counts against the pending-job limits like a submit.`
			sub.Example = "  rcq-control requeue 42\n  rcq-control requeue 123_4 123_[6-7]\n  rcq-control requeue --hold 42"
			sub.Flags().BoolVar(&hold, "hold", false, "put the jobs back held, as rcq-control hold would (scontrol requeuehold)")
		}
		cmd.AddCommand(sub)
	}
	// scontrol show job ID: rcq-show's command, under rcq-control.
	sc := show.NewCmd(f, nil)
	sc.Use, sc.Short = "show [job] ID...", "Show jobs in full (as rcq-show)"
	sc.Example = "  rcq-control show job 42\n  rcq-control show 123_4"
	cmd.AddCommand(sc)
	cmd.AddCommand(&cobra.Command{
		Use:   "update ID[,ID...] KEY=VALUE...",
		Short: "Change a pending job (TimeLimit, Priority, JobName, Dependency)",
		Long: `Change a pending job, like scontrol update. Keys, in any case:

  TimeLimit=   Slurm's time forms: 30, 1:00:00, 2-00 (a job keeps a limit)
  Priority=    1-10
  JobName=     the new name (Name= too)
  Dependency=  afterok:ID[:ID...],afterany:ID,afternotok:ID; empty removes
               them; only your own jobs submitted earlier

"update JobId=ID[,ID...] KEY=VALUE..." works too. You may rename your jobs, change
their dependencies, and lower their time limit and priority; raising them is
for admins. An unknown key or a bad value exits with 2.`,
		Example: `  rcq-control update 42 TimeLimit=30:00 JobName=short
  rcq-control update JobId=42 Priority=1`,
		Args:              cli.ArgsUsage(cobra.MinimumNArgs(1)),
		ValidArgsFunction: completeUpdate(f),
		RunE: func(c *cobra.Command, args []string) error {
			opts, err := parseUpdate(f, args)
			if err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			return controlRun(c.Context(), opts)
		},
	})
	return cmd
}

// NewRootCmd is the command of the program: NewCmd without a runF.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }

const updateKeys = "TimeLimit, Priority, JobName (or Name), Dependency"

// parseUpdate reads "ID[,ID...] KEY=VALUE..." or "JobId=ID[,ID...]
// KEY=VALUE..." with scontrol's keys (case-insensitive).
func parseUpdate(f *cli.Factory, args []string) (*Options, error) {
	opts := &Options{F: f, Action: "update"}
	var ids []int64
	var refs []rcq.JobRef
	for i, a := range args {
		key, val, ok := strings.Cut(a, "=")
		if !ok {
			if i > 0 || refs != nil {
				return nil, cli.Usagef("%q is not KEY=VALUE: use %s", a, updateKeys)
			}
			list, err := cli.ParseJobRefs([]string{a})
			if err != nil {
				return nil, err
			}
			refs = list
			ids, _ = cli.SplitRefs(list)
			continue
		}
		u := &opts.Update
		switch strings.ToLower(key) {
		case "jobid":
			if refs != nil {
				return nil, cli.Usagef("JobId given twice: list the jobs once, comma-separated")
			}
			list, err := cli.ParseJobRefs([]string{val})
			if err != nil {
				return nil, err
			}
			refs = list
			ids, _ = cli.SplitRefs(list)
		case "timelimit":
			d, err := submit.ParseTime(val)
			if err != nil {
				return nil, cli.Usagef("TimeLimit: %v", err)
			}
			if d <= 0 {
				return nil, cli.Usagef("TimeLimit: a job keeps a limit: give one such as 30 (minutes), 1:00:00 or 1-00")
			}
			h := d.Hours()
			u.EstimatedHours = &h
		case "priority":
			p, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil || !rcq.PriorityRange.Contains(p) {
				return nil, cli.Usagef("Priority: %q is not a priority: use %s", val, rcq.PriorityRange)
			}
			u.Priority = &p
		case "jobname", "name":
			v := val
			u.Name = &v
		case "dependency":
			deps, err := rcq.ParseDependencies(val)
			if err != nil {
				return nil, cli.Usagef("Dependency: %s", strings.TrimPrefix(rcq.MessageOf(err), "dependency: "))
			}
			list := make([]apitype.Dependency, len(deps))
			for i, d := range deps {
				list[i] = apitype.Dependency{Type: string(d.Type), JobID: int64(d.JobID), ArrayTaskID: d.ArrayTaskID}
			}
			u.Dependencies = &list
		default:
			return nil, cli.Usagef("%q is not a key rcq-control update knows: use %s", key, updateKeys)
		}
	}
	if len(refs) == 0 {
		return nil, cli.Usagef("no job given: rcq-control update JOB KEY=VALUE..., e.g. rcq-control update 42 TimeLimit=30")
	}
	u := opts.Update
	if u.Name == nil && u.EstimatedHours == nil && u.Priority == nil && u.Dependencies == nil {
		return nil, cli.Usagef("nothing to change: give KEY=VALUE with one of %s", updateKeys)
	}
	opts.JobIDs, opts.Refs = ids, refs
	return opts, nil
}

// apiKeys names the API's fields as rcq-control's keys, for rcqd's refusals.
var apiKeys = strings.NewReplacer("estimated_hours:", "TimeLimit:", "priority:", "Priority:", "name:", "JobName:", "dependencies:", "Dependency:")

func controlRun(ctx context.Context, opts *Options) error {
	f := opts.F
	s, err := f.Client()
	if err != nil {
		return err
	}
	failed, usage := false, false
	refs := opts.Refs
	if refs == nil {
		for _, id := range opts.JobIDs {
			refs = append(refs, rcq.JobRef{JobID: rcq.JobID(id)})
		}
	}
	for _, ref := range refs {
		id := ref.String() // 42, or an array element 123_4
		switch opts.Action {
		case "hold":
			_, err = s.HoldRef(ctx, id)
		case "release":
			_, err = s.ReleaseRef(ctx, id)
		case "requeue":
			_, err = s.RequeueRef(ctx, id, opts.Hold)
		case "update":
			_, err = s.UpdateJobRef(ctx, id, opts.Update)
		default:
			return fmt.Errorf("unknown action %q", opts.Action)
		}
		var conn *client.ConnError
		switch {
		case err == nil:
			continue
		case errors.As(err, &conn), errors.Is(err, rcq.ErrUnauthorized), ctx.Err() != nil:
			return err
		case errors.Is(err, rcq.ErrNotFound):
			f.Errorf("job %s not found", id)
		case opts.Action == "update" && errors.Is(err, rcq.ErrInvalid):
			// rcqd's words for a value it refuses, with the key as typed here.
			f.Errorf("job %s: %s", id, apiKeys.Replace(rcq.MessageOf(err)))
			usage = true
			continue
		default:
			f.Errorf("%s", cli.RefMessage(id, err))
		}
		failed = true
	}
	if usage {
		return &cli.ExitError{Code: cli.ExitUsage}
	}
	if failed {
		return &cli.ExitError{Code: cli.ExitFailure}
	}
	return nil
}

// completeUpdate offers job ids first, then the keys.
func completeUpdate(f *cli.Factory) cobra.CompletionFunc {
	ids := cli.CompleteJobIDs(f)
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return ids(cmd, args, toComplete)
		}
		return []cobra.Completion{"TimeLimit=", "Priority=", "JobName=", "Dependency="}, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
	}
}

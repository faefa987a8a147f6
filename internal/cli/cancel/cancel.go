// Package cancel is rcq-cancel, scancel's counterpart: it cancels jobs by id
// or by filter, or sends them a signal.
package cancel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/spf13/cobra"
)

// Options is what the command line gave rcq-cancel.
type Options struct {
	F *cli.Factory

	JobIDs      []int64
	Elements    []rcq.JobRef // array elements named: 123_4, 123_[1-3,7]
	States      []string
	Names       []string
	User        string
	Me          bool
	Signal      string
	Interactive bool
	Quiet       bool
	JSON        bool
}

const long = `Cancel jobs, like scancel.

Name jobs by id (an array's id cancels every element; 123_4 one element,
123_[1-3,7] several), or select them with filters (--state, --name, --user,
--me); with both, only the named jobs that match the filters are cancelled.
Filters select pending and running jobs (--state narrows to one of them),
and every job they select is cancelled in one request to rcqd, however
many. Another user's job is refused like a missing one; --user naming
someone else is refused unless you are an admin (admins may cancel any).

Cancelling a running job sends SIGTERM to all its processes, then SIGKILL.
-s/--signal sends a signal instead and does not cancel.

rcq-cancel prints nothing when every job was cancelled (exit code 0).
Otherwise it prints one line per job that was not (not found, already
finished) and exits with 1; --quiet drops those lines and does not count a
job that had already finished as a failure.

` + cli.ExitStatusHelp

const example = `  rcq-cancel 42 43
  rcq-cancel 123_4 123_[10-19]
  rcq-cancel --me --state pending
  rcq-cancel --name sweep -i
  rcq-cancel -s USR1 42`

// NewCmd builds rcq-cancel. runF, when not nil, replaces the run.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	var states, names string
	cmd := &cobra.Command{
		Use:               "rcq-cancel [flags] [job-id|array_index...]",
		Short:             "Cancel rcq jobs (like scancel)",
		Long:              long,
		Example:           example,
		Args:              cobra.ArbitraryArgs,
		ValidArgsFunction: cli.CompleteJobIDs(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := cli.ParseJobRefs(args)
			if err != nil {
				return err
			}
			ids, elements := cli.SplitRefs(refs)
			opts.JobIDs, opts.Elements = ids, elements
			opts.States, opts.Names = cli.SplitList(states), cli.SplitList(names)
			if len(elements) > 0 && (len(opts.States) > 0 || len(opts.Names) > 0 || opts.User != "" || opts.Me) {
				return cli.Usagef("array elements (%s) and filters together: name the elements alone, or the array's id with filters", elements[0])
			}
			if len(ids) == 0 && len(elements) == 0 && len(opts.States) == 0 && len(opts.Names) == 0 && opts.User == "" && !opts.Me {
				return cli.Usagef("no jobs given: name job ids or use --state, --name, --user or --me")
			}
			if opts.Me && opts.User != "" {
				return cli.Usagef("--me and --user together: choose one")
			}
			if cmd.Flags().Changed("signal") && strings.TrimSpace(opts.Signal) == "" {
				return cli.Usagef("--signal: give a signal name or number, e.g. USR1")
			}
			if runF != nil {
				return runF(opts)
			}
			return cancelRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&states, "state", "t", "", "only jobs in these `STATES` (pending, running or PD, R; comma-separated)")
	fl.StringVarP(&names, "name", "n", "", "only jobs with these `NAMES` (comma-separated)")
	fl.StringVarP(&opts.User, "user", "u", "", "only the jobs of `USER` (an email or a Unix login; others' jobs need an admin)")
	fl.BoolVar(&opts.Me, "me", false, "only my jobs")
	fl.StringVarP(&opts.Signal, "signal", "s", "", "send `SIGNAL` (a name such as USR1 or a number) instead of cancelling")
	fl.BoolVarP(&opts.Interactive, "interactive", "i", false, "ask before each job")
	fl.BoolVarP(&opts.Quiet, "quiet", "Q", false, "print nothing about jobs that were not cancelled; an already finished job is not a failure")
	fl.BoolVar(&opts.JSON, "json", false, "print one result per job as JSON")
	_ = cmd.RegisterFlagCompletionFunc("state", cli.CompleteStates)
	_ = cmd.RegisterFlagCompletionFunc("signal", cli.CompleteSignals)
	_ = cmd.RegisterFlagCompletionFunc("name", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("user", cobra.NoFileCompletions)
	return cmd
}

// Result is what happened to one job; --json prints {"results": [...]}.
type Result struct {
	JobID  int64  `json:"job_id"`
	Job    string `json:"job,omitempty"` // array elements: as named, 123_4
	OK     bool   `json:"ok"`
	Status string `json:"status,omitempty"` // the job's state after the action
	Error  string `json:"error,omitempty"`
	Code   string `json:"code,omitempty"`
}

type target struct {
	id   int64
	name string
	user string
}

// targets resolves ids and filters into the jobs to act on.
func targets(ctx context.Context, opts *Options, s *cli.Session) ([]target, []Result, error) {
	filtered := len(opts.States) > 0 || len(opts.Names) > 0 || opts.User != "" || opts.Me
	if !filtered {
		ts := make([]target, len(opts.JobIDs))
		for i, id := range opts.JobIDs {
			ts[i] = target{id: id}
		}
		return ts, nil, nil
	}
	q := client.JobsQuery{States: []string{"pending", "running"}, Limit: 1000, User: opts.User, IDs: opts.JobIDs}
	if len(opts.States) > 0 {
		q.States = nil
		for _, st := range opts.States {
			state, err := rcq.ParseJobState(st)
			if err != nil {
				return nil, nil, cli.Usagef("--state: %s", strings.TrimPrefix(rcq.MessageOf(err), "state: "))
			}
			q.States = append(q.States, string(state))
		}
	}
	if opts.Me {
		me, err := s.Me(ctx)
		if err != nil {
			return nil, nil, err
		}
		q.User = me
	}
	if len(opts.Names) == 1 {
		q.Name = opts.Names[0]
	}
	list, err := s.AllJobs(ctx, q) // every page: a filter must not stop at the first 1,000
	if err != nil {
		return nil, nil, err
	}
	names := map[string]bool{}
	for _, n := range opts.Names {
		names[n] = true
	}
	found := map[int64]bool{}
	var ts []target
	for _, j := range list.Jobs {
		if len(names) > 0 && !names[j.Name] {
			continue
		}
		found[j.ID] = true
		ts = append(ts, target{id: j.ID, name: j.Name, user: j.User})
	}
	// Named jobs the filters did not select are reported, as scancel does.
	var misses []Result
	for _, id := range opts.JobIDs {
		if !found[id] {
			misses = append(misses, Result{JobID: id, Error: fmt.Sprintf("job %d not found or does not match the filters", id), Code: "not_found"})
		}
	}
	return ts, misses, nil
}

func cancelRun(ctx context.Context, opts *Options) error {
	f := opts.F
	s, err := f.Client()
	if err != nil {
		return err
	}
	// Array element refs (123_4, 123_[1-3]) are acted on one by one; ids
	// and filters go to rcqd in one request.
	results, err := actOnElements(ctx, opts, s)
	if err != nil {
		return err
	}
	var more []Result
	hasSelection := len(opts.JobIDs) > 0 || len(opts.States) > 0 || len(opts.Names) > 0 || opts.User != "" || opts.Me
	switch {
	case !hasSelection:
	case opts.Signal != "":
		more, err = signalRun(ctx, opts, s)
	case opts.Interactive:
		more, err = interactiveRun(ctx, opts, s)
	default:
		var req apitype.CancelRequest
		if req, err = cancelRequest(opts); err == nil {
			more, err = cancelJobs(ctx, s, req, opts.JobIDs)
		}
	}
	if err != nil {
		return err
	}
	results = append(results, more...)
	failed := false
	for _, r := range results {
		if r.OK {
			continue
		}
		finished := r.Code == "job_finished"
		if opts.Quiet && finished {
			continue
		}
		failed = true
		if !opts.Quiet && !opts.JSON {
			f.Errorf("%s", r.Error)
		}
	}
	if opts.JSON {
		if results == nil {
			results = []Result{}
		}
		if err := cli.PrintJSON(f.IO.Out, map[string]any{"results": results}); err != nil {
			return err
		}
	}
	if failed {
		return &cli.ExitError{Code: cli.ExitFailure}
	}
	return nil
}

// cancelRequest is the one bulk cancel the options ask for.
func cancelRequest(opts *Options) (apitype.CancelRequest, error) {
	req := apitype.CancelRequest{IDs: opts.JobIDs, Names: opts.Names, User: opts.User, Me: opts.Me}
	for _, st := range opts.States {
		state, err := rcq.ParseJobState(st)
		if err != nil {
			return req, cli.Usagef("--state: %s", strings.TrimPrefix(rcq.MessageOf(err), "state: "))
		}
		if state != rcq.JobPending && state != rcq.JobRunning {
			return req, cli.Usagef("--state: %s: only pending and running jobs can be cancelled: use pending, running (or PD, R)", st)
		}
		req.States = append(req.States, string(state))
	}
	return req, nil
}

// cancelJobs cancels every job req selects in one call (POST
// /api/jobs/cancel), however many: the named jobs first, in the order
// given, then the others the filters selected, by id.
func cancelJobs(ctx context.Context, s *cli.Session, req apitype.CancelRequest, named []int64) ([]Result, error) {
	out, err := s.CancelJobs(ctx, req)
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]Result, len(out.Cancelled)+len(out.Refused))
	for _, id := range out.Cancelled {
		byID[id] = Result{JobID: id, OK: true, Status: string(rcq.JobCancelled)}
	}
	for _, rf := range out.Refused {
		byID[rf.JobID] = Result{JobID: rf.JobID, Error: rf.Error, Code: rf.Code}
	}
	results := make([]Result, 0, len(byID))
	for _, id := range named {
		if r, ok := byID[id]; ok {
			results = append(results, r)
			delete(byID, id)
		}
	}
	for _, id := range out.Cancelled {
		if r, ok := byID[id]; ok {
			results = append(results, r)
		}
	}
	return results, nil
}

// interactiveRun asks about each job the options select, then cancels the
// ones confirmed in one call.
func interactiveRun(ctx context.Context, opts *Options, s *cli.Session) ([]Result, error) {
	if _, err := cancelRequest(opts); err != nil {
		return nil, err
	}
	ts, results, err := targets(ctx, opts, s)
	if err != nil {
		return nil, err
	}
	var yes []int64
	for _, t := range ts {
		ok, err := confirm(opts, "Cancel", t)
		if err != nil {
			return nil, err
		}
		if ok {
			yes = append(yes, t.id)
		}
	}
	if len(yes) == 0 {
		return results, nil
	}
	more, err := cancelJobs(ctx, s, apitype.CancelRequest{IDs: yes}, yes)
	return append(results, more...), err
}

// signalRun sends the signal to each job the options select, one call each.
func signalRun(ctx context.Context, opts *Options, s *cli.Session) ([]Result, error) {
	ts, results, err := targets(ctx, opts, s)
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		if opts.Interactive {
			ok, err := confirm(opts, "Signal "+opts.Signal+" to", t)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		action, err := s.Signal(ctx, t.id, opts.Signal)
		r := Result{JobID: t.id}
		var conn *client.ConnError
		switch {
		case err == nil:
			r.OK, r.Status = true, action.Status
		case errors.As(err, &conn), errors.Is(err, rcq.ErrUnauthorized), ctx.Err() != nil:
			return nil, err // nothing else will work either
		case errors.Is(err, rcq.ErrNotFound):
			r.Error, r.Code = fmt.Sprintf("job %d not found", t.id), rcq.CodeOf(err)
		default:
			r.Error, r.Code = cli.JobMessage(t.id, err), rcq.CodeOf(err)
		}
		results = append(results, r)
	}
	return results, nil
}

// confirm asks "<verb> job N (name, user)? [y/n]" and reports a yes.
func confirm(opts *Options, verb string, t target) (bool, error) {
	desc := fmt.Sprintf("job %d", t.id)
	if t.name != "" {
		desc += fmt.Sprintf(" (%s, %s)", t.name, t.user)
	}
	answer, err := opts.F.IO.Prompt(fmt.Sprintf("%s %s? [y/n] ", verb, desc))
	if err != nil {
		return false, fmt.Errorf("read answer: %w", err)
	}
	a := strings.ToLower(strings.TrimSpace(answer))
	return a == "y" || a == "yes", nil
}

// NewRootCmd is the command of the program: NewCmd without a runF.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }

// actOnElements cancels (or signals) the array elements named, one call
// per ref (DELETE /api/jobs/123_[1-3]).
func actOnElements(ctx context.Context, opts *Options, s *cli.Session) ([]Result, error) {
	var results []Result
	for _, ref := range opts.Elements {
		name := ref.String()
		if opts.Interactive {
			verb := "Cancel"
			if opts.Signal != "" {
				verb = "Signal " + opts.Signal + " to"
			}
			answer, err := opts.F.IO.Prompt(fmt.Sprintf("%s job %s? [y/n] ", verb, name))
			if err != nil {
				return nil, fmt.Errorf("read answer: %w", err)
			}
			if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
				continue
			}
		}
		var (
			action *apitype.JobAction
			err    error
		)
		if opts.Signal != "" {
			action, err = s.SignalRef(ctx, name, opts.Signal)
		} else {
			action, err = s.CancelRef(ctx, name)
		}
		r := Result{JobID: int64(ref.JobID), Job: name}
		var conn *client.ConnError
		switch {
		case err == nil:
			r.OK, r.Status = true, action.Status
		case errors.As(err, &conn), errors.Is(err, rcq.ErrUnauthorized), ctx.Err() != nil:
			return nil, err
		case errors.Is(err, rcq.ErrNotFound):
			r.Error, r.Code = fmt.Sprintf("job %s not found", name), rcq.CodeOf(err)
		default:
			r.Error, r.Code = cli.RefMessage(name, err), rcq.CodeOf(err)
		}
		results = append(results, r)
	}
	return results, nil
}

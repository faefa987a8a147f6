// Package admin is rcq-admin, the command of group admins and operators
// (scontrol's and sacctmgr's counterparts for rcq): it lists and changes
// groups (CPU quota, priority), accounts (admin rights, group, the Unix user
// jobs run as) and workers (size; drain and resume) through rcqd's
// /api/admin routes.
package admin

import (
	"context"
	"fmt"
	"strings"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/spf13/cobra"
)

// Actions: the subcommand an Options is for.
const (
	ActionGroups       = "groups"
	ActionGroupCreate  = "group create"
	ActionGroupSet     = "group set"
	ActionUsers        = "users"
	ActionUserSet      = "user set"
	ActionWorkers      = "workers"
	ActionWorkerDrain  = "worker drain"
	ActionWorkerResume = "worker resume"
	ActionWorkerCreate = "worker create"
	ActionWorkerSet    = "worker set"
	ActionWorkerDelete = "worker delete"
	ActionAudit        = "audit"
)

// Options is what the command line gave rcq-admin. Pointer fields are nil
// when their flag was not given (the value stays as it is on rcqd).
type Options struct {
	F *cli.Factory

	Action string // one of the Action constants
	Target string // the ID, NAME or EMAIL argument
	Name   string // group create, worker create
	Node   string // worker create

	Quota    *float64 // --quota, CPU-hours
	Priority *int     // --priority
	UnixUser *string  // --unix-user ("" removes the mapping)
	Admin    *bool    // --admin
	Group    *int64   // --group
	CPUs     *int     // --cpus
	Mem      *int     // --mem, GB
	GPUs     *int     // --gpus
	Offline  bool     // worker create --offline
	Force    bool     // worker delete --force

	Audit client.AuditQuery // audit: --since, --until, --actor, --target, --action, --limit

	JSON bool
}

const long = `Administer rcq: groups (CPU quota, priority), accounts (admin rights,
group, the Unix user their jobs run as) and workers (size; drain, resume).

  rcq-admin groups                        list groups
  rcq-admin group create NAME             create a group
  rcq-admin group set ID                  change a group's quota or priority
  rcq-admin users                         list accounts
  rcq-admin user set ID|EMAIL             change an account
  rcq-admin workers                       list workers
  rcq-admin worker drain ID|NAME          start no new jobs on a worker
  rcq-admin worker resume ID|NAME         put a worker back online
  rcq-admin worker create NAME            add a worker
  rcq-admin worker set ID|NAME            change a worker's size
  rcq-admin worker delete ID|NAME         delete an idle worker (--force: drain, wait, delete)
  rcq-admin audit                         show who changed what (the audit log)

Every command needs an admin's token: log in as an admin with rcq-login
(rcqd creates admin@localhost on an empty database and writes its password
to <state dir>/admin-password). Any other account is refused with rcqd's
message and exit status 1. Lists print a table, or JSON with --json; changes
print one line describing the result, or the changed object with --json.

When rcqd runs as root, a job never runs as root: its account must be mapped
to a Unix user (rcq-admin user set EMAIL --unix-user NAME), or the job fails
at start with reason LaunchFailed.

` + cli.ExitStatusHelp

const example = `  rcq-admin users
  rcq-admin user set ada@lab.example --unix-user ada
  rcq-admin group set 2 --quota 5000 --priority 3
  rcq-admin worker drain node7
  rcq-admin worker resume node7
  rcq-admin workers --json | jq -r '.workers[] | select(.status != "online") | .name'`

// NewCmd builds rcq-admin and its subcommands. runF, when not nil, replaces
// the run of whichever subcommand is chosen.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rcq-admin <command> [flags]",
		Short:   "Administer rcq groups, accounts and workers",
		Long:    long,
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE:    helpOrUnknown("groups, group, users, user, workers, worker or audit"),
	}
	cmd.AddCommand(
		newGroupsCmd(f, runF), newGroupCmd(f, runF),
		newUsersCmd(f, runF), newUserCmd(f, runF),
		newWorkersCmd(f, runF), newWorkerCmd(f, runF),
		newAuditCmd(f, runF),
	)
	return cmd
}

// NewRootCmd is the command of the program: NewCmd without a runF.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }

// helpOrUnknown is the run of a command that only groups subcommands: help
// when given nothing, a usage error naming the choices otherwise.
func helpOrUnknown(choices string) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return cli.Usagef("unknown command %q for %q: use %s", args[0], cmd.CommandPath(), choices)
		}
		return cmd.Help()
	}
}

// parent builds a command that only groups subcommands (group, user, worker).
func parent(use, short, choices string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use + " <command>",
		Short: short,
		Long:  short + ".\n\n" + cli.ExitStatusHelp,
		Args:  cobra.ArbitraryArgs,
		RunE:  helpOrUnknown(choices),
	}
	var examples []string
	for _, s := range subs {
		examples = append(examples, s.Example)
	}
	cmd.Example = strings.Join(examples, "\n")
	cmd.AddCommand(subs...)
	return cmd
}

// leaf builds a command that does one action.
func leaf(f *cli.Factory, runF func(*Options) error, action string, c *cobra.Command, prepare func(*cobra.Command, *Options, []string) error) *cobra.Command {
	opts := &Options{F: f, Action: action}
	c.Long += "\n\n" + cli.ExitStatusHelp
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if prepare != nil {
			if err := prepare(cmd, opts, args); err != nil {
				return err
			}
		}
		if runF != nil {
			return runF(opts)
		}
		return run(cmd.Context(), opts)
	}
	c.Flags().BoolVar(&opts.JSON, "json", false, "print JSON instead of text")
	return c
}

func run(ctx context.Context, opts *Options) error {
	s, err := opts.F.Client()
	if err != nil {
		return err
	}
	switch opts.Action {
	case ActionGroups:
		return groupsRun(ctx, opts, s)
	case ActionGroupCreate:
		return groupCreateRun(ctx, opts, s)
	case ActionGroupSet:
		return groupSetRun(ctx, opts, s)
	case ActionUsers:
		return usersRun(ctx, opts, s)
	case ActionUserSet:
		return userSetRun(ctx, opts, s)
	case ActionWorkers:
		return workersRun(ctx, opts, s)
	case ActionWorkerDrain, ActionWorkerResume:
		return workerStateRun(ctx, opts, s)
	case ActionWorkerCreate:
		return workerCreateRun(ctx, opts, s)
	case ActionWorkerSet:
		return workerSetRun(ctx, opts, s)
	case ActionWorkerDelete:
		return workerDeleteRun(ctx, opts, s)
	case ActionAudit:
		return auditRun(ctx, opts, s)
	}
	return fmt.Errorf("unknown action %q", opts.Action)
}

// printList prints a list as rcqd returned it with --json, else as the table.
func (o *Options) printList(list any, t *table) error {
	if o.JSON {
		return cli.PrintJSON(o.F.IO.Out, list)
	}
	return t.render(o.F.IO.Out)
}

// printResult prints the object a change returned with --json, else one line.
func (o *Options) printResult(v any, format string, args ...any) error {
	if o.JSON {
		return cli.PrintJSON(o.F.IO.Out, v)
	}
	if _, err := fmt.Fprintf(o.F.IO.Out, format+"\n", args...); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// changed returns a pointer to v when the flag was given, nil otherwise.
func changed[T any](cmd *cobra.Command, flag string, v T) *T {
	if !cmd.Flags().Changed(flag) {
		return nil
	}
	return &v
}

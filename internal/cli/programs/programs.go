// Package programs lists the rcq command-line programs and builds the
// umbrella "rcq <verb>" command from the same commands, for cmd/rcq and the
// manual page and completion generator.
package programs

import (
	"strings"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/acct"
	"github.com/rcq-project/rcq/internal/cli/admin"
	"github.com/rcq-project/rcq/internal/cli/cancel"
	"github.com/rcq-project/rcq/internal/cli/control"
	"github.com/rcq-project/rcq/internal/cli/info"
	"github.com/rcq-project/rcq/internal/cli/login"
	"github.com/rcq-project/rcq/internal/cli/queue"
	"github.com/rcq-project/rcq/internal/cli/share"
	"github.com/rcq-project/rcq/internal/cli/show"
	"github.com/rcq-project/rcq/internal/cli/slurmcompat"
	"github.com/rcq-project/rcq/internal/cli/submit"
	"github.com/rcq-project/rcq/internal/cli/tail"
	"github.com/spf13/cobra"
)

// Program is one rcq binary.
type Program struct {
	Name string // the binary's name, e.g. "rcq-submit"
	New  func(*cli.Factory) *cobra.Command
}

// All lists the separate binaries, in the order a user meets them.
func All() []Program {
	return []Program{
		{"rcq-login", login.NewRootCmd},
		{"rcq-submit", submit.NewRootCmd},
		{"rcq-queue", queue.NewRootCmd},
		{"rcq-cancel", cancel.NewRootCmd},
		{"rcq-acct", acct.NewRootCmd},
		{"rcq-show", show.NewRootCmd},
		{"rcq-control", control.NewRootCmd},
		{"rcq-info", info.NewRootCmd},
		{"rcq-share", share.NewRootCmd},
		{"rcq-tail", tail.NewRootCmd},
		{"rcq-admin", admin.NewRootCmd},
	}
}

// Command builds p's root command as its binary runs it (with --server and
// the root settings), over streams that are not a terminal.
func (p Program) Command() *cobra.Command {
	ios, _, _, _ := cli.Test()
	f := cli.NewFactory(p.Name, ios)
	return f.Setup(p.New(f))
}

// NewUmbrella builds "rcq": every program as a subcommand (rcq submit ...).
func NewUmbrella(f *cli.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "rcq <command> [flags]",
		Short: "Research compute queue: submit, watch and cancel batch jobs",
		Long: `rcq runs the rcq-* programs as subcommands: "rcq submit" is
rcq-submit, "rcq queue" is rcq-queue, and so on. See each one's help.

"rcq slurm-compat install DIR" writes symlinks named sbatch, squeue,
scancel, sacct, sinfo, scontrol and sacctmgr into DIR: started under such a
name, rcq is that Slurm command, for tools written for Slurm.

` + cli.ExitStatusHelp,
		Example: "  rcq login\n  rcq submit --wrap hostname\n  rcq queue --me\n  rcq cancel 42",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return cli.Usagef("unknown command %q: use login, submit, queue, cancel, acct, show, control, info, share, tail, admin or slurm-compat", args[0])
			}
			return cmd.Help()
		},
	}
	for _, p := range All() {
		sub := p.New(f)
		verb := strings.TrimPrefix(p.Name, "rcq-")
		sub.Use = strings.Replace(sub.Use, p.Name, verb, 1)
		root.AddCommand(sub)
	}
	root.AddCommand(slurmcompat.NewInstallCmd(f))
	return root
}

// Umbrella is the "rcq" program.
var Umbrella = Program{Name: "rcq", New: NewUmbrella}

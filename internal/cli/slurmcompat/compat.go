// Package slurmcompat is rcq under Slurm's command names: the rcq umbrella
// binary, started through a symlink named sbatch, squeue, scancel, sacct,
// sinfo, scontrol or sacctmgr, reads that command's options and speaks its
// output formats, so workflow tools written for Slurm drive rcq unchanged.
//
// Each name is a thin layer over an rcq command: it accepts Slurm's options,
// maps those with an honest meaning on rcq (one partition, one cluster, a
// group as the account, one node per job), warns once on stderr for each it
// ignores, refuses with Slurm's words and exit code 1 what it cannot run
// as asked, and then runs the rcq command (rcq-submit, rcq-queue,
// rcq-cancel, rcq-acct, rcq-info, rcq-show, rcq-control), whose rows are
// formatted in one place. The names are never put on PATH by default:
// "rcq slurm-compat install DIR" writes the symlinks.
package slurmcompat

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/slurm"
	"github.com/spf13/cobra"
)

// Program is one Slurm command name.
type Program struct {
	Name string
	New  func(*cli.Factory) *cobra.Command
}

// Programs are the Slurm names rcq answers to, in the order of docs/cli.md.
func Programs() []Program {
	return []Program{
		{"sbatch", newSbatch},
		{"squeue", newSqueue},
		{"scancel", newScancel},
		{"sacct", newSacct},
		{"sinfo", newSinfo},
		{"scontrol", newScontrol},
		{"sacctmgr", newSacctmgr},
	}
}

// Lookup returns the program called name ("sbatch"), if rcq answers to it.
func Lookup(name string) (Program, bool) {
	i := slices.IndexFunc(Programs(), func(p Program) bool { return p.Name == name })
	if i < 0 {
		return Program{}, false
	}
	return Programs()[i], true
}

// Main runs p with the process's arguments, streams and signals and returns
// the exit code, as cli.Main does, but a bad option exits 1 as in Slurm.
func Main(p Program) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, cli.NewFactory(p.Name, cli.System()), p, os.Args[1:])
}

// Run runs p with args over f's streams; tests call it in-process.
func Run(ctx context.Context, f *cli.Factory, p Program, args []string) int {
	code := cli.Run(ctx, f, p.New(f), args)
	if code == cli.ExitUsage {
		code = cli.ExitFailure // Slurm's commands exit 1 on bad options
	}
	return code
}

// version is what --version prints, Slurm's form.
func version() string { return "slurm " + slurm.Version }

// slurmError ends a command with Slurm's words and exit code 1.
func slurmError(format string, args ...any) error {
	return &cli.ExitError{Code: cli.ExitFailure, Err: fmt.Errorf(format, args...)}
}

// errInvalidJobID is Slurm's answer for a job it does not know (or no
// longer holds in memory): its line alone, unprefixed, and exit 1.
func errInvalidJobID(f *cli.Factory) error {
	fmt.Fprintln(f.IO.ErrOut, "slurm_load_jobs error: Invalid job id specified")
	return &cli.ExitError{Code: cli.ExitFailure}
}

// runRCQ runs the rcq command sub with args, over the streams, context and
// --server of the Slurm command.
func runRCQ(ctx context.Context, f *cli.Factory, sub *cobra.Command, args []string) error {
	server := f.ServerFlag()
	f.Setup(sub) // declares --server again, which resets the factory's value
	if server != "" {
		args = append([]string{"--server", server}, args...)
	}
	sub.SetArgs(args)
	sub.SetIn(f.IO.In)
	sub.SetOut(f.IO.Out)
	sub.SetErr(f.IO.ErrOut)
	_, err := sub.ExecuteContextC(ctx)
	return err
}

// checkClusters accepts -M/--clusters naming this cluster or all.
func checkClusters(v string) error {
	for _, c := range strings.Split(v, ",") {
		if c = strings.TrimSpace(c); c != slurm.ClusterName && !strings.EqualFold(c, "all") {
			return slurmError("error: '%s' can't be reached now, or it is an invalid entry for --cluster.  Use 'sacctmgr list clusters' to see available clusters.", c)
		}
	}
	return nil
}

// hasPartition reports whether a -p list names rcq's partition.
func hasPartition(v string) bool {
	for _, p := range strings.Split(v, ",") {
		if strings.TrimSpace(p) == slurm.Partition {
			return true
		}
	}
	return false
}

// slurmStates maps a Slurm state list (names or codes, any case) to the
// codes rcq knows; known Slurm states rcq never gives a job select nothing,
// and none is true when the list selects nothing at all.
func slurmStates(list []string) (codes []string, none bool, err error) {
	for _, s := range list {
		if strings.EqualFold(s, "all") {
			return []string{"all"}, false, nil
		}
		st, err := slurm.ParseState(s)
		if err != nil {
			return nil, false, slurmError("error: Invalid job state specified: %s", s)
		}
		if st != "" {
			codes = append(codes, st.Short())
		}
	}
	return codes, len(list) > 0 && len(codes) == 0, nil
}

// ignored warns once that a Slurm option is accepted and ignored.
func ignored(f *cli.Factory, cmd *cobra.Command, why string, names ...string) {
	for _, n := range names {
		if fl := cmd.Flags().Lookup(n); fl != nil && fl.Changed {
			f.Warnf("--%s is not supported by rcq and is ignored: %s", n, why)
		}
	}
}

// helpFlag declares --help alone, so -h can be Slurm's --noheader.
func helpFlag(cmd *cobra.Command) { cmd.Flags().Bool("help", false, "show this help") }

// allJobs is -j given without a list (squeue -j: every job).
const allJobs = "(all)"

// noEffect declares Slurm's boolean options that change nothing on rcq,
// each "name" or "name:shorthand".
func noEffect(cmd *cobra.Command, names ...string) {
	for _, n := range names {
		long, short, _ := strings.Cut(n, ":")
		cmd.Flags().BoolP(long, short, false, "accepted; no effect on rcq")
	}
}

package slurmcompat

import (
	"fmt"
	"strings"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/acct"
	"github.com/rcq-project/rcq/internal/slurm"
	"github.com/spf13/cobra"
)

// sacct's own default and --brief and --long columns.
const (
	sacctFormat      = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"
	sacctBriefFormat = "JobID,State,ExitCode"
	sacctLongFormat  = "JobID,JobIDRaw,JobName,Partition,MaxRSS,AllocCPUS,Elapsed,TotalCPU,CPUTime,ReqMem,AllocTRES,NNodes,NodeList,State,ExitCode,Start,End,Submit,Account,User,Timelimit,WorkDir"
)

func newSacct(f *cli.Factory) *cobra.Command {
	var (
		jobs, user, start, end, states, format, names, accounts, clusters, delimiter string
		allUsers, noHeader, parsable, parsable2, brief, long, ver                    bool
	)
	cmd := &cobra.Command{
		Use:   "sacct [flags]",
		Short: "Show the history of rcq jobs (Slurm's sacct)",
		Long: `sacct is rcq-acct under Slurm's name, with sacct's default columns
(` + sacctFormat + `) and options: -j, -u, -a, -S, -E,
-s (every state when not given, PENDING included), -o/--format, -n,
-P/--parsable2, -p/--parsable, -X (rcq jobs have no steps: every line is an
allocation), -b, -l, --name, -A/--accounts (rcq groups), -M ` + slurm.ClusterName + `.
Without -a or -u, your own jobs. Account is the job's rcq group.

` + cli.ExitStatusHelp,
		Example: "  sacct -X -n -P -j 42,43 --format=JobIDRaw,State,ExitCode\n  sacct -nu $USER -o Account%20",
		Args:    cli.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ver {
				fmt.Fprintln(f.IO.Out, version())
				return nil
			}
			if clusters != "" {
				if err := checkClusters(clusters); err != nil {
					return err
				}
			}
			if delimiter != "" && delimiter != "|" {
				return slurmError("error: --delimiter %q: rcq separates parsable values with | only", delimiter)
			}
			switch {
			case format != "":
			case brief:
				format = sacctBriefFormat
			case long:
				format = sacctLongFormat
			default:
				format = f.Getenv("SACCT_FORMAT")
				if format == "" {
					format = sacctFormat
				}
			}
			rargs := []string{"-o", format}
			codes, none, err := slurmStates(cli.SplitList(states))
			if err != nil {
				return err
			}
			if len(codes) == 0 && !none {
				codes = []string{"PD", "R", "CD", "F", "CA", "TO"}
			}
			if none {
				codes = []string{"OOM"} // rcq-acct prints the header and nothing
			}
			if codes[0] != "all" {
				rargs = append(rargs, "-s", strings.Join(codes, ","))
			}
			for flag, v := range map[string]string{"-j": jobs, "-S": start, "-E": end, "--name": names, "-A": accounts} {
				if v != "" {
					rargs = append(rargs, flag, v)
				}
			}
			switch {
			case user != "":
				rargs = append(rargs, "-u", user)
			case !allUsers:
				rargs = append(rargs, "--me")
			}
			if noHeader {
				rargs = append(rargs, "-n")
			}
			if parsable {
				rargs = append(rargs, "-p")
			}
			if parsable2 {
				rargs = append(rargs, "-P")
			}
			return runRCQ(cmd.Context(), f, acct.NewRootCmd(f), rargs)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&jobs, "jobs", "j", "", "only these job `IDS` (comma-separated)")
	fl.StringVarP(&user, "user", "u", "", "only the jobs of `USER` (a Unix login or an email)")
	fl.StringVar(&user, "uid", "", "same as --user")
	fl.BoolVarP(&allUsers, "allusers", "a", false, "every user's jobs (an admin's right)")
	fl.StringVarP(&start, "starttime", "S", "", "jobs not ended before `TIME`")
	fl.StringVarP(&end, "endtime", "E", "", "jobs submitted by `TIME`")
	fl.StringVarP(&states, "state", "s", "", "only jobs in these `STATES` (Slurm's names or codes)")
	fl.StringVarP(&format, "format", "o", "", "the `FIELDS` to show, e.g. JobIDRaw,State,ExitCode")
	fl.BoolVarP(&noHeader, "noheader", "n", false, "no header lines")
	fl.BoolVarP(&parsable, "parsable", "p", false, "values separated by |, one at the end too")
	fl.BoolVarP(&parsable2, "parsable2", "P", false, "values separated by |")
	fl.StringVar(&delimiter, "delimiter", "", "the separator of -p/-P: | only")
	fl.BoolVarP(&brief, "brief", "b", false, "JobID, State and ExitCode only")
	fl.BoolVarP(&long, "long", "l", false, "sacct's long columns")
	fl.StringVar(&names, "name", "", "only jobs with these `NAMES`")
	fl.StringVar(&names, "jobname", "", "same as --name")
	fl.StringVarP(&accounts, "accounts", "A", "", "only jobs of these `GROUPS`")
	fl.StringVarP(&clusters, "clusters", "M", "", "`NAME` of the cluster: "+slurm.ClusterName+" or all")
	noEffect(cmd, "allocations:X", "duplicates:D", "allclusters:L", "noconvert", "truncate:T", "verbose:v", "array")
	fl.BoolVarP(&ver, "version", "V", false, "print the Slurm version rcq speaks")
	return cmd
}

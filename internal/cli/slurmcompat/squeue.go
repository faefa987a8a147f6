package slurmcompat

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/queue"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/slurm"
	"github.com/spf13/cobra"
)

// squeue's own default formats.
const (
	squeueFormat      = "%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
	squeueLongFormat  = "%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
	squeueStartFormat = "%.18i %.9P %.8j %.8u %.2t %.19S %.6D %R"
)

func newSqueue(f *cli.Factory) *cobra.Command {
	var (
		format, longFormat, jobs, users, states, names, partitions, sort, accounts, qos, clusters string
		me, noHeader, long, start, array, ver                                                     bool
		iterate                                                                                   int
		steps                                                                                     string
	)
	cmd := &cobra.Command{
		Use:   "squeue [flags]",
		Short: "Show the rcq queue (Slurm's squeue)",
		Long: `squeue is rcq-queue under Slurm's name, with squeue's default columns

  JOBID PARTITION NAME USER ST TIME NODES NODELIST(REASON)

and its options: -h, -o/--format (squeue's % codes), -O/--Format (field
names, name:[.]width), -j, -u, --me, -n, -t (Slurm's state names and codes;
states rcq never gives, such as CG or S, select nothing), -S, -i, -l,
--start, -p ` + slurm.Partition + `, -M ` + slurm.ClusterName + `, -r. Jobs that
ended in the last 5 minutes are shown too, as squeue's MinJobAge.

` + cli.ExitStatusHelp,
		Example: "  squeue --me -h -o '%i %t'\n  squeue -h -j 42,43 -O JobID,State\n  squeue -u $USER -t PD,R",
		Args:    cli.ArgsUsage(cobra.MaximumNArgs(1)),
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
			if jobs == allJobs {
				jobs = ""
			}
			if len(args) == 1 {
				if !cmd.Flags().Changed("jobs") {
					return slurmError("error: Unrecognized option: %s", args[0])
				}
				jobs = args[0]
			}
			if format != "" && longFormat != "" {
				return slurmError("error: -o (--format) is incompatible with -O (--Format)")
			}
			if format == "" && longFormat == "" {
				format = f.Getenv("SQUEUE_FORMAT")
				if format == "" {
					longFormat = f.Getenv("SQUEUE_FORMAT2")
				}
			}
			if longFormat != "" {
				var err error
				if format, err = slurm.LongFormat(longFormat); err != nil {
					return slurmError("error: %s", strings.TrimPrefix(err.Error(), "format: "))
				}
			}
			switch {
			case format != "":
			case start:
				format = squeueStartFormat
			case long:
				format = squeueLongFormat
			default:
				format = squeueFormat
			}
			ignored(f, cmd, "rcq filters by user, state, name and job id only", "account", "qos", "licenses", "reservation", "nodelist")
			codes, none, err := slurmStates(cli.SplitList(states))
			if err != nil {
				return err
			}
			qsel := cli.SplitList(qos)
			none = none || partitions != "" && !hasPartition(partitions) || steps != "" ||
				len(qsel) > 0 && !containsFold(qsel, "normal")
			if none {
				// What squeue prints when nothing matches: the header.
				cols, err := queue.ParseFormat(format)
				if err != nil {
					return err
				}
				if !noHeader && steps == "" {
					return queue.WriteFormat(f.IO.Out, cols, nil, true)
				}
				if !noHeader {
					fmt.Fprintln(f.IO.Out, "         STEPID     NAME PARTITION     USER      TIME NODELIST")
				}
				return nil
			}
			if ids, err := cli.ParseJobIDs([]string{jobs}); err == nil && len(ids) == 1 && !strings.Contains(jobs, ",") {
				// One job: squeue asks for it alone and fails when Slurm
				// no longer holds it (unknown, or ended over MinJobAge ago).
				s, err := f.Client()
				if err != nil {
					return err
				}
				j, err := s.Job(cmd.Context(), ids[0])
				if errors.Is(err, rcq.ErrNotFound) ||
					err == nil && j.CompletedAt != nil && f.Now().Sub(*j.CompletedAt) > minJobAge {
					return errInvalidJobID(f)
				}
				if err != nil {
					return err
				}
			}
			rargs := []string{"-o", format}
			if noHeader {
				rargs = append(rargs, "-h")
			}
			if jobs != "" {
				rargs = append(rargs, "-j", jobs)
			}
			if users != "" {
				rargs = append(rargs, "-u", users)
			}
			if me {
				rargs = append(rargs, "--me")
			}
			if len(codes) > 0 {
				rargs = append(rargs, "-t", strings.Join(codes, ","))
			}
			if names != "" {
				rargs = append(rargs, "-n", names)
			}
			if sort != "" {
				rargs = append(rargs, "-S", sort)
			}
			if start {
				rargs = append(rargs, "--start")
			}
			if iterate > 0 {
				rargs = append(rargs, "-i", fmt.Sprint(iterate))
			}
			sub := queue.NewRootCmd(f)
			if array && sub.Flags().Lookup("array") != nil {
				rargs = append(rargs, "--array")
			}
			return runRCQ(cmd.Context(), f, sub, rargs)
		},
	}
	fl := cmd.Flags()
	helpFlag(cmd)
	fl.StringVarP(&format, "format", "o", "", "columns as squeue's `FORMAT` (%i %j %u %t %T %M %l %S %C %m %b %Q %r %R %N %P %D ...)")
	fl.StringVarP(&longFormat, "Format", "O", "", "columns as squeue's field `NAMES`, e.g. JobID,State,TimeUsed:10")
	fl.StringVarP(&jobs, "jobs", "j", "", "only these job `IDS`")
	fl.Lookup("jobs").NoOptDefVal = allJobs
	fl.StringVarP(&users, "user", "u", "", "only the jobs of these `USERS` (Unix logins or emails)")
	fl.StringVar(&users, "users", "", "same as --user")
	fl.BoolVar(&me, "me", false, "only my jobs")
	fl.StringVarP(&states, "states", "t", "", "only jobs in these `STATES` (PD,R,CD,F,CA,TO or names, or all)")
	fl.StringVarP(&names, "name", "n", "", "only jobs with these `NAMES`")
	fl.StringVarP(&partitions, "partition", "p", "", "only these `PARTITIONS` ("+slurm.Partition+" is the only one)")
	fl.StringVar(&partitions, "partitions", "", "same as --partition")
	fl.StringVarP(&sort, "sort", "S", "", "sort by these format `LETTERS`")
	fl.BoolVarP(&noHeader, "noheader", "h", false, "no header line")
	fl.BoolVarP(&long, "long", "l", false, "squeue's long columns")
	fl.BoolVar(&start, "start", false, "pending jobs with their expected start")
	fl.BoolVarP(&array, "array", "r", false, "one line per array element")
	fl.IntVarP(&iterate, "iterate", "i", 0, "redraw every `SECONDS`")
	fl.StringVarP(&accounts, "account", "A", "", "ignored with a warning")
	fl.StringVarP(&qos, "qos", "q", "", "normal (rcq's only QOS) or nothing matches")
	fl.StringVarP(&clusters, "clusters", "M", "", "`NAME` of the cluster: "+slurm.ClusterName+" or all")
	fl.StringVarP(&steps, "steps", "s", "", "job steps: rcq jobs have none")
	fl.Lookup("steps").NoOptDefVal = "all"
	fl.String("licenses", "", "ignored with a warning")
	fl.String("reservation", "", "ignored with a warning")
	fl.StringP("nodelist", "w", "", "ignored with a warning")
	noEffect(cmd, "all:a", "hide", "local", "sibling", "federation", "noconvert", "priority:P", "verbose:v", "array-unique")
	fl.BoolVarP(&ver, "version", "V", false, "print the Slurm version rcq speaks")
	return cmd
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

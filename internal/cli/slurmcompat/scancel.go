package slurmcompat

import (
	"fmt"
	"strings"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/cancel"
	"github.com/rcq-project/rcq/internal/slurm"
	"github.com/spf13/cobra"
)

func newScancel(f *cli.Factory) *cobra.Command {
	var (
		user, states, names, sig, partition, clusters, qos string
		me, interactive, quiet, ver                        bool
	)
	cmd := &cobra.Command{
		Use:   "scancel [flags] [job-id...]",
		Short: "Cancel rcq jobs (Slurm's scancel)",
		Long: `scancel is rcq-cancel under Slurm's name: job ids (123, and array
elements 123_4 and 123_[1-3] where rcq has arrays), -u, --me, -n/--name,
-t (PENDING, RUNNING; SUSPENDED selects nothing), -s, -i, -Q,
-p ` + slurm.Partition + `, -M ` + slurm.ClusterName + ` (or all).

` + cli.ExitStatusHelp,
		Example: "  scancel 42 43\n  scancel --me -t PENDING\n  scancel -n myjob --clusters=all",
		Args:    cobra.ArbitraryArgs,
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
			ignored(f, cmd, "rcq selects by id, user, name and state", "account", "reservation", "nodelist", "wckey")
			codes, none, err := slurmStates(cli.SplitList(states))
			if err != nil {
				return err
			}
			if none || partition != "" && !hasPartition(partition) || qos != "" && !containsFold(cli.SplitList(qos), "normal") {
				return nil // nothing selected: scancel cancels nothing, quietly
			}
			var rargs []string
			if len(codes) > 0 && codes[0] != "all" {
				rargs = append(rargs, "-t", strings.Join(codes, ","))
			}
			for flag, v := range map[string]string{"-u": user, "-n": names, "-s": sig} {
				if v != "" {
					rargs = append(rargs, flag, v)
				}
			}
			for flag, v := range map[string]bool{"--me": me, "-i": interactive, "-Q": quiet} {
				if v {
					rargs = append(rargs, flag)
				}
			}
			rargs = append(append(rargs, "--"), args...)
			return runRCQ(cmd.Context(), f, cancel.NewRootCmd(f), rargs)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&user, "user", "u", "", "only the jobs of `USER`")
	fl.BoolVar(&me, "me", false, "only my jobs")
	fl.StringVarP(&states, "state", "t", "", "only jobs in these `STATES`")
	fl.StringVarP(&names, "name", "n", "", "only jobs with these `NAMES`")
	fl.StringVar(&names, "jobname", "", "same as --name")
	fl.StringVarP(&sig, "signal", "s", "", "send `SIGNAL` instead of cancelling")
	fl.BoolVarP(&interactive, "interactive", "i", false, "ask before each job")
	fl.BoolVarP(&quiet, "quiet", "Q", false, "no messages about jobs not cancelled")
	fl.StringVarP(&partition, "partition", "p", "", "only jobs of `PARTITION` ("+slurm.Partition+")")
	fl.StringVarP(&qos, "qos", "q", "", "normal (rcq's only QOS) or nothing is selected")
	fl.StringVarP(&clusters, "clusters", "M", "", "`NAME` of the cluster: "+slurm.ClusterName+" or all")
	fl.StringP("account", "A", "", "ignored with a warning")
	fl.StringP("reservation", "R", "", "ignored with a warning")
	fl.StringP("nodelist", "w", "", "ignored with a warning")
	fl.String("wckey", "", "ignored with a warning")
	noEffect(cmd, "batch:b", "full:f", "hurry:H", "verbose:v", "sibling", "ctld", "cron")
	fl.BoolVarP(&ver, "version", "V", false, "print the Slurm version rcq speaks")
	return cmd
}

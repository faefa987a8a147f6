package slurmcompat

import (
	"fmt"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/info"
	"github.com/rcq-project/rcq/internal/slurm"
	"github.com/spf13/cobra"
)

// sinfo's --long format, in the codes rcq-info knows.
const sinfoLongFormat = "%9P %.5a %.10l %.6D %.11T %N"

func newSinfo(f *cli.Factory) *cobra.Command {
	var (
		format, partition, clusters string
		noHeader, nodes, long, ver  bool
		reasons                     bool
	)
	cmd := &cobra.Command{
		Use:   "sinfo [flags]",
		Short: "Show rcq's workers (Slurm's sinfo)",
		Long: `sinfo is rcq-info under Slurm's name: -h, -o/--format (%P shows
` + slurm.Partition + `*, the one partition and the default; %a %l %D %N %T %t %C %c %m
%G %p), -N, -l, -p ` + slurm.Partition + `, -M ` + slurm.ClusterName + `, -R (rcq keeps no
node reasons: the header alone).

` + cli.ExitStatusHelp,
		Example: "  sinfo -h -o '%P %c %m %G'\n  sinfo -o %P\n  sinfo -N -h -o '%N %T %c'",
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
			ignored(f, cmd, "rcq shows every worker", "states", "nodes", "summarize", "dead", "sort")
			if reasons {
				if !noHeader {
					fmt.Fprintln(f.IO.Out, "REASON               USER      TIMESTAMP           NODELIST")
				}
				return nil
			}
			if format == "" && long {
				format = sinfoLongFormat
			}
			if partition != "" && !hasPartition(partition) {
				if !noHeader && format == "" {
					fmt.Fprintln(f.IO.Out, "PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST")
				}
				return nil // no such partition: nothing to show
			}
			var rargs []string
			if format != "" {
				rargs = append(rargs, "-o", format)
			}
			if noHeader {
				rargs = append(rargs, "-h")
			}
			if nodes {
				rargs = append(rargs, "-N")
			}
			return runRCQ(cmd.Context(), f, info.NewRootCmd(f), rargs)
		},
	}
	fl := cmd.Flags()
	helpFlag(cmd)
	fl.StringVarP(&format, "format", "o", "", "columns as sinfo's `FORMAT`")
	fl.BoolVarP(&noHeader, "noheader", "h", false, "no header line")
	fl.BoolVarP(&nodes, "Node", "N", false, "one line per node")
	fl.BoolVarP(&long, "long", "l", false, "sinfo's long columns")
	fl.StringVarP(&partition, "partition", "p", "", "only `PARTITION` ("+slurm.Partition+")")
	fl.StringVarP(&clusters, "clusters", "M", "", "`NAME` of the cluster: "+slurm.ClusterName+" or all")
	fl.BoolVarP(&reasons, "list-reasons", "R", false, "why nodes are down or drained")
	fl.StringP("states", "t", "", "ignored with a warning")
	fl.StringP("nodes", "n", "", "ignored with a warning")
	fl.BoolP("summarize", "s", false, "ignored with a warning")
	fl.BoolP("dead", "d", false, "ignored with a warning")
	fl.StringP("sort", "S", "", "ignored with a warning")
	noEffect(cmd, "all:a", "exact:e", "responding:r", "verbose:v", "noconvert", "federation", "local", "future")
	fl.BoolVarP(&ver, "version", "V", false, "print the Slurm version rcq speaks")
	return cmd
}

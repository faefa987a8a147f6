package slurmcompat

import (
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/submit"
	"github.com/rcq-project/rcq/internal/slurm"
	"github.com/spf13/cobra"
)

func newSbatch(f *cli.Factory) *cobra.Command {
	cmd := submit.NewSbatchCmd(f)
	cmd.Use = "sbatch [flags] [script [args...]]"
	cmd.Short = "Submit a batch script to rcq (Slurm's sbatch)"
	cmd.Long = `sbatch is rcq-submit under Slurm's name: the same options, #SBATCH
directives and SBATCH_* variables, and "Submitted batch job N" (--parsable:
N; rcq is one cluster, so never N;cluster). Slurm's options rcq has no twin
of are accepted where they mean something on one node: -n/--ntasks and
--ntasks-per-node (the job gets tasks x --cpus-per-task cores),
-N/--nodes 1, -p/--partition ` + slurm.Partition + `, -A/--account (your rcq
group), --gpus-per-node, -M/--clusters ` + slurm.ClusterName + `. Another
partition, account or cluster, or more than one node, is refused as Slurm
refuses it (exit 1). The others (--qos, --constraint, --exclusive,
--signal, --open-mode, --requeue, --wckey, --mail-*, ...) are ignored with
one warning line each.

` + cli.ExitStatusHelp
	cmd.Example = "  sbatch --parsable -J step1 -c 4 --mem 8G -t 60 job.sh\n  sbatch -A mygroup -p rcq --wrap 'hostname'"
	cmd.Flags().BoolP("version", "V", false, "print the Slurm version rcq speaks")
	run := cmd.RunE
	cmd.RunE = func(c *cobra.Command, args []string) error {
		if v, _ := c.Flags().GetBool("version"); v {
			_, err := f.IO.Out.Write([]byte(version() + "\n"))
			return err
		}
		return run(c, args)
	}
	return cmd
}

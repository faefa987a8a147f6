// Command rcq runs the rcq-* programs as subcommands: rcq submit, rcq queue...
// Started through a symlink named after a Slurm command (sbatch, squeue,
// scancel, sacct, sinfo, scontrol, sacctmgr: "rcq slurm-compat install DIR"
// writes them), it is that command, busybox-style. Named srun (a link in the
// Slurm-compatibility directory that rcqd puts first on jobs' PATH), it is
// rcq's srun, which exits 2 on bad options and outside a job. Started under
// the name of an rcq-* program (argv[0]), it is that program.
package main

import (
	"os"
	"path/filepath"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/programs"
	"github.com/rcq-project/rcq/internal/cli/slurmcompat"
	"github.com/rcq-project/rcq/internal/cli/srun"
)

func main() {
	name := filepath.Base(os.Args[0])
	if name == "srun" {
		os.Exit(cli.Main("srun", srun.NewRootCmd))
	}
	if p, ok := slurmcompat.Lookup(name); ok {
		os.Exit(slurmcompat.Main(p))
	}
	// Started as rcq-submit or rcq-show: their binaries' start-up path
	// (internal/cli/fastpath) runs the full command this way for anything
	// but a plain request over the local socket.
	for _, p := range programs.All() {
		if p.Name == name {
			os.Exit(cli.Main(p.Name, p.New))
		}
	}
	os.Exit(cli.Main("rcq", programs.NewUmbrella))
}

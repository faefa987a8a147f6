// Command rcq runs the rcq-* programs as subcommands: rcq submit, rcq queue...
// Started through a symlink named after a Slurm command (sbatch, squeue,
// scancel, sacct, sinfo, scontrol, sacctmgr: "rcq slurm-compat install DIR"
// writes them), it is that command, busybox-style.
package main

import (
	"os"
	"path/filepath"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/programs"
	"github.com/rcq-project/rcq/internal/cli/slurmcompat"
)

func main() {
	if p, ok := slurmcompat.Lookup(filepath.Base(os.Args[0])); ok {
		os.Exit(slurmcompat.Main(p))
	}
	os.Exit(cli.Main("rcq", programs.NewUmbrella))
}

// Command rcq runs the rcq-* programs as subcommands: rcq submit, rcq queue...
// Invoked as srun (a symbolic link in the Slurm-compatibility directory that
// rcqd puts first on jobs' PATH), it is rcq's srun.
package main

import (
	"os"
	"path/filepath"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/programs"
	"github.com/rcq-project/rcq/internal/cli/srun"
)

func main() {
	if filepath.Base(os.Args[0]) == "srun" {
		os.Exit(cli.Main("srun", srun.NewRootCmd))
	}
	os.Exit(cli.Main("rcq", programs.NewUmbrella))
}

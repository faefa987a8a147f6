// Command rcq runs the rcq-* programs as subcommands: rcq submit, rcq queue...
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/programs"
)

func main() { os.Exit(cli.Main("rcq", programs.NewUmbrella)) }

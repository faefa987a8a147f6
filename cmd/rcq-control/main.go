// Command rcq-control: see internal/cli/control and man/man1/rcq-control.1.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/control"
)

func main() { os.Exit(cli.Main("rcq-control", control.NewRootCmd)) }

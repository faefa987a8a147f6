// Command rcq-show: see internal/cli/show and man/man1/rcq-show.1.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/show"
)

func main() { os.Exit(cli.Main("rcq-show", show.NewRootCmd)) }

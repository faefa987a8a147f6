// Command rcq-info: see internal/cli/info and man/man1/rcq-info.1.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/info"
)

func main() { os.Exit(cli.Main("rcq-info", info.NewRootCmd)) }

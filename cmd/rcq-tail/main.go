// Command rcq-tail: see internal/cli/tail and man/man1/rcq-tail.1.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/tail"
)

func main() { os.Exit(cli.Main("rcq-tail", tail.NewRootCmd)) }

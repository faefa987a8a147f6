// Command rcq-cancel: see internal/cli/cancel and man/man1/rcq-cancel.1.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/cancel"
)

func main() { os.Exit(cli.Main("rcq-cancel", cancel.NewRootCmd)) }

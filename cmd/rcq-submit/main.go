// Command rcq-submit: see internal/cli/submit and man/man1/rcq-submit.1.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/submit"
)

func main() { os.Exit(cli.Main("rcq-submit", submit.NewRootCmd)) }

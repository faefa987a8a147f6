// Command rcq-acct: see internal/cli/acct and man/man1/rcq-acct.1.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/acct"
)

func main() { os.Exit(cli.Main("rcq-acct", acct.NewRootCmd)) }

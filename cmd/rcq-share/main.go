// Command rcq-share: see internal/cli/share and man/man1/rcq-share.1.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/share"
)

func main() { os.Exit(cli.Main("rcq-share", share.NewRootCmd)) }

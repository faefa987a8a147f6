// Command rcq-admin: see internal/cli/admin and man/man1/rcq-admin.1.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/admin"
)

func main() { os.Exit(cli.Main("rcq-admin", admin.NewRootCmd)) }

// Command rcq-login: see internal/cli/login and man/man1/rcq-login.1.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/login"
)

func main() { os.Exit(cli.Main("rcq-login", login.NewRootCmd)) }

// Command rcq-queue: see internal/cli/queue and man/man1/rcq-queue.1.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/cli/queue"
)

func main() { os.Exit(cli.Main("rcq-queue", queue.NewRootCmd)) }

// Command rcqd is rcq's daemon. See internal/daemon.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/daemon"
)

func main() {
	os.Exit(daemon.Main(os.Args[1:], os.Stdout, os.Stderr))
}

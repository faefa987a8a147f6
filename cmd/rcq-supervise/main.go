// Command rcq-supervise is the supervisor of one job: it runs the job's
// script, enforces its time limit, and records how it ended, outliving rcqd.
// rcqd starts one per job (it falls back to "rcqd supervise" when this
// binary is not installed beside it). It is small and built without cgo so
// that it starts in about a millisecond: one runs for every job.
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/executor"
)

func main() {
	os.Exit(executor.SuperviseMain(os.Args[1:]))
}

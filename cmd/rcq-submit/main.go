// Command rcq-submit: see internal/cli/submit and man/man1/rcq-submit.1.
//
// A plain submit over the local socket is sent by plan.Fast, without
// linking cobra or net/http (their package initialisation was a large part
// of every start); anything else runs the full command, internal/cli/submit,
// in the rcq program (internal/cli/fastpath).
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli/fastpath"
	"github.com/rcq-project/rcq/internal/cli/submit/plan"
)

func main() {
	if code, ok := plan.Fast("rcq-submit", os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(fastpath.Fallback("rcq-submit"))
}

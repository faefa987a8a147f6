// Command rcq-show: see internal/cli/show and man/man1/rcq-show.1.
//
// One job by its id over the local socket is shown by jobtext.Fast, without
// linking cobra or net/http; anything else runs the full command,
// internal/cli/show, in the rcq program (internal/cli/fastpath).
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli/fastpath"
	"github.com/rcq-project/rcq/internal/cli/show/jobtext"
)

func main() {
	if code, ok := jobtext.Fast("rcq-show", os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(fastpath.Fallback("rcq-show"))
}

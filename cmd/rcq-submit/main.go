// Command rcq-submit: see internal/cli/submit and man/man1/rcq-submit.1.
//
// A submit over the local socket is sent by package send, which links
// neither cobra nor net/http nor even fmt (their package initialisation was
// a large part of every start): rcqd reads the command line. Anything else
// runs the full command, internal/cli/submit, in the rcq program
// (internal/cli/fastpath).
package main

import (
	"os"

	"github.com/rcq-project/rcq/internal/cli/fastpath"
	"github.com/rcq-project/rcq/internal/cli/submit/send"
)

func main() {
	if code, ok := send.Command("rcq-submit", os.Args[1:]); ok {
		os.Exit(code)
	}
	os.Exit(fastpath.Fallback("rcq-submit"))
}

package plan

import (
	"syscall"

	"github.com/rcq-project/rcq/internal/rcq"
)

// processUmask is this process's umask, which rcq-submit sends so the job
// creates files as the submitting shell would. It is read by setting it and
// putting it back: rcq-submit creates no file in between, and this is two
// system calls where Linux's /proc/self/status costs an open, a read of the
// whole status and the poller's set-up, on every submit.
func processUmask() rcq.Umask {
	m := syscall.Umask(0o077)
	syscall.Umask(m)
	return rcq.Umask(m)
}

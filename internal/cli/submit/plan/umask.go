package plan

import (
	"bufio"
	"os"
	"strings"
	"syscall"

	"github.com/rcq-project/rcq/internal/rcq"
)

// processUmask is this process's umask, which rcq-submit sends so the job
// creates files as the submitting shell would. Linux shows it in
// /proc/self/status without changing it; elsewhere it is read by setting it
// and putting it back (rcq-submit creates no file in between).
func processUmask() rcq.Umask {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Umask:"); ok {
				if m, err := rcq.ParseUmask(strings.TrimSpace(v)); err == nil {
					return m
				}
			}
		}
	}
	m := syscall.Umask(0o077)
	syscall.Umask(m)
	return rcq.Umask(m)
}

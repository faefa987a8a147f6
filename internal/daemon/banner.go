package daemon

import (
	"fmt"
	"io"
	"strings"

	"github.com/rcq-project/rcq/internal/config"
)

// banner tells the operator where everything is, once, at start.
func banner(w io.Writer, cfg *config.Config, db *database, l *listeners, enforcement string, b *booted) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "rcqd %s ready\n", Version)
	fmt.Fprintf(&sb, "  mode:       %s\n", strings.TrimPrefix(cfg.ModeLine(), "mode: "))
	fmt.Fprintf(&sb, "  database:   %s\n", db.desc)
	fmt.Fprintf(&sb, "  socket:     %s  (curl --unix-socket %s http://rcq/health)\n", l.socket, l.socket)
	fmt.Fprintf(&sb, "  metrics:    %s\n", l.metricsAddr()) // before tcp: a test reads it once it sees tcp
	fmt.Fprintf(&sb, "  tcp:        %s\n", l.tcpAddr())
	fmt.Fprintf(&sb, "  state:      %s\n", cfg.StateDir)
	fmt.Fprintf(&sb, "  scheduler:  every %ds and on every event, at most %d running jobs\n", cfg.Scheduler.IntervalSeconds, cfg.Scheduler.MaxConcurrentJobs)
	fmt.Fprintf(&sb, "  limits:     %s\n", enforcement)
	for _, wk := range b.workers {
		fmt.Fprintf(&sb, "  worker:     %s (%s)\n", wk.Name, wk.Capacity)
	}
	if b.adminPasswordFile != "" {
		fmt.Fprintf(&sb, "  admin:      %s, password in %s\n", AdminEmail, b.adminPasswordFile)
	}
	io.WriteString(w, sb.String())
}

package cli_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartupLinksNoTablewriter keeps tablewriter out of the commands that
// draw no bounded table: its package initialisation (width caches, an ANSI
// regexp, locale detection) costs 1.5-5 ms at every start of every command
// that links it, a third of rcq-submit's whole budget beside sbatch
// (docs/performance.md). Bounded tables are drawn by internal/cli/table.
func TestStartupLinksNoTablewriter(t *testing.T) {
	for _, cmd := range []string{"./cmd/rcq-submit", "./cmd/rcq-queue", "./cmd/rcq-cancel", "./cmd/rcq-acct", "./cmd/rcq-show",
		"./cmd/rcq-control", "./cmd/rcq-tail", "./cmd/rcq-login"} {
		for _, d := range deps(t, cmd) {
			if strings.HasPrefix(d, "github.com/olekukonko/") {
				t.Errorf("%s links %s", cmd, d)
			}
		}
	}
}

// TestFastPathLinksNoHTTP keeps net/http (and with it crypto/tls and x509)
// and cobra out of the binaries whose plain request goes through
// internal/cli/fastpath: their package initialisation was most of what
// rcq-submit spent beside sbatch (docs/performance.md). pflag (with net,
// flag and encoding/csv) and os/exec stay out too: the start-up paths read
// their command lines themselves.
func TestFastPathLinksNoHTTP(t *testing.T) {
	for _, cmd := range []string{"./cmd/rcq-submit", "./cmd/rcq-show"} {
		for _, d := range deps(t, cmd) {
			switch d {
			case "net/http", "crypto/tls", "crypto/x509", "github.com/spf13/cobra", "github.com/spf13/pflag", "net", "os/exec":
				t.Errorf("%s links %s", cmd, d)
			}
		}
	}
}

// TestSubmitStartupIsLean keeps rcq-submit's start-up path
// (internal/cli/submit/send) to what a Go program needs to start and rcq's
// leaf packages: fmt, encoding/json (with reflect) and context, with the
// domain packages that bring them, cost every submit half a millisecond of
// package initialisation before main ran (docs/performance.md, "Ninth
// session").
func TestSubmitStartupIsLean(t *testing.T) {
	for _, d := range deps(t, "./cmd/rcq-submit") {
		switch strings.TrimPrefix(d, "github.com/rcq-project/rcq/") {
		case "fmt", "encoding/json", "reflect", "context", "internal/rcq", "internal/apitype", "internal/cli/submit/plan", "internal/cli/exitcode":
			t.Errorf("cmd/rcq-submit links %s", d)
		}
	}
}

// deps is every package cmd (a ./cmd/... path of the module) links,
// directly or not; the test is skipped in -short mode or without go.
func deps(t *testing.T, cmd string) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs go list")
	}
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Skipf("go env: %v", err)
	}
	out, err := exec.Command("go", "list", "-C", filepath.Dir(strings.TrimSpace(string(root))), "-deps", cmd).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// Package layout holds the test that keeps the package map of DESIGN.md
// ("Packages") true: who may import whom, where SQL and viper may live, and
// what the command-line binaries may link.
package layout

import (
	"bufio"
	"bytes"
	"os/exec"
	"path"
	"strings"
	"testing"
)

const module = "github.com/rcq-project/rcq/"

// mayImport lists, per package of the module, the module packages it may
// import directly (DESIGN.md's "may import" column). A trailing "/..." also
// allows every package under it. Packages not listed may import nothing of
// the module; test files are not checked.
var mayImport = map[string][]string{
	"internal/rcq":         {},
	"internal/apitype":     {"internal/rcq"},
	"internal/config":      {"internal/rcq", "internal/paths"},
	"internal/store":       {"internal/rcq"},
	"internal/pgserver":    {},
	"internal/dbtest":      {"internal/pgserver", "internal/store"},
	"internal/auth":        {"internal/rcq"},
	"internal/api":         {"internal/rcq", "internal/apitype", "internal/auth", "internal/events", "internal/ui", "internal/jsonappend", "internal/jsonscan", "internal/cli/submit/argv", "internal/cli/submit/plan", "internal/cli/exitcode"}, // argv, plan, exitcode: POST /api/jobs/command reads a command line with rcq-submit's own code and tells its usage errors
	"internal/sched":       {"internal/rcq"},
	"internal/executor":    {"internal/rcq"},
	"internal/client":      {"internal/apitype", "internal/rcq", "internal/client/thin"},
	"internal/client/thin": {"internal/apitype", "internal/rcq", "internal/jsonscan", "internal/paths"},
	"internal/paths":       {},
	"internal/jsonappend":  {},
	"internal/jsonscan":    {},
	"internal/metrics":     {"internal/rcq", "internal/sched", "internal/store"},
	"internal/slurm":       {"internal/rcq"},
	"internal/events":      {"internal/rcq", "internal/apitype"},
	"internal/ui":          {"internal/rcq", "internal/apitype", "internal/ui/svg"},
	"internal/ui/svg":      {},
	"internal/ui/uitest":   {},
	"internal/bench":       {"internal/client", "internal/apitype", "internal/rcq", "internal/store", "internal/dbtest", "internal/pgserver"},
	"internal/daemon":      {"internal/rcq", "internal/apitype", "internal/config", "internal/store", "internal/pgserver", "internal/auth", "internal/api", "internal/sched", "internal/executor", "internal/events", "internal/ui", "internal/slurm", "internal/metrics"},
	"internal/cli":         {"internal/client", "internal/client/thin", "internal/cli/exitcode", "internal/jsonappend", "internal/apitype", "internal/rcq", "internal/slurm"},
	"internal/cli/...":     {"internal/cli/...", "internal/client", "internal/client/thin", "internal/jsonappend", "internal/jsonscan", "internal/apitype", "internal/rcq", "internal/slurm"},
	"internal/faults":      {},
	"internal/compat":      {},
	"internal/unixtest":    {},
	"internal/layout":      {},
	"cmd/rcqd":             {"internal/daemon"},
	"cmd/rcq-supervise":    {"internal/executor"},
	"cmd/rcq-bench":        {"internal/bench"},
	"cmd/rcq-gendocs":      {"internal/cli/...", "internal/daemon"},
	"cmd/...":              {"internal/cli/..."},
	"internal/cli/gendocs": {"internal/cli/...", "internal/client", "internal/apitype", "internal/rcq", "internal/slurm"},
}

// onlyIn names third-party packages that one or a few packages of the module
// own: PostgreSQL's driver and migrations in the store (and the test
// database), viper in config.
var onlyIn = map[string][]string{
	"github.com/jackc/pgx":       {"internal/store", "internal/dbtest"},
	"github.com/pressly/goose":   {"internal/store"},
	"github.com/spf13/viper":     {"internal/config"},
	"github.com/jackc/pgerrcode": {"internal/store"},
}

// neverInCLI is what no command-line binary may link, directly or not.
var neverInCLI = []string{"internal/store", "internal/sched", "internal/executor", "internal/daemon", "github.com/jackc/pgx", "github.com/spf13/viper", "github.com/pressly/goose"}

// daemonBinaries are the binaries that are not command-line clients.
var daemonBinaries = map[string]bool{"cmd/rcqd": true, "cmd/rcq-supervise": true, "cmd/rcq-bench": true, "cmd/rcq-gendocs": true}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines
}

func allowedBy(rules []string, pkg string) bool {
	for _, r := range rules {
		if r == pkg || (strings.HasSuffix(r, "/...") && strings.HasPrefix(pkg, strings.TrimSuffix(r, "...")) || pkg == strings.TrimSuffix(r, "/...")) {
			return true
		}
	}
	return false
}

// rulesOf finds the row of the package map for pkg: its own, else the
// nearest "dir/..." row above it.
func rulesOf(pkg string) ([]string, bool) {
	if r, ok := mayImport[pkg]; ok {
		return r, true
	}
	for dir := path.Dir(pkg); dir != "."; dir = path.Dir(dir) {
		if r, ok := mayImport[dir+"/..."]; ok {
			return r, true
		}
	}
	return nil, false
}

func TestImportsFollowThePackageMap(t *testing.T) {
	t.Parallel()
	for _, line := range goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(fields[0], module)
		rules, known := rulesOf(pkg)
		if !known {
			t.Errorf("%s is not in the package map: add its row to DESIGN.md and to mayImport", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if own, ok := strings.CutPrefix(imp, module); ok {
				if !allowedBy(rules, own) {
					t.Errorf("%s imports %s, which DESIGN.md's package map does not allow", pkg, own)
				}
				continue
			}
			for prefix, owners := range onlyIn {
				if strings.HasPrefix(imp, prefix) && !allowedBy(owners, pkg) {
					t.Errorf("%s imports %s, which only %v may", pkg, imp, owners)
				}
			}
		}
	}
}

func TestCommandsNeverLinkTheServer(t *testing.T) {
	t.Parallel()
	// One go list for every command: each line is a command and every
	// package it links, directly or not.
	for _, line := range goList(t, "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "./cmd/...") {
		fields := strings.Fields(line)
		rel := strings.TrimPrefix(fields[0], module)
		if daemonBinaries[rel] {
			continue
		}
		for _, never := range neverInCLI { // one line per forbidden package, not per sub-package
			for _, dep := range fields[1:] {
				d := strings.TrimPrefix(dep, module)
				if d == never || strings.HasPrefix(d, never+"/") {
					t.Errorf("%s links %s: command-line binaries talk to rcqd through the API only", rel, never)
					break
				}
			}
		}
	}
}

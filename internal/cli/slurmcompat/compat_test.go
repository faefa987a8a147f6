package slurmcompat

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/slurm"
)

// The Makefile and the packages install every name, and only those.
func TestNamesShipped(t *testing.T) {
	mk, err := os.ReadFile("../../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(mk), "\n") {
		if strings.HasPrefix(l, "SLURM_NAMES :=") {
			line = strings.TrimSpace(strings.TrimPrefix(l, "SLURM_NAMES :="))
		}
	}
	// rcqd links the same names into the directory it puts on jobs' PATH.
	if !reflect.DeepEqual(slurm.Commands, Names()) {
		t.Errorf("slurm.Commands = %q, want %q", slurm.Commands, Names())
	}
	if got := strings.Fields(line); !reflect.DeepEqual(got, Names()) {
		t.Errorf("Makefile SLURM_NAMES = %q, want %q", got, Names())
	}
	gr, err := os.ReadFile("../../../.goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(gr), "dst: /usr/lib/rcq/slurm-compat/"); n != len(Names()) {
		t.Errorf(".goreleaser.yaml has %d slurm-compat links, want %d", n, len(Names()))
	}
	for _, name := range Names() {
		if !strings.Contains(string(gr), "dst: /usr/lib/rcq/slurm-compat/"+name+"\n") {
			t.Errorf(".goreleaser.yaml does not ship %s", name)
		}
	}
}

func TestInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bin")
	target := filepath.Join(t.TempDir(), "rcq")
	ios, _, out, errOut := cli.Test()
	f := cli.NewFactory("rcq", ios)
	if code := cli.Run(context.Background(), f, NewInstallCmd(f), []string{"install", dir, "--target", target}); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out.String() != "export PATH="+dir+":$PATH\n" {
		t.Errorf("stdout %q", out)
	}
	for _, name := range Names() {
		if got, err := os.Readlink(filepath.Join(dir, name)); err != nil || got != target {
			t.Errorf("%s -> %q, %v", name, got, err)
		}
	}
	// Again: the links are replaced; a real file is left alone without --force.
	if err := os.Remove(filepath.Join(dir, "squeue")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "squeue"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if code := cli.Run(context.Background(), f, NewInstallCmd(f), []string{"install", dir, "--target", target}); code != cli.ExitFailure ||
		!strings.Contains(errOut.String(), "squeue exists and is not a symlink: remove it, or use --force") {
		t.Errorf("over a file: exit %d, %q", code, errOut)
	}
	if code := cli.Run(context.Background(), f, NewInstallCmd(f), []string{"install", dir, "--target", target, "--force"}); code != 0 {
		t.Errorf("--force: exit %d", code)
	}
	if got, _ := os.Readlink(filepath.Join(dir, "squeue")); got != target {
		t.Errorf("--force: squeue -> %q", got)
	}
}

func TestSlurmStates(t *testing.T) {
	for _, c := range []struct {
		in    string
		codes []string
		none  bool
	}{
		{"PD,running", []string{"PD", "R"}, false},
		{"COMPLETED,cancelled,TO,F", []string{"CD", "CA", "TO", "F"}, false},
		{"CG,S,OOM", nil, true},
		{"CG,R", []string{"R"}, false},
		{"all", []string{"all"}, false},
		{"", nil, false},
	} {
		codes, none, err := slurmStates(cli.SplitList(c.in))
		if err != nil || !reflect.DeepEqual(codes, c.codes) || none != c.none {
			t.Errorf("slurmStates(%q) = %q, %v, %v; want %q, %v", c.in, codes, none, err, c.codes, c.none)
		}
	}
	if _, _, err := slurmStates([]string{"R", "nope"}); err == nil || err.Error() != "error: Invalid job state specified: nope" {
		t.Errorf("bad state: %v", err)
	}
}

// A bad option exits 1, as Slurm's commands do, not rcq's 2.
func TestBadOptionExitsOne(t *testing.T) {
	for _, p := range Programs() {
		ios, _, _, errOut := cli.Test()
		f := cli.NewFactory(p.Name, ios)
		if code := Run(context.Background(), f, p, []string{"--no-such-option"}); code != cli.ExitFailure {
			t.Errorf("%s: exit %d, want 1: %s", p.Name, code, errOut)
		}
		if !strings.HasPrefix(errOut.String(), p.Name+": unknown flag: --no-such-option") {
			t.Errorf("%s: stderr %q", p.Name, errOut)
		}
	}
}

func TestSacctmgrFormat(t *testing.T) {
	cols, names, err := parseSacctmgrFormat("account%20,User,defaultaccount,Admin%-5")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names, []string{"Account", "User", "DefaultAccount", "Admin"}) {
		t.Errorf("names %q", names)
	}
	want := []cli.FixedColumn{{Header: "Account", Width: 20, Right: true}, {Header: "User", Width: 10, Right: true},
		{Header: "Def Acct", Width: 10, Right: true}, {Header: "Admin", Width: 5}}
	if !reflect.DeepEqual(cols, want) {
		t.Errorf("cols %+v", cols)
	}
	for _, bad := range []string{"Nope", "Account%x", ""} {
		if _, _, err := parseSacctmgrFormat(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

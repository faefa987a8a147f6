package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/cli/gendocs"
	"github.com/rcq-project/rcq/internal/cli/programs"
)

// TestCommittedFilesAreFresh fails when man/ or completions/ differ from
// what the commands generate now: run `make man completions`.
func TestCommittedFilesAreFresh(t *testing.T) {
	files, err := gendocs.Files(Pages())
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := gendocs.Stale(filepath.Join("..", ".."), files)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Errorf("%s: run make man completions", d)
	}
}

func TestGeneratedFiles(t *testing.T) {
	files, err := gendocs.Files(Pages())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range programs.All() {
		name := p.Name
		page := string(files["man/man1/"+name+".1"])
		for _, want := range []string{".TH \"" + strings.ToUpper(name) + "\" \"1\"", ".SH EXAMPLE", "Exit status", `\fB--server\fP`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s.1 lacks %q", name, want)
			}
		}
		for _, p := range []string{"completions/bash/" + name, "completions/zsh/_" + name, "completions/fish/" + name + ".fish", "completions/powershell/" + name + ".ps1"} {
			if !strings.Contains(string(files[p]), name) {
				t.Errorf("%s missing or does not name %s", p, name)
			}
		}
	}
	if !strings.Contains(string(files["man/man1/rcq-submit.1"]), `\fB--dependency\fP`) {
		t.Error("rcq-submit.1 does not document --dependency")
	}
	// rcq-admin's subcommands have their own pages.
	if page := string(files["man/man1/rcq-admin-worker-drain.1"]); !strings.Contains(page, "rcq-admin worker drain ID|NAME") || !strings.Contains(page, ".SH EXAMPLE") {
		t.Error("rcq-admin-worker-drain.1 missing or without its synopsis and examples")
	}

	// Write, then Stale finds nothing; a changed or extra file is found.
	dir := t.TempDir()
	if err := gendocs.Write(dir, files); err != nil {
		t.Fatal(err)
	}
	if diffs, _ := gendocs.Stale(dir, files); len(diffs) != 0 {
		t.Errorf("fresh output is stale: %v", diffs)
	}
	os.WriteFile(filepath.Join(dir, "man/man1/rcq-old.1"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "completions/bash/rcq-submit"), []byte("x"), 0o644)
	diffs, _ := gendocs.Stale(dir, files)
	if len(diffs) != 2 || !strings.Contains(diffs[0], "rcq-old.1: no longer generated") || !strings.Contains(diffs[1], "completions/bash/rcq-submit: differs") {
		t.Errorf("diffs = %q", diffs)
	}
	// Write removes what it no longer generates.
	if err := gendocs.Write(dir, files); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "man/man1/rcq-old.1")); !os.IsNotExist(err) {
		t.Errorf("stale page kept: %v", err)
	}
}

// Help text is plain text: in the manual page RCQ_* is not emphasis and
// SBATCH_WAIT keeps its underscore.
func TestManPageKeepsPlainText(t *testing.T) {
	files, err := gendocs.Files(Pages())
	if err != nil {
		t.Fatal(err)
	}
	page := string(files["man/man1/rcq-submit.1"])
	for _, want := range []string{"RCQ_* (and SBATCH_*)", "SBATCH_WAIT", "RCQ_MEM_PER_CPU"} {
		if !strings.Contains(strings.ReplaceAll(page, "\\", ""), want) {
			t.Errorf("rcq-submit.1 lacks %q", want)
		}
	}
	if strings.Contains(page, `\fI*`) {
		t.Error("rcq-submit.1 renders a * of the help text as emphasis")
	}
}

// Command rcq-gendocs writes the manual pages and shell completion scripts
// of the rcq programs:
//
//	go run ./cmd/rcq-gendocs -root .          # write man/ and completions/
//	go run ./cmd/rcq-gendocs -root . -check   # exit 1 if they are stale
//
// The list of programs is Pages: the rcq-* commands and rcq in section 1,
// rcqd (and its subcommands) in section 8.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/rcq-project/rcq/internal/cli/gendocs"
	"github.com/rcq-project/rcq/internal/cli/programs"
	"github.com/rcq-project/rcq/internal/daemon"
)

// Pages lists every program documented in man/ and completions/.
func Pages() []gendocs.Page {
	var pages []gendocs.Page
	for _, p := range programs.All() {
		pages = append(pages, gendocs.Page{Cmd: p.Command(), Section: "1"})
	}
	// rcq(1): the umbrella; its subcommands are documented by the pages above.
	pages = append(pages, gendocs.Page{Cmd: programs.Umbrella.Command(), Section: "1"})
	// rcqd.8 and a page per subcommand (rcqd-config.8).
	rcqd := daemon.NewRootCmd()
	rcqd.DisableAutoGenTag = true
	pages = append(pages, gendocs.Page{Cmd: rcqd, Section: "8", Tree: true})
	return pages
}

func main() {
	root := flag.String("root", ".", "repository root: man/ and completions/ are written under it")
	check := flag.Bool("check", false, "write nothing; exit 1 and list the files that are stale")
	flag.Parse()
	files, err := gendocs.Files(Pages())
	if err != nil {
		fmt.Fprintln(os.Stderr, "rcq-gendocs:", err)
		os.Exit(1)
	}
	if *check {
		diffs, err := gendocs.Stale(*root, files)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rcq-gendocs:", err)
			os.Exit(1)
		}
		for _, d := range diffs {
			fmt.Fprintln(os.Stderr, "rcq-gendocs:", d)
		}
		if len(diffs) > 0 {
			fmt.Fprintln(os.Stderr, "rcq-gendocs: run: make man completions")
			os.Exit(1)
		}
		return
	}
	if err := gendocs.Write(*root, files); err != nil {
		fmt.Fprintln(os.Stderr, "rcq-gendocs:", err)
		os.Exit(1)
	}
}

// Command rcq-gendocs writes the manual pages and shell completion scripts
// of the rcq programs:
//
//	go run ./cmd/rcq-gendocs -root .            # write man/ and completions/
//	go run ./cmd/rcq-gendocs -man man           # only the manual pages, into man/
//	go run ./cmd/rcq-gendocs -completions comp  # only the completion scripts
//	go run ./cmd/rcq-gendocs -root . -check     # exit 1 if they are stale
//
// The list of programs is Pages: the rcq-* commands and rcq in section 1,
// rcqd (and its subcommands) in section 8.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/rcq-project/rcq/internal/cli/gendocs"
	"github.com/rcq-project/rcq/internal/cli/programs"
	"github.com/rcq-project/rcq/internal/daemon"
)

// Pages lists every program documented in man/ and completions/.
func Pages() []gendocs.Page {
	var pages []gendocs.Page
	for _, p := range programs.All() {
		// A program with subcommands (rcq-admin) gets a page per subcommand too.
		c := p.Command()
		pages = append(pages, gendocs.Page{Cmd: c, Section: "1", Tree: c.HasAvailableSubCommands()})
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
	manDir := flag.String("man", "", "write only the manual pages, into `DIR` (DIR/man1, DIR/man8)")
	complDir := flag.String("completions", "", "write only the completion scripts, into `DIR` (DIR/bash, DIR/zsh...)")
	check := flag.Bool("check", false, "write nothing; exit 1 and list the files under -root that are stale")
	flag.Parse()
	files, err := gendocs.Files(Pages())
	if err != nil {
		fail(err)
	}
	if *check {
		diffs, err := gendocs.Stale(*root, files)
		if err != nil {
			fail(err)
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
	if *manDir == "" && *complDir == "" {
		if err := gendocs.Write(*root, files); err != nil {
			fail(err)
		}
		return
	}
	for prefix, dir := range map[string]string{"man/": *manDir, "completions/": *complDir} {
		if dir == "" {
			continue
		}
		part := map[string][]byte{}
		for name, b := range files {
			if rest, ok := strings.CutPrefix(name, prefix); ok {
				part[rest] = b
			}
		}
		if err := gendocs.Write(dir, part); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "rcq-gendocs:", err)
	os.Exit(1)
}

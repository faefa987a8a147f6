// Package gendocs writes manual pages (cobra/doc) and shell completion
// scripts (bash, zsh, fish, powershell) for any cobra root command, so the
// committed man/ and completions/ directories can be regenerated and checked
// for staleness.
package gendocs

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Date is the date in every manual page's footer. It is fixed so the pages
// do not change with the day they are generated; bump it on release.
var Date = time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC)

// Page is one program to document.
type Page struct {
	Cmd     *cobra.Command // the program's root command
	Section string         // manual section: "1" for user commands, "8" for rcqd
	// Tree documents every subcommand in its own page (rcqd config ->
	// rcqd-config.8); otherwise only the root gets a page.
	Tree bool
	// NoCompletion skips the completion scripts (e.g. for a daemon).
	NoCompletion bool
}

// Files renders every page and completion script in memory, keyed by a path
// relative to the output root: man/man1/rcq-submit.1,
// completions/bash/rcq-submit, completions/zsh/_rcq-submit,
// completions/fish/rcq-submit.fish, completions/powershell/rcq-submit.ps1.
func Files(pages []Page) (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, p := range pages {
		if err := manPages(files, p); err != nil {
			return nil, err
		}
		if p.NoCompletion {
			continue
		}
		if err := completions(files, p.Cmd); err != nil {
			return nil, err
		}
	}
	return files, nil
}

func manPages(files map[string][]byte, p Page) error {
	cmds := []*cobra.Command{p.Cmd}
	if p.Tree {
		cmds = nil
		var walk func(*cobra.Command)
		walk = func(c *cobra.Command) {
			if c != p.Cmd && (!c.IsAvailableCommand() || c.Name() == "help" || c.Name() == "completion") || c.IsAdditionalHelpTopicCommand() {
				return
			}
			cmds = append(cmds, c)
			for _, sub := range c.Commands() {
				walk(sub)
			}
		}
		walk(p.Cmd)
	}
	for _, c := range cmds {
		c.DisableAutoGenTag = true
		// cobra hands Long to a Markdown renderer: RCQ_* would open
		// emphasis and SBATCH_WAIT_ lose its underscore. Help text is plain
		// text, so its Markdown characters are escaped.
		c.Long = markdownEscaper.Replace(c.Long)
		date := Date
		header := &doc.GenManHeader{
			Title:   manTitle(c),
			Section: p.Section,
			Date:    &date,
			Source:  "rcq",
			Manual:  "rcq manual",
		}
		var buf bytes.Buffer
		if err := doc.GenMan(c, header, &buf); err != nil {
			return fmt.Errorf("manual page of %s: %w", c.CommandPath(), err)
		}
		name := fmt.Sprintf("man/man%s/%s.%s", p.Section, manName(c), p.Section)
		files[name] = buf.Bytes()
	}
	return nil
}

var markdownEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`")

// manName is the page's name: "rcqd config" -> "rcqd-config".
func manName(c *cobra.Command) string { return strings.ReplaceAll(c.CommandPath(), " ", "-") }

func manTitle(c *cobra.Command) string { return strings.ToUpper(manName(c)) }

// bashFallbacks stand in for the two bash-completion package functions
// cobra's bash script calls, so completion works where that package is not
// installed (minimal servers, containers). Defined only when missing, after
// the script, so the package's full versions win when it is there.
const bashFallbacks = `
# Without the bash-completion package: minimal stand-ins for what the script
# above uses from it.
if ! declare -F _get_comp_words_by_ref >/dev/null 2>&1; then
_get_comp_words_by_ref()
{
    while [[ $# -gt 0 && $1 == -* ]]; do
        [[ $1 == -n ]] && shift
        shift
    done
    local v
    for v in "$@"; do
        case $v in
        cur) cur=${COMP_WORDS[COMP_CWORD]} ;;
        prev) prev=${COMP_WORDS[COMP_CWORD-1]} ;;
        words) words=("${COMP_WORDS[@]}") ;;
        cword) cword=$COMP_CWORD ;;
        esac
    done
}
fi
if ! declare -F _filedir >/dev/null 2>&1; then
_filedir()
{
    local IFS=$'\n'
    if [[ ${1-} == -d ]]; then
        COMPREPLY+=($(compgen -d -- "${cur-}"))
    else
        COMPREPLY+=($(compgen -f -- "${cur-}"))
    fi
}
fi
`

func completions(files map[string][]byte, c *cobra.Command) error {
	name := c.Name()
	gens := []struct {
		path string
		gen  func(io.Writer) error
	}{
		{"completions/bash/" + name, func(w io.Writer) error {
			if err := c.GenBashCompletionV2(w, true); err != nil {
				return err
			}
			_, err := io.WriteString(w, bashFallbacks)
			return err
		}},
		{"completions/zsh/_" + name, c.GenZshCompletion},
		{"completions/fish/" + name + ".fish", func(w io.Writer) error { return c.GenFishCompletion(w, true) }},
		{"completions/powershell/" + name + ".ps1", c.GenPowerShellCompletionWithDesc},
	}
	for _, g := range gens {
		var buf bytes.Buffer
		if err := g.gen(&buf); err != nil {
			return fmt.Errorf("%s: %w", g.path, err)
		}
		files[g.path] = buf.Bytes()
	}
	return nil
}

// ownedDirs are the directories files go to (man/man1, completions/bash...):
// the generator owns every file in them.
func ownedDirs(files map[string][]byte) []string {
	set := map[string]bool{}
	for rel := range files {
		set[path.Dir(rel)] = true
	}
	dirs := make([]string, 0, len(set))
	for d := range set {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	return dirs
}

// Write writes files under root, replacing what the generator owns: a file
// in one of the directories it writes to that is not in files is removed.
func Write(root string, files map[string][]byte) error {
	for _, dir := range ownedDirs(files) {
		existing, err := List(filepath.Join(root, dir))
		if err != nil {
			return err
		}
		for _, rel := range existing {
			if _, ok := files[filepath.ToSlash(filepath.Join(dir, rel))]; !ok {
				if err := os.Remove(filepath.Join(root, dir, rel)); err != nil {
					return err
				}
			}
		}
	}
	for rel, b := range files {
		path := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// List returns the files under dir, relative to it, sorted; a missing dir is
// empty.
func List(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == dir {
				return filepath.SkipDir
			}
			return err
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(dir, path)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// Stale compares files with what is under root and returns one line per
// difference: a file missing, different, or not generated any more.
func Stale(root string, files map[string][]byte) ([]string, error) {
	var diffs []string
	for _, dir := range ownedDirs(files) {
		existing, err := List(filepath.Join(root, dir))
		if err != nil {
			return nil, err
		}
		for _, rel := range existing {
			p := dir + "/" + rel
			if _, ok := files[p]; !ok {
				diffs = append(diffs, p+": no longer generated")
			}
		}
	}
	names := make([]string, 0, len(files))
	for rel := range files {
		names = append(names, rel)
	}
	sort.Strings(names)
	for _, rel := range names {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		switch {
		case os.IsNotExist(err):
			diffs = append(diffs, rel+": missing")
		case err != nil:
			return nil, err
		case !bytes.Equal(b, files[rel]):
			diffs = append(diffs, rel+": differs from the commands")
		}
	}
	return diffs, nil
}

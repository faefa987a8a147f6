package show

import (
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/cli/clitest"
	"github.com/rcq-project/rcq/internal/cli/show/jobtext"
)

// checkFastArgs fails when jobtext.FastArgs accepts args and reads them
// otherwise than the full command does; it returns FastArgs's ok.
func checkFastArgs(t *testing.T, args []string) bool {
	t.Helper()
	server, id, asJSON, ok := jobtext.FastArgs(args)
	if !ok {
		return false
	}
	e := clitest.NewEnv(t, "rcq-show", "unix:///nowhere.sock")
	var got *Options
	cmd := NewCmd(e.F, func(o *Options) error { got = o; return nil })
	if code := e.Run(cmd, args...); code != 0 || got == nil {
		t.Fatalf("FastArgs(%q) accepted what the full command refuses (exit %d)", args, code)
	}
	if len(got.JobIDs) != 1 || got.JobIDs[0] != id || len(got.Refs) != 1 || got.JSON != asJSON {
		t.Errorf("FastArgs(%q): job %d, the full command's %+v", args, id, got)
	}
	if s := cmd.PersistentFlags().Lookup("server").Value.String(); s != server {
		t.Errorf("FastArgs(%q): server %q, the full command's %q", args, server, s)
	}
	return true
}

// TestFastArgsAgreesWithTheFullCommand: rcq-show's start-up path reads one
// job by its id as the full command does, and leaves anything else to it.
func TestFastArgsAgreesWithTheFullCommand(t *testing.T) {
	for _, args := range [][]string{
		{"42"}, {"job", "42"}, {"JOB", "42"}, {"--server", "unix:///s.sock", "42"}, {"42", "--server=unix:///s.sock"},
		{"--server", "--json", "42"}, // a server named --json, as pflag reads it
		{"--json", "42"}, {"42", "--json"}, {"--json", "job", "42", "--server=unix:///s.sock"},
	} {
		if !checkFastArgs(t, args) {
			t.Errorf("FastArgs(%q) left a plain command line to the full command", args)
		}
	}
	for _, args := range [][]string{
		{}, {"job"}, {"--json=true", "42"}, {"--json"}, {"-h"}, {"--help"}, {"42", "43"}, {"42,43"}, {"42_1"}, {"042"}, {"0"}, {"+42"},
		{"--", "42"}, {"--server"}, {"-", "42"}, {"job", "job", "42"},
	} {
		if checkFastArgs(t, args) {
			t.Errorf("FastArgs(%q) = ok; want it left to the full command", args)
		}
	}
}

// FuzzFastArgs: whatever FastArgs accepts, the full command reads alike.
// The input is the command line, one word per line.
func FuzzFastArgs(f *testing.F) {
	for _, seed := range []string{"42", "job\n42", "--server\nunix:///s\n7", "--server=x\njob\n9", "--json\n4"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if args := strings.Split(line, "\n"); len(args) <= 8 {
			checkFastArgs(t, args)
		}
	})
}

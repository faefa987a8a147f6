package submit

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/cli/clitest"
	"github.com/rcq-project/rcq/internal/cli/submit/argv"
)

// fullCommand parses args with the full rcq-submit command (cobra and
// pflag, stopped before the run): the reference argv.Parse is held to.
func fullCommand(t *testing.T, args []string) (opts *Options, server string, code int) {
	t.Helper()
	e := clitest.NewEnv(t, "rcq-submit", "unix:///nowhere.sock")
	cmd := NewCmd(e.F, func(o *Options) error { opts = o; return nil })
	code = e.Run(cmd, args...)
	if f := cmd.PersistentFlags().Lookup("server"); f != nil {
		server = f.Value.String()
	}
	return opts, server, code
}

// checkAgrees fails when argv.Parse accepts args and reads them
// otherwise than the full command does; it returns argv.Parse's ok.
func checkAgrees(t *testing.T, args []string) bool {
	t.Helper()
	a, ok := argv.Parse(args)
	if !ok {
		return false
	}
	opts, server, code := fullCommand(t, args)
	if code != 0 || opts == nil {
		t.Fatalf("argv.Parse(%q) accepted what the full command refuses (exit %d)", args, code)
	}
	if !maps.Equal(a.CmdLine, opts.CmdLine) {
		t.Errorf("argv.Parse(%q): options %v, the full command's %v", args, a.CmdLine, opts.CmdLine)
	}
	if !slices.Equal(a.Rest, opts.Args) {
		t.Errorf("argv.Parse(%q): script and arguments %q, the full command's %q", args, a.Rest, opts.Args)
	}
	if a.Server != server {
		t.Errorf("argv.Parse(%q): server %q, the full command's %q", args, a.Server, server)
	}
	return true
}

// TestParseArgsAgreesWithTheFullCommand: the start-up path reads the usual
// command lines (so it stays the path taken) exactly as the full command,
// and leaves the rest to it.
func TestParseArgsAgreesWithTheFullCommand(t *testing.T) {
	read := [][]string{
		{"--hold", "--wrap", "true"},
		{"--wrap=sleep 60"},
		{"job.sh"},
		{"job.sh", "--mem", "1G", "-J", "arg"}, // the script's own arguments
		{"-J", "x", "--mem=4G", "-c8", "-H", "job.sh"},
		{"-J=x", "-c", "2", "--parsable", "--", "job.sh", "-x"},
		{"-HW", "job.sh"},         // a cluster of booleans
		{"-Hc", "4", "job.sh"},    // a boolean, then a letter taking the next word
		{"-Hc4", "job.sh"},        // ... or the rest of the cluster
		{"-J", "-c", "job.sh"},    // a value that looks like an option
		{"-J=", "job.sh"},         // pflag: the name is "="
		{"--job-name=", "job.sh"}, // an empty name
		{"--hold=false", "--requeue=1", "-H=0", "job.sh"},
		{"--exclusive", "job.sh"}, // an optional value left out
		{"--exclusive=user", "--nice", "job.sh"},
		{"--server", "unix:///tmp/s.sock", "--wrap", "true"},
		{"--server=", "job.sh"},
		{"-p", "rcq", "-N", "1", "-n", "2", "-A", "lab", "-t", "10", "job.sh"},
		{"-", "x"},                               // "-" is a word: the script on standard input
		{"--hold"},                               // no script: the full command reads standard input
		{"--mem", "4G", "--mem", "8G", "job.sh"}, // the last one wins
		{"", "job.sh"},
	}
	for _, args := range read {
		if !checkAgrees(t, args) {
			t.Errorf("argv.Parse(%q) left a usual command line to the full command", args)
		}
	}
	left := [][]string{
		{"--help"}, {"-h"}, {"--help=false", "job.sh"}, {"-Hh"},
		{"--nope", "job.sh"}, {"-y", "job.sh"}, {"---hold", "job.sh"}, {"--=x", "job.sh"},
		{"--mem"}, {"-J"}, {"--server"},
		{"--hold=maybe", "job.sh"}, {"-H=", "job.sh"}, {"-H%", "job.sh"},
		{"-test.v", "job.sh"}, {"-Htest.v", "job.sh"},
		{"__complete", "--"}, {"--hold", "__completeNoDesc", ""}, {"-J", "__complete", "job.sh"},
	}
	for _, args := range left {
		if checkAgrees(t, args) {
			t.Errorf("argv.Parse(%q) = ok; want it left to the full command", args)
		}
	}
}

// FuzzParseArgs: whatever argv.Parse accepts, the full command reads alike.
// The input is the command line, one word per line.
func FuzzParseArgs(f *testing.F) {
	for _, seed := range []string{
		"--hold\n--wrap\ntrue", "-J\nx\n--mem=4G\n-c8\n-H\njob.sh", "-HWc\n2\n--\njob.sh\n-x",
		"--exclusive\n--nice=5\n-Jname\njob.sh", "--server=unix:///s\n-t=10\n--parsable\njob.sh",
		"-H=true\n--requeue=F\n-Q\n-v\n--array=1-3%2\n-o\n%j.out\njob.sh", "--gres\ngpu:1\n-G\n2\n-\na",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\n")
		if len(args) > 16 {
			return
		}
		checkAgrees(t, args)
	})
}

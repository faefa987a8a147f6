// Package argv is rcq-submit's options (and sbatch's: the same command) as
// a table, and the reading of a command line against it. Package plan gives
// the options their meaning; this package only knows their names, which take
// a value, and where they may appear. It links nothing but strconv and
// strings, so rcq-submit's start-up path (internal/cli/submit/send) can find
// the script on its command line without linking what plan links
// (docs/performance.md, "Ninth session").
package argv

import (
	"strconv"
	"strings"
)

// Option is one rcq-submit option, as a flag, an input environment variable
// and a directive.
type Option struct {
	Long, Short string
	Bool        bool
	Env         []string // input variables, highest precedence first
	Directive   bool     // may appear in #RCQ and #SBATCH lines
	Usage       string   // a `WORD` in back quotes is the value's placeholder; "" with a Note (see Help)
	Optional    bool     // the value may be left out (--exclusive): it is then OptionalSet
	Note        string   // a Slurm option rcq ignores: why, for its warning
	// Slurm: one of sbatch's options without an rcq-submit twin, accepted on
	// the command line (hidden from rcq-submit's help; sbatch shows them)
	// and in #SBATCH lines, never in #RCQ lines.
	Slurm bool
}

// Help is the option's line in --help: its Usage, or for an option rcq
// ignores, why.
func (o *Option) Help() string {
	if o.Note != "" {
		return "ignored with a warning: " + o.Note
	}
	return o.Usage
}

// OptionalSet is the value of an option with an optional value given
// without one (--exclusive).
const OptionalSet = "(set)"

// All is every option, in --help order: rcq-submit's, then Slurm's. The
// slice is shared: callers must not change it.
func All() []Option { return options }

// options is All: rcq's own options first, then Slurm's. It is one
// literal, laid out by the linker: nothing to build when a command starts.
var options = []Option{
	{Long: "job-name", Short: "J", Env: []string{"RCQ_JOB_NAME", "SBATCH_JOB_NAME"}, Directive: true,
		Usage: "`NAME` of the job (default: the script's file name, \"wrap\" or \"stdin\")"},
	{Long: "cpus-per-task", Short: "c", Env: []string{"RCQ_CPUS_PER_TASK", "SBATCH_CPUS_PER_TASK"}, Directive: true,
		Usage: "`N` CPU cores for the job (default 1)"},
	{Long: "mem", Env: []string{"RCQ_MEM", "SBATCH_MEM_PER_NODE"}, Directive: true,
		Usage: "memory `SIZE`, e.g. 512M, 4G, 1T (no unit: megabytes; rounded up to whole gigabytes; 0: all of a node's, the largest worker's; default 1G)"},
	{Long: "mem-per-cpu", Env: []string{"RCQ_MEM_PER_CPU", "SBATCH_MEM_PER_CPU"}, Directive: true,
		Usage: "memory `SIZE` per CPU core: the job gets SIZE x --cpus-per-task, rounded up to whole gigabytes (instead of --mem)"},
	{Long: "gpus", Short: "G", Env: []string{"RCQ_GPUS", "SBATCH_GPUS"}, Directive: true,
		Usage: "`N` GPUs for the job, or TYPE:N (the type is ignored)"},
	{Long: "gres", Env: []string{"RCQ_GRES", "SBATCH_GRES"}, Directive: true,
		Usage: "generic resources `LIST`: gpu:N or gpu:TYPE:N (same as --gpus; other resources are ignored with a warning)"},
	{Long: "time", Short: "t", Env: []string{"RCQ_TIMELIMIT", "SBATCH_TIMELIMIT"}, Directive: true,
		Usage: "time limit `TIME`: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (default: rcqd's, 1 hour)"},
	{Long: "priority", Env: []string{"RCQ_PRIORITY"}, Directive: true,
		Usage: "job priority `N` from 1 (default) to 10"},
	{Long: "output", Short: "o", Env: []string{"RCQ_OUTPUT", "SBATCH_OUTPUT"}, Directive: true,
		Usage: "file `PATTERN` for standard output; %j job id, %x job name, %u user, %A array id, %a array index, %% a % (default rcq-%j.out, an array's rcq-%A_%a.out)"},
	{Long: "error", Short: "e", Env: []string{"RCQ_ERROR", "SBATCH_ERROR"}, Directive: true,
		Usage: "file `PATTERN` for standard error, same patterns as --output (default: the output file)"},
	{Long: "chdir", Short: "D", Env: []string{"RCQ_CHDIR"}, Directive: true,
		Usage: "`DIR` the job runs in (default: the current directory)"},
	{Long: "export", Env: []string{"RCQ_EXPORT", "SBATCH_EXPORT"}, Directive: true,
		Usage: "environment `VARS` of the job: ALL (default), NONE, or a list VAR,VAR=value (ALL,VAR=value adds to everything)"},
	{Long: "dependency", Short: "d", Env: []string{"RCQ_DEPENDENCY"}, Directive: true,
		Usage: "start only after other jobs: `LIST` of afterok:ID[:ID...], afterany:ID, afternotok:ID, comma-separated; an ID may be an array (every element) or an element, 123_4; aftercorr:ID makes element i of an array wait for element i of array ID"},
	{Long: "array", Short: "a", Env: []string{"RCQ_ARRAY", "SBATCH_ARRAY_INX"}, Directive: true,
		Usage: "a job array: run the script once per index of `SPEC`, e.g. 0-99, 1,3,5-7, 0-99:4 (step), 0-99%8 (at most 8 at once)"},
	{Long: "hold", Short: "H", Bool: true, Env: []string{"RCQ_HOLD", "SBATCH_HOLD"}, Directive: true,
		Usage: "submit the job held; it starts only once released (rcq-control release ID)"},
	{Long: "requeue", Bool: true, Env: []string{"RCQ_REQUEUE", "SBATCH_REQUEUE"}, Directive: true,
		Usage: "put the job back in the queue, once, keeping its id and priority, if its node fails or it is never launched (default: only array elements are)"},
	{Long: "no-requeue", Bool: true, Env: []string{"RCQ_NO_REQUEUE", "SBATCH_NO_REQUEUE"}, Directive: true,
		Usage: "never put the job back in the queue: if its node fails it ends NODE_FAIL (array elements included); rcq-control requeue refuses it"},
	{Long: "parsable", Bool: true, Directive: true,
		Usage: "print only the job id"},
	{Long: "wait", Short: "W", Bool: true, Env: []string{"RCQ_WAIT", "SBATCH_WAIT"}, Directive: true,
		Usage: "wait for the job to end and exit with its exit code"},
	{Long: "test-only", Bool: true, Directive: true,
		Usage: "check the job and print when it would start; submit nothing"},
	{Long: "wrap",
		Usage: "run `COMMAND` in an sh script instead of a script file"},
	{Long: "json", Bool: true,
		Usage: "print the answer as JSON"},
	// sbatch's options that have no rcq-submit twin. Each either has an
	// honest meaning on rcq's one-node jobs (--ntasks x --cpus-per-task
	// cores, --nodes 1, --partition rcq, the caller's own group as
	// --account) or is ignored with one warning naming it (Note): none
	// changes what runs without saying so.
	{Long: "account", Short: "A", Slurm: true, Env: []string{"SBATCH_ACCOUNT"}, Directive: true,
		Usage: "`NAME` of your group (Slurm's account); any other is refused"},
	{Long: "partition", Short: "p", Slurm: true, Env: []string{"SBATCH_PARTITION"}, Directive: true,
		Usage: "`NAME` of the partition: rcq, the only one; any other is refused"},
	{Long: "clusters", Short: "M", Slurm: true, Env: []string{"SBATCH_CLUSTERS"}, Directive: true,
		Usage: "`NAME` of the cluster: rcq (or all); any other is refused"},
	{Long: "nodes", Short: "N", Slurm: true, Directive: true,
		Usage: "`N` nodes: 1 (or a range from 1); more are refused, an rcq job runs on one node"},
	{Long: "ntasks", Short: "n", Slurm: true, Directive: true,
		Usage: "`N` tasks: the job gets N x --cpus-per-task cores (srun inside the job starts the tasks)"},
	{Long: "ntasks-per-node", Slurm: true, Directive: true,
		Usage: "`N` tasks on the one node: as --ntasks"},
	{Long: "gpus-per-node", Slurm: true, Directive: true,
		Usage: "`N` GPUs on the one node (or TYPE:N): as --gpus"},
	{Long: "quiet", Short: "Q", Slurm: true, Bool: true, Directive: true, Usage: "accepted: rcq prints no progress messages"},
	{Long: "verbose", Short: "v", Slurm: true, Bool: true, Directive: true, Usage: "accepted; no effect"},
	// A comment is metadata only, which tools (Snakemake) put on every job:
	// no warning, since some read sbatch's stderr and stdout as one.
	{Long: "comment", Slurm: true, Directive: true, Usage: "`TEXT` accepted and not kept (metadata only: nothing changes in what runs)"},
	// Ignored with a warning: they would not change what runs, or rcq
	// cannot honour them.
	{Long: "qos", Short: "q", Directive: true, Slurm: true, Note: "rcq has no QOS (normal is accepted)"},
	{Long: "constraint", Short: "C", Directive: true, Slurm: true, Note: "rcq has no node features"},
	{Long: "exclusive", Directive: true, Optional: true, Slurm: true, Note: "the job gets the cores it asks for, not the whole node"},
	{Long: "signal", Directive: true, Slurm: true, Note: "rcq sends no signal before the time limit"},
	{Long: "open-mode", Directive: true, Slurm: true, Note: "rcq writes the output files as it always does"},
	{Long: "wckey", Directive: true, Slurm: true, Note: "rcq has no workload keys"},
	{Long: "mail-type", Directive: true, Slurm: true, Note: "rcq sends no mail (NONE is accepted)"},
	{Long: "mail-user", Directive: true, Slurm: true, Note: "rcq sends no mail"},
	{Long: "reservation", Directive: true, Slurm: true, Note: "rcq has no reservations"},
	{Long: "licenses", Short: "L", Directive: true, Slurm: true, Note: "rcq has no licenses"},
	{Long: "nice", Directive: true, Optional: true, Slurm: true, Note: "use --priority"},
	{Long: "begin", Short: "b", Directive: true, Slurm: true, Note: "the job may start at once"},
	{Long: "tmp", Directive: true, Slurm: true, Note: "rcq does not reserve disk space"},
	{Long: "exclude", Short: "x", Directive: true, Slurm: true, Note: "rcq picks the worker"},
	{Long: "nodelist", Short: "w", Directive: true, Slurm: true, Note: "rcq picks the worker"},
	{Long: "threads-per-core", Directive: true, Slurm: true, Note: "rcq gives cores"},
	{Long: "hint", Directive: true, Slurm: true, Note: "rcq gives cores"},
	{Long: "distribution", Short: "m", Directive: true, Slurm: true, Note: "rcq runs every task on one node"},
	{Long: "mincpus", Directive: true, Slurm: true, Note: "use --cpus-per-task"},
	{Long: "profile", Directive: true, Slurm: true, Note: "rcq records CPU time and peak memory of every job"},
	{Long: "acctg-freq", Directive: true, Slurm: true, Note: "rcq records CPU time and peak memory of every job"},
	{Long: "get-user-env", Directive: true, Optional: true, Slurm: true, Note: "--export decides the job's environment"},
}

// Long is the option named --name, or nil.
func Long(name string) *Option {
	for i := range options {
		if options[i].Long == name {
			return &options[i]
		}
	}
	return nil
}

// Short is the option named -letter, or nil.
func Short(letter string) *Option {
	for i := range options {
		if options[i].Short != "" && options[i].Short == letter {
			return &options[i]
		}
	}
	return nil
}

// Args is a command line read by Parse.
type Args struct {
	CmdLine map[string]string // the options given, by long name, as the full command's Options.CmdLine
	Server  string            // --server
	Rest    []string          // the script and its arguments
}

// Parse reads rcq-submit's command line for the start-up path, without
// building the full command's flag set (pflag's set-up of every option was a
// quarter of the time from main to the request). It reads what the full
// command's parser reads (pflag, the options of All, --server, no options
// after the script): --name=value, --name value, -n value, -nvalue, -n=value,
// clusters of one-letter booleans (-HW), -- before the script. ok is false
// for anything else (an unknown option, --help, a missing value, a boolean
// that is not true or false, cobra's completion request): the full command
// then parses the line and says what is wrong with it. A test and a fuzz
// target hold Parse to the full command's results.
func Parse(args []string) (a Args, ok bool) {
	a.CmdLine = map[string]string{}
	end, ok := a.parse(args)
	for _, w := range args[:min(end+1, len(args))] {
		if strings.HasPrefix(w, "__complete") {
			// Cobra takes the first word it guesses is no option's value
			// for a command: its completion request.
			return a, false
		}
	}
	return a, ok
}

// parse is Parse; end is where the options end (the index of the
// script, of --, or len(args)).
func (a *Args) parse(args []string) (end int, ok bool) {
	for i := 0; i < len(args); i++ {
		s := args[i]
		switch {
		case len(s) < 2 || s[0] != '-':
			a.Rest = args[i:]
			return i, true
		case s == "--":
			a.Rest = args[i+1:]
			return i, true
		case s[1] == '-':
			name, value, hasValue := strings.Cut(s[2:], "=")
			o := Long(name)
			if name == "server" {
				o = &Option{Long: name}
			}
			if o == nil {
				return i, false
			}
			switch {
			case hasValue:
			case o.Bool:
				value = "true"
			case o.Optional:
				value = OptionalSet
			case i+1 < len(args):
				i++
				value = args[i]
			default:
				return i, false
			}
			if !a.set(o, value) {
				return i, false
			}
		default:
			// A cluster of one-letter options: each takes the rest of the
			// word as its value (after an optional =), or the next word
			// when it is the last letter, unless it is a boolean.
			shorts := s[1:]
			for shorts != "" {
				if strings.HasPrefix(shorts, "test.") {
					return i, false // pflag skips go test's flags
				}
				o := Short(shorts[:1])
				if o == nil {
					return i, false
				}
				var value string
				switch {
				case len(shorts) > 2 && shorts[1] == '=':
					value, shorts = shorts[2:], ""
				case o.Bool:
					value, shorts = "true", shorts[1:]
				case o.Optional:
					value, shorts = OptionalSet, shorts[1:]
				case len(shorts) > 1:
					value, shorts = shorts[1:], ""
				case i+1 < len(args):
					i++
					value, shorts = args[i], ""
				default:
					return i, false
				}
				if !a.set(o, value) {
					return i, false
				}
			}
		}
	}
	return len(args), true
}

// set records one option's value as the full command's parser would: a
// boolean as true or false.
func (a *Args) set(o *Option, value string) bool {
	if o.Bool {
		b, err := strconv.ParseBool(value)
		if err != nil {
			return false
		}
		value = strconv.FormatBool(b)
	}
	if o.Long == "server" {
		a.Server = value
	} else {
		a.CmdLine[o.Long] = value
	}
	return true
}

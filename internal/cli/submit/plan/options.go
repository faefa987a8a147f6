package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// option is one rcq-submit option, as a flag, an input environment variable
// and a directive.
type option struct {
	long, short string
	isBool      bool
	env         []string // input variables, highest precedence first
	directive   bool     // may appear in #RCQ and #SBATCH lines
	usage       string   // a `WORD` in back quotes is the value's placeholder
	optional    bool     // the value may be left out (--exclusive): it is then optionalSet
	note        string   // a Slurm option rcq ignores: why, for its warning
}

// options is every rcq-submit option. Order is the order of --help.
var options = []option{
	{long: "job-name", short: "J", env: []string{"RCQ_JOB_NAME", "SBATCH_JOB_NAME"}, directive: true,
		usage: "`NAME` of the job (default: the script's file name, \"wrap\" or \"stdin\")"},
	{long: "cpus-per-task", short: "c", env: []string{"RCQ_CPUS_PER_TASK", "SBATCH_CPUS_PER_TASK"}, directive: true,
		usage: "`N` CPU cores for the job (default 1)"},
	{long: "mem", env: []string{"RCQ_MEM", "SBATCH_MEM_PER_NODE"}, directive: true,
		usage: "memory `SIZE`, e.g. 512M, 4G, 1T (no unit: megabytes; rounded up to whole gigabytes; 0: all of a node's, the largest worker's; default 1G)"},
	{long: "mem-per-cpu", env: []string{"RCQ_MEM_PER_CPU", "SBATCH_MEM_PER_CPU"}, directive: true,
		usage: "memory `SIZE` per CPU core: the job gets SIZE x --cpus-per-task, rounded up to whole gigabytes (instead of --mem)"},
	{long: "gpus", short: "G", env: []string{"RCQ_GPUS", "SBATCH_GPUS"}, directive: true,
		usage: "`N` GPUs for the job, or TYPE:N (the type is ignored)"},
	{long: "gres", env: []string{"RCQ_GRES", "SBATCH_GRES"}, directive: true,
		usage: "generic resources `LIST`: gpu:N or gpu:TYPE:N (same as --gpus; other resources are ignored with a warning)"},
	{long: "time", short: "t", env: []string{"RCQ_TIMELIMIT", "SBATCH_TIMELIMIT"}, directive: true,
		usage: "time limit `TIME`: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (default: rcqd's, 1 hour)"},
	{long: "priority", env: []string{"RCQ_PRIORITY"}, directive: true,
		usage: "job priority `N` from 1 (default) to 10"},
	{long: "output", short: "o", env: []string{"RCQ_OUTPUT", "SBATCH_OUTPUT"}, directive: true,
		usage: "file `PATTERN` for standard output; %j job id, %x job name, %u user, %A array id, %a array index, %% a % (default rcq-%j.out, an array's rcq-%A_%a.out)"},
	{long: "error", short: "e", env: []string{"RCQ_ERROR", "SBATCH_ERROR"}, directive: true,
		usage: "file `PATTERN` for standard error, same patterns as --output (default: the output file)"},
	{long: "chdir", short: "D", env: []string{"RCQ_CHDIR"}, directive: true,
		usage: "`DIR` the job runs in (default: the current directory)"},
	{long: "export", env: []string{"RCQ_EXPORT", "SBATCH_EXPORT"}, directive: true,
		usage: "environment `VARS` of the job: ALL (default), NONE, or a list VAR,VAR=value (ALL,VAR=value adds to everything)"},
	{long: "dependency", short: "d", env: []string{"RCQ_DEPENDENCY"}, directive: true,
		usage: "start only after other jobs: `LIST` of afterok:ID[:ID...], afterany:ID, afternotok:ID, comma-separated; an ID may be an array (every element) or an element, 123_4; aftercorr:ID makes element i of an array wait for element i of array ID"},
	{long: "array", short: "a", env: []string{"RCQ_ARRAY", "SBATCH_ARRAY_INX"}, directive: true,
		usage: "a job array: run the script once per index of `SPEC`, e.g. 0-99, 1,3,5-7, 0-99:4 (step), 0-99%8 (at most 8 at once)"},
	{long: "hold", short: "H", isBool: true, env: []string{"RCQ_HOLD", "SBATCH_HOLD"}, directive: true,
		usage: "submit the job held; it starts only once released (rcq-control release ID)"},
	{long: "requeue", isBool: true, env: []string{"RCQ_REQUEUE", "SBATCH_REQUEUE"}, directive: true,
		usage: "put the job back in the queue, once, keeping its id and priority, if its node fails or it is never launched (default: only array elements are)"},
	{long: "no-requeue", isBool: true, env: []string{"RCQ_NO_REQUEUE", "SBATCH_NO_REQUEUE"}, directive: true,
		usage: "never put the job back in the queue: if its node fails it ends NODE_FAIL (array elements included)"},
	{long: "parsable", isBool: true, directive: true,
		usage: "print only the job id"},
	{long: "wait", short: "W", isBool: true, env: []string{"RCQ_WAIT", "SBATCH_WAIT"}, directive: true,
		usage: "wait for the job to end and exit with its exit code"},
	{long: "test-only", isBool: true, directive: true,
		usage: "check the job and print when it would start; submit nothing"},
	{long: "wrap",
		usage: "run `COMMAND` in an sh script instead of a script file"},
	{long: "json", isBool: true,
		usage: "print the answer as JSON"},
}

func lookupLong(name string) *option {
	for i := range options {
		if options[i].long == name {
			return &options[i]
		}
	}
	return nil
}

func lookupShort(name string) *option {
	for i := range options {
		if options[i].short != "" && options[i].short == name {
			return &options[i]
		}
	}
	return nil
}

// setting is one option's value and where it came from, for messages.
type setting struct {
	value  string
	source string // "--mem", "RCQ_MEM", "#SBATCH --mem (line 3)"
}

// settings maps an option's long name to its value.
type settings map[string]setting

func (s settings) get(name string) (string, bool) {
	v, ok := s[name]
	return v.value, ok
}

// boolOf reads a boolean setting; a missing one is false.
func (s settings) boolOf(name string) (bool, error) {
	v, ok := s[name]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v.value)
	if err != nil {
		return false, fmt.Errorf("%s: %q is not true or false", v.source, v.value)
	}
	return b, nil
}

// merge overlays higher on s (higher wins) and returns s.
func (s settings) merge(higher settings) settings {
	for k, v := range higher {
		s[k] = v
	}
	return s
}

// fromEnv returns the options set by RCQ_* and SBATCH_* input variables; an
// RCQ_ name wins over its SBATCH_ twin.
func fromEnv(getenv func(string) string) settings {
	out := settings{}
	for _, o := range options {
		for _, name := range o.env {
			v := getenv(name)
			if v == "" {
				continue
			}
			if o.isBool {
				switch strings.ToLower(v) {
				case "0", "false", "no", "off":
					v = "false"
				default:
					v = "true"
				}
			}
			out[o.long] = setting{value: v, source: name}
			break
		}
	}
	return out
}

// fromDirectives reads the options of the script's directives; later lines
// win. An unknown #RCQ option is an error; an #SBATCH option rcq does not
// support is reported once through warn and skipped with its value.
func fromDirectives(dirs []Directive, warn func(string)) (settings, error) {
	out := settings{}
	warned := map[string]bool{}
	for _, d := range dirs {
		words := d.Words
		for i := 0; i < len(words); i++ {
			w := words[i]
			var (
				o        *option
				name     string
				value    string
				hasValue bool
			)
			switch {
			case strings.HasPrefix(w, "--") && len(w) > 2:
				name, value, hasValue = strings.Cut(w[2:], "=")
				o = lookupLong(name)
				name = "--" + name
			case strings.HasPrefix(w, "-") && len(w) > 1 && w != "--":
				name = "-" + w[1:2]
				o = lookupShort(w[1:2])
				if len(w) > 2 {
					value, hasValue = strings.TrimPrefix(w[2:], "="), true
				}
			default:
				if d.Prefix == "RCQ" {
					return nil, fmt.Errorf("%s: %q is not an option: directives take options such as --mem=4G", d.Source(), w)
				}
				if !warned[w] {
					warned[w] = true
					warn(fmt.Sprintf("%s: ignoring %q, which is not an option", d.Source(), w))
				}
				continue
			}
			if o != nil && d.Prefix == "RCQ" && slurmOnly(o.long) {
				o = nil // Slurm's options, in #SBATCH lines only
			}
			if o == nil || !o.directive {
				if d.Prefix == "RCQ" {
					if o != nil {
						return nil, fmt.Errorf("%s: %s is not allowed in a directive: give it on the command line", d.Source(), name)
					}
					return nil, fmt.Errorf("%s: unknown option %s: run rcq-submit --help for the options", d.Source(), name)
				}
				if !hasValue && i+1 < len(words) && !strings.HasPrefix(words[i+1], "-") {
					i++ // the unsupported option's value
				}
				if !warned[name] {
					warned[name] = true
					warn(fmt.Sprintf("#SBATCH %s is not supported by rcq and is ignored (line %d)", name, d.Line))
				}
				continue
			}
			src := fmt.Sprintf("#%s --%s (line %d)", d.Prefix, o.long, d.Line)
			if o.optional && !hasValue {
				out[o.long] = setting{value: optionalSet, source: src}
				continue
			}
			if o.isBool {
				if !hasValue {
					value = "true"
				}
				out[o.long] = setting{value: value, source: src}
				continue
			}
			if !hasValue {
				if i+1 >= len(words) {
					return nil, fmt.Errorf("%s: %s needs a value", d.Source(), name)
				}
				i++
				value = words[i]
			}
			out[o.long] = setting{value: value, source: src}
		}
	}
	return out, nil
}

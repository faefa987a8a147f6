package plan

import (
	"strconv"
	"strings"
)

// Flag is one option as a command-line flag, for the full command's flag
// parser (internal/cli/submit registers them on cobra's).
type Flag struct {
	Long, Short string
	Usage       string
	Bool        bool
	// NoOptValue is the value of an option whose value may be left out
	// (--exclusive) when it is; "" for the others.
	NoOptValue string
	// Hidden: one of Slurm's own options, which sbatch's help shows and
	// rcq-submit's does not.
	Hidden bool
}

// Flags returns every option as a flag, in --help order.
func Flags() []Flag {
	out := make([]Flag, len(options))
	for i, o := range options {
		out[i] = Flag{Long: o.long, Short: o.short, Usage: o.usage, Bool: o.isBool, Hidden: slurmOnly(o.long)}
		if o.optional {
			out[i].NoOptValue = optionalSet
		}
	}
	return out
}

// Args is a command line read by ParseArgs.
type Args struct {
	CmdLine map[string]string // the options given, by long name, as the full command's Options.CmdLine
	Server  string            // --server
	Rest    []string          // the script and its arguments
}

// ParseArgs reads rcq-submit's command line for the start-up path, without
// building the full command's flag set (pflag's set-up of every option was a
// quarter of the time from main to the request). It reads what the full
// command's parser reads (pflag, the options of Flags, --server, no options
// after the script): --name=value, --name value, -n value, -nvalue, -n=value,
// clusters of one-letter booleans (-HW), -- before the script. ok is false
// for anything else (an unknown option, --help, a missing value, a boolean
// that is not true or false, cobra's completion request): the full command
// then parses the line and says what is wrong with it. A test and a fuzz
// target hold ParseArgs to the full command's results.
func ParseArgs(args []string) (a Args, ok bool) {
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

// parse is ParseArgs; end is where the options end (the index of the
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
			o := lookupLong(name)
			if name == "server" {
				o = &option{long: name}
			}
			if o == nil {
				return i, false
			}
			switch {
			case hasValue:
			case o.isBool:
				value = "true"
			case o.optional:
				value = optionalSet
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
				o := lookupShort(shorts[:1])
				if o == nil {
					return i, false
				}
				var value string
				switch {
				case len(shorts) > 2 && shorts[1] == '=':
					value, shorts = shorts[2:], ""
				case o.isBool:
					value, shorts = "true", shorts[1:]
				case o.optional:
					value, shorts = optionalSet, shorts[1:]
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
func (a *Args) set(o *option, value string) bool {
	if o.isBool {
		b, err := strconv.ParseBool(value)
		if err != nil {
			return false
		}
		value = strconv.FormatBool(b)
	}
	if o.long == "server" {
		a.Server = value
	} else {
		a.CmdLine[o.long] = value
	}
	return true
}

package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/cli/submit/argv"
)

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
	for _, o := range argv.All() {
		for _, name := range o.Env {
			v := getenv(name)
			if v == "" {
				continue
			}
			if o.Bool {
				switch strings.ToLower(v) {
				case "0", "false", "no", "off":
					v = "false"
				default:
					v = "true"
				}
			}
			out[o.Long] = setting{value: v, source: name}
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
				o        *argv.Option
				name     string
				value    string
				hasValue bool
			)
			switch {
			case strings.HasPrefix(w, "--") && len(w) > 2:
				name, value, hasValue = strings.Cut(w[2:], "=")
				o = argv.Long(name)
				name = "--" + name
			case strings.HasPrefix(w, "-") && len(w) > 1 && w != "--":
				name = "-" + w[1:2]
				o = argv.Short(w[1:2])
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
			if o != nil && d.Prefix == "RCQ" && o.Slurm {
				o = nil // Slurm's options, in #SBATCH lines only
			}
			if o == nil || !o.Directive {
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
			src := fmt.Sprintf("#%s --%s (line %d)", d.Prefix, o.Long, d.Line)
			if o.Optional && !hasValue {
				out[o.Long] = setting{value: argv.OptionalSet, source: src}
				continue
			}
			if o.Bool {
				if !hasValue {
					value = "true"
				}
				out[o.Long] = setting{value: value, source: src}
				continue
			}
			if !hasValue {
				if i+1 >= len(words) {
					return nil, fmt.Errorf("%s: %s needs a value", d.Source(), name)
				}
				i++
				value = words[i]
			}
			out[o.Long] = setting{value: value, source: src}
		}
	}
	return out, nil
}

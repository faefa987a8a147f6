package plan

import "github.com/rcq-project/rcq/internal/cli/submit/argv"

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
	out := make([]Flag, len(argv.All()))
	for i, o := range argv.All() {
		out[i] = Flag{Long: o.Long, Short: o.Short, Usage: o.Help(), Bool: o.Bool, Hidden: o.Slurm}
		if o.Optional {
			out[i].NoOptValue = argv.OptionalSet
		}
	}
	return out
}

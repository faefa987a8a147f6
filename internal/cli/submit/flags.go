package submit

import (
	"github.com/spf13/pflag"

	"github.com/rcq-project/rcq/internal/cli/submit/plan"
)

// addFlags registers every option (plan.Flags) on fs.
func addFlags(fs *pflag.FlagSet) {
	for _, fl := range plan.Flags() {
		if fl.Bool {
			fs.BoolP(fl.Long, fl.Short, false, fl.Usage)
		} else {
			fs.StringP(fl.Long, fl.Short, "", fl.Usage)
		}
		f := fs.Lookup(fl.Long)
		if fl.NoOptValue != "" {
			f.NoOptDefVal = fl.NoOptValue
		}
		f.Hidden = fl.Hidden // sbatch shows them (NewSbatchCmd)
	}
}

// cmdLine returns the options given on the command line of fs (after
// addFlags and parsing), by long name.
func cmdLine(fs *pflag.FlagSet) map[string]string {
	out := map[string]string{}
	for _, fl := range plan.Flags() {
		if f := fs.Lookup(fl.Long); f != nil && f.Changed {
			out[fl.Long] = f.Value.String()
		}
	}
	return out
}

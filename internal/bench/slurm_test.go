package bench

import (
	"strings"
	"testing"
)

// TestSlurmModeSaysSlurmIsMissing: without Slurm's commands, -slurm (and
// -only 9) exits 1 naming what is missing, before starting anything; it
// never prints figures it did not measure.
func TestSlurmModeSaysSlurmIsMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	for _, args := range [][]string{{"-slurm"}, {"-only", "9"}} {
		var out, errw strings.Builder
		code := Main(append(args, "-json", ""), &out, &errw)
		if code != 1 || !strings.Contains(errw.String(), "no running Slurm on this machine: sbatch is not installed") || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), errw.String())
		}
	}
	var out, errw strings.Builder
	if code := Main([]string{"-slurm", "-only", "9"}, &out, &errw); code != 2 {
		t.Errorf("-slurm with -only: exit %d, want 2 (%s)", code, errw.String())
	}
}

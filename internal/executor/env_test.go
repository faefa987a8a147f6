package executor

import (
	"slices"
	"testing"
)

func TestCompatPath(t *testing.T) {
	for _, c := range []struct {
		env  []string
		dir  string
		want []string
	}{
		{[]string{"A=1", "PATH=/usr/bin:/bin"}, "/run/rcq/slurm-compat", []string{"A=1", "PATH=/run/rcq/slurm-compat:/usr/bin:/bin"}},
		// already on PATH (a nested submission): moved to the front, once
		{[]string{"PATH=/usr/bin:/run/rcq/slurm-compat:/bin"}, "/run/rcq/slurm-compat", []string{"PATH=/run/rcq/slurm-compat:/usr/bin:/bin"}},
		{[]string{"A=1"}, "/c", []string{"A=1", "PATH=/c:" + safePath}},
		{[]string{"PATH=/usr/bin"}, "", []string{"PATH=/usr/bin"}},
	} {
		if got := compatPath(slices.Clone(c.env), c.dir); !slices.Equal(got, c.want) {
			t.Errorf("compatPath(%q, %q) = %q, want %q", c.env, c.dir, got, c.want)
		}
	}
}

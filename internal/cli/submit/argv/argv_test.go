package argv

import (
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/slurm"
)

// The table cannot import package slurm (it links fmt): its words for the
// cluster's and partition's names are held to slurm's here.
func TestSlurmNames(t *testing.T) {
	for long, name := range map[string]string{"clusters": slurm.ClusterName, "partition": slurm.Partition} {
		o := Long(long)
		if o == nil || !o.Slurm || !strings.Contains(o.Usage, ": "+name+",") && !strings.Contains(o.Usage, ": "+name+" ") {
			t.Errorf("--%s: %+v does not name %q", long, o, name)
		}
	}
}

func TestLookups(t *testing.T) {
	for _, o := range All() {
		// Each name once: a second option of the same name is never found.
		if got := Long(o.Long); got == nil || got.Long != o.Long || got.Slurm != o.Slurm {
			t.Errorf("Long(%q) = %+v", o.Long, got)
		}
		if got := Short(o.Short); o.Short != "" && (got == nil || got.Long != o.Long) {
			t.Errorf("Short(%q) = %+v, want --%s", o.Short, got, o.Long)
		}
		if (o.Usage == "") == (o.Note == "") || o.Note != "" && !o.Slurm {
			t.Errorf("--%s: want a Usage, or a Note of why one of Slurm's options is ignored: %+v", o.Long, o)
		}
	}
	if Long("nope") != nil || Short("?") != nil {
		t.Error("an unknown option was found")
	}
}

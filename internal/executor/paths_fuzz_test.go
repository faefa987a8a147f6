package executor

import (
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

// FuzzExpandPattern: expanding an output pattern never panics, leaves a
// pattern without '%' as it is, and never adds a path separator: a job name
// or user name cannot move the file into another directory.
func FuzzExpandPattern(f *testing.F) {
	for _, seed := range []string{"rcq-%j.out", "%x-%u-%j.log", "%%j", "%4j", "%99999999999999999999j", "%", "a%", "%q",
		"/tmp/%x/%j", "%A_%a", "%0j", "%%%j%%"} {
		f.Add(seed, "train/model", "ada/x@lab", int64(42))
	}
	f.Fuzz(func(t *testing.T, pattern, name, email string, id int64) {
		j := &rcq.Job{ID: rcq.JobID(id), Name: name, UserEmail: email}
		out := ExpandPattern(pattern, j)
		if !strings.Contains(pattern, "%") && out != pattern {
			t.Fatalf("ExpandPattern(%q) = %q: a pattern without %% must stay as it is", pattern, out)
		}
		if got, want := strings.Count(out, "/"), strings.Count(pattern, "/"); got != want {
			t.Fatalf("ExpandPattern(%q) with name %q, email %q = %q: %d separators, want %d", pattern, name, email, out, got, want)
		}
	})
}

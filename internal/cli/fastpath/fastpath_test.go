package fastpath

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rcq-project/rcq/internal/cli/exitcode"
)

// TestOnPath finds what exec.LookPath finds: the first executable regular
// file of the name in PATH's absolute directories.
func TestOnPath(t *testing.T) {
	dir := t.TempDir()
	mk := func(sub string, mode os.FileMode) string {
		d := filepath.Join(dir, sub)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "rcq"), nil, mode); err != nil {
			t.Fatal(err)
		}
		return d
	}
	plain, exe, later := mk("plain", 0o644), mk("exe", 0o755), mk("later", 0o755)
	if err := os.MkdirAll(filepath.Join(dir, "isdir", "rcq"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, tc := range []struct{ path, want string }{
		{plain + ":" + filepath.Join(dir, "isdir") + "::exe:" + exe + ":" + later, filepath.Join(exe, "rcq")},
		{plain, ""},
		{"exe", ""}, // relative: exec.LookPath refuses it too
		{"", ""},
	} {
		t.Setenv("PATH", tc.path)
		if got := onPath("rcq"); got != tc.want {
			t.Errorf("PATH=%s: onPath = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestFailureIsExitcodes(t *testing.T) {
	if failure != exitcode.Failure {
		t.Errorf("failure = %d, exitcode.Failure = %d", failure, exitcode.Failure)
	}
}

package fastpath

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rcq-project/rcq/internal/cli/exitcode"
	"github.com/rcq-project/rcq/internal/client/thin"
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

// The start-up paths end with the codes exitcode.Of gives the same errors
// in the full commands.
func TestExitCodesAreExitcodes(t *testing.T) {
	if code, _ := exitcode.Of(t.Context(), &thin.ConnError{Sent: true, Err: errors.New("reset")}); code != ExitUnreachable {
		t.Errorf("a connection lost after the request: exitcode.Of says %d, fastpath %d", code, ExitUnreachable)
	}
	if code, _ := exitcode.Of(t.Context(), errors.New("submit: internal error")); code != ExitFailure {
		t.Errorf("any other failure: exitcode.Of says %d, fastpath %d", code, ExitFailure)
	}
}

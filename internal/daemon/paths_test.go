package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/unixtest"
)

// checkOwnedDir accepts only directories nobody but root can change, and
// names the culprit and the fix.
func TestCheckOwnedDir(t *testing.T) {
	u := unixtest.New(t) // skips unless root
	base := t.TempDir()  // root's, 0700, in sticky /tmp
	mk := func(path string, mode os.FileMode) string {
		t.Helper()
		if err := os.Mkdir(path, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := mk(filepath.Join(base, "good"), 0o700)
	groupW := mk(filepath.Join(base, "group-writable"), 0o770)
	sticky := mk(filepath.Join(base, "sticky"), os.ModeSticky|0o777)
	underSticky := mk(filepath.Join(sticky, "state"), 0o755)
	users := filepath.Join(base, "users")
	u.Mkdir(t, users, 0o755)
	underUsers := mk(filepath.Join(users, "state"), 0o700) // root's, in a directory the user owns
	linkByUser := filepath.Join(sticky, "link")
	if err := os.Symlink(good, linkByUser); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(linkByUser, u.UID, u.GID); err != nil {
		t.Fatal(err)
	}
	linkByRoot := filepath.Join(base, "link")
	if err := os.Symlink(underUsers, linkByRoot); err != nil {
		t.Fatal(err)
	}

	for _, ok := range []string{good, underSticky, filepath.Join(base, "good", "..", "good")} {
		if err := checkOwnedDir(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, c := range []struct{ dir, culprit, fix string }{
		{users, users, "chown root:root " + users + " && chmod go-w " + users},
		{groupW, groupW, "chown root:root " + groupW + " && chmod go-w " + groupW},
		{sticky, sticky, "chmod go-w " + sticky}, // sticky is no excuse for rcqd's own directory
		{underUsers, users, "chmod go-w " + users},
		{linkByUser, linkByUser, "chown -h root:root " + linkByUser},
		{linkByRoot, users, "chmod go-w " + users}, // checked where it leads
	} {
		err := checkOwnedDir(c.dir)
		if err == nil {
			t.Errorf("%s accepted", c.dir)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, c.culprit+" is ") || !strings.Contains(msg, c.fix) || strings.Contains(msg, "\n") {
			t.Errorf("%s: %q, want one line naming %s and %q", c.dir, msg, c.culprit, c.fix)
		}
	}
}

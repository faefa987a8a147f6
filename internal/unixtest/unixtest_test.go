package unixtest

import (
	"os"
	"os/user"
	"strings"
	"testing"
)

func TestNewCreatesAndRemoves(t *testing.T) {
	var name string
	t.Run("user", func(t *testing.T) {
		u := New(t)
		name = u.Name
		if u.UID < 1000 || u.UID == 0 {
			t.Errorf("uid %d: want a normal user's uid", u.UID)
		}
		st, err := os.Stat(u.Home)
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Fatalf("home %s: %v %v, want a 0700 directory", u.Home, st, err)
		}
		out, err := u.Command("id", "-un").Output()
		if err != nil || strings.TrimSpace(string(out)) != u.Name {
			t.Fatalf("id -un as %s = %q, %v", u.Name, out, err)
		}
	})
	if name == "" {
		return // skipped
	}
	if _, err := user.Lookup(name); err == nil {
		t.Errorf("user %s still exists after its test ended", name)
	}
}

package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/rcq-project/rcq/internal/unixtest"
)

func TestLoadOrCreateSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "jwt-secret")
	s1, err := loadSecret(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if len(s1) != SecretBytes {
		t.Fatalf("secret is %d bytes, want %d", len(s1), SecretBytes)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %04o, want 0600", st.Mode().Perm())
	}
	if dst, _ := os.Stat(filepath.Dir(path)); dst.Mode().Perm()&0o077 != 0 {
		t.Errorf("created directory mode %04o is open to others", dst.Mode().Perm())
	}
	s2, err := loadSecret(t, path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s1, s2) {
		t.Fatal("second call returned another secret")
	}
	if bytes.Equal(s1, make([]byte, SecretBytes)) {
		t.Fatal("secret is all zeros")
	}
	other, err := loadSecret(t, filepath.Join(filepath.Dir(path), "other"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(s1, other) {
		t.Fatal("two new secret files hold the same secret")
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 2 {
		t.Errorf("directory holds %d entries, want 2", len(ents))
	}
}

func TestLoadOrCreateSecretUmask(t *testing.T) {
	// umask only removes bits, so a permissive umask is the one to try;
	// it is process-wide, so this test does not run in parallel.
	old := setUmask(0)
	defer setUmask(old)
	path := filepath.Join(t.TempDir(), "jwt-secret")
	if _, err := loadSecret(t, path); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("with umask 0 the secret file has mode %04o, want 0600", st.Mode().Perm())
	}
}

func TestLoadOrCreateSecretRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "jwt-secret")
	const n = 8
	got := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = loadSecret(t, path)
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("racing calls returned different secrets")
		}
	}
}

func TestLoadOrCreateSecretRefuses(t *testing.T) {
	dir := t.TempDir()
	good := bytes.Repeat([]byte{7}, SecretBytes)
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		want string
	}{
		{"group readable", write("g", good, 0o640), "chmod 600"},
		{"world readable", write("w", good, 0o604), "chmod 600"},
		{"too short", write("s", good[:10], 0o600), "10 bytes"},
		{"empty", write("e", nil, 0o600), "0 bytes"},
		{"symlink", func() string {
			p := filepath.Join(dir, "link")
			if err := os.Symlink(write("target", good, 0o600), p); err != nil {
				t.Fatal(err)
			}
			return p
		}(), "symbolic link"},
		{"directory", func() string {
			p := filepath.Join(dir, "d")
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			return p
		}(), "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := os.ReadFile(tt.path)
			b, err := loadSecret(t, tt.path)
			if err == nil {
				t.Fatalf("accepted: %x", b)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q does not say %q on one line", err, tt.want)
			}
			after, _ := os.ReadFile(tt.path)
			if !bytes.Equal(before, after) {
				t.Error("the refused file was changed")
			}
		})
	}
	// A well-formed file someone wrote is used as it is.
	b, err := loadSecret(t, write("ok", good, 0o600))
	if err != nil || !bytes.Equal(b, good) {
		t.Fatalf("LoadOrCreateSecret = %x, %v; want the file's bytes", b, err)
	}
}
func setUmask(m int) int { return syscall.Umask(m) }

// loadSecret calls LoadOrCreateSecret on path's directory (created 0700 if
// missing, as rcqd creates its state directory) and name.
func loadSecret(t testing.TB, path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	return LoadOrCreateSecret(d, filepath.Base(path))
}

// A jwt-secret planted by another user (with a well-formed 0600 file of
// theirs) is refused, as is one of rcqd's user left open to others (0644):
// whoever planted or read it could sign admin tokens. Neither is changed.
func TestPlantedSecretRefused(t *testing.T) {
	u := unixtest.New(t)
	dir := t.TempDir()
	good := bytes.Repeat([]byte{7}, SecretBytes)
	planted := filepath.Join(dir, "planted")
	u.WriteFile(t, planted, good, 0o600)
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{planted: "belongs to uid " + strconv.Itoa(u.UID), open: "mode 0644"} {
		b, err := loadSecret(t, path)
		if err == nil {
			t.Errorf("%s accepted: %x", path, b)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, want) || !strings.Contains(msg, "rm "+path) {
			t.Errorf("error %q does not say %q and the fix (rm %s)", msg, want, path)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, good) {
			t.Errorf("%s was changed", path)
		}
	}
}

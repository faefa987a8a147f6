package pgserver

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBinDir makes dir hold executable files with the given names.
func fakeBinDir(t *testing.T, dir string, names ...string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFindBinDirNothingFound(t *testing.T) {
	empty := t.TempDir()
	f := binFinder{path: empty, libGlob: filepath.Join(empty, "lib", "*", "bin")}
	dir, err := f.find()
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("find = %q, %v; want ErrNotInstalled", dir, err)
	}
	msg := err.Error()
	for _, want := range []string{
		"sudo apt-get install postgresql", "brew install postgresql@15", "RCQ_DATABASE_URL",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
}

func TestFindBinDirOrder(t *testing.T) {
	root := t.TempDir()
	lib := filepath.Join(root, "lib")
	v96 := fakeBinDir(t, filepath.Join(lib, "9.6", "bin"), "initdb", "postgres")
	v15 := fakeBinDir(t, filepath.Join(lib, "15", "bin"), "initdb", "postgres")
	fakeBinDir(t, filepath.Join(lib, "16", "bin"), "initdb") // incomplete: no postgres
	onPath := fakeBinDir(t, filepath.Join(root, "path"), "initdb", "postgres")
	clientOnly := fakeBinDir(t, filepath.Join(root, "client"), "psql", "initdb")
	glob := filepath.Join(lib, "*", "bin")

	configDir := fakeBinDir(t, filepath.Join(root, "config"), "initdb", "postgres")
	pgConfigPath := filepath.Join(root, "pgconfig")
	if err := os.MkdirAll(pgConfigPath, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\n[ \"$1\" = --bindir ] && echo " + configDir + "\n"
	if err := os.WriteFile(filepath.Join(pgConfigPath, "pg_config"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		f    binFinder
		want string
	}{
		{"PATH first", binFinder{path: clientOnly + ":" + onPath, libGlob: glob}, onPath},
		{"newest complete versioned dir", binFinder{path: clientOnly, libGlob: glob}, v15},
		{"relative PATH entries ignored", binFinder{path: "path", libGlob: filepath.Join(lib, "9.*", "bin")}, v96},
		{"pg_config last", binFinder{path: pgConfigPath, libGlob: filepath.Join(root, "none", "*")}, configDir},
	} {
		got, err := tc.f.find()
		if err != nil || got != tc.want {
			t.Errorf("%s: find = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

func TestFindBinDirFollowsSymlinks(t *testing.T) {
	root := t.TempDir()
	real := fakeBinDir(t, filepath.Join(root, "lib", "15", "bin"), "initdb", "postgres")
	links := filepath.Join(root, "local", "bin")
	if err := os.MkdirAll(links, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"initdb", "postgres"} {
		if err := os.Symlink(filepath.Join(real, n), filepath.Join(links, n)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := binFinder{path: links}.find()
	if err != nil || got != real {
		t.Errorf("find = %q, %v; want the symlinks' real directory %q", got, err, real)
	}
}

func TestFindBinDirOnThisMachine(t *testing.T) {
	dir, err := FindBinDir()
	if err != nil {
		t.Fatalf("FindBinDir: %v (this machine should have the PostgreSQL server: scripts/ensure-postgres.sh)", err)
	}
	if !hasServerBinaries(dir) {
		t.Errorf("FindBinDir = %q, which lacks initdb or postgres", dir)
	}
}

func TestCompareVersions(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"9.6", "15", -1}, {"15", "9.6", 1}, {"16", "15", 1}, {"15", "15", 0}, {"10", "9", 1},
	} {
		if got := compareVersions(tc.a, tc.b); got != tc.want {
			t.Errorf("compareVersions(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

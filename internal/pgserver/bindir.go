package pgserver

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// ErrNotInstalled is returned by [FindBinDir] and [Start] when no PostgreSQL server binaries
// can be found. Its message is one line saying what to install or configure.
var ErrNotInstalled = errors.New("no PostgreSQL server binaries (initdb, postgres) on PATH, " +
	"in /usr/lib/postgresql/*/bin or from pg_config --bindir: install the postgresql package " +
	"(Debian/Ubuntu: sudo apt-get install postgresql; Homebrew: brew install postgresql@15) " +
	"or set RCQ_DATABASE_URL to use an existing server")

// serverBinaries are the programs a directory must hold to run a private server.
var serverBinaries = []string{"initdb", "postgres"}

// FindBinDir returns the directory holding the PostgreSQL server binaries: the first directory
// on PATH that has them, else the newest /usr/lib/postgresql/<version>/bin (where Debian and
// Ubuntu install them, off PATH), else what `pg_config --bindir` prints. It returns
// [ErrNotInstalled] when none has them.
func FindBinDir() (string, error) {
	return binFinder{
		path:    os.Getenv("PATH"),
		libGlob: "/usr/lib/postgresql/*/bin",
	}.find()
}

// binFinder is FindBinDir with its inputs injectable for tests.
type binFinder struct {
	path    string // a PATH value
	libGlob string // pattern of versioned bin directories
}

func (f binFinder) find() (string, error) {
	for _, dir := range filepath.SplitList(f.path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		if hasServerBinaries(dir) {
			return resolveBinDir(dir), nil
		}
	}
	if dirs, _ := filepath.Glob(f.libGlob); len(dirs) > 0 {
		// Newest version first: the version is the name of the bin directory's parent.
		slices.SortFunc(dirs, func(a, b string) int {
			return compareVersions(filepath.Base(filepath.Dir(b)), filepath.Base(filepath.Dir(a)))
		})
		for _, dir := range dirs {
			if hasServerBinaries(dir) {
				return dir, nil
			}
		}
	}
	if pgConfig := lookPathIn("pg_config", f.path); pgConfig != "" {
		out, err := exec.Command(pgConfig, "--bindir").Output()
		if dir := strings.TrimSpace(string(out)); err == nil && dir != "" && hasServerBinaries(dir) {
			return dir, nil
		}
	}
	return "", ErrNotInstalled
}

// resolveBinDir follows a symbolic link to initdb (/usr/local/bin/initdb ->
// /usr/lib/postgresql/15/bin/initdb) to the real directory when that directory holds all the
// server binaries, so logs name where the server really comes from.
func resolveBinDir(dir string) string {
	real, err := filepath.EvalSymlinks(filepath.Join(dir, serverBinaries[0]))
	if err != nil {
		return dir
	}
	if realDir := filepath.Dir(real); hasServerBinaries(realDir) {
		return realDir
	}
	return dir
}

func hasServerBinaries(dir string) bool {
	for _, name := range serverBinaries {
		if !isExecutable(filepath.Join(dir, name)) {
			return false
		}
	}
	return true
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// lookPathIn is exec.LookPath over the given PATH value instead of the process's.
func lookPathIn(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		if p := filepath.Join(dir, name); isExecutable(p) {
			return p
		}
	}
	return ""
}

// compareVersions compares dotted version strings numerically ("9.6" < "15" < "16").
// Non-numeric parts compare as 0.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

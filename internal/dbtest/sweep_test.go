package dbtest

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestSweepRemovesOnlyAbandonedClusters(t *testing.T) {
	root := t.TempDir()
	mk := func(name string) string {
		dir := filepath.Join(root, dirPrefix+name)
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	abandoned := mk("abandoned")
	if err := os.WriteFile(filepath.Join(abandoned, "lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	shuttingDown := mk("shuttingdown") // unlocked, but its server still runs
	if err := os.WriteFile(filepath.Join(shuttingDown, "lock"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pidFile := []byte(strconv.Itoa(os.Getpid()) + "\n" + shuttingDown + "\n")
	if err := os.WriteFile(filepath.Join(shuttingDown, "data", "postmaster.pid"), pidFile, 0o600); err != nil {
		t.Fatal(err)
	}
	inUse := mk("inuse")
	f, err := lockDir(inUse)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	starting := mk("starting") // no lock file yet
	other := filepath.Join(root, "unrelated")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}

	sweep(root)

	if _, err := os.Stat(abandoned); !os.IsNotExist(err) {
		t.Errorf("abandoned cluster directory not removed: %v", err)
	}
	for _, dir := range []string{shuttingDown, inUse, starting, other} {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("%s removed: %v", dir, err)
		}
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct{ base, want string }{
		{"postgres://u:p@db.example:5432/rcq?sslmode=disable", "postgres://u:p@db.example:5432/test_1?sslmode=disable"},
		{"postgresql://u@/rcq?host=/run/pg", "postgresql://u@/test_1?host=/run/pg"},
		{"host=/run/pg user=u dbname=rcq", "host=/run/pg user=u dbname=rcq dbname='test_1'"},
	} {
		got, err := withDatabase(tc.base, "test_1")
		if err != nil || got != tc.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tc.base, got, err, tc.want)
		}
	}
}

package daemon

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rcq-project/rcq/internal/slurm"
)

func TestCompatDir(t *testing.T) {
	root := os.Geteuid() == 0
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(base, "bin")
	sock := filepath.Join(base, "run", "rcqd.sock")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// No rcq beside rcqd: no directory, jobs keep their PATH.
	if dir, err := compatDirFor(bin, sock, root); err != nil || dir != "" {
		t.Fatalf("without rcq: %q %v", dir, err)
	}
	rcqBin := filepath.Join(bin, "rcq")
	if err := os.WriteFile(rcqBin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a restart finds the links in place
		dir, err := compatDirFor(bin, sock, root)
		if err != nil || dir != filepath.Join(base, "run", "slurm-compat") {
			t.Fatalf("dir %q %v", dir, err)
		}
		fi, err := os.Stat(dir)
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Fatalf("mode %v %v", fi.Mode(), err)
		}
		for _, n := range slurm.Commands {
			if got, err := os.Readlink(filepath.Join(dir, n)); err != nil || got != rcqBin {
				t.Errorf("%s -> %q %v", n, got, err)
			}
		}
	}
	// An installed directory (make install, the packages) wins.
	inst := filepath.Join(base, "lib", "rcq", "slurm-compat")
	if err := os.MkdirAll(inst, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../bin/rcq", filepath.Join(inst, "srun")); err != nil {
		t.Fatal(err)
	}
	if dir, err := compatDirFor(bin, sock, root); err != nil || dir != inst {
		t.Errorf("installed: %q %v", dir, err)
	}
}

// As root, a directory others can write is refused: a user could put their
// own srun first on everyone's jobs' PATH.
func TestCompatDirRefusesWritableAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("root's check")
	}
	base := t.TempDir()
	os.Chmod(base, 0o755)
	bin := filepath.Join(base, "bin")
	os.Mkdir(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "rcq"), []byte("#!/bin/sh\n"), 0o755)
	run := filepath.Join(base, "run")
	os.MkdirAll(filepath.Join(run, "slurm-compat"), 0o755)
	if err := os.Chmod(filepath.Join(run, "slurm-compat"), 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := compatDirFor(bin, filepath.Join(run, "rcqd.sock"), true); err == nil {
		t.Error("a world-writable slurm-compat directory was accepted")
	}
}

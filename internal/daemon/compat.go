package daemon

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rcq-project/rcq/internal/slurm"
)

// compatDirName is the Slurm-compatibility directory rcqd makes beside its
// socket when no installed one is found.
const compatDirName = "slurm-compat"

// slurmCompatDir returns the directory of rcq's Slurm command names (srun)
// that the executor puts first on jobs' PATH, or "" when there is none. An
// installed one (make install: PREFIX/lib/rcq/slurm-compat beside
// PREFIX/bin/rcqd) is used as it is. Otherwise rcqd links the names to the
// rcq binary beside it in <socket directory>/slurm-compat, which every
// job's user can reach: the socket's directory (0755 as root, rcqd's user's
// own otherwise). As root (root true) both must be root's and closed to
// others, like rcqd's other directories, or a user could swap another srun
// in.
func slurmCompatDir(socket string, root bool) (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil
	}
	return compatDirFor(filepath.Dir(exe), socket, root)
}

// compatDirFor is slurmCompatDir for the binaries in bin.
func compatDirFor(bin, socket string, root bool) (string, error) {
	installed := filepath.Join(bin, "..", "lib", "rcq", compatDirName)
	if fi, err := os.Stat(filepath.Join(installed, "srun")); err == nil && fi.Mode().IsRegular() {
		dir := filepath.Clean(installed)
		if root {
			if err := checkOwnedDir(dir); err != nil {
				return "", err
			}
		}
		return dir, nil
	}
	target := filepath.Join(bin, "rcq")
	if fi, err := os.Stat(target); err != nil || !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return "", nil // no rcq binary beside rcqd: jobs get no srun of rcq's
	}
	if err := socketDir(filepath.Dir(socket), root); err != nil {
		return "", err
	}
	dir := filepath.Join(filepath.Dir(socket), compatDirName)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if root {
		if err := checkOwnedDir(dir); err != nil {
			return "", err
		}
	}
	for _, name := range slurm.Commands {
		link := filepath.Join(dir, name)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		tmp := link + ".new"
		os.Remove(tmp)
		if err := os.Symlink(target, tmp); err != nil {
			return "", err
		}
		if err := os.Rename(tmp, link); err != nil {
			os.Remove(tmp)
			return "", fmt.Errorf("%s: %w", link, err)
		}
	}
	return dir, nil
}

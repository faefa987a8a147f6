package plan

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

// TestPrepareHooks: Input.ReadFile and Input.Umask replace the script file
// on disk and the process's umask (rcqd's POST /api/jobs/command sets
// them); left nil, Prepare reads the file and the process's umask, as the
// command does.
func TestPrepareHooks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "job.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n#SBATCH -c 3\necho disk\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	input := func() *Input {
		return &Input{Args: []string{path, "x"}, CmdLine: map[string]string{},
			Getenv: func(string) string { return "" }, Environ: func() []string { return nil },
			Getwd: func() (string, error) { return dir, nil }, StdinTTY: func() bool { return true },
			Warnf: func(string, ...any) {}}
	}
	p, err := Prepare(input())
	if err != nil {
		t.Fatal(err)
	}
	if r := p.Request; r.Script != "#!/bin/sh\n#SBATCH -c 3\necho disk\n" || *r.CPUCores != 3 || r.Umask != processUmask().String() {
		t.Errorf("without hooks: script %q, cores %d, umask %s; want the file's, 3, %s", r.Script, *r.CPUCores, r.Umask, processUmask())
	}

	in := input()
	var asked []string
	in.ReadFile = func(name string) ([]byte, error) {
		asked = append(asked, name)
		return []byte("#!/bin/sh\n#SBATCH -c 2\necho given\n"), nil
	}
	mask := processUmask() ^ 0o007 // never the process's own
	in.Umask = func() rcq.Umask { return mask }
	if p, err = Prepare(in); err != nil {
		t.Fatal(err)
	}
	r := p.Request
	if r.Script != "#!/bin/sh\n#SBATCH -c 2\necho given\n" || *r.CPUCores != 2 || r.Name != "job.sh" || !slices.Equal(r.Args, []string{"x"}) {
		t.Errorf("with ReadFile: script %q, cores %d, name %q, args %q", r.Script, *r.CPUCores, r.Name, r.Args)
	}
	if r.Umask != mask.String() {
		t.Errorf("with Umask: umask %s, want %s", r.Umask, mask)
	}
	if !slices.Equal(asked, []string{path}) {
		t.Errorf("ReadFile asked for %q, want [%s]", asked, path)
	}

	in = input()
	gone := errors.New("gone")
	in.ReadFile = func(string) ([]byte, error) { return nil, gone }
	if _, err := Prepare(in); !errors.Is(err, gone) {
		t.Errorf("ReadFile's error: Prepare says %v", err)
	}
}

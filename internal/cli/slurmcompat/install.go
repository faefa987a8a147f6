package slurmcompat

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/rcq-project/rcq/internal/cli"
	"github.com/spf13/cobra"
)

// NewInstallCmd builds "rcq slurm-compat": "install DIR" writes a symlink to
// the rcq binary for each Slurm name into DIR and prints the line that puts
// DIR first on PATH. Nothing is put on PATH by default, since a real Slurm
// client may be there.
func NewInstallCmd(f *cli.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "slurm-compat install DIR",
		Short: "Install Slurm's command names (sbatch, squeue, ...) as symlinks to rcq",
		Long: `"rcq slurm-compat install DIR" writes into DIR (made if missing) one
symlink to this rcq binary per Slurm command name it answers to: ` + strings.Join(Names(), ", ") + `.
Started under such a name, rcq is that command. It then prints the line
that puts DIR first on PATH; nothing is put on PATH by default, so a real
Slurm client installed beside rcq keeps its names. A file of that name in
DIR that is not already such a symlink is left alone unless --force.

` + cli.ExitStatusHelp,
		Example: "  rcq slurm-compat install ~/.local/lib/rcq/slurm-compat\n  eval \"$(rcq slurm-compat install ~/rcq-slurm | grep ^export)\"",
		Args:    cli.ArgsUsage(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if args[0] != "install" {
				return cli.Usagef("unknown command %q: use install DIR", args[0])
			}
			force, _ := cmd.Flags().GetBool("force")
			target, _ := cmd.Flags().GetString("target")
			if target == "" {
				exe, err := os.Executable()
				if err != nil {
					return fmt.Errorf("find the rcq binary: %w", err)
				}
				if target, err = filepath.EvalSymlinks(exe); err != nil {
					return fmt.Errorf("find the rcq binary: %w", err)
				}
			}
			dir, err := filepath.Abs(args[1])
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("make %s: %w", dir, err)
			}
			for _, name := range Names() {
				if err := link(target, filepath.Join(dir, name), force); err != nil {
					return err
				}
			}
			fmt.Fprintf(f.IO.ErrOut, "rcq: installed %s in %s; to use them, run:\n", strings.Join(Names(), ", "), dir)
			fmt.Fprintf(f.IO.Out, "export PATH=%s:$PATH\n", dir)
			return nil
		},
	}
	cmd.Flags().Bool("force", false, "replace files of those names that are not symlinks to rcq")
	cmd.Flags().String("target", "", "the rcq `BINARY` the links point to (default: this one)")
	return cmd
}

// link makes path a symlink to target: it replaces a symlink, and any other
// file only with force.
func link(target, path string, force bool) error {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSymlink == 0 && !force {
			return fmt.Errorf("%s exists and is not a symlink: remove it, or use --force", path)
		}
		if err := os.Remove(path); err != nil {
			return err
		}
	}
	if err := os.Symlink(target, path); err != nil {
		return fmt.Errorf("link %s: %w", path, err)
	}
	return nil
}

// Names are the Slurm command names rcq answers to: the programs here and
// srun (internal/cli/srun, which keeps rcq's exit code 2 for bad options).
func Names() []string {
	var out []string
	for _, p := range Programs() {
		out = append(out, p.Name)
	}
	return append(out, "srun")
}

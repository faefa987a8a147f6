package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rcq-project/rcq/internal/config"
	"github.com/rcq-project/rcq/internal/executor"
)

// Version is set at build time (-ldflags "-X .../daemon.Version=v1.2.3").
var Version = "dev"

// exitError carries an exit code through cobra.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// Main runs rcqd with args (without the program name) and returns its exit
// code: 0 after a clean shutdown, 1 on failure, 2 on a usage error.
func Main(args []string, stdout, stderr io.Writer) int {
	// The supervisor mode is dispatched before cobra: it must start fast
	// and parse nothing else.
	if len(args) > 0 && args[0] == "supervise" {
		return executor.SuperviseMain(args[1:])
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return MainContext(ctx, args, stdout, stderr)
}

// MainContext is Main without signal handling: rcqd stops when ctx ends.
func MainContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := NewRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(stdout)
	cmd.SetErr(stderr)
	err := cmd.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	case isUsage(err):
		fmt.Fprintf(stderr, "rcqd: %v\nRun 'rcqd --help' for usage.\n", err)
		return 2
	}
	fmt.Fprintf(stderr, "rcqd: %v\n", err)
	return 1
}

type usageError struct{ error }

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

// NewRootCmd is rcqd's command tree (also used to generate rcqd.8).
func NewRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "rcqd",
		Short: "rcq's daemon: queue, schedule and run batch jobs",
		Long: `rcqd keeps rcq's queue in PostgreSQL, orders pending jobs by priority and
group fair share, packs them onto workers with enough CPU cores, memory and
GPUs (with backfill), and runs them under supervisors that outlive rcqd
restarts. It serves a REST API on a Unix socket and, optionally, on TCP.

Who runs rcqd chooses its mode. Run by an ordinary user (personal mode) it
runs every job as that user, so only that user may use it: its socket is in
a directory only that user can open, requests from any other uid are
refused, TCP is off unless --listen turns it on, and registration is closed.
Run as root (system mode, the systemd unit) its socket is open to every local
user, each is known by their uid (an account made on first use, no password
needed on the socket), jobs run as the account's Unix user, and TCP is on
127.0.0.1:8080.

With no database URL, rcqd runs a private PostgreSQL under its state
directory. On first start it creates the group "default" and the account
admin@localhost, whose password it writes to <state dir>/admin-password.

Configuration comes from flags, then RCQ_* environment variables (and the
plain DATABASE_URL, PORT, ENVIRONMENT, JWT_SECRET, JWT_EXPIRY_HOURS,
SCHEDULER_INTERVAL_SECONDS, MAX_CONCURRENT_JOBS, LOG_DIRECTORY,
OUTPUT_DIRECTORY), then $XDG_CONFIG_HOME/rcq/rcqd.yaml or /etc/rcq/rcqd.yaml.
'rcqd config' prints the effective configuration.`,
		Example: `  # personal mode: a private database in ~/.local/state/rcq, API on your own socket only
  rcqd

  # personal mode, with TCP for tools that speak HTTP (accounts you made log in there)
  rcqd --listen 127.0.0.1:8080

  # a throwaway instance: its own state directory, no TCP
  rcqd --state-dir /tmp/rcq-test --listen ''

  # use an existing PostgreSQL
  RCQ_DATABASE_URL=postgres://rcq:secret@db.example.org/rcq rcqd`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       Version,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(config.LoadOptions{Flags: cmd.Flags()})
			if err != nil {
				return err
			}
			return run(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	config.BindFlags(root.Flags())
	root.AddCommand(newConfigCmd())
	root.AddCommand(newImportSeedCmd())
	return root
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Print the effective configuration, secrets masked",
		Long: `Print the configuration rcqd would run with, after flags, environment,
configuration file and defaults, as YAML. Secrets (the JWT secret, any
password in the database URL) are masked.`,
		Example: "  rcqd config\n  rcqd config --state-dir /srv/rcq",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(config.LoadOptions{Flags: cmd.Flags()})
			if err != nil {
				return err
			}
			_, err = cfg.WriteTo(cmd.OutOrStdout())
			return err
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	config.BindFlags(cmd.Flags())
	return cmd
}

package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rcq-project/rcq/internal/config"
	"github.com/rcq-project/rcq/internal/pgserver"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

func newImportSeedCmd() *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "import-seed --from URL",
		Short: "Copy a seed database's groups, users, workers and jobs into rcq",
		Long: `Copy the groups (quotas, priorities), users (their bcrypt password hashes
unchanged, so they log in with the passwords they had), workers and jobs of a
database made by the original Research Compute Queue (its setup_db.sql) into
rcq's database: the one rcqd uses with the same configuration.

Finished jobs (completed, failed, cancelled) become history; pending jobs
become pending jobs that rcq schedules; running jobs are skipped (let them
finish there, then import again). Workers are copied offline: an rcqd started
on that host registers it under the same name and brings it online. A group
or worker rcq already has under the same name, or an account with the same
email, is mapped to it and left unchanged.

The import is one transaction: it copies everything or nothing. rcq keeps a
mapping of seed ids to its own ids, so a second run copies nothing twice and
says so. The seed database is only read; its tables may share a database with
rcq's, which live in their own schema (rcq).

Exit status: 0 after an import (or when there was nothing new to copy), 1 when
the seed database is unreachable or is not a seed database (nothing written),
2 on a usage error.`,
		Example: `  # the seed's own database, into rcqd's configured database
  rcqd import-seed --from postgres://postgres:dev123@localhost:5432/research_queue?sslmode=disable

  # into a private rcqd's database (the state directory selects it)
  rcqd import-seed --state-dir /srv/rcq --from "$DATABASE_URL"`,
		Args:          cobra.NoArgs,
		SilenceErrors: true,
		SilenceUsage:  true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return usageError{errors.New("import-seed: --from URL is required (the seed database, postgres://user:password@host:port/dbname)")}
			}
			cfg, err := config.Load(config.LoadOptions{Flags: cmd.Flags()})
			if err != nil {
				return err
			}
			return importSeed(cmd.Context(), cfg, from, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	config.BindFlags(cmd.Flags())
	cmd.Flags().StringVar(&from, "from", "", "the seed database's `URL` (postgres://user:password@host:port/dbname)")
	return cmd
}

// importSeed reads the seed database first (nothing is touched if it is
// unreachable or not a seed database), then opens rcq's database as rcqd
// would (without waiting for it), migrates it and imports.
func importSeed(ctx context.Context, cfg *config.Config, from string, stdout, stderr io.Writer) error {
	data, err := store.ReadSeed(ctx, from)
	if err != nil {
		return oneLine(err)
	}
	logger := newLogger(cfg, stderr)
	url := cfg.Database.URL
	desc := config.MaskURL(url)
	if url == "" {
		dataDir := filepath.Join(cfg.StateDir, "pgdata")
		srv, err := pgserver.Start(ctx, pgserver.Options{DataDir: dataDir, RunAs: cfg.Database.RunAs, Logger: logger.With("component", "pgserver")})
		if err != nil {
			return fmt.Errorf("private database: %w", err)
		}
		// A server found running is rcqd's: leave it running.
		if !srv.Reused() {
			defer stopServer(srv, logger)
		}
		url, desc = srv.URL("postgres"), "private PostgreSQL in "+dataDir
	}
	if err := store.Migrate(ctx, url); err != nil {
		return fmt.Errorf("database at %s: %w", desc, oneLine(err))
	}
	st, err := store.Open(ctx, url, store.Options{Logger: logger.With("component", "store")})
	if err != nil {
		return err
	}
	defer st.Close()
	sum, err := st.ImportSeed(ctx, data, store.SeedImportOptions{DefaultEstimatedHours: cfg.Jobs.DefaultEstimatedHours})
	if err != nil {
		return oneLine(err)
	}
	writeSeedSummary(stdout, sum, desc)
	return nil
}

func stopServer(srv *pgserver.Server, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		logger.Error("stop the private PostgreSQL", "err", err)
	}
}

// oneLine is err as rcq shows it to people: an rcq.Error's message (its
// cause stays for logs), anything else as is.
func oneLine(err error) error {
	var re *rcq.Error
	if errors.As(err, &re) && re.Msg != "" {
		return errors.New(re.Msg)
	}
	return err
}

func writeSeedSummary(w io.Writer, s *store.SeedSummary, into string) {
	if !s.New() {
		fmt.Fprintf(w, "nothing new to copy from %s: every row was copied by an earlier import or is skipped below\n", s.Source)
	} else {
		fmt.Fprintf(w, "imported %s into %s\n", s.Source, into)
	}
	row := func(kind string, c store.SeedCounts, extra string) {
		fmt.Fprintf(w, "  %-8s %d copied%s, %d matched existing, %d already imported, %d skipped\n", kind+":", c.Copied, extra, c.Matched, c.Already, c.Skipped)
	}
	row("groups", s.Groups, "")
	row("users", s.Users, "")
	row("workers", s.Workers, " (offline)")
	row("jobs", s.Jobs, fmt.Sprintf(" (%d history, %d pending)", s.Jobs.History, s.Jobs.Pending))
	if s.Dependencies > 0 || s.Usage > 0 {
		fmt.Fprintf(w, "  also:    %d dependencies, %d usage records\n", s.Dependencies, s.Usage)
	}
	if len(s.Skipped) > 0 {
		fmt.Fprintln(w, "skipped:")
		for _, k := range s.Skipped {
			fmt.Fprintf(w, "  %s %d: %s\n", k.Kind, k.SeedID, k.Why)
		}
	}
	if len(s.Notes) > 0 {
		fmt.Fprintln(w, "notes:")
		for _, n := range s.Notes {
			fmt.Fprintln(w, "  "+strings.TrimSpace(n))
		}
	}
}

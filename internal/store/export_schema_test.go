package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// MigrateInPublic migrates url as rcqd did before its tables moved into
// Schema: every table, goose's included, in public, and no move.
func MigrateInPublic(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	cfg.RuntimeParams["search_path"] = "public"
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	return migrate(ctx, db)
}

// OwnObjects is what ensureSchema moves out of public.
func OwnObjects() []string {
	var out []string
	for _, o := range ownObjects() {
		out = append(out, o.kind+" "+o.name)
	}
	return out
}

package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/store"
)

// TestCollectNamed: columns land in the fields their names tag, whatever
// their order, embedded structs included; a column without a field or a
// field without a column is an error, never a silently zero field.
func TestCollectNamed(t *testing.T) {
	ctx := context.Background()
	db, err := pgxpool.New(ctx, dbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type inner struct {
		Note *string `db:"note"`
	}
	type row struct {
		ID   int64  `db:"id"`
		Name string `db:"name"`
		inner
	}
	conv := func(r *row) row { return *r }
	rows, _ := db.Query(ctx, `SELECT 'b' AS name, NULL AS note, 2::bigint AS id UNION ALL SELECT 'a', 'n', 1 ORDER BY id`)
	got, err := store.CollectNamed(rows, conv)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != 1 || got[0].Name != "a" || got[0].Note == nil || *got[0].Note != "n" ||
		got[1].ID != 2 || got[1].Name != "b" || got[1].Note != nil {
		t.Errorf("rows = %+v", got)
	}
	for q, want := range map[string]string{
		`SELECT 1::bigint AS id, 'a' AS name`:                            `no column "note"`,
		`SELECT 1::bigint AS id, 'a' AS name, 'n' AS note, 'x' AS extra`: `no field for column "extra"`,
	} {
		rows, _ := db.Query(ctx, q)
		if _, err := store.CollectNamed(rows, conv); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", q, err, want)
		}
	}
	// More rows than a chunk: every row, in order.
	rows, _ = db.Query(ctx, `SELECT n::bigint AS id, n::text AS name, NULL AS note FROM generate_series(1, 5000) n ORDER BY n`)
	if got, err = store.CollectNamed(rows, conv); err != nil || len(got) != 5000 || got[0].ID != 1 || got[4999].ID != 5000 || got[1024].ID != 1025 {
		t.Errorf("5000 rows: %d rows, err %v", len(got), err)
	}
}

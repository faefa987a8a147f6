package store_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rcq-project/rcq/internal/dbtest"
	"github.com/rcq-project/rcq/internal/rcq"
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
	// A query that failed before its first result (here its prepare, as
	// when the connection is terminated then) is its error, not a panic.
	rows, _ = db.Query(ctx, `SELECT no_such_column AS id`)
	if _, err := store.CollectNamed(rows, conv); err == nil || !strings.Contains(err.Error(), "no_such_column") {
		t.Errorf("a failed query: err = %v, want its error", err)
	}
	// More rows than a chunk: every row, in order.
	rows, _ = db.Query(ctx, `SELECT n::bigint AS id, n::text AS name, NULL AS note FROM generate_series(1, 5000) n ORDER BY n`)
	if got, err = store.CollectNamed(rows, conv); err != nil || len(got) != 5000 || got[0].ID != 1 || got[4999].ID != 5000 || got[1024].ID != 1025 {
		t.Errorf("5000 rows: %d rows, err %v", len(got), err)
	}
}

// TestNullableTargets: nullable columns scanned into pointer fields (which
// collectNamed scans through pgx's scanner interfaces, not by reflection)
// hold exactly what pgx's own scan into the same fields gives, NULL or not,
// times in the same zone; a value too large for the field is an error.
func TestNullableTargets(t *testing.T) {
	ctx := context.Background()
	db, err := pgxpool.New(ctx, dbtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type row struct {
		At   *time.Time `db:"at"`
		Text *string    `db:"text"`
		I32  *int32     `db:"i32"`
		I64  *int64     `db:"i64"`
	}
	const q = `SELECT '2026-12-04 10:11:12.345678+02'::timestamptz AS at, 'x' AS text, (-7)::int4 AS i32, 1234567890123::int8 AS i64
		UNION ALL SELECT NULL, NULL, NULL, NULL
		UNION ALL SELECT '1999-01-01 00:00:00Z', '', 2147483647, -1`
	rows, _ := db.Query(ctx, q)
	got, err := store.CollectNamed(rows, func(r *row) row { return *r })
	if err != nil {
		t.Fatal(err)
	}
	rows, _ = db.Query(ctx, q)
	want, err := pgx.CollectRows(rows, pgx.RowToStructByName[row])
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if (g.At == nil) != (w.At == nil) || g.At != nil && (!g.At.Equal(*w.At) || g.At.Location() != w.At.Location()) ||
			(g.Text == nil) != (w.Text == nil) || g.Text != nil && *g.Text != *w.Text ||
			(g.I32 == nil) != (w.I32 == nil) || g.I32 != nil && *g.I32 != *w.I32 ||
			(g.I64 == nil) != (w.I64 == nil) || g.I64 != nil && *g.I64 != *w.I64 {
			t.Errorf("row %d: got %s, pgx gives %s", i, show(g.At, g.Text, g.I32, g.I64), show(w.At, w.Text, w.I32, w.I64))
		}
	}
	rows, _ = db.Query(ctx, `SELECT NULL::timestamptz AS at, NULL AS text, 2147483648::int8 AS i32, NULL::int8 AS i64`)
	if _, err := store.CollectNamed(rows, func(r *row) row { return *r }); err == nil {
		t.Error("2147483648 into an int32 field: no error")
	}
}

func show(vs ...any) string {
	var b strings.Builder
	for _, v := range vs {
		rv := reflect.ValueOf(v)
		if rv.IsNil() {
			b.WriteString("nil ")
		} else {
			fmt.Fprintf(&b, "%v ", rv.Elem())
		}
	}
	return b.String()
}

// A statement that fails once it runs is its error, read with or without an
// account check: the check's batch hands the reader rows that never got a
// result, which must not panic (a panic held the batch's connection from
// the pool for good, and rcqd answered 500).
func TestCollectNamedFailedStatement(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	for name, c := range queryPaths(t, f) {
		err := f.st.Query(ctx, c, `SELECT 1 / $1::bigint AS id`, []any{0}, func(rows pgx.Rows) error {
			_, err := store.CollectNamed(rows, idOf)
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "division by zero") {
			t.Errorf("%s: err = %v, want division by zero", name, err)
		}
	}
}

// A reader that panics (a bug in a scan) must not keep its pool connection:
// the panic goes on to the caller (rcqd's handler answers 500), and the
// connection, left in the middle of a result, is closed rather than held for
// good. Twice as many panics as the pool has connections, then a query:
// with the connections held, the panics after the first few would wait for
// one until their deadline instead of reaching the reader.
func TestQueryPanicReleasesConnection(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	max := int(f.st.PoolStats().Max)
	for name, c := range queryPaths(t, f) {
		for i := range 2*max + 1 {
			if r := panicking(ctx, f.st, c); r != "scan bug" {
				t.Fatalf("%s: query %d: %v, want the reader's panic", name, i, r)
			}
		}
		var ids []int64
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := f.st.Query(qctx, c, `SELECT count(*) AS id FROM generate_series(1, 5)`, nil, func(rows pgx.Rows) (err error) {
			ids, err = store.CollectNamed(rows, idOf)
			return err
		}); err != nil || len(ids) != 1 || ids[0] != 5 {
			t.Errorf("%s: the query after the panics: %v, err = %v", name, ids, err)
		}
	}
}

// panicking runs a query whose reader panics, and returns what it
// recovered, or the query's error when the reader never ran.
func panicking(ctx context.Context, st *store.Store, c *rcq.AccountCheck) (r any) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			r = p
		}
	}()
	return st.Query(ctx, c, `SELECT g AS id FROM generate_series(1, 3) g`, nil, func(rows pgx.Rows) error {
		rows.Next()
		panic("scan bug")
	})
}

// queryPaths are the two ways Store.query runs a statement: unchecked, and
// after the account check of alice's session.
func queryPaths(t *testing.T, f *fixture) map[string]*rcq.AccountCheck {
	t.Helper()
	u, _, err := f.st.TokenUser(ctxT(t), f.alice, "session")
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*rcq.AccountCheck{
		"unchecked": nil,
		"checked":   {UserID: u.ID, RowVersion: u.RowVersion, TokenID: "session"},
	}
}

// idRow is a row of one id column.
type idRow struct {
	ID int64 `db:"id"`
}

func idOf(r *idRow) int64 { return r.ID }

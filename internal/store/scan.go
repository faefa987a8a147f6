package store

import (
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// Rows are scanned by column name into store-private row structs whose
// fields carry `db:"column"` tags. The names are matched to fields once per
// result set, not once per row: pgx.RowToStructByName looks its field map up
// by the joined column names for every row, which an accounting page of
// 10,000 rows pays for 10,000 times (BenchmarkScanJobs).

// dbFields maps a row struct's `db` tags to field index paths (embedded
// structs included), once per type.
var dbFields sync.Map // reflect.Type -> map[string][]int

func fieldsOf(t reflect.Type) map[string][]int {
	if m, ok := dbFields.Load(t); ok {
		return m.(map[string][]int)
	}
	m := map[string][]int{}
	var walk func(t reflect.Type, path []int)
	walk = func(t reflect.Type, path []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			p := append(append([]int(nil), path...), i)
			if tag, ok := f.Tag.Lookup("db"); ok {
				m[tag] = p
			} else if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type, p)
			}
		}
	}
	walk(t, nil)
	got, _ := dbFields.LoadOrStore(t, m)
	return got.(map[string][]int)
}

// bindNamed returns the scan targets of rows' columns in r, by column name.
// Every column must name a tagged field of T and every tagged field must
// have its column, so a renamed column or a typo fails loudly instead of
// leaving a field zero.
func bindNamed[T any](rows pgx.Rows, r *T) ([]any, error) {
	// Rows that never got a result (a batch's statement that failed) have
	// no field descriptions to ask for: their error is the answer.
	if err := rows.Err(); err != nil {
		return nil, err
	}
	v := reflect.ValueOf(r).Elem()
	fields := fieldsOf(v.Type())
	fds := rows.FieldDescriptions()
	targets := make([]any, len(fds))
	for i, fd := range fds {
		p, ok := fields[fd.Name]
		if !ok {
			return nil, fmt.Errorf("scan into %s: no field for column %q", v.Type(), fd.Name)
		}
		targets[i] = target(v.FieldByIndex(p).Addr().Interface())
	}
	if len(fds) > 0 && len(fds) != len(fields) {
		for name := range fields {
			found := false
			for _, fd := range fds {
				found = found || fd.Name == name
			}
			if !found {
				return nil, fmt.Errorf("scan into %s: no column %q in the result", v.Type(), name)
			}
		}
	}
	return targets, nil
}

// eachNamed reads every row of rows into one T, by column name (see
// bindNamed), and calls fn with it; an error from fn ends the read. The T
// is reused (zeroed before each row): fn must copy what it keeps. Nothing
// is gathered, so a page of 10,000 rows costs no slice of 10,000 rows.
func eachNamed[T any](rows pgx.Rows, fn func(*T) error) error {
	defer rows.Close()
	var r, zero T
	targets, err := bindNamed(rows, &r)
	if err != nil {
		return err
	}
	for rows.Next() {
		r = zero
		if err := rows.Scan(targets...); err != nil {
			return err
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// collectNamed reads every row of rows into a T, by column name (see
// bindNamed), and returns what conv makes of each. The T handed to conv is
// reused (zeroed before each row): conv must copy what it keeps, which a
// conversion to another type does.
func collectNamed[T, R any](rows pgx.Rows, conv func(*T) R) ([]R, error) {
	return collectNamedCap(rows, conv, 0)
}

// collectNamedCap is collectNamed with room for hint rows made up front: a
// good guess of the count makes the result in one allocation, without the
// chunks and their join.
func collectNamedCap[T, R any](rows pgx.Rows, conv func(*T) R, hint int) ([]R, error) {
	// Rows go into chunks, joined once at the end: appending to one slice
	// of large structs (a job is ~400 bytes) would copy 10,000 rows over
	// and over as it doubles.
	var full [][]R
	var cur []R
	if hint > 0 {
		cur = make([]R, 0, hint)
	}
	n := 0
	err := eachNamed(rows, func(r *T) error {
		if len(cur) == cap(cur) && cap(cur) >= 1024 {
			full, cur = append(full, cur), make([]R, 0, 4096)
		}
		cur = append(cur, conv(r))
		n++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if full == nil {
		return cur, nil
	}
	out := make([]R, 0, n)
	for _, c := range full {
		out = append(out, c...)
	}
	return append(out, cur...), nil
}

// collectOneNamed is collectNamed for a query that must return exactly one
// row: pgx.ErrNoRows for none, pgx.ErrTooManyRows for more.
func collectOneNamed[T, R any](rows pgx.Rows, conv func(*T) R) (R, error) {
	var zero R
	out, err := collectNamed(rows, conv)
	switch {
	case err != nil:
		return zero, err
	case len(out) == 0:
		return zero, pgx.ErrNoRows
	case len(out) > 1:
		return zero, pgx.ErrTooManyRows
	}
	return out[0], nil
}

// target is the scan target for the field at p. A nullable column scanned
// into a pointer field (**T) goes through one of pgx's scanner interfaces,
// implemented below: pgx scans into **T by reflection otherwise
// (reflect.New and Value.Set for every row and column), which was half of
// the scan of an accounting page (docs/performance.md). The values are the
// ones pgx's own plans give (a time in the local zone, as pgx's).
func target(p any) any {
	switch p := p.(type) {
	case **time.Time:
		return nullTime{p}
	case **string:
		return nullString{p}
	case **int32:
		return nullInt32{p}
	case **int64:
		return nullInt64{p}
	}
	return p
}

type (
	nullTime   struct{ p **time.Time }
	nullString struct{ p **string }
	nullInt32  struct{ p **int32 }
	nullInt64  struct{ p **int64 }
)

func (t nullTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*t.p = nil
		return nil
	}
	if v.InfinityModifier != pgtype.Finite {
		return fmt.Errorf("cannot scan an infinite timestamp into a time")
	}
	x := v.Time
	*t.p = &x
	return nil
}

func (t nullString) ScanText(v pgtype.Text) error {
	if !v.Valid {
		*t.p = nil
		return nil
	}
	x := v.String
	*t.p = &x
	return nil
}

func (t nullInt32) ScanInt64(v pgtype.Int8) error {
	if !v.Valid {
		*t.p = nil
		return nil
	}
	if v.Int64 < -1<<31 || v.Int64 > 1<<31-1 {
		return fmt.Errorf("%d does not fit an int32", v.Int64)
	}
	x := int32(v.Int64)
	*t.p = &x
	return nil
}

func (t nullInt64) ScanInt64(v pgtype.Int8) error {
	if !v.Valid {
		*t.p = nil
		return nil
	}
	x := v.Int64
	*t.p = &x
	return nil
}

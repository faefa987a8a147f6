package store

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/jackc/pgx/v5"
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

// collectNamed reads every row of rows into a T, by column name, and returns
// what conv makes of each. Every column must name a tagged field of T and
// every tagged field must have its column, so a renamed column or a typo
// fails loudly instead of leaving a field zero. The T handed to conv is
// reused (zeroed before each row): conv must copy what it keeps, which a
// conversion to another type does.
func collectNamed[T, R any](rows pgx.Rows, conv func(*T) R) ([]R, error) {
	defer rows.Close()
	var r T
	v := reflect.ValueOf(&r).Elem()
	fields := fieldsOf(v.Type())
	fds := rows.FieldDescriptions()
	targets := make([]any, len(fds))
	for i, fd := range fds {
		p, ok := fields[fd.Name]
		if !ok {
			return nil, fmt.Errorf("scan into %s: no field for column %q", v.Type(), fd.Name)
		}
		targets[i] = v.FieldByIndex(p).Addr().Interface()
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
	// Rows go into chunks, joined once at the end: appending to one slice
	// of large structs (a job is ~400 bytes) would copy 10,000 rows over
	// and over as it doubles.
	var full [][]R
	var cur []R
	n := 0
	var zero T
	for rows.Next() {
		r = zero
		if err := rows.Scan(targets...); err != nil {
			return nil, err
		}
		if len(cur) == cap(cur) && cap(cur) >= 1024 {
			full, cur = append(full, cur), make([]R, 0, 4096)
		}
		cur = append(cur, conv(&r))
		n++
	}
	if err := rows.Err(); err != nil {
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

package store_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rcq-project/rcq/internal/rcq"
)

// TestSchemaMirrorsRules: the schema's CHECK constraints, the last line of
// defence, refuse exactly what internal/rcq's rules refuse at each end of
// each bound they both hold (priority, sizes, quota, name lengths). Each
// value is written into a real row in a transaction that is rolled back.
func TestSchemaMirrorsRules(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	job := f.submit(t, f.alice, res(1, 1, 0))
	lim := rcq.DefaultLimits
	ends := func(r rcq.IntRange) []any { return []any{r.Min - 1, r.Min, r.Max, r.Max + 1} }
	inRange := func(r rcq.IntRange) func(any) bool { return func(v any) bool { return r.Contains(v.(int)) } }
	stored := lim.MemoryGBRange()
	stored.Min = 1 // a job's 0 is the default, stored as the default's value (at least 1)
	names := func(n int) []any { return []any{"", strings.Repeat("n", n), strings.Repeat("n", n+1)} }
	cases := []struct {
		table, column string
		id            any
		values        []any
		ok            func(any) bool
	}{
		{"groups", "priority", f.group, ends(rcq.PriorityRange), inRange(rcq.PriorityRange)},
		{"jobs", "priority", job, ends(rcq.PriorityRange), inRange(rcq.PriorityRange)},
		{"jobs", "cpu_cores", job, ends(lim.CPUCoresRange()), inRange(lim.CPUCoresRange())},
		{"workers", "cpu_cores", f.worker, ends(lim.CPUCoresRange()), inRange(lim.CPUCoresRange())},
		{"jobs", "memory_gb", job, append(ends(stored), 0), inRange(stored)},
		{"workers", "memory_gb", f.worker, ends(lim.MemoryGBRange()), inRange(lim.MemoryGBRange())},
		{"jobs", "gpu_count", job, ends(lim.GPUsRange()), inRange(lim.GPUsRange())},
		{"workers", "gpu_count", f.worker, ends(lim.GPUsRange()), inRange(lim.GPUsRange())},
		{"groups", "cpu_quota", f.group, []any{-0.5, 0.0, rcq.MaxCPUQuota, rcq.MaxCPUQuota * 1.001},
			func(v any) bool { return rcq.CheckCPUQuota(v.(float64)) == nil }},
		{"groups", "name", f.group, names(rcq.MaxGroupNameBytes), func(v any) bool { return rcq.CheckGroupName(v.(string)) == nil }},
		{"workers", "name", f.worker, names(rcq.MaxWorkerNameBytes), func(v any) bool { return rcq.CheckWorkerName(v.(string)) == nil }},
		{"jobs", "estimated_hours", job, []any{-1.0, 0.0, 0.001, lim.MaxEstimatedHours},
			func(v any) bool { return lim.CheckEstimatedHours(v.(float64)) == nil }},
	}
	for _, c := range cases {
		for _, v := range c.values {
			what := fmt.Sprintf("%s.%s = %v", c.table, c.column, v)
			err := pgx.BeginFunc(ctx, f.db, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `UPDATE `+c.table+` SET `+c.column+` = $2 WHERE id = $1`, c.id, v); err != nil {
					return err
				}
				return errRollback
			})
			var pe *pgconn.PgError
			refused := errors.As(err, &pe) && pe.Code == pgerrcode.CheckViolation
			if !refused && !errors.Is(err, errRollback) {
				t.Fatalf("%s: %v", what, err)
			}
			if want := c.ok(v); refused == want {
				t.Errorf("%s: the schema refuses it: %v; rcq accepts it: %v", what, refused, want)
			}
		}
	}
}

var errRollback = errors.New("roll back")

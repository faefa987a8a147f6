package acct

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/slurm"
)

// TestAPIFieldsCarryEveryValue: each sacct field shows the same text from a
// row that has only the keys apiFields asks rcqd for as from a whole row.
func TestAPIFieldsCarryEveryValue(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	t1, t2 := t0.Add(time.Minute), t0.Add(time.Hour)
	code, aid, tid := 137, int64(5), 2
	full := apitype.AcctJob{ID: 7, User: "ann@lab", UnixUser: "ann", GroupID: 3, Group: "bio", Name: "train", Status: "failed",
		WorkingDir: "/w", CPUCores: 4, MemoryGB: 8, GPUCount: 1, EstimatedHours: 2.5, Reason: "NonZeroExitCode", ReasonDetail: "d",
		SubmittedAt: t0, StartedAt: &t1, CompletedAt: &t2, ExitCode: &code, Signal: "KILL", Worker: "n1", CPUSeconds: 99.6,
		PeakMemoryKB: 2048, Output: "/w/o", Error: "/w/e", ArrayJobID: &aid, ArrayTaskID: &tid}
	raw, _ := json.Marshal(full)
	var all map[string]json.RawMessage
	_ = json.Unmarshal(raw, &all)
	for _, f := range slurm.AcctFields {
		cols, err := slurm.ParseFormat(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		keys := apiFields(cols)
		if keys == nil {
			t.Errorf("%s: every key asked for: add it to fieldKeys", f.Name)
			continue
		}
		part := map[string]json.RawMessage{}
		for _, k := range keys {
			if v, ok := all[k]; ok {
				part[k] = v
			}
		}
		b, _ := json.Marshal(part)
		var j apitype.AcctJob
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatal(err)
		}
		if got, want := Value(&j, f.Name, t2), Value(&full, f.Name, t2); got != want {
			t.Errorf("%s from keys %v = %q, from the whole row %q", f.Name, keys, got, want)
		}
	}
}

package store_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// rcqd's own changes carry no actor and write no row; an actor's do, with
// its account, peer and request id.
func TestAuditOnlyWithAnActor(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	if _, err := f.st.CreateGroup(ctx, rcq.Group{Name: "bare", CPUQuota: 1, Priority: 1}); err != nil {
		t.Fatal(err)
	}
	if rows, err := f.st.AuditEvents(ctx, rcq.AuditFilter{}); err != nil || len(rows) != 0 {
		t.Fatalf("rows without an actor: %+v %v (the fixture's accounts and worker are rcqd's own too)", rows, err)
	}
	actx := rcq.WithActor(ctx, rcq.Actor{ID: f.admin, Email: "admin@localhost", Peer: "uid:0", RequestID: "req-1"})
	id, err := f.st.CreateGroup(actx, rcq.Group{Name: "audited", CPUQuota: 1, Priority: 1})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.st.AuditEvents(ctx, rcq.AuditFilter{})
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows: %+v %v", rows, err)
	}
	r := rows[0]
	if r.Action != "group.create" || r.TargetID != strconv.FormatInt(int64(id), 10) || r.ActorID != f.admin || r.Peer != "uid:0" ||
		r.RequestID != "req-1" || r.Outcome != rcq.AuditOK || r.Before != nil {
		t.Errorf("row %+v (after %s)", r, r.After)
	}
}

// PruneAudit deletes the rows older than the retention and keeps the rest.
func TestPruneAudit(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	actx := rcq.WithActor(ctx, rcq.Actor{ID: f.admin, Email: "admin@localhost"})
	for _, name := range []string{"old", "new"} {
		if _, err := f.st.CreateGroup(actx, rcq.Group{Name: name, CPUQuota: 1, Priority: 1}); err != nil {
			t.Fatal(err)
		}
	}
	// Rows cannot be updated, so the old one is made old by inserting it so.
	if _, err := f.db.Exec(ctx, `INSERT INTO audit_events (at, action, outcome) VALUES (now() - interval '400 days', 'group.create', 'ok')`); err != nil {
		t.Fatal(err)
	}
	n, err := f.st.PruneAudit(ctx, 365*24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("PruneAudit = %d, %v; want 1 row deleted", n, err)
	}
	rows, err := f.st.AuditEvents(ctx, rcq.AuditFilter{})
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows kept: %+v %v, want the 2 recent ones", rows, err)
	}
	if _, err := f.db.Exec(ctx, `UPDATE audit_events SET detail = 'x'`); err == nil {
		t.Error("UPDATE audit_events succeeded; the trigger must refuse it")
	}
}

// A worker's deletion is audited with the worker as it was, and rolled back
// when its row cannot be written; a mapping alone is account.unix_user.
func TestAuditWorkerDeleteAndMapping(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := ctxT(t)
	actx := rcq.WithActor(ctx, rcq.Actor{ID: f.admin, Email: "admin@localhost"})
	w, err := f.st.CreateWorker(ctx, rcq.Worker{Name: "gone", Node: "node1", State: rcq.WorkerOnline, Capacity: rcq.Resources{CPUCores: 2, MemoryGB: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(ctx, `ALTER TABLE audit_events ADD CONSTRAINT test_refuse CHECK (action <> 'worker.delete')`); err != nil {
		t.Fatal(err)
	}
	if err := f.st.DeleteWorkerForTest(actx, w.ID); rcq.CodeOf(err) != "audit_failed" || rcq.KindOf(err) != rcq.KindUnavailable {
		t.Fatalf("delete with a failing audit row: %v, want Unavailable audit_failed", err)
	}
	if _, err := f.st.WorkerByID(ctx, w.ID); err != nil {
		t.Fatalf("the worker is gone although its audit row failed: %v", err)
	}
	if _, err := f.db.Exec(ctx, `ALTER TABLE audit_events DROP CONSTRAINT test_refuse`); err != nil {
		t.Fatal(err)
	}
	if err := f.st.DeleteWorkerForTest(actx, w.ID); err != nil {
		t.Fatal(err)
	}
	name := "ada"
	if _, err := f.st.UpdateUser(actx, f.alice, rcq.UserPatch{UnixUser: &name}); err != nil {
		t.Fatal(err)
	}
	rows, err := f.st.AuditEvents(ctx, rcq.AuditFilter{})
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows: %+v %v", rows, err)
	}
	if m := rows[0]; m.Action != "account.unix_user" || !strings.Contains(string(m.Before), `"unix_user": ""`) && !strings.Contains(string(m.Before), `"unix_user":""`) ||
		!strings.Contains(string(m.After), `"ada"`) {
		t.Errorf("mapping row %+v before %s after %s", m, m.Before, m.After)
	}
	if d := rows[1]; d.Action != "worker.delete" || d.TargetID != strconv.FormatInt(int64(w.ID), 10) || !strings.Contains(string(d.Before), `"gone"`) || d.After != nil {
		t.Errorf("delete row %+v before %s after %s", d, d.Before, d.After)
	}
}

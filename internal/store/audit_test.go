package store_test

import (
	"strconv"
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

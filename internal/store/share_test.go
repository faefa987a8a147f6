package store_test

import (
	"math"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

func TestWorkerLoads(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	a := f.submit(t, f.alice, res(2, 4, 1))
	b := f.submit(t, f.bob, res(3, 8, 0))
	f.submit(t, f.bob, res(1, 1, 0)) // pending: holds nothing
	f.start(t, a, 0)
	f.start(t, b)
	if _, err := f.st.RegisterWorker(ctx, rcq.Worker{Name: "w2", Node: "node1", Capacity: res(4, 16, 0)}); err != nil {
		t.Fatal(err)
	}
	ws, err := f.st.WorkerLoads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 2 || ws[0].Name != "w1" || ws[1].Name != "w2" {
		t.Fatalf("workers %+v, want w1 and w2", ws)
	}
	if ws[0].Allocated != res(5, 12, 1) || ws[0].RunningJobs != 2 || ws[0].NodeState() != rcq.NodeMixed {
		t.Errorf("w1: %+v (%s), want 5 CPUs, 12 GB, 1 GPU in 2 jobs, mixed", ws[0], ws[0].NodeState())
	}
	if ws[1].Allocated != (rcq.Resources{}) || ws[1].RunningJobs != 0 || ws[1].NodeState() != rcq.NodeIdle {
		t.Errorf("w2: %+v, want nothing allocated, idle", ws[1])
	}
}

func TestGroupUsages(t *testing.T) {
	f := newFixture(t)
	ctx := ctxT(t)
	physics, err := f.st.CreateGroup(ctx, rcq.Group{Name: "physics", CPUQuota: 50, Priority: 1})
	if err != nil {
		t.Fatal(err)
	}
	carol := f.user(t, "carol@example.org", false)
	f.exec(t, `UPDATE users SET group_id = $1 WHERE id = $2`, physics, carol)
	// alice: 10 CPU-hours now and 8 two days ago (half-life 1 day: 2);
	// carol: 6 in physics; an old row outside the 7-day window counts nothing.
	for _, u := range []struct {
		user  rcq.UserID
		group rcq.GroupID
		hours float64
		ago   time.Duration
	}{
		{f.alice, f.group, 10, 0}, {f.alice, f.group, 8, 48 * time.Hour},
		{carol, physics, 6, time.Hour * 0}, {f.bob, f.group, 100, 30 * 24 * time.Hour},
	} {
		id := f.submit(t, u.user, res(1, 1, 0))
		f.exec(t, `INSERT INTO usage_logs (group_id, user_id, job_id, cpu_hours, gpu_hours, logged_at)
			VALUES ($1, $2, $3, $4, 0, now() - make_interval(secs => $5))`, u.group, u.user, id, u.hours, u.ago.Seconds())
	}
	gs, err := f.st.GroupUsages(ctx, 7*24*time.Hour, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 2 || gs[0].ID != f.group || gs[1].ID != physics {
		t.Fatalf("groups %+v, want default and physics", gs)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 0.01 }
	if !near(gs[0].UsageCPUHours, 12) || !near(gs[1].UsageCPUHours, 6) {
		t.Errorf("usage default %.3f physics %.3f, want 12 (10 + 8 halved twice) and 6", gs[0].UsageCPUHours, gs[1].UsageCPUHours)
	}
	var got []string
	users := map[string]float64{}
	for _, u := range gs[0].Users {
		got = append(got, u.Email)
		users[u.Email] = u.UsageCPUHours
	}
	if len(got) != 3 || got[0] != "admin@localhost" || got[1] != "alice@example.org" || got[2] != "bob@example.org" {
		t.Fatalf("default's users %v, want admin, alice, bob by email", got)
	}
	if !near(users["alice@example.org"], 12) || users["bob@example.org"] != 0 {
		t.Errorf("users' usage %v, want alice 12 and bob 0 (his usage is outside the window)", users)
	}
	if len(gs[1].Users) != 1 || gs[1].Users[0].UserID != carol || !near(gs[1].Users[0].UsageCPUHours, 6) {
		t.Errorf("physics' users %+v, want carol with 6", gs[1].Users)
	}
	// Snapshot counts the same usage.
	snap, err := f.st.Snapshot(ctx, 7*24*time.Hour, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !near(snap.Groups[0].UsageCPUHours, gs[0].UsageCPUHours) {
		t.Errorf("snapshot's usage %.3f, GroupUsages' %.3f", snap.Groups[0].UsageCPUHours, gs[0].UsageCPUHours)
	}
}

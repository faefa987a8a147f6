package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

func TestNodesForEveryUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	id := e.submit(e.aliceT, map[string]any{"cpu_cores": 3, "memory_gb": 4, "gpu_count": 1})
	e.start(id, 0)
	want(t, e.get("/api/workers", ""), http.StatusUnauthorized, "")
	r := e.get("/api/workers", e.bobT) // not the job's owner, not an admin
	want(t, r, http.StatusOK, "")
	if s := string(r.body); strings.Contains(s, `"id"`) || strings.Contains(s, "last_heartbeat") {
		t.Errorf("a user's view of workers shows admin detail: %s", s)
	}
	l := decodeTo[apitype.NodeList](t, r)
	wantNode := apitype.NodeInfo{Name: "w1", Node: "node1", CPUCores: 8, MemoryGB: 32, GPUCount: 2, Status: "online",
		State: rcq.NodeMixed, AllocCPUs: 3, AllocMemoryGB: 4, AllocGPUs: 1, RunningJobs: 1}
	if l.Count != 1 || len(l.Workers) != 1 || l.Workers[0] != wantNode {
		t.Fatalf("workers %+v, want %+v", l, wantNode)
	}
}

func TestShareShowsOwnGroupsMembersOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	physics, err := e.st.CreateGroup(ctx, rcq.Group{Name: "physics", CPUQuota: 500, Priority: 2})
	if err != nil {
		t.Fatal(err)
	}
	carol, carolT := e.newUser("carol@example.org", false)
	if _, err := e.st.UpdateUser(ctx, carol, rcq.UserPatch{GroupID: &physics}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{e.aliceT, carolT} {
		id := e.submit(tok, map[string]any{"cpu_cores": 4})
		e.start(id)
		e.finish(id, rcq.JobCompleted, 0)
	}
	want(t, e.get("/api/share", ""), http.StatusUnauthorized, "")

	byName := func(token string) map[string]apitype.GroupShare {
		t.Helper()
		r := e.get("/api/share", token)
		want(t, r, http.StatusOK, "")
		l := decodeTo[apitype.ShareList](t, r)
		m := map[string]apitype.GroupShare{}
		for _, g := range l.Groups {
			m[g.Name] = g
		}
		if l.Count != 2 || len(m) != 2 {
			t.Fatalf("groups %+v, want default and physics", l)
		}
		return m
	}
	emails := func(g apitype.GroupShare) string {
		var s []string
		for _, u := range g.Users {
			s = append(s, u.Email)
		}
		return strings.Join(s, ",")
	}

	// carol (physics) sees her group in full and default's totals only.
	gs := byName(carolT)
	if gs["default"].Users != nil {
		t.Errorf("carol sees default's members: %+v", gs["default"].Users)
	}
	if gs["default"].UsageCPUHours <= 0 || gs["default"].CPUQuota != 1000 || gs["default"].FairShare != 2 {
		t.Errorf("default's totals as carol: %+v, want its usage, quota 1000 and factor 2 (clamped)", gs["default"])
	}
	p := gs["physics"]
	if emails(p) != "carol@example.org" || p.Users[0].UsageShare != 1 || p.Users[0].UsageCPUHours != p.UsageCPUHours || p.CPUQuota != 500 {
		t.Errorf("physics as carol: %+v, want carol with all of its usage", p)
	}

	// alice (default) sees default's members, not physics'.
	gs = byName(e.aliceT)
	if gs["physics"].Users != nil {
		t.Errorf("alice sees physics' members: %+v", gs["physics"].Users)
	}
	if got := emails(gs["default"]); got != "admin@localhost,alice@example.org,bob@example.org" {
		t.Errorf("default's members as alice: %s", got)
	}

	// An admin sees everyone.
	gs = byName(e.adminT)
	if emails(gs["physics"]) != "carol@example.org" || len(gs["default"].Users) != 3 {
		t.Errorf("as admin: %+v", gs)
	}
}

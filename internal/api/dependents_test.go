package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
)

// GET /api/jobs?depends_on=N lists the jobs waiting on N (the dashboard's
// dependency graph), within the caller's view: another user sees none of
// them, an admin all.
func TestJobsDependsOn(t *testing.T) {
	e := newEnv(t, nil)
	a := e.submit(e.aliceT, map[string]any{"hold": true})
	b := e.submit(e.aliceT, map[string]any{"dependencies": []int64{a}})
	c := e.submit(e.aliceT, map[string]any{"dependencies": []map[string]any{{"type": "afterany", "job_id": a}}})
	e.submit(e.aliceT, map[string]any{}) // waits on nothing
	e.submit(e.aliceT, map[string]any{"dependencies": []int64{b}})

	ids := func(token string) []int64 {
		t.Helper()
		r := e.get(fmt.Sprintf("/api/jobs?order=oldest&depends_on=%d", a), token)
		want(t, r, http.StatusOK, "")
		var out []int64
		for _, j := range decodeTo[apitype.JobList](t, r).Jobs {
			out = append(out, j.ID)
		}
		return out
	}
	if got := ids(e.aliceT); fmt.Sprint(got) != fmt.Sprint([]int64{b, c}) {
		t.Errorf("alice: jobs waiting on %d = %v, want [%d %d]", a, got, b, c)
	}
	if got := ids(e.adminT); fmt.Sprint(got) != fmt.Sprint([]int64{b, c}) {
		t.Errorf("admin: jobs waiting on %d = %v, want [%d %d]", a, got, b, c)
	}
	if got := ids(e.bobT); len(got) != 0 {
		t.Errorf("bob sees alice's jobs waiting on %d: %v", a, got)
	}
	for _, bad := range []string{"0", "-3", "x", "1.5"} {
		r := e.get("/api/jobs?depends_on="+bad, e.aliceT)
		want(t, r, http.StatusBadRequest, "invalid_depends_on")
	}
}

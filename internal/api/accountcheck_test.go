package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/unixtest"
)

// POST /api/jobs and GET /api/jobs/{id} authenticate from the account read
// last and re-check it in their statement (Route.Rechecked). Whatever
// changes meanwhile, the next request acts as the account now is: a moved
// user's job goes to the new group, a demoted admin sees only their own
// jobs, an ended session is refused before anything else is said.
func TestRecheckedRoutesFollowAccountChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	patch := func(id rcq.UserID, body map[string]any) {
		t.Helper()
		want(t, e.do(req{method: "PATCH", path: fmt.Sprintf("/api/admin/users/%d", id), token: e.adminT, body: body}), http.StatusOK, "")
	}
	// Each request twice: the second answers from the account read first.
	for range 2 {
		if j := e.job(e.submit(e.aliceT, nil)); j.GroupID != rcq.DefaultGroup {
			t.Fatalf("alice's job is in group %d", j.GroupID)
		}
	}

	g := decodeTo[apitype.Group](t, e.post("/api/admin/groups", e.adminT, map[string]any{"name": "physics"}))
	patch(e.alice, map[string]any{"group_id": g.ID})
	if j := e.job(e.submit(e.aliceT, nil)); int64(j.GroupID) != g.ID {
		t.Errorf("after the move alice's job is in group %d, want %d", j.GroupID, g.ID)
	}

	bobs := e.submit(e.bobT, nil)
	carol, carolT := e.newUser("carol@example.org", true)
	for range 2 {
		want(t, e.get(fmt.Sprintf("/api/jobs/%d", bobs), carolT), http.StatusOK, "")
	}
	patch(carol, map[string]any{"is_admin": false})
	want(t, e.get(fmt.Sprintf("/api/jobs/%d", bobs), carolT), http.StatusNotFound, "not_found")
	own := e.submit(carolT, nil)
	want(t, e.get(fmt.Sprintf("/api/jobs/%d", own), carolT), http.StatusOK, "")

	jobs := e.jobCount()
	want(t, e.post("/api/auth/logout", e.aliceT, nil), http.StatusOK, "")
	want(t, e.post("/api/jobs", e.aliceT, map[string]any{"script": "#!/bin/sh\ntrue\n"}), http.StatusUnauthorized, "token_revoked")
	want(t, e.get(fmt.Sprintf("/api/jobs/%d", own), e.aliceT), http.StatusUnauthorized, "token_revoked")
	// Refused for the session first, not for what the request lacks.
	want(t, e.post("/api/jobs", e.aliceT, map[string]any{"script": ""}), http.StatusUnauthorized, "token_revoked")
	want(t, e.get("/api/jobs/999999", e.aliceT), http.StatusUnauthorized, "token_revoked")

	// Logging out everywhere bumps the account: every token ends.
	want(t, e.post("/api/auth/logout?all=true", carolT, nil), http.StatusOK, "")
	want(t, e.post("/api/jobs", carolT, map[string]any{"script": "#!/bin/sh\ntrue\n"}), http.StatusUnauthorized, "token_revoked")
	if n := e.jobCount(); n != jobs {
		t.Errorf("refused submits stored %d jobs", n-jobs)
	}
}

// On the socket without a token, the account is the one mapped to the
// peer's login as it is now: unmapped, the login's next submit is refused
// (its local account's email is taken), never stored for the old account.
func TestRecheckedPeerFollowsItsMapping(t *testing.T) {
	t.Parallel()
	a := unixtest.New(t)
	e := newEnv(t, systemMode)
	srv := e.peer(a.UID)
	post := func() resp {
		return e.via(srv, req{method: "POST", path: "/api/jobs", body: map[string]any{"script": "#!/bin/sh\nid -un\n"}})
	}
	submit := func() *rcq.Job {
		t.Helper()
		r := post()
		want(t, r, http.StatusCreated, "")
		return e.job(decodeTo[apitype.SubmitResponse](t, r).JobID)
	}
	first := submit()
	if again := submit(); again.UserID != first.UserID {
		t.Fatalf("second submit by account %d, first by %d", again.UserID, first.UserID)
	}
	jobs := e.jobCount()
	e.mapUnixUser(first.UserID, "")
	want(t, post(), http.StatusConflict, "local_email_taken")
	want(t, e.via(srv, req{method: "GET", path: fmt.Sprintf("/api/jobs/%d", first.ID)}), http.StatusConflict, "local_email_taken")
	if n := e.jobCount(); n != jobs {
		t.Errorf("the unmapped login stored %d jobs", n-jobs)
	}
	e.mapUnixUser(first.UserID, a.Name)
	if j := submit(); j.UserID != first.UserID {
		t.Errorf("mapped back, the submit went to account %d, want %d", j.UserID, first.UserID)
	}
}

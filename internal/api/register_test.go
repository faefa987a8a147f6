package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/unixtest"
)

// On a root rcqd, an account registered without a Unix user is told it
// cannot run jobs until an admin maps it; a mapped one, or any account of a
// personal rcqd (whose jobs run as rcqd's user), is not.
func TestRegisterWarnsAnUnmappedAccount(t *testing.T) {
	t.Parallel()
	c := unixtest.New(t)
	reg := func(e *env, token, email string) apitype.RegisterResponse {
		r := e.post("/api/auth/register", token, map[string]any{"email": email, "password": "long enough pw"})
		want(t, r, http.StatusCreated, "")
		return decodeTo[apitype.RegisterResponse](t, r)
	}
	root := newEnv(t, func(cfg *api.Config, d *api.Deps) {
		systemMode(cfg, d)
		cfg.UnixUserFromEmail = true
	})
	got := reg(root, "", "eve@example.org").Warning
	if !strings.HasPrefix(got, "eve@example.org cannot run jobs until an admin maps it to a Unix user (rcq-admin user set eve@example.org --unix-user NAME)") ||
		!strings.Contains(got, "mapped automatically on rcqd's socket") {
		t.Errorf("self-registered on a root rcqd: warning %q", got)
	}
	if got := reg(root, root.adminT, c.Name+"@example.org").Warning; got != "" {
		t.Errorf("an account mapped at registration: warning %q", got)
	}
	if got := reg(newEnv(t, nil), "", "eve@example.org").Warning; got != "" {
		t.Errorf("personal rcqd: warning %q", got)
	}
}

package daemon_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client"
)

// TestTCPHostAndContentType: rcqd's TCP listener answers only to the Host
// names it is configured for (allowed_hosts, localhost, IP addresses) and
// refuses a body-less state change that does not say JSON, while the
// client, which says it, works.
func TestTCPHostAndContentType(t *testing.T) {
	if testing.Short() {
		t.Skip("starts rcqd and PostgreSQL")
	}
	t.Setenv("RCQ_ALLOWED_HOSTS", "rcq.test")
	dir := t.TempDir()
	d := startDaemon(t, dir)
	addr := d.ready()
	_, token := d.login()

	do := func(method, path, host, ct string) (int, apitype.ErrorBody) {
		t.Helper()
		r, err := http.NewRequest(method, "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Host = host
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		r.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b apitype.ErrorBody
		_ = json.NewDecoder(res.Body).Decode(&b)
		return res.StatusCode, b
	}
	if code, b := do("GET", "/api/auth/me", "evil.example:"+strings.Split(addr, ":")[1], ""); code != http.StatusBadRequest || b.Code != "bad_host" {
		t.Errorf("Host evil.example: %d %+v, want 400 bad_host", code, b)
	}
	for _, host := range []string{addr, "rcq.test", "localhost:" + strings.Split(addr, ":")[1]} {
		if code, b := do("GET", "/api/auth/me", host, ""); code != http.StatusOK {
			t.Errorf("Host %s: %d %+v, want 200", host, code, b)
		}
	}
	if code, b := do("POST", "/api/auth/logout", addr, ""); code != http.StatusUnsupportedMediaType || b.Code != "unsupported_media_type" {
		t.Errorf("logout without Content-Type: %d %+v, want 415", code, b)
	}
	c, err := client.New("http://"+addr, client.WithToken(token))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logout(context.Background(), false); err != nil {
		t.Errorf("logout with the client over TCP: %v", err)
	}
}

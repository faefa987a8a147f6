package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

// Emails are shown in everyone's queue: an address must not hide a
// right-to-left override, invisible characters, control characters or
// look-alike letters that pass for another user.
func TestEmailsAreASCII(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	reg := func(email string) resp {
		return e.post("/api/auth/register", "", map[string]any{"email": email, "password": "long enough pw"})
	}
	users := e.userCount()
	for name, email := range map[string]string{
		"right-to-left override": "alice\u202e@example.org",
		"override in the domain": "eve@gro.elpmaxe\u202e",
		"zero-width space":       "ali\u200bce@example.org",
		"zero-width joiner":      "alice\u200d@example.org",
		"byte-order mark":        "\ufeffalice@example.org",
		"NUL":                    "alice\x00@example.org",
		"bell":                   "alice\a@example.org",
		"escape":                 "alice\x1b[2J@example.org",
		"DEL":                    "alice\x7f@example.org",
		"newline inside":         "alice\n@example.org",
		"Cyrillic a":             "\u0430lice@example.org",
		"Cyrillic in the domain": "alice@ex\u0430mple.org",
		"Greek omicron":          "b\u03bfb@example.org",
		"fullwidth at":           "alice\uff20example.org",
		"no-break space":         "alice\u00a0@example.org",
		"invalid UTF-8":          "alice\xff@example.org",
	} {
		r := reg(email)
		want(t, r, http.StatusBadRequest, "invalid_email")
		msg := r.errBody(t).Error
		if !strings.HasPrefix(msg, "email: ") || !strings.Contains(msg, "ASCII") {
			t.Errorf("%s: %q does not name the field and the accepted form", name, msg)
		}
		if strings.ContainsAny(msg, "\u202e\u200b\u200d\ufeff\x00\a\x1b\n") {
			t.Errorf("%s: the message %q carries the character back raw", name, msg)
		}
	}
	if n := e.userCount(); n != users {
		t.Fatalf("%d refused addresses were stored", n-users)
	}

	// The one stored form is lower case, whatever case was typed, and
	// logging in takes any case.
	want(t, reg("  Ada@Example.ORG\n"), http.StatusCreated, "")
	u, _, err := e.st.UserByEmail(context.Background(), "ada@example.org")
	if err != nil || u.Email != "ada@example.org" {
		t.Fatalf("stored %+v, %v; want ada@example.org", u, err)
	}
	for _, typed := range []string{"ada@example.org", "ADA@EXAMPLE.ORG", " Ada@Example.org "} {
		want(t, login(e, typed, "long enough pw"), http.StatusOK, "")
	}
	want(t, reg("ADA@example.org"), http.StatusConflict, "email_taken")

	// An account stored with upper case before this rule still logs in,
	// in any case, and its address cannot be registered again.
	hash, err := e.pw.Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CreateUser(context.Background(), rcq.User{Email: "Grace.Hopper@Navy.MIL", GroupID: 1}, hash); err != nil {
		t.Fatal(err)
	}
	for _, typed := range []string{"grace.hopper@navy.mil", "Grace.Hopper@Navy.MIL", "GRACE.HOPPER@NAVY.MIL"} {
		want(t, login(e, typed, password), http.StatusOK, "")
	}
	want(t, reg("grace.hopper@navy.mil"), http.StatusConflict, "email_taken")

	// Logging in with an address that can name no account is answered like
	// an unknown account, not with a different error.
	unknown := login(e, "nobody@example.org", "wrong password")
	for _, typed := range []string{"alice\u202e@example.org", "\u0430lice@example.org", "not an email"} {
		r := login(e, typed, password)
		if r.status != http.StatusUnauthorized || string(r.sansID()) != string(unknown.sansID()) {
			t.Errorf("login as %q: %s, want %s", typed, r, unknown)
		}
	}
}

package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/rcq-project/rcq/internal/rcq"
)

var (
	testSecret = []byte("0123456789abcdef0123456789abcdef")
	testNow    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	testUser   = rcq.User{ID: 7, Email: "ada@example.org", GroupID: 3, IsAdmin: false, TokenVersion: 5}
)

func testSigner() *Signer { return NewSigner(testSecret, "rcqd", 24*time.Hour) }

// validClaims are the claims Sign would produce for testUser at testNow.
func validClaims() Claims {
	return Claims{
		UserID: 7, GroupID: 3, Version: 5,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    "rcqd",
			Subject:   "7",
			IssuedAt:  jwt.NewNumericDate(testNow),
			NotBefore: jwt.NewNumericDate(testNow),
			ExpiresAt: jwt.NewNumericDate(testNow.Add(time.Hour)),
		},
	}
}

func signWith(t *testing.T, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", m.Alg(), err)
	}
	return tok
}

// tamper rewrites the payload of tok with edit, keeping header and signature.
func tamper(t *testing.T, tok string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	raw, err = json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

func TestSignVerifyRoundTrip(t *testing.T) {
	s := testSigner()
	u := testUser
	u.IsAdmin = true
	tok, exp, err := s.Sign(u, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if want := testNow.Add(24 * time.Hour); !exp.Equal(want) {
		t.Errorf("expires = %v, want %v", exp, want)
	}
	c, err := s.Verify(tok, testNow.Add(time.Hour))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.UserID != 7 || c.GroupID != 3 || !c.Admin || c.Version != 5 {
		t.Errorf("claims = %+v, want uid 7, gid 3, admin, ver 5", c)
	}
	if c.Issuer != "rcqd" || c.Subject != "7" || !c.ExpiresAt.Time.Equal(exp) || c.ID == "" {
		t.Errorf("registered claims = %+v", c.RegisteredClaims)
	}
	// The JSON names are part of the wire format.
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	for _, k := range []string{`"uid":7`, `"gid":3`, `"adm":true`, `"ver":5`, `"iss":"rcqd"`, `"exp":`, `"iat":`, `"nbf":`} {
		if !strings.Contains(string(payload), k) {
			t.Errorf("payload %s lacks %s", payload, k)
		}
	}
	// Just before expiry it still verifies; at expiry it does not.
	if _, err := s.Verify(tok, exp.Add(-time.Second)); err != nil {
		t.Errorf("Verify just before expiry: %v", err)
	}
	if _, err := s.Verify(tok, exp); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("Verify at expiry: %v, want token_expired", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	s := testSigner()
	valid, _, err := s.Sign(testUser, testNow)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	expiredOther, _, err := NewSigner([]byte("another secret, also 32 bytes!!!"), "rcqd", time.Hour).Sign(testUser, testNow.Add(-48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	with := func(edit func(c *Claims)) Claims {
		c := validClaims()
		edit(&c)
		return c
	}

	tests := []struct {
		name  string
		token string
		code  string
	}{
		{"expired", func() string {
			tok, _, err := s.Sign(testUser, testNow.Add(-25*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}(), CodeTokenExpired},
		{"another secret", func() string {
			tok, _, err := NewSigner([]byte("another secret, also 32 bytes!!!"), "rcqd", time.Hour).Sign(testUser, testNow)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}(), CodeInvalidToken},
		{"expired under another secret is invalid, not expired", expiredOther, CodeInvalidToken},
		{"alg none", signWith(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims()), CodeInvalidToken},
		{"alg none with the signature stripped from a valid token", func() string {
			p := strings.Split(valid, ".")
			h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
			return h + "." + p[1] + "."
		}(), CodeInvalidToken},
		{"HS384 under the same secret", signWith(t, jwt.SigningMethodHS384, testSecret, validClaims()), CodeInvalidToken},
		{"HS512 under the same secret", signWith(t, jwt.SigningMethodHS512, testSecret, validClaims()), CodeInvalidToken},
		{"RS256", signWith(t, jwt.SigningMethodRS256, rsaKey, validClaims()), CodeInvalidToken},
		{"tampered payload: admin", tamper(t, valid, func(m map[string]any) { m["adm"] = true }), CodeInvalidToken},
		{"tampered payload: user", tamper(t, valid, func(m map[string]any) { m["uid"] = 1; m["sub"] = "1" }), CodeInvalidToken},
		{"tampered payload: expiry", tamper(t, valid, func(m map[string]any) { m["exp"] = testNow.Add(1000 * time.Hour).Unix() }), CodeInvalidToken},
		{"missing exp", signWith(t, jwt.SigningMethodHS256, testSecret, with(func(c *Claims) { c.ExpiresAt = nil })), CodeInvalidToken},
		{"missing iat", signWith(t, jwt.SigningMethodHS256, testSecret, with(func(c *Claims) { c.IssuedAt = nil })), CodeInvalidToken},
		{"nbf in the future", signWith(t, jwt.SigningMethodHS256, testSecret, with(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(testNow.Add(time.Minute)) })), CodeInvalidToken},
		{"iat in the future", signWith(t, jwt.SigningMethodHS256, testSecret, with(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(testNow.Add(time.Minute)) })), CodeInvalidToken},
		{"wrong iss", signWith(t, jwt.SigningMethodHS256, testSecret, with(func(c *Claims) { c.Issuer = "someone-else" })), CodeInvalidToken},
		{"no iss", signWith(t, jwt.SigningMethodHS256, testSecret, with(func(c *Claims) { c.Issuer = "" })), CodeInvalidToken},
		{"no user", signWith(t, jwt.SigningMethodHS256, testSecret, with(func(c *Claims) { c.UserID = 0; c.Subject = "0" })), CodeInvalidToken},
		{"subject and uid disagree", signWith(t, jwt.SigningMethodHS256, testSecret, with(func(c *Claims) { c.Subject = "8" })), CodeInvalidToken},
		{"garbage", "not.a.token", CodeInvalidToken},
		{"empty", "", CodeInvalidToken},
		{"two segments", strings.Join(strings.Split(valid, ".")[:2], "."), CodeInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := s.Verify(tt.token, testNow)
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", c)
			}
			if c != nil {
				t.Errorf("Verify returned claims with its error")
			}
			if k := rcq.KindOf(err); k != rcq.KindUnauthorized {
				t.Errorf("kind = %v, want unauthorized (err %v)", k, err)
			}
			if code := rcq.CodeOf(err); code != tt.code {
				t.Errorf("code = %q, want %q (err %v)", code, tt.code, errors.Unwrap(err))
			}
			if msg := rcq.MessageOf(err); msg == "" || strings.ContainsAny(msg, "\n") {
				t.Errorf("message %q is not one line", msg)
			}
			if testing.Verbose() {
				t.Logf("cause: %v", errors.Unwrap(err))
			}
		})
	}
	// The valid token, checked by the same Signer at the same time, passes:
	// the rejections above are about the tokens, not the set-up.
	if _, err := s.Verify(valid, testNow); err != nil {
		t.Fatalf("valid token rejected: %v", err)
	}
	if _, err := s.Verify(signWith(t, jwt.SigningMethodHS256, testSecret, validClaims()), testNow); err != nil {
		t.Fatalf("hand-made valid token rejected: %v", err)
	}
}

func TestVerifyLeeway(t *testing.T) {
	s := testSigner()
	tok, _, err := s.Sign(testUser, testNow)
	if err != nil {
		t.Fatal(err)
	}
	early := testNow.Add(-10 * time.Second) // the verifier's clock is behind
	if _, err := s.Verify(tok, early); err == nil {
		t.Fatal("token verified before its nbf with no leeway")
	}
	if _, err := s.WithLeeway(30*time.Second).Verify(tok, early); err != nil {
		t.Fatalf("token rejected within the leeway: %v", err)
	}
}

func TestSignRefuses(t *testing.T) {
	if _, _, err := NewSigner(nil, "rcqd", time.Hour).Sign(testUser, testNow); err == nil {
		t.Error("signed with an empty secret")
	}
	if _, _, err := NewSigner(testSecret, "rcqd", 0).Sign(testUser, testNow); err == nil {
		t.Error("signed with a zero lifetime")
	}
	if _, _, err := testSigner().Sign(rcq.User{}, testNow); err == nil {
		t.Error("signed for a user without an id")
	}
	tok, _, err := testSigner().Sign(testUser, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigner(nil, "rcqd", time.Hour).Verify(tok, testNow); rcq.CodeOf(err) != CodeInvalidToken {
		t.Errorf("a Signer without a secret verified: %v", err)
	}
}

func TestClaimsContext(t *testing.T) {
	if _, ok := ClaimsFrom(context.Background()); ok {
		t.Fatal("claims on an empty context")
	}
	c := &Claims{UserID: 9}
	got, ok := ClaimsFrom(WithClaims(context.Background(), c))
	if !ok || got != c {
		t.Fatalf("ClaimsFrom = %v, %v; want %v", got, ok, c)
	}
	if _, ok := ClaimsFrom(WithClaims(context.Background(), nil)); ok {
		t.Fatal("nil claims reported present")
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"Bearer   abc  ", "abc", true},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Bearerabc", "", false},
		{"Bearer a b", "", false},
		{"Token abc", "", false},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		if tt.header != "" {
			r.Header.Set("Authorization", tt.header)
		}
		got, ok := BearerToken(r)
		if got != tt.want || ok != tt.ok {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

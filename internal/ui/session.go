package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
)

// Cookie names. Both are limited to Path=/ui/, HttpOnly and SameSite=Strict,
// and Secure when the request came over TLS.
const (
	sessionCookie = "rcq_session" // the API's bearer token (a JWT)
	loginCookie   = "rcq_login"   // the login form's CSRF value (double submit), before there is a session
	csrfField     = "csrf"        // the hidden field of every form
	cookiePath    = "/ui/"
)

// Session is a logged-in browser: its token and the account the API says
// it belongs to.
type Session struct {
	Token string
	User  apitype.UserInfo
	CSRF  string // the value every form of this session carries
}

// session reads the session cookie and asks the API who it belongs to
// (GET /api/auth/me): an ended or expired token is an error, like no cookie.
func (u *UI) session(r *http.Request) (*Session, error) {
	ck, err := r.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, &APIError{Status: http.StatusUnauthorized, Code: "missing_token", Msg: "log in first"}
	}
	s := &Session{Token: ck.Value}
	if err := u.send(r, s.Token, http.MethodGet, "/api/auth/me", nil, &s.User); err != nil {
		return nil, err
	}
	s.CSRF = csrfToken(s.Token)
	return s, nil
}

// csrfToken is a session's CSRF value: an HMAC of its token. Only a page
// that holds the token (which the HttpOnly cookie keeps from scripts and
// other sites) can compute it, it changes with every login, and any rcqd
// sharing the database checks it without state.
func csrfToken(token string) string {
	m := hmac.New(sha256.New, []byte("rcq dashboard csrf v1"))
	m.Write([]byte(token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

var errCSRF = &APIError{Status: http.StatusForbidden, Code: "csrf", Field: csrfField,
	Msg: "csrf: this form lacks the dashboard's token (an old page, or another site sent it): reload the page and try again"}

// checkCSRF refuses a POST whose form does not carry the session's CSRF
// value, or that a page of another origin sent.
func (u *UI) checkCSRF(r *http.Request, s *Session) error {
	if !sameOrigin(r) {
		return errCSRF
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	got := r.PostFormValue(csrfField)
	if s == nil || got == "" || !hmac.Equal([]byte(got), []byte(s.CSRF)) {
		return errCSRF
	}
	return nil
}

// sameOrigin reports whether a POST's Origin header, when the browser sent
// one, names this host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	ou, err := url.Parse(o)
	return err == nil && strings.EqualFold(ou.Host, r.Host)
}

func (c *Call) setCookie(name, value string, expires time.Time) {
	ck := &http.Cookie{
		Name: name, Value: value, Path: cookiePath,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.R.TLS != nil,
	}
	if value == "" {
		ck.MaxAge = -1
	} else if !expires.IsZero() {
		ck.Expires = expires
	}
	http.SetCookie(c.W, ck)
}

func (u *UI) clearSession(c *Call) {
	if _, err := c.R.Cookie(sessionCookie); err == nil {
		c.setCookie(sessionCookie, "", time.Time{})
	}
}

// toLogin sends a visitor without a session to the login page, which
// brings them back to where they were going after.
func (u *UI) toLogin(c *Call) {
	u.clearSession(c)
	if c.R.Header.Get(fragmentHeader) != "" {
		http.Error(c.W, "session ended: log in again", http.StatusUnauthorized)
		return
	}
	next := ""
	if c.R.Method == http.MethodGet {
		next = c.R.URL.RequestURI()
	} else if ref, err := url.Parse(c.R.Referer()); err == nil && strings.EqualFold(ref.Host, c.R.Host) {
		next = ref.RequestURI()
	}
	to := "/ui/login"
	if localPath(next) && !strings.HasPrefix(next, "/ui/login") {
		to += "?next=" + url.QueryEscape(next)
	}
	http.Redirect(c.W, c.R, to, http.StatusSeeOther)
}

// loginView is the login page's data.
type loginView struct {
	Email string
	Next  string
	Token string // the double-submit value
	Err   *APIError
	Out   bool // just logged out
}

func loginGet(c *Call) error {
	next := c.R.URL.Query().Get("next")
	if !localPath(next) {
		next = ""
	}
	if c.Session != nil {
		http.Redirect(c.W, c.R, cmpOr(next, "/ui/queue"), http.StatusSeeOther)
		return nil
	}
	return c.loginForm(http.StatusOK, loginView{Next: next, Out: c.R.URL.Query().Get("out") != ""})
}

// loginForm renders the form with a fresh double-submit value, kept in the
// login cookie.
func (c *Call) loginForm(status int, v loginView) error {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	v.Token = base64.RawURLEncoding.EncodeToString(b)
	c.setCookie(loginCookie, v.Token, time.Time{})
	return c.renderStatus(status, "login", "Log in", v)
}

func loginPost(c *Call) error {
	c.R.Body = http.MaxBytesReader(c.W, c.R.Body, 64<<10)
	if err := c.R.ParseForm(); err != nil {
		return &APIError{Status: http.StatusBadRequest, Code: "bad_form", Msg: "form: could not be read"}
	}
	ck, err := c.R.Cookie(loginCookie)
	got := c.R.PostForm.Get(csrfField)
	if !sameOrigin(c.R) || err != nil || got == "" || !hmac.Equal([]byte(got), []byte(ck.Value)) {
		return errCSRF
	}
	v := loginView{Email: c.R.PostForm.Get("email"), Next: c.R.PostForm.Get("next")}
	if !localPath(v.Next) {
		v.Next = ""
	}
	var lr apitype.LoginResponse
	req := apitype.LoginRequest{Email: v.Email, Password: c.R.PostForm.Get("password")}
	if err := c.UI.send(c.R, "", http.MethodPost, "/api/auth/login", req, &lr); err != nil {
		ae, ok := err.(*APIError)
		if !ok {
			return err
		}
		v.Err = ae
		return c.loginForm(ae.Status, v)
	}
	c.setCookie(loginCookie, "", time.Time{})
	c.setCookie(sessionCookie, lr.Token, lr.ExpiresAt)
	http.Redirect(c.W, c.R, cmpOr(v.Next, "/ui/queue"), http.StatusSeeOther)
	return nil
}

// logout ends this session only (POST /api/auth/logout without all=true)
// and clears the cookie.
func logout(c *Call) error {
	err := c.Send(http.MethodPost, "/api/auth/logout", nil, nil)
	c.setCookie(sessionCookie, "", time.Time{})
	if ae, ok := err.(*APIError); err != nil && (!ok || ae.Status != http.StatusUnauthorized) {
		return err
	}
	http.Redirect(c.W, c.R, "/ui/login?out=1", http.StatusSeeOther)
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

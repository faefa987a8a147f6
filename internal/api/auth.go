package api

import (
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/rcq"
)

// normalEmail validates an address and returns the one form rcq stores and
// looks up: without surrounding spaces, lower-cased whole. Only printable
// ASCII is accepted, so an address cannot hide control characters, invisible
// or right-to-left characters, or look-alike letters (a Cyrillic "а") from
// the people who read it in the queue.
func normalEmail(s string) (string, error) {
	s = strings.Trim(s, " \t\r\n")
	if len(s) > 254 {
		return "", rcq.Invalid("email", "is %d bytes; an email address has at most 254", len(s))
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			r, _ := utf8.DecodeRuneInString(s[i:])
			return "", rcq.Invalid("email", "%q has %U at byte %d: only printable ASCII without spaces is accepted, as in ada@example.org", s, r, i)
		}
	}
	s = strings.ToLower(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", rcq.Invalid("email", "%q is not an email address like ada@example.org", s)
	}
	local, domain, _ := strings.Cut(s, "@")
	if domain == "" || local == "" {
		return "", rcq.Invalid("email", "%q is not an email address like ada@example.org", s)
	}
	return s, nil
}

// register creates an account. Anyone may when registration is open, else
// only admins. Only an admin chooses the group (others get the default one,
// and 400 group_requires_admin when they ask for another) and only an
// admin's registration gets a Unix user (from auth.unix_user_from_email,
// checked like any mapping): a stranger never picks who their jobs run as.
func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	// The caller, when known: a token, or a socket peer that has an account
	// (none is made for a registration).
	var by *rcq.User
	if _, hasTok := auth.BearerToken(r); hasTok || connInfo(r).Unix {
		by, _, _ = s.identify(r, false, false)
	}
	admin := by != nil && by.IsAdmin
	if !s.cfg.OpenRegistration && !admin {
		return rcq.Errorf(rcq.KindForbidden, "registration_closed", "registration is open to admins only: ask an admin to create your account")
	}
	if err := s.limiter.allow(s.clientKey(r)); err != nil {
		return err
	}
	var req apitype.RegisterRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	email, err := normalEmail(req.Email)
	if err != nil {
		return err
	}
	if _, domain, _ := strings.Cut(email, "@"); domain == localDomain && !admin {
		return rcq.Errorf(rcq.KindInvalid, "reserved_email",
			"email: the domain %s is kept for the accounts of this machine's Unix users, made when they first use the socket", localDomain)
	}
	if err := s.limiter.allowRegistration(email); err != nil {
		return err
	}
	if err := auth.CheckPasswordRules(req.Password); err != nil {
		return err
	}
	if req.GroupID < 0 {
		return rcq.Invalid("group_id", "must be a positive group id")
	}
	group := rcq.GroupID(req.GroupID)
	switch {
	case group == 0:
		group = rcq.DefaultGroup
	case group != rcq.DefaultGroup && !admin:
		return rcq.Errorf(rcq.KindInvalid, "group_requires_admin",
			"group_id: only an admin may put an account in group %d; new accounts go to group %d (ask an admin to move you)", group, rcq.DefaultGroup)
	}
	u := rcq.User{Email: email, GroupID: group}
	if admin && s.cfg.UnixUserFromEmail {
		if u.UnixUser, err = s.unixUserFromEmail(email); err != nil {
			return err
		}
	}
	hash, err := s.Passwords.Hash(req.Password)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if admin { // an admin's account creation is audited; a self-registration is not
		ctx = rcq.WithActor(ctx, s.actor(r, by))
	}
	id, err := s.Store.CreateUser(ctx, u, hash)
	if err != nil {
		if rcq.KindOf(err) == rcq.KindNotFound {
			return rcq.Errorf(rcq.KindInvalid, "invalid_group_id", "group_id: group %d does not exist", group)
		}
		return err
	}
	out := apitype.RegisterResponse{Message: "User registered successfully", UserID: int64(id)}
	if s.cfg.RunningAsRoot && u.UnixUser == "" {
		// It can log in and submit, but every job would fail at launch.
		out.Warning = fmt.Sprintf("%s cannot run jobs until an admin maps it to a Unix user (rcq-admin user set %s --unix-user NAME): "+
			"rcqd runs as root and runs each job as its account's Unix user; the accounts of this machine's users are mapped automatically on rcqd's socket",
			email, email)
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// unixUserFromEmail is the Unix user auth.unix_user_from_email gives a new
// account: the email's local part, lower-cased, when it names a Unix user of
// this machine; "" when it names none; an error when that user may not run
// jobs (root, a system account, a privileged group's member).
func (s *Server) unixUserFromEmail(email string) (string, error) {
	local, _, _ := strings.Cut(email, "@")
	name := strings.ToLower(local)
	if !auth.ValidUnixName(name) {
		return "", nil
	}
	err := s.UnixUsers.Check(name)
	if rcq.CodeOf(err) == auth.CodeUnknownUnixUser {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return name, nil
}

var errBadLogin = rcq.Errorf(rcq.KindUnauthorized, "invalid_credentials", "invalid email or password")

// login checks an email and password. Limits (ratelimit.go): the source
// (address or peer uid) pays for every attempt, the account for every failed
// one; the account's limit never stops a peer on the socket, nor an address
// the account logged in from before.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	source := s.clientKey(r)
	if err := s.limiter.allow(source); err != nil {
		return err
	}
	var req apitype.LoginRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	email, err := normalEmail(req.Email)
	if err != nil { // names no account: answered like an unknown one
		s.Passwords.DummyCheck(req.Password)
		return errBadLogin
	}
	attempt, err := s.limiter.beginLogin(email, source, !connInfo(r).Unix)
	if err != nil {
		return err
	}
	u, hash, err := s.Store.UserByEmail(r.Context(), email)
	if rcq.KindOf(err) == rcq.KindNotFound {
		s.Passwords.DummyCheck(req.Password) // an unknown email costs what a wrong password does
		attempt.failed()
		return errBadLogin
	}
	if err != nil {
		attempt.abandoned() // the database failed, not the password
		return err
	}
	if !s.Passwords.Check(hash, req.Password) {
		attempt.failed()
		return errBadLogin
	}
	attempt.succeeded()
	tok, exp, err := s.Signer.Sign(*u, s.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.LoginResponse{Message: "Login successful", Token: tok, ExpiresAt: exp, User: userInfo(u)})
	return nil
}

func userInfo(u *rcq.User) apitype.UserInfo {
	return apitype.UserInfo{ID: int64(u.ID), Email: u.Email, GroupID: int64(u.GroupID), IsAdmin: u.IsAdmin, UnixUser: u.UnixUser}
}

// logout ends the session of the token the request carries; with
// ?all=true every token of the account (every machine, every CI job).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	all, err := boolParam(r, "all")
	if err != nil {
		return err
	}
	if all {
		if err := s.Store.BumpTokenVersion(r.Context(), caller(r).ID); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, apitype.Message{Message: "Logged out: every token of this account is now invalid"})
		return nil
	}
	tok, ok := auth.BearerToken(r)
	if !ok {
		writeJSON(w, http.StatusOK, apitype.Message{Message: "No token to end: on the socket you are known by your Unix user (all=true ends every token of the account)"})
		return nil
	}
	claims, err := s.Signer.Verify(tok, s.Now()) // verified by the guard already
	if err != nil {
		return err
	}
	if err := s.Store.RevokeToken(r.Context(), claims.UserID, claims.ID, claims.ExpiresAt.Time); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.Message{Message: "Logged out: this token is now invalid; the account's other sessions go on (all=true ends them too)"})
	return nil
}

// boolParam reads an optional true/false query parameter.
func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, rcq.Invalid(name, "%q: use true or false", v)
	}
	return b, nil
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request) error {
	u := caller(r)
	// Guessing the old password with a stolen token is limited per account.
	if err := s.limiter.allow("user:" + strconv.FormatInt(int64(u.ID), 10)); err != nil {
		return err
	}
	var req apitype.PasswordRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	_, hash, err := s.Store.UserByID(r.Context(), u.ID)
	if err != nil {
		return err
	}
	// On the socket without a token the kernel vouches for the caller: an
	// account made for a Unix user, which has no password yet, sets one so.
	_, hasToken := auth.BearerToken(r)
	byPeer := connInfo(r).Unix && !hasToken
	if !byPeer && !s.Passwords.Check(hash, req.OldPassword) {
		return rcq.Errorf(rcq.KindUnauthorized, "invalid_credentials", "old_password: does not match")
	}
	if err := auth.CheckPasswordRules(req.NewPassword); err != nil {
		return rcq.Invalid("new_password", "%s", strings.TrimPrefix(rcq.MessageOf(err), "password: "))
	}
	newHash, err := s.Passwords.Hash(req.NewPassword)
	if err != nil {
		return err
	}
	if err := s.Store.SetPassword(r.Context(), u.ID, newHash); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.Message{Message: "Password changed: log in again with the new password"})
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, userInfo(caller(r)))
	return nil
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.Ping(r.Context()); err != nil {
		s.Logger.Warn("health check: database unreachable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, apitype.Health{Status: "unhealthy", Message: "database unreachable", Version: s.cfg.Version})
		return nil
	}
	writeJSON(w, http.StatusOK, apitype.Health{Status: "healthy", Message: "Research Compute Queue API is running", Version: s.cfg.Version})
	return nil
}

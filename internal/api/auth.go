package api

import (
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/rcq"
)

// normalEmail validates an address and returns it trimmed, with its domain
// lower-cased (the local part keeps its case; uniqueness ignores case anyway).
func normalEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !strings.Contains(s, "@") {
		return "", rcq.Invalid("email", "%q is not an email address like ada@example.org", s)
	}
	local, domain, _ := strings.Cut(s, "@")
	if domain == "" || local == "" {
		return "", rcq.Invalid("email", "%q is not an email address like ada@example.org", s)
	}
	return local + "@" + strings.ToLower(domain), nil
}

func (s *Server) register(w http.ResponseWriter, r *http.Request) error {
	if !s.cfg.OpenRegistration {
		u, err := s.authenticate(r)
		if err != nil {
			return rcq.Errorf(rcq.KindForbidden, "registration_closed", "registration is open to admins only: ask an admin to create your account")
		}
		if !u.IsAdmin {
			return rcq.Errorf(rcq.KindForbidden, "registration_closed", "registration is open to admins only: ask an admin to create your account")
		}
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
	if err := auth.CheckPasswordRules(req.Password); err != nil {
		return err
	}
	if req.GroupID == 0 {
		req.GroupID = 1
	}
	if req.GroupID < 0 {
		return rcq.Invalid("group_id", "must be a positive group id")
	}
	hash, err := s.Passwords.Hash(req.Password)
	if err != nil {
		return err
	}
	u := rcq.User{Email: email, GroupID: rcq.GroupID(req.GroupID)}
	if s.cfg.UnixUserFromEmail {
		u.UnixUser = unixName(email)
	}
	id, err := s.Store.CreateUser(r.Context(), u, hash)
	if err != nil {
		if rcq.KindOf(err) == rcq.KindNotFound {
			return rcq.Errorf(rcq.KindInvalid, "invalid_group_id", "group_id: group %d does not exist", req.GroupID)
		}
		return err
	}
	writeJSON(w, http.StatusCreated, apitype.RegisterResponse{Message: "User registered successfully", UserID: int64(id)})
	return nil
}

// unixName is the email's local part when it is a safe Unix login name.
func unixName(email string) string {
	local, _, _ := strings.Cut(email, "@")
	local = strings.ToLower(local)
	if !validUnixName(local) {
		return ""
	}
	return local
}

var errBadLogin = rcq.Errorf(rcq.KindUnauthorized, "invalid_credentials", "invalid email or password")

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if err := s.limiter.allow(s.clientKey(r)); err != nil {
		return err
	}
	var req apitype.LoginRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	u, hash, err := s.Store.UserByEmail(r.Context(), strings.TrimSpace(req.Email))
	if rcq.KindOf(err) == rcq.KindNotFound {
		s.Passwords.DummyCheck(req.Password) // an unknown email costs what a wrong password does
		return errBadLogin
	}
	if err != nil {
		return err
	}
	if !s.Passwords.Check(hash, req.Password) {
		return errBadLogin
	}
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

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if err := s.Store.BumpTokenVersion(r.Context(), caller(r).ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.Message{Message: "Logged out: every token of this account is now invalid"})
	return nil
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
	if !s.Passwords.Check(hash, req.OldPassword) {
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

package api

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/rcq"
)

// accounts keeps the accounts authentication read last, for the routes
// whose statements re-check the account in their own round trip
// (Route.Rechecked): their authentication answers from here and hands the
// store an rcq.AccountCheck, so a submit is one round trip to PostgreSQL,
// not two. Nothing is trusted from here alone: a statement whose check
// fails does nothing, and the request is authenticated afresh.
type accounts struct {
	mu      sync.Mutex
	now     func() time.Time
	byID    map[rcq.UserID]readAccount
	byLogin map[string]rcq.UserID
}

type readAccount struct {
	u    rcq.User
	read time.Time
}

const (
	// accountsTTL bounds how long an entry answers. The check does not need
	// it; it keeps a row version from being compared across its 32-bit
	// wraparound, which takes billions of transactions.
	accountsTTL = time.Minute
	// accountsMax bounds the memory: past it the map starts again.
	accountsMax = 10000
)

func newAccounts(now func() time.Time) *accounts {
	return &accounts{now: now, byID: map[rcq.UserID]readAccount{}, byLogin: map[string]rcq.UserID{}}
}

// put keeps u as just read from the store.
func (a *accounts) put(u *rcq.User) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.byID) >= accountsMax {
		clear(a.byID)
		clear(a.byLogin)
	}
	a.byID[u.ID] = readAccount{u: *u, read: a.now()}
	if u.UnixUser != "" {
		a.byLogin[u.UnixUser] = u.ID
	}
}

// get returns a copy of account id as last read, or nil.
func (a *accounts) get(id rcq.UserID) *rcq.User {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fresh(id)
}

// ofLogin returns a copy of the account last read as mapped to the Unix
// user login, or nil.
func (a *accounts) ofLogin(login string) *rcq.User {
	a.mu.Lock()
	defer a.mu.Unlock()
	if id, ok := a.byLogin[login]; ok {
		if u := a.fresh(id); u != nil && u.UnixUser == login {
			return u
		}
	}
	return nil
}

// fresh is get with a.mu held.
func (a *accounts) fresh(id rcq.UserID) *rcq.User {
	e, ok := a.byID[id]
	if !ok || a.now().Sub(e.read) > accountsTTL {
		return nil
	}
	u := e.u
	return &u
}

// rechecked runs op, and when the store refused op's account check (the
// account changed, or the token was ended, since it was read), authenticates
// the request afresh and runs op once more with the fresh caller and no
// check. An authentication error then is the answer.
func (s *Server) rechecked(r *http.Request, op func(*http.Request) error) error {
	err := op(r)
	if accountCheck(r) == nil || !errors.Is(err, rcq.ErrAccountChanged) {
		return err
	}
	r, err = s.reauthenticate(r)
	if err != nil {
		return err
	}
	return op(r)
}

// reauthenticate is r with its caller read afresh from the store, and no
// account check.
func (s *Server) reauthenticate(r *http.Request) (*http.Request, error) {
	u, _, err := s.identify(r, true, false)
	if err != nil {
		return nil, err
	}
	return s.asCaller(r, u, nil), nil
}

// asCaller is r as the request of account u, authenticated with check:
// who the store's audit rows name (audit.go), what the access log notes,
// and what handlers find with caller and accountCheck.
func (s *Server) asCaller(r *http.Request, u *rcq.User, check *rcq.AccountCheck) *http.Request {
	ctx := rcq.WithActor(r.Context(), s.actor(r, u))
	noteCaller(ctx, u)
	return r.WithContext(context.WithValue(ctx, callerKey{}, authenticated{user: u, check: check}))
}

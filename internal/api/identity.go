package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/rcq"
)

// Who a request comes from. On TCP it is the bearer token. On the Unix
// socket the kernel tells rcqd the peer's uid (SO_PEERCRED), and:
//
//   - personal mode (rcqd not root, every job runs as rcqd's user): only
//     rcqd's own uid may use the socket at all (403 not_owner for every other
//     uid, root included, token or not). Without a token it is the account
//     mapped to rcqd's login, which bootstrap makes admin@localhost; with a
//     token, any account of this rcqd (they are all the owner's).
//   - system mode (rcqd as root): without a token, root is admin@localhost and
//     any other uid of at least UID_MIN is the account mapped to its login,
//     made on first use as <login>@localhost in the default group; uids below
//     UID_MIN are refused (403 system_account). A token must be the peer's own
//     account's, unless the peer is root or the token is an admin's (403
//     token_not_yours).

// UnixUsers is what the API needs to know of the machine's Unix users;
// *auth.UnixUsers implements it.
type UnixUsers interface {
	// Check returns nil when an account may be mapped to the Unix user name,
	// else a KindInvalid error naming unix_user and the reason.
	Check(name string) error
	// Login returns the login name of uid.
	Login(uid int) (string, error)
	// UIDMin is the smallest uid of a person's account (UID_MIN).
	UIDMin() int
}

// localDomain is the email domain of accounts made on first use by a socket
// peer (ann's is ann@localhost). Registration keeps it for them.
const localDomain = "localhost"

// personal reports whether rcqd runs in personal mode (not as root).
func (s *Server) personal() bool { return !s.cfg.RunningAsRoot }

// socketGate refuses, in personal mode, every socket peer but rcqd's own uid:
// its jobs would run as rcqd's user.
func (s *Server) socketGate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := connInfo(r)
		if c.Unix && s.personal() && (!c.HasUID || c.UID != s.cfg.OwnerUID) {
			s.writeError(w, r, rcq.Errorf(rcq.KindForbidden, "not_owner",
				"this is the personal rcqd of uid %d, which runs every job as that user: only uid %d may use it", s.cfg.OwnerUID, s.cfg.OwnerUID))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// authenticate returns the caller's account: the bearer token's, or on the
// Unix socket without a token, the peer's (made on first use in system
// mode). It reads the account fresh from the store: admin powers and group
// come from the store, not the token.
func (s *Server) authenticate(r *http.Request) (*rcq.User, error) {
	u, _, err := s.identify(r, true, false)
	return u, err
}

// identify is authenticate; create says whether a socket peer without an
// account gets one now. With recheck it may answer from the accounts read
// last (Server.accounts) and return the check that the request's
// statements must then carry (rcq.AccountCheck); the check is nil when it
// read the store.
func (s *Server) identify(r *http.Request, create, recheck bool) (*rcq.User, *rcq.AccountCheck, error) {
	c := connInfo(r)
	tok, hasTok := auth.BearerToken(r)
	if !c.Unix {
		return s.tokenUser(r.Context(), tok, hasTok, recheck)
	}
	if !hasTok && r.Header.Get("Authorization") != "" {
		return nil, nil, rcq.Errorf(rcq.KindUnauthorized, "invalid_token",
			"malformed Authorization header: send \"Bearer <token>\", or no header to be known by your Unix user")
	}
	if !c.HasUID {
		return nil, nil, rcq.Errorf(rcq.KindForbidden, "unknown_peer", "the kernel did not say which user is connected to the socket")
	}
	if !hasTok {
		return s.peerUser(r.Context(), c.UID, create, recheck)
	}
	u, check, err := s.tokenUser(r.Context(), tok, true, recheck)
	if err != nil {
		return nil, nil, err
	}
	if err := s.checkTokenPeer(c.UID, u); err != nil {
		return nil, nil, err
	}
	return u, check, nil
}

// tokenUser checks the bearer token: a token older than the account's last
// logout or password change is refused. With recheck, an account read
// earlier answers, and the check returned makes the request's statement
// refuse a revoked token or a changed account.
func (s *Server) tokenUser(ctx context.Context, tok string, ok, recheck bool) (*rcq.User, *rcq.AccountCheck, error) {
	if !ok {
		return nil, nil, rcq.Errorf(rcq.KindUnauthorized, "missing_token", "missing bearer token: run rcq-login")
	}
	claims, err := s.Signer.Verify(tok, s.Now())
	if err != nil {
		return nil, nil, err
	}
	if recheck {
		if u := s.accounts.get(claims.UserID); u != nil && u.TokenVersion == claims.Version {
			return u, &rcq.AccountCheck{UserID: u.ID, RowVersion: u.RowVersion, TokenID: claims.ID}, nil
		}
	}
	u, revoked, err := s.Store.TokenUser(ctx, claims.UserID, claims.ID)
	if rcq.KindOf(err) == rcq.KindNotFound {
		return nil, nil, rcq.Errorf(rcq.KindUnauthorized, "invalid_token", "invalid token: run rcq-login")
	}
	if err != nil {
		return nil, nil, err
	}
	if revoked || u.TokenVersion != claims.Version {
		return nil, nil, rcq.Errorf(rcq.KindUnauthorized, "token_revoked", "session ended (logged out or password changed): run rcq-login")
	}
	s.accounts.put(u)
	return u, nil, nil
}

// checkTokenPeer refuses, in system mode, a token of another account than
// the peer's, unless the peer is root or the token is an admin's: a token
// copied from another user must not make the socket that user. In personal
// mode only the owner gets this far, and every account is the owner's.
func (s *Server) checkTokenPeer(uid int, u *rcq.User) error {
	if s.personal() || uid == 0 || u.IsAdmin {
		return nil
	}
	login, err := s.UnixUsers.Login(uid)
	if err == nil && u.UnixUser != "" && u.UnixUser == login {
		return nil
	}
	if err != nil {
		login = "uid " + strconv.Itoa(uid)
	}
	return rcq.Errorf(rcq.KindForbidden, "token_not_yours",
		"this token is the account %s's, and you are the Unix user %s: on the socket use your own account (rcq-login without --email gets its token)", u.Email, login)
}

// peerUser is the account of a socket peer that sent no token. With
// recheck, the account read earlier for the peer's login answers, with the
// check the request's statement must carry.
func (s *Server) peerUser(ctx context.Context, uid int, create, recheck bool) (*rcq.User, *rcq.AccountCheck, error) {
	if !s.personal() {
		if uid == 0 {
			u, err := s.accountByEmail(ctx, rcq.AdminEmail)
			return u, nil, err
		}
		if uid < s.UnixUsers.UIDMin() {
			return nil, nil, rcq.Errorf(rcq.KindForbidden, "system_account",
				"uid %d is a system account (below UID_MIN, %d): system accounts cannot use rcq", uid, s.UnixUsers.UIDMin())
		}
	}
	login, err := s.UnixUsers.Login(uid)
	if err != nil {
		return nil, nil, rcq.Errorf(rcq.KindForbidden, "unknown_uid", "uid %d has no login name on this machine: rcq accounts are Unix users", uid)
	}
	if recheck {
		if u := s.accounts.ofLogin(login); u != nil {
			return u, &rcq.AccountCheck{UserID: u.ID, RowVersion: u.RowVersion}, nil
		}
	}
	u, err := s.Store.UserByUnixUser(ctx, login)
	if err == nil {
		s.accounts.put(u)
		return u, nil, nil
	}
	if rcq.KindOf(err) != rcq.KindNotFound {
		return nil, nil, err
	}
	if s.personal() {
		// Bootstrap maps admin@localhost to rcqd's own login.
		return nil, nil, rcq.Errorf(rcq.KindForbidden, "no_account",
			"no account is mapped to %s, rcqd's own user: restart rcqd to map %s to it", login, rcq.AdminEmail)
	}
	if !create {
		return nil, nil, err
	}
	u, err = s.createLocalUser(ctx, uid, login)
	return u, nil, err
}

func (s *Server) accountByEmail(ctx context.Context, email string) (*rcq.User, error) {
	u, _, err := s.Store.UserByEmail(ctx, email)
	if rcq.KindOf(err) == rcq.KindNotFound {
		return nil, rcq.Errorf(rcq.KindForbidden, "no_account", "there is no account %s: rcqd creates it on an empty database", email)
	}
	return u, err
}

// createLocalUser makes the account of a Unix user on its first request on
// the socket: <login>@localhost, in the default group, mapped to login, with
// no password (it logs in on the socket, where the kernel vouches for it).
func (s *Server) createLocalUser(ctx context.Context, uid int, login string) (*rcq.User, error) {
	if err := s.UnixUsers.Check(login); err != nil {
		if rcq.KindOf(err) == rcq.KindInvalid {
			return nil, rcq.Errorf(rcq.KindForbidden, "unix_user_refused", "uid %d (%s) cannot have an rcq account: %s", uid, login, rcq.MessageOf(err))
		}
		return nil, err
	}
	email := login + "@" + localDomain
	id, err := s.Store.CreateUser(ctx, rcq.User{Email: email, GroupID: rcq.DefaultGroup, UnixUser: login}, "")
	if code := rcq.CodeOf(err); code == "unix_user_taken" || code == "email_taken" {
		// A concurrent first request of the same user made it (the email's
		// index may be the one that noticed), or the email is someone else's.
		if u, err := s.Store.UserByUnixUser(ctx, login); err == nil {
			return u, nil
		}
	}
	switch {
	case err == nil:
	case rcq.CodeOf(err) == "email_taken":
		return nil, rcq.Errorf(rcq.KindConflict, "local_email_taken",
			"the account %s exists but is not mapped to the Unix user %s: an admin can map it (rcq-admin user set %s --unix-user %s)", email, login, email, login)
	default:
		return nil, err
	}
	s.Logger.Info("created the account of a local user on its first request", "user_id", int64(id), "unix_user", login, "uid", uid)
	u, _, err := s.Store.UserByID(ctx, id)
	return u, err
}

// issueToken is POST /api/auth/token (socket only): a token for the caller,
// who needs no password on the socket. rcq-login uses it, so the commands
// keep a cached token that works over TCP too.
func (s *Server) issueToken(w http.ResponseWriter, r *http.Request) error {
	u := caller(r)
	tok, exp, err := s.Signer.Sign(*u, s.Now())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, apitype.LoginResponse{Message: "Login successful", Token: tok, ExpiresAt: exp, User: userInfo(u)})
	return nil
}

// accessKey carries the request's accessRecord, which guard fills in.
type accessKey struct{}

type accessRecord struct {
	user rcq.UserID
	jobs int // jobs a submit stored
}

func noteCaller(ctx context.Context, u *rcq.User) {
	if rec, ok := ctx.Value(accessKey{}).(*accessRecord); ok {
		rec.user = u.ID
	}
}

// noteSubmitted records that the request stored n jobs (the submit metrics).
func noteSubmitted(ctx context.Context, n int) {
	if rec, ok := ctx.Value(accessKey{}).(*accessRecord); ok {
		rec.jobs += n
	}
}

// routeOf is the request's route pattern, "-" when no route matched: never
// the raw path, which holds ids (and would make a metric label per job).
func routeOf(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return rc.RoutePattern()
	}
	return "-"
}

// accessLog writes one info line per request: request id, method, route
// pattern, status, duration, peer (the socket peer's uid, or the TCP
// address) and account. Never a body, a token or a password. It also counts
// the request in the metrics.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &accessRecord{}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), accessKey{}, rec)))
		took := time.Since(start)
		route := routeOf(r)
		status := ww.Status()
		if status == 0 {
			status = http.StatusOK
		}
		if s.Metrics != nil {
			s.Metrics.Request(r.Method, route, status, took)
			if rec.jobs > 0 {
				s.Metrics.Submitted(route, rec.jobs, took)
			}
		}
		c := connInfo(r)
		peer := r.RemoteAddr
		if c.Unix {
			peer = c.Peer
		}
		attrs := []slog.Attr{
			slog.String("request_id", reqID(r)),
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", status),
			slog.Duration("duration", took), slog.String("peer", peer),
		}
		if rec.user != 0 {
			attrs = append(attrs, slog.Int64("user_id", int64(rec.user)))
		}
		s.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}

package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/ui"
)

// Policy says who may call a route.
type Policy int

const (
	Public Policy = iota + 1 // anyone
	User                     // any logged-in account
	Admin                    // admins only; others get 403
)

func (p Policy) String() string {
	switch p {
	case Public:
		return "public"
	case User:
		return "user"
	case Admin:
		return "admin"
	}
	return "undeclared"
}

// Route is one entry of the API: a pattern, who may call it, and its handler.
type Route struct {
	Method   string
	Pattern  string
	Policy   Policy
	UnixOnly bool  // served only on the Unix socket (pprof, token without password)
	MaxBody  int64 // request body limit; 0 = defaultMaxBody
	// Rechecked (User routes only): every store call of the handler that
	// depends on the caller carries the request's rcq.AccountCheck, or
	// authenticates afresh first (Server.rechecked). Its authentication
	// then answers from the accounts read last, not the store (accounts).
	Rechecked bool
	handle    func(w http.ResponseWriter, r *http.Request) error
}

const (
	defaultMaxBody = 64 << 10
	submitMaxBody  = 4 << 20  // a 1 MiB script, JSON-escaped, plus its environment
	batchMaxBody   = 64 << 20 // up to 10,000 specs
)

func (s *Server) routes() []Route {
	submitBody := s.specMaxBytes()
	rs := []Route{
		{Method: "GET", Pattern: "/health", Policy: Public, handle: s.health},
		// Prometheus metrics: on the socket to anyone; on TCP only through
		// rcqd's separate metrics.listen address, never the API's.
		{Method: "GET", Pattern: "/metrics", Policy: Public, UnixOnly: true, handle: s.metrics},

		{Method: "POST", Pattern: "/api/auth/register", Policy: Public, handle: s.register},
		{Method: "POST", Pattern: "/api/auth/login", Policy: Public, handle: s.login},
		{Method: "POST", Pattern: "/api/auth/logout", Policy: User, handle: s.logout},
		{Method: "POST", Pattern: "/api/auth/password", Policy: User, handle: s.changePassword},
		{Method: "GET", Pattern: "/api/auth/me", Policy: User, handle: s.me},
		{Method: "POST", Pattern: "/api/auth/token", Policy: User, UnixOnly: true, handle: s.issueToken},

		{Method: "POST", Pattern: "/api/jobs", Policy: User, MaxBody: submitBody, Rechecked: true, handle: s.submitJob},
		{Method: "POST", Pattern: "/api/jobs/command", Policy: User, MaxBody: submitBody, Rechecked: true, handle: s.submitCommand},
		{Method: "POST", Pattern: "/api/jobs/batch", Policy: User, MaxBody: batchMaxBody, handle: s.submitBatch},
		{Method: "POST", Pattern: "/api/jobs/cancel", Policy: User, MaxBody: cancelMaxBody, handle: s.cancelJobs},
		{Method: "GET", Pattern: "/api/jobs", Policy: User, handle: s.listJobs},
		{Method: "GET", Pattern: "/api/jobs/{id}", Policy: User, Rechecked: true, handle: s.getJob},
		{Method: "DELETE", Pattern: "/api/jobs/{id}", Policy: User, handle: s.cancelJob},
		{Method: "POST", Pattern: "/api/jobs/{id}/hold", Policy: User, handle: s.holdJob},
		{Method: "POST", Pattern: "/api/jobs/{id}/release", Policy: User, handle: s.releaseJob},
		{Method: "PATCH", Pattern: "/api/jobs/{id}", Policy: User, handle: s.updateJob},
		{Method: "POST", Pattern: "/api/jobs/{id}/requeue", Policy: User, handle: s.requeueJob},
		{Method: "POST", Pattern: "/api/jobs/{id}/signal", Policy: User, handle: s.signalJob},
		{Method: "GET", Pattern: "/api/jobs/{id}/output", Policy: User, handle: s.jobOutput},
		{Method: "GET", Pattern: "/api/queue", Policy: User, handle: s.queue},
		{Method: "GET", Pattern: "/api/workers", Policy: User, handle: s.listNodes},
		{Method: "GET", Pattern: "/api/share", Policy: User, handle: s.share},
		{Method: "GET", Pattern: "/api/share/history", Policy: User, handle: s.shareHistory},
		{Method: "GET", Pattern: "/api/cluster/history", Policy: User, handle: s.clusterHistory},
		{Method: "GET", Pattern: "/api/events", Policy: User, handle: s.events},

		{Method: "GET", Pattern: "/api/acct", Policy: User, handle: s.listAcct},
		{Method: "GET", Pattern: "/api/acct/summary", Policy: User, handle: s.acctSummary},

		{Method: "GET", Pattern: "/api/admin/groups", Policy: Admin, handle: s.listGroups},
		{Method: "POST", Pattern: "/api/admin/groups", Policy: Admin, handle: s.createGroup},
		{Method: "PATCH", Pattern: "/api/admin/groups/{id}", Policy: Admin, handle: s.updateGroup},
		{Method: "GET", Pattern: "/api/admin/users", Policy: Admin, handle: s.listUsers},
		{Method: "PATCH", Pattern: "/api/admin/users/{id}", Policy: Admin, handle: s.updateUser},
		{Method: "GET", Pattern: "/api/admin/workers", Policy: Admin, handle: s.listWorkers},
		{Method: "POST", Pattern: "/api/admin/workers", Policy: Admin, handle: s.createWorker},
		{Method: "PATCH", Pattern: "/api/admin/workers/{id}", Policy: Admin, handle: s.updateWorker},
		{Method: "DELETE", Pattern: "/api/admin/workers/{id}", Policy: Admin, handle: s.deleteWorker},
		{Method: "POST", Pattern: "/api/admin/workers/{id}/drain", Policy: Admin, handle: s.drainWorker},
		{Method: "POST", Pattern: "/api/admin/workers/{id}/resume", Policy: Admin, handle: s.resumeWorker},
		{Method: "GET", Pattern: "/api/admin/audit", Policy: Admin, handle: s.listAudit},
	}
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/cmdline", "/debug/pprof/profile", "/debug/pprof/symbol", "/debug/pprof/trace", "/debug/pprof/{profile}"} {
		h := pprofHandler(p)
		rs = append(rs, Route{Method: "GET", Pattern: p, Policy: Admin, UnixOnly: true,
			handle: func(w http.ResponseWriter, r *http.Request) error { h(w, r); return nil }})
	}
	return rs
}

// mountUI serves the dashboard (internal/ui) under /ui/ on every listener.
// It calls this router in-process for every fact and action, with the
// browser session's token: its answers are the API's. Its forms carry CSRF
// tokens in place of the JSON Content-Type that hygiene asks of the API's
// POSTs (hygiene.go).
func (s *Server) mountUI(r chi.Router) {
	u := ui.New(s, ui.Options{Logger: s.Logger.With("component", "ui"), Now: s.Now})
	// The dashboard's in-process requests carry the browser request's
	// context (its connection); without chi's routing state, which would
	// route them as the outer request (its method, its path).
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		u.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), chi.RouteCtxKey, nil)))
	})
	r.Handle("/ui", h)
	r.Handle("/ui/*", h)
}

func pprofHandler(pattern string) http.HandlerFunc {
	switch pattern {
	case "/debug/pprof/cmdline":
		return pprof.Cmdline
	case "/debug/pprof/profile":
		return pprof.Profile
	case "/debug/pprof/symbol":
		return pprof.Symbol
	case "/debug/pprof/trace":
		return pprof.Trace
	case "/debug/pprof/{profile}":
		return func(w http.ResponseWriter, r *http.Request) {
			pprof.Handler(strings.TrimPrefix(r.URL.Path, "/debug/pprof/")).ServeHTTP(w, r)
		}
	}
	return pprof.Index
}

// guard wraps a route's handler with its policy, its body limit and the
// error writer.
func (s *Server) guard(rt Route) http.Handler {
	limit := rt.MaxBody
	if limit == 0 {
		limit = defaultMaxBody
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.UnixOnly && !connInfo(r).Unix {
			s.writeError(w, r, rcq.Errorf(rcq.KindNotFound, "no_route", "no such route: %s %s", r.Method, r.URL.Path))
			return
		}
		if r.ContentLength > limit {
			s.writeError(w, r, tooLarge(limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if err := checkQuery(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if rt.Policy != Public {
			u, check, err := s.identify(r, true, rt.Rechecked && rt.Policy == User)
			if err != nil {
				s.writeError(w, r, err)
				return
			}
			if rt.Policy == Admin && !u.IsAdmin {
				s.auditRefused(rcq.WithActor(r.Context(), s.actor(r, u)), r, rt)
				s.writeError(w, r, rcq.Errorf(rcq.KindForbidden, "admin_required", "this route is for admins only"))
				return
			}
			r = s.asCaller(r, u, check)
		}
		if err := rt.handle(w, r); err != nil {
			if accountCheck(r) != nil {
				// Answered from an account read earlier: a refused
				// caller hears why, not what their request lacked.
				if _, _, aerr := s.identify(r, true, false); aerr != nil {
					err = aerr
				}
			}
			s.writeError(w, r, err)
		}
	})
}

// specMaxBytes is the body limit of one submit, and of one spec in a batch.
// A script may be larger than the default body limit allows once
// JSON-escaped: make room for the configured maximum.
func (s *Server) specMaxBytes() int64 {
	return max(int64(submitMaxBody), 2*int64(s.cfg.Limits.MaxScriptBytes)+1<<20)
}

// checkQuery refuses a query parameter holding a NUL byte, which no value
// of rcq's has and PostgreSQL would refuse as text (a 500 otherwise).
func checkQuery(r *http.Request) error {
	for name, vs := range r.URL.Query() {
		for _, v := range vs {
			if strings.IndexByte(v, 0) >= 0 || strings.IndexByte(name, 0) >= 0 {
				return rcq.Invalid(strings.ReplaceAll(name, "\x00", ""), "must not hold a NUL byte")
			}
		}
	}
	return nil
}

func tooLarge(limit int64) error {
	return rcq.Errorf(rcq.KindTooLarge, "body_too_large", "request body is larger than %s", byteSize(limit))
}

func byteSize(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// callerKey carries the request's authenticated caller (asCaller sets it).
type callerKey struct{}

// authenticated is who a request's authentication found, and what its
// statements must re-check of them.
type authenticated struct {
	user  *rcq.User
	check *rcq.AccountCheck // nil when authentication read the account from the store
}

// caller is the authenticated account of a request behind a User or Admin route.
func caller(r *http.Request) *rcq.User {
	a, _ := r.Context().Value(callerKey{}).(authenticated)
	return a.user
}

// accountCheck is what the request's statements must re-check of its
// caller: nil when authentication read the account from the store.
func accountCheck(r *http.Request) *rcq.AccountCheck {
	a, _ := r.Context().Value(callerKey{}).(authenticated)
	return a.check
}

// owner is the owner filter for the caller: their own id, or 0 for an admin
// (who may see every job).
func owner(r *http.Request) rcq.UserID {
	u := caller(r)
	if u.IsAdmin {
		return 0
	}
	return u.ID
}

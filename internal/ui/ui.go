package ui

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options are the dashboard's collaborators; zero values are fine.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
}

// UI serves the dashboard under /ui/.
type UI struct {
	api    http.Handler
	logger *slog.Logger
	now    func() time.Time
	tmpl   *templates
	mux    *http.ServeMux
	pages  []Page // the table (pages.go)

	groupsMu  sync.Mutex
	groupList []apitype.GroupShare // ids and names only (queue.go)
	groupsAt  time.Time
}

// New builds the dashboard over api, the API router it calls in-process for
// every fact and action.
func New(api http.Handler, o Options) *UI {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	u := &UI{api: api, logger: o.Logger, now: o.Now, tmpl: mustTemplates(), mux: http.NewServeMux(), pages: pages}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	u.mux.Handle("GET /ui/static/", http.StripPrefix("/ui/static/", staticFiles(http.FileServerFS(static))))
	u.mux.HandleFunc("GET /ui/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ui/queue", http.StatusSeeOther)
	})
	for _, p := range pages {
		u.mux.Handle(p.Pattern, u.page(p))
	}
	u.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		c := &Call{UI: u, W: w, R: r}
		if s, err := u.session(r); err == nil {
			c.Session = s
		}
		u.fail(c, &APIError{Status: http.StatusNotFound, Code: "no_page", Msg: "no such page: " + r.URL.Path})
	})
	return u
}

// ServeHTTP implements http.Handler, with the headers of every answer.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No inline script or style: the page's JavaScript and CSS are the
	// static files; nothing may frame the dashboard (clickjacking).
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if r.URL.Path == "/ui" {
		http.Redirect(w, r, "/ui/queue", http.StatusSeeOther)
		return
	}
	u.mux.ServeHTTP(w, r)
}

// csp is the Content-Security-Policy of every answer (docs/security.md).
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// staticFiles serves the embedded CSS and JS, cacheable for an hour (they
// change only with rcqd's binary).
func staticFiles(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// Call is one request to a page: the response, the request, the session
// (nil on a public page without one) and the API calls made for it.
type Call struct {
	UI      *UI
	W       http.ResponseWriter
	R       *http.Request
	Session *Session
}

// page wraps a page's handler: the session (a page behind a login sends a
// visitor without one to the login page, and back after), the CSRF check
// of every POST, and the error page.
func (u *UI) page(p Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &Call{UI: u, W: w, R: r}
		s, err := u.session(r)
		switch {
		case err == nil:
			c.Session = s
		case !p.Public && statusOf(err) == http.StatusUnauthorized:
			u.toLogin(c)
			return
		case !p.Public:
			u.fail(c, err) // the API could not say (503): not a reason to log in again
			return
		}
		if r.Method == http.MethodPost && !p.Public {
			if err := u.checkCSRF(r, s); err != nil {
				u.fail(c, err)
				return
			}
		}
		if err := p.Handle(c); err != nil {
			u.fail(c, err)
		}
	})
}

// fail answers a page's error: an ended session goes to the login page
// (and back after), anything else is the error page with the API's status
// and message.
func (u *UI) fail(c *Call, err error) {
	var ae *APIError
	if !errors.As(err, &ae) {
		u.logger.Error("dashboard page failed", "path", c.R.URL.Path, "err", err)
		ae = &APIError{Status: http.StatusInternalServerError, Code: "internal", Msg: "the dashboard could not show this page: see rcqd's log"}
	}
	if ae.Status == http.StatusUnauthorized {
		u.clearSession(c)
		u.toLogin(c)
		return
	}
	if c.R.Header.Get(fragmentHeader) != "" {
		// A live update's fetch: the script shows the status.
		http.Error(c.W, ae.Msg, ae.Status)
		return
	}
	c.renderStatus(ae.Status, "error", "Error", ae)
}

// localPath reports whether p is a path of this dashboard that a redirect
// after login may go to: /ui/..., no scheme, no host, no backslash tricks.
func localPath(p string) bool {
	if !strings.HasPrefix(p, "/ui/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return false
	}
	return !strings.Contains(p, "/../") && !strings.HasSuffix(p, "/..")
}

// statusOf is the HTTP status of an API error, 500 for any other error.
func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return http.StatusInternalServerError
}

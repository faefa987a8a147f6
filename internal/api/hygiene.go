package api

import (
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/rcq"
)

// hygiene refuses, on TCP, the requests a browser can be made to send to
// rcqd by a page from another site:
//
//   - A Host header rcqd does not answer to (400 bad_host). DNS rebinding
//     points a name the attacker controls at 127.0.0.1, and the browser then
//     lets the attacker's page read rcqd's answers as its own site's; but the
//     Host header still names the attacker's site. rcqd answers to localhost
//     and to IP address literals on the port the request arrived on (a
//     browser sends one of those only for a page loaded from that address and
//     port: rcqd's own origin), and to the names in Config.AllowedHosts.
//   - A request that changes state without Content-Type: application/json
//     (415 unsupported_media_type). A page may send a cross-origin POST
//     without asking first only with form fields, text/plain or no body;
//     anything else makes the browser ask with a preflight OPTIONS, which
//     rcqd never approves (it sends no CORS headers). So POST, PUT and PATCH
//     must say JSON even without a body, and DELETE must when it has one. A
//     body-less DELETE needs no header: no browser sends a cross-origin
//     DELETE without a preflight.
//
// The Unix socket is exempt: no browser reaches it directly (an ssh -L
// forward of it is checked by the dashboard's own CSRF tokens). The
// dashboard under /ui/ is exempt from the Content-Type rule only: its forms
// carry CSRF tokens (internal/ui).
func (s *Server) hygiene(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if connInfo(r).Unix {
			next.ServeHTTP(w, r)
			return
		}
		if err := s.checkHost(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		if err := checkContentType(r); err != nil && !isUI(r) {
			s.writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// isUI reports whether r is for the dashboard, whose forms post
// form-encoded bodies and are protected by their CSRF token instead
// (internal/ui, docs/security.md).
func isUI(r *http.Request) bool {
	return r.URL.Path == "/ui" || strings.HasPrefix(r.URL.Path, "/ui/")
}

// checkHost accepts localhost or an IP address with the port the request
// arrived on, and the names of Config.AllowedHosts ("name" on any port,
// "name:port" on that one).
func (s *Server) checkHost(r *http.Request) error {
	name, port := splitHost(r.Host)
	if port == "" {
		port = "80"
	}
	local := localPort(r)
	if _, err := netip.ParseAddr(name); (err == nil || name == "localhost") && (local == "" || port == local) {
		return nil
	}
	for _, h := range s.cfg.AllowedHosts {
		n, p := splitHost(h)
		if n == name && (p == "" || p == port) {
			return nil
		}
	}
	shown := r.Host
	if len(shown) > 100 {
		shown = shown[:100] + "..."
	}
	on := "its port"
	if local != "" {
		on = "port " + local
	}
	return rcq.Errorf(rcq.KindInvalid, "bad_host",
		"Host %q is not a name this rcqd answers to: use localhost or an IP address with %s, or add the name to allowed_hosts (RCQ_ALLOWED_HOSTS)", shown, on)
}

// splitHost parses a Host header or an allowed_hosts entry into a lower-case
// name without brackets or trailing dot, and a port ("" when none).
func splitHost(hostport string) (name, port string) {
	name, port, err := net.SplitHostPort(hostport)
	if err != nil {
		name, port = strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]"), ""
	}
	return strings.TrimSuffix(strings.ToLower(name), "."), port
}

// localPort is the port the request's connection arrived on, "" when the
// request did not come through a listener.
func localPort(r *http.Request) string {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return ""
	}
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return ""
	}
	return p
}

// checkContentType refuses a request that changes state unless it says it
// carries JSON (the media types decode accepts).
func checkContentType(r *http.Request) error {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	case http.MethodDelete:
		if r.ContentLength == 0 {
			return nil
		}
	default:
		return nil
	}
	ct := r.Header.Get("Content-Type")
	if isJSON(ct) {
		return nil
	}
	got := "none"
	if ct != "" {
		got = strconv.Quote(ct)
	}
	return rcq.Errorf(rcq.KindUnsupported, "unsupported_media_type",
		"%s needs Content-Type: application/json, even without a body (got %s); with curl add -H 'Content-Type: application/json'", r.Method, got)
}

// isJSON reports whether a Content-Type names JSON: application/json or a
// +json type, with any parameters.
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

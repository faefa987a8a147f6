package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// writeError writes err as {"error","code"}. Server-side failures are logged
// with their cause; the client sees only a safe message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	kind := rcq.KindOf(err)
	code := apitype.Status(kind)
	msg := rcq.MessageOf(err)
	switch {
	case code >= 500:
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	default:
		s.Logger.Debug("request refused", "method", r.Method, "path", r.URL.Path, "status", code, "err", err)
	}
	if kind == rcq.KindRateLimited {
		var re *rateLimitError
		if asRateLimit(err, &re) {
			w.Header().Set("Retry-After", re.retryAfter())
		}
	}
	writeJSON(w, code, apitype.ErrorBody{Error: msg, Code: rcq.CodeOf(err)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v) // the client went away: nothing left to tell it
}

// recoverer turns a panic in a handler into a logged 500 instead of a dropped
// connection. A panic is a bug; this keeps rcqd serving while it is fixed.
func recoverer(logger *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					logger.Error("panic in handler", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
					writeJSON(w, http.StatusInternalServerError, apitype.ErrorBody{Error: "internal error", Code: "internal"})
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

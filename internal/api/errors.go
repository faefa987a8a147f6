package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"

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
		s.Logger.Error("request failed", "request_id", reqID(r), "method", r.Method, "route", routeOf(r), "status", code, "err", err)
	default:
		s.Logger.Debug("request refused", "request_id", reqID(r), "method", r.Method, "route", routeOf(r), "status", code, "err", err)
	}
	if kind == rcq.KindRateLimited {
		var re *rateLimitError
		if asRateLimit(err, &re) {
			w.Header().Set("Retry-After", re.retryAfter())
		}
	}
	writeJSON(w, code, apitype.ErrorBody{Error: msg, Code: rcq.CodeOf(err), RequestID: reqID(r)})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Encoded first, so the answer says its length: a client reads a page
	// of 10,000 jobs (4-5 MB) into one buffer of the right size instead of
	// growing one chunk by chunk (docs/performance.md).
	buf := jsonBufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 16<<20 {
			jsonBufs.Put(buf)
		}
	}()
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		w.WriteHeader(code) // as before: the status, and no body
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes()) // the client went away: nothing left to tell it
}

var jsonBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

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
					logger.Error("panic in handler", "request_id", reqID(r), "method", r.Method, "route", routeOf(r), "panic", v, "stack", string(debug.Stack()))
					writeJSON(w, http.StatusInternalServerError, apitype.ErrorBody{Error: "internal error", Code: "internal", RequestID: reqID(r)})
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

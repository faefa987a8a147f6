package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5/middleware"
)

// Request ids. Every request gets one: the X-Request-Id response header, the
// request_id of every error body and of every log line about the request,
// and (through chi's middleware.GetReqID) of the audit rows it writes. It is
// this rcqd's random prefix and a counter, e.g. "3f9a1c20e4b7-000042".
//
// A request's own X-Request-Id is ignored: the id names what rcqd did, and a
// client must not be able to make two requests look like one in the log or
// the audit table.

// RequestIDHeader is the response header carrying the request id.
const RequestIDHeader = "X-Request-Id"

var (
	reqPrefix = newReqPrefix()
	reqSeq    atomic.Uint64
)

func newReqPrefix() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return hex.EncodeToString(b[:])
}

func nextRequestID() string {
	n := strconv.FormatUint(reqSeq.Add(1), 10)
	if len(n) < 6 {
		n = "000000"[len(n):] + n
	}
	return reqPrefix + "-" + n
}

// requestID gives the request its id, in its context under chi's
// middleware.RequestIDKey and in the response's X-Request-Id header.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := nextRequestID()
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), middleware.RequestIDKey, id)))
	})
}

// reqID is the request's id ("" outside the router).
func reqID(r *http.Request) string { return middleware.GetReqID(r.Context()) }

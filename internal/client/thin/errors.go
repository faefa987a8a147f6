package thin

import (
	"strings"

	"github.com/rcq-project/rcq/internal/jsonscan"
)

// BodyError is an error answer of rcqd: its status, and the code and
// message of its JSON body, or the status's text when the body is not
// rcqd's. internal/client makes an *rcq.Error of it (the Kind from the
// status); the start-up paths print it.
type BodyError struct {
	Status int
	Code   string // "" when the body said none
	Msg    string
}

func (e *BodyError) Error() string { return e.Msg }

// ReadError reads an error response's status and body (its first 64 KiB).
// rcqd's body is a flat object of strings, {"error", "code", "request_id"};
// any other body (or one with a string encoding/json would repair: invalid
// UTF-8, a surrogate escape) is shown as its text when that is one short
// line, else as the status's text.
func ReadError(status int, raw []byte) *BodyError {
	msg, code, requestID, ok := errorMembers(raw)
	if !ok || msg == "" {
		msg := strings.TrimSpace(string(raw))
		if msg == "" || len(msg) > 200 || strings.ContainsAny(msg, "\n<") {
			msg = statusText(status)
		}
		return &BodyError{Status: status, Msg: strings.ToLower(msg)}
	}
	if status >= 500 && requestID != "" {
		// rcqd logged the cause under this id: the user quotes it to the operator.
		msg += " (request id " + requestID + ")"
	}
	return &BodyError{Status: status, Code: code, Msg: msg}
}

// errorMembers reads rcqd's error body, a JSON object: the strings "error", "code" and
// "request_id" (in any case) are returned decoded as encoding/json decodes
// them.
func errorMembers(raw []byte) (msg, code, requestID string, ok bool) {
	s := jsonscan.Scanner{B: raw}
	var key string
	ok = s.Members(func(k []byte, _ bool) bool {
		key, ok = jsonscan.Unquote(k)
		key = strings.ToLower(key) // encoding/json matches keys so
		return ok
	}, func() bool {
		var dst *string
		switch key {
		case "error":
			dst = &msg
		case "code":
			dst = &code
		case "request_id":
			dst = &requestID
		}
		switch s.Peek() {
		case '"':
			v, _, ok := s.String()
			if !ok {
				return false
			}
			text, ok := jsonscan.Unquote(v)
			if dst != nil {
				*dst = text
			}
			return ok
		case 'n':
			return s.Literal("null") // leaves a string as it was, as encoding/json does
		}
		return dst == nil && s.Value()
	})
	return msg, code, requestID, ok && s.End()
}

// statusText is net/http's StatusText for the statuses a proxy in front of
// rcqd or rcqd itself may answer without a JSON body.
func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 401:
		return "Unauthorized"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 405:
		return "Method Not Allowed"
	case 408:
		return "Request Timeout"
	case 409:
		return "Conflict"
	case 413:
		return "Request Entity Too Large"
	case 415:
		return "Unsupported Media Type"
	case 422:
		return "Unprocessable Entity"
	case 429:
		return "Too Many Requests"
	case 500:
		return "Internal Server Error"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	}
	return ""
}

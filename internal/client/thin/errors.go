package thin

import (
	"encoding/json"
	"strings"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/rcq"
)

// ErrorFromBody rebuilds an *rcq.Error from an error response's status and
// body (its first 64 KiB): the Kind from the status, the code and message
// from rcqd's JSON, or the status's text when the body is not rcqd's.
func ErrorFromBody(status int, raw []byte) error {
	kind := apitype.KindForStatus(status)
	var body apitype.ErrorBody
	if err := json.Unmarshal(raw, &body); err != nil || body.Error == "" {
		msg := strings.TrimSpace(string(raw))
		if msg == "" || len(msg) > 200 || strings.ContainsAny(msg, "\n<") {
			msg = statusText(status)
		}
		return &rcq.Error{Kind: kind, Code: kind.String(), Msg: strings.ToLower(msg)}
	}
	code := body.Code
	if code == "" {
		code = kind.String()
	}
	msg := body.Error
	if status >= 500 && body.RequestID != "" {
		// rcqd logged the cause under this id: the user quotes it to the operator.
		msg += " (request id " + body.RequestID + ")"
	}
	return &rcq.Error{Kind: kind, Code: code, Msg: msg}
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

package rcq

import (
	"errors"
	"fmt"
)

// Kind classifies an error. It picks the HTTP status in the API and the exit
// code in the command line. The enum is append-only: values cross the wire.
type Kind int

const (
	KindInternal         Kind = iota // a bug or an unexpected failure: 500
	KindInvalid                      // malformed input: 400
	KindUnauthorized                 // no or bad credentials: 401
	KindForbidden                    // authenticated but not allowed: 403
	KindNotFound                     // missing, or not the caller's to see: 404
	KindConflict                     // valid but not in this state: 409
	KindTooLarge                     // body too large: 413
	KindUnsupported                  // wrong media type: 415
	KindUnprocessable                // well-formed but can never be satisfied: 422
	KindRateLimited                  // too many requests: 429
	KindUnavailable                  // a dependency (the database) is down: 503
	KindMethodNotAllowed             // the route exists, not with this method: 405
)

var kindNames = [...]string{"internal", "invalid", "unauthorized", "forbidden", "not_found",
	"conflict", "too_large", "unsupported_media_type", "unprocessable", "rate_limited", "unavailable",
	"method_not_allowed"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is rcq's error. Msg is safe to show a user; Err is the cause, logged by
// rcqd and never sent over the wire.
type Error struct {
	Kind Kind
	Code string // stable machine code, e.g. "job_not_pending"
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Msg == "" {
		return e.Err.Error()
	}
	return e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, rcq.ErrNotFound) match any error of the same Kind
// when the target carries no code, and the exact code otherwise.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return t.Kind == e.Kind && (t.Code == "" || t.Code == e.Code)
}

// Sentinels for errors.Is; they match any error of their Kind.
var (
	ErrInvalid       = &Error{Kind: KindInvalid}
	ErrUnauthorized  = &Error{Kind: KindUnauthorized}
	ErrForbidden     = &Error{Kind: KindForbidden}
	ErrNotFound      = &Error{Kind: KindNotFound}
	ErrConflict      = &Error{Kind: KindConflict}
	ErrUnprocessable = &Error{Kind: KindUnprocessable}
	ErrUnavailable   = &Error{Kind: KindUnavailable}
)

// ErrAccountChanged is a statement's refusal of its AccountCheck: the
// account changed, or the token was ended, since authentication read them.
// The API authenticates afresh and, if the caller still may, runs the
// statement again; should it reach a client, it says what to do.
var ErrAccountChanged = &Error{Kind: KindConflict, Code: "account_changed",
	Msg: "the account changed while the request ran: nothing was done; send the request again"}

// Errorf builds an *Error with a formatted user-facing message.
func Errorf(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// Invalid reports a bad field: the message names the field and the accepted form.
func Invalid(field, format string, args ...any) *Error {
	return &Error{Kind: KindInvalid, Code: "invalid_" + field, Msg: field + ": " + fmt.Sprintf(format, args...)}
}

// KindOf returns the Kind of err: KindInternal for errors that are not *Error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// CodeOf returns the machine code of err, or the Kind's name when it has none.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e.Code != "" {
			return e.Code
		}
		return e.Kind.String()
	}
	return KindInternal.String()
}

// MessageOf returns the message of err that is safe to show a user.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Msg != "" {
		return e.Msg
	}
	return "internal error"
}

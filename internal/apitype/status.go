package apitype

import "github.com/rcq-project/rcq/internal/rcq"

// statuses is the HTTP status each error Kind travels as: the server picks
// it, the client reads the Kind back from it. Anything else is 500/internal.
// Numbers, not net/http's names: the commands' start-up path links this
// package without net/http (docs/performance.md).
var statuses = []struct {
	kind   rcq.Kind
	status int
}{
	{rcq.KindInvalid, 400},
	{rcq.KindUnauthorized, 401},
	{rcq.KindForbidden, 403},
	{rcq.KindNotFound, 404},
	{rcq.KindMethodNotAllowed, 405},
	{rcq.KindConflict, 409},
	{rcq.KindTooLarge, 413},
	{rcq.KindUnsupported, 415},
	{rcq.KindUnprocessable, 422},
	{rcq.KindRateLimited, 429},
	{rcq.KindUnavailable, 503},
}

// Status is the HTTP status of an error of kind k.
func Status(k rcq.Kind) int {
	for _, s := range statuses {
		if s.kind == k {
			return s.status
		}
	}
	return 500
}

// KindForStatus is the error Kind an HTTP status stands for.
func KindForStatus(status int) rcq.Kind {
	for _, s := range statuses {
		if s.status == status {
			return s.kind
		}
	}
	return rcq.KindInternal
}

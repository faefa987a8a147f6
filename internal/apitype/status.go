package apitype

import (
	"net/http"

	"github.com/rcq-project/rcq/internal/rcq"
)

// statuses is the HTTP status each error Kind travels as: the server picks
// it, the client reads the Kind back from it. Anything else is 500/internal.
var statuses = []struct {
	kind   rcq.Kind
	status int
}{
	{rcq.KindInvalid, http.StatusBadRequest},
	{rcq.KindUnauthorized, http.StatusUnauthorized},
	{rcq.KindForbidden, http.StatusForbidden},
	{rcq.KindNotFound, http.StatusNotFound},
	{rcq.KindMethodNotAllowed, http.StatusMethodNotAllowed},
	{rcq.KindConflict, http.StatusConflict},
	{rcq.KindTooLarge, http.StatusRequestEntityTooLarge},
	{rcq.KindUnsupported, http.StatusUnsupportedMediaType},
	{rcq.KindUnprocessable, http.StatusUnprocessableEntity},
	{rcq.KindRateLimited, http.StatusTooManyRequests},
	{rcq.KindUnavailable, http.StatusServiceUnavailable},
}

// Status is the HTTP status of an error of kind k.
func Status(k rcq.Kind) int {
	for _, s := range statuses {
		if s.kind == k {
			return s.status
		}
	}
	return http.StatusInternalServerError
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

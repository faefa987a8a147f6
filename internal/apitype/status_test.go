package apitype

import (
	"testing"

	"github.com/rcq-project/rcq/internal/rcq"
)

func TestStatusRoundTrip(t *testing.T) {
	want := map[int]rcq.Kind{400: rcq.KindInvalid, 401: rcq.KindUnauthorized, 403: rcq.KindForbidden,
		404: rcq.KindNotFound, 405: rcq.KindMethodNotAllowed, 409: rcq.KindConflict, 413: rcq.KindTooLarge,
		415: rcq.KindUnsupported, 422: rcq.KindUnprocessable, 429: rcq.KindRateLimited, 503: rcq.KindUnavailable,
		500: rcq.KindInternal, 418: rcq.KindInternal}
	for status, kind := range want {
		if got := KindForStatus(status); got != kind {
			t.Errorf("KindForStatus(%d) = %v, want %v", status, got, kind)
		}
		if status != 418 {
			if got := Status(kind); got != status {
				t.Errorf("Status(%v) = %d, want %d", kind, got, status)
			}
		}
	}
}

package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// countingBody serves n bytes of a JSON string and counts what is read.
type countingBody struct {
	n, read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	left := b.n.Load() - b.read.Load()
	if left <= 0 {
		return 0, io.EOF
	}
	k := min(int64(len(p)), left)
	for i := range p[:k] {
		p[i] = 'x'
	}
	if b.read.Load() == 0 && k > 0 {
		p[0] = '"'
	}
	b.read.Add(k)
	return int(k), nil
}

// TestStreamedBodyIsReadOnlyToTheLimit is docs/security.md's promise about
// oversized bodies: one that announces its length is refused with 413
// before a byte is read; one streamed without a length (chunked) is read up
// to the route's limit and no further, then refused with 413.
func TestStreamedBodyIsReadOnlyToTheLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	const size = 10 << 20
	for _, c := range []struct {
		path, token string
		limit       int64 // the route's body limit (routes.go)
	}{
		{"/api/jobs", e.aliceT, 4 << 20},  // submitMaxBody, with the default 1 MiB script limit
		{"/api/auth/login", "", 64 << 10}, // defaultMaxBody, and no token needed to send it
	} {
		for _, streamed := range []bool{false, true} {
			body := &countingBody{}
			body.n.Store(size)
			r := httptest.NewRequest("POST", c.path, body)
			r.Host = "localhost"
			r.Header.Set("Content-Type", "application/json")
			if c.token != "" {
				r.Header.Set("Authorization", "Bearer "+c.token)
			}
			if streamed {
				r.ContentLength = -1
			} else {
				r.ContentLength = size
			}
			w := httptest.NewRecorder()
			e.api.ServeHTTP(w, r)
			if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "body_too_large") {
				t.Errorf("%s, streamed %v: %d %s, want 413 body_too_large", c.path, streamed, w.Code, w.Body)
			}
			read := body.read.Load()
			switch {
			case !streamed && read != 0:
				t.Errorf("%s: a body announcing %d bytes had %d read before the refusal", c.path, size, read)
			case streamed && read > c.limit+1:
				t.Errorf("%s: a streamed body had %d bytes read, past the route's limit of %d", c.path, read, c.limit)
			case streamed && read < c.limit:
				t.Errorf("%s: a streamed body was refused after %d bytes, before the route's limit of %d", c.path, read, c.limit)
			}
		}
	}
}

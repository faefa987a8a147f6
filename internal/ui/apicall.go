package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/rcq-project/rcq/internal/apitype"
)

// APIError is an error answer of the API ({"error","code"} and its
// status), or the dashboard's own in the same shape.
type APIError struct {
	Status int
	Code   string
	Msg    string
	Field  string // the form field the message is about, when known
}

func (e *APIError) Error() string { return e.Msg }

// apiRequest builds an in-process request to the API for the page request
// r: the same connection (its context says whether it came over the Unix
// socket, and from which uid), the same Host, remote address and proxy
// header (the API's rate limits and Host checks see the browser's request),
// and the session's token as the bearer.
func (u *UI) apiRequest(r *http.Request, token, method, path string, body io.Reader) *http.Request {
	req, err := http.NewRequestWithContext(r.Context(), method, path, body)
	if err != nil {
		panic("ui: bad API path " + strconv.Quote(path)) // paths are the dashboard's own
	}
	req.Host = r.Host
	req.RemoteAddr = r.RemoteAddr
	req.TLS = r.TLS
	if xff := r.Header.Values("X-Forwarded-For"); len(xff) > 0 {
		req.Header["X-Forwarded-For"] = xff
	}
	if body != nil || method == http.MethodPost || method == http.MethodPatch {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// Get calls GET path (with its query) on the API and decodes the answer
// into out.
func (c *Call) Get(path string, out any) error {
	return c.Send(http.MethodGet, path, nil, out)
}

// Send calls the API with in as the JSON body (nil: none) and decodes the
// answer into out (nil: discarded). An error answer is an *APIError.
func (c *Call) Send(method, path string, in, out any) error {
	if c.Session == nil {
		return &APIError{Status: http.StatusUnauthorized, Code: "missing_token", Msg: "log in first"}
	}
	return c.UI.send(c.R, c.Session.Token, method, path, in, out)
}

// getBody calls GET path on the API and returns its answer's body
// undecoded.
func (c *Call) getBody(path string) ([]byte, error) {
	if c.Session == nil {
		return nil, &APIError{Status: http.StatusUnauthorized, Code: "missing_token", Msg: "log in first"}
	}
	rec := newRecorder()
	c.UI.api.ServeHTTP(rec, c.UI.apiRequest(c.R, c.Session.Token, http.MethodGet, path, nil))
	if err := rec.decode(nil); err != nil {
		return nil, err
	}
	return rec.body.Bytes(), nil
}

func (u *UI) send(r *http.Request, token, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	rec := newRecorder()
	u.api.ServeHTTP(rec, u.apiRequest(r, token, method, path, body))
	return rec.decode(out)
}

// recorder is the in-process answer of the API: its status, headers and
// body.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{h: http.Header{}} }

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.body.Write(b)
}
func (r *recorder) WriteHeader(status int) {
	if r.status != 0 {
		return
	}
	r.status = status
	// The queue's answer says its length: one buffer of the right size.
	if n, err := strconv.Atoi(r.h.Get("Content-Length")); err == nil && n > 0 && n < 64<<20 {
		r.body.Grow(n)
	}
}

func (r *recorder) decode(out any) error {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.status >= 300 {
		return errorOf(r.status, r.body.Bytes())
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(r.body.Bytes(), out); err != nil {
		return fmt.Errorf("decode the API's answer: %w", err)
	}
	return nil
}

// errorOf rebuilds the API's error answer.
func errorOf(status int, body []byte) *APIError {
	var eb apitype.ErrorBody
	if json.Unmarshal(body, &eb) != nil || eb.Error == "" {
		eb.Error = http.StatusText(status)
	}
	return &APIError{Status: status, Code: eb.Code, Msg: eb.Error, Field: fieldOf(eb.Error)}
}

// fieldOf is the field an API message names first ("signal: ..."), which
// the forms show the message beside.
func fieldOf(msg string) string {
	for i := 0; i < len(msg) && i < 40; i++ {
		c := msg[i]
		switch {
		case c == ':':
			return msg[:i]
		case c == '_' || c >= 'a' && c <= 'z':
		default:
			return ""
		}
	}
	return ""
}

package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/client/thin"
	"github.com/rcq-project/rcq/internal/rcq"
)

// Client talks to one rcqd over its REST API. It is safe for concurrent use.
type Client struct {
	server  string   // as given (the default resolved), for messages and the credentials file
	addr    string   // the socket path or host:port, for messages
	tried   []string // every socket looked for, when the server was the default
	base    string   // URL prefix of every request
	token   string
	http    *http.Client
	version string
}

// Option configures a Client.
type Option func(*Client)

// WithToken sets the Bearer token sent with every request.
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient replaces the HTTP client (its Transport is kept only for
// http(s) servers; Unix sockets always get their own dialer).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithUserAgent sets the User-Agent header, e.g. "rcq-submit/1.2".
func WithUserAgent(ua string) Option { return func(c *Client) { c.version = ua } }

// New returns a client for server, which is unix:///path/to/rcqd.sock,
// a bare absolute socket path, or http(s)://host:port. An empty server means
// the first of DefaultSockets that exists; an error reaching it names them
// all.
func New(server string, opts ...Option) (*Client, error) {
	var tried []string
	if server == "" {
		tried = DefaultSockets()
		server = "unix://" + firstExisting(tried)
	}
	c := &Client{server: server, version: "rcq-client", tried: tried}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	switch {
	case strings.HasPrefix(server, "unix://") || strings.HasPrefix(server, "/"):
		path := strings.TrimPrefix(server, "unix://")
		if path == "" || !strings.HasPrefix(path, "/") {
			return nil, rcq.Invalid("server", "%q: a socket must be an absolute path, as in unix:///run/rcq/rcqd.sock", server)
		}
		c.addr = path
		c.base = "http://rcqd"
		hc := *c.http
		hc.Transport = &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", path)
			},
			MaxIdleConns:    4,
			IdleConnTimeout: 30 * time.Second,
		}
		c.http = &hc
	case strings.HasPrefix(server, "http://") || strings.HasPrefix(server, "https://"):
		u, err := url.Parse(server)
		if err != nil || u.Host == "" {
			return nil, rcq.Invalid("server", "%q: use http(s)://host:port or unix:///path/to/rcqd.sock", server)
		}
		c.addr = u.Host
		c.base = strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/")
	default:
		return nil, rcq.Invalid("server", "%q: use unix:///path/to/rcqd.sock or http(s)://host:port", server)
	}
	return c, nil
}

// Server is the server as given to New (or the default).
func (c *Client) Server() string { return c.server }

// Addr is the socket path or host:port the client connects to.
func (c *Client) Addr() string { return c.addr }

// Token is the Bearer token the client sends, "" for none.
func (c *Client) Token() string { return c.token }

// Socket reports whether the client talks to rcqd over a Unix socket, where
// rcqd knows the caller by uid and no token is needed.
func (c *Client) Socket() bool { return strings.HasPrefix(c.addr, "/") }

// request describes one API call.
type request struct {
	method  string
	path    string // with query
	body    any    // JSON-encoded when non-nil
	out     any    // JSON-decoded when non-nil and the status is 2xx
	headers map[string]string
	noAuth  bool
}

func (c *Client) newRequest(ctx context.Context, r request) (*http.Request, error) {
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.base+r.path, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	// rcqd refuses a request that changes state without this header, body
	// or not (it is what tells it apart from a browser's cross-site form).
	if r.body != nil || (r.method != http.MethodGet && r.method != http.MethodHead) {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.version)
	if c.token != "" && !r.noAuth {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	return req, nil
}

// send performs the request and returns the response when the status is 2xx;
// any other status becomes an *rcq.Error rebuilt from the body.
func (c *Client) send(ctx context.Context, r request) (*http.Response, error) {
	req, err := c.newRequest(ctx, r)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &ConnError{Addr: c.addr, Socket: c.Socket(), Tried: c.tried, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp, nil
}

func (c *Client) do(ctx context.Context, r request) error {
	resp, err := c.send(ctx, r)
	if err != nil {
		return err
	}
	return c.read(ctx, r, resp)
}

// read reads the body of resp, the 2xx answer to r, into r.out, and closes
// it.
func (c *Client) read(ctx context.Context, r request, resp *http.Response) error {
	defer resp.Body.Close()
	if r.out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	// The whole answer first, in one buffer of its announced size, then one
	// decode: a page of 10,000 jobs is 4-5 MB, and encoding/json's Decoder
	// spent a third of its time growing and copying its buffer.
	// The buffer is reused by the next answer (rcq-acct reads a hundred
	// pages; allocating and zeroing each was a tenth of its time): the
	// decoders copy what they keep.
	body := bodies.Get().(*bytes.Buffer)
	body.Reset()
	if resp.ContentLength > 0 {
		body.Grow(int(min(resp.ContentLength, 64<<20)) + bytes.MinRead)
	}
	_, err := body.ReadFrom(resp.Body)
	if err == nil {
		err = decodeJSON(body.Bytes(), r.out)
	}
	if body.Cap() <= 64<<20 {
		bodies.Put(body)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &rcq.Error{Kind: rcq.KindInternal, Code: "bad_response",
			Msg: fmt.Sprintf("%s %s: unreadable answer from rcqd", r.method, pathOnly(r.path)), Err: err}
	}
	return nil
}

var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func pathOnly(p string) string {
	path, _, _ := strings.Cut(p, "?")
	return path
}

// decodeError rebuilds an *rcq.Error from an error response and its body
// (the first 64 KiB): the Kind from the status, the code and message from
// rcqd's JSON (thin.ReadError), or the status's text when the body is not
// rcqd's.
func decodeError(resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	kind := apitype.KindForStatus(resp.StatusCode)
	e := thin.ReadError(resp.StatusCode, raw)
	code := e.Code
	if code == "" {
		code = kind.String()
	}
	return &rcq.Error{Kind: kind, Code: code, Msg: e.Msg}
}

// IsAuthError reports whether err means the token is missing, expired or
// rejected: the user has to run rcq-login.
func IsAuthError(err error) bool {
	return errors.Is(err, rcq.ErrUnauthorized)
}

// Package thin is the part of rcq's client that the commands' start-up path
// needs without linking net/http: where the local rcqd's socket is, the
// credentials file, and one HTTP/1.1 request over a Unix socket.
//
// Linking net/http (and with it crypto/tls and crypto/x509) costs every
// process start its package initialisation and ~80 page faults, a fifth of
// what rcq-submit spent before it did anything (docs/performance.md).
// rcq-submit and rcq-show send their one request with Do when the server
// is a Unix socket; internal/client (net/http) does everything else.
package thin

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Request is one HTTP request to rcqd.
type Request struct {
	Method string
	Path   string // with its query
	// Header lines, each "Name: value" (Host, Content-Length, Connection are
	// set by Do).
	Header []string
	Body   []byte
}

// Response is rcqd's answer: the status and the whole body.
type Response struct {
	Status int
	Body   []byte
}

// Do sends r to the rcqd listening on the Unix socket at sock and reads the
// whole answer (one request per connection). When nothing could be sent it
// returns a *ConnError with Sent false; an error after the request went out
// is a *ConnError with Sent true (rcqd may have acted on it).
func Do(sock string, r Request) (*Response, error) {
	fd, err := unixSocket()
	if err != nil {
		return nil, &ConnError{Addr: sock, Socket: true, Err: os.NewSyscallError("socket", err)}
	}
	if err := connectUnix(fd, sock); err != nil {
		syscall.Close(fd)
		return nil, &ConnError{Addr: sock, Socket: true, Err: err}
	}
	f := os.NewFile(uintptr(fd), sock) // closes fd
	defer f.Close()
	var b bytes.Buffer
	b.Grow(256 + len(r.Body))
	b.WriteString(r.Method)
	b.WriteByte(' ')
	b.WriteString(r.Path)
	b.WriteString(" HTTP/1.1\r\nHost: rcqd\r\nConnection: close\r\n")
	for _, h := range r.Header {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	if r.Body != nil || r.Method != "GET" && r.Method != "HEAD" {
		b.WriteString("Content-Length: ")
		b.WriteString(strconv.Itoa(len(r.Body)))
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.Write(r.Body)
	if _, err := f.Write(b.Bytes()); err != nil {
		return nil, &ConnError{Addr: sock, Socket: true, Sent: true, Err: err}
	}
	resp, err := readResponse(f, r.Method == "HEAD")
	if err != nil {
		return nil, &ConnError{Addr: sock, Socket: true, Sent: true, Err: err}
	}
	return resp, nil
}

// connectUnix connects the stream socket fd to sock, then makes it
// non-blocking, so that os.NewFile puts it in the runtime's poller: while
// rcqd answers, this goroutine is parked and its thread sleeps in epoll.
// Read blocking, the thread stayed in the system call, the runtime's
// monitor woke every 20 µs to take its processor away, and another thread
// took the goroutine over when the answer came (perf stat of rcq-submit:
// 59-86 context switches a run, 35-41 in the poller), on the two cores
// rcqd and PostgreSQL were answering on. The connect itself blocks: a full
// backlog waits rather than failing with EAGAIN.
func connectUnix(fd int, sock string) error {
	for {
		err := syscall.Connect(fd, &syscall.SockaddrUnix{Name: sock})
		if err == nil {
			break
		}
		if err != syscall.EINTR {
			return os.NewSyscallError("connect", err)
		}
	}
	return os.NewSyscallError("fcntl", syscall.SetNonblock(fd, true))
}

var errMalformed = errors.New("malformed HTTP response")

// readResponse reads one HTTP/1.x response from rd: the status line, the
// header, then a body delimited by Content-Length, chunked encoding, or the
// end of the connection.
func readResponse(rd io.Reader, head bool) (*Response, error) {
	buf := make([]byte, 0, 4096)
	var hdrEnd int
	for {
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			hdrEnd = i + 4
			break
		}
		if len(buf) > 1<<20 {
			return nil, errMalformed
		}
		var err error
		if buf, err = fill(rd, buf); err != nil {
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	lines := strings.Split(string(buf[:hdrEnd-4]), "\r\n")
	proto, rest, _ := strings.Cut(lines[0], " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil || status < 100 || status > 999 {
		return nil, errMalformed
	}
	length, chunked := -1, false
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return nil, errMalformed
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "content-length":
			if length, err = strconv.Atoi(v); err != nil || length < 0 {
				return nil, errMalformed
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(v, "chunked")
		}
	}
	body := buf[hdrEnd:]
	resp := &Response{Status: status}
	switch {
	case head || status == 204 || status == 304 || status < 200:
		return resp, nil
	case chunked:
		resp.Body, err = readChunked(rd, body)
		return resp, err
	case length >= 0:
		if cap(body) < length {
			nb := make([]byte, len(body), length)
			copy(nb, body)
			body = nb
		}
		for len(body) < length {
			if body, err = fill(rd, body); err != nil {
				if err == io.EOF {
					return nil, io.ErrUnexpectedEOF
				}
				return nil, err
			}
		}
		resp.Body = body[:length]
		return resp, nil
	}
	for {
		if body, err = fill(rd, body); err == io.EOF {
			resp.Body = body
			return resp, nil
		} else if err != nil {
			return nil, err
		}
	}
}

// fill reads once into buf's spare capacity (growing it when full).
func fill(rd io.Reader, buf []byte) ([]byte, error) {
	if len(buf) == cap(buf) {
		buf = append(buf, 0)[:len(buf)]
	}
	n, err := rd.Read(buf[len(buf):cap(buf)])
	buf = buf[:len(buf)+n]
	if n > 0 && err == io.EOF {
		err = nil
	}
	return buf, err
}

// readChunked decodes a chunked body whose first bytes are in have.
func readChunked(rd io.Reader, have []byte) ([]byte, error) {
	var out []byte
	for {
		i := bytes.Index(have, []byte("\r\n"))
		for i < 0 {
			var err error
			if have, err = fill(rd, have); err != nil {
				return nil, noEOF(err)
			}
			i = bytes.Index(have, []byte("\r\n"))
		}
		sz, _, _ := strings.Cut(string(have[:i]), ";")
		n, err := strconv.ParseInt(strings.TrimSpace(sz), 16, 64)
		if err != nil || n < 0 || n > 1<<30 {
			return nil, errMalformed
		}
		have = have[i+2:]
		if n == 0 {
			return out, nil // trailers are not read: the connection closes
		}
		for int64(len(have)) < n+2 {
			if have, err = fill(rd, have); err != nil {
				return nil, noEOF(err)
			}
		}
		out = append(out, have[:n]...)
		have = have[n+2:]
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Target is the server the commands talk to, "" for the local daemon's
// socket: explicit (--server, else $RCQ_SERVER) when given, else the server
// of the saved credentials (creds may be nil).
func Target(explicit string, creds *Credentials) string {
	if explicit != "" {
		return explicit
	}
	if creds != nil && creds.Server != "" {
		return creds.Server
	}
	return ""
}

// SocketPath is the socket a server address names ("unix:///p" or "/p"),
// and whether it names one.
func SocketPath(server string) (string, bool) {
	path, ok := strings.CutPrefix(server, "unix://")
	if !ok && strings.HasPrefix(server, "/") {
		path, ok = server, true
	}
	return path, ok && strings.HasPrefix(path, "/")
}

func (r *Response) String() string {
	return strconv.Itoa(r.Status) + " (" + strconv.Itoa(len(r.Body)) + " bytes)"
}

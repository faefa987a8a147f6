package thin_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rcq-project/rcq/internal/client/thin"
)

// serve runs h on a Unix socket (net/http's server, as rcqd's) and returns
// the socket's path.
func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock
}

func TestDoSendsTheRequestAndReadsEveryBodyForm(t *testing.T) {
	big := strings.Repeat("0123456789", 50_000) // chunked: no Content-Length, several writes
	sock := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/length":
			body := r.Method + " " + r.URL.RawQuery + " " + r.Header.Get("Authorization") + " " + string(b)
			w.Header().Set("Content-Length", itoa(len(body)))
			_, _ = io.WriteString(w, body)
		case "/chunked":
			for i := 0; i < len(big); i += 100_000 {
				_, _ = io.WriteString(w, big[i:i+100_000])
				w.(http.Flusher).Flush()
			}
		case "/missing":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"error":"job 7 not found","code":"job_not_found"}`)
		}
	})
	resp, err := thin.Do(sock, thin.Request{Method: "POST", Path: "/length?a=1", Header: []string{"Authorization: Bearer t"}, Body: []byte(`{"x":1}`)})
	if err != nil || resp.Status != 200 || string(resp.Body) != `POST a=1 Bearer t {"x":1}` {
		t.Fatalf("Content-Length body: %v, %v %q", err, resp, resp.Body)
	}
	resp, err = thin.Do(sock, thin.Request{Method: "GET", Path: "/chunked"})
	if err != nil || resp.Status != 200 || string(resp.Body) != big {
		t.Fatalf("chunked body: %v, %v", err, resp)
	}
	resp, err = thin.Do(sock, thin.Request{Method: "GET", Path: "/missing"})
	if err != nil || resp.Status != 404 {
		t.Fatalf("404: %v, %v", err, resp)
	}
	if e := thin.ReadError(resp.Status, resp.Body); e.Status != 404 || e.Code != "job_not_found" || e.Msg != "job 7 not found" {
		t.Fatalf("ReadError = %#v", e)
	}
}

func TestDoNamesTheSocketWhenNothingListens(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	_, err := thin.Do(sock, thin.Request{Method: "GET", Path: "/health"})
	var ce *thin.ConnError
	if !errors.As(err, &ce) || ce.Sent || ce.Addr != sock || !strings.Contains(err.Error(), sock) {
		t.Fatalf("err = %#v", err)
	}
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		if n /= 10; n == 0 {
			return s
		}
	}
}

package daemon

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rcq-project/rcq/internal/config"
)

// TestServerDropsSlowClients: a client that never finishes its headers, or
// its body, loses its connection instead of holding it (and a goroutine)
// forever; headers over the limit are refused. The timeouts are shrunk; the
// test waits for the server to close, not for a time.
func TestServerDropsSlowClients(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil { // personal mode's rule
		t.Fatal(err)
	}
	cfg := &config.Config{Listen: config.Listen{Socket: filepath.Join(dir, "rcqd.sock"), SocketMode: 0o600}}
	l, err := listen(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	l.timeouts = timeouts{readHeader: 100 * time.Millisecond, read: 300 * time.Millisecond, idle: time.Minute, maxHeader: 4 << 10}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			return // the read deadline passed
		}
		w.WriteHeader(http.StatusNoContent)
	})
	l.serve(h, slog.New(slog.DiscardHandler))
	t.Cleanup(l.close)

	closed := func(name, send string) {
		t.Helper()
		c, err := net.Dial("unix", cfg.Listen.Socket)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, send); err != nil {
			t.Fatal(err)
		}
		// A safety net only: the server closes long before.
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		_, err = io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the connection is still open after a minute", name)
		}
	}
	closed("headers never finished", "GET / HTTP/1.1\r\nHost: rcq\r\n")
	closed("body never finished", "POST / HTTP/1.1\r\nHost: rcq\r\nContent-Length: 100\r\n\r\n0123456789")

	c, err := net.Dial("unix", cfg.Listen.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: rcq\r\nX-Big: "+strings.Repeat("a", 16<<10)+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB of headers: %v %v, want 431", resp, err)
	}
}

// TestSocketDirectoryPersonal: in personal mode the socket's directory is
// made 0700, and an existing one that others may open is refused with the
// chmod that fixes it.
func TestSocketDirectoryPersonal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fresh := filepath.Join(dir, "a", "b")
	if err := socketDir(fresh, false); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("new socket directory: %v %v, want 0700", fi, err)
	}
	open := filepath.Join(dir, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o711); err != nil {
		t.Fatal(err)
	}
	err := socketDir(open, false)
	if err == nil || !strings.Contains(err.Error(), "chmod 700 "+open) || !strings.Contains(err.Error(), "mode 0711") {
		t.Errorf("socket directory 0711 in personal mode: %v", err)
	}
	if fi, _ := os.Stat(open); fi.Mode().Perm() != 0o711 {
		t.Errorf("rcqd changed the mode of %s to %04o", open, fi.Mode().Perm())
	}
}

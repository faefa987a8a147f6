package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/rcq-project/rcq/internal/api"
	"github.com/rcq-project/rcq/internal/config"
)

// listeners are the Unix socket and the optional TCP address.
type listeners struct {
	socket  string
	unix    net.Listener
	tcp     net.Listener
	servers []*http.Server
}

// listen opens the Unix socket (replacing a stale one, refusing to start
// next to a live rcqd) and the TCP address.
func listen(cfg *config.Config, logger *slog.Logger) (*listeners, error) {
	l := &listeners{socket: cfg.Listen.Socket}
	if err := os.MkdirAll(filepath.Dir(l.socket), 0o755); err != nil {
		return nil, fmt.Errorf("socket directory: %w", err)
	}
	if _, err := os.Lstat(l.socket); err == nil {
		c, err := net.DialTimeout("unix", l.socket, time.Second)
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("another rcqd is already serving on %s: stop it first, or give this one another --socket", l.socket)
		}
		logger.Info("replacing a stale socket left by an rcqd that did not stop cleanly", "socket", l.socket)
		if err := os.Remove(l.socket); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	ul, err := net.Listen("unix", l.socket)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", l.socket, err)
	}
	ul.(*net.UnixListener).SetUnlinkOnClose(true)
	if err := os.Chmod(l.socket, cfg.Listen.SocketMode); err != nil {
		ul.Close()
		return nil, fmt.Errorf("socket mode: %w", err)
	}
	l.unix = ul
	if cfg.Listen.Addr != "" {
		tl, err := net.Listen("tcp", cfg.Listen.Addr)
		if err != nil {
			ul.Close()
			return nil, fmt.Errorf("listen on %s: %w (set --listen to another address, or '' to turn TCP off)", cfg.Listen.Addr, err)
		}
		l.tcp = tl
	}
	return l, nil
}

// serve starts one http.Server per listener; the channel reports the first
// failure.
func (l *listeners) serve(h http.Handler, logger *slog.Logger) <-chan error {
	errc := make(chan error, 2)
	start := func(ln net.Listener, unix bool) {
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				info := api.ConnInfo{Unix: unix}
				if unix {
					info.Peer = peerUID(c)
				}
				return api.WithConnInfo(ctx, info)
			},
		}
		l.servers = append(l.servers, srv)
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	start(l.unix, true)
	if l.tcp != nil {
		start(l.tcp, false)
	}
	return errc
}

// peerUID names a Unix socket peer by its uid, from SO_PEERCRED.
func peerUID(c net.Conn) string {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return "unknown"
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return "unknown"
	}
	uid := "unknown"
	_ = raw.Control(func(fd uintptr) {
		cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		if err == nil {
			uid = "uid:" + strconv.Itoa(int(cred.Uid))
		}
	})
	return uid
}

// shutdown stops accepting and waits for in-flight requests until ctx ends.
func (l *listeners) shutdown(ctx context.Context) {
	for _, s := range l.servers {
		_ = s.Shutdown(ctx)
	}
	l.close()
}

func (l *listeners) close() {
	if l.unix != nil {
		l.unix.Close()
	}
	if l.tcp != nil {
		l.tcp.Close()
	}
}

func (l *listeners) tcpAddr() string {
	if l.tcp == nil {
		return "off"
	}
	return "http://" + l.tcp.Addr().String()
}

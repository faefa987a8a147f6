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
	socket string
	unix   net.Listener
	tcp    net.Listener
	// metrics serves only GET /metrics (metrics.listen); nil when off.
	metrics        net.Listener
	metricsHandler http.Handler
	servers        []*http.Server
	timeouts       timeouts
}

// timeouts bound what a slow or idle client can hold.
type timeouts struct {
	readHeader time.Duration // the request line and headers
	read       time.Duration // the whole request, body included
	idle       time.Duration // a kept-alive connection between requests
	maxHeader  int           // bytes of request line and headers
}

// serverTimeouts: a slow client is dropped after 10 s without its headers
// and 60 s without its whole request (a 64 MiB batch needs about 1 MB/s).
// Responses have no write timeout, and net/http clears the read deadline
// once a request is read, so a followed output stream lasts as long as the
// job (internal/api's TestFollowedOutputOutlivesReadTimeout).
var serverTimeouts = timeouts{readHeader: 10 * time.Second, read: 60 * time.Second, idle: 2 * time.Minute, maxHeader: 64 << 10}

// listen opens the Unix socket (replacing a stale one, refusing to start
// next to a live rcqd) and the TCP address.
func listen(cfg *config.Config, logger *slog.Logger) (*listeners, error) {
	l := &listeners{socket: cfg.Listen.Socket, timeouts: serverTimeouts}
	if err := socketDir(filepath.Dir(l.socket), cfg.Root()); err != nil {
		return nil, err
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
	if cfg.Metrics.Listen != "" {
		ml, err := net.Listen("tcp", cfg.Metrics.Listen)
		if err != nil {
			l.close()
			return nil, fmt.Errorf("listen on %s: %w (set metrics.listen to another address, or '' to serve /metrics only on the socket)", cfg.Metrics.Listen, err)
		}
		l.metrics = ml
	}
	return l, nil
}

// socketDir makes the socket's directory. In personal mode it must be rcqd's
// user's alone (0700): the kernel then keeps every other user (but root) from
// connecting, before rcqd refuses them by uid. An existing directory that
// others may open is refused, naming the chmod that fixes it, rather than
// changed behind the user's back. In system mode it is 0755, for every local
// user to reach.
func socketDir(dir string, root bool) error {
	if root {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("socket directory: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("socket directory %s is not owned by rcqd's user (uid %d): in personal mode the socket needs a directory of its own: choose another --socket", dir, os.Geteuid())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("socket directory %s is open to other users (mode %04o) and personal mode serves only its own user: fix it with: chmod 700 %s (or choose another --socket)", dir, fi.Mode().Perm(), dir)
	}
	return nil
}

// serve starts one http.Server per listener; the channel reports the first
// failure.
func (l *listeners) serve(h http.Handler, logger *slog.Logger) <-chan error {
	errc := make(chan error, 3)
	start := func(ln net.Listener, unix bool, h http.Handler) {
		srv := &http.Server{
			Handler:           h,
			ReadHeaderTimeout: l.timeouts.readHeader,
			ReadTimeout:       l.timeouts.read,
			IdleTimeout:       l.timeouts.idle,
			MaxHeaderBytes:    l.timeouts.maxHeader,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
			ConnContext: func(ctx context.Context, c net.Conn) context.Context {
				info := api.ConnInfo{Unix: unix}
				if unix {
					info.UID, info.HasUID = peerUID(c)
					info.Peer = "unknown"
					if info.HasUID {
						info.Peer = "uid:" + strconv.Itoa(info.UID)
					}
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
	start(l.unix, true, h)
	if l.tcp != nil {
		start(l.tcp, false, h)
	}
	if l.metrics != nil && l.metricsHandler != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", l.metricsHandler)
		start(l.metrics, false, mux)
	}
	return errc
}

// peerUID is a Unix socket peer's uid, from SO_PEERCRED: the kernel's
// record of who connected, which the peer cannot choose.
func peerUID(c net.Conn) (uid int, ok bool) {
	uc, isUnix := c.(*net.UnixConn)
	if !isUnix {
		return 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, false
	}
	_ = raw.Control(func(fd uintptr) {
		cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
		if err == nil {
			uid, ok = int(cred.Uid), true
		}
	})
	return uid, ok
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
	if l.metrics != nil {
		l.metrics.Close()
	}
}

func (l *listeners) metricsAddr() string {
	if l.metrics == nil {
		return "socket only (metrics.listen is off)"
	}
	return "http://" + l.metrics.Addr().String() + "/metrics"
}

func (l *listeners) tcpAddr() string {
	if l.tcp == nil {
		return "off"
	}
	return "http://" + l.tcp.Addr().String()
}

package thin

import "strings"

// ConnError says rcqd could not be reached at all: nothing was answered.
type ConnError struct {
	Addr   string   // the socket path or host:port tried
	Socket bool     // Addr is a Unix socket
	Tried  []string // every default socket looked for, when no server was given
	// Sent: the request may have reached rcqd before the connection failed
	// (set by Do only).
	Sent bool
	Err  error
}

func (e *ConnError) Error() string {
	where := e.Addr
	if len(e.Tried) > 1 {
		where = strings.Join(e.Tried, " or ")
	}
	return "cannot reach rcqd at " + where + ": is it running? Start it with: rcqd"
}

func (e *ConnError) Unwrap() error { return e.Err }

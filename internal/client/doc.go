// Package client is the Go client of rcqd's REST API, used by the rcq-*
// commands and usable by any Go program.
//
// It speaks HTTP over rcqd's Unix socket (unix:///path/rcqd.sock; the
// default is the user's own rcqd's socket, else the system rcqd's: see
// DefaultSockets) or TCP (http(s)://host:port). On the socket rcqd knows the
// caller by uid, so a client without a token works there, and PeerToken gets
// a token without a password. Every error answer {"error","code"} is rebuilt
// into an *rcq.Error so callers branch with errors.Is and errors.As; a daemon
// that answers nothing gives a *ConnError naming every socket or address
// tried.
//
// The package also owns the credentials file ($XDG_CONFIG_HOME/rcq/credentials)
// where rcq-login keeps the token: see Credentials.
package client

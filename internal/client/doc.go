// Package client is the Go client of rcqd's REST API, used by the rcq-*
// commands and usable by any Go program.
//
// It speaks HTTP over rcqd's Unix socket (unix:///path/rcqd.sock, the
// default: see DefaultSocket) or TCP (http(s)://host:port). Every error
// answer {"error","code"} is rebuilt into an *rcq.Error so callers branch
// with errors.Is and errors.As; a daemon that answers nothing gives a
// *ConnError naming the socket or address tried.
//
// The package also owns the credentials file ($XDG_CONFIG_HOME/rcq/credentials)
// where rcq-login keeps the token: see Credentials.
package client

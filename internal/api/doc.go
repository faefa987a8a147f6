// Package api is rcqd's REST API: a chi router served on the Unix socket and
// on TCP. Every route is declared once in routes.go with its access policy
// (public, user or admin); handlers return errors and one function maps an
// error's rcq.Kind to its HTTP status and writes {"error","code"}.
//
// Who calls is a bearer token over TCP; on the Unix socket it is the peer's
// uid, which rcqd reads from the kernel (identity.go): in personal mode only
// rcqd's own uid is served, in system mode each local user is the account
// mapped to their login, made on first use. A token on the socket must be
// the peer's own account's unless the peer is root or the token an admin's.
// Every request is logged once (method, route, status, peer, account).
//
// A user never sees another user's job: such a job answers 404, exactly like
// a missing one. Admins see everything.
package api

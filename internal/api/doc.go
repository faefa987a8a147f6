// Package api is rcqd's REST API: a chi router served on the Unix socket and
// on TCP. Every route is declared once in routes.go with its access policy
// (public, user or admin); handlers return errors and one function maps an
// error's rcq.Kind to its HTTP status and writes {"error","code"}.
//
// A user never sees another user's job: such a job answers 404, exactly like
// a missing one. Admins see everything.
package api

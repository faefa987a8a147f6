// Package auth holds rcq's credentials: bcrypt password hashes with bcrypt's
// 72-byte limit enforced instead of silently truncated, HS256 JSON Web Tokens
// with the algorithm, expiry, issue time and issuer checked at verification,
// the verified claims on a request's context, Bearer header parsing, the
// daemon's signing secret kept in a 0600 file, and UnixUsers: which Unix
// users an account may be mapped to (never root, a system account,
// PostgreSQL's user or a member of a privileged group).
//
// Every verification failure is an *rcq.Error of KindUnauthorized: code
// "token_expired" for an expired token, "invalid_token" for anything else, so
// the API answers 401 and the command line tells the user to log in again.
// The per-user token version (bumped on logout and password change) travels in
// the claims; comparing it with the store is the API's job.
package auth

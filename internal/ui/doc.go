// Package ui is rcq's web dashboard: server-rendered pages under /ui/,
// served by the API router on both of rcqd's listeners (internal/api mounts
// it), from templates and static files embedded in the binary.
//
// The dashboard has no data path of its own. Every fact a page shows and
// every action it takes is a request to the API router, made in-process
// with the session's bearer token (apicall.go): ownership, limits, audit and
// error messages are exactly the API's, so another user's job page is the
// same 404 the API gives.
//
// Pages are registered in one table (pages.go): a page is a file with its
// handler and a template file templates/<name>.html that defines "title",
// "content" and, for pages that update live, "live". The layout
// (templates/layout.html) draws the navigation from the same table.
//
// Sessions (session.go): the login form posts email and password to POST
// /api/auth/login; the token goes into an HttpOnly, SameSite=Strict cookie
// limited to /ui/ (Secure over TLS). Every form carries a CSRF token derived
// from the session's token; a POST without the right one is 403. See
// docs/security.md.
package ui

// Package daemon wires rcqd together: configuration, the database (a URL or
// a private server from internal/pgserver), migrations, bootstrap, the
// scheduler loop, the executor, the API on a Unix socket and on TCP, the
// event listener that connects them, and a clean shutdown.
package daemon

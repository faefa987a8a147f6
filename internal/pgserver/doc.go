// Package pgserver starts and stops a private PostgreSQL server from the machine's own server
// binaries (initdb, postgres). rcqd uses it for its embedded default database under its state
// directory, and internal/dbtest uses it for the throwaway cluster of a test binary.
//
// The server listens on a Unix socket only (listen_addresses is empty: no TCP), in a socket
// directory of mode 0700 owned by the server's user. The cluster is created with initdb on first start with
// the superuser [Superuser], UTF8 encoding, "trust" authentication on the local socket and
// "reject" for TCP. Trust is safe here because nobody but the server's user (and root) can enter
// the socket directory, so nobody else can reach the socket.
//
// # Root
//
// PostgreSQL refuses to run as root. When the calling process is root, the server runs as an
// unprivileged system user ([Options.RunAs], "postgres" by default): initdb and postgres are
// started with that user's credentials, and the data directory, the socket directory and the
// log file are owned by it. That user must be able to traverse every parent directory of the
// data and socket directories; where it cannot (a t.TempDir is 0700 root, for example), Start
// adds the search bit for that user's class (o+x for "other", usually) to the blocking
// directory and logs it. Search without read lets the user walk through the directory but not
// list it. Root itself connects through the socket directory because root bypasses file
// permissions.
//
// # Restarts and crashes
//
// Start never runs two servers on one data directory. Start calls on one data directory are
// serialized with a lock file (<DataDir>.lock). If postmaster.pid names a live postmaster of
// this data directory (rcqd was killed but its server kept running), Start waits until it accepts
// connections and reuses it. If it names a dead process, Start starts a fresh server, which
// removes the stale file itself (after checking that no old server process still holds the
// cluster's shared memory) and runs the usual crash recovery. If it names a live process that
// is not this data directory's postmaster (a pid reused after a reboot), Start removes the file
// first, unless some process still works in the data directory.
//
// The server is started in its own session (setsid), so a Ctrl-C in the terminal that runs
// rcqd does not reach it; [Server.Stop] shuts it down with a fast shutdown.
package pgserver

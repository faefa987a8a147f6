package pgserver

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// pidFile is what a postmaster writes to <data dir>/postmaster.pid: one value per line, in
// the order PostgreSQL's pidfile.h gives (LOCK_FILE_LINE_*).
type pidFile struct {
	pid       int    // line 1
	port      int    // line 4
	socketDir string // line 5: the first socket directory
	status    string // line 8: starting, stopping, ready or standby
}

// readPidFile reads dataDir's postmaster.pid. A missing file gives an error satisfying
// errors.Is(err, os.ErrNotExist); a file being written may lack its later lines.
func readPidFile(dataDir string) (pidFile, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return pidFile{}, err
	}
	lines := strings.Split(string(b), "\n")
	line := func(n int) string {
		if n <= len(lines) {
			return strings.TrimSpace(lines[n-1])
		}
		return ""
	}
	var p pidFile
	if p.pid, err = strconv.Atoi(line(1)); err != nil || p.pid <= 0 {
		return pidFile{}, fmt.Errorf("postmaster.pid in %s: bad pid %q", dataDir, line(1))
	}
	p.port, _ = strconv.Atoi(line(4))
	p.socketDir = line(5)
	p.status = line(8)
	return p, nil
}

// socketPath is the path of the server's Unix socket in dir for port.
func socketPath(dir string, port int) string {
	return filepath.Join(dir, ".s.PGSQL."+strconv.Itoa(port))
}

// maxSocketPath is the longest socket path the kernel accepts (sun_path less its NUL byte on
// Linux; macOS allows 103).
var maxSocketPath = len(syscall.RawSockaddrUnix{}.Path) - 1

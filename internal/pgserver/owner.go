package pgserver

import (
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
)

// DefaultRunAs is the system user that runs the server when the calling process is root.
const DefaultRunAs = "postgres"

// owner is the unprivileged user that runs the server when the calling process is root. A nil
// *owner means the server runs as the calling user, and every method is then a no-op.
type owner struct {
	name   string
	uid    int
	gid    int
	groups []int // every group of the user, the primary one included
}

// lookupOwner returns the user to run the server as: nil when the process is not root, else
// runAs (DefaultRunAs when empty), which must exist and not be root.
func lookupOwner(runAs string) (*owner, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	if runAs == "" {
		runAs = DefaultRunAs
	}
	u, err := user.Lookup(runAs)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root, and user %q to run it as was not found "+
			"(installing the postgresql package creates the postgres user; or choose another unprivileged user): %w",
			runAs, err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("user %q has a non-numeric uid %q or gid %q", runAs, u.Uid, u.Gid)
	}
	if uid == 0 {
		return nil, fmt.Errorf("PostgreSQL refuses to run as root: user %q has uid 0; choose an unprivileged user", runAs)
	}
	o := &owner{name: runAs, uid: uid, gid: gid, groups: []int{gid}}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.Atoi(id); err == nil && !slices.Contains(o.groups, g) {
				o.groups = append(o.groups, g)
			}
		}
	}
	return o, nil
}

// credential is what child processes run with: the owner's uid, gid and groups.
func (o *owner) credential() *syscall.Credential {
	if o == nil {
		return nil
	}
	groups := make([]uint32, len(o.groups))
	for i, g := range o.groups {
		groups[i] = uint32(g)
	}
	return &syscall.Credential{Uid: uint32(o.uid), Gid: uint32(o.gid), Groups: groups}
}

// chown gives path to the owner.
func (o *owner) chown(path string) error {
	if o == nil {
		return nil
	}
	if err := os.Lchown(path, o.uid, o.gid); err != nil {
		return fmt.Errorf("give %s to user %s: %w", path, o.name, err)
	}
	return nil
}

// ensureTraversable makes dir and each of its parents searchable by the owner. A directory the
// owner cannot search gets the search (execute) bit for the owner's class, "other" in the usual
// case of a root-owned directory such as a 0700 t.TempDir; nothing gets the read bit, so the
// owner can walk through but not list such a directory.
func (o *owner) ensureTraversable(dir string, logger *slog.Logger) error {
	if o == nil {
		return nil
	}
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("make %s traversable for user %s: %w", d, o.name, err)
		}
		if bit := o.missingSearchBit(fi); bit != 0 {
			mode := fi.Mode().Perm() | bit | (fi.Mode() & (os.ModeSetuid | os.ModeSetgid | os.ModeSticky))
			if err := os.Chmod(d, mode); err != nil {
				return fmt.Errorf("make %s traversable for user %s: %w", d, o.name, err)
			}
			logger.Info("made directory traversable for the PostgreSQL user",
				"dir", d, "user", o.name, "mode", fmt.Sprintf("%04o", mode.Perm()))
		}
		if parent := filepath.Dir(d); parent == d {
			return nil
		}
	}
}

// missingSearchBit is the permission bit that would let the owner search a directory, or 0
// when it already can.
func (o *owner) missingSearchBit(fi os.FileInfo) os.FileMode {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0
	}
	perm := fi.Mode().Perm()
	switch {
	case int(st.Uid) == o.uid:
		if perm&0o100 == 0 {
			return 0o100
		}
	case slices.Contains(o.groups, int(st.Gid)):
		if perm&0o010 == 0 {
			return 0o010
		}
	default:
		if perm&0o001 == 0 {
			return 0o001
		}
	}
	return 0
}

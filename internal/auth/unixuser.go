package auth

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"github.com/rcq-project/rcq/internal/rcq"
)

// LoginDefs is where the system says which uids belong to people (UID_MIN).
const LoginDefs = "/etc/login.defs"

// DefaultUIDMin is UID_MIN when login.defs does not say.
const DefaultUIDMin = 1000

// PrivilegedGroups are the groups whose members can become root, read every
// file or talk to the devices directly: an rcq account never runs as one of
// them. lxd and libvirt are root-equivalent the way docker is.
var PrivilegedGroups = []string{"root", "sudo", "wheel", "adm", "docker", "disk", "shadow", "lxd", "libvirt"}

// UnixUsers decides which Unix users an rcq account may be mapped to (when
// rcqd is root, an account's jobs run as its Unix user) and names the uids of
// socket peers. It reads the system's user and group databases through
// os/user, so it sees what the machine's NSS sees.
type UnixUsers struct {
	uidMin   int
	postgres string // the PostgreSQL server's user

	lookup        func(name string) (*user.User, error)
	lookupID      func(uid string) (*user.User, error)
	groupIDs      func(u *user.User) ([]string, error)
	lookupGroupID func(gid string) (*user.Group, error)
}

// NewUnixUsers returns a checker reading UID_MIN from loginDefs (usually
// LoginDefs; DefaultUIDMin when the file or the line is missing) and
// refusing postgresUser, the PostgreSQL server's user.
func NewUnixUsers(loginDefs, postgresUser string) *UnixUsers {
	return &UnixUsers{
		uidMin:        ReadUIDMin(loginDefs),
		postgres:      postgresUser,
		lookup:        user.Lookup,
		lookupID:      user.LookupId,
		groupIDs:      (*user.User).GroupIds,
		lookupGroupID: user.LookupGroupId,
	}
}

// ReadUIDMin reads UID_MIN from a login.defs file: the smallest uid of a
// person's account. A missing file or line gives DefaultUIDMin.
func ReadUIDMin(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return DefaultUIDMin
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "UID_MIN" {
			if n, err := strconv.Atoi(fields[1]); err == nil && n > 0 {
				return n
			}
		}
	}
	return DefaultUIDMin
}

// UIDMin is the smallest uid of a person's account.
func (u *UnixUsers) UIDMin() int { return u.uidMin }

// Login returns the login name of uid.
func (u *UnixUsers) Login(uid int) (string, error) {
	pw, err := u.lookupID(strconv.Itoa(uid))
	if err != nil {
		return "", err
	}
	return pw.Username, nil
}

// ValidUnixName accepts what useradd accepts by default: a lower-case letter
// or '_', then lower-case letters, digits, '_', '-' and '.', at most 32 bytes.
func ValidUnixName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// CodeUnknownUnixUser is the code of Check's refusal of a name that is not a
// Unix user of this machine (the other refusals are "invalid_unix_user").
const CodeUnknownUnixUser = "unknown_unix_user"

// Check reports whether an account may be mapped to the Unix user name: nil,
// or a 400 naming unix_user and the reason. It refuses root, every uid below
// UID_MIN (system accounts), the PostgreSQL server's user, and members
// (primary or supplementary) of PrivilegedGroups. That the user is not
// already another account's is the store's to check (a unique index).
func (u *UnixUsers) Check(name string) error {
	if !ValidUnixName(name) {
		return rcq.Invalid("unix_user", "%q is not a Unix login name (lower-case letters, digits, _ - .)", name)
	}
	pw, err := u.lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return &rcq.Error{Kind: rcq.KindInvalid, Code: CodeUnknownUnixUser,
				Msg: fmt.Sprintf("unix_user: %q is not a Unix user on this machine: create it first (useradd)", name)}
		}
		return fmt.Errorf("look up Unix user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(pw.Uid)
	if err != nil {
		return fmt.Errorf("look up Unix user %s: uid %q: %w", name, pw.Uid, err)
	}
	switch {
	case uid == 0:
		return rcq.Invalid("unix_user", "%q has uid 0: rcq never runs jobs as root", name)
	case uid < u.uidMin:
		return rcq.Invalid("unix_user", "%q (uid %d) is a system account: only users with a uid of at least %d (UID_MIN in %s) may run jobs", name, uid, u.uidMin, LoginDefs)
	case u.postgres != "" && name == u.postgres:
		return rcq.Invalid("unix_user", "%q is the PostgreSQL server's user (database.run_as): it could rewrite rcq's database", name)
	}
	if u.postgres != "" {
		if pg, err := u.lookup(u.postgres); err == nil && pg.Uid == pw.Uid {
			return rcq.Invalid("unix_user", "%q has the uid of the PostgreSQL server's user %s (database.run_as): it could rewrite rcq's database", name, u.postgres)
		}
	}
	gids, err := u.groupIDs(pw)
	if err != nil {
		return fmt.Errorf("groups of Unix user %s: %w", name, err)
	}
	if !slices.Contains(gids, pw.Gid) {
		gids = append(gids, pw.Gid)
	}
	for _, gid := range gids {
		if gid == "0" {
			return rcq.Invalid("unix_user", "%q is a member of group 0 (root): rcq never runs jobs with root's powers", name)
		}
		g, err := u.lookupGroupID(gid)
		if err != nil {
			continue // a gid without a name is in no privileged group by name
		}
		if slices.Contains(PrivilegedGroups, g.Name) {
			return rcq.Invalid("unix_user", "%q is a member of the group %s, which can gain root's powers: rcq never runs jobs as such a user (privileged groups: %s)",
				name, g.Name, strings.Join(PrivilegedGroups, ", "))
		}
	}
	return nil
}

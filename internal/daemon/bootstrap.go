package daemon

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"regexp"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/rcq-project/rcq/internal/auth"
	"github.com/rcq-project/rcq/internal/config"
	"github.com/rcq-project/rcq/internal/executor"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/rcq-project/rcq/internal/store"
)

// AdminEmail is the account bootstrap creates on an empty database.
const AdminEmail = rcq.AdminEmail

// booted says what bootstrap did, for the banner.
type booted struct {
	adminPasswordFile string // set when the admin account was created now
	workers           []rcq.Worker
}

// bootstrap prepares an empty database (group "default", the admin account)
// and registers this machine and the configured virtual workers.
func bootstrap(ctx context.Context, cfg *config.Config, st *store.Store, pw *auth.Passwords, stateDir *os.File, logger *slog.Logger) (*booted, error) {
	b := &booted{}
	if err := st.EnsureDefaultGroup(ctx); err != nil {
		return nil, err
	}
	has, err := st.HasUsers(ctx)
	if err != nil {
		return nil, err
	}
	if !has {
		if b.adminPasswordFile, err = createAdmin(ctx, st, pw, stateDir); err != nil {
			return nil, err
		}
		logger.Info("created the admin account", "email", AdminEmail, "password_file", b.adminPasswordFile)
	}
	if !cfg.Root() {
		if err := mapOwner(ctx, st, logger); err != nil {
			return nil, err
		}
	}
	local := rcq.Worker{Name: cfg.Node.Name, Node: cfg.Node.Name, Capacity: detect(cfg.Node)}
	ws := []rcq.Worker{local}
	for _, w := range cfg.Workers {
		ws = append(ws, rcq.Worker{Name: w.Name, Node: cfg.Node.Name,
			Capacity: rcq.Resources{CPUCores: w.CPUCores, MemoryGB: w.MemoryGB, GPUs: w.GPUCount}})
	}
	for _, w := range ws {
		id, err := st.RegisterWorker(ctx, w)
		if err != nil {
			return nil, err
		}
		w.ID = id
		b.workers = append(b.workers, w)
	}
	return b, nil
}

// createAdmin creates the admin account with a random password, written
// first to admin-password in the held state directory: a new file (any old
// one, or whatever was planted there, is unlinked, never written through),
// mode 0600, never through a symbolic link.
func createAdmin(ctx context.Context, st *store.Store, pw *auth.Passwords, stateDir *os.File) (string, error) {
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	password := base64.RawURLEncoding.EncodeToString(raw)
	hash, err := pw.Hash(password)
	if err != nil {
		return "", err
	}
	const name = "admin-password"
	// Write the file first: an account whose password nobody knows is useless.
	if err := unix.Unlinkat(int(stateDir.Fd()), name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return "", fmt.Errorf("admin password file: remove the old one: %w", err)
	}
	f, err := executor.OpenIn(stateDir, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("admin password file: %w", err)
	}
	path := f.Name()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return "", err
	}
	if _, err := f.WriteString(password + "\n"); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if _, err := st.CreateUser(ctx, rcq.User{Email: AdminEmail, GroupID: 1, IsAdmin: true}, hash); err != nil {
		return "", fmt.Errorf("create the admin account: %w", err)
	}
	return path, nil
}

// mapOwner gives rcqd's own user its account on the socket in personal mode:
// admin@localhost is mapped to rcqd's login, unless some account already is.
// The mapping checks of internal/auth do not apply: in personal mode every
// job runs as rcqd's user whatever the mapping says, and the owner may well
// be a sudo member on their own machine.
func mapOwner(ctx context.Context, st *store.Store, logger *slog.Logger) error {
	me, err := user.Current()
	if err != nil {
		// A uid without a login name (some containers): the socket cannot
		// name its account; tokens over the socket and TCP still work.
		logger.Warn("rcqd's own uid has no login name: on the socket it needs a token (rcq-login --email)", "err", err)
		return nil
	}
	if _, err := st.UserByUnixUser(ctx, me.Username); err == nil {
		return nil
	} else if rcq.KindOf(err) != rcq.KindNotFound {
		return err
	}
	admin, _, err := st.UserByEmail(ctx, AdminEmail)
	if err != nil {
		return fmt.Errorf("map %s to %s: %w", AdminEmail, me.Username, err)
	}
	if admin.UnixUser != "" {
		logger.Warn("no account is yours on the socket: "+AdminEmail+" is mapped to another Unix user; map one to you with rcq-admin user set",
			"unix_user", me.Username, "admin_unix_user", admin.UnixUser)
		return nil
	}
	if _, err := st.UpdateUser(ctx, admin.ID, rcq.UserPatch{UnixUser: &me.Username}); err != nil {
		return fmt.Errorf("map %s to %s: %w", AdminEmail, me.Username, err)
	}
	logger.Info("mapped the admin account to rcqd's own user: on the socket, that user needs no password", "email", AdminEmail, "unix_user", me.Username)
	return nil
}

// detect fills the local machine's size where the configuration leaves it 0.
func detect(n config.Node) rcq.Resources {
	r := rcq.Resources{CPUCores: n.CPUCores, MemoryGB: n.MemoryGB, GPUs: n.GPUCount}
	if r.CPUCores == 0 {
		r.CPUCores = runtime.NumCPU()
	}
	if r.MemoryGB == 0 {
		r.MemoryGB = memoryGB()
	}
	if n.GPUCount == 0 {
		r.GPUs = gpuCount()
	}
	return r
}

// memoryGB reads MemTotal from /proc/meminfo, in whole GiB (at least 1).
func memoryGB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			return max(1, int(kb>>20))
		}
	}
	return 1
}

var nvidiaDevice = regexp.MustCompile(`^nvidia[0-9]+$`)

// gpuCount counts NVIDIA devices in /dev (nvidia0, nvidia1, ...).
func gpuCount() int {
	ents, err := os.ReadDir("/dev")
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range ents {
		if nvidiaDevice.MatchString(e.Name()) {
			n++
		}
	}
	return n
}

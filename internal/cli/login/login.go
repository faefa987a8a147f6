// Package login is rcq-login: it logs in to rcqd (creating the account
// first with --register) and keeps the token in the credentials file; it
// also shows the session (--status) and forgets it (--logout).
package login

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/apitype"
	"github.com/rcq-project/rcq/internal/cli"
	"github.com/rcq-project/rcq/internal/client"
	"github.com/rcq-project/rcq/internal/rcq"
	"github.com/spf13/cobra"
)

// Options is what the command line gave rcq-login.
type Options struct {
	F *cli.Factory

	Email         string
	PasswordStdin bool
	Register      bool
	Group         int64
	Status        bool
	Logout        bool
	All           bool // with Logout: every session of the account
	Password      bool // change the account's password
	JSON          bool
}

const long = `Log in to rcqd and keep the token for the other rcq commands.

On rcqd's Unix socket no password is needed: rcqd knows you by your Unix
user, and rcq-login just fetches a token for your account (the account is
made on first use when rcqd runs as root). The other commands need no login
there at all; the token serves where the kernel cannot vouch for you (over
TCP, or copied to another tool). With --email, or over TCP, rcq-login asks for
your email and password (the password without echo).

The token is stored, with the server it belongs to, in
$XDG_CONFIG_HOME/rcq/credentials (~/.config/rcq/credentials), a file only
you can read. The other commands use it until it expires; RCQ_TOKEN, when
set, is used instead of the file.

--register creates an account with a password first (in group 1; only an
admin may give another --group). --status shows who you are and when the
token expires. --logout ends this session (its token stops working on the
server) and forgets the file; your other sessions, on other machines or in
CI, go on. --logout --all ends every session of your account.

The server is --server, else RCQ_SERVER, else the local rcqd's socket: your
own rcqd's, else the system rcqd's (/run/rcq/rcqd.sock).

` + cli.ExitStatusHelp

const example = `  rcq-login
  rcq-login --email ann@lab.example
  rcq-login --register --email ann@lab.example
  rcq-login --server https://rcq.lab.example:8443
  printf '%s\n' "$PASSWORD" | rcq-login --email ann@lab.example --password-stdin
  rcq-login --status
  rcq-login --logout
  rcq-login --logout --all
  rcq-login --password`

// NewCmd builds rcq-login. runF, when not nil, replaces the run.
func NewCmd(f *cli.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{F: f}
	cmd := &cobra.Command{
		Use:     "rcq-login [flags]",
		Short:   "Log in to rcq and keep the token",
		Long:    long,
		Example: example,
		Args:    cli.ArgsUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if n := count(opts.Status, opts.Logout, opts.Register, opts.Password); n > 1 || (opts.Status || opts.Logout || opts.Password) && opts.Email != "" || (opts.Status || opts.Logout) && opts.PasswordStdin {
				return cli.Usagef("--status, --logout, --password and logging in (--register, --email, --password-stdin) do not go together")
			}
			if cmd.Flags().Changed("group") && !opts.Register {
				return cli.Usagef("--group is for --register")
			}
			if opts.All && !opts.Logout {
				return cli.Usagef("--all is for --logout")
			}
			if runF != nil {
				return runF(opts)
			}
			ctx := cmd.Context()
			switch {
			case opts.Status:
				return statusRun(ctx, opts)
			case opts.Logout:
				return logoutRun(ctx, opts)
			case opts.Password:
				return passwordRun(ctx, opts)
			}
			return loginRun(ctx, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Email, "email", "", "your account's `EMAIL` (asked for when not given)")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the password from the first line of standard input")
	fl.BoolVar(&opts.Register, "register", false, "create the account, then log in")
	fl.Int64Var(&opts.Group, "group", 1, "`GROUP` id of the new account (with --register; other than 1 only for admins)")
	fl.BoolVar(&opts.Status, "status", false, "show who you are and when the token expires")
	fl.BoolVar(&opts.Logout, "logout", false, "end this session: its token stops working, and is forgotten here")
	fl.BoolVar(&opts.All, "all", false, "with --logout: end every session of your account, on every machine")
	fl.BoolVar(&opts.Password, "password", false, "change your password (then log in again: every session ends)")
	fl.BoolVar(&opts.JSON, "json", false, "print the session as JSON (with --status, or after logging in)")
	_ = cmd.RegisterFlagCompletionFunc("email", cobra.NoFileCompletions)
	_ = cmd.RegisterFlagCompletionFunc("group", cobra.NoFileCompletions)
	return cmd
}

func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// Session is rcq-login --status --json.
type Session struct {
	Server    string    `json:"server"`
	Email     string    `json:"email"`
	UserID    int64     `json:"user_id"`
	GroupID   int64     `json:"group_id"`
	IsAdmin   bool      `json:"is_admin"`
	UnixUser  string    `json:"unix_user,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

func loginRun(ctx context.Context, opts *Options) error {
	f := opts.F
	email := strings.TrimSpace(opts.Email)
	if email == "" && !opts.PasswordStdin && !opts.Register {
		c, err := f.AnonClient()
		if err != nil {
			return err
		}
		if c.Socket() {
			return peerLogin(ctx, opts, c)
		}
	}
	var password string
	switch {
	case opts.PasswordStdin:
		if email == "" {
			return cli.Usagef("--password-stdin needs --email")
		}
		line, err := f.IO.ReadLine()
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read password: %w", err)
		}
		password = line
	case !f.IO.IsStdinTTY():
		return cli.Usagef("no terminal to ask for the password: use --email and --password-stdin")
	default:
		if email == "" {
			line, err := f.IO.Prompt("Email: ")
			if err != nil {
				return fmt.Errorf("read email: %w", err)
			}
			email = strings.TrimSpace(line)
		}
		p, err := f.IO.ReadPassword("Password: ")
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		password = p
		if opts.Register {
			again, err := f.IO.ReadPassword("Password again: ")
			if err != nil {
				return fmt.Errorf("read password: %w", err)
			}
			if again != password {
				return errors.New("the passwords differ: run rcq-login --register again")
			}
		}
	}
	if email == "" {
		return cli.Usagef("no email given")
	}
	if password == "" {
		return cli.Usagef("empty password")
	}
	c, err := f.AnonClient()
	if err != nil {
		return err
	}
	if opts.Register {
		reg, err := c.Register(ctx, apitype.RegisterRequest{Email: email, Password: password, GroupID: opts.Group})
		if err != nil {
			return err
		}
		f.Errorf("Registered %s", email)
		if reg.Warning != "" {
			f.Warnf("%s", reg.Warning)
		}
	}
	resp, err := c.Login(ctx, apitype.LoginRequest{Email: email, Password: password})
	if errors.Is(err, rcq.ErrUnauthorized) {
		// A refused password is not an expired session.
		return &cli.ExitError{Code: cli.ExitAuth, Err: fmt.Errorf("log in as %s: %s", email, rcq.MessageOf(err))}
	}
	if err != nil {
		return err
	}
	return saveLogin(opts, c, resp, email)
}

// peerLogin fetches a token for the caller's Unix user's account on the
// socket, with no password.
func peerLogin(ctx context.Context, opts *Options, c *client.Client) error {
	resp, err := c.PeerToken(ctx)
	if err != nil {
		return err
	}
	return saveLogin(opts, c, resp, resp.User.Email)
}

// saveLogin keeps the token of a login and says so.
func saveLogin(opts *Options, c *client.Client, resp *apitype.LoginResponse, email string) error {
	f := opts.F
	path, err := f.CredentialsPath()
	if err != nil {
		return err
	}
	creds := &client.Credentials{Server: c.Server(), Token: resp.Token, Email: resp.User.Email, ExpiresAt: resp.ExpiresAt}
	if creds.Email == "" {
		creds.Email = email
	}
	if err := client.SaveCredentials(path, creds); err != nil {
		return err
	}
	if opts.JSON {
		return cli.PrintJSON(f.IO.Out, session(creds, &resp.User))
	}
	fmt.Fprintf(f.IO.Out, "Logged in to %s as %s%s\n", c.Server(), creds.Email, expiry(creds.ExpiresAt, f.Now()))
	return nil
}

func session(creds *client.Credentials, u *apitype.UserInfo) Session {
	return Session{Server: creds.Server, Email: u.Email, UserID: u.ID, GroupID: u.GroupID, IsAdmin: u.IsAdmin,
		UnixUser: u.UnixUser, ExpiresAt: creds.ExpiresAt}
}

func expiry(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	return fmt.Sprintf("; the token expires %s (in %s)", t.Local().Format("2006-01-02 15:04 MST"), t.Sub(now).Round(time.Minute))
}

func statusRun(ctx context.Context, opts *Options) error {
	f := opts.F
	s, err := f.Client()
	if err != nil {
		return err
	}
	u, err := s.Client.Me(ctx)
	if err != nil {
		return err
	}
	creds := &client.Credentials{Server: s.Server()}
	if f.Getenv("RCQ_TOKEN") == "" {
		if saved, err := f.Credentials(); err == nil {
			creds = saved
		}
	}
	if opts.JSON {
		return cli.PrintJSON(f.IO.Out, session(creds, u))
	}
	role := ""
	if u.IsAdmin {
		role = ", admin"
	}
	if s.Token() == "" {
		fmt.Fprintf(f.IO.Out, "Known to %s as %s (user %d, group %d%s) by your Unix user: no login needed on the socket\n",
			s.Server(), u.Email, u.ID, u.GroupID, role)
		return nil
	}
	from := ""
	if f.Getenv("RCQ_TOKEN") != "" {
		from = " (token from RCQ_TOKEN)"
	}
	fmt.Fprintf(f.IO.Out, "Logged in to %s as %s (user %d, group %d%s)%s%s\n",
		s.Server(), u.Email, u.ID, u.GroupID, role, from, expiry(creds.ExpiresAt, f.Now()))
	return nil
}

// passwordRun changes the caller's password.
func passwordRun(ctx context.Context, opts *Options) error {
	f := opts.F
	s, err := f.Client()
	if err != nil {
		return err
	}
	// Known by the kernel (the socket, no saved token): no current password.
	_, credErr := f.Credentials()
	byPeer := s.Socket() && errors.Is(credErr, client.ErrNoCredentials) && f.Getenv("RCQ_TOKEN") == ""
	var req apitype.PasswordRequest
	switch {
	case opts.PasswordStdin:
		if !byPeer {
			if req.OldPassword, err = f.IO.ReadLine(); err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("read the current password: %w", err)
			}
		}
		if req.NewPassword, err = f.IO.ReadLine(); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read the new password: %w", err)
		}
	case !f.IO.IsStdinTTY():
		return cli.Usagef("no terminal to ask for the passwords: use --password-stdin (the current password, then the new one, a line each)")
	default:
		if !byPeer {
			if req.OldPassword, err = f.IO.ReadPassword("Current password: "); err != nil {
				return fmt.Errorf("read the current password: %w", err)
			}
		}
		if req.NewPassword, err = f.IO.ReadPassword("New password: "); err != nil {
			return fmt.Errorf("read the new password: %w", err)
		}
		again, err := f.IO.ReadPassword("New password again: ")
		if err != nil {
			return fmt.Errorf("read the new password: %w", err)
		}
		if again != req.NewPassword {
			return errors.New("the new passwords differ: nothing changed; run rcq-login --password again")
		}
	}
	if req.NewPassword == "" {
		return cli.Usagef("empty new password")
	}
	if _, err := s.ChangePassword(ctx, req); err != nil {
		switch rcq.CodeOf(err) {
		case "invalid_new_password":
			return cli.Usagef("%s", strings.TrimPrefix(rcq.MessageOf(err), "new_password: "))
		case "invalid_credentials": // a 401, but the session is fine
			return &cli.ExitError{Code: cli.ExitFailure, Err: errors.New("the current password does not match: nothing changed")}
		}
		return err
	}
	if path, err := f.CredentialsPath(); err == nil && credErr == nil {
		_ = client.RemoveCredentials(path) // its token has just ended
	}
	fmt.Fprintln(f.IO.Out, "Password changed: every session of your account has ended; log in again with the new password")
	return nil
}

func logoutRun(ctx context.Context, opts *Options) error {
	f := opts.F
	path, err := f.CredentialsPath()
	if err != nil {
		return err
	}
	creds, err := f.Credentials()
	noCreds := errors.Is(err, client.ErrNoCredentials)
	var perm *client.PermissionError
	if err != nil && !noCreds && !errors.As(err, &perm) {
		return err
	}
	// The server is told when a token can be ended, or, with --all, when
	// the socket knows the caller without one.
	if opts.All || err == nil && !creds.Expired(f.Now()) {
		s, cerr := f.Client()
		if cerr == nil {
			_, cerr = s.Logout(ctx, opts.All)
		}
		var conn *client.ConnError
		switch {
		case cerr == nil, errors.Is(cerr, rcq.ErrUnauthorized) && !opts.All:
		case errors.As(cerr, &conn) && !opts.All:
			f.Warnf("%v; the token is forgotten here but stays valid until it expires", cerr)
		default:
			return cerr
		}
	}
	if noCreds && !opts.All {
		fmt.Fprintln(f.IO.Out, "Not logged in")
		return nil
	}
	if !noCreds {
		if err := client.RemoveCredentials(path); err != nil {
			return err
		}
	}
	switch {
	case opts.All:
		fmt.Fprintln(f.IO.Out, "Logged out: every session of your account has ended")
	case creds != nil:
		fmt.Fprintf(f.IO.Out, "Logged out of %s\n", creds.Server)
	default:
		fmt.Fprintln(f.IO.Out, "Logged out")
	}
	return nil
}

// NewRootCmd is the command of the program: NewCmd without a runF.
func NewRootCmd(f *cli.Factory) *cobra.Command { return NewCmd(f, nil) }

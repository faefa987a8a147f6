package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/client"
	"github.com/spf13/cobra"
)

// Factory gives commands what they need from the outside world, so tests can
// replace any of it.
type Factory struct {
	IO   *IOStreams
	Name string // the program's name, prefixed to every error line

	Getenv          func(string) string
	Environ         func() []string
	Getwd           func() (string, error)
	Now             func() time.Time
	CredentialsPath func() (string, error)
	HTTPClient      *http.Client // nil: the default

	server string // --server
}

// NewFactory returns a Factory over the real process environment.
func NewFactory(name string, io *IOStreams) *Factory {
	return &Factory{
		IO:              io,
		Name:            name,
		Getenv:          os.Getenv,
		Environ:         os.Environ,
		Getwd:           os.Getwd,
		Now:             time.Now,
		CredentialsPath: client.CredentialsPath,
	}
}

// Setup makes cmd a root command of an rcq program: errors and usage are
// printed by Run only, the --server flag is added, and no default
// "completion" subcommand is added (completions/ ships the scripts).
func (f *Factory) Setup(cmd *cobra.Command) *cobra.Command {
	cmd.SilenceErrors = true
	cmd.SilenceUsage = true
	cmd.DisableAutoGenTag = true
	cmd.CompletionOptions.DisableDefaultCmd = true
	if cmd.PersistentFlags().Lookup("server") == nil {
		cmd.PersistentFlags().StringVar(&f.server, "server", "",
			"`URL` of rcqd: unix:///path/rcqd.sock or http(s)://host:port (default: $RCQ_SERVER, the server you logged in to, the local socket)")
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	return cmd
}

// ServerFlag returns the --server value, "" when not given.
func (f *Factory) ServerFlag() string { return f.server }

// explicitServer is --server, else RCQ_SERVER.
func (f *Factory) explicitServer() string {
	if f.server != "" {
		return f.server
	}
	return f.Getenv("RCQ_SERVER")
}

// Server is the server commands talk to: --server, RCQ_SERVER, the server of
// the saved credentials, or the local daemon's socket.
func (f *Factory) Server() string {
	if s := f.target(); s != "" {
		return s
	}
	return client.DefaultServer()
}

// target is Server, but "" for the local daemon's socket: the client then
// looks for the user's own rcqd's socket, then the system rcqd's, and names
// both when neither answers.
func (f *Factory) target() string {
	if s := f.explicitServer(); s != "" {
		return s
	}
	if creds, err := f.Credentials(); err == nil && creds.Server != "" {
		return creds.Server
	}
	return ""
}

// Credentials reads the saved credentials.
func (f *Factory) Credentials() (*client.Credentials, error) {
	path, err := f.CredentialsPath()
	if err != nil {
		return nil, err
	}
	return client.LoadCredentials(path)
}

// AnonClient returns a client without a token. On a Unix socket rcqd still
// knows who it is: the caller's Unix user.
func (f *Factory) AnonClient() (*client.Client, error) {
	return f.newClient(f.target(), "")
}

func (f *Factory) newClient(server, token string) (*client.Client, error) {
	opts := []client.Option{client.WithUserAgent(f.Name)}
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	if f.HTTPClient != nil {
		opts = append(opts, client.WithHTTPClient(f.HTTPClient))
	}
	c, err := client.New(server, opts...)
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	return c, nil
}

// Session is an authenticated client and who it speaks for.
type Session struct {
	*client.Client
	Email string // "" when only RCQ_TOKEN is known; see Me
}

// Client returns a client carrying the caller's token: RCQ_TOKEN, or the saved
// credentials when they belong to the server in use. With neither, on a Unix
// socket, it returns a client without a token: rcqd knows the caller by uid.
func (f *Factory) Client() (*Session, error) {
	if tok := f.Getenv("RCQ_TOKEN"); tok != "" {
		c, err := f.newClient(f.target(), tok)
		if err != nil {
			return nil, err
		}
		return &Session{Client: c}, nil
	}
	creds, err := f.Credentials()
	if errors.Is(err, client.ErrNoCredentials) {
		c, cerr := f.newClient(f.target(), "")
		if cerr != nil {
			return nil, cerr
		}
		if c.Socket() {
			return &Session{Client: c}, nil
		}
		return nil, &AuthError{Msg: "not logged in: run rcq-login"}
	}
	if err != nil {
		return nil, err
	}
	server := f.explicitServer()
	if server == "" {
		server = creds.Server
	}
	if !sameServer(server, creds.Server) {
		return nil, &AuthError{Msg: fmt.Sprintf("not logged in to %s (you are logged in to %s): run rcq-login --server %s", server, creds.Server, server)}
	}
	if creds.Expired(f.Now()) {
		return nil, &AuthError{Msg: "session expired: run rcq-login"}
	}
	c, err := f.newClient(server, creds.Token)
	if err != nil {
		return nil, err
	}
	return &Session{Client: c, Email: creds.Email}, nil
}

func sameServer(a, b string) bool {
	norm := func(s string) string {
		if strings.HasPrefix(s, "/") {
			s = "unix://" + s
		}
		if s == "" {
			s = client.DefaultServer()
		}
		return strings.TrimSuffix(s, "/")
	}
	return norm(a) == norm(b)
}

// Me returns the caller's email, asking rcqd when the session does not know it.
func (s *Session) Me(ctx context.Context) (string, error) {
	if s.Email != "" {
		return s.Email, nil
	}
	u, err := s.Client.Me(ctx)
	if err != nil {
		return "", err
	}
	s.Email = u.Email
	return s.Email, nil
}

// GroupName returns the name of the caller's group (Slurm's account).
func (s *Session) GroupName(ctx context.Context) (string, error) {
	me, err := s.Client.Me(ctx)
	if err != nil {
		return "", err
	}
	if s.Email == "" {
		s.Email = me.Email
	}
	share, err := s.Share(ctx)
	if err != nil {
		return "", err
	}
	for _, g := range share.Groups {
		if g.ID == me.GroupID {
			return g.Name, nil
		}
	}
	return "", fmt.Errorf("group %d of %s not found", me.GroupID, me.Email)
}

// Warnf writes one warning line on stderr, prefixed with the program's name.
func (f *Factory) Warnf(format string, args ...any) {
	word := "warning"
	if f.IO.ColorEnabled() {
		word = "\x1b[33mwarning\x1b[0m"
	}
	fmt.Fprintf(f.IO.ErrOut, "%s: %s: %s\n", f.Name, word, fmt.Sprintf(format, args...))
}

// Errorf writes one error line on stderr, prefixed with the program's name,
// for errors that do not end the command.
func (f *Factory) Errorf(format string, args ...any) {
	fmt.Fprintf(f.IO.ErrOut, "%s: %s\n", f.Name, fmt.Sprintf(format, args...))
}

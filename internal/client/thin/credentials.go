package thin

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rcq-project/rcq/internal/jsonscan"
)

// Credentials is what rcq-login keeps: the token and the server it belongs to.
type Credentials struct {
	Server    string    `json:"server"`
	Token     string    `json:"token"`
	Email     string    `json:"email"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Expired reports whether the token's expiry is known and past at now.
func (c *Credentials) Expired(now time.Time) bool {
	return !c.ExpiresAt.IsZero() && !now.Before(c.ExpiresAt)
}

// CredentialsPath is $XDG_CONFIG_HOME/rcq/credentials, or
// ~/.config/rcq/credentials when XDG_CONFIG_HOME is unset.
func CredentialsPath() (string, error) {
	return CredentialsPathFrom(os.Getenv, os.UserHomeDir)
}

// CredentialsPathFrom is CredentialsPath for an environment and a home
// directory lookup.
func CredentialsPathFrom(getenv func(string) string, home func() (string, error)) (string, error) {
	if dir := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "rcq", "credentials"), nil
	}
	h, err := home()
	if err != nil || h == "" {
		return "", errors.New("find the credentials file: no home directory and no XDG_CONFIG_HOME")
	}
	return filepath.Join(h, ".config", "rcq", "credentials"), nil
}

// ErrNoCredentials is returned by LoadCredentials when nobody logged in.
var ErrNoCredentials = errors.New("not logged in: run rcq-login")

// PermissionError refuses a credentials file that others may read.
type PermissionError struct {
	Path string
	Mode fs.FileMode
}

func (e *PermissionError) Error() string {
	mode := strconv.FormatUint(uint64(e.Mode.Perm()), 8)
	mode = strings.Repeat("0", 4-len(mode)) + mode
	return e.Path + " is readable by other users (mode " + mode + "): fix it with: chmod 600 " + e.Path
}

// LoadCredentials reads the credentials file at path. A missing file gives
// ErrNoCredentials; a file readable by group or others gives a *PermissionError
// and is not read. The file rcq-login writes (a flat object of plain
// strings) is read here; any other shape (escapes, other keys or spellings)
// is left to decode, encoding/json's Unmarshal for the full commands (so the
// result is always encoding/json's: TestDecodeCredentialsMatchesEncodingJSON),
// or refused when decode is nil: the start-up paths link no encoding/json,
// whose package initialisation cost each start more than the rest of reading
// the file, and leave such a file to the full command.
func LoadCredentials(path string, decode func([]byte, any) error) (*Credentials, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoCredentials
	}
	if err != nil {
		return nil, &prefixed{"read credentials", err, ""}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &prefixed{"read credentials", err, ""}
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, &PermissionError{Path: path, Mode: st.Mode()}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, &prefixed{"read credentials", err, ""}
	}
	var c Credentials
	if err := decodeCredentials(data, &c, decode); err != nil {
		return nil, &prefixed{"read credentials " + path, err, "run rcq-login again"}
	}
	if c.Token == "" {
		return nil, ErrNoCredentials
	}
	return &c, nil
}

// errNotPlain: the credentials are not in the form rcq-login writes, and
// the caller reads no other.
var errNotPlain = errors.New("not the form rcq-login writes")

// decodeCredentials reads data into c: plainCredentials, else decode
// (errNotPlain when decode is nil).
func decodeCredentials(data []byte, c *Credentials, decode func([]byte, any) error) error {
	if plainCredentials(data, c) {
		return nil
	}
	if decode == nil {
		return errNotPlain
	}
	*c = Credentials{}
	return decode(data, c)
}

// prefixed is fmt.Errorf("prefix: %w: suffix", err) (no suffix when it is
// ""), without linking fmt.
type prefixed struct {
	prefix string
	err    error
	suffix string
}

func (e *prefixed) Error() string {
	if e.suffix == "" {
		return e.prefix + ": " + e.err.Error()
	}
	return e.prefix + ": " + e.err.Error() + ": " + e.suffix
}
func (e *prefixed) Unwrap() error { return e.err }

// plainCredentials decodes data into c when it is a flat object whose
// members are Credentials' keys spelled as tagged, each once, with ASCII
// string values without escapes; it reports false (c unchanged) for
// anything else.
func plainCredentials(data []byte, c *Credentials) bool {
	var out Credentials
	s := jsonscan.Scanner{B: data}
	var key string
	seen := map[string]bool{}
	ok := s.Members(func(raw []byte, plain bool) bool {
		key = string(raw[1 : len(raw)-1])
		if !plain || seen[key] {
			return false
		}
		seen[key] = true
		return true
	}, func() bool {
		raw, plain, ok := s.String()
		if !ok || !plain {
			return false
		}
		v := string(raw[1 : len(raw)-1])
		switch key {
		case "server":
			out.Server = v
		case "token":
			out.Token = v
		case "email":
			out.Email = v
		case "expires_at":
			return out.ExpiresAt.UnmarshalJSON(raw) == nil
		default:
			return false
		}
		return true
	})
	if !ok || !s.End() {
		return false
	}
	*c = out
	return true
}

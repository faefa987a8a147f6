package config

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Mask replaces a secret in printed configuration.
const Mask = "********"

// Masked returns the effective configuration as nested maps keyed like the
// YAML file, with the JWT secret and any password in the database URL
// replaced by Mask. Durations are Go duration strings, the socket mode an
// octal string.
func (c *Config) Masked() map[string]any {
	m := map[string]any{}
	for i := range keys {
		setNested(m, keys[i].Name, c.printable(&keys[i]))
	}
	return m
}

// printable returns k's value as it may be shown.
func (c *Config) printable(k *Key) any {
	switch v := deref(k.field(c)).(type) {
	case time.Duration:
		return fmtDuration(v)
	case os.FileMode:
		return fmt.Sprintf("%04o", uint32(v))
	case []WorkerConfig:
		ws := []printedWorker{}
		for _, w := range v {
			ws = append(ws, printedWorker(w))
		}
		return ws
	case []string:
		return append([]string{}, v...)
	case string:
		switch {
		case k.Name == "database.url":
			return MaskURL(v)
		case k.Secret && v != "":
			return Mask
		}
		return v
	default:
		return v
	}
}

// printedWorker is a worker as the configuration file spells it.
type printedWorker struct {
	Name     string `yaml:"name" json:"name"`
	CPUCores int    `yaml:"cpu_cores" json:"cpu_cores"`
	MemoryGB int    `yaml:"memory_gb" json:"memory_gb"`
	GPUCount int    `yaml:"gpu_count" json:"gpu_count"`
}

// WriteTo writes the effective configuration as YAML, in the order of Keys,
// secrets masked, each value not from a default commented with its source:
// what `rcqd config` prints.
func (c *Config) WriteTo(w io.Writer) (int64, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode}
	if c.File != "" {
		doc.HeadComment = "configuration file: " + c.File
	} else {
		doc.HeadComment = "no configuration file"
	}
	doc.HeadComment += "\n" + c.ModeLine()
	sections := map[string]*yaml.Node{}
	for i := range keys {
		k := &keys[i]
		parent, name := doc, k.Name
		if sec, rest, ok := strings.Cut(k.Name, "."); ok {
			if sections[sec] == nil {
				sections[sec] = &yaml.Node{Kind: yaml.MappingNode}
				doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: sec}, sections[sec])
			}
			parent, name = sections[sec], rest
		}
		val := &yaml.Node{}
		if err := val.Encode(c.printable(k)); err != nil {
			return 0, fmt.Errorf("print %s: %w", k.Name, err)
		}
		key := &yaml.Node{Kind: yaml.ScalarNode, Value: name}
		switch src := c.Source(k.Name); {
		case k.Name == "auth.jwt_secret" && c.Auth.JWTSecret == "":
			key.LineComment = "generated into " + c.JWTSecretFile()
		case src != "default":
			key.LineComment = "from " + src
		}
		parent.Content = append(parent.Content, key, val)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return 0, err
	}
	if err := enc.Close(); err != nil {
		return 0, err
	}
	n, err := w.Write(buf.Bytes())
	return int64(n), err
}

// ModeLine says which mode rcqd runs in and what that means, in one line:
// for `rcqd config` and the start-up banner.
func (c *Config) ModeLine() string {
	if c.root {
		return "mode: system (rcqd runs as root: each local user is their own account on the socket, jobs run as the account's Unix user)"
	}
	return fmt.Sprintf("mode: personal (rcqd runs as uid %d, not root: every job runs as that user, so only that user may use it)", os.Geteuid())
}

var dsnPassword = regexp.MustCompile(`(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)

// MaskURL returns a PostgreSQL URL or key=value string with any password
// replaced by Mask. A URL it cannot parse is masked whole.
func MaskURL(s string) string {
	if s == "" {
		return ""
	}
	if !strings.Contains(s, "://") {
		return dsnPassword.ReplaceAllString(s, "${1}"+Mask)
	}
	u, err := url.Parse(s)
	if err != nil {
		return Mask
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), maskStandIn)
		}
	}
	q := u.Query()
	for name := range q {
		if strings.EqualFold(name, "password") || strings.EqualFold(name, "sslpassword") {
			q.Set(name, maskStandIn)
		}
	}
	u.RawQuery = q.Encode()
	return strings.ReplaceAll(u.String(), maskStandIn, Mask)
}

// maskStandIn takes a secret's place while the URL is re-encoded (which
// would escape Mask's characters); Mask replaces it afterwards.
const maskStandIn = "rcqmaskedsecret"

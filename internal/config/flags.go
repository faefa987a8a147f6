package config

import "github.com/spf13/pflag"

// BindFlags defines rcqd's configuration flags on fs. Load reads the ones
// the user set; unset flags leave the key to the environment, the file and
// the defaults.
func BindFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "read configuration from `FILE` (default $XDG_CONFIG_HOME/rcq/rcqd.yaml, then "+SystemConfigFile+")")
	fs.String("state-dir", "", "keep the private database, secrets and logs in `DIR` (default $XDG_STATE_HOME/rcq, /var/lib/rcq as root)")
	fs.String("database-url", "", "use the PostgreSQL server at `URL` instead of a private one")
	fs.String("socket", "", "serve the API on the Unix socket `PATH` (default $XDG_RUNTIME_DIR/rcq/rcqd.sock, /run/rcq/rcqd.sock as root)")
	fs.String("listen", "", "serve the API on TCP `ADDR` (default 127.0.0.1:8080; an empty value turns TCP off)")
	fs.String("log-level", "", "log at `LEVEL`: debug, info, warn or error (default info)")
}

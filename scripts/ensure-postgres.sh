#!/usr/bin/env bash
# ensure-postgres.sh: make sure the PostgreSQL server binaries (initdb, pg_ctl, postgres) that
# rcqd's embedded database and the test harness need are installed.
#
# Found on PATH, in /usr/lib/postgresql/*/bin or through `pg_config --bindir`: exit 0 quietly.
# Missing: install the postgresql package with apt-get as root, or with sudo when sudo needs no
# password; otherwise print the one command to run and exit 1. As root, also make sure the
# unprivileged `postgres` user exists, since PostgreSQL refuses to run as root.
set -euo pipefail

has_server() {
	local dir=$1
	[[ -n $dir && -x $dir/initdb && -x $dir/pg_ctl && -x $dir/postgres ]]
}

find_server() {
	local dir
	local -a path_dirs
	IFS=: read -r -a path_dirs <<<"${PATH:-}"
	for dir in "${path_dirs[@]}"; do
		if has_server "$dir"; then
			return 0
		fi
	done
	for dir in /usr/lib/postgresql/*/bin; do
		if has_server "$dir"; then
			return 0
		fi
	done
	if command -v pg_config >/dev/null 2>&1; then
		dir=$(pg_config --bindir 2>/dev/null || true)
		if has_server "$dir"; then
			return 0
		fi
	fi
	return 1
}

ensure_postgres_user() {
	[[ $(id -u) -eq 0 ]] || return 0
	id -u postgres >/dev/null 2>&1 && return 0
	echo "ensure-postgres: creating the postgres system user (PostgreSQL refuses to run as root)" >&2
	useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
}

install_command() {
	if command -v apt-get >/dev/null 2>&1; then
		echo "sudo apt-get install -y postgresql"
	elif command -v brew >/dev/null 2>&1; then
		echo "brew install postgresql@15"
	else
		echo "install the PostgreSQL server package (postgresql) with your system's package manager"
	fi
}

# apt_install installs the server with apt-get, run through "$@" (nothing, or sudo -n).
apt_install() {
	local conf=/etc/postgresql-common/createcluster.conf
	echo "ensure-postgres: installing the PostgreSQL server (apt-get install postgresql)" >&2
	"$@" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	# rcq runs private clusters of its own: ask the package not to create (and start) the
	# system-wide "main" cluster. pg_createcluster still makes one on demand.
	"$@" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql-common
	if [[ -f $conf ]]; then
		"$@" sed -i -E 's/^#?[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' "$conf" ||
			echo "ensure-postgres: could not edit $conf; the package may create a main cluster" >&2
	fi
	"$@" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
}

main() {
	if find_server; then
		ensure_postgres_user
		return 0
	fi
	if command -v apt-get >/dev/null 2>&1; then
		if [[ $(id -u) -eq 0 ]]; then
			apt_install
		elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
			apt_install sudo -n
		fi
	fi
	if ! find_server; then
		echo "ensure-postgres: the PostgreSQL server is not installed: run $(install_command) (or set RCQ_DATABASE_URL to use an existing server)" >&2
		return 1
	fi
	ensure_postgres_user
}

main "$@"

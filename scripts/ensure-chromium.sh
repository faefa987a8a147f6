#!/usr/bin/env bash
# ensure-chromium.sh: make sure the headless Chromium the dashboard's browser tests drive
# (make test-ui, make screenshots) is installed.
#
# Found (/usr/bin/chromium, or chromium / chromium-browser on PATH): print its path, exit 0.
# Missing: install Debian's chromium package with apt-get as root, or with sudo when sudo needs no
# password; otherwise print the one command to run and exit 1.
set -euo pipefail

find_chromium() {
	local c
	for c in /usr/bin/chromium chromium chromium-browser; do
		if command -v "$c" >/dev/null 2>&1; then
			command -v "$c"
			return 0
		fi
	done
	return 1
}

apt_install() {
	echo "ensure-chromium: installing Chromium (apt-get install chromium)" >&2
	"$@" env DEBIAN_FRONTEND=noninteractive apt-get update -q
	"$@" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
}

main() {
	if find_chromium; then
		return 0
	fi
	if command -v apt-get >/dev/null 2>&1; then
		if [[ $(id -u) -eq 0 ]]; then
			apt_install >&2
		elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
			apt_install sudo -n >&2
		fi
	fi
	if ! find_chromium; then
		echo "ensure-chromium: Chromium is not installed: run sudo apt-get install chromium (or set RCQ_CHROMIUM to a Chromium or Chrome binary)" >&2
		return 1
	fi
}

main "$@"

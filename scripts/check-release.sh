#!/usr/bin/env bash
# Builds the release as CI would (goreleaser, pinned in tools/go.mod, as a
# snapshot that publishes nothing), then installs the amd64 .deb into a
# throwaway root and checks that it holds what a package must: the binaries
# (which run), the man pages, the completions and the systemd unit.
set -euo pipefail
cd "$(dirname "$0")/.."
goreleaser() { go tool -modfile=tools/go.mod goreleaser "$@"; }

goreleaser check
goreleaser release --snapshot --clean --skip=publish

deb=$(ls dist/*_amd64.deb 2>/dev/null | head -n1)
[ -n "$deb" ] || { echo "check-release: no amd64 .deb in dist/" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# A root of its own: dpkg's database lives inside it, nothing touches the host.
mkdir -p "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/info"
touch "$root/var/lib/dpkg/status"
dpkg --root="$root" --force-not-root --force-depends --force-script-chrootless -i "$deb" >/dev/null

missing=0
need() { [ -e "$root/$1" ] || { echo "check-release: $deb lacks /$1" >&2; missing=1; }; }
for b in rcqd rcq-supervise rcq rcq-login rcq-submit rcq-queue rcq-cancel rcq-show rcq-control rcq-acct rcq-info rcq-share rcq-tail rcq-admin; do
	need "usr/bin/$b"
done
need usr/share/man/man1/rcq-submit.1
need usr/share/man/man8/rcqd.8
need usr/share/bash-completion/completions/rcq-submit
need lib/systemd/system/rcqd.service
[ "$missing" = 0 ] || exit 1
"$root/usr/bin/rcq-submit" --help >/dev/null
"$root/usr/bin/rcqd" --help >/dev/null
for f in dist/*darwin*; do
	case "$f" in *rcqd*|*supervise*) echo "check-release: $f: the daemon is Linux only" >&2; exit 1 ;; esac
done
echo "check-release: $(basename "$deb") installs $(dpkg --root="$root" -L rcq | wc -l) paths; binaries, man pages, completions and the systemd unit present"

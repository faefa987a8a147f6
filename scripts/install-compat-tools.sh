#!/usr/bin/env bash
# make test-compat: installs the workflow tools it runs, from Debian's
# packages (the Python package index is not needed): Snakemake (its built-in
# Slurm executor) and Toil (its Slurm batch system). Fails, saying why, when
# they are missing and cannot be installed: the target never passes without
# running them.
set -euo pipefail
have() { [ -x /usr/bin/snakemake ] && [ -x /usr/bin/toil ] && [ -x /usr/bin/_toil_worker ]; }
if have; then
	exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
	echo "test-compat: snakemake and toil are not installed, and installing them needs root and apt-get: run as root on Debian/Ubuntu, or: sudo apt-get install snakemake toil" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 snakemake toil; then
	apt-get update -o DPkg::Lock::Timeout=600 || true
	apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=600 snakemake toil || {
		echo "test-compat: could not install Debian's snakemake and toil packages (see apt-get's output above)" >&2
		exit 1
	}
fi
have || { echo "test-compat: snakemake and toil still missing after apt-get install" >&2; exit 1; }

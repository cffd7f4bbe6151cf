#!/bin/sh
# Installs what the reference implementations under implementations/ need
# to run on this machine, on Debian, as root (or through sudo). Safe to run
# again: it installs only what is missing and reruns npm ci only when a lock
# file changed.
#
#   scripts/install-implementations.sh [--force]
#
# --force reruns npm ci in every Node.js implementation.
#
# Installs: python3-nacl for the Python implementation (Debian's package,
# run with /usr/bin/python3), nodejs and npm only when node is missing, the
# C libraries of the c-libevent implementation when pkg-config cannot find
# them, and each Node.js implementation's locked dependencies with npm ci.
set -eu

force=0
case "${1:-}" in
--force) force=1 ;;
"") ;;
*)
	echo "usage: $0 [--force]" >&2
	exit 2
	;;
esac

top=$(cd "$(dirname "$0")/.." && pwd)
packages=""

if ! /usr/bin/python3 -c 'import nacl.signing' 2>/dev/null; then
	packages="$packages python3 python3-nacl"
fi
if ! command -v node >/dev/null 2>&1; then
	packages="$packages nodejs npm"
elif ! command -v npm >/dev/null 2>&1; then
	packages="$packages npm"
fi
if ! command -v pkg-config >/dev/null 2>&1 ||
    ! pkg-config --exists libevent jansson libsodium; then
	packages="$packages pkg-config libevent-dev libjansson-dev libsodium-dev"
fi

if [ -n "$packages" ]; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "install-implementations: run as root to" \
			    "install:$packages" >&2
			exit 1
		fi
		sudo=sudo
	fi
	echo "install-implementations: apt-get install$packages"
	$sudo apt-get update -q
	# The list is word-split on purpose: one argument per package.
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
	    --no-install-recommends $packages
fi

# npm writes node_modules/.package-lock.json on every install, so one newer
# than both manifests means the installed tree matches the lock file.
for lock in "$top"/implementations/*/*/package-lock.json; do
	[ -f "$lock" ] || continue
	dir=$(dirname "$lock")
	stamp=$dir/node_modules/.package-lock.json
	if [ "$force" -eq 0 ] && [ -f "$stamp" ] && [ -n "$(find "$stamp" \
	    -newer "$lock" -newer "$dir/package.json")" ]; then
		echo "install-implementations: $dir: node_modules up to date"
		continue
	fi
	echo "install-implementations: $dir: npm ci"
	(cd "$dir" && npm ci --no-audit --no-fund)
done

#!/bin/sh
# Installs the Debian packages perf-agent needs to build, test and run its
# local benchmark, then what the reference implementations need. Safe to
# run again: packages already installed are not fetched.
set -eu

cd "$(dirname "$0")/.."

PACKAGES="build-essential autoconf automake libtool pkg-config curl ca-certificates
python3 libevent-dev libcurl4-openssl-dev libmsgpack-dev libjansson-dev
libsodium-dev libssl-dev libsystemd-dev libhttp-parser-dev libcmocka-dev libyaml-dev
python3-nacl python3-cryptography openssl valgrind clang libclang-rt-14-dev
wrk hey nginx-light libbpf-dev"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
# Node.js may come from another source than Debian; only a missing node
# brings Debian's.
if ! command -v node >/dev/null 2>&1; then
	missing="$missing nodejs npm"
fi

if [ -n "$missing" ]; then
	SUDO=""
	if [ "$(id -u)" -ne 0 ]; then
		SUDO=sudo
	fi
	echo "install-deps: installing$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

if [ -x scripts/install-implementations.sh ]; then
	scripts/install-implementations.sh
fi

# The JSON Schema validator (ajv) used by make check, from its lock file.
if [ -f tools/schema/package-lock.json ] && [ ! -d tools/schema/node_modules ]; then
	echo "install-deps: npm ci in tools/schema (the JSON Schema validator)"
	(cd tools/schema && npm ci --no-audit --no-fund --loglevel=error)
fi

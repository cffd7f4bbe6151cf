#!/bin/sh
# Configures and builds perf-agent in build/ (out of tree), with warnings as
# errors. Extra arguments go to configure, e.g. --enable-sanitizers.
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
BUILD=${PERF_AGENT_BUILD:-$TOP/build}

if [ ! -x configure ] || [ configure.ac -nt configure ]; then
	./autogen.sh >/dev/null 2>&1 || ./autogen.sh
fi
mkdir -p "$BUILD"
cd "$BUILD"
if [ ! -f Makefile ] || [ "$TOP/configure" -nt Makefile ] || [ $# -gt 0 ]; then
	"$TOP/configure" --enable-werror "$@"
fi
make -j"$(nproc)"

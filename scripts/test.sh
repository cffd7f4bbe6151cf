#!/bin/sh
# Installs the dependencies, builds perf-agent and runs the whole test suite.
# The last line is the summary "N passed, N failed, N skipped".
set -u

cd "$(dirname "$0")/.."
TOP=$(pwd)
BUILD=${PERF_AGENT_BUILD:-$TOP/build}

scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
scripts/build.sh "$@" || { echo "0 passed, 1 failed"; exit 1; }

cd "$BUILD"
make -j"$(nproc)" check >check.out 2>&1
status=$?
cat check.out

# Automake's summary: a failed test is FAIL, XPASS or ERROR.
count() { sed -n "s/^# $1: *\([0-9]*\)$/\1/p" check.out | tail -1; }
pass=$(count PASS); fail=$(count FAIL); xpass=$(count XPASS)
error=$(count ERROR); skip=$(count SKIP)
failed=$(( ${fail:-0} + ${xpass:-0} + ${error:-0} ))
if [ -z "$pass" ]; then
	# make stopped before the harness ran, or the harness printed nothing.
	failed=$((failed + 1))
	pass=0
fi
if [ "$failed" -gt 0 ] && [ -f test-suite.log ]; then
	echo "--- failures (from $BUILD/test-suite.log) ---"
	grep -E '^(FAIL|ERROR|XPASS):' test-suite.log || true
	# What failed tests printed to explain themselves, last lines only.
	grep -h '^# diag:' test-suite.log | tail -n 40 || true
fi
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
	failed=1
fi
echo "${pass} passed, ${failed} failed, ${skip:-0} skipped"
[ "$failed" -eq 0 ]

#!/bin/sh
# Builds the libFuzzer harnesses of tests/fuzz with clang in a build folder
# of their own and runs each one for a bounded time.
#
# Usage: scripts/fuzz.sh [SECONDS [TARGET...]]
#   SECONDS  time limit per harness (libFuzzer -max_total_time); default 60
#   TARGET   validate, frame, jwt, vectors or manifest; default all five
# Environment:
#   FUZZ_BUILD     build folder (default build-fuzz beside the sources)
#   FUZZ_RUNS      stop a harness after this many executions (default
#                  10000000)
#   FUZZ_PARALLEL  harnesses run at once, 1 or 2 (default 1)
#
# The build is configured as
#   CC=clang CFLAGS='-O1 -g -fno-omit-frame-pointer
#     -fsanitize=fuzzer-no-link,address,undefined' configure --enable-fuzzing
# so that the libraries under test carry coverage instrumentation and the
# harnesses link with -fsanitize=fuzzer,address,undefined. Every harness
# runs under nice -n 10 as one libFuzzer process. Its growing corpus is
# kept in FUZZ_BUILD/corpus/TARGET (seeded from tests/fuzz/corpus and
# tests/fuzz/regress), crash inputs go to FUZZ_BUILD/artifacts/TARGET, and
# the log to FUZZ_BUILD/logs/TARGET.log. The script prints one line per
# harness with its executions and exits 1 when a harness found a crash.
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
BUILD=${FUZZ_BUILD:-$TOP/build-fuzz}
DURATION=${1:-60}
RUNS=${FUZZ_RUNS:-10000000}
PARALLEL=${FUZZ_PARALLEL:-1}
[ $# -gt 0 ] && shift
TARGETS=${*:-validate frame jwt vectors manifest}

case $DURATION in
''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, not '$DURATION'" >&2
	exit 2 ;;
esac
case $PARALLEL in
1|2) ;;
*) echo "fuzz.sh: FUZZ_PARALLEL must be 1 or 2, not '$PARALLEL'" >&2
	exit 2 ;;
esac
for t in $TARGETS; do
	case $t in
	validate|frame|jwt|vectors|manifest) ;;
	*) echo "fuzz.sh: unknown target '$t'" >&2; exit 2 ;;
	esac
done
command -v clang >/dev/null || {
	echo "fuzz.sh: clang not found: install clang and libclang-rt-dev" >&2
	exit 2
}

if [ ! -x configure ] || [ configure.ac -nt configure ]; then
	./autogen.sh >/dev/null 2>&1 || ./autogen.sh
fi
mkdir -p "$BUILD"
cd "$BUILD"
FUZZ_CFLAGS='-O1 -g -fno-omit-frame-pointer'
FUZZ_CFLAGS="$FUZZ_CFLAGS -fsanitize=fuzzer-no-link,address,undefined"
if [ ! -f Makefile ] || [ "$TOP/configure" -nt Makefile ]; then
	CC=clang CFLAGS=$FUZZ_CFLAGS LDFLAGS='-fsanitize=address,undefined' \
	    "$TOP/configure" -q --enable-fuzzing
fi
programs=
for t in $TARGETS; do
	programs="$programs tests/fuzz/fuzz_$t"
done
# shellcheck disable=SC2086
make -j2 $programs

# Maximum input length of each harness, in bytes: room for a typical input
# of its kind (a request body, a 1 KiB token, a vector file, a manifest),
# and small enough to keep executions fast. Inputs near the size limits
# (8 MiB frames, 8 KiB tokens) are not fuzzed.
max_len()
{
	case $1 in
	frame|jwt) echo 2048 ;;
	*) echo 8192 ;;
	esac
}

# Runs one harness and prints its summary line.
run_one()
{
	t=$1
	corpus=$BUILD/corpus/$t
	artifacts=$BUILD/artifacts/$t
	log=$BUILD/logs/$t.log
	mkdir -p "$corpus" "$artifacts" "$BUILD/logs"
	for dir in "$TOP/tests/fuzz/corpus/$t" "$TOP/tests/fuzz/regress/$t"; do
		[ -d "$dir" ] || continue
		find "$dir" -maxdepth 1 -type f ! -name '.*' \
		    -exec cp -p {} "$corpus/" \;
	done
	stamp=$BUILD/logs/$t.start
	: >"$stamp"
	start=$(date +%s)
	status=0
	PERF_AGENT_SRCDIR=$TOP nice -n 10 "./tests/fuzz/fuzz_$t" \
	    -max_total_time="$DURATION" -runs="$RUNS" -timeout=10 \
	    -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
	    -print_final_stats=1 -artifact_prefix="$artifacts/" \
	    "$corpus" >"$log" 2>&1 || status=$?
	elapsed=$(( $(date +%s) - start ))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -1)
	files=$(find "$corpus" -type f | wc -l)
	# Only inputs saved by this run: earlier ones stay for inspection.
	crashes=$(find "$artifacts" -type f -newer "$stamp" | wc -l)
	echo "fuzz: $t: ${execs:-0} executions in $elapsed s," \
	    "corpus $files files, $crashes crash inputs, exit $status" \
	    "(log $log)"
	[ "$status" -eq 0 ] && [ "$crashes" -eq 0 ]
}

failed=0
if [ "$PARALLEL" -eq 1 ]; then
	for t in $TARGETS; do
		run_one "$t" || failed=1
	done
else
	# Two at a time: start a pair, wait for both.
	set -- $TARGETS
	while [ $# -gt 0 ]; do
		run_one "$1" & first=$!
		second=
		if [ $# -gt 1 ]; then
			run_one "$2" & second=$!
			shift
		fi
		shift
		wait "$first" || failed=1
		if [ -n "$second" ]; then
			wait "$second" || failed=1
		fi
	done
fi
exit "$failed"

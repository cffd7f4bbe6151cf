# Shared helpers for the shell tests. Each test sources this file, prints
# TAP through ok/fail, and gets its scratch folder and processes removed on
# exit. Every wait is bounded in time; nothing is sent beyond 127.0.0.1.

set -u

: "${PERF_AGENT_BUILDDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${PERF_AGENT_SRCDIR:=$PERF_AGENT_BUILDDIR}"
B=$PERF_AGENT_BUILDDIR
S=$PERF_AGENT_SRCDIR

T_COUNT=0
T_FAILED=0
T_PIDS=""
T_DIR=$(mktemp -d "${TMPDIR:-/tmp}/perf-agent-test.XXXXXX")

# Keeps the scratch folder (with the programs' logs) of a failed test.
# Runs only in the test's own shell: a subshell forked with ( ... ) & keeps
# the EXIT trap and would otherwise stop the test's processes when it ends.
t_cleanup()
{
	[ "${BASHPID:-$$}" = "$T_SHELL_PID" ] || return 0
	for pid in $T_PIDS; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $T_PIDS; do
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	done
	if [ "$T_FAILED" -eq 0 ]; then
		rm -rf "$T_DIR"
	else
		echo "# logs kept in $T_DIR"
	fi
}
T_SHELL_PID=${BASHPID:-$$}
trap t_cleanup EXIT

# Registers a process to be stopped when the test ends.
t_track()
{
	T_PIDS="$T_PIDS $1"
}

t_plan()
{
	echo "1..$1"
}

ok()
{
	T_COUNT=$((T_COUNT + 1))
	echo "ok $T_COUNT - $*"
}

fail()
{
	T_COUNT=$((T_COUNT + 1))
	T_FAILED=$((T_FAILED + 1))
	echo "not ok $T_COUNT - $*"
}

skip()
{
	T_COUNT=$((T_COUNT + 1))
	echo "ok $T_COUNT - # SKIP $*"
}

# check DESCRIPTION COMMAND...: ok when the command succeeds.
check()
{
	desc=$1
	shift
	if "$@"; then ok "$desc"; else fail "$desc"; fi
}

# Prints a TCP port on 127.0.0.1 that was free a moment ago.
free_port()
{
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: retries the command every 0.1 s until it
# succeeds or SECONDS have passed on the clock (a slow command counts its
# own time too). The clock reads whole seconds, so one more is added.
wait_for()
{
	# Names of their own: the command may set variables of the caller's
	# shell, such as end or tries.
	wait_for_end=$(($(date +%s) + $1 + 1))
	shift
	wait_for_tries=0
	while [ "$(date +%s)" -lt "$wait_for_end" ] &&
	    [ "$wait_for_tries" -lt 100000 ]; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
		wait_for_tries=$((wait_for_tries + 1))
	done
	return 1
}

# http_status URL [curl args...]: prints the HTTP status code, or 000.
http_status()
{
	url=$1
	shift
	curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url"
}

# Succeeds when no process whose command line contains $1 is left.
no_process_matching()
{
	! pgrep -f -- "$1" >/dev/null 2>&1
}

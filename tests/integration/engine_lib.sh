# Helpers shared by the engine's integration tests: the loopback test
# server and strict JSON checks on perf-agent-load's output.

. "$PERF_AGENT_SRCDIR/tests/lib.sh"

LOAD=$B/measured/perf-agent-load
ENGINE_SERVER=$S/tests/integration/engine_server.py

# start_server NAME [server options...]: starts engine_server.py on a free
# port, sets PORT, and logs each accepted connection to $T_DIR/NAME.conns.
start_server()
{
	name=$1
	shift
	: >"$T_DIR/$name.conns"
	python3 "$ENGINE_SERVER" --port-file "$T_DIR/$name.port" \
	    --conn-log "$T_DIR/$name.conns" "$@" >"$T_DIR/$name.log" 2>&1 &
	t_track $!
	wait_for 10 test -s "$T_DIR/$name.port" || return 1
	PORT=$(cat "$T_DIR/$name.port")
}

# server_conns NAME: connections the server has accepted so far.
server_conns()
{
	wc -l <"$T_DIR/$1.conns" | tr -d ' '
}

# load NAME [perf-agent-load options...]: runs the engine with a time
# limit, output in $T_DIR/NAME.json; fails unless it exits 0.
load()
{
	name=$1
	shift
	timeout 120 "$LOAD" "$@" >"$T_DIR/$name.json" 2>"$T_DIR/$name.err"
}

# jget FILE EXPR: evaluates a Python expression over the parsed JSON `d`.
# The parse rejects NaN and Infinity, so every check also checks strictness.
jget()
{
	python3 - "$1" "$2" <<'PY'
import json, sys
def reject(const):
    raise ValueError("not strict JSON: " + const)
d = json.load(open(sys.argv[1]), parse_constant=reject)
print(eval(sys.argv[2], {"d": d}))
PY
}

# jcheck DESCRIPTION FILE EXPR: ok when EXPR is true, else prints it.
jcheck()
{
	got=$(jget "$2" "$3" 2>&1 | tail -n 1)
	if [ "$got" = True ]; then
		ok "$1"
	else
		fail "$1"
		echo "#   expected: $3"
		echo "#   in $2: $got"
	fi
}

# jshow FILE EXPR: prints a value for the failure diagnostics.
jshow()
{
	echo "#   $2 = $(jget "$1" "$2" 2>&1 | tail -n 1)"
}

# The eight statistics of the wire shape, for null checks.
STAT_KEYS="['min_ms','max_ms','mean_ms','median_ms','p50_ms','p90_ms','p99_ms','stddev_ms']"

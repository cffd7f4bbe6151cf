#!/bin/sh
# The supervisor's systemd notifications (Type=notify): READY=1 once every
# worker answers, with the worker sockets in place and /health answering
# 200, and STOPPING=1 on SIGTERM, both sent by the supervisor itself. A
# small listener stands in for systemd's NOTIFY_SOCKET.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

t_plan 9

if ! grep -q '^#define HAVE_SYSTEMD 1' "$B/config.h" 2>/dev/null; then
	for i in $(seq 1 9); do
		skip "built without libsystemd (configure found no libsystemd-dev or was given --without-systemd)"
	done
	exit 0
fi

NOTIFY=$T_DIR/notify.sock
EVENTS=$T_DIR/notify.jsonl
RT=$T_DIR/run
API_PORT=$(free_port)
LC_PORT=$(free_port)

python3 "$S/tests/integration/ship_notify.py" "$NOTIFY" "$EVENTS" "$RT" \
    "http://127.0.0.1:$API_PORT/health" 90 >"$T_DIR/listener.log" 2>&1 &
LISTENER=$!
t_track $LISTENER
wait_for 10 test -S "$NOTIFY"

NOTIFY_SOCKET=$NOTIFY "$B/supervisor/perf-agent" --local --runtime-dir "$RT" \
    --port "$API_PORT" --localcloud-port "$LC_PORT" --log-format json \
    >"$T_DIR/agent.log" 2>&1 &
AGENT=$!
t_track $AGENT

# field MESSAGE EXPRESSION: evaluates a Python expression on the record
# `r` of the first notification that carries MESSAGE.
field()
{
	python3 -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if sys.argv[2] in r["message"].split("\n"):
        print(eval(sys.argv[3]))
        break' "$EVENTS" "$1" "$2"
}
has_message() { [ -n "$(field "$1" 'r["message"]')" ]; }

check "READY=1 arrives" wait_for 30 has_message READY=1
check "READY=1 comes from the supervisor's pid" \
    test "$(field READY=1 'r["pid"]')" = "$AGENT"
check "every worker socket exists when READY=1 arrives" \
    test "$(field READY=1 'all(r["sockets"].values())')" = True
check "/health answers 200 when READY=1 arrives" \
    test "$(field READY=1 'r["health"]')" = 200
check "no STOPPING=1 before SIGTERM" test -z "$(field STOPPING=1 'r["message"]')"

kill -TERM "$AGENT"
check "STOPPING=1 arrives after SIGTERM" wait_for 20 has_message STOPPING=1
check "STOPPING=1 comes from the supervisor's pid" \
    test "$(field STOPPING=1 'r["pid"]')" = "$AGENT"
stopped()
{
	! kill -0 "$AGENT" 2>/dev/null
}
if wait_for 20 stopped; then
	ok "the supervisor exits after SIGTERM"
	wait "$AGENT"
	check "the supervisor's exit status is 0" test $? -eq 0
else
	fail "the supervisor exits after SIGTERM"
	fail "the supervisor's exit status is 0: it is still running"
fi

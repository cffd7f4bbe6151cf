#!/bin/sh
# The supervisor end to end: health, kill -9 of each worker, malformed
# frames, a worker that crashes at start-up, and SIGTERM.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

t_plan 27

AGENT=$B/supervisor/perf-agent
IPC=$B/tools/perf-agent-ipc
RT=$T_DIR/run
PORT=$(free_port)
URL=http://127.0.0.1:$PORT

check "perf-agent --help" sh -c "'$AGENT' --help | grep -q -- --max-restarts"
check "perf-agent --version" sh -c "'$AGENT' --version | grep -q 'perf-agent [0-9]'"

# Cloud mode with every endpoint unused: only /health is called, which
# needs no token. The agent URL is the audience frontd's auth requires.
"$AGENT" --runtime-dir "$RT" --port "$PORT" --listen-address 127.0.0.1 \
    --agent-url "$URL" --log-format json >"$T_DIR/agent.log" 2>&1 &
AGENT_PID=$!
t_track $AGENT_PID

health_ok() { [ "$(http_status "$URL/health")" = 200 ]; }
check "health 200 after start" wait_for 20 health_ok
check "health body" sh -c "curl -s '$URL/health' | grep -q '\"status\":\"healthy\"'"

# A second agent on the same runtime folder stops at once and leaves the
# first one's sockets alone.
PORT3=$(free_port)
"$AGENT" --runtime-dir "$RT" --port "$PORT3" --listen-address 127.0.0.1 \
    --agent-url "http://127.0.0.1:$PORT3" --log-format text \
    >"$T_DIR/second.log" 2>&1
status=$?
check "a second agent on the folder exits (status $status)" [ "$status" -ne 0 ]
check "its message names the first agent" grep -q \
    "another perf-agent (pid $AGENT_PID) runs in the runtime folder $RT" \
    "$T_DIR/second.log"
check "the first agent's sockets are intact" sh -c \
    "for w in stated deployd measured frontd; do [ -S '$RT/'\$w.sock ] || exit 1; done"

# Prints the pid a worker reports in its ping reply.
worker_pid()
{
	"$IPC" --timeout 2000 "$RT/$1.sock" '{"type":"ping","body":{}}' \
	    2>/dev/null | sed -n 's/.*"pid": \([0-9]*\).*/\1/p'
}

ALL_PIDS=""
for w in stated deployd measured frontd; do
	old=$(worker_pid $w)
	ALL_PIDS="$ALL_PIDS $old"
	if [ -z "$old" ]; then
		fail "$w answers ping"
		continue
	fi
	kill -9 "$old"
	restarted() { new=$(worker_pid $w); [ -n "$new" ] && [ "$new" != "$old" ]; }
	if wait_for 20 restarted && wait_for 20 health_ok; then
		ok "$w restarted after kill -9"
	else
		fail "$w restarted after kill -9"
	fi
	ALL_PIDS="$ALL_PIDS $(worker_pid $w)"
done
check "restart logged with the signal" grep -q 'measured (pid [0-9]*) killed by signal 9' "$T_DIR/agent.log"

# Malformed frames to stated: each gets an error reply or a closed
# connection, and stated keeps serving.
cat >"$T_DIR/frames.py" <<'PY'
import socket, struct, sys

def frame(payload):
    return struct.pack(">I", len(payload)) + payload

def exchange(data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(sys.argv[1])
    s.sendall(data)
    try:
        reply = s.recv(65536)
    except socket.timeout:
        reply = b"timeout"
    s.close()
    return reply

# msgpack map {"v": 1, "t": T, "id": 7, "body": {}}
def envelope(t, v=1):
    return (b"\x84\xa1v" + bytes([v]) + b"\xa1t\xcd" + struct.pack(">H", t)
            + b"\xa2id\x07\xa4body\x80")

results = {
    "zero": exchange(struct.pack(">I", 0)),
    "oversize": exchange(struct.pack(">I", 0x7fffffff) + b"x" * 100),
    "unknown": exchange(frame(envelope(9999))),
    "version": exchange(frame(envelope(1, v=9))),
    "garbage": exchange(frame(b"\xc1\xc1\xc1")),
}
for name, reply in results.items():
    print(name, "closed" if reply == b"" else
          "error" if b"error" in reply or b"code" in reply else repr(reply))
PY
python3 "$T_DIR/frames.py" "$RT/stated.sock" >"$T_DIR/frames.out" 2>&1
check "zero-length frame closes the connection" grep -qx 'zero closed' "$T_DIR/frames.out"
check "oversize frame closes the connection" grep -qx 'oversize closed' "$T_DIR/frames.out"
check "unknown type gets an error reply" grep -qx 'unknown error' "$T_DIR/frames.out"
check "version mismatch gets an error reply" grep -qx 'version error' "$T_DIR/frames.out"
check "frame without an id closes the connection" grep -Eqx 'garbage closed' "$T_DIR/frames.out"
check "invalid frame logged with sender and length" grep -q 'invalid frame from pid [0-9]* (type 9999, [0-9]* bytes)' "$T_DIR/agent.log"
check "stated still answers ping" sh -c "[ -n \"\$('$IPC' '$RT/stated.sock' '{\"type\":\"ping\",\"body\":{}}')\" ]"
check "ipc client rejects an unknown type name" sh -c "'$IPC' '$RT/stated.sock' '{\"type\":\"nope\"}' 2>/dev/null; [ \$? -eq 2 ]"
check "wrong message for a worker is an error reply" sh -c "'$IPC' '$RT/frontd.sock' '{\"type\":\"state_get\",\"body\":{}}' | grep -q unsupported_type"

# SIGTERM: every process gone, within the grace period.
kill -TERM $AGENT_PID
stopped() { ! kill -0 $AGENT_PID 2>/dev/null; }
check "supervisor exits after SIGTERM" wait_for 15 stopped
left=""
for pid in $ALL_PIDS; do
	kill -0 "$pid" 2>/dev/null && left="$left $pid"
done
if [ -z "$left" ]; then ok "no worker left after SIGTERM"; else fail "workers left after SIGTERM:$left"; fi

# A worker that crashes at start-up makes the supervisor give up.
LX=$T_DIR/libexec
mkdir -p "$LX"
for w in deployd measured frontd; do ln -s "$B/$w/$w" "$LX/$w"; done
printf '#!/bin/sh\necho "stated: simulated start-up crash" >&2\nexit 3\n' >"$LX/stated"
chmod +x "$LX/stated"
PORT2=$(free_port)
"$AGENT" --runtime-dir "$T_DIR/run2" --port "$PORT2" \
    --listen-address 127.0.0.1 --agent-url "http://127.0.0.1:$PORT2" \
    --libexec-dir "$LX" --max-restarts 3 \
    --restart-window 60 --log-format text >"$T_DIR/crash.log" 2>&1 &
CRASH_PID=$!
t_track $CRASH_PID
gone() { ! kill -0 $CRASH_PID 2>/dev/null; }
check "crash loop stops the supervisor" wait_for 30 gone
wait $CRASH_PID
status=$?
if [ "$status" -ne 0 ]; then ok "crash loop exit status $status"; else fail "crash loop exit status 0"; fi
check "crash loop message names the worker" grep -q 'stated died 4 times within 60 s (limit 3); giving up' "$T_DIR/crash.log"

# kill -9 of the supervisor alone: its workers end too, so that the next
# agent on the folder shares no socket with them.
PORT4=$(free_port)
RT4=$T_DIR/run4
"$AGENT" --runtime-dir "$RT4" --port "$PORT4" --listen-address 127.0.0.1 \
    --agent-url "http://127.0.0.1:$PORT4" --log-format text \
    >"$T_DIR/killed.log" 2>&1 &
KILLED_PID=$!
t_track $KILLED_PID
health4() { [ "$(http_status "http://127.0.0.1:$PORT4/health")" = 200 ]; }
wait_for 20 health4
workers=$(pgrep -P "$KILLED_PID" | tr '\n' ' ')
kill -9 "$KILLED_PID"
wait "$KILLED_PID" 2>/dev/null
workers_gone()
{
	for p in $workers; do
		kill -0 "$p" 2>/dev/null && return 1
	done
	return 0
}
check "workers exit after kill -9 of the supervisor ($workers)" \
    wait_for 15 workers_gone

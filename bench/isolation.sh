#!/bin/sh
# Isolation benchmark: does work in stated and deployd disturb the timing
# of warm requests? Runs the measurement engine (perf-agent-load, the code
# measured runs) against nginx on loopback, idle and while stated uploads
# 1 MiB state objects to localcloud and deployd runs scale checks, each
# in a loop without pause. Rounds alternate which of the two goes first.
# Prints the warm p99 of each run and the ratio of the medians. The goal
# is a ratio of at most 1.05.
#
#   bench/isolation.sh BUILDDIR [ROUNDS] [REQUESTS]
#   PIN=off bench/isolation.sh BUILDDIR ...
#
# PIN=auto (the default) starts the agent with --measure-cpu auto and puts
# perf-agent-load, in place of measured, on the CPU the agent reserved for
# measured. nginx, in place of the service under test, goes there too: on
# Cloud Run the service runs on other machines, so it shares no CPU with
# the agent's other workers, and with two CPUs measured's is the only one
# they leave free. The clients that keep stated and deployd busy, in place
# of the agent's own callers, go on the other CPUs. PIN=off starts the
# agent with --measure-cpu off and pins nothing. CONCURRENCY sets the
# connections (default 10).
#
# BUSY=cpu replaces the two clients with two shell loops that only burn
# CPU where the clients would run. It is a control: it tells the share of
# the effect that any busy process on the other CPUs causes from the share
# that the agent's work causes.
#
# Everything runs on 127.0.0.1; the agent runs in local mode.
set -eu

B=${1:?usage: bench/isolation.sh BUILDDIR [ROUNDS] [REQUESTS]}
B=$(cd "$B" && pwd)
ROUNDS=${2:-5}
REQUESTS=${3:-100000}
PIN=${PIN:-auto}
BUSY=${BUSY:-agent}
CONCURRENCY=${CONCURRENCY:-10}
case $PIN in
auto|off) ;;
*) echo "isolation: invalid PIN \"$PIN\": use auto or off" >&2; exit 2 ;;
esac
case $BUSY in
agent|cpu) ;;
*) echo "isolation: invalid BUSY \"$BUSY\": use agent or cpu" >&2; exit 2 ;;
esac
WORK=$(mktemp -d "${TMPDIR:-/tmp}/perf-agent-isolation.XXXXXX")
PIDS=""
trap 'rm -f "$WORK/busy"; for p in $PIDS; do kill $p 2>/dev/null; done; sleep 1; rm -rf "$WORK"' EXIT

port()
{
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# The agent, for stated and deployd.
API_PORT=$(port)
LC_PORT=$(port)
RT=$WORK/run
"$B/supervisor/perf-agent" --local --runtime-dir "$RT" --port "$API_PORT" \
    --localcloud-port "$LC_PORT" --log-format text --measure-cpu "$PIN" \
    >"$WORK/agent.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until curl -sf "http://127.0.0.1:$API_PORT/health" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "isolation: agent not healthy" >&2; exit 1; }
	sleep 0.1
done

# The CPUs the agent chose, from its log line "measured pinned to CPU N;
# the other workers, localcloud and the services it starts on CPUs LIST".
ENGINE_PIN=""
BUSY_PIN=""
ENGINE_CPU=""
if [ "$PIN" = auto ]; then
	line=$(grep -m1 'measured pinned to CPU' "$WORK/agent.log" || true)
	if [ -n "$line" ]; then
		cpu=$(echo "$line" | sed 's/.*pinned to CPU \([0-9]*\);.*/\1/')
		rest=$(echo "$line" | sed 's/.* on CPUs \([0-9,-]*\).*/\1/')
		ENGINE_PIN="taskset -c $cpu"
		ENGINE_CPU=$cpu
		BUSY_PIN="taskset -c $rest"
		echo "pinned: measured's CPU $cpu (perf-agent-load, nginx)," \
		    "other workers and the busy clients on CPUs $rest"
	else
		echo "isolation: the agent pinned nothing (see below); running" \
		    "unpinned" >&2
		grep -i 'cpu' "$WORK/agent.log" | head -n 3 >&2
	fi
else
	echo "not pinned"
fi

# nginx serving a static reply, as the target.
NGINX_PORT=$(port)
mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
error_log $WORK/nginx/logs/error.log;
pid $WORK/nginx/nginx.pid;
events { worker_connections 1024; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path $WORK/nginx;
	proxy_temp_path $WORK/nginx;
	fastcgi_temp_path $WORK/nginx;
	uwsgi_temp_path $WORK/nginx;
	scgi_temp_path $WORK/nginx;
	server { listen 127.0.0.1:$NGINX_PORT; return 200 "hello\n"; }
}
CONF
$ENGINE_PIN nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
PIDS="$PIDS $!"
i=0
until curl -sf "http://127.0.0.1:$NGINX_PORT/" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "isolation: nginx did not start" >&2; exit 1; }
	sleep 0.1
done
NGINX_WORKER=$(pgrep -P "$(cat "$WORK/nginx/nginx.pid")" | head -n 1)

# A client of a worker socket that sends one message after the other over
# one connection while $WORK/busy exists, and writes how many replies were
# ok and how many were errors. It encodes the agent's frames itself (a
# 4-byte big-endian length, then a msgpack map {v, t, id, body}), because
# a 1 MiB message does not fit in one command-line argument of
# perf-agent-ipc (Linux caps one argument at 128 KiB).
cat >"$WORK/busy.py" <<'PY'
import os, socket, struct, sys

def pack(v):
    if isinstance(v, dict):
        assert len(v) < 16
        out = bytes([0x80 | len(v)])
        for k, x in v.items():
            out += pack(k) + pack(x)
        return out
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        return b"\xdb" + struct.pack(">I", len(b)) + b
    if isinstance(v, int) and 0 <= v < 128:
        return bytes([v])
    if isinstance(v, int) and 0 <= v < 65536:
        return b"\xcd" + struct.pack(">H", v)
    raise ValueError(v)

def skip(data, i):
    """Returns the offset after the msgpack value at data[i]."""
    b = data[i]
    if b < 0x80 or b >= 0xe0 or b in (0xc0, 0xc2, 0xc3):
        return i + 1
    if 0xa0 <= b <= 0xbf:
        return i + 1 + (b & 0x1f)
    if 0x80 <= b <= 0x8f or 0x90 <= b <= 0x9f:
        n = b & 0x0f
        if b <= 0x8f:
            n *= 2
        i += 1
        for _ in range(n):
            i = skip(data, i)
        return i
    fixed = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2,
             0xd2: 4, 0xd3: 8, 0xca: 4, 0xcb: 8}
    if b in fixed:
        return i + 1 + fixed[b]
    sized = {0xd9: 1, 0xda: 2, 0xdb: 4, 0xc4: 1, 0xc5: 2, 0xc6: 4}
    if b in sized:
        w = sized[b]
        return i + 1 + w + int.from_bytes(data[i + 1:i + 1 + w], "big")
    counted = {0xdc: (2, 1), 0xdd: (4, 1), 0xde: (2, 2), 0xdf: (4, 2)}
    if b in counted:
        w, per = counted[b]
        n = int.from_bytes(data[i + 1:i + 1 + w], "big") * per
        i += 1 + w
        for _ in range(n):
            i = skip(data, i)
        return i
    raise ValueError("msgpack byte 0x%02x" % b)

def reply_type(data):
    """Returns the "t" of a reply frame's top-level map."""
    i = 1
    for _ in range(data[0] & 0x0f):
        end = skip(data, i)
        key = data[i + 1:end]
        if key == b"t":
            return data[end] if data[end] < 0x80 else None
        i = skip(data, end)
    return None

sock_path, kind, out_path = sys.argv[1:4]
if kind == "put":
    body = {"object": "bench/large.json",
            "data": {"blob": "x" * (1024 * 1024)}}
    mtype = 101
else:
    body = {"service_name": "bench-none", "since": 0}
    mtype = 204
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sock_path)
ok = errors = 0
msg_id = 1
while os.path.exists(os.path.join(os.path.dirname(out_path), "busy")):
    payload = pack({"v": 1, "t": mtype, "id": msg_id % 60000, "body": body})
    s.sendall(struct.pack(">I", len(payload)) + payload)
    head = b""
    while len(head) < 4:
        chunk = s.recv(4 - len(head))
        if not chunk:
            sys.exit("%s: connection closed" % kind)
        head += chunk
    n = struct.unpack(">I", head)[0]
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            sys.exit("%s: connection closed" % kind)
        data += chunk
    if reply_type(data) == 2:
        ok += 1
    else:
        errors += 1
    msg_id += 1
with open(out_path, "a") as f:
    f.write("%d %d\n" % (ok, errors))
PY

# Starts the two busy clients; stop_busy ends them and waits for them.
BUSY_PIDS=""
start_busy()
{
	touch "$WORK/busy"
	if [ "$BUSY" = cpu ]; then
		for _ in 1 2; do
			$BUSY_PIN sh -c 'while [ -f "$1" ]; do :; done' sh \
			    "$WORK/busy" &
			BUSY_PIDS="$BUSY_PIDS $!"
		done
		PIDS="$PIDS $BUSY_PIDS"
		sleep 1
		return
	fi
	$BUSY_PIN python3 "$WORK/busy.py" "$RT/stated.sock" put \
	    "$WORK/put.count" &
	BUSY_PIDS="$!"
	$BUSY_PIN python3 "$WORK/busy.py" "$RT/deployd.sock" scale \
	    "$WORK/scale.count" &
	BUSY_PIDS="$BUSY_PIDS $!"
	PIDS="$PIDS $BUSY_PIDS"
	# The first uploads warm up stated and localcloud.
	sleep 1
}

stop_busy()
{
	rm -f "$WORK/busy"
	for p in $BUSY_PIDS; do
		wait "$p" || echo "isolation: a busy client failed" >&2
	done
	BUSY_PIDS=""
	sleep 1
}

# Prints the busy and the steal time of a CPU so far, in ms, from
# /proc/stat (user, nice, system, irq and softirq; in ticks of 10 ms).
cpu_times()
{
	awk -v cpu="cpu$1" '$1 == cpu {
		printf "%d %d\n", ($2 + $3 + $4 + $7 + $8) * 10, $9 * 10 }' \
	    /proc/stat
}

# Prints the CPU time of the nginx worker so far, in ms.
nginx_ms()
{
	awk '{ print ($14 + $15) * 10 }' "/proc/$NGINX_WORKER/stat"
}

# One engine run; prints "p50_ms p99_ms req/s other_ms steal_ms". With
# pinning, other_ms is the CPU time that processes other than
# perf-agent-load and nginx took on measured's CPU during the run, and
# steal_ms the time the hypervisor took from it; without, both are "-".
engine()
{
	if [ -n "$ENGINE_CPU" ]; then
		before="$(cpu_times "$ENGINE_CPU") $(nginx_ms)"
	else
		before="- - -"
	fi
	$ENGINE_PIN "$B/measured/perf-agent-load" \
	    --url "http://127.0.0.1:$NGINX_PORT/" --requests "$REQUESTS" \
	    --concurrency "$CONCURRENCY" >"$WORK/engine.json"
	if [ -n "$ENGINE_CPU" ]; then
		after="$(cpu_times "$ENGINE_CPU") $(nginx_ms)"
	else
		after="- - -"
	fi
	python3 - "$WORK/engine.json" $before $after <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
if d["failed"]:
    sys.exit("isolation: %d requests failed" % d["failed"])
s = d["statistics"]
if sys.argv[2] == "-":
    other = steal = "-"
else:
    busy0, steal0, nginx0, busy1, steal1, nginx1 = map(int, sys.argv[2:8])
    other = "%d" % (busy1 - busy0 - (nginx1 - nginx0)
                    - d["client"]["cpu_ms"])
    steal = "%d" % (steal1 - steal0)
print(s["p50_ms"], s["p99_ms"], round(d["throughput_rps"]), other, steal)
PY
}

loaded_run()
{
	start_busy
	t0=$(date +%s.%N)
	loaded=$(engine)
	t1=$(date +%s.%N)
	stop_busy
	busy_s=$(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 + 1 }')
}

echo "isolation: $ROUNDS rounds of $REQUESTS requests at concurrency" \
    "$CONCURRENCY against nginx, BUSY=$BUSY"
echo "round first idle_p50_ms idle_p99_ms idle_rps idle_other_ms" \
    "idle_steal_ms loaded_p50_ms loaded_p99_ms loaded_rps loaded_other_ms" \
    "loaded_steal_ms uploads scale_checks busy_s"
: >"$WORK/runs"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	: >"$WORK/put.count"
	: >"$WORK/scale.count"
	if [ $((r % 2)) -eq 1 ]; then
		first=idle
		idle=$(engine)
		loaded_run
	else
		first=loaded
		loaded_run
		idle=$(engine)
	fi
	puts=$(awk '{ print $1 "+" $2 "err" }' "$WORK/put.count")
	scales=$(awk '{ print $1 "+" $2 "err" }' "$WORK/scale.count")
	[ -n "$puts" ] || puts=-
	[ -n "$scales" ] || scales=-
	echo "$r $first $idle $loaded $puts $scales $busy_s"
	echo "$idle $loaded" >>"$WORK/runs"
	r=$((r + 1))
done
python3 - "$WORK/runs" <<'PY'
import statistics, sys
rows = [[float(x) if x != "-" else None for x in line.split()]
        for line in open(sys.argv[1])]
idle = statistics.median(r[1] for r in rows)
loaded = statistics.median(r[6] for r in rows)
print(f"median p99: idle {idle:.3f} ms, loaded {loaded:.3f} ms, "
      f"ratio {loaded / idle:.2f} (goal <= 1.05)")
print("median p50: idle %.3f ms, loaded %.3f ms" % (
    statistics.median(r[0] for r in rows),
    statistics.median(r[5] for r in rows)))
PY
echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

#!/bin/sh
# Isolation benchmark: does work in stated and deployd disturb the timing
# of warm requests? Runs the measurement engine (perf-agent-load, the code
# measured runs) against nginx on loopback, idle and while stated uploads
# large objects to localcloud and deployd answers scale checks in a tight
# loop, interleaved over several rounds, and prints the warm p99 of each
# and their ratio. The goal is a ratio of at most 1.05.
#
#   bench/isolation.sh BUILDDIR [ROUNDS] [REQUESTS]
#
# Everything runs on 127.0.0.1; the agent runs in local mode.
set -eu

B=${1:?usage: bench/isolation.sh BUILDDIR [ROUNDS] [REQUESTS]}
B=$(cd "$B" && pwd)
ROUNDS=${2:-5}
REQUESTS=${3:-50000}
S=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/perf-agent-isolation.XXXXXX")
PIDS=""
trap 'for p in $PIDS; do kill $p 2>/dev/null; done; sleep 1; rm -rf "$WORK"' EXIT

port()
{
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

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
nginx -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" &
PIDS="$PIDS $!"

# The agent, for stated and deployd.
API_PORT=$(port)
LC_PORT=$(port)
RT=$WORK/run
"$B/supervisor/perf-agent" --local --runtime-dir "$RT" --port "$API_PORT" \
    --localcloud-port "$LC_PORT" --log-format json >"$WORK/agent.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until curl -sf "http://127.0.0.1:$API_PORT/health" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 200 ] || { echo "isolation: agent not healthy" >&2; exit 1; }
	sleep 0.1
done

# Background work: 1 MiB state uploads through stated, and scale checks
# (Cloud Monitoring queries) through deployd, each in a loop.
python3 -c 'import json; print(json.dumps({"type": "state_put", "body": {"object": "bench/large.json", "data": {"blob": "x" * (1024 * 1024)}}}))' >"$WORK/put.json"
busy()
{
	while [ -f "$WORK/busy" ]; do
		"$B/tools/perf-agent-ipc" "$RT/stated.sock" "$(cat "$WORK/put.json")" >/dev/null 2>&1
	done &
	PIDS="$PIDS $!"
	while [ -f "$WORK/busy" ]; do
		"$B/tools/perf-agent-ipc" "$RT/deployd.sock" \
		    '{"type":"scale_state","body":{"service_name":"bench-none","since":0}}' >/dev/null 2>&1
	done &
	PIDS="$PIDS $!"
}

p99()
{
	"$B/measured/perf-agent-load" --url "http://127.0.0.1:$NGINX_PORT/" \
	    --requests "$REQUESTS" --concurrency 10 |
	    python3 -c 'import json, sys; print(json.load(sys.stdin)["statistics"]["p99_ms"])'
}

echo "isolation: $ROUNDS rounds of $REQUESTS requests at concurrency 10 against nginx"
echo "round idle_p99_ms loaded_p99_ms"
: >"$WORK/idle"
: >"$WORK/loaded"
r=1
while [ $r -le "$ROUNDS" ]; do
	idle=$(p99)
	touch "$WORK/busy"
	busy
	sleep 1
	loaded=$(p99)
	rm -f "$WORK/busy"
	sleep 2
	echo "$r $idle $loaded"
	echo "$idle" >>"$WORK/idle"
	echo "$loaded" >>"$WORK/loaded"
	r=$((r + 1))
done
python3 - "$WORK/idle" "$WORK/loaded" <<'PY'
import statistics, sys
idle = [float(x) for x in open(sys.argv[1])]
loaded = [float(x) for x in open(sys.argv[2])]
mi, ml = statistics.median(idle), statistics.median(loaded)
print(f"median p99: idle {mi:.3f} ms, loaded {ml:.3f} ms, ratio {ml / mi:.2f} (goal <= 1.05)")
PY
echo "machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"

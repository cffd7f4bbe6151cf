#!/bin/sh
# Measures what localcloud's data plane adds to a request: wrk against an
# instance's own port, then through the service port of a localcloud with
# --plain-http and of one with HTTPS, in one run. The instance is nginx
# returning a fixed 200, so that the proxy, not the backend, dominates.
#
# usage: bench/localcloud-dataplane.sh [BUILDDIR]
# env:   DURATION (seconds per wrk run, default 10), CONNECTIONS (default
#        10), THREADS (default 1)
#
# Goals: p50 through plain http within 5 % of direct or 50 us, whichever is
# larger, and throughput within 10 %. The script reports; it never fails on
# a missed goal.
set -u

BUILDDIR=${1:-${PERF_AGENT_BUILDDIR:-.}}
LC=$BUILDDIR/localcloud/localcloud
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-10}
THREADS=${THREADS:-1}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

for tool in wrk "$NGINX" "$LC" python3 curl; do
	if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
		echo "missing $tool" >&2
		exit 2
	fi
done

W=$(mktemp -d "${TMPDIR:-/tmp}/lc-bench.XXXXXX")
PIDS=""
cleanup()
{
	for pid in $PIDS; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in $PIDS; do
		for _ in $(seq 1 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	done
	rm -rf "$W"
}
trap cleanup EXIT

free_port()
{
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# The implementation: nginx with one worker, on $PORT; it records its port
# so that wrk can reach it directly.
mkdir -p "$W/impl/bench/nginx"
cat > "$W/impl/bench/nginx/run" <<EOF
#!/bin/sh
d=$W/nginx-\$K_SERVICE
mkdir -p "\$d"
echo "\$PORT" > "$W/\$K_SERVICE.port"
cat > "\$d/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid \$d/nginx.pid;
error_log \$d/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path \$d;
	proxy_temp_path \$d;
	fastcgi_temp_path \$d;
	uwsgi_temp_path \$d;
	scgi_temp_path \$d;
	server {
		listen 127.0.0.1:\$PORT;
		keepalive_requests 1000000;
		location / { return 200 "hello from nginx\n"; }
	}
}
CONF
exec $NGINX -e "\$d/error.log" -p "\$d" -c "\$d/nginx.conf"
EOF
chmod +x "$W/impl/bench/nginx/run"

# start_localcloud NAME [ARGS]: prints the API URL.
start_localcloud()
{
	name=$1
	shift
	port=$(free_port)
	"$LC" --port "$port" --data-dir "$W/$name" --implementations \
	    "$W/impl" --idle-timeout 3600 --log-format text "$@" \
	    > "$W/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && break
		sleep 0.1
	done
	echo "http://127.0.0.1:$port"
}

# deploy API ID: creates the service, waits, prints its uri.
deploy()
{
	api=$1 id=$2
	body='{"template":{"containers":[{"image":"local/bench/nginx","resources":{"limits":{"cpu":"2","memory":"1Gi"},"cpuIdle":true}}],"maxInstanceRequestConcurrency":1000,"scaling":{"maxInstanceCount":1}}}'
	op=$(curl -s -X POST "$api/v2/projects/p/locations/r/services?serviceId=$id" \
	    -d "$body" | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
	curl -s -X POST "$api/v2/$op:wait" -d '{"timeout":"30s"}' >/dev/null
	curl -s "$api/v2/projects/p/locations/r/services/$id" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin).get("uri", ""))'
}

PLAIN_API=$(start_localcloud plain --plain-http)
TLS_API=$(start_localcloud tls)
PLAIN_URI=$(deploy "$PLAIN_API" plain)
TLS_URI=$(deploy "$TLS_API" tls)
if [ -z "$PLAIN_URI" ] || [ -z "$TLS_URI" ]; then
	echo "deploy failed; logs:" >&2
	cat "$W/plain.log" "$W/tls.log" >&2
	exit 1
fi
curl -s -o /dev/null "$PLAIN_URI/"
DIRECT_URI=http://127.0.0.1:$(cat "$W/plain.port")

# run_wrk NAME URL: prints "p50_us rps".
run_wrk()
{
	wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$2/" \
	    > "$W/wrk-$1.txt" 2>&1
	python3 - "$W/wrk-$1.txt" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
m = re.search(r"^\s+50%\s+([0-9.]+)(us|ms|s)\s*$", text, re.M)
scale = {"us": 1, "ms": 1000, "s": 1000000}[m.group(2)]
print("%.1f %.0f" % (float(m.group(1)) * scale, rps))
EOF
}

# Warm-up, then the measured runs.
wrk -t1 -c"$CONNECTIONS" -d2s "$DIRECT_URI/" >/dev/null 2>&1
wrk -t1 -c"$CONNECTIONS" -d2s "$PLAIN_URI/" >/dev/null 2>&1
wrk -t1 -c"$CONNECTIONS" -d2s "$TLS_URI/" >/dev/null 2>&1
set -- $(run_wrk direct "$DIRECT_URI"); D_P50=$1 D_RPS=$2
set -- $(run_wrk plain "$PLAIN_URI"); P_P50=$1 P_RPS=$2
set -- $(run_wrk tls "$TLS_URI"); T_P50=$1 T_RPS=$2

echo "localcloud data plane: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
python3 - "$D_P50" "$D_RPS" "$P_P50" "$P_RPS" "$T_P50" "$T_RPS" <<'EOF'
import sys
d_p50, d_rps, p_p50, p_rps, t_p50, t_rps = map(float, sys.argv[1:])
print("%-24s %10s %12s %10s %10s" % ("path", "p50 (us)", "req/s", "p50 ratio",
                                     "rps ratio"))
for name, p50, rps in (("direct to the instance", d_p50, d_rps),
                       ("localcloud, http", p_p50, p_rps),
                       ("localcloud, https", t_p50, t_rps)):
    print("%-24s %10.1f %12.0f %10.3f %10.3f" % (name, p50, rps, p50 / d_p50,
                                                 rps / d_rps))
allowed = max(0.05 * d_p50, 50.0)
p50_ok = p_p50 - d_p50 <= allowed
rps_ok = p_rps >= 0.9 * d_rps
print("goal, http p50 within max(5 %%, 50 us) = %.1f us: %s (+%.1f us)" %
      (allowed, "met" if p50_ok else "missed", p_p50 - d_p50))
print("goal, http throughput within 10 %%: %s (%.1f %%)" %
      ("met" if rps_ok else "missed", 100 * (p_rps / d_rps - 1)))
EOF

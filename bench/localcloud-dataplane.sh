#!/bin/sh
# Measures what localcloud's data plane adds to a request on a warm
# instance. For each backend and connection count, wrk runs back to back
# against the instance's own port ("direct"), then through the service port
# of a localcloud with --plain-http ("http"), of one with HTTPS ("https"),
# and of one with --plain-http --invoker-iam and an ID token in every
# request ("http+iam"). All hit the same kind of instance, started by
# localcloud from the same run script. "nginx-proxy" is a reference: nginx
# as a reverse proxy (one process, keep-alive upstream connections, no
# access log) in front of the direct instance, in localcloud's place, to
# show what any user-space proxy costs on the machine. "sockmap" is another
# reference: bench/sockmap-proxy.c, a proxy whose bytes stay in the kernel
# (a BPF sockhash redirects each socket's bytes to its peer), to show what
# forwarding without a user-space hop costs. It needs root (CAP_BPF) and
# libbpf; without them the path is skipped with a note.
#
# Backends: "nginx", nginx 1 worker returning a fixed 200 (the proxy, not
# the backend, dominates), and "c", the C reference implementation
# (implementations/discord-webhook/c-libevent) answering a PING signed with
# Ed25519 (POST /interactions), which spends most of a request verifying
# the signature.
#
# PIN=1 runs the instance on CPU 1 and wrk and localcloud on CPU 0, as
# Cloud Run runs a front end apart from the instance's CPU. With PIN=0
# nothing is pinned. Direct rows use the same pinning, so wrk always has
# CPU 0 to itself or shares it with localcloud only.
#
# usage: flock -o /tmp/perf-bench.lock bench/localcloud-dataplane.sh [BUILDDIR]
# env:   DURATION (seconds per wrk run, default 5), ROUNDS (default 3),
#        CONNECTIONS (default "1 10 100"), BACKENDS (default "nginx c"),
#        PIN (0 or 1, default 0), PATHS (default "direct http https
#        http+iam nginx-proxy sockmap"), LOCALCLOUD (the binary, default
#        BUILDDIR's),
#        BASELINE (another localcloud binary: adds the path "http-base",
#        plain http through it, to compare two builds in one run)
#
# Each round runs every path once, back to back, and a row is the median
# of its rounds, so that a slow spell of the shared machine hits all paths
# alike. Goals, for the http rows: p50 within 5 % of direct or 50 us,
# whichever is larger, and throughput within 10 % of direct. The script
# reports; it never fails on a missed goal. "lc us/req" is the CPU time
# localcloud (or the reference proxy) spent per request (utime + stime from /proc, 10 ms
# resolution). flock -o keeps the lock's descriptor out of localcloud and
# its instances.
set -u

BUILDDIR=$(cd "${1:-${PERF_AGENT_BUILDDIR:-.}}" && pwd)
LC=${LOCALCLOUD:-$BUILDDIR/localcloud/localcloud}
C_SERVER=$BUILDDIR/implementations/discord-webhook/c-libevent/server
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-1 10 100}
BACKENDS=${BACKENDS:-nginx c}
PATHS=${PATHS:-direct http https http+iam nginx-proxy sockmap}
PIN=${PIN:-0}
BASELINE=${BASELINE:-}
[ -n "$BASELINE" ] && PATHS="$PATHS http-base"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
SIGNER_PY=/usr/bin/python3	# the Debian python, which has PyNaCl

for tool in wrk "$NGINX" "$LC" python3 curl taskset; do
	if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "$tool" ]; then
		echo "missing $tool" >&2
		exit 2
	fi
done
case " $BACKENDS " in
*" c "*)
	if [ ! -x "$C_SERVER" ] || ! "$SIGNER_PY" -c 'import nacl' 2>/dev/null
	then
		echo "backend c needs $C_SERVER (make) and PyNaCl for" \
		    "$SIGNER_PY" >&2
		exit 2
	fi ;;
esac
if [ "$PIN" = 1 ] && [ "$(nproc)" -lt 2 ]; then
	echo "PIN=1 needs two CPUs" >&2
	exit 2
fi

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
trap 'exit 130' INT TERM

if [ "$PIN" = 1 ]; then
	FRONT="taskset -c 0"
	export BENCH_INSTANCE_CPU=1
else
	FRONT=""
	unset BENCH_INSTANCE_CPU
fi

free_port()
{
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# The implementations. Each run script records its port as
# $W/port.LOCALCLOUD.SERVICE, so that wrk can reach the instance directly,
# and moves itself to BENCH_INSTANCE_CPU when set.
mkdir -p "$W/impl/bench/nginx" "$W/impl/bench/c"
cat > "$W/impl/bench/nginx/run" <<EOF
#!/bin/sh
d=$W/nginx-\$BENCH_LC.\$K_SERVICE
mkdir -p "\$d"
echo "\$PORT" > "$W/port.\$BENCH_LC.\$K_SERVICE"
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
exec \${BENCH_INSTANCE_CPU:+taskset -c \$BENCH_INSTANCE_CPU} $NGINX \
    -e "\$d/error.log" -p "\$d" -c "\$d/nginx.conf"
EOF
cat > "$W/impl/bench/c/run" <<EOF
#!/bin/sh
echo "\$PORT" > "$W/port.\$BENCH_LC.\$K_SERVICE"
exec \${BENCH_INSTANCE_CPU:+taskset -c \$BENCH_INSTANCE_CPU} $C_SERVER
EOF
chmod +x "$W/impl/bench/nginx/run" "$W/impl/bench/c/run"

# Ed25519 signing of the PING body for backend c.
SIGNER='import json, sys, time
from nacl.signing import SigningKey
if sys.argv[1] == "new":
    k = SigningKey.generate()
    print(k.encode().hex(), k.verify_key.encode().hex())
    sys.exit(0)
k = SigningKey(bytes.fromhex(sys.argv[1]))
ts = str(int(time.time()))
print(ts, k.sign(ts.encode() + b"{\"type\":1}").signature.hex())'
SEED=""
PUBKEY=""
case " $BACKENDS " in
*" c "*) set -- $("$SIGNER_PY" -c "$SIGNER" new); SEED=$1 PUBKEY=$2 ;;
esac

# start_lc NAME [ARGS]: starts a localcloud; its API URL goes to
# $W/NAME.api and its pid to $W/NAME.pid. NAME base runs BASELINE.
start_lc()
{
	name=$1
	shift
	port=$(free_port)
	bin=$LC
	[ "$name" = base ] && bin=$BASELINE
	BENCH_LC=$name $FRONT "$bin" --port "$port" --data-dir "$W/$name" \
	    --implementations "$W/impl" --idle-timeout 3600 \
	    --log-format text "$@" > "$W/$name.log" 2>&1 &
	PIDS="$PIDS $!"
	echo "$!" > "$W/$name.pid"
	echo "http://127.0.0.1:$port" > "$W/$name.api"
	for _ in $(seq 1 100); do
		curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
		sleep 0.1
	done
	echo "localcloud $name did not start; see its log:" >&2
	cat "$W/$name.log" >&2
	exit 1
}

# deploy LC BACKEND: creates service BACKEND, waits, writes its uri to
# $W/uri.LC.BACKEND.
deploy()
{
	api=$(cat "$W/$1.api")
	body='{"template":{"containers":[{"image":"local/bench/'$2'","env":[{"name":"DISCORD_PUBLIC_KEY","value":"'$PUBKEY'"}],"resources":{"limits":{"cpu":"2","memory":"1Gi"},"cpuIdle":true}}],"maxInstanceRequestConcurrency":1000,"scaling":{"maxInstanceCount":1}}}'
	op=$(curl -s -X POST \
	    "$api/v2/projects/p/locations/r/services?serviceId=$2" -d "$body" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
	curl -s -X POST "$api/v2/$op:wait" -d '{"timeout":"30s"}' >/dev/null
	curl -s "$api/v2/projects/p/locations/r/services/$2" |
	    python3 -c 'import json,sys; print(json.load(sys.stdin).get("uri", ""))' \
	    > "$W/uri.$1.$2"
	if [ ! -s "$W/uri.$1.$2" ]; then
		echo "deploy of $2 on $1 failed; log:" >&2
		cat "$W/$1.log" >&2
		exit 1
	fi
}

# The localclouds the paths need: plain always, for the direct port.
LCS=plain
start_lc plain --plain-http
case " $PATHS " in *" https "*) LCS="$LCS tls"; start_lc tls ;; esac
case " $PATHS " in *" http+iam "*)
	LCS="$LCS iam"; start_lc iam --plain-http --invoker-iam ;;
esac
case " $PATHS " in *" http-base "*)
	LCS="$LCS base"; start_lc base --plain-http ;;
esac
for b in $BACKENDS; do
	for l in $LCS; do
		deploy "$l" "$b"
	done
	# A token for the private service, from the metadata server.
	case " $LCS " in *" iam "*)
		curl -s -H 'Metadata-Flavor: Google' "$(cat "$W/iam.api")/computeMetadata/v1/instance/service-accounts/default/identity?audience=$(cat "$W/uri.iam.$b")" \
		    > "$W/token.$b" ;;
	esac
	# Start the plain instance, so that its port is known.
	curl -s -o /dev/null "$(cat "$W/uri.plain.$b")/"
	for _ in $(seq 1 50); do
		[ -s "$W/port.plain.$b" ] && break
		sleep 0.1
	done
done

# The reference reverse proxy: nginx in one process in front of each
# backend's direct instance, pinned like localcloud.
case " $PATHS " in *" nginx-proxy "*)
	mkdir -p "$W/rp"
	{
		echo "master_process off; daemon off; worker_processes 1;"
		echo "pid $W/rp/nginx.pid; error_log $W/rp/error.log;"
		echo "events { worker_connections 4096; }"
		echo "http { access_log off; client_body_temp_path $W/rp;"
		echo "proxy_temp_path $W/rp; fastcgi_temp_path $W/rp;"
		echo "uwsgi_temp_path $W/rp; scgi_temp_path $W/rp;"
		for b in $BACKENDS; do
			rport=$(free_port)
			echo "$rport" > "$W/rport.$b"
			echo "upstream $b { server 127.0.0.1:$(cat "$W/port.plain.$b"); keepalive 128; }"
			echo "server { listen 127.0.0.1:$rport; keepalive_requests 1000000;"
			echo "location / { proxy_pass http://$b; proxy_http_version 1.1;"
			echo "proxy_set_header Connection \"\"; } }"
		done
		echo "}"
	} > "$W/rp/nginx.conf"
	$FRONT "$NGINX" -e "$W/rp/error.log" -p "$W/rp" -c "$W/rp/nginx.conf" &
	PIDS="$PIDS $!"
	echo "$!" > "$W/rp.pid"
	for b in $BACKENDS; do
		for _ in $(seq 1 50); do
			curl -s -o /dev/null "http://127.0.0.1:$(cat "$W/rport.$b")/" &&
			    break
			sleep 0.1
		done
	done ;;
esac

# The kernel-forwarding reference: one sockmap-proxy per backend, in front
# of its direct instance, pinned like localcloud. A machine that cannot
# load it runs the other paths.
case " $PATHS " in *" sockmap "*)
	SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
	if ! ${CC:-cc} -O2 -o "$W/sockmap-proxy" \
	    "$SRCDIR/bench/sockmap-proxy.c" -lbpf 2> "$W/sockmap-cc.log"; then
		echo "note: path sockmap skipped: it does not build" \
		    "(libbpf-dev missing?):" >&2
		cat "$W/sockmap-cc.log" >&2
		PATHS=$(echo " $PATHS " | sed 's/ sockmap / /')
	fi ;;
esac
case " $PATHS " in *" sockmap "*)
	for b in $BACKENDS; do
		sport=$(free_port)
		echo "$sport" > "$W/sport.$b"
		$FRONT "$W/sockmap-proxy" "$sport" "$(cat "$W/port.plain.$b")" \
		    > "$W/sockmap.$b.out" 2> "$W/sockmap.$b.log" &
		PIDS="$PIDS $!"
		echo "$!" > "$W/sockmap.$b.pid"
		for _ in $(seq 1 50); do
			grep -q ready "$W/sockmap.$b.out" && break
			kill -0 "$!" 2>/dev/null || break
			sleep 0.1
		done
		if ! grep -q ready "$W/sockmap.$b.out"; then
			echo "note: path sockmap skipped:" \
			    "$(cat "$W/sockmap.$b.log")" >&2
			PATHS=$(echo " $PATHS " | sed 's/ sockmap / /')
			break
		fi
	done ;;
esac

# url PATH BACKEND: the URL wrk loads.
url()
{
	case $2 in nginx) suffix=/ ;; c) suffix=/interactions ;; esac
	case $1 in
	direct) echo "http://127.0.0.1:$(cat "$W/port.plain.$2")$suffix" ;;
	http) echo "$(cat "$W/uri.plain.$2")$suffix" ;;
	https) echo "$(cat "$W/uri.tls.$2")$suffix" ;;
	http+iam) echo "$(cat "$W/uri.iam.$2")$suffix" ;;
	http-base) echo "$(cat "$W/uri.base.$2")$suffix" ;;
	nginx-proxy) echo "http://127.0.0.1:$(cat "$W/rport.$2")$suffix" ;;
	sockmap) echo "http://127.0.0.1:$(cat "$W/sport.$2")$suffix" ;;
	esac
}

# lc_of PATH BACKEND: the proxy a path goes through, whose pid is in
# $W/NAME.pid, or "" for direct.
lc_of()
{
	case $1 in http) echo plain ;; https) echo tls ;; http+iam) echo iam ;;
	http-base) echo base ;; nginx-proxy) echo rp ;;
	sockmap) echo "sockmap.$2" ;; *) echo "" ;; esac
}

# script PATH BACKEND: writes the wrk Lua script, signed now for c.
script()
{
	f=$W/wrk.lua
	: > "$f"
	if [ "$2" = c ]; then
		set -- "$1" "$2" $("$SIGNER_PY" -c "$SIGNER" "$SEED")
		cat >> "$f" <<EOF
wrk.method = "POST"
wrk.body = '{"type":1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Signature-Timestamp"] = "$3"
wrk.headers["X-Signature-Ed25519"] = "$4"
EOF
	fi
	if [ "$1" = http+iam ]; then
		echo "wrk.headers[\"Authorization\"] = \"Bearer $(cat "$W/token.$2")\"" >> "$f"
	fi
	echo "$f"
}

# cpu_ticks PID: utime + stime of a process, in clock ticks.
cpu_ticks()
{
	[ -n "$1" ] || { echo 0; return; }
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# run_wrk PATH BACKEND CONNS SECONDS: appends one result line to
# $W/results: backend conns path p50_us p99_us rps non2xx errors lc_us_req
run_wrk()
{
	s=$(script "$1" "$2")
	lc=$(lc_of "$1" "$2")
	pid=""
	[ -n "$lc" ] && pid=$(cat "$W/$lc.pid")
	t0=$(cpu_ticks "$pid")
	$FRONT wrk -t1 -c"$3" -d"$4s" --latency -s "$s" "$(url "$1" "$2")" \
	    > "$W/wrk.out" 2>&1
	t1=$(cpu_ticks "$pid")
	python3 - "$W/wrk.out" "$2" "$3" "$1" "$t0" "$t1" \
	    "$(getconf CLK_TCK)" <<'EOF' >> "$W/results"
import re, sys
text = open(sys.argv[1]).read()
backend, conns, path = sys.argv[2:5]
t0, t1, hz = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
def lat(pct):
    m = re.search(r"^\s+%s%%\s+([0-9.]+)(us|ms|s)\s*$" % pct, text, re.M)
    scale = {"us": 1, "ms": 1000, "s": 1000000}[m.group(2)]
    return float(m.group(1)) * scale
rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", text).group(1))
total = int(re.search(r"(\d+) requests in", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                 r"timeout (\d+)", text)
cpu = (t1 - t0) * 1e6 / hz / max(total, 1) if path != "direct" else 0
print(backend, conns, path, lat(50), lat(99), rps,
      int(non2xx.group(1)) if non2xx else 0,
      sum(map(int, errs.groups())) if errs else 0, cpu)
EOF
}

echo "localcloud data plane: wrk 1 thread, ${DURATION} s per run," \
    "median of $ROUNDS rounds, PIN=$PIN"
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
: > "$W/results"
for b in $BACKENDS; do
	for n in $CONNECTIONS; do
		# Warm-up, then the measured runs, back to back.
		for p in $PATHS; do
			run_wrk "$p" "$b" "$n" 1
		done
		: > "$W/results"
		for _ in $(seq 1 "$ROUNDS"); do
			for p in $PATHS; do
				run_wrk "$p" "$b" "$n" "$DURATION"
			done
		done
		cat "$W/results" >> "$W/all"
	done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$W/all" "$PIN" <<'EOF'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    b, n, p, *values = line.split()
    runs.setdefault((b, n, p), []).append([float(v) for v in values])
rows = []
for (b, n, p), values in runs.items():
    median = [statistics.median(column) for column in zip(*values)]
    # Errors are summed over the rounds, not a median.
    median[3] = sum(v[3] for v in values)
    median[4] = sum(v[4] for v in values)
    rows.append([b, n, p] + median)
pin = "pinned" if sys.argv[2] == "1" else "unpinned"
print("%-8s %-5s %5s %-11s %9s %9s %9s %9s %9s %8s %6s" % (
    "mode", "back", "conns", "path", "p50 us", "p99 us", "req/s",
    "p50 +us", "rps ratio", "lc us/req", "errors"))
direct = {}
for b, n, p, p50, p99, rps, non2xx, errs, cpu in rows:
    if p == "direct":
        direct[(b, n)] = (float(p50), float(rps))
verdicts = []
for b, n, p, p50, p99, rps, non2xx, errs, cpu in rows:
    d50, drps = direct.get((b, n), (float("nan"), float("nan")))
    p50, rps = float(p50), float(rps)
    print("%-8s %-5s %5s %-11s %9.0f %9.0f %9.0f %9.0f %9.3f %8.1f %6d" % (
        pin, b, n, p, p50, float(p99), rps, p50 - d50, rps / drps,
        float(cpu), int(non2xx) + int(errs)))
    if p == "http":
        allowed = max(0.05 * d50, 50.0)
        verdicts.append("%s %s c=%s: p50 %s (+%.0f us, allowed %.0f), "
                        "throughput %s (%.1f %%)" % (
            pin, b, n, "met" if p50 - d50 <= allowed else "missed",
            p50 - d50, allowed, "met" if rps >= 0.9 * drps else "missed",
            100 * (rps / drps - 1)))
for v in verdicts:
    print("goal, " + v)
EOF

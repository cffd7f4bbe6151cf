# Helpers for the localcloud tests: fake implementations in $T_DIR/impl,
# starting localcloud, and reading JSON replies. Sourced after tests/lib.sh.

LC_BIN=$B/localcloud/localcloud
LC_IMPL=$T_DIR/impl
LC_DATA=$T_DIR/data
LC_LOG=$T_DIR/localcloud.log
LC_PORT=
LC_PID=
LC_API=

# Writes the fake implementations:
#   t/ok      a python3 HTTP server: / returns its pid and Cloud Run
#             variables, /crash exits without a response, /half exits in
#             the middle of a response, /sleep?s=N replies after N seconds,
#             /big?n=N returns N bytes, POST /echo returns the length and
#             SHA-256 of the body
#   t/slow    the same server, after sleeping 1 s before listening
#   t/exit    exits with status 3 at once
#   t/noexec  a run file without the execute bit
lc_make_impls()
{
	mkdir -p "$LC_IMPL/t/ok" "$LC_IMPL/t/slow" "$LC_IMPL/t/exit" \
	    "$LC_IMPL/t/noexec"
	cat > "$LC_IMPL/server.py" <<'EOF'
import hashlib, http.server, json, os, sys, time, urllib.parse

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        self.reply(200, {"length": len(body),
                         "sha256": hashlib.sha256(body).hexdigest()})

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path == "/big":
            q = urllib.parse.parse_qs(url.query)
            n = int(q.get("n", ["0"])[0])
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = bytes(range(256)) * 256
            while n > 0:
                self.wfile.write(block[:min(n, len(block))])
                n -= min(n, len(block))
            return
        if url.path == "/crash":
            os._exit(1)
        if url.path == "/half":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
            self.wfile.flush()
            os._exit(1)
        if url.path == "/sleep":
            q = urllib.parse.parse_qs(url.query)
            time.sleep(float(q.get("s", ["1"])[0]))
        self.reply(200, {
            "pid": os.getpid(),
            "port": os.environ.get("PORT"),
            "service": os.environ.get("K_SERVICE"),
            "revision": os.environ.get("K_REVISION"),
            "configuration": os.environ.get("K_CONFIGURATION"),
            "greeting": os.environ.get("GREETING"),
        })

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
server.daemon_threads = True
server.serve_forever()
EOF
	printf '#!/bin/sh\nexec python3 "%s/server.py"\n' "$LC_IMPL" \
	    > "$LC_IMPL/t/ok/run"
	printf '#!/bin/sh\nsleep 1\nexec python3 "%s/server.py"\n' "$LC_IMPL" \
	    > "$LC_IMPL/t/slow/run"
	printf '#!/bin/sh\nexit 3\n' > "$LC_IMPL/t/exit/run"
	printf '#!/bin/sh\nexit 0\n' > "$LC_IMPL/t/noexec/run"
	chmod +x "$LC_IMPL/t/ok/run" "$LC_IMPL/t/slow/run" \
	    "$LC_IMPL/t/exit/run"
}

# lc_start [ARGS...]: starts localcloud on a free port, or on LC_API_PORT
# when set, and waits for it.
lc_start()
{
	LC_PORT=${LC_API_PORT:-$(free_port)}
	LC_API=http://127.0.0.1:$LC_PORT
	echo "# localcloud $*" >> "$LC_LOG"
	"$LC_BIN" --port "$LC_PORT" --data-dir "$LC_DATA" \
	    --implementations "$LC_IMPL" --log-format text "$@" \
	    >> "$LC_LOG" 2>&1 &
	LC_PID=$!
	t_track "$LC_PID"
	wait_for 10 curl -s -o /dev/null "$LC_API/"
}

# lc_stop: SIGTERM, and waits (bounded) for the exit.
lc_stop()
{
	kill -TERM "$LC_PID" 2>/dev/null
	for _ in $(seq 1 150); do
		kill -0 "$LC_PID" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# lc_call METHOD PATH [BODY]: the reply body goes to $T_DIR/body, the
# status is printed.
lc_call()
{
	if [ $# -ge 3 ]; then
		curl -s -o "$T_DIR/body" -w '%{http_code}' --max-time 30 \
		    -X "$1" -H 'Content-Type: application/json' \
		    --data-binary "$3" "$LC_API$2"
	else
		curl -s -o "$T_DIR/body" -w '%{http_code}' --max-time 30 \
		    -X "$1" "$LC_API$2"
	fi
}

# jq_body EXPR: evaluates a Python expression on the last body, as d.
jq_body()
{
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' \
	    "$T_DIR/body" "$1" 2>/dev/null
}

# lc_service_body IMAGE [EXTRA_TEMPLATE_JSON]: a Service body.
lc_service_body()
{
	printf '{"template":{"containers":[{"image":"%s","env":[{"name":"GREETING","value":"hello"}],"resources":{"limits":{"cpu":"1","memory":"512Mi"},"cpuIdle":true,"startupCpuBoost":true}}]%s}}' \
	    "$1" "${2:-}"
}

# lc_wait_op OPNAME: waits for the operation; the final one is in body.
lc_wait_op()
{
	[ "$(lc_call POST "/v2/$1:wait" '{"timeout":"30s"}')" = 200 ] &&
	    [ "$(jq_body 'd.get("done")')" = true ]
}

# lc_deploy ID IMAGE [EXTRA]: creates a service and waits for its deploy.
lc_deploy()
{
	status=$(lc_call POST "/v2/projects/p/locations/r/services?serviceId=$1" \
	    "$(lc_service_body "$2" "${3:-}")")
	[ "$status" = 200 ] || return 1
	lc_wait_op "$(jq_body 'd["name"]')"
}

# lc_uri ID: prints the service's uri.
lc_uri()
{
	lc_call GET "/v2/projects/p/locations/r/services/$1" >/dev/null &&
	    jq_body 'd["uri"]'
}

# lc_instances ID: pids of this test's instances of a service, found by the
# K_SERVICE and LC_TEST_DIR variables in their environment.
lc_instances()
{
	for e in /proc/[0-9]*/environ; do
		if grep -qzx "K_SERVICE=$1" "$e" 2>/dev/null &&
		    grep -qzx "LC_TEST_DIR=$T_DIR" "$e" 2>/dev/null; then
			p=${e#/proc/}
			echo "${p%/environ}"
		fi
	done
}

export LC_TEST_DIR=$T_DIR

#!/bin/sh
# Runs every discord-webhook contract vector with perf-agent-contract
# against each reference implementation, started directly on a free
# loopback port. The four real implementations must reach compliance 100;
# the negative control, which accepts any signature, must fail exactly the
# counted vectors that expect 401. Also checks that the runner survives a
# closed port and a server that never responds, and rejects a malformed
# vector file.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

# The c-libevent run script finds the out-of-tree binary through this.
PERF_AGENT_BUILDDIR=$B
export PERF_AGENT_BUILDDIR
CONTRACT=$B/measured/perf-agent-contract
VECTORS=$S/contract/discord-webhook/test-vectors
IMPLS=$S/implementations/discord-webhook

t_plan 24

# Prints a field of a JSON report.
report_field()
{
	python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}

# Prints the sorted names of the counted failures of a report.
failure_names()
{
	python3 -c 'import json, sys
print(" ".join(sorted(f["name"] for f in json.load(open(sys.argv[1]))["failures"])))' "$1"
}

# Prints the sorted names of the counted vectors that expect only 401.
names_expecting_401()
{
	python3 -c 'import glob, json, os, sys
names = []
for path in glob.glob(os.path.join(sys.argv[1], "*.json")):
    v = json.load(open(path))
    if not v.get("optional", False) and v["expect"]["status"] in (401, [401]):
        names.append(v["name"])
print(" ".join(sorted(names)))' "$VECTORS"
}

# Succeeds when an HTTP server responds on 127.0.0.1:$1.
responds_to_http()
{
	[ "$(http_status "http://127.0.0.1:$1/interactions")" != 000 ]
}

# start_impl NAME RUN: starts an implementation on a free port; sets
# IMPL_PID and IMPL_PORT and succeeds once it responds to HTTP.
start_impl()
{
	IMPL_PORT=$(free_port)
	PORT=$IMPL_PORT DISCORD_PUBLIC_KEY=$PUBLIC_KEY "$2" \
	    >"$T_DIR/$1.log" 2>&1 &
	IMPL_PID=$!
	t_track "$IMPL_PID"
	wait_for 30 responds_to_http "$IMPL_PORT"
}

# run_contract NAME [options...]: runs every vector against the started
# implementation; the report goes to $T_DIR/NAME.json, the exit status to
# RUN_STATUS.
run_contract()
{
	name=$1
	shift
	"$CONTRACT" --type discord-webhook --secret-file "$T_DIR/seed" \
	    --vectors "$VECTORS" --url "http://127.0.0.1:$IMPL_PORT" "$@" \
	    >"$T_DIR/$name.json" 2>"$T_DIR/$name.contract.log"
	RUN_STATUS=$?
}

# Succeeds when process $1 has exited: gone, or a zombie not yet reaped.
has_exited()
{
	case "$(ps -o stat= -p "$1" 2>/dev/null)" in
	"" | Z*) return 0 ;;
	*) return 1 ;;
	esac
}

# stops_cleanly PID: SIGTERM, then the process must exit with status 0
# within 10 seconds, else it is killed. No watchdog subshell: one killed
# right after its fork can still run this shell's EXIT trap, which would
# remove T_DIR in the middle of the test.
stops_cleanly()
{
	kill -TERM "$1" 2>/dev/null || return 1
	if ! wait_for 10 has_exited "$1"; then
		kill -KILL "$1" 2>/dev/null
		wait "$1"
		return 1
	fi
	wait "$1"
}

# check_real NAME RUN: three checks for an implementation that must pass.
check_real()
{
	if ! start_impl "$1" "$2"; then
		fail "$1: listening on 127.0.0.1:$IMPL_PORT (see $1.log)"
		fail "$1: compliance 100"
		fail "$1: exits 0 on SIGTERM"
		return
	fi
	ok "$1: listening on 127.0.0.1:$IMPL_PORT"
	run_contract "$1"
	compliance=$(report_field "$T_DIR/$1.json" contract_compliance)
	if [ "$RUN_STATUS" -eq 0 ] && [ "$compliance" = 100.0 ]; then
		ok "$1: compliance 100"
	else
		fail "$1: compliance 100, got $compliance (exit $RUN_STATUS," \
		    "failures: $(failure_names "$T_DIR/$1.json"))"
	fi
	check "$1: exits 0 on SIGTERM" stops_cleanly "$IMPL_PID"
}

# skip_real NAME REASON: the three checks of an implementation that cannot
# run here.
skip_real()
{
	skip "$1: listening: $2"
	skip "$1: compliance 100: $2"
	skip "$1: exits 0 on SIGTERM: $2"
}

# Prints the run script of the express implementation after making sure
# its node_modules exist, installing them with npm ci when needed (in a
# copy when the source tree is read-only, as under make distcheck).
express_run()
{
	dir=$IMPLS/node-discord-interactions
	if [ -d "$dir/node_modules/discord-interactions" ]; then
		echo "$dir/run"
		return 0
	fi
	if [ ! -w "$dir" ]; then
		cp -R "$dir" "$T_DIR/node-discord-interactions" || return 1
		chmod -R u+w "$T_DIR/node-discord-interactions"
		dir=$T_DIR/node-discord-interactions
	fi
	echo "# running npm ci in $dir" >&2
	(cd "$dir" && npm ci --no-audit --no-fund) \
	    >"$T_DIR/npm-ci.log" 2>&1 || return 1
	echo "$dir/run"
}

# The run's key pair comes from a seed only the test and the runner see.
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$T_DIR/seed"
chmod 600 "$T_DIR/seed"
"$CONTRACT" --type discord-webhook --secret-file "$T_DIR/seed" \
    --public-key-out "$T_DIR/public-key"
check "public key written as 64 hex characters" \
    grep -Eqx '[0-9a-f]{64}' "$T_DIR/public-key"
PUBLIC_KEY=$(cat "$T_DIR/public-key")

if [ -x "$B/implementations/discord-webhook/c-libevent/server" ]; then
	check_real c-libevent "$IMPLS/c-libevent/run"
else
	skip_real c-libevent "server binary not built"
fi

if /usr/bin/python3 -c 'import nacl.signing' 2>/dev/null; then
	check_real python "$IMPLS/python/run"
else
	skip_real python "/usr/bin/python3 cannot import nacl" \
	    "(apt-get install python3-nacl)"
fi

if command -v node >/dev/null 2>&1; then
	check_real node "$IMPLS/node/run"
	if express_run >"$T_DIR/express-run"; then
		check_real node-discord-interactions "$(cat "$T_DIR/express-run")"
	else
		skip_real node-discord-interactions "npm ci failed" \
		    "(see npm-ci.log)"
	fi
else
	skip_real node "node is not installed"
	skip_real node-discord-interactions "node is not installed"
fi

# The negative control: every signature check is missing, so exactly the
# counted vectors that expect 401 fail, and nothing else.
if /usr/bin/python3 -c '' 2>/dev/null &&
    start_impl broken-accepts-any "$IMPLS/broken-accepts-any/run"; then
	ok "broken-accepts-any: listening on 127.0.0.1:$IMPL_PORT"
	run_contract broken-accepts-any
	compliance=$(report_field "$T_DIR/broken-accepts-any.json" \
	    contract_compliance)
	if [ "$RUN_STATUS" -eq 1 ] &&
	    python3 -c 'import sys; sys.exit(not float(sys.argv[1]) < 100)' \
	    "$compliance"; then
		ok "broken-accepts-any: compliance $compliance, below 100"
	else
		fail "broken-accepts-any: compliance below 100, got" \
		    "$compliance (exit $RUN_STATUS)"
	fi
	got=$(failure_names "$T_DIR/broken-accepts-any.json")
	want=$(names_expecting_401)
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		ok "broken-accepts-any: fails exactly the 401 vectors"
	else
		fail "broken-accepts-any: fails exactly the 401 vectors;" \
		    "got [$got], expected [$want]"
	fi
	missing=""
	for name in signature-bit-flipped body-extra-space \
	    body-trailing-newline other-key missing-both signature-empty; do
		case " $got " in
		*" $name "*) ;;
		*) missing="$missing $name" ;;
		esac
	done
	if [ -z "$missing" ]; then
		ok "broken-accepts-any: flipped and tampered vectors named"
	else
		fail "broken-accepts-any: not named as failures:$missing"
	fi
	kill -TERM "$IMPL_PID" 2>/dev/null
else
	fail "broken-accepts-any: listening (see broken-accepts-any.log)"
	fail "broken-accepts-any: compliance below 100"
	fail "broken-accepts-any: fails exactly the 401 vectors"
	fail "broken-accepts-any: flipped and tampered vectors named"
fi

# The seed never reaches a report or a log of the runner.
seed=$(cat "$T_DIR/seed")
if cat "$T_DIR"/*.json "$T_DIR"/*.contract.log 2>/dev/null |
    grep -qi "$seed"; then
	fail "secret seed absent from reports and logs"
else
	ok "secret seed absent from reports and logs"
fi

# A closed port fails every vector as a connection error, no crash.
IMPL_PORT=$(free_port)
run_contract closed-port --timeout-ms 2000
if [ "$RUN_STATUS" -eq 1 ] && python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
ok = r["passed"] == 0 and r["contract_compliance"] == 0 and \
    len(r["failures"]) == r["counted"] and \
    all(f["reason"].startswith("request failed") and
        f["actual"]["status"] is None for f in r["failures"])
sys.exit(not ok)' "$T_DIR/closed-port.json"; then
	ok "closed port: every vector fails as a connection error"
else
	fail "closed port: every vector fails as a connection error" \
	    "(exit $RUN_STATUS)"
fi

# A server that accepts connections and never responds: each request ends
# at the per-request timeout. Two vectors keep the run short.
mkdir "$T_DIR/two-vectors"
cp "$VECTORS/001-ping.json" "$VECTORS/020-signature-bit-flipped.json" \
    "$T_DIR/two-vectors/"
IMPL_PORT=$(free_port)
python3 -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
held = []
deadline = time.monotonic() + 60
s.settimeout(1)
while time.monotonic() < deadline:
    try:
        held.append(s.accept())
    except socket.timeout:
        pass' "$IMPL_PORT" &
t_track $!
wait_for 10 python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
    "$IMPL_PORT"
"$CONTRACT" --type discord-webhook --secret-file "$T_DIR/seed" \
    --vectors "$T_DIR/two-vectors" --url "http://127.0.0.1:$IMPL_PORT" \
    --timeout-ms 300 >"$T_DIR/silent.json" 2>"$T_DIR/silent.contract.log"
RUN_STATUS=$?
if [ "$RUN_STATUS" -eq 1 ] && python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
ok = len(r["failures"]) == 2 and \
    all("timed out" in f["reason"].lower() for f in r["failures"])
sys.exit(not ok)' "$T_DIR/silent.json"; then
	ok "silent server: both vectors fail as timeouts"
else
	fail "silent server: both vectors fail as timeouts (exit $RUN_STATUS)"
fi

# https with --cafile: a TLS server with a self-signed certificate for
# 127.0.0.1 that sends the PONG to every POST. The PING vector passes with
# the certificate as CA file and fails without it.
if openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$T_DIR/tls.key" \
    -out "$T_DIR/tls.crt" >"$T_DIR/openssl.log" 2>&1; then
	mkdir "$T_DIR/ping-only"
	cp "$VECTORS/001-ping.json" "$T_DIR/ping-only/"
	IMPL_PORT=$(free_port)
	python3 -c 'import http.server, ssl, sys
class Pong(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "10")
        self.end_headers()
        self.wfile.write(b"{\"type\":1}")
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Pong)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[2], sys.argv[3])
server.socket = context.wrap_socket(server.socket, server_side=True)
server.timeout = 1
for _ in range(60):
    server.handle_request()' "$IMPL_PORT" "$T_DIR/tls.crt" "$T_DIR/tls.key" \
	    >"$T_DIR/tls-server.log" 2>&1 &
	t_track $!
	wait_for 10 python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' \
	    "$IMPL_PORT"
	"$CONTRACT" --type discord-webhook --vectors "$T_DIR/ping-only" \
	    --url "https://127.0.0.1:$IMPL_PORT" --cafile "$T_DIR/tls.crt" \
	    >"$T_DIR/https.json" 2>"$T_DIR/https.contract.log"
	check "https: PING passes with --cafile" [ $? -eq 0 ]
	"$CONTRACT" --type discord-webhook --vectors "$T_DIR/ping-only" \
	    --url "https://127.0.0.1:$IMPL_PORT" \
	    >"$T_DIR/https-no-ca.json" 2>"$T_DIR/https-no-ca.contract.log"
	RUN_STATUS=$?
	if [ "$RUN_STATUS" -eq 1 ] && python3 -c 'import json, sys
f = json.load(open(sys.argv[1]))["failures"]
sys.exit(not (len(f) == 1 and f[0]["reason"].startswith("request failed")))' \
	    "$T_DIR/https-no-ca.json"; then
		ok "https: unknown certificate fails the request"
	else
		fail "https: unknown certificate fails the request" \
		    "(exit $RUN_STATUS)"
	fi
else
	skip "https: PING passes with --cafile: openssl req failed"
	skip "https: unknown certificate fails the request: openssl req failed"
fi

# A malformed vector file stops the run with the file and field named.
mkdir "$T_DIR/bad-vectors"
sed 's/"status": 200/"status": "200"/' "$VECTORS/001-ping.json" \
    >"$T_DIR/bad-vectors/ping.json"
"$CONTRACT" --type discord-webhook --vectors "$T_DIR/bad-vectors" \
    --url "http://127.0.0.1:$IMPL_PORT" >/dev/null 2>"$T_DIR/bad.log"
RUN_STATUS=$?
# The message may be a JSON log line, where the quotes are escaped.
if [ "$RUN_STATUS" -eq 2 ] &&
    grep -q 'bad-vectors/ping.json: field .*expect\.status.*: must be an integer 100-599' \
    "$T_DIR/bad.log"; then
	ok "malformed vector: exit 2 naming file and field"
else
	fail "malformed vector: exit 2 naming file and field (exit" \
	    "$RUN_STATUS: $(cat "$T_DIR/bad.log"))"
fi

# The contract itself is valid OpenAPI 3, where the validator is installed.
if python3 -c 'import openapi_spec_validator' 2>/dev/null; then
	check "openapi.yaml is valid OpenAPI" python3 -c 'import sys
from openapi_spec_validator import validate
from openapi_spec_validator.readers import read_from_filename
validate(read_from_filename(sys.argv[1])[0])' \
	    "$S/contract/discord-webhook/openapi.yaml"
else
	skip "openapi.yaml is valid OpenAPI: python3 has no" \
	    "openapi_spec_validator"
fi

[ "$T_FAILED" -eq 0 ]

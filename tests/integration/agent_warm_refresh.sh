#!/bin/sh
# A warm phase outlives its signature and its identity token. localcloud
# issues tokens that last LIFETIME seconds, so that the token measured got
# for the cold sample has less than 600 s left, measured's renewal point,
# when the warm phase starts. The implementation logs the signature time
# and a hash of the token of every request it serves.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

LIFETIME=620
# The open loop: 20 requests a second for DURATION seconds, in which the
# request is rebuilt every 10 s.
DURATION=35

t_plan 10

make_data_dir header-log
cat >"$IMPL/server.py" <<'PY'
"""Answers every POST with a PONG and appends "TIMESTAMP TOKEN-HASH" for
each request to the file named by its argument. Checks no signature."""
import hashlib
import http.server
import os
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        auth = (self.headers.get("Authorization") or
                self.headers.get("X-Serverless-Authorization") or "")
        with open(sys.argv[1], "a") as f:
            f.write("%s %s\n" % (
                self.headers.get("X-Signature-Timestamp", "-"),
                hashlib.sha256(auth.encode()).hexdigest()[:12]))
        out = b'{"type":1}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(
    ("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
PY
cat >"$IMPL/run" <<EOF2
#!/bin/sh
exec python3 "$IMPL/server.py" "$T_DIR/requests.log"
EOF2
chmod +x "$IMPL/run"

if ! LOCALCLOUD_TOKEN_LIFETIME=$LIFETIME start_agent --data-dir "$DATA"; then
	fail "agent healthy in local mode"
	exit 1
fi
ok "agent healthy in local mode"

api POST /deploy "{\"run_id\":\"refresh-1\",\"benchmark_config\":{\"cold_start_iterations\":1,\"warm_request_count\":1000,\"warm_mode\":\"open\",\"warm_rate_rps\":20,\"warm_duration_s\":$DURATION,\"warm_request_concurrency\":2},\"agent_config\":{\"implementations\":[\"header-log\"],\"test_matrix\":{\"cpu\":[\"1\"]}},\"schedule\":{\"measure_delay_seconds\":1}}" >/dev/null
check "deploy" [ "$STATUS" = 200 ]
check "the run completes" wait_for $((DURATION + 120)) phase_is refresh-1 completed

lc_object "runs/refresh-1/discord-webhook/results.json" >"$T_DIR/results.json"
check "results.json validates against the schema" \
    "$S/tools/schema/validate.sh" "$S/schemas/results.schema.json" \
    "$T_DIR/results.json"
check "every warm request succeeded" \
    [ "$(json '[d["results"][0]["warm_requests"][k] for k in ("failed", "error_rate")]' \
    <"$T_DIR/results.json")" = '[0, 0.0]' ]

# Warm requests share a signature time for 10 s, about 200 requests;
# the contract's requests use a time each only a few times.
awk '{ n[$1]++ } END { for (t in n) if (n[t] >= 20) print t }' \
    "$T_DIR/requests.log" | sort -n >"$T_DIR/stamps"
stamps=$(wc -l <"$T_DIR/stamps")
check "the warm request was signed again during the phase ($stamps times)" \
    [ "$stamps" -ge 3 ]
first=$(head -n 1 "$T_DIR/stamps")
last=$(tail -n 1 "$T_DIR/stamps")
check "its signature times span the phase ($((last - first)) s)" \
    [ $((last - first)) -ge 20 ]
tokens=$(awk 'NR == FNR { s[$1] = 1; next } ($1 in s) { print $2 }' \
    "$T_DIR/stamps" "$T_DIR/requests.log" | sort -u | wc -l)
check "the warm phase renewed its identity token ($tokens tokens)" \
    [ "$tokens" -ge 2 ]
check "no renewal failed" sh -c "! grep -q 'cannot renew' '$AGENT_LOG'"

stop_agent
check "no sanitizer report in the log" \
    sh -c "! grep -q 'Sanitizer' '$AGENT_LOG'"

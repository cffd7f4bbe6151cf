#!/bin/sh
# Cold samples: one request per fresh connection, phases, status checks.

. "$PERF_AGENT_SRCDIR/tests/integration/engine_lib.sh"

t_plan 9

start_server cold --nodelay || { fail "server start"; exit 1; }
URL="http://127.0.0.1:$PORT/"

if load cold1 --url "$URL" --cold && load cold2 --url "$URL" --cold; then
	ok "cold samples run"
else
	fail "cold samples run"
fi
check "each sample opens its own connection" test "$(server_conns cold)" -eq 2
jcheck "cold sample succeeds" "$T_DIR/cold1.json" \
    "d['ok'] is True and d['status'] == 200 and d['error'] is None"
jcheck "cold start is the client total" "$T_DIR/cold1.json" \
    "d['cold_start_ms'] == d['client_total_ms'] and d['cold_start_ms'] > 0"
jcheck "plain http has phases but no TLS" "$T_DIR/cold1.json" \
    "d['phases_ms']['tls'] is None and all(d['phases_ms'][k] is not None for k in ['dns', 'tcp_connect', 'request_sent', 'first_byte', 'total'])"
jcheck "body is kept" "$T_DIR/cold1.json" \
    "d['body_bytes'] == 34 and d['body_truncated'] is False"

load cold_status --url "$URL" --cold --expect-status 201
jcheck "unexpected status is an http_status error" "$T_DIR/cold_status.json" \
    "d['ok'] is False and d['error']['kind'] == 'http_status' and d['status'] == 200 and d['cold_start_ms'] is None"

printf '{"type":1}' >"$T_DIR/body.json"
load cold_post --url "${URL}interactions" --cold --body-file "$T_DIR/body.json" \
    --header "Content-Type: application/json"
jcheck "cold POST with a body" "$T_DIR/cold_post.json" \
    "d['ok'] is True and d['status'] == 200"

start_server hang --hang || fail "hanging server start"
load cold_hang --url "http://127.0.0.1:$PORT/" --cold --timeout 0.3
jcheck "cold timeout is classified" "$T_DIR/cold_hang.json" \
    "d['ok'] is False and d['error']['kind'] == 'timeout'"

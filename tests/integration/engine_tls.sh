#!/bin/sh
# https: warm keep-alive and cold samples against a local TLS server with
# a self-signed certificate for 127.0.0.1 made here by openssl.

. "$PERF_AGENT_SRCDIR/tests/integration/engine_lib.sh"

t_plan 10

if ! openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$T_DIR/key.pem" \
    -out "$T_DIR/cert.pem" >"$T_DIR/openssl.log" 2>&1; then
	fail "self-signed certificate"
	exit 1
fi
start_server tls --cert "$T_DIR/cert.pem" --key "$T_DIR/key.pem" \
    --nodelay || { fail "TLS server start"; exit 1; }
URL="https://127.0.0.1:$PORT/"

if load tls --url "$URL" --cafile "$T_DIR/cert.pem" --requests 50 \
    --concurrency 2; then ok "https run completes"; else fail "https run completes"; fi
jcheck "https requests succeed" "$T_DIR/tls.json" \
    "d['succeeded'] == 50 and d['failed'] == 0"
jcheck "https keeps its connections" "$T_DIR/tls.json" \
    "d['connections']['opened'] == 2 and d['connections']['connect_ms']['count'] == 2"
check "TLS server accepted two connections" test "$(server_conns tls)" -eq 2

load untrusted --url "$URL" --requests 10 --concurrency 1
jcheck "unknown CA fails as tls errors" "$T_DIR/untrusted.json" \
    "d['failed'] == 10 and d['errors']['tls'] == 10"
jcheck "tls failures give null statistics" "$T_DIR/untrusted.json" \
    "all(d['statistics'][k] is None for k in $STAT_KEYS)"

load cold --url "$URL" --cafile "$T_DIR/cert.pem" --cold
jcheck "cold https sample succeeds" "$T_DIR/cold.json" \
    "d['ok'] is True and d['status'] == 200"
jcheck "cold https sample has a TLS phase" "$T_DIR/cold.json" \
    "d['phases_ms']['tls'] is not None and d['phases_ms']['tls'] > 0"
jcheck "cold total covers the phases" "$T_DIR/cold.json" \
    "d['cold_start_ms'] >= d['timeline_ms']['starttransfer']"

load cold_untrusted --url "$URL" --cold
jcheck "cold sample with unknown CA is a tls error" \
    "$T_DIR/cold_untrusted.json" \
    "d['ok'] is False and d['error']['kind'] == 'tls'"

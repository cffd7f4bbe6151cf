#!/bin/sh
# Every request fails with connection refused: errors counted by kind,
# every statistic null, and the JSON strict (no NaN, no Infinity).

. "$PERF_AGENT_SRCDIR/tests/integration/engine_lib.sh"

t_plan 14

PORT=$(free_port)
if load refused --url "http://127.0.0.1:$PORT/" --requests 50 \
    --concurrency 5; then ok "refused run completes"; else fail "refused run completes"; fi
jcheck "every measured request failed" "$T_DIR/refused.json" \
    "d['attempted'] == 50 and d['succeeded'] == 0 and d['failed'] == 50"
jcheck "failures are connect errors" "$T_DIR/refused.json" \
    "d['errors']['connect'] == 50 and sum(v for k, v in d['errors'].items() if k != 'http_status_codes') == 50"
jcheck "error rate is 1" "$T_DIR/refused.json" "d['error_rate'] == 1.0"
jcheck "all statistics null" "$T_DIR/refused.json" \
    "all(d['statistics'][k] is None for k in $STAT_KEYS) and d['statistics']['count'] == 0"
jcheck "warm-up failures counted apart" "$T_DIR/refused.json" \
    "d['warmup']['failed'] == 5 and d['warmup']['errors']['connect'] == 5"
jcheck "no connection opened" "$T_DIR/refused.json" \
    "d['connections']['opened'] == 0"
jcheck "throughput is zero, not NaN" "$T_DIR/refused.json" \
    "d['throughput_rps'] in (0.0, None)"
if grep -Eq 'NaN|Infinity|nan|inf[,}]' "$T_DIR/refused.json"; then
	fail "no NaN or Infinity in the output"
else
	ok "no NaN or Infinity in the output"
fi

load refused_open --url "http://127.0.0.1:$PORT/" --rate 100 --duration 0.2
jcheck "open loop: every request failed" "$T_DIR/refused_open.json" \
    "d['attempted'] > 0 and d['failed'] == d['attempted'] and d['errors']['connect'] == d['attempted']"
jcheck "open loop: statistics null" "$T_DIR/refused_open.json" \
    "all(d['statistics'][k] is None for k in $STAT_KEYS) and all(d['open_loop']['service_time_statistics'][k] is None for k in $STAT_KEYS)"

load refused_cold --url "http://127.0.0.1:$PORT/" --cold --timeout 5
jcheck "cold sample: connect error" "$T_DIR/refused_cold.json" \
    "d['ok'] is False and d['error']['kind'] == 'connect'"
jcheck "cold sample: no cold start value" "$T_DIR/refused_cold.json" \
    "d['cold_start_ms'] is None and d['status'] is None"
if "$LOAD" --url "http://127.0.0.1:$PORT/" --requests 0 >/dev/null 2>&1; then
	fail "zero requests rejected"
else
	ok "zero requests rejected"
fi

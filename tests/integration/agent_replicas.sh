#!/bin/sh
# The replicas strategy: one service per cold sample, all taken by one measure.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"
t_plan 4

start_agent || exit 1
api POST /deploy '{"run_id":"rep-1","benchmark_config":{"cold_start_iterations":3,"cold_start_strategy":"replicas","warm_request_count":50,"warm_request_concurrency":2},"agent_config":{"implementations":["c-libevent"],"test_matrix":{"cpu":["1"]}},"schedule":{"measure_delay_seconds":2}}' > $T_DIR/d.json
check "deploys 3 replicas" [ "$(json 'd["services_to_deploy"]' < $T_DIR/d.json)" = 3 ]
check "replicas run completes" wait_for 120 phase_is rep-1 completed
api GET /results/rep-1 > $T_DIR/r.json
check "one result with 3 samples" [ "$(json 'len(d["results"]) == 1 and len(d["results"][0]["cold_start"]["measurements_ms"]) == 3' < $T_DIR/r.json)" = true ]
check "one measure round" [ "$(grep -c 'run rep-1: measuring round' "$AGENT_LOG")" = 1 ]

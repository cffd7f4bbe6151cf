#!/bin/sh
# A deploy that outlives its deployd. While one service of a run takes
# SLOW_START seconds to start:
#  - the run's measure trigger fires, and measured gives the run back
#    instead of holding its only measurement thread, so a second run
#    deployed meanwhile completes first;
#  - SIGTERM stops the agent in the middle of the deploy, which is stored
#    with no owner; the restarted agent resumes the deploy at once, and the
#    run completes with both services measured.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

# Seconds before the slow implementation listens; the deferral check needs
# the other run to finish well within it.
SLOW_START=25

t_plan 15

make_data_dir slow-start
cat >"$IMPL/run" <<EOF
#!/bin/sh
sleep $SLOW_START
exec "$S/implementations/discord-webhook/c-libevent/run"
EOF
chmod +x "$IMPL/run"

if ! start_agent --data-dir "$DATA"; then
	fail "agent healthy in local mode"
	exit 1
fi
ok "agent healthy in local mode"

deploy_body()
{
	printf '{"run_id":"%s","benchmark_config":{"cold_start_iterations":1,"warm_request_count":20,"warm_request_concurrency":2},"agent_config":{"implementations":%s,"test_matrix":{"cpu":["1"]}},"schedule":{"measure_delay_seconds":1,"round_delay_seconds":1}}' "$1" "$2"
}

deploy_status()
{
	lc_object "runs/$1/discord-webhook/deployment-status.json"
}

# 1. The slow run's trigger fires during its deploy; measured defers it.
started=$(date +%s)
api POST /deploy "$(deploy_body slow-1 '["slow-start","c-libevent"]')" \
    >/dev/null
check "deploy of the run with a slow service" [ "$STATUS" = 200 ]
check "measured gives the run back while its deploy runs" \
    wait_for 20 grep -q 'run slow-1: its deploy still runs' "$AGENT_LOG"

# 2. Another run is measured meanwhile.
api POST /deploy "$(deploy_body quick-1 '["c-libevent"]')" >/dev/null
check "deploy of a second run" [ "$STATUS" = 200 ]
wait_for 60 phase_is quick-1 completed failed
deploying=$(deploy_status slow-1 | json 'd["phase"]')
elapsed=$(($(date +%s) - started))
check "the second run completed while the first still deployed ($deploying after $elapsed s)" \
    [ "$deploying" = deploying ]
check "the second run ended completed" phase_is quick-1 completed

# 3. SIGTERM while the slow service starts.
stop_agent
check "agent exits on SIGTERM within 15 s (status $STOP_STATUS)" \
    [ "$STOP_STATUS" = 0 ]
lc_stored_object "runs/slow-1/discord-webhook/deployment-status.json" \
    >"$T_DIR/stopped.json"
check "the stopped deploy is stored with no owner" \
    [ "$(json '[d["phase"], d["owner"]]' <"$T_DIR/stopped.json")" = \
    '["deploying", null]' ]

# 4. The restarted agent (a new instance id) resumes it at once.
if ! start_agent --data-dir "$DATA"; then
	fail "agent restarts on the same runtime folder"
	exit 1
fi
ok "agent restarts on the same runtime folder"
check "deployd resumes the deploy" \
    wait_for 30 grep -q 'run slow-1: resuming the deploy' "$AGENT_LOG"
check "the resumed run completes" wait_for 180 phase_is slow-1 completed
lc_object "runs/slow-1/discord-webhook/results.json" >"$T_DIR/results.json"
check "both services measured" \
    [ "$(json 'sorted(r["implementation"] for r in d["results"])' \
    <"$T_DIR/results.json")" = '["c-libevent", "slow-start"]' ]
check "no errors in the results" \
    [ "$(json 'd["errors"]' <"$T_DIR/results.json")" = '[]' ]

stop_agent
check "restarted agent stops on SIGTERM (status $STOP_STATUS)" \
    [ "$STOP_STATUS" = 0 ]
check "no sanitizer report in the log" \
    sh -c "! grep -q 'Sanitizer' '$AGENT_LOG'"

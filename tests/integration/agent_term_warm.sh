#!/bin/sh
# SIGTERM in the middle of a warm phase: measured ends the phase at once,
# stores the progress without it and gives the run up, so that the agent
# exits within its grace time and the next /measure reruns the phase.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

RUN=term-warm
# The open loop lasts this many seconds, far longer than the supervisor's
# 8 s between SIGTERM and SIGKILL.
WARM_SECONDS=20

t_plan 10

if ! start_agent; then
	fail "agent healthy in local mode"
	exit 1
fi
ok "agent healthy in local mode"

api POST /deploy "{\"run_id\":\"$RUN\",\"benchmark_config\":{\"cold_start_iterations\":1,
\"warm_request_count\":100,\"warm_request_concurrency\":2,\"warm_mode\":\"open\",
\"warm_rate_rps\":50,\"warm_duration_s\":$WARM_SECONDS},
\"agent_config\":{\"implementations\":[\"c-libevent\"],\"test_matrix\":{\"cpu\":[\"1\"]}},
\"schedule\":{\"measure_delay_seconds\":1}}" >/dev/null
check "deploy answers 200" [ "$STATUS" = 200 ]

# Succeeds once the contract result is stored and the warm one is not:
# the warm phase runs.
in_warm_phase()
{
	lc_object "runs/$RUN/discord-webhook/measurement-status.json" |
	    json 'd["phase"] == "measuring" and any(s.get("contract") is not
	    None and s.get("warm") is None for s in d["services"].values())' |
	    grep -qx true
}
check "the warm phase starts" wait_for 120 in_warm_phase
sleep 2

kill -TERM "$AGENT_PID"
stopped=no
i=0
while [ $i -lt 150 ]; do
	if ! kill -0 "$AGENT_PID" 2>/dev/null; then
		stopped=yes
		break
	fi
	sleep 0.1
	i=$((i + 1))
done
wait "$AGENT_PID"
rc=$?
check "agent exits on SIGTERM within 15 s (status $rc)" \
    [ "$stopped:$rc" = yes:0 ]
check "measured was not killed at the end of the grace time" \
    sh -c "! grep -q 'measured (pid [0-9]*) killed by signal 9' '$AGENT_LOG'"

# The stored status, read from localcloud's folder while nothing runs.
lc_stored_object "runs/$RUN/discord-webhook/measurement-status.json" \
    >"$T_DIR/partial.json"
check "the run is released with the warm phase not stored" \
    [ "$(json '[d["phase"], d["owner"], [s.get("warm") for s in
    d["services"].values()]]' <"$T_DIR/partial.json")" = \
    '["measuring", null, [null]]' ]

if ! start_agent; then
	fail "agent restarts on the same runtime folder"
	exit 1
fi
ok "agent restarts on the same runtime folder"
api POST /measure "{\"run_id\":\"$RUN\"}" >/dev/null
check "/measure after the restart answers 200" [ "$STATUS" = 200 ]
check "the resumed run completes" wait_for 180 phase_is "$RUN" completed
lc_object "runs/$RUN/discord-webhook/results.json" >"$T_DIR/results.json"
check "the warm phase ran in full after the restart" [ "$(json \
    'd["results"][0]["warm_requests"]["duration_ms"] >= 1000 * '"$WARM_SECONDS"' - 100' \
    <"$T_DIR/results.json")" = true ]

kill -TERM "$AGENT_PID"
wait "$AGENT_PID"

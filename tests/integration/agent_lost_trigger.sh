#!/bin/sh
# Measure triggers that never come: the scheduler job of the first
# measure, and then the one of the second round, are deleted before they
# fire. measured starts each round itself once it is TRIGGER_GRACE seconds
# (10 in local mode) late. The delays of 300 s fire in 5 to 6 s on
# localcloud's scheduler clock, which runs 60 times faster, so each job is
# deleted well before it fires.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

t_plan 10

if ! start_agent; then
	fail "agent healthy in local mode"
	exit 1
fi
ok "agent healthy in local mode"

RUN=lost-1
JOB=$LC/v1/projects/local-project/locations/local-region/jobs/discord-webhook-measure-$RUN

delete_job()
{
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
	    -X DELETE "$JOB")" = 200 ]
}

measure_phase()
{
	lc_object "runs/$RUN/discord-webhook/measurement-status.json" |
	    json '"%s %s" % (d["phase"], d["round"])' 2>/dev/null
}

phase_round_is()
{
	[ "$(measure_phase)" = "$1" ]
}

api POST /deploy "{\"run_id\":\"$RUN\",\"benchmark_config\":{\"cold_start_iterations\":2,\"warm_request_count\":20,\"warm_request_concurrency\":2},\"agent_config\":{\"implementations\":[\"c-libevent\"],\"test_matrix\":{\"cpu\":[\"1\"]}},\"schedule\":{\"measure_delay_seconds\":300,\"round_delay_seconds\":300}}" >/dev/null
check "deploy" [ "$STATUS" = 200 ]
check "the first trigger is deleted before it fires" delete_job
check "measured starts the first round on its own" \
    wait_for 60 grep -q "run $RUN: the measure trigger did not come" \
    "$AGENT_LOG"
check "round 1 ends waiting for round 2" wait_for 60 phase_round_is "waiting 1"
check "the second trigger is deleted before it fires" delete_job
check "measured starts round 2 on its own" \
    wait_for 60 grep -q "run $RUN: the trigger of round 2 did not come" \
    "$AGENT_LOG"
check "the run completes" wait_for 60 phase_is "$RUN" completed
lc_object "runs/$RUN/discord-webhook/results.json" >"$T_DIR/results.json"
check "two cold samples" [ "$(json 'len(d["results"][0]["cold_start"]["samples"])' \
    <"$T_DIR/results.json")" = 2 ]

stop_agent
check "agent stops on SIGTERM (status $STOP_STATUS)" [ "$STOP_STATUS" = 0 ]

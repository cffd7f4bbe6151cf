#!/bin/sh
# The Agent API end to end against localcloud: deploy, the scheduled
# measure, status, results checked against the results schema, repeats of
# /deploy and /measure, and cleanup.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

t_plan 24

if ! start_agent; then
	fail "agent healthy in local mode"
	exit 1
fi
ok "agent healthy in local mode"

DEPLOY='{"run_id":"flow-1","benchmark_config":{"cold_start_iterations":2,
"warm_request_count":200,"warm_request_concurrency":4},
"agent_config":{"implementations":["c-libevent","python"],
"test_matrix":{"cpu":["1","2"]}},
"schedule":{"measure_delay_seconds":3,"round_delay_seconds":1}}'

api POST /deploy "$DEPLOY" >"$T_DIR/deploy.json"
check "deploy answers 200" [ "$STATUS" = 200 ]
check "deploy status deploying" [ "$(json 'd["status"]' <"$T_DIR/deploy.json")" = deploying ]
check "2 implementations x 2 cpus = 4 services" [ "$(json 'd["services_to_deploy"]' <"$T_DIR/deploy.json")" = 4 ]
check "scheduler job named by type and run" [ "$(json 'd["scheduler_job"]' <"$T_DIR/deploy.json")" = discord-webhook-measure-flow-1 ]
check "state_url in the state bucket" [ "$(json 'd["state_url"]' <"$T_DIR/deploy.json")" = gs://perf-benchmark-state/runs/flow-1/discord-webhook/ ]

api POST /deploy "$DEPLOY" >"$T_DIR/again.json"
check "same deploy again returns the run" sh -c "[ $STATUS = 200 ] && grep -q '\"existing\": *true' '$T_DIR/again.json'"
api POST /deploy "$(echo "$DEPLOY" | sed 's/"warm_request_count":200/"warm_request_count":300/')" >/dev/null
check "same run_id, other body: 409" [ "$STATUS" = 409 ]

check "status reaches waiting or later" wait_for 60 phase_is flow-1 waiting measuring completed
check "measure fires on schedule and the run completes" wait_for 180 phase_is flow-1 completed

api GET /status/flow-1 >"$T_DIR/status.json"
check "status progress measured 4" [ "$(json 'd["progress"]["measured"]' <"$T_DIR/status.json")" = 4 ]
check "status has measure_completed" [ "$(json 'd["timestamps"]["measure_completed"] is not None' <"$T_DIR/status.json")" = true ]

lc_object runs/flow-1/discord-webhook/results.json >"$T_DIR/results.json"
check "results.json validates against the schema" \
    "$S/tools/schema/validate.sh" "$S/schemas/results.schema.json" "$T_DIR/results.json"
check "results has 4 entries" [ "$(json 'len(d["results"])' <"$T_DIR/results.json")" = 4 ]
check "every result has full compliance" [ "$(json 'all(r["contract_compliance"] == 100 for r in d["results"])' <"$T_DIR/results.json")" = true ]
check "every result has 2 cold samples" [ "$(json 'all(len(r["cold_start"]["measurements_ms"]) == 2 for r in d["results"])' <"$T_DIR/results.json")" = true ]
check "no sample measured twice" [ "$(json 'all(len({(s["round"], s["service_name"]) for s in r["cold_start"]["samples"]}) == len(r["cold_start"]["samples"]) for r in d["results"])' <"$T_DIR/results.json")" = true ]
check "cold samples are new instances" [ "$(json 'all(len({s["instance_id"] for s in r["cold_start"]["samples"]}) == 2 for r in d["results"])' <"$T_DIR/results.json")" = true ]
check "GET /results matches the stored object" sh -c "curl -s -H 'Authorization: Bearer $TOKEN' '$API/results/flow-1' | python3 -c 'import json,sys; a=json.load(sys.stdin); b=json.load(open(\"$T_DIR/results.json\")); sys.exit(a != b)'"

# /measure on a completed run returns its state and measures nothing.
(api POST /measure '{"run_id":"flow-1"}' >"$T_DIR/m1.json") &
second=$!
api POST /measure '{"run_id":"flow-1"}' >"$T_DIR/m2.json"
wait $second
check "measure after completion reports completed" sh -c "grep -q '\"completed\"' '$T_DIR/m1.json' && grep -q '\"completed\"' '$T_DIR/m2.json'"
dup=$(grep -o 'run flow-1: measuring round [0-9]*' "$AGENT_LOG" | sort | uniq -d)
check "no round claimed twice" [ -z "$dup" ]

api POST /cleanup '{"run_id":"flow-1"}' >"$T_DIR/cleanup.json"
check "cleanup deletes 4 services" [ "$(json 'd["services_deleted"]' <"$T_DIR/cleanup.json")" = 4 ]
check "no service left" [ -z "$(lc_services)" ]
check "no scheduler job left" [ -z "$(lc_jobs)" ]

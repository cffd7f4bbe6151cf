#!/bin/sh
# Calls to the services under test carry an ID token for the service's URL.
# In local mode localcloud checks the token of every request to a private
# service, as Cloud Run's invoker check does, so a measure completes only
# when measured sends valid tokens. With PUBLIC_SERVICES the services are
# deployed open to all and are called without a token.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

t_plan 24

# deploy_and_measure RUN: deploys one c-libevent service and waits for the
# scheduled measure to end.
deploy_and_measure()
{
	api POST /deploy "{\"run_id\":\"$1\",\"benchmark_config\":{\"cold_start_iterations\":1,
\"warm_request_count\":100,\"warm_request_concurrency\":2},
\"agent_config\":{\"implementations\":[\"c-libevent\"],\"test_matrix\":{\"cpu\":[\"1\"]}},
\"schedule\":{\"measure_delay_seconds\":1}}" >"$T_DIR/$1.deploy"
	[ "$STATUS" = 200 ] || return 1
	wait_for 180 phase_is "$1" completed failed
}

# service_field RUN FILTER: a field of the run's service in localcloud.
service_field()
{
	name=$(json 'd["results"][0]["metadata"]["service_name"]' \
	    <"$T_DIR/$1.results")
	curl -s --max-time 10 "$LC/v2/projects/local-project/locations/local-region/services/$name" |
	    json "$2"
}

# 1. Private services, the default.
if ! start_agent; then
	fail "agent healthy in local mode"
	exit 1
fi
ok "agent healthy in local mode"

check "a measure of a private service ends" deploy_and_measure inv-private
check "it completed" phase_is inv-private completed
lc_object runs/inv-private/discord-webhook/results.json \
    >"$T_DIR/inv-private.results"
check "contract compliance 100 with the token" [ "$(json \
    'd["results"][0]["contract_compliance"] == 100' \
    <"$T_DIR/inv-private.results")" = true ]
check "one cold sample" [ "$(json \
    'len(d["results"][0]["cold_start"]["measurements_ms"])' \
    <"$T_DIR/inv-private.results")" = 1 ]
check "no failed warm request" [ "$(json \
    'd["results"][0]["warm_requests"]["error_rate"]' \
    <"$T_DIR/inv-private.results")" = 0.0 ]
check "the service is private" [ "$(service_field inv-private \
    'd.get("invokerIamDisabled", False)')" = false ]

URL=$(json 'd["results"][0]["metadata"]["service_url"]' \
    <"$T_DIR/inv-private.results")
check "a request without a token is refused with 403" \
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 \
    --cacert "$RT/localcloud/ca.pem" "$URL/interactions")" = 403 ]
curl -s --max-time 10 -H 'Metadata-Flavor: Google' \
    "$LC/computeMetadata/v1/instance/service-accounts/default/identity?audience=$URL" \
    >"$T_DIR/service.token"
check "a request with the token reaches the service (405 for GET)" \
    [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 \
    --cacert "$RT/localcloud/ca.pem" \
    -H "Authorization: Bearer $(cat "$T_DIR/service.token")" \
    "$URL/interactions")" = 405 ]

# The contract tool signs with a key of its own here, not the run's. So
# only the vectors that expect a rejected signature can pass. Without the
# token none can pass, because every request gets the 403.
contract_passed()
{
	"$B/measured/perf-agent-contract" --type discord-webhook \
	    --vectors "$S/contract/discord-webhook/test-vectors" --url "$URL" \
	    --cafile "$RT/localcloud/ca.pem" "$@" 2>/dev/null |
	    json 'd["passed"]'
}
check "the contract tool passes no vector without a token" \
    [ "$(contract_passed)" = 0 ]
check "with --token-file it passes the rejection vectors" \
    [ "$(contract_passed --token-file "$T_DIR/service.token")" -gt 0 ]
check "no token in the agent's log" [ "$(grep -c eyJ "$AGENT_LOG")" = 0 ]
api POST /cleanup '{"run_id":"inv-private"}' >/dev/null
check "cleanup answers 200" [ "$STATUS" = 200 ]
stop_agent
check "agent stops" [ $? = 0 ]

# 2. PUBLIC_SERVICES: open services, called without a token.
AGENT_LOG=$T_DIR/agent-public.log
if ! PUBLIC_SERVICES=1 start_agent --runtime-dir "$T_DIR/run-public"; then
	fail "agent with PUBLIC_SERVICES healthy"
	exit 1
fi
ok "agent with PUBLIC_SERVICES healthy"
RT=$T_DIR/run-public
check "a measure of a public service completes" deploy_and_measure inv-public
lc_object runs/inv-public/discord-webhook/results.json \
    >"$T_DIR/inv-public.results"
check "contract compliance 100 without a token" [ "$(json \
    'd["results"][0]["contract_compliance"] == 100' \
    <"$T_DIR/inv-public.results")" = true ]
check "the service is deployed with invokerIamDisabled" \
    [ "$(service_field inv-public 'd.get("invokerIamDisabled", False)')" = true ]

# 3. A service made private again before its measure, which the agent
# (PUBLIC_SERVICES) calls without a token: the invoker check refuses the
# cold request with 403, and no later round would change that.
api POST /deploy '{"run_id":"inv-denied","benchmark_config":{"cold_start_iterations":3,"warm_request_count":20,"warm_request_concurrency":2},"agent_config":{"implementations":["c-libevent"],"test_matrix":{"cpu":["1"]}},"schedule":{"measure_delay_seconds":300,"round_delay_seconds":1}}' >/dev/null
deploy_waiting()
{
	lc_object runs/inv-denied/discord-webhook/deployment-status.json |
	    json 'd["phase"]' | grep -qx waiting
}
wait_for 30 deploy_waiting
name=$(lc_object runs/inv-denied/discord-webhook/deployment-manifest.json |
    json 'd["services"][0]["service_name"]')
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X PATCH \
    -H 'Content-Type: application/json' --data '{"invokerIamDisabled":false}' \
    "$LC/v2/projects/local-project/locations/local-region/services/$name?updateMask=invokerIamDisabled")
check "the service is made private before its measure ($code)" [ "$code" = 200 ]
check "the refused run ends" wait_for 120 phase_is inv-denied completed failed
lc_object runs/inv-denied/discord-webhook/measurement-status.json \
    >"$T_DIR/denied.json"
check "one cold attempt, refused, in round 1 only" [ "$(json \
    '[(a["round"], a["outcome"], a["status"]) for s in d["services"].values() for a in s["cold"]]' \
    <"$T_DIR/denied.json")" = '[[1, "denied", 403]]' ]
check "the error names the invoker role" grep -q 'invoker role' \
    "$T_DIR/denied.json"
lc_object runs/inv-denied/discord-webhook/results.json \
    >"$T_DIR/denied-results.json"
check "its results.json validates against the schema" \
    "$S/tools/schema/validate.sh" "$S/schemas/results.schema.json" \
    "$T_DIR/denied-results.json"
api POST /cleanup '{"run_id":"inv-public"}' >/dev/null
api POST /cleanup '{"run_id":"inv-denied"}' >/dev/null
stop_agent
check "agent stops" [ $? = 0 ]

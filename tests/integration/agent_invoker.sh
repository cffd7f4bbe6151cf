#!/bin/sh
# Calls to the services under test carry an ID token for the service's URL.
# In local mode localcloud checks the token of every request to a private
# service, as Cloud Run's invoker check does, so a measure completes only
# when measured sends valid tokens. With PUBLIC_SERVICES the services are
# deployed open to all and are called without a token.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

t_plan 19

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

# stop_agent: SIGTERM, then waits up to 15 s for the supervisor to exit.
stop_agent()
{
	kill -TERM "$AGENT_PID"
	for _ in $(seq 1 150); do
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	wait "$AGENT_PID"
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
api POST /cleanup '{"run_id":"inv-public"}' >/dev/null
stop_agent
check "agent stops" [ $? = 0 ]

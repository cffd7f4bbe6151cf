#!/bin/sh
# Bad input to the Agent API: each gets its 4xx with a JSON error naming the
# field, and none changes any stored state.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

t_plan 23

if ! start_agent; then
	fail "agent healthy in local mode"
	exit 1
fi
ok "agent healthy in local mode"

# expect NAME STATUS FIELD METHOD PATH [BODY]: the status, a JSON error
# body, and the field it names ("-" for none).
expect()
{
	name=$1 want=$2 field=$3
	shift 3
	api "$@" >"$T_DIR/error.json"
	got_field=$(json 'd["error"].get("field", "-")' <"$T_DIR/error.json" 2>/dev/null)
	if [ "$STATUS" = "$want" ] && [ "$got_field" = "$field" ]; then
		ok "$name"
	else
		fail "$name: HTTP $STATUS field $got_field: $(head -c 300 "$T_DIR/error.json")"
	fi
}

body()
{
	printf '{"run_id":"bad-1","benchmark_config":{"cold_start_iterations":%s,"warm_request_count":%s,"warm_request_concurrency":%s},"agent_config":{"implementations":[%s]}}' "$1" "$2" "$3" "$4"
}

expect "GET /deploy is 405" 405 - GET /deploy
STATUS=$(curl -s -o "$T_DIR/error.json" -w '%{http_code}' -X POST -H 'Content-Type: text/plain' --data-binary '{}' "$API/deploy")
check "text/plain is 415" [ "$STATUS" = 415 ]
head -c 1100000 /dev/zero | tr '\0' ' ' >"$T_DIR/big.json"
STATUS=$(curl -s -o "$T_DIR/error.json" -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @"$T_DIR/big.json" "$API/deploy")
check "body over 1 MiB is 413" [ "$STATUS" = 413 ]
check "413 has a JSON error" sh -c "python3 -c 'import json,sys; json.load(open(\"$T_DIR/error.json\"))[\"error\"][\"message\"]'"
api POST /deploy '{"run_id": "x",' >"$T_DIR/error.json"
check "invalid JSON is 400" [ "$STATUS" = 400 ]
check "invalid JSON names the position" grep -q 'column' "$T_DIR/error.json"
expect "unknown implementation is 400" 400 "agent_config.implementations[0]" POST /deploy "$(body 1 10 1 '"no-such-impl"')"
check "unknown implementation is named" grep -q 'no-such-impl' "$T_DIR/error.json"
expect "iterations 0 is 400" 400 benchmark_config.cold_start_iterations POST /deploy "$(body 0 10 1 '"python"')"
expect "iterations 1001 is 400" 400 benchmark_config.cold_start_iterations POST /deploy "$(body 1001 10 1 '"python"')"
expect "warm count over 1,000,000 is 400" 400 benchmark_config.warm_request_count POST /deploy "$(body 1 1000001 1 '"python"')"
expect "concurrency 0 is 400" 400 benchmark_config.warm_request_concurrency POST /deploy "$(body 1 10 0 '"python"')"
expect "concurrency 1001 is 400" 400 benchmark_config.warm_request_concurrency POST /deploy "$(body 1 2000 1001 '"python"')"
expect "concurrency over the count is 400" 400 benchmark_config.warm_request_concurrency POST /deploy "$(body 1 5 6 '"python"')"
expect "bad run_id is 400" 400 run_id POST /deploy '{"run_id":"../x","benchmark_config":{"cold_start_iterations":1,"warm_request_count":1,"warm_request_concurrency":1},"agent_config":{"implementations":["python"]}}'
expect "disabled implementation is 400" 400 "agent_config.implementations[0]" POST /deploy "$(body 1 10 1 '"broken-accepts-any"')"
expect "measure of an unknown run is 404" 404 - POST /measure '{"run_id":"never-deployed"}'
expect "status of an unknown run is 404" 404 run_id GET /status/never-deployed
expect "cleanup of an unknown run is 404" 404 - POST /cleanup '{"run_id":"never-deployed"}'
expect "unknown path is 404" 404 - GET /nope

check "no state object was written" [ -z "$(lc_objects runs/)" ]
check "no service was created" [ -z "$(lc_services)" ]

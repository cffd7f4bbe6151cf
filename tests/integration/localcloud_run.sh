#!/bin/sh
# localcloud's Cloud Run Admin API v2 through real HTTP on 127.0.0.1:
# services and operations, Google error bodies for bad requests, failed
# deploys, and services that survive a restart.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/integration/localcloud_run_helpers.sh"

SVC=/v2/projects/p/locations/r/services
lc_make_impls
if lc_start --idle-timeout 2; then ok "localcloud starts"; else
	fail "localcloud starts"; exit 1; fi

# expect_error STATUS CANONICAL DESCRIPTION METHOD PATH [BODY]
expect_error()
{
	want=$1 canonical=$2 desc=$3
	shift 3
	got=$(lc_call "$@")
	if [ "$got" = "$want" ] &&
	    [ "$(jq_body 'd["error"]["status"]')" = "$canonical" ] &&
	    [ "$(jq_body 'd["error"]["code"]')" = "$want" ] &&
	    [ -n "$(jq_body 'd["error"]["message"]')" ]; then
		ok "$desc"
	else
		fail "$desc (status $got: $(head -c 300 "$T_DIR/body"))"
	fi
}

expect_error 404 NOT_FOUND "unknown path is a Google 404" GET /v2/nothing

# Create: an operation that is not done yet, then done with the Service.
status=$(lc_call POST "$SVC?serviceId=hello" "$(lc_service_body local/t/ok)")
check "create returns 200" [ "$status" = 200 ]
op=$(jq_body 'd["name"]')
check "operation name has a uuid" sh -c "echo '$op' | grep -Eq \
'^projects/p/locations/r/operations/[0-9a-f-]{36}$'"
check "create operation not done yet" [ "$(jq_body '"done" in d')" = false ]
check "operation metadata is a Service" \
    [ "$(jq_body 'd["metadata"]["@type"]')" = \
    type.googleapis.com/google.cloud.run.v2.Service ]
check "operations.wait finishes" lc_wait_op "$op"
check "operation response is the Service" \
    [ "$(jq_body 'd["response"]["@type"]')" = \
    type.googleapis.com/google.cloud.run.v2.Service ]
check "operation has no error" [ "$(jq_body '"error" in d')" = false ]
lc_call GET "/v2/$op" >/dev/null
check "operations.get shows done" [ "$(jq_body 'd["done"]')" = true ]

# Get: the output fields of a ready service.
status=$(lc_call GET "$SVC/hello")
check "get returns 200" [ "$status" = 200 ]
check "name is the full resource name" \
    [ "$(jq_body 'd["name"]')" = projects/p/locations/r/services/hello ]
check "uri is https on loopback" sh -c "echo '$(jq_body 'd["uri"]')' | \
grep -Eq '^https://127\.0\.0\.1:[0-9]+$'"
check "urls lists the uri" [ "$(jq_body 'd["urls"][0] == d["uri"]')" = true ]
check "ready revision is the created one" [ "$(jq_body \
    'd["latestReadyRevision"] == d["latestCreatedRevision"]')" = true ]
check "revision is named after the service" sh -c "echo \
'$(jq_body 'd["latestReadyRevision"]')' | grep -Eq \
'/services/hello/revisions/hello-00001-[a-z]{3}$'"
check "generation is a string" [ "$(jq_body 'd["generation"]')" = 1 ]
check "generation is JSON text" \
    [ "$(jq_body 'isinstance(d["generation"], str)')" = true ]
check "observedGeneration matches" \
    [ "$(jq_body 'd["observedGeneration"]')" = 1 ]
check "terminal condition succeeded" \
    [ "$(jq_body 'd["terminalCondition"]["state"]')" = CONDITION_SUCCEEDED ]
check "not reconciling" [ "$(jq_body 'd.get("reconciling", False)')" = false ]
check "template is kept" [ "$(jq_body \
    'd["template"]["containers"][0]["resources"]["limits"]["memory"]')" = 512Mi ]
check "default concurrency is 80" \
    [ "$(jq_body 'd["template"]["maxInstanceRequestConcurrency"]')" = 80 ]
check "createTime is RFC 3339" sh -c "echo '$(jq_body 'd["createTime"]')' | \
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$'"
HELLO_URI=$(jq_body 'd["uri"]')

# Errors in the Google format.
expect_error 409 ALREADY_EXISTS "duplicate id is 409" \
    POST "$SVC?serviceId=hello" "$(lc_service_body local/t/ok)"
for id in 1abc Abc abc- a_b "$(printf 'a%.0s' $(seq 1 50))"; do
	expect_error 400 INVALID_ARGUMENT "serviceId '$id' is rejected" \
	    POST "$SVC?serviceId=$id" "$(lc_service_body local/t/ok)"
done
expect_error 400 INVALID_ARGUMENT "missing serviceId is rejected" \
    POST "$SVC" "$(lc_service_body local/t/ok)"
expect_error 400 INVALID_ARGUMENT "malformed JSON is rejected" \
    POST "$SVC?serviceId=bad" '{"template": {'
check "malformed JSON error names the position" sh -c \
    "grep -q 'line 1' '$T_DIR/body'"
expect_error 400 INVALID_ARGUMENT "non-object body is rejected" \
    POST "$SVC?serviceId=bad" '[1,2]'
expect_error 400 INVALID_ARGUMENT "missing template is rejected" \
    POST "$SVC?serviceId=bad" '{}'
expect_error 400 INVALID_ARGUMENT "containers of the wrong type" \
    POST "$SVC?serviceId=bad" '{"template":{"containers":"x"}}'
expect_error 400 INVALID_ARGUMENT "image of the wrong type" \
    POST "$SVC?serviceId=bad" '{"template":{"containers":[{"image":5}]}}'
expect_error 400 INVALID_ARGUMENT "cpuIdle of the wrong type" \
    POST "$SVC?serviceId=bad" "$(lc_service_body local/t/ok | \
    sed 's/"cpuIdle":true/"cpuIdle":"yes"/')"
expect_error 400 INVALID_ARGUMENT "concurrency of the wrong type" \
    POST "$SVC?serviceId=bad" "$(lc_service_body local/t/ok \
    ',"maxInstanceRequestConcurrency":"many"')"
expect_error 400 INVALID_ARGUMENT "invalid memory quantity" \
    POST "$SVC?serviceId=bad" "$(lc_service_body local/t/ok | \
    sed 's/512Mi/lots/')"
head -c 2000000 /dev/zero | tr '\0' ' ' > "$T_DIR/big.json"
expect_error 400 INVALID_ARGUMENT "oversize body is rejected" \
    POST "$SVC?serviceId=bad" "@$T_DIR/big.json"
expect_error 404 NOT_FOUND "get of a missing service is 404" \
    GET "$SVC/nosuch"
expect_error 404 NOT_FOUND "missing operation is 404" \
    GET /v2/projects/p/locations/r/operations/nosuch
check "rejected creates left nothing behind" \
    [ "$(lc_call GET "$SVC/bad")" = 404 ]

# Deploys that fail: the operation ends with an error, the service is not
# ready, and localcloud keeps serving.
deploy_fails()
{
	id=$1 image=$2 reason=$3 words=$4
	lc_call POST "$SVC?serviceId=$id" "$(lc_service_body "$image")" \
	    >/dev/null
	if ! lc_wait_op "$(jq_body 'd["name"]')"; then
		fail "$id: operation finishes"
		return
	fi
	if [ "$(jq_body 'd["error"]["code"]')" = 9 ] &&
	    jq_body 'd["error"]["message"]' | grep -q "$words"; then
		ok "$id: operation fails with code 9"
	else
		fail "$id: operation fails with code 9 ($(cat "$T_DIR/body"))"
	fi
	lc_call GET "$SVC/$id" >/dev/null
	if [ "$(jq_body 'd["terminalCondition"]["state"]')" = \
	    CONDITION_FAILED ] && [ "$(jq_body \
	    'd["terminalCondition"]["reason"]')" = "$reason" ] &&
	    [ "$(jq_body '"uri" in d')" = false ]; then
		ok "$id: service is not ready ($reason)"
	else
		fail "$id: service is not ready ($(cat "$T_DIR/body"))"
	fi
}
deploy_fails missing local/t/nope CONTAINER_MISSING "not found"
deploy_fails noexec local/t/noexec CONTAINER_PERMISSION_DENIED \
    "not an executable"
deploy_fails notlocal gcr.io/x/y CONTAINER_MISSING "local/"
deploy_fails exits local/t/exit HEALTH_CHECK_CONTAINER_ERROR \
    "exited with status 3"
check "still serving after failures" [ "$(lc_call GET "$SVC/hello")" = 200 ]

# List with pagination, sorted by name.
for id in list-a list-b; do
	lc_deploy "$id" local/t/ok || fail "deploy $id"
done
lc_call GET "$SVC?pageSize=2" >/dev/null
first=$(jq_body '",".join(s["name"].split("/")[-1] for s in d["services"])')
token=$(jq_body 'd["nextPageToken"]')
check "first page has two services" [ "$first" = exits,hello ]
lc_call GET "$SVC?pageSize=2&pageToken=$token" >/dev/null
second=$(jq_body '",".join(s["name"].split("/")[-1] for s in d["services"])')
check "second page continues" [ "$second" = list-a,list-b ]
lc_call GET "$SVC?pageSize=100" >/dev/null
check "full list has all services" \
    [ "$(jq_body 'len(d["services"])')" = 7 ]
check "last page has no token" \
    [ "$(jq_body '"nextPageToken" in d')" = false ]
lc_call GET /v2/projects/other/locations/r/services >/dev/null
check "another project lists nothing" \
    [ "$(jq_body 'd.get("services", [])')" = "[]" ]

# Patch: a new generation and revision, served by the data plane.
old_rev=$(lc_call GET "$SVC/hello" >/dev/null; jq_body 'd["latestReadyRevision"]')
status=$(lc_call PATCH "$SVC/hello" "$(lc_service_body local/t/ok | \
    sed 's/"value":"hello"/"value":"patched"/')")
check "patch returns an operation" [ "$status" = 200 ]
check "patch operation finishes" lc_wait_op "$(jq_body 'd["name"]')"
lc_call GET "$SVC/hello" >/dev/null
check "patch bumps the generation" [ "$(jq_body 'd["generation"]')" = 2 ]
check "patch makes a new revision" \
    [ "$(jq_body 'd["latestReadyRevision"]')" != "$old_rev" ]
check "patch keeps the uri" [ "$(jq_body 'd["uri"]')" = "$HELLO_URI" ]
check "new revision serves" sh -c "curl -s --max-time 20 --cacert \
'$LC_DATA/ca.pem' '$HELLO_URI/' | grep -q '\"greeting\": \"patched\"'"
expect_error 400 INVALID_ARGUMENT "patch with a bad body is rejected" \
    PATCH "$SVC/hello" '{"template":{"containers":[{"image":[]}]}}'

# Delete.
status=$(lc_call DELETE "$SVC/list-b")
check "delete returns a done operation" [ "$status" = 200 ]
check "delete operation carries the Service" \
    [ "$(jq_body 'd["response"]["name"]')" = \
    projects/p/locations/r/services/list-b ]
expect_error 404 NOT_FOUND "deleted service is gone" GET "$SVC/list-b"
expect_error 404 NOT_FOUND "second delete is 404" DELETE "$SVC/list-b"

# A second localcloud on the same API port fails clearly.
"$LC_BIN" --port "$LC_PORT" --data-dir "$T_DIR/other" --log-format text \
    > "$T_DIR/second.log" 2>&1 &
second=$!
t_track "$second"
wait_for 10 sh -c "! kill -0 $second 2>/dev/null"
wait "$second"
check "API port in use exits non-zero" [ $? -ne 0 ]
check "API port in use is logged" grep -q "cannot listen" "$T_DIR/second.log"

# Restart: services come back on their ports.
check "localcloud stops on SIGTERM" lc_stop
lc_start --idle-timeout 2 || fail "localcloud restarts"
check "service survives a restart" [ "$(lc_uri hello)" = "$HELLO_URI" ]
check "restored service serves" sh -c "curl -s --max-time 20 --cacert \
'$LC_DATA/ca.pem' '$HELLO_URI/' | grep -q '\"greeting\": \"patched\"'"
check "failed service is restored" [ "$(lc_call GET "$SVC/missing")" = 200 ]
check "failed service keeps its condition" \
    [ "$(jq_body 'd["terminalCondition"]["state"]')" = CONDITION_FAILED ]

# Deleting an operation while its deploy runs leaves the deploy to finish.
lc_call POST "$SVC?serviceId=opdel" "$(lc_service_body local/t/slow)" \
    >/dev/null
opdel=$(jq_body 'd["name"]')
check "delete of a running operation is 200" \
    [ "$(lc_call DELETE "/v2/$opdel")" = 200 ]
check "the deleted operation is gone" [ "$(lc_call GET "/v2/$opdel")" = 404 ]
for _ in $(seq 1 50); do
	lc_call GET "$SVC/opdel" >/dev/null
	[ "$(jq_body 'd["terminalCondition"]["state"]')" = \
	    CONDITION_SUCCEEDED ] && break
	sleep 0.1
done
check "its deploy still finishes" [ "$(jq_body \
    'd["terminalCondition"]["state"]')" = CONDITION_SUCCEEDED ]
check "localcloud serves after the delete" [ "$(lc_call GET "$SVC")" = 200 ]

expect_error 400 INVALID_ARGUMENT "patch cannot create in location -" \
    PATCH "/v2/projects/p/locations/-/services/dash?allowMissing=true" \
    "$(lc_service_body local/t/ok)"
expect_error 400 INVALID_ARGUMENT "encoded NUL in the query is 400" \
    POST "$SVC?serviceId=nul%00x" "$(lc_service_body local/t/ok)"
check "the NUL did not create a service" [ "$(lc_call GET "$SVC/nul")" = 404 ]

# Restart with a service's port taken by another program: the service
# keeps its uri and binds the port once the other program lets it go.
lc_stop
hello_port=${HELLO_URI##*:}
python3 -c 'import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
time.sleep(60)' "$hello_port" &
squatter=$!
t_track "$squatter"
sleep 0.5
lc_start --idle-timeout 60 || fail "localcloud restarts with a port taken"
check "service keeps its uri on a taken port" \
    [ "$(lc_uri hello)" = "$HELLO_URI" ]
check "the taken port is logged" grep -q "port $hello_port is taken" \
    "$LC_LOG"
kill "$squatter" 2>/dev/null
wait "$squatter" 2>/dev/null
for _ in $(seq 1 50); do
	grep -q "port $hello_port is free again" "$LC_LOG" && break
	sleep 0.1
done
check "service binds its port once free" grep -q \
    "port $hello_port is free again" "$LC_LOG"
check "service serves at its old uri" sh -c "curl -s --max-time 20 \
--cacert '$LC_DATA/ca.pem' '$HELLO_URI/' | grep -q greeting"

# Restart with localcloud's own API on the service's port: that port can
# never become free, so the service moves.
lc_stop
LC_API_PORT=$hello_port lc_start --idle-timeout 60 ||
    fail "localcloud starts on a service's port"
unset LC_API_PORT
moved_uri=$(lc_uri hello)
check "service moves off the API port" \
    [ -n "$moved_uri" -a "$moved_uri" != "$HELLO_URI" ]
check "the move is logged" grep -q "it is localcloud's API port" "$LC_LOG"
check "moved service serves" sh -c "curl -s --max-time 20 \
--cacert '$LC_DATA/ca.pem' '$moved_uri/' | grep -q greeting"
check "instances exist before the stop" [ -n "$(lc_instances hello)" ]
check "localcloud stops again" lc_stop
check "instances stop with localcloud" [ -z "$(lc_instances hello)" ]
t_plan "$T_COUNT"

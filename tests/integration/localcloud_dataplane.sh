#!/bin/sh
# localcloud's data plane through real connections on 127.0.0.1: scale from
# zero, scale to zero, crashes, slow starts, scale-out, HTTPS, limits, and
# the Monitoring and Logging views of the instances.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/integration/localcloud_run_helpers.sh"

SVC=/v2/projects/p/locations/r/services
lc_make_impls
if lc_start --idle-timeout 2; then ok "localcloud starts"; else
	fail "localcloud starts"; exit 1; fi
CA=$LC_DATA/ca.pem

# get URL [curl args]: body to $T_DIR/body, prints the status.
get()
{
	url=$1
	shift
	curl -s -o "$T_DIR/body" -w '%{http_code}' --max-time 20 \
	    --cacert "$CA" "$@" "$url"
}

has_instances()
{
	[ -n "$(lc_instances "$1")" ]
}

# Succeeds when no process of the service runs.
no_processes()
{
	[ -z "$(lc_instances "$1")" ]
}

# Succeeds when no process of the service runs and the running localcloud
# has reaped them all.
no_instances()
{
	no_processes "$1" && lc_reports_zero "$1"
}

# Succeeds when localcloud itself counts no instance of the service in its
# newest sample: its processes may be gone before it has reaped them.
lc_reports_zero()
{
	ts_end=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	ts_start=$(date -u -d '-1 second' +%Y-%m-%dT%H:%M:%SZ)
	curl -s -G --max-time 10 "$LC_API/v3/projects/p/timeSeries" \
	    --data-urlencode "filter=metric.type=\"run.googleapis.com/container/instance_count\" AND resource.labels.service_name=\"$1\"" \
	    --data-urlencode "interval.startTime=$ts_start" \
	    --data-urlencode "interval.endTime=$ts_end" |
	    python3 -c 'import json, sys
d = json.load(sys.stdin)
newest = [s["points"][0] for s in d.get("timeSeries", []) if s.get("points")]
sys.exit(1 if any(int(p["value"]["int64Value"]) for p in newest) else 0)'
}

# log_entries SERVICE SINCE: the request log entries, oldest first.
log_entries()
{
	lc_call POST /v2/entries:list "{\"resourceNames\":[\"projects/p\"],\
\"filter\":\"resource.type=\\\"cloud_run_revision\\\" AND \
resource.labels.service_name=\\\"$1\\\" AND timestamp>=\\\"$2\\\"\",\
\"orderBy\":\"timestamp asc\",\"pageSize\":100}"
}

# instance_count SERVICE STATE: the newest instance_count point.
instance_count()
{
	ts_end=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	ts_start=$(date -u -d '-300 sec' +%Y-%m-%dT%H:%M:%SZ)
	curl -s -o "$T_DIR/body" --max-time 10 -G \
	    "$LC_API/v3/projects/p/timeSeries" \
	    --data-urlencode "filter=metric.type=\"run.googleapis.com/container/instance_count\" AND resource.labels.service_name=\"$1\" AND metric.labels.state=\"$2\"" \
	    --data-urlencode "interval.startTime=$ts_start" \
	    --data-urlencode "interval.endTime=$ts_end"
	jq_body 'd["timeSeries"][0]["points"][0]["value"]["int64Value"]'
}

# Deploy: the deploy check starts one instance, which then idles out.
check "deploy succeeds" lc_deploy svc local/t/ok
URI=$(lc_uri svc)
REV=$(jq_body 'd["latestReadyRevision"].split("/")[-1]')
check "deploy instance scales to zero" wait_for 20 no_instances svc
T0=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)

# Scale from zero over HTTPS. A slow request keeps the first instance
# busy, so that it cannot idle out while the checks below run.
curl -s -o /dev/null --max-time 120 --cacert "$CA" "$URI/sleep?s=100" &
HOLDER=$!
t_track "$HOLDER"
check "first connection starts an instance" wait_for 20 has_instances svc
check "request to a new instance succeeds" \
    [ "$(get "$URI/cold" -A lc-test)" = 200 ]
check "instance sees K_SERVICE" [ "$(jq_body 'd["service"]')" = svc ]
check "instance sees K_REVISION" [ "$(jq_body 'd["revision"]')" = "$REV" ]
check "instance sees K_CONFIGURATION" \
    [ "$(jq_body 'd["configuration"]')" = svc ]
check "instance sees the service env" [ "$(jq_body 'd["greeting"]')" = hello ]
check "instance has its own PORT" \
    [ "$(jq_body 'd["port"]')" != "${URI##*:}" ]
PID1=$(jq_body 'd["pid"]')
check "one instance runs" [ "$(lc_instances svc)" = "$PID1" ]
get "$URI/warm" >/dev/null
check "second request reuses it" [ "$(jq_body 'd["pid"]')" = "$PID1" ]

# Limits the host applies without privileges.
check "memory limit is RLIMIT_DATA" sh -c "grep 'Max data size' \
/proc/$PID1/limits | grep -q 536870912"
if [ "$(nproc)" -gt 1 ]; then
	check "cpu 1 pins one CPU" sh -c "grep Cpus_allowed_list \
/proc/$PID1/status | grep -Eq ':[[:space:]]+[0-9]+$'"
else
	skip "cpu affinity needs two CPUs"
fi

# Logging: entries name the instance that served each request.
log_entries svc "$T0" >/dev/null
check "request logs are listed" [ "$(jq_body 'len(d["entries"])')" -ge 2 ]
check "log entry names the path" \
    [ "$(jq_body 'd["entries"][0]["httpRequest"]["requestUrl"]')" = \
    "$URI/cold" ]
check "log entry has the status" \
    [ "$(jq_body 'd["entries"][0]["httpRequest"]["status"]')" = 200 ]
check "log entry has the method" \
    [ "$(jq_body 'd["entries"][0]["httpRequest"]["requestMethod"]')" = GET ]
check "log entry has the user agent" \
    [ "$(jq_body 'd["entries"][0]["httpRequest"]["userAgent"]')" = lc-test ]
check "log entry has the revision" [ "$(jq_body \
    'd["entries"][0]["resource"]["labels"]["revision_name"]')" = "$REV" ]
check "log entry sizes are counted" [ "$(jq_body \
    'int(d["entries"][0]["httpRequest"]["responseSize"]) > 100 and \
    int(d["entries"][0]["httpRequest"]["requestSize"]) > 20')" = true ]
INST1=$(jq_body 'd["entries"][0]["labels"]["instanceId"]')
check "log entry has an instance id" sh -c "echo '$INST1' | \
grep -Eq '^[0-9a-f]{32}$'"
check "warm request has the same instance" \
    [ "$(jq_body 'd["entries"][1]["labels"]["instanceId"]')" = "$INST1" ]

# Monitoring: the instance was seen, then it goes away.
ts_end=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ts_start=$(date -u -d '-300 sec' +%Y-%m-%dT%H:%M:%SZ)
curl -s -o "$T_DIR/body" --max-time 10 -G "$LC_API/v3/projects/p/timeSeries" \
    --data-urlencode 'filter=metric.type="run.googleapis.com/container/instance_count" AND resource.labels.service_name="svc"' \
    --data-urlencode "interval.startTime=$ts_start" \
    --data-urlencode "interval.endTime=$ts_end"
check "time series per state" [ "$(jq_body \
    'sorted(t["metric"]["labels"]["state"] for t in d["timeSeries"])')" = \
    '["active", "idle"]' ]
check "points are int64 strings" [ "$(jq_body 'all(isinstance(p["value"]\
["int64Value"], str) for t in d["timeSeries"] for p in t["points"])')" = true ]
check "points are newest first" [ "$(jq_body '[p["interval"]["endTime"] for p \
in d["timeSeries"][0]["points"]] == sorted([p["interval"]["endTime"] for p \
in d["timeSeries"][0]["points"]], reverse=True)')" = true ]
check "resource labels name the service" [ "$(jq_body \
    'd["timeSeries"][0]["resource"]["labels"]["service_name"]')" = svc ]
check "an instance was counted" [ "$(jq_body 'max(int(p["value"]["int64Value"]) \
for t in d["timeSeries"] for p in t["points"])')" -ge 1 ]

# Scale to zero after the idle timeout, seen by Monitoring too.
kill "$HOLDER" 2>/dev/null
check "idle instance stops" wait_for 20 no_instances svc
check "stop is logged with the signal" grep -q \
    "svc: instance $INST1 (pid $PID1) was killed by signal 15" "$LC_LOG"
zero_everywhere()
{
	[ "$(instance_count svc active)" = 0 ] &&
	    [ "$(instance_count svc idle)" = 0 ]
}
check "monitoring reaches zero" wait_for 10 zero_everywhere

# The next request is cold: a new instance serves it.
T1=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
check "request after idle succeeds" [ "$(get "$URI/again")" = 200 ]
check "a new process serves it" [ "$(jq_body 'd["pid"]')" != "$PID1" ]
log_entries svc "$T1" >/dev/null
INST2=$(jq_body 'd["entries"][0]["labels"]["instanceId"]')
check "logging shows a new instance id" sh -c "[ -n '$INST2' ] && \
[ '$INST2' != '$INST1' ]"

# A crash before the response: 502, not a hang; the next request works.
check "crash mid-request gives 502" [ "$(get "$URI/crash")" = 502 ]
check "502 body explains" grep -q "without a response" "$T_DIR/body"
check "crash is logged" grep -q "exited with status 1" "$LC_LOG"
check "request after a crash works" [ "$(get "$URI/")" = 200 ]
get "$URI/half" >/dev/null
rc=$?
check "crash mid-response fails the request" [ "$rc" -ne 0 ]
check "crash mid-response is no timeout" [ "$rc" -ne 28 ]
check "request after a partial response works" [ "$(get "$URI/")" = 200 ]
log_entries svc "$T1" >/dev/null
check "502 is in the request log" [ "$(jq_body \
    '[e["httpRequest"].get("status") for e in d["entries"]].count(502)')" = 1 ]

# An instance that exits at once: the connection gets 502 at once.
cp "$LC_IMPL/t/exit/run" "$LC_IMPL/t/ok/run.exit"
cp "$LC_IMPL/t/ok/run" "$LC_IMPL/t/ok/run.good"
check "instances idle out" wait_for 20 no_instances svc
mv "$LC_IMPL/t/ok/run.exit" "$LC_IMPL/t/ok/run"
: > "$T_DIR/body"
code=$(get "$URI/")
echo "# exit at start: HTTP $code: $(head -c 200 "$T_DIR/body")"
check "instance exiting at start gives 502" [ "$code" = 502 ]
check "exit at start is explained" grep -q "exited with status 3" "$T_DIR/body"
mv "$LC_IMPL/t/ok/run.good" "$LC_IMPL/t/ok/run"
check "a fixed implementation serves again" [ "$(get "$URI/")" = 200 ]

# An implementation that sleeps before it listens.
check "slow starter deploys" lc_deploy slow local/t/slow
SLOW=$(lc_uri slow)
check "slow starter scales to zero" wait_for 20 no_instances slow
check "first request waits for a slow start" [ "$(get "$SLOW/")" = 200 ]

# Concurrency 1, max 2: two parallel requests need two instances.
check "concurrency-1 service deploys" lc_deploy conc local/t/ok \
    ',"maxInstanceRequestConcurrency":1,"scaling":{"maxInstanceCount":2}'
CONC=$(lc_uri conc)
check "concurrency-1 service scales to zero" wait_for 20 no_instances conc
for i in 1 2 3; do
	curl -s --max-time 20 --cacert "$CA" -o "$T_DIR/par$i" \
	    "$CONC/sleep?s=5" &
	eval "job$i=\$!"
done
wait "$job1" "$job2" "$job3"
pids=$(cat "$T_DIR/par1" "$T_DIR/par2" "$T_DIR/par3" | python3 -c \
    'import json, sys
print(len({json.loads(l)["pid"] for l in sys.stdin.read().replace("}{", "}\n{").splitlines()}))')
check "parallel requests use two instances" [ "$pids" = 2 ]
check "no more than the max run" [ "$(lc_instances conc | wc -l)" -le 2 ]

# TLS: the certificate chains to ca.pem and names 127.0.0.1 and localhost.
curl -s -o /dev/null --max-time 10 "$URI/"
check "unknown CA is refused" [ $? -eq 60 ]
check "localhost name is in the certificate" \
    [ "$(get "https://localhost:${URI##*:}/")" = 200 ]
check "ca.pem is readable by others" sh -c "[ \$(stat -c %a '$CA') = 644 ]"
check "CA key is private" sh -c "[ \$(stat -c %a '$LC_DATA/ca-key.pem') = 600 ]"

# Bad Monitoring and Logging requests: Google errors, still serving.
check "monitoring without filter is 400" \
    [ "$(lc_call GET /v3/projects/p/timeSeries)" = 400 ]
check "monitoring with a bad filter is 400" [ "$(lc_call GET \
    '/v3/projects/p/timeSeries?filter=metric.type%3D&interval.endTime=2026-01-01T00:00:00Z')" = 400 ]
check "monitoring without endTime is 400" [ "$(lc_call GET \
    '/v3/projects/p/timeSeries?filter=metric.type%3D%22x%22')" = 400 ]
check "logging with malformed JSON is 400" \
    [ "$(lc_call POST /v2/entries:list '{"resourceNames":')" = 400 ]
check "logging error is Google-shaped" \
    [ "$(jq_body 'd["error"]["status"]')" = INVALID_ARGUMENT ]
check "logging without resourceNames is 400" \
    [ "$(lc_call POST /v2/entries:list '{}')" = 400 ]
check "logging with a wrong pageSize type is 400" [ "$(lc_call POST \
    /v2/entries:list '{"resourceNames":["projects/p"],"pageSize":[]}')" = 400 ]
check "logging with an unknown field is 400" [ "$(lc_call POST \
    /v2/entries:list '{"resourceNames":["projects/p"],"filter":"foo=\"1\""}')" = 400 ]
check "service still answers" [ "$(get "$URI/")" = 200 ]

# --plain-http: the same ports, http:// URLs.
check "localcloud stops" lc_stop
check "instances stop with localcloud" no_processes svc
lc_start --idle-timeout 2 --plain-http || fail "restart with --plain-http"
check "uri is http with --plain-http" \
    [ "$(lc_uri svc)" = "http://127.0.0.1:${URI##*:}" ]
PLAIN=http://127.0.0.1:${URI##*:}
check "plain http serves" [ "$(get "$PLAIN/")" = 200 ]

# A client that half-closes after its request while the instance starts
# still gets the response.
half_close()
{
	python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"GET /half-close HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Connection: close\r\n\r\n")
s.shutdown(socket.SHUT_WR)
reply = b""
while len(reply) < 65536:
    chunk = s.recv(4096)
    if not chunk:
        break
    reply += chunk
print(reply.split(b" ")[1].decode() if reply.startswith(b"HTTP/") else 0)' \
	    "${URI##*:}"
}
check "plain http instances idle out" wait_for 20 no_instances svc
check "half-closed request at cold start" [ "$(half_close)" = 200 ]

# Exit at start over plain http, also after a request body: the 502 comes
# once the whole request is read.
cp "$LC_IMPL/t/ok/run" "$LC_IMPL/t/ok/run.good"
check "plain http instances idle out again" wait_for 20 no_instances svc
cp "$LC_IMPL/t/exit/run" "$LC_IMPL/t/ok/run"
check "plain http exit at start gives 502" [ "$(get "$PLAIN/")" = 502 ]
check "plain http exit at start is explained" \
    grep -q "exited with status 3" "$T_DIR/body"
head -c 1000000 /dev/zero > "$T_DIR/upload"
check "exit at start after a body gives 502" [ "$(get "$PLAIN/upload" \
    -H 'Expect:' --data-binary @"$T_DIR/upload")" = 502 ]
T2=$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)
get "$PLAIN/logged" >/dev/null
log_entries svc "$T2" >/dev/null
check "exit at start is logged with its path" [ "$(jq_body '[(e["httpRequest"]\
["status"], e["httpRequest"]["requestUrl"]) for e in d["entries"]]')" = \
    "[[502, \"$PLAIN/logged\"]]" ]
mv "$LC_IMPL/t/ok/run.good" "$LC_IMPL/t/ok/run"
check "plain http serves after the fix" [ "$(get "$PLAIN/")" = 200 ]
t_plan "$T_COUNT"

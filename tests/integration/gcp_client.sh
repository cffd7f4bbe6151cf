#!/bin/sh
# The Google API clients against a scripted mock on 127.0.0.1. It checks
# request paths, queries, headers and bodies, retries of idempotent calls
# only, 404, 409, 412 and timeouts, pagination, and token caching.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

t_plan 73

GCP=$B/tools/perf-agent-gcp
MOCK_PORT=$(free_port)
MOCK=http://127.0.0.1:$MOCK_PORT
DEAD_PORT=$(free_port)

python3 "$S/tests/integration/gcp_mock.py" "$MOCK_PORT" \
    >"$T_DIR/mock.log" 2>&1 &
t_track $!
mock_up() { curl -sf -X POST "$MOCK/_mock/reset" >/dev/null; }
if ! wait_for 20 mock_up; then
	fail "mock server starts"
	exit 1
fi

# The storage endpoint is host:port without a scheme, as
# STORAGE_EMULATOR_HOST may be; the client must add http://.
gcp()
{
	"$GCP" --project test-proj --region test-region \
	    --tasks-queue test-queue --run-endpoint "$MOCK" \
	    --storage-endpoint "127.0.0.1:$MOCK_PORT" \
	    --scheduler-endpoint "$MOCK" --tasks-endpoint "$MOCK" \
	    --monitoring-endpoint "$MOCK" --logging-endpoint "$MOCK" \
	    --metadata-host "127.0.0.1:$MOCK_PORT" "$@" \
	    >"$T_DIR/out.json" 2>"$T_DIR/err.log"
	GCP_STATUS=$?
	cat "$T_DIR/err.log" >>"$T_DIR/gcp.log"
}

reset() { curl -sf -X POST "$MOCK/_mock/reset" >/dev/null; }
script() { curl -sf -X POST --data-binary "$1" "$MOCK/_mock/script" >/dev/null; }
config() { curl -sf -X POST --data-binary "$1" "$MOCK/_mock/config" >/dev/null; }

# q EXPR: a Python expression over out (the JSON lines printed), st (the
# exit status), api and md (recorded API and metadata requests) and err
# (the client's log); true passes.
q()
{
	curl -sf "$MOCK/_mock/requests" >"$T_DIR/reqs.json"
	python3 - "$T_DIR/out.json" "$T_DIR/reqs.json" "$GCP_STATUS" \
	    "$T_DIR/err.log" "$1" <<'PY'
import json, sys
out = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reqs = json.load(open(sys.argv[2]))
st = int(sys.argv[3])
err = open(sys.argv[4]).read()
api = [r for r in reqs if not r["path"].startswith("/computeMetadata/")]
md = [r for r in reqs if r["path"].startswith("/computeMetadata/")]
def body(i):
    return json.loads(api[i]["body"])
ok = eval(sys.argv[5])
if not ok:
    print("# failed: " + sys.argv[5])
    print("# exit %d, output %s" % (st, json.dumps(out)[:600]))
    print("# requests " + json.dumps([(r["method"], r["path"], r["query"])
                                      for r in reqs])[:1500])
    print("# log " + err[:600].replace("\n", "\n# "))
sys.exit(0 if ok else 1)
PY
}

OBJ='dir/a b%cé'
OBJ_ENC='dir%2Fa%20b%25c%C3%A9'
printf 'state {"x": 1}\n' >"$T_DIR/state.txt"

# --- Cloud Storage ---------------------------------------------------

reset
script '[{"method": "POST", "path": "/upload/storage/v1/b/bkt/o",
  "status": 503, "json": {"error": {"code": 503, "message": "busy",
  "errors": [{"reason": "backendError"}]}}},
 {"method": "POST", "path": "/upload/storage/v1/b/bkt/o",
  "json": {"name": "x", "generation": "1712", "size": "15"}}]'
gcp gcs-upload bkt "$OBJ" text/plain "$T_DIR/state.txt" 0
check "upload: 503 then 200 succeeds" q 'st == 0 and out[0]["result"] == {"generation": "1712"}'
check "upload: retried once" q 'len(api) == 2'
check "upload: retry logged" q '"HTTP 503, attempt 1 of 5" in err'
check "upload: query encodes the name" q 'all(r["query"] == "uploadType=media&name='"$OBJ_ENC"'&ifGenerationMatch=0" for r in api)'
check "upload: name decodes back" q 'api[0]["params"]["name"] == ["'"$OBJ"'"]'
check "upload: body and type as given" q 'api[1]["body"] == open("'"$T_DIR"'/state.txt").read() and api[1]["headers"]["content-type"] == "text/plain"'
check "upload: bearer token sent" q 'all(r["headers"].get("authorization") == "Bearer mock-access-1" for r in api)'
check "token: metadata flavor, no bearer" q 'len(md) == 1 and md[0]["headers"].get("metadata-flavor") == "Google" and "authorization" not in md[0]["headers"]'

reset
script '[{"method": "POST", "path": "/upload/storage/v1/b/bkt/o",
  "status": 503, "json": {"error": {"code": 503, "message": "busy",
  "errors": [{"reason": "backendError"}]}}}]'
gcp gcs-upload bkt "$OBJ" text/plain "$T_DIR/state.txt"
check "upload without precondition: no retry" q 'st == 1 and len(api) == 1 and "ifGenerationMatch" not in api[0]["query"]'
check "upload: GCS reason as status" q 'out[0]["error"]["status"] == "backendError" and out[0]["error"]["http_status"] == 503'

reset
script '[{"method": "POST", "path": "/upload/storage/v1/b/bkt/o",
  "status": 412, "json": {"error": {"code": 412, "message": "no",
  "errors": [{"reason": "conditionNotMet"}]}}}]'
gcp gcs-upload bkt "$OBJ" text/plain "$T_DIR/state.txt" 1711
check "upload: 412 is outcome 1" q 'st == 11 and out[0]["rc"] == 1 and len(api) == 1'
check "upload: precondition in query" q 'api[0]["params"]["ifGenerationMatch"] == ["1711"]'

reset
script '[{"method": "GET", "path": "/storage/v1/b/bkt/o/'"$OBJ_ENC"'",
  "headers": {"X-Goog-Generation": "42"}, "text": "hello, state"}]'
gcp gcs-download bkt "$OBJ"
check "download: data and generation" q 'st == 0 and out[0]["result"] == {"generation": "42", "size": 12, "content": "hello, state"}'
check "download: alt=media, encoded path" q 'api[0]["method"] == "GET" and api[0]["query"] == "alt=media"'

reset
script '[{"method": "GET", "path": "/storage/v1/b/bkt/o/missing",
  "status": 404, "json": {"error": {"code": 404, "message": "No such object",
  "errors": [{"reason": "notFound"}]}}}]'
gcp gcs-download bkt missing
check "download: 404 is outcome 1" q 'st == 11 and out[0] == {"rc": 1, "result": None} and len(api) == 1'

reset
script '[{"method": "GET", "path": "/storage/v1/b/bkt/o/nogen", "text": "x"}]'
gcp gcs-download bkt nogen
check "download: missing generation fails" q 'st == 1 and out[0]["error"]["status"] == "INVALID_RESPONSE"'

reset
script '[{"method": "GET", "path": "/storage/v1/b/bkt/o/big",
  "headers": {"X-Goog-Generation": "1"}, "bytes": 16777300}]'
gcp gcs-download bkt big
check "download: over 16 MiB fails" q 'st == 1 and out[0]["error"]["status"] == "RESPONSE_TOO_LARGE" and len(api) == 1'

reset
script '[{"method": "GET", "path": "/storage/v1/b/bkt/o",
  "json": {"items": [{"name": "runs/a"}, {"name": "runs/b"}],
  "nextPageToken": "tok/1+x"}},
 {"method": "GET", "path": "/storage/v1/b/bkt/o",
  "json": {"items": [{"name": "runs/c"}]}}]'
gcp gcs-list bkt runs/
check "list: names of all pages" q 'st == 0 and out[0]["result"] == ["runs/a", "runs/b", "runs/c"]'
check "list: prefix and page token" q 'api[0]["query"] == "prefix=runs%2F" and api[1]["query"] == "prefix=runs%2F&pageToken=tok%2F1%2Bx"'

reset
script '[{"method": "DELETE", "path": "/storage/v1/b/bkt/o/'"$OBJ_ENC"'",
  "status": 204}]'
gcp gcs-delete bkt "$OBJ" 7
check "delete: 204 succeeds" q 'st == 0 and api[0]["query"] == "ifGenerationMatch=7"'

reset
script '[{"method": "DELETE", "path": "/storage/v1/b/bkt/o/a", "status": 404},
 {"method": "DELETE", "path": "/storage/v1/b/bkt/o/b", "status": 412}]'
gcp gcs-delete bkt a
check "delete: 404 is outcome 1" q 'st == 11'
gcp gcs-delete bkt b 3
check "delete: 412 is outcome 2" q 'st == 12 and out[0]["rc"] == 2'

reset
gcp gcs-download Bad_Bucket obj
check "invalid bucket not sent" q 'st == 1 and out[0]["error"]["status"] == "INVALID_ARGUMENT" and len(api) == 0'

# --- Cloud Run -------------------------------------------------------

RUN=/v2/projects/test-proj/locations/test-region
OPNAME=projects/test-proj/locations/test-region/operations/op-1
cat >"$T_DIR/service.json" <<'EOF'
{"labels": {"app": "x"}, "ingress": "INGRESS_TRAFFIC_ALL",
 "template": {"maxInstanceRequestConcurrency": 1,
  "containers": [{"image": "local/discord-webhook/c",
   "resources": {"limits": {"cpu": "1", "memory": "512Mi"},
    "cpuIdle": false, "startupCpuBoost": true}}]}}
EOF

reset
script '[{"method": "POST", "path": "'$RUN'/services",
  "json": {"name": "'$OPNAME'", "metadata": {"@type": "x"}}}]'
gcp run-create svc-a "$T_DIR/service.json"
check "run create: returns the operation" q 'st == 0 and out[0]["result"]["name"] == "'$OPNAME'"'
check "run create: serviceId query" q 'api[0]["query"] == "serviceId=svc-a"'
check "run create: body is the bare service" q 'body(0) == json.load(open("'"$T_DIR"'/service.json"))'
check "run create: cpuIdle kept as set" q 'body(0)["template"]["containers"][0]["resources"]["cpuIdle"] is False'
check "run create: JSON content type" q 'api[0]["headers"]["content-type"] == "application/json"'

reset
script '[{"method": "POST", "path": "'$RUN'/services", "status": 409,
  "json": {"error": {"code": 409, "status": "ALREADY_EXISTS",
  "message": "exists"}}}]'
gcp run-create svc-a "$T_DIR/service.json"
check "run create: 409 is outcome 1" q 'st == 11 and len(api) == 1'

reset
script '[{"method": "POST", "path": "'$RUN'/services", "delay": 5,
  "json": {"name": "late"}},
 {"method": "POST", "path": "'$RUN'/services", "status": 409,
  "json": {"error": {"code": 409, "status": "ALREADY_EXISTS",
  "message": "exists"}}}]'
gcp --timeout-ms 2000 run-create svc-a "$T_DIR/service.json"
check "run create: timeout then 409 is success" q 'st == 0 and out[0] == {"rc": 0, "result": None} and len(api) == 2'
check "run create: timeout logged" q '"TIMEOUT" in err and "attempt 1 of 5" in err'

reset
script '[{"method": "POST", "path": "'$RUN'/services", "status": 409,
  "json": {"error": {"code": 409, "status": "ABORTED",
  "message": "concurrent change"}}}]'
gcp run-create svc-a "$T_DIR/service.json"
check "run create: ABORTED is an error" q 'st == 1 and out[0]["error"]["status"] == "ABORTED"'

reset
script '[{"method": "GET", "path": "/v2/'$OPNAME'", "times": 2,
  "json": {"name": "'$OPNAME'"}},
 {"method": "GET", "path": "/v2/'$OPNAME'",
  "json": {"name": "'$OPNAME'", "done": true,
  "response": {"uri": "http://127.0.0.1:1"}}}]'
gcp run-wait "$OPNAME" 60
check "run wait: polls until done" q 'st == 0 and out[0]["result"]["done"] is True and len(api) == 3'

reset
script '[{"method": "GET", "path": "/v2/'$OPNAME'",
  "json": {"name": "'$OPNAME'", "done": true,
  "error": {"code": 9, "message": "revision failed"}}}]'
gcp run-wait "$OPNAME" 60
check "run wait: gRPC code mapped" q 'st == 1 and out[0]["error"] == {"http_status": 400, "status": "FAILED_PRECONDITION", "message": "revision failed"}'

reset
script '[{"method": "GET", "path": "/v2/'$OPNAME'", "times": 10,
  "json": {"name": "'$OPNAME'"}}]'
gcp run-wait "$OPNAME" 1
check "run wait: times out" q 'st == 1 and out[0]["error"]["status"] == "TIMEOUT"'

reset
script '[{"method": "GET", "path": "'$RUN'/services/svc-a",
  "json": {"name": "x", "uri": "http://127.0.0.1:9", "generation": "2"}},
 {"method": "GET", "path": "'$RUN'/services/svc-b", "status": 404,
  "json": {"error": {"code": 404, "status": "NOT_FOUND", "message": "no"}}}]'
gcp run-get svc-a
check "run get: the service" q 'st == 0 and out[0]["result"]["generation"] == "2"'
gcp run-get svc-b
check "run get: 404 is outcome 1" q 'st == 11'

reset
script '[{"method": "DELETE", "path": "'$RUN'/services/svc-a",
  "status": 500, "json": {"error": {"code": 500, "status": "INTERNAL",
  "message": "oops"}}},
 {"method": "DELETE", "path": "'$RUN'/services/svc-a",
  "json": {"name": "'$OPNAME'"}}]'
gcp run-delete svc-a
check "run delete: 500 retried" q 'st == 0 and len(api) == 2 and out[0]["result"]["name"] == "'$OPNAME'"'

reset
script '[{"method": "DELETE", "path": "'$RUN'/services/svc-a",
  "status": 404, "json": {}}]'
gcp run-delete svc-a
check "run delete: 404 is outcome 1" q 'st == 11'

reset
script '[{"method": "GET", "path": "'$RUN'/services",
  "json": {"services": [{"name": "s1"}], "nextPageToken": "p2"}},
 {"method": "GET", "path": "'$RUN'/services",
  "json": {"services": [{"name": "s2"}]}}]'
gcp run-list
check "run list: follows pages" q 'st == 0 and [s["name"] for s in out[0]["result"]] == ["s1", "s2"] and api[1]["params"]["pageToken"] == ["p2"]'

reset
gcp run-create Bad_Name "$T_DIR/service.json"
check "run create: invalid id not sent" q 'st == 1 and len(api) == 0'

# --- Cloud Scheduler and Cloud Tasks ---------------------------------

SCHED=/v1/projects/test-proj/locations/test-region
JOB=projects/test-proj/locations/test-region/jobs/measure-r1
cat >"$T_DIR/job.json" <<EOF
{"name": "$JOB", "schedule": "4 15 2 1 *", "timeZone": "Etc/UTC",
 "httpTarget": {"uri": "http://127.0.0.1:1/measure", "httpMethod": "POST",
  "body": "eyJydW5faWQiOiJyMSJ9",
  "oidcToken": {"serviceAccountEmail": "sa@test-proj.iam.gserviceaccount.com",
   "audience": "http://127.0.0.1:1"}}}
EOF

reset
script '[{"method": "POST", "path": "'$SCHED'/jobs", "json": {"name": "'$JOB'"}}]'
gcp scheduler-create "$T_DIR/job.json"
check "scheduler create: succeeds" q 'st == 0 and len(api) == 1'
check "scheduler create: bare job body" q 'body(0) == json.load(open("'"$T_DIR"'/job.json"))'
check "scheduler create: no jobId query" q 'api[0]["query"] == ""'

reset
script '[{"method": "POST", "path": "'$SCHED'/jobs", "status": 409,
  "json": {"error": {"code": 409, "status": "ALREADY_EXISTS", "message": "x"}}}]'
gcp scheduler-create "$T_DIR/job.json"
check "scheduler create: 409 is outcome 1" q 'st == 11'

sed 's/test-proj\/locations/other-proj\/locations/' "$T_DIR/job.json" \
    >"$T_DIR/job-other.json"
reset
gcp scheduler-create "$T_DIR/job-other.json"
check "scheduler create: foreign name not sent" q 'st == 1 and out[0]["error"]["status"] == "INVALID_ARGUMENT" and len(api) == 0'

reset
script '[{"method": "GET", "path": "/v1/'$JOB'", "json": {"name": "'$JOB'", "state": "ENABLED"}},
 {"method": "DELETE", "path": "/v1/'$JOB'", "json": {}},
 {"method": "DELETE", "path": "/v1/'$JOB'", "status": 404, "json": {}}]'
gcp scheduler-get measure-r1
check "scheduler get: the job" q 'st == 0 and out[0]["result"]["state"] == "ENABLED"'
gcp scheduler-delete measure-r1
check "scheduler delete: succeeds" q 'st == 0 and api[1]["method"] == "DELETE"'
gcp scheduler-delete measure-r1
check "scheduler delete: 404 is outcome 1" q 'st == 11'

TASKS=/v2/projects/test-proj/locations/test-region/queues/test-queue/tasks
TASK=projects/test-proj/locations/test-region/queues/test-queue/tasks/m-r1
cat >"$T_DIR/task.json" <<EOF
{"name": "$TASK", "scheduleTime": "2026-01-02T03:04:05Z",
 "httpRequest": {"url": "http://127.0.0.1:1/measure", "httpMethod": "POST",
  "headers": {"Content-Type": "application/json"},
  "body": "eyJydW5faWQiOiJyMSJ9"}}
EOF
cat >"$T_DIR/task-unnamed.json" <<EOF
{"httpRequest": {"url": "http://127.0.0.1:1/measure", "httpMethod": "POST",
  "body": "eyJydW5faWQiOiJyMSJ9"}}
EOF

reset
script '[{"method": "POST", "path": "'$TASKS'", "status": 503,
  "json": {"error": {"code": 503, "status": "UNAVAILABLE", "message": "x"}}},
 {"method": "POST", "path": "'$TASKS'", "json": {"name": "'$TASK'"}}]'
gcp tasks-create "$T_DIR/task.json"
check "tasks create: named task retried" q 'st == 0 and len(api) == 2'
check "tasks create: body wraps the task" q 'body(1) == {"task": json.load(open("'"$T_DIR"'/task.json"))}'

reset
script '[{"method": "POST", "path": "'$TASKS'", "status": 503,
  "json": {"error": {"code": 503, "status": "UNAVAILABLE", "message": "x"}}}]'
gcp tasks-create "$T_DIR/task-unnamed.json"
check "tasks create: unnamed not retried" q 'st == 1 and len(api) == 1 and out[0]["error"]["status"] == "UNAVAILABLE"'

reset
script '[{"method": "POST", "path": "'$TASKS'", "delay": 5, "json": {}}]'
gcp --timeout-ms 2000 tasks-create "$T_DIR/task-unnamed.json"
check "tasks create: slow reply times out" q 'st == 1 and out[0]["error"]["status"] == "TIMEOUT" and len(api) == 1'

reset
script '[{"method": "DELETE", "path": "/v2/'$TASK'", "status": 404,
  "json": {"error": {"code": 404, "status": "NOT_FOUND", "message": "x"}}}]'
gcp tasks-delete m-r1
check "tasks delete: 404 is outcome 1" q 'st == 11 and api[0]["path"] == "/v2/'$TASK'"'

# --- Cloud Monitoring and Cloud Logging ------------------------------

reset
script '[{"method": "GET", "path": "/v3/projects/test-proj/timeSeries",
  "json": {"timeSeries": [
   {"metric": {"labels": {"state": "active"}}, "points": [
     {"interval": {"endTime": "2026-01-01T00:02:00Z"}, "value": {"int64Value": "2"}},
     {"interval": {"endTime": "2026-01-01T00:01:00Z"}, "value": {"int64Value": "5"}}]},
   {"metric": {"labels": {"state": "idle"}}, "points": [
     {"interval": {"endTime": "2026-01-01T00:02:00Z"}, "value": {"int64Value": "1"}}]}]}}]'
gcp monitoring-instance-count svc-a 1767225600 1767225720
check "monitoring: newest point by state" q 'st == 0 and out[0]["result"] == {"active": 2, "idle": 1}'
check "monitoring: filter and interval" q 'api[0]["params"]["filter"] == ["metric.type=\"run.googleapis.com/container/instance_count\" AND resource.labels.service_name=\"svc-a\""] and api[0]["params"]["interval.startTime"] == ["2026-01-01T00:00:00Z"] and api[0]["params"]["interval.endTime"] == ["2026-01-01T00:02:00Z"]'

reset
script '[{"method": "GET", "path": "/v3/projects/test-proj/timeSeries", "json": {}}]'
gcp monitoring-instance-count svc-a 1767225600 1767225720
check "monitoring: no points is outcome 1" q 'st == 11 and out[0]["result"] == {"active": 0, "idle": 0}'

reset
script '[{"method": "POST", "path": "/v2/entries:list",
  "json": {"entries": [
   {"timestamp": "2026-01-01T00:00:01.5Z", "labels": {"instanceId": "i-1"}},
   {"timestamp": "2026-01-01T00:00:03Z", "labels": {"instanceId": "i-2"}},
   {"timestamp": "2026-01-01T00:00:02Z"}], "nextPageToken": "n"}},
 {"method": "POST", "path": "/v2/entries:list",
  "json": {"entries": [
   {"timestamp": "2026-01-01T01:00:02+01:00", "labels": {"instanceId": "i-3"}}]}}]'
gcp logging-request-instances svc-a 1767225600
check "logging: newest first" q 'st == 0 and [e["instance_id"] for e in out[0]["result"]] == ["i-2", "i-3", "i-1"]'
check "logging: request body" q 'body(0)["resourceNames"] == ["projects/test-proj"] and body(0)["orderBy"] == "timestamp desc" and "resource.labels.service_name=\"svc-a\"" in body(0)["filter"] and "timestamp>=\"2026-01-01T00:00:00Z\"" in body(0)["filter"]'
check "logging: page token in body" q 'body(1)["pageToken"] == "n" and "pageToken" not in body(0)'

# --- Metadata server -------------------------------------------------

reset
gcp --repeat 3 metadata-access-token
check "access token: cached" q 'st == 0 and len(md) == 1 and [o["result"]["access_token"] for o in out] == ["mock-access-1"] * 3'

reset
config '{"expires_in": 0}'
gcp --repeat 3 metadata-access-token
check "access token: refetched when expired" q 'len(md) == 3 and out[2]["result"]["access_token"] == "mock-access-3"'

reset
gcp --threads 8 --repeat 2 metadata-access-token
check "access token: one fetch for 8 threads" q 'st == 0 and len(out) == 16 and len(md) == 1 and len({o["result"]["access_token"] for o in out}) == 1'

reset
gcp --repeat 2 metadata-identity-token 'http://127.0.0.1:1/a?b=c&d'
check "identity token: cached" q 'st == 0 and len(md) == 1 and out[0] == out[1]'
check "identity token: audience and format" q 'md[0]["params"] == {"audience": ["http://127.0.0.1:1/a?b=c&d"], "format": ["full"]}'

reset
config '{"id_expires_in": 0}'
gcp --repeat 2 metadata-identity-token aud
check "identity token: expired not reused" q 'len(md) == 2 and out[0] != out[1]'

reset
gcp metadata-project-id
check "project id" q 'st == 0 and out[0]["result"] == {"project_id": "mock-project"}'

reset
script '[{"method": "GET", "path": "/storage/v1/b/bkt/o/a", "status": 401,
  "json": {"error": {"code": 401, "message": "expired"}}},
 {"method": "GET", "path": "/storage/v1/b/bkt/o/a",
  "headers": {"X-Goog-Generation": "3"}, "text": "a"}]'
gcp gcs-download bkt a
check "401: new token fetched" q 'st == 0 and len(md) == 2'
check "401: retry carries it" q 'api[1]["headers"]["authorization"] == "Bearer mock-access-2"'

# --- Transport errors ------------------------------------------------

"$GCP" --project test-proj --storage-endpoint "http://127.0.0.1:$DEAD_PORT" \
    --metadata-host "127.0.0.1:$MOCK_PORT" --attempts 2 \
    gcs-list bkt >"$T_DIR/out.json" 2>"$T_DIR/err.log"
GCP_STATUS=$?
check "refused: TRANSPORT after retries" q 'st == 1 and out[0]["error"]["status"] == "TRANSPORT" and "attempt 1 of 2" in err'

"$GCP" --project test-proj --storage-endpoint "http://127.0.0.1:$MOCK_PORT" \
    --metadata-host "127.0.0.1:$DEAD_PORT" --attempts 2 \
    gcs-list bkt >"$T_DIR/out.json" 2>"$T_DIR/err.log"
GCP_STATUS=$?
check "no metadata server: call fails" q 'st == 1 and out[0]["error"]["status"] == "TRANSPORT"'

# --- Logs ------------------------------------------------------------

check "no token in any log line" sh -c "! grep -q 'mock-access\|mock-signature\|bW9jay1zaWduYXR1cmU' '$T_DIR/gcp.log' '$T_DIR/err.log'"
check "retries name API and object" grep -q 'gcp: storage POST bkt/dir/a b%c' "$T_DIR/gcp.log"

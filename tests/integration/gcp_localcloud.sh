#!/bin/sh
# The Google API clients against a real localcloud on 127.0.0.1: metadata
# tokens, storage with generation preconditions, a Cloud Run service
# created, served, observed and deleted, a Scheduler job and a Tasks task.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

LC=$B/localcloud/localcloud
if [ ! -x "$LC" ]; then
	t_plan 1
	skip "localcloud is not built"
	exit 0
fi

t_plan 46

GCP=$B/tools/perf-agent-gcp
PORT=$(free_port)
API=http://127.0.0.1:$PORT
IMPL=$T_DIR/impl

# The service implementation: returns its K_SERVICE for every GET.
mkdir -p "$IMPL/t/echo"
cat >"$IMPL/t/echo/run" <<'EOF'
#!/bin/sh
exec python3 -c '
import http.server, json, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"service": os.environ.get("K_SERVICE")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])),
    Handler).serve_forever()
'
EOF
chmod +x "$IMPL/t/echo/run"

"$LC" --port "$PORT" --data-dir "$T_DIR/data" --idle-timeout 2 --plain-http \
    --implementations "$IMPL" --log-format text >"$T_DIR/localcloud.log" 2>&1 &
t_track $!
lc_up() { curl -sf -H 'Metadata-Flavor: Google' \
    "$API/computeMetadata/v1/project/project-id" >/dev/null; }
if ! wait_for 30 lc_up; then
	fail "localcloud starts"
	exit 1
fi

gcp()
{
	"$GCP" --project local-project --region local-region \
	    --run-endpoint "$API" --storage-endpoint "127.0.0.1:$PORT" \
	    --scheduler-endpoint "$API" --tasks-endpoint "$API" \
	    --monitoring-endpoint "$API" --logging-endpoint "$API" \
	    --metadata-host "127.0.0.1:$PORT" "$@" \
	    >"$T_DIR/out.json" 2>>"$T_DIR/gcp.log"
	GCP_STATUS=$?
}

# q EXPR: a Python expression over out (the JSON lines printed) and st
# (the exit status); true passes.
q()
{
	python3 - "$T_DIR/out.json" "$GCP_STATUS" "$1" <<'PY'
import base64, json, sys
out = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
st = int(sys.argv[2])
res = out[0].get("result") if out else None
def jwt_claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
ok = eval(sys.argv[3])
if not ok:
    print("# failed: " + sys.argv[3])
    print("# exit %d, output %s" % (st, json.dumps(out)[:800]))
sys.exit(0 if ok else 1)
PY
}

# Prints the value of a top-level key of the first result.
result_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["result"][sys.argv[2]])' "$T_DIR/out.json" "$1"; }

# --- Metadata server -------------------------------------------------

gcp --repeat 2 metadata-access-token
check "access token issued" q 'st == 0 and len(res["access_token"]) > 10'
check "access token cached" q 'out[0] == out[1]'
gcp metadata-project-id
check "project id" q 'st == 0 and res == {"project_id": "local-project"}'
gcp metadata-identity-token http://127.0.0.1:1/agent
check "identity token audience" q 'st == 0 and jwt_claims(res["id_token"])["aud"] == "http://127.0.0.1:1/agent"'

# --- Cloud Storage ---------------------------------------------------

OBJ='runs/r1/discord-webhook/a b%c é.json'
printf '{"state": "deployed"}' >"$T_DIR/v1.json"
printf '{"state": "measured"}' >"$T_DIR/v2.json"
head -c 100000 /dev/urandom >"$T_DIR/blob.bin"

gcp gcs-upload gcp-test "$OBJ" application/json "$T_DIR/v1.json" 0
check "create-only upload" q 'st == 0 and int(res["generation"]) > 0'
G1=$(result_of generation)
gcp gcs-upload gcp-test "$OBJ" application/json "$T_DIR/v2.json" 0
check "second create-only upload fails" q 'st == 11 and out[0]["rc"] == 1'
gcp gcs-download gcp-test "$OBJ"
check "download returns v1" q 'st == 0 and res["content"] == "{\"state\": \"deployed\"}" and res["generation"] == "'"$G1"'"'
gcp gcs-upload gcp-test "$OBJ" application/json "$T_DIR/v2.json" "$G1"
check "compare-and-swap upload" q 'st == 0 and int(res["generation"]) > '"$G1"
G2=$(result_of generation)
gcp gcs-upload gcp-test "$OBJ" application/json "$T_DIR/v1.json" "$G1"
check "stale compare-and-swap fails" q 'st == 11'
gcp gcs-download gcp-test "$OBJ"
check "download returns v2" q 'res["content"] == "{\"state\": \"measured\"}" and res["generation"] == "'"$G2"'"'
gcp gcs-upload gcp-test runs/r1/blob.bin application/octet-stream \
    "$T_DIR/blob.bin"
check "unconditional binary upload" q 'st == 0'
gcp gcs-download gcp-test runs/r1/blob.bin "$T_DIR/blob.out"
check "binary download to a file" q 'st == 0 and res["size"] == 100000'
check "binary round trip" cmp -s "$T_DIR/blob.bin" "$T_DIR/blob.out"
gcp gcs-upload gcp-test other/x.json application/json "$T_DIR/v1.json"
gcp gcs-list gcp-test runs/r1/
check "list under a prefix" q 'st == 0 and sorted(res) == ["runs/r1/blob.bin", "'"$OBJ"'"]'
gcp gcs-list gcp-test
check "list everything" q 'st == 0 and len(res) == 3'
gcp gcs-delete gcp-test "$OBJ" "$G1"
check "delete with stale generation" q 'st == 12'
gcp gcs-delete gcp-test "$OBJ" "$G2"
check "delete with generation" q 'st == 0'
gcp gcs-download gcp-test "$OBJ"
check "deleted object not found" q 'st == 11'
gcp gcs-delete gcp-test "$OBJ"
check "second delete not found" q 'st == 11'
gcp gcs-download no-such-bucket x
check "missing bucket not found" q 'st == 11'

# --- Cloud Run -------------------------------------------------------

cat >"$T_DIR/service.json" <<'EOF'
{"labels": {"app": "gcp-test"},
 "template": {"maxInstanceRequestConcurrency": 1,
  "scaling": {"minInstanceCount": 0, "maxInstanceCount": 1},
  "containers": [{"image": "local/t/echo",
   "resources": {"limits": {"cpu": "1", "memory": "512Mi"},
    "cpuIdle": true, "startupCpuBoost": true}}]}}
EOF
gcp run-create svc-gcp "$T_DIR/service.json"
check "run create" q 'st == 0 and "/operations/" in res["name"]'
OP=$(result_of name)
gcp run-create svc-gcp "$T_DIR/service.json"
check "run create again exists" q 'st == 11'
gcp run-wait "$OP" 60
check "run operation done" q 'st == 0 and res["done"] is True and "error" not in res'
gcp run-get svc-gcp
check "run service ready" q 'st == 0 and res["terminalCondition"]["state"] == "CONDITION_SUCCEEDED"'
check "run service keeps cpuIdle" q 'res["template"]["containers"][0]["resources"]["cpuIdle"] is True'
URI=$(result_of uri)
T0=$(($(date +%s) - 2))
check "service answers" sh -c "curl -sf --max-time 30 '$URI/' | grep -q '\"service\": \"svc-gcp\"'"
gcp run-list
check "run list has it" q 'st == 0 and any(s["name"].endswith("/services/svc-gcp") for s in res)'

logged() { gcp logging-request-instances svc-gcp "$T0"; q 'st == 0 and len(res) >= 1' >/dev/null; }
check "request log names an instance" wait_for 20 logged
check "log entry has instance id" q 'len(res[0]["instance_id"]) > 0 and res[0]["timestamp"].startswith("20")'

counted() { gcp monitoring-instance-count svc-gcp "$T0" "$(date +%s)"; q 'st == 0 and res["active"] + res["idle"] >= 1' >/dev/null; }
check "instance counted" wait_for 20 counted

gcp run-delete svc-gcp
check "run delete" q 'st == 0 and "/operations/" in res["name"]'
OP=$(result_of name)
gcp run-wait "$OP" 60
check "run delete done" q 'st == 0 and res["done"] is True'
gcp run-get svc-gcp
check "deleted service not found" q 'st == 11'
gcp run-delete svc-gcp
check "second delete not found" q 'st == 11'

# --- Cloud Scheduler and Cloud Tasks ---------------------------------

JOB=projects/local-project/locations/local-region/jobs/gcp-test
cat >"$T_DIR/job.json" <<EOF
{"name": "$JOB", "schedule": "0 0 1 1 *", "timeZone": "Etc/UTC",
 "httpTarget": {"uri": "http://127.0.0.1:1/measure", "httpMethod": "POST",
  "body": "eyJydW5faWQiOiJyMSJ9",
  "oidcToken": {"serviceAccountEmail":
   "perf-agent@local-project.iam.gserviceaccount.com",
   "audience": "http://127.0.0.1:1"}}}
EOF
gcp scheduler-create "$T_DIR/job.json"
check "scheduler create" q 'st == 0'
gcp scheduler-create "$T_DIR/job.json"
check "scheduler create again exists" q 'st == 11'
gcp scheduler-get gcp-test
check "scheduler get" q 'st == 0 and res["name"] == "'$JOB'" and res["schedule"] == "0 0 1 1 *"'
check "scheduler body kept" q 'res["httpTarget"]["body"] == "eyJydW5faWQiOiJyMSJ9"'
gcp scheduler-delete gcp-test
check "scheduler delete" q 'st == 0'
gcp scheduler-get gcp-test
check "deleted job not found" q 'st == 11'

# A day ahead: Cloud Tasks takes at most 30 days.
TASK=projects/local-project/locations/local-region/queues/perf-measure-queue/tasks/m-r1
WHEN=$(date -u -d "@$(($(date +%s) + 86400))" +%Y-%m-%dT%H:%M:%SZ)
cat >"$T_DIR/task.json" <<EOF
{"name": "$TASK", "scheduleTime": "$WHEN",
 "httpRequest": {"url": "http://127.0.0.1:1/measure", "httpMethod": "POST",
  "headers": {"Content-Type": "application/json"},
  "body": "eyJydW5faWQiOiJyMSJ9"}}
EOF
gcp tasks-create "$T_DIR/task.json"
check "tasks create" q 'st == 0'
gcp tasks-create "$T_DIR/task.json"
check "tasks create again exists" q 'st == 11'
gcp tasks-delete m-r1
check "tasks delete" q 'st == 0'
gcp tasks-delete m-r1
check "deleted task not found" q 'st == 11'
gcp tasks-create "$T_DIR/task.json"
check "deleted name stays reserved" q 'st == 11'

check "no token in the client log" sh -c "! grep -q 'ya29\|eyJhbGci' '$T_DIR/gcp.log'"

#!/bin/sh
# Malformed requests to the Agent API, from a table: wrong methods, media
# types, bodies, field types and ranges, run ids, sizes and credentials.
# Each must get its 4xx with a JSON error body, never a 5xx, and none may
# change stored state or restart frontd.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

# One request per line, fields separated by "|":
#   STATUS|KIND|METHOD|PATH|AUTH|TYPE|BODY|FIELD
# KIND   j: a JSON error body {"error": {"code", "message"}} is required.
#        h: a HEAD request; the reply has no body, but its Content-Type
#           must be application/json.
#        l: beyond a hard limit of evhttp (HTTP_BODY_HARD_MAX bytes of
#           body, HTTP_HEADERS_MAX bytes of headers in frontd/frontd.h):
#           evhttp's own HTML reply with STATUS, or a closed connection.
# AUTH   T: a valid bearer token; -: no Authorization header; @NAME: the
#        header line in the generated file NAME; else the header's value.
# TYPE   J: application/json; -: no Content-Type; else the header's value.
# BODY   -: none; @NAME: the generated file NAME; D:EDITS: the valid
#        /deploy body below with EDITS applied (PATH=JSON sets a field,
#        PATH! removes it, ";" separates edits); else the literal bytes.
# FIELD  the error's "field", or empty when not checked.
cat >"$T_DIR/table" <<'EOF'
# Wrong methods on every endpoint.
405|j|GET|/deploy|T|-|-|
405|j|PUT|/deploy|T|J|D:|
405|j|DELETE|/deploy|T|-|-|
405|j|PATCH|/deploy|T|J|D:|
405|h|HEAD|/deploy|T|-|-|
405|j|OPTIONS|/deploy|T|-|-|
405|j|TRACE|/deploy|T|-|-|
405|j|CONNECT|/deploy|T|-|-|
405|j|BREW|/deploy|T|J|D:|
405|j|GET|/measure|T|-|-|
405|j|PUT|/measure|T|J|{"run_id":"mal-1"}|
405|j|DELETE|/measure|T|-|-|
405|j|GET|/cleanup|T|-|-|
405|j|PATCH|/cleanup|T|J|{"run_id":"mal-1"}|
405|j|GET|/benchmark|T|-|-|
405|j|DELETE|/benchmark|T|-|-|
405|j|POST|/status/mal-1|T|J|{}|
405|j|DELETE|/status/mal-1|T|-|-|
405|h|HEAD|/status/mal-1|T|-|-|
405|j|PUT|/results/mal-1|T|J|{}|
405|j|POST|/results/mal-1|T|J|{}|
405|j|POST|/implementations|T|J|{}|
405|j|DELETE|/implementations|T|-|-|
405|j|POST|/health|-|J|{}|
405|j|PUT|/health|-|-|-|
405|j|DELETE|/health|-|-|-|
405|j|TRACE|/health|-|-|-|
405|j|BREW|/health|-|-|-|
404|j|GET|/nope|T|-|-|
404|j|GET|/|T|-|-|
404|j|POST|/deploy/extra|T|J|D:|
# Missing or wrong Content-Type.
415|j|POST|/deploy|T|-|D:|
415|j|POST|/deploy|T|text/plain|D:|
415|j|POST|/deploy|T|application/jsonx|D:|
415|j|POST|/deploy|T|multipart/form-data; boundary=x|D:|
415|j|POST|/measure|T|application/x-www-form-urlencoded|run_id=mal-1|
415|j|POST|/cleanup|T|application/xml|<run_id>mal-1</run_id>|
415|j|POST|/benchmark|T|-|{}|
# Bodies that are not JSON, or truncated JSON.
400|j|POST|/deploy|T|J|-|
400|j|POST|/deploy|T|J|run_id=mal-1|
400|j|POST|/deploy|T|J|{"run_id": "mal-1",|
400|j|POST|/deploy|T|J|{"run_id":"mal-1","benchmark_config":{"cold_start_iterations":1|
400|j|POST|/measure|T|J|{"run_id":"mal-1"|
400|j|POST|/measure|T|J|{"run_id":"mal-1"}x|
400|j|POST|/measure|T|J|{'run_id':'mal-1'}|
400|j|POST|/measure|T|J|{"run_id":"mal-1",}|
400|j|POST|/measure|T|J|{"run_id":"mal-1","run_id":"mal-2"}|
400|j|POST|/measure|T|J|@bom|
400|j|POST|/measure|T|J|@bad-utf8|
400|j|POST|/cleanup|T|J|@binary|
# JSON of the wrong type at the top level.
400|j|POST|/deploy|T|J|[]|
400|j|POST|/deploy|T|J|null|
400|j|POST|/deploy|T|J|"mal-1"|
400|j|POST|/measure|T|J|42|
400|j|POST|/cleanup|T|J|true|
400|j|POST|/benchmark|T|J|[{"run_id":"mal-1"}]|
# Every /deploy field with a wrong type or out of range.
400|j|POST|/deploy|T|J|D:run_id!|run_id
400|j|POST|/deploy|T|J|D:run_id=1|run_id
400|j|POST|/deploy|T|J|D:run_id=null|run_id
400|j|POST|/deploy|T|J|D:run_id=["mal-1"]|run_id
400|j|POST|/deploy|T|J|D:run_id=""|run_id
400|j|POST|/deploy|T|J|D:benchmark_config!|benchmark_config
400|j|POST|/deploy|T|J|D:benchmark_config=[]|benchmark_config
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations="3"|benchmark_config.cold_start_iterations
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations=1.5|benchmark_config.cold_start_iterations
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations=2.0|benchmark_config.cold_start_iterations
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations=true|benchmark_config.cold_start_iterations
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations=null|benchmark_config.cold_start_iterations
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations=-1|benchmark_config.cold_start_iterations
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations=0|benchmark_config.cold_start_iterations
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations=1001|benchmark_config.cold_start_iterations
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations=9223372036854775807|benchmark_config.cold_start_iterations
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations=-9223372036854775808|benchmark_config.cold_start_iterations
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations=99999999999999999999999999|
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations=1e400|
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_iterations=1e3|benchmark_config.cold_start_iterations
400|j|POST|/deploy|T|J|D:benchmark_config.warm_request_count="10"|benchmark_config.warm_request_count
400|j|POST|/deploy|T|J|D:benchmark_config.warm_request_count=10.5|benchmark_config.warm_request_count
400|j|POST|/deploy|T|J|D:benchmark_config.warm_request_count=-10|benchmark_config.warm_request_count
400|j|POST|/deploy|T|J|D:benchmark_config.warm_request_count=1000001|benchmark_config.warm_request_count
400|j|POST|/deploy|T|J|D:benchmark_config.warm_request_concurrency={}|benchmark_config.warm_request_concurrency
400|j|POST|/deploy|T|J|D:benchmark_config.warm_request_concurrency=0|benchmark_config.warm_request_concurrency
400|j|POST|/deploy|T|J|D:benchmark_config.warm_request_concurrency=1001|benchmark_config.warm_request_concurrency
400|j|POST|/deploy|T|J|D:benchmark_config.warm_request_concurrency=11|benchmark_config.warm_request_concurrency
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_strategy="sometimes"|benchmark_config.cold_start_strategy
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_strategy=1|benchmark_config.cold_start_strategy
400|j|POST|/deploy|T|J|D:benchmark_config.warm_mode="half"|benchmark_config.warm_mode
400|j|POST|/deploy|T|J|D:benchmark_config.warm_rate_rps=100|benchmark_config.warm_rate_rps
400|j|POST|/deploy|T|J|D:benchmark_config.warm_mode="open";benchmark_config.warm_rate_rps="fast";benchmark_config.warm_duration_s=1|benchmark_config.warm_rate_rps
400|j|POST|/deploy|T|J|D:benchmark_config.warm_mode="open";benchmark_config.warm_rate_rps=-5;benchmark_config.warm_duration_s=1|benchmark_config.warm_rate_rps
400|j|POST|/deploy|T|J|D:benchmark_config.warm_mode="open";benchmark_config.warm_rate_rps=10;benchmark_config.warm_duration_s=3601|benchmark_config.warm_duration_s
400|j|POST|/deploy|T|J|D:benchmark_config.extra=1|benchmark_config.extra
400|j|POST|/deploy|T|J|D:agent_config!|agent_config
400|j|POST|/deploy|T|J|D:agent_config="c-libevent"|agent_config
400|j|POST|/deploy|T|J|D:agent_config.implementations="c-libevent"|agent_config.implementations
400|j|POST|/deploy|T|J|D:agent_config.implementations=[]|agent_config.implementations
400|j|POST|/deploy|T|J|D:agent_config.implementations=[1]|agent_config.implementations[0]
400|j|POST|/deploy|T|J|D:agent_config.implementations=["c-libevent","c-libevent"]|agent_config.implementations[1]
400|j|POST|/deploy|T|J|D:agent_config.implementations=["no-such-impl"]|agent_config.implementations[0]
400|j|POST|/deploy|T|J|D:agent_config.implementations=["../c-libevent"]|agent_config.implementations[0]
400|j|POST|/deploy|T|J|D:agent_config.test_matrix=[]|agent_config.test_matrix
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.cpu="1"|agent_config.test_matrix.cpu
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.cpu=[]|agent_config.test_matrix.cpu
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.cpu=["3"]|agent_config.test_matrix.cpu[0]
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.cpu=[1]|agent_config.test_matrix.cpu[0]
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.cpu=["1","2","4","8","1","2","4","8","1"]|agent_config.test_matrix.cpu
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.memory=["1Ti"]|agent_config.test_matrix.memory[0]
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.memory=["64Mi"]|agent_config.test_matrix.memory[0]
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.memory=[512]|agent_config.test_matrix.memory[0]
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.startup_boost=["yes"]|agent_config.test_matrix.startup_boost[0]
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.concurrency=[0]|agent_config.test_matrix.concurrency[0]
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.concurrency=[2.5]|agent_config.test_matrix.concurrency[0]
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.max_instances=[1001]|agent_config.test_matrix.max_instances[0]
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.execution_environment=["gen3"]|agent_config.test_matrix.execution_environment[0]
400|j|POST|/deploy|T|J|D:agent_config.test_matrix.gpu=["1"]|agent_config.test_matrix.gpu
400|j|POST|/deploy|T|J|D:agent_config.extra=1|agent_config.extra
400|j|POST|/deploy|T|J|D:schedule=[]|schedule
400|j|POST|/deploy|T|J|D:schedule.measure_delay_seconds!;schedule.measure_delay_minutes=-1|schedule.measure_delay_minutes
400|j|POST|/deploy|T|J|D:schedule.measure_delay_seconds!;schedule.measure_delay_minutes=1441|schedule.measure_delay_minutes
400|j|POST|/deploy|T|J|D:schedule.measure_delay_seconds!;schedule.measure_delay_minutes="20"|schedule.measure_delay_minutes
400|j|POST|/deploy|T|J|D:schedule.measure_delay_seconds=0.5|schedule.measure_delay_seconds
400|j|POST|/deploy|T|J|D:schedule.measure_delay_seconds=86401|schedule.measure_delay_seconds
400|j|POST|/deploy|T|J|D:schedule.round_delay_seconds=-1|schedule.round_delay_seconds
400|j|POST|/deploy|T|J|D:benchmark_config.cold_start_strategy="replicas";schedule.round_delay_seconds=5|schedule.round_delay_seconds
400|j|POST|/deploy|T|J|D:schedule.extra=1|schedule.extra
# Unknown fields, NUL escapes, deep nesting, long strings.
400|j|POST|/deploy|T|J|D:extra=1|extra
400|j|POST|/deploy|T|J|D:Run_ID="mal-1"|Run_ID
400|j|POST|/deploy|T|J|{"run_id":"mal\u0000-1"}|
400|j|POST|/deploy|T|J|{"run_id":"mal-1","x\u0000":1}|
400|j|POST|/deploy|T|J|D:agent_config.implementations=["c-libevent\u0000"]|
400|j|POST|/deploy|T|J|@deep-array|
400|j|POST|/deploy|T|J|@deep-object|
400|j|POST|/deploy|T|J|@deeper-than-jansson|
400|j|POST|/deploy|T|J|@long-string|
400|j|POST|/deploy|T|J|@long-key|
400|j|POST|/deploy|T|J|@many-implementations|agent_config.implementations
# run_id with slashes, dots, too long, unicode.
400|j|POST|/deploy|T|J|D:run_id="a/b"|run_id
400|j|POST|/deploy|T|J|D:run_id=".."|run_id
400|j|POST|/deploy|T|J|D:run_id=".hidden"|run_id
400|j|POST|/deploy|T|J|D:run_id="aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"|run_id
400|j|POST|/deploy|T|J|D:run_id="été"|run_id
400|j|POST|/deploy|T|J|D:run_id="mal 1"|run_id
400|j|POST|/measure|T|J|{"run_id":"../../etc/passwd"}|run_id
400|j|POST|/measure|T|J|{"run_id":1}|run_id
400|j|POST|/measure|T|J|{}|run_id
400|j|POST|/measure|T|J|{"run_id":"mal-1","force":true}|force
400|j|POST|/cleanup|T|J|{"run_id":"a/b"}|run_id
400|j|POST|/cleanup|T|J|{"run_id":null}|run_id
400|j|POST|/benchmark|T|J|{}|
400|j|POST|/benchmark|T|J|{"run_id":"mal-1","implementations":"c-libevent"}|
# run ids in the path: traversal, percent-encoding, unicode, length.
400|j|GET|/status/../deploy|T|-|-|run_id
400|j|GET|/status/../../etc/passwd|T|-|-|run_id
400|j|GET|/status/..|T|-|-|run_id
400|j|GET|/status/.|T|-|-|run_id
400|j|GET|/status/|T|-|-|run_id
400|j|GET|/status/a/b|T|-|-|run_id
400|j|GET|/status/a%2Fb|T|-|-|run_id
400|j|GET|/status/..%2F..%2Fdeploy|T|-|-|run_id
400|j|GET|/status/%2E%2E|T|-|-|run_id
400|j|GET|/status/%00|T|-|-|run_id
400|j|GET|/status/mal%00-1|T|-|-|run_id
400|j|GET|/status/mal%zz|T|-|-|run_id
400|j|GET|/status/mal%|T|-|-|run_id
400|j|GET|/status/mal%201|T|-|-|run_id
400|j|GET|/status/%C3%A9t%C3%A9|T|-|-|run_id
400|j|GET|/status/été|T|-|-|run_id
400|j|GET|/status/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa|T|-|-|run_id
400|j|GET|/results/..%2Fx|T|-|-|run_id
400|j|GET|/results/x/y|T|-|-|run_id
404|j|GET|/status/%6D%61%6C-1|T|-|-|run_id
404|j|GET|/results/mal-1|T|-|-|run_id
404|j|GET|/status/mal-1?x=../../deploy|T|-|-|run_id
# Sizes: over the API's limit, and over evhttp's hard limits.
413|j|POST|/deploy|T|J|@2mib|
413|j|POST|/measure|T|J|@2mib|
413|l|POST|/deploy|T|J|@10mib|
413|l|POST|/measure|T|J|@10mib|
400|l|GET|/implementations|@huge-header|-|-|
# Missing or garbage credentials.
401|j|GET|/implementations|-|-|-|
401|j|GET|/status/mal-1|-|-|-|
401|j|POST|/deploy|-|J|D:|
401|j|POST|/measure|-|J|{"run_id":"mal-1"}|
401|j|POST|/cleanup|-|J|{"run_id":"mal-1"}|
401|j|GET|/implementations|garbage|-|-|
401|j|GET|/implementations|Basic dXNlcjpwYXNz|-|-|
401|j|GET|/implementations|Bearer|-|-|
401|j|GET|/implementations|Bearer a.b.c|-|-|
401|j|GET|/implementations|Bearer ....|-|-|
401|j|GET|/implementations|Bearer eyJhbGciOiJub25lIn0.e30.|-|-|
401|j|GET|/implementations|@tampered-token|-|-|
401|j|GET|/implementations|@token-twice|-|-|
401|j|GET|/implementations|@long-token|-|-|
EOF

rows=$(grep -c '^[0-9]' "$T_DIR/table")
# Debian's python3 starts in a tenth of the time of a pyenv shim, and the
# test runs Python three times per row. The scripts need only the standard
# library.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
t_plan $((rows + 12))

if ! start_agent; then
	fail "agent healthy in local mode"
	exit 1
fi
ok "agent healthy in local mode"

worker_pid()
{
	"$B/tools/perf-agent-ipc" --timeout 2000 "$RT/$1.sock" \
	    '{"type":"ping","body":{}}' 2>/dev/null |
	    sed -n 's/.*"pid": \([0-9]*\).*/\1/p'
}
FRONTD_PID=$(worker_pid frontd)

# The generated bodies and header lines.
"$PY" - "$T_DIR" "$TOKEN" <<'PY'
import json, os, sys

d, token = sys.argv[1], sys.argv[2]

def put(name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

base = '{"run_id":"mal-1","benchmark_config":'
put("bom", b'\xef\xbb\xbf{"run_id":"mal-1"}')
put("bad-utf8", b'{"run_id":"mal-\xff\xfe"}')
put("binary", bytes(range(256)))
put("deep-array", base + "[" * 1000 + "]" * 1000 + "}")
put("deep-object", '{"a":' * 1000 + "1" + "}" * 1000)
put("deeper-than-jansson", "[" * 100000 + "]" * 100000)
put("long-string", json.dumps({"run_id": "a" * 5000}))
put("long-key", json.dumps({"k" * 5000: 1, "run_id": "mal-1"}))
put("many-implementations", json.dumps({"run_id": "mal-1",
    "benchmark_config": {"cold_start_iterations": 1,
    "warm_request_count": 10, "warm_request_concurrency": 1},
    "agent_config": {"implementations": ["impl-%d" % i
    for i in range(65)]}}))
# A valid JSON string of 2 MiB and one of 10 MiB.
put("2mib", '{"run_id":"' + "a" * (2 << 20) + '"}')
put("10mib", '{"run_id":"' + "a" * (10 << 20) + '"}')
put("huge-header", "Authorization: Bearer " + "a" * 70000 + "\n")
put("long-token", "Authorization: Bearer " + "a" * 9000 + "\n")
head, claims, sig = token.split(".")
flipped = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
put("tampered-token", "Authorization: Bearer %s.%s.%s\n" %
    (head, claims, flipped))
put("token-twice", "Authorization: Bearer %s %s\n" % (token, token))
PY

# Builds the /deploy body of a D: row into $T_DIR/body.
deploy_body()
{
	"$PY" - "$1" >"$T_DIR/body" <<'PY'
import json, sys

body = {"run_id": "mal-1",
        "benchmark_config": {"cold_start_iterations": 1,
                             "warm_request_count": 10,
                             "warm_request_concurrency": 1},
        "agent_config": {"implementations": ["c-libevent"],
                         "test_matrix": {"cpu": ["1"]}},
        "schedule": {"measure_delay_seconds": 3600}}
# Each value goes in as its raw text, so that numbers beyond a double and
# escapes such as \u0000 reach the agent exactly as the table writes them.
raw = {}
for i, edit in enumerate(filter(None, sys.argv[1].split(";"))):
    if edit.endswith("!"):
        path, value = edit[:-1], None
    else:
        path, value = edit.split("=", 1)
    keys = path.split(".")
    node = body
    for k in keys[:-1]:
        node = node[k]
    if value is None:
        del node[keys[-1]]
    else:
        node[keys[-1]] = "@raw%d@" % i
        raw['"@raw%d@"' % i] = value
text = json.dumps(body, ensure_ascii=False)
for placeholder, value in raw.items():
    text = text.replace(placeholder, value)
sys.stdout.write(text)
PY
}

# Checks a reply against a row; prints what is wrong, or nothing.
check_reply()
{
	"$PY" - "$T_DIR/reply" "$T_DIR/headers" "$@" <<'PY'
import json, sys

reply_path, headers_path, want, kind, got, field = sys.argv[1:7]
body = open(reply_path, "rb").read()
headers = open(headers_path, "rb").read().decode("latin-1").lower()
problems = []
if kind == "l":
    if got not in (want, "000"):
        problems.append("HTTP %s, expected %s or a closed connection"
                        % (got, want))
elif got != want:
    problems.append("HTTP %s, expected %s" % (got, want))
if kind == "h":
    if "content-type: application/json" not in headers:
        problems.append("no JSON Content-Type")
if kind == "j":
    if "content-type: application/json" not in headers:
        problems.append("no JSON Content-Type")
    try:
        error = json.loads(body)["error"]
        if not isinstance(error.get("code"), str) or not error["code"]:
            problems.append("error.code is not a string")
        if not isinstance(error.get("message"), str) or \
                not error["message"]:
            problems.append("error.message is not a string")
        if field and error.get("field") != field:
            problems.append("field %r, expected %r"
                            % (error.get("field"), field))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        problems.append("not a JSON error body (%s)" % e)
if problems:
    print("; ".join(problems) + ": " +
          body[:200].decode("utf-8", "replace").replace("\n", " "))
PY
}

n=0
while IFS='|' read -r want kind method path auth ctype body field; do
	case $want in
	[0-9]*) ;;
	*) continue ;;
	esac
	n=$((n + 1))
	set -- -s -o "$T_DIR/reply" -D "$T_DIR/headers" -w '%{http_code}' \
	    --max-time 30 --path-as-is
	case $method in
	HEAD) set -- "$@" -I ;;
	*) set -- "$@" -X "$method" ;;
	esac
	case $auth in
	T) set -- "$@" -H "Authorization: Bearer $TOKEN" ;;
	-) ;;
	@*) set -- "$@" -H @"$T_DIR/${auth#@}" ;;
	*) set -- "$@" -H "Authorization: $auth" ;;
	esac
	case $ctype in
	J) set -- "$@" -H 'Content-Type: application/json' ;;
	-) set -- "$@" -H 'Content-Type:' ;;
	*) set -- "$@" -H "Content-Type: $ctype" ;;
	esac
	case $body in
	-) ;;
	@*) set -- "$@" --data-binary @"$T_DIR/${body#@}" ;;
	D:*)
		deploy_body "${body#D:}"
		set -- "$@" --data-binary @"$T_DIR/body"
		;;
	*)
		printf '%s' "$body" >"$T_DIR/body"
		set -- "$@" --data-binary @"$T_DIR/body"
		;;
	esac
	: >"$T_DIR/reply"
	: >"$T_DIR/headers"
	got=$(curl "$@" "$API$path" </dev/null)
	problem=$(check_reply "$want" "$kind" "${got:-000}" "$field")
	name="row $n: $method $(printf '%.60s' "$path")"
	case $auth in
	T|-) ;;
	*) name="$name, Authorization $(printf '%.30s' "$auth")" ;;
	esac
	[ "$body" = - ] || name="$name, body $(printf '%.50s' "$body")"
	if [ -z "$problem" ]; then
		ok "$name: $want"
	else
		fail "$name: $problem"
	fi
done <"$T_DIR/table"

check "agent healthy after the malformed requests" wait_for 10 agent_healthy
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 \
    -H "Authorization: bearer $TOKEN" "$API/implementations")
check "scheme name bearer is case-insensitive ($code)" [ "$code" = 200 ]
check "frontd kept its pid ($FRONTD_PID)" \
    [ "${FRONTD_PID:-none}" = "$(worker_pid frontd)" ]
check "no worker restarted" sh -c "! grep -q 'restarting ' '$AGENT_LOG'"
# The signature is the part of a token that no one else can make up.
check "no token in the agent's log" \
    sh -c "! grep -qF '${TOKEN##*.}' '$AGENT_LOG'"
check "no state object was written" [ -z "$(lc_objects runs/)" ]
check "no run was indexed" [ -z "$(lc_objects agent/)" ]
check "no service was created" [ -z "$(lc_services)" ]
check "no scheduler job was created" [ -z "$(lc_jobs)" ]

# A sanitizer build reports leaks when a worker exits: stop the agent here
# so that the test reads the reports.
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
check "agent stops on SIGTERM (status $rc)" [ "$rc" = 0 ]
check "no sanitizer report in the log" \
    sh -c "! grep -q 'Sanitizer' '$AGENT_LOG'"

#!/bin/sh
# perf-agent-ctl register against a local agent: the manifest goes through
# stated to localcloud's registry bucket with agent.endpoint and
# metadata.last_updated set and every other line as written, and bad
# input is rejected before anything is uploaded.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$S/tests/agent_lib.sh"

REGISTER="$B/tools/perf-agent-ctl register"
ENDPOINT=https://discord-webhook-perf-agent-abc123-uc.a.run.app
V=$S/tools/schema/validate.sh
SCHEMA=$S/schemas/agent-manifest.schema.json
HAVE_NODE=1
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	HAVE_NODE=0
fi

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# registry_object NAME FILE [QUERY]: downloads an object of the registry
# bucket (its metadata with an empty QUERY) and prints the HTTP status.
registry_object()
{
	enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1")
	curl -s --max-time 10 -o "$2" -w '%{http_code}' \
	    "$LC/storage/v1/b/perf-agent-registry/o/$enc${3-?alt=media}"
}

# value KEY FILE: prints the double-quoted value of the first "  KEY:" line.
value()
{
	sed -n "s/^  $1: \"\(.*\)\"\$/\1/p" "$2" | head -1
}

# between LOW X HIGH: RFC 3339 UTC times of one format compare as strings.
between()
{
	python3 -c 'import sys; a, x, b = sys.argv[1:]; sys.exit(not a <= x <= b)' "$@"
}

# Succeeds when FILE matches the manifest schema.
schema_valid()
{
	"$V" "$SCHEMA" "$1" >>"$T_DIR/validate.log" 2>&1
}

check_schema()
{
	if [ "$HAVE_NODE" = 1 ]; then
		check "$1" schema_valid "$2"
	else
		skip "$1: node and npm are not installed"
	fi
}

# same_except_targets ORIG EDITED: both read as the same document but for
# agent.endpoint and metadata.last_updated.
same_except_targets()
{
	"$V" --json "$1" >"$T_DIR/orig.json" 2>>"$T_DIR/validate.log" &&
	"$V" --json "$2" >"$T_DIR/edited.json" 2>>"$T_DIR/validate.log" &&
	python3 -c 'import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
for d in (a, b):
    d["agent"].pop("endpoint")
    d.setdefault("metadata", {}).pop("last_updated", None)
    if not d["metadata"]:
        d.pop("metadata")
sys.exit(a != b)' "$T_DIR/orig.json" "$T_DIR/edited.json"
}

if ! start_agent; then
	fail "agent starts in local mode"
	t_plan "$T_COUNT"
	exit 1
fi
ok "agent starts in local mode"

# The first upload.
before=$(now)
$REGISTER --runtime-dir "$RT" --endpoint "$ENDPOINT" \
    --manifest "$S/manifest.yaml" >"$T_DIR/register.out" 2>"$T_DIR/register.err"
rc=$?
after=$(now)
check "register exits 0" test "$rc" -eq 0
check "register names the object it uploaded" grep -q \
    '^registered gs://perf-agent-registry/agents/discord-webhook.yaml generation [0-9][0-9]*$' \
    "$T_DIR/register.out"
status=$(registry_object agents/discord-webhook.yaml "$T_DIR/uploaded.yaml")
check "agents/discord-webhook.yaml is in the registry bucket" \
    test "$status" = 200
registry_object agents/discord-webhook.yaml "$T_DIR/meta.json" "" >/dev/null
check "its content type is application/yaml" grep -q \
    '"contentType": *"application/yaml"' "$T_DIR/meta.json"
check "agent.endpoint is the given URL" \
    test "$(value endpoint "$T_DIR/uploaded.yaml")" = "$ENDPOINT"
stamp=$(value last_updated "$T_DIR/uploaded.yaml")
check "metadata.last_updated is the upload time ($before <= $stamp <= $after)" \
    between "$before" "$stamp" "$after"
diff "$S/manifest.yaml" "$T_DIR/uploaded.yaml" >"$T_DIR/diff"
check "exactly two lines differ from manifest.yaml, comments kept" \
    test "$(grep -c '^<' "$T_DIR/diff")" -eq 2 -a \
    "$(grep -c '^>' "$T_DIR/diff")" -eq 2
check_schema "uploaded manifest matches the schema" "$T_DIR/uploaded.yaml"
if [ "$HAVE_NODE" = 1 ]; then
	check "uploaded manifest reads as manifest.yaml but for the two values" \
	    same_except_targets "$S/manifest.yaml" "$T_DIR/uploaded.yaml"
else
	skip "uploaded manifest reads as manifest.yaml: node is not installed"
fi

# A second upload overwrites the first; the defaults come from the
# environment, as under systemd or on Cloud Run.
gen1=$(sed -n 's/.* generation //p' "$T_DIR/register.out")
RUNTIME_DIRECTORY=$RT AGENT_URL=$ENDPOINT/v2 $REGISTER \
    --manifest "$S/manifest.yaml" >"$T_DIR/register2.out" 2>&1
check "register reads RUNTIME_DIRECTORY and AGENT_URL" test $? -eq 0
gen2=$(sed -n 's/.* generation //p' "$T_DIR/register2.out")
check "the second upload is a newer generation ($gen1 < $gen2)" \
    test "${gen2:-0}" -gt "${gen1:-0}"
registry_object agents/discord-webhook.yaml "$T_DIR/uploaded2.yaml" >/dev/null
check "the registry holds the second endpoint" \
    test "$(value endpoint "$T_DIR/uploaded2.yaml")" = "$ENDPOINT/v2"

# A manifest without metadata gets the block appended; another service
# type goes to its own object.
sed -e 's/^service_type: discord-webhook$/service_type: other-type/' \
    -e '/^metadata:/,$d' "$S/manifest.yaml" >"$T_DIR/nometa.yaml"
$REGISTER --runtime-dir "$RT" --endpoint "$ENDPOINT" \
    --manifest "$T_DIR/nometa.yaml" >"$T_DIR/nometa.out" 2>&1
check "register adds metadata.last_updated when it is missing" test $? -eq 0
status=$(registry_object agents/other-type.yaml "$T_DIR/nometa-up.yaml")
check "the object is named after the service type" test "$status" = 200
check "the added last_updated is a time" grep -q \
    '^  last_updated: "[0-9-]*T[0-9:]*Z"$' "$T_DIR/nometa-up.yaml"
check_schema "the manifest with added metadata matches the schema" \
    "$T_DIR/nometa-up.yaml"

# --dry-run prints and uploads nothing.
sed 's/^service_type: discord-webhook$/service_type: dry-run-type/' \
    "$S/manifest.yaml" >"$T_DIR/dry.yaml"
$REGISTER --runtime-dir "$RT" --endpoint "$ENDPOINT" \
    --manifest "$T_DIR/dry.yaml" --dry-run >"$T_DIR/dry.out" 2>&1
check "--dry-run exits 0" test $? -eq 0
check "--dry-run prints the edited manifest" \
    test "$(value endpoint "$T_DIR/dry.out")" = "$ENDPOINT"
status=$(registry_object agents/dry-run-type.yaml "$T_DIR/dry-up.yaml")
check "--dry-run uploads nothing" test "$status" = 404

# Rejected input: exit status 2, a message, nothing uploaded.
sed 's/^service_type: discord-webhook$/service_type: rejected-type/' \
    "$S/manifest.yaml" >"$T_DIR/rejected.yaml"
rejects()
{
	desc=$1
	pattern=$2
	shift 2
	env -u AGENT_URL -u RUNTIME_DIRECTORY $REGISTER --runtime-dir "$RT" \
	    --manifest "$T_DIR/rejected.yaml" "$@" >"$T_DIR/rejected.out" 2>&1
	rc=$?
	if [ "$rc" -eq 2 ] && grep -q -- "$pattern" "$T_DIR/rejected.out"; then
		ok "$desc"
	else
		fail "$desc (exit $rc: $(head -c 300 "$T_DIR/rejected.out"))"
	fi
}
rejects "an ftp endpoint is rejected" "invalid --endpoint" \
    --endpoint ftp://example.com
rejects "an endpoint with a quote is rejected" "invalid --endpoint" \
    --endpoint 'https://example.com/"x'
rejects "an endpoint with a space is rejected" "invalid --endpoint" \
    --endpoint 'https://example.com/a b'
rejects "an endpoint without a host is rejected" "invalid --endpoint" \
    --endpoint https:///path
rejects "a missing endpoint is rejected" "needs --endpoint"
rejects "a missing manifest is rejected" "cannot open" \
    --endpoint "$ENDPOINT" --manifest "$T_DIR/absent.yaml"
sed 's|^  endpoint: .*|  endpoint: \|\n    https://example.com|' \
    "$T_DIR/rejected.yaml" >"$T_DIR/block.yaml"
rejects "a block scalar endpoint is rejected" "plain or quoted" \
    --endpoint "$ENDPOINT" --manifest "$T_DIR/block.yaml"
sed '/^service_type:/d' "$T_DIR/rejected.yaml" >"$T_DIR/notype.yaml"
rejects "a manifest without service_type is rejected" "service_type" \
    --endpoint "$ENDPOINT" --manifest "$T_DIR/notype.yaml"
rejects "an unreachable stated is reported" "cannot connect" \
    --endpoint "$ENDPOINT" --runtime-dir "$T_DIR/nowhere"
status=$(registry_object agents/rejected-type.yaml "$T_DIR/rejected-up.yaml")
check "rejected runs uploaded nothing" test "$status" = 404

t_plan "$T_COUNT"

#!/bin/sh
# The registration manifest, the results schema and the Agent API
# description, checked with Ajv through tools/schema/validate.sh: the real
# files must pass, broken copies must fail, and the example bodies of the
# Agent API must match their schemas.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

t_plan 28

V=$S/tools/schema/validate.sh
MANIFEST_SCHEMA=$S/schemas/agent-manifest.schema.json
RESULTS_SCHEMA=$S/schemas/results.schema.json
API=$S/contract/agent-api.openapi.yaml

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	for i in $(seq 1 28); do
		skip "node and npm are not installed"
	done
	exit 0
fi

# Succeeds when the validator accepts FILE against SCHEMA. Its output is
# kept in $T_DIR/validate.log for a failing test.
valid()
{
	"$V" "$1" "$2" >>"$T_DIR/validate.log" 2>&1
}

# Fails unless the validator rejects the file (exit status 1, not a setup
# error).
invalid()
{
	"$V" "$1" "$2" >>"$T_DIR/validate.log" 2>&1
	[ $? -eq 1 ]
}

schema() { echo "$API#/components/schemas/$1"; }

# The first call installs the npm packages when they are missing.
check "manifest.yaml matches its schema" valid "$MANIFEST_SCHEMA" \
    "$S/manifest.yaml"

sed '/^service_type:/d' "$S/manifest.yaml" >"$T_DIR/no-type.yaml"
check "manifest without service_type fails" invalid "$MANIFEST_SCHEMA" \
    "$T_DIR/no-type.yaml"
check "the failure names service_type" sh -c "'$V' '$MANIFEST_SCHEMA' \
    '$T_DIR/no-type.yaml' | grep -q \"required property 'service_type'\""

sed '0,/status: active/s//status: enabled/' "$S/manifest.yaml" \
    >"$T_DIR/bad-status.yaml"
check "manifest with status enabled fails" invalid "$MANIFEST_SCHEMA" \
    "$T_DIR/bad-status.yaml"
check "the failure names the status" sh -c "'$V' '$MANIFEST_SCHEMA' \
    '$T_DIR/bad-status.yaml' | grep -q '/implementations/0/status'"

sed 's/^  type: cloud_run_service/  type: cloud_function/' \
    "$S/manifest.yaml" >"$T_DIR/bad-agent.yaml"
check "manifest with an unknown agent type fails" invalid \
    "$MANIFEST_SCHEMA" "$T_DIR/bad-agent.yaml"

sed 's/^enabled: true/enabled: "true"/' "$S/manifest.yaml" \
    >"$T_DIR/enabled-string.yaml"
check "manifest with enabled as a string fails" invalid "$MANIFEST_SCHEMA" \
    "$T_DIR/enabled-string.yaml"

printf 'schema_version: "1.0"\nschema_version: "1.0"\n' >"$T_DIR/dup.yaml"
check "duplicate YAML keys are a read error" sh -c "'$V' \
    '$MANIFEST_SCHEMA' '$T_DIR/dup.yaml' >/dev/null 2>&1; [ \$? -eq 2 ]"

# Every implementation folder is in the manifest; every manifest entry
# should have a folder (reported as a skip while one is still missing).
"$V" --json "$S/manifest.yaml" | node -e '
	let text = "";
	process.stdin.on("data", (d) => { text += d; });
	process.stdin.on("end", () => {
		for (const impl of JSON.parse(text).implementations)
			console.log(impl.name);
	});' >"$T_DIR/names"
check "manifest lists 5 implementations" test "$(wc -l <"$T_DIR/names")" -eq 5
unlisted=""
for dir in "$S"/implementations/discord-webhook/*/; do
	[ -d "$dir" ] || continue
	name=$(basename "$dir")
	grep -qx "$name" "$T_DIR/names" || unlisted="$unlisted $name"
done
check "every implementation folder is in the manifest" test -z "$unlisted"
[ -z "$unlisted" ] || echo "# not in manifest.yaml:$unlisted"
missing=""
while read -r name; do
	[ -d "$S/implementations/discord-webhook/$name" ] ||
	    missing="$missing $name"
done <"$T_DIR/names"
if [ -z "$missing" ]; then
	ok "every manifest entry has a folder"
else
	skip "no folder yet under implementations/discord-webhook for:$missing"
fi

# A results object with a success, a failure and two errors, one with a
# timestamp.
cat >"$T_DIR/results.json" <<'EOF'
{
  "service_type": "discord-webhook",
  "agent_version": "1.2.0",
  "run_id": "2026-01-24-abc123",
  "start_time": "2026-01-24T14:30:00Z",
  "end_time": "2026-01-24T14:45:00Z",
  "results": [
    {
      "implementation": "go-gin",
      "status": "success",
      "contract_compliance": 100.0,
      "cold_start": {
        "iterations": 10,
        "measurements_ms": [145, 148, 142, 151, 147, 144, 149, 146, 143, 150],
        "statistics": {
          "min_ms": 142, "max_ms": 151, "mean_ms": 146.5,
          "median_ms": 146.5, "p50_ms": 146, "p90_ms": 150, "p99_ms": 151,
          "stddev_ms": 2.9
        }
      },
      "warm_requests": {
        "count": 100,
        "concurrency": 10,
        "statistics": {
          "min_ms": 2, "max_ms": 15, "mean_ms": 4.2, "p50_ms": 3,
          "p90_ms": 8, "p99_ms": 12
        },
        "throughput_rps": 238.5,
        "error_rate": 0.0
      },
      "metadata": {
        "service_url": "https://discord-go-gin-xxxxx-uc.a.run.app",
        "image_tag": "sha256:abc123...",
        "custom": {}
      }
    },
    { "implementation": "java-spring3", "status": "failed" }
  ],
  "errors": [
    {
      "implementation": "java-spring3",
      "phase": "contract_validation",
      "message": "3 contract tests failed",
      "details": "..."
    },
    {
      "implementation": "php-laravel",
      "phase": "warm_requests",
      "message": "Connection timeout",
      "details": "10 of 100 requests timed out after 30s",
      "timestamp": "2026-01-24T14:50:00Z"
    }
  ]
}
EOF
check "the example results match the results schema" valid \
    "$RESULTS_SCHEMA" "$T_DIR/results.json"

sed 's/"status": "success"/"status": "ok"/' "$T_DIR/results.json" \
    >"$T_DIR/bad-result-status.json"
check "results with status ok fail" invalid "$RESULTS_SCHEMA" \
    "$T_DIR/bad-result-status.json"
sed '/"run_id"/d' "$T_DIR/results.json" >"$T_DIR/no-run-id.json"
check "results without run_id fail" invalid "$RESULTS_SCHEMA" \
    "$T_DIR/no-run-id.json"
sed 's/"phase": "warm_requests"/"phase": "benchmark"/' "$T_DIR/results.json" \
    >"$T_DIR/bad-phase.json"
check "an error with an unknown phase fails" invalid "$RESULTS_SCHEMA" \
    "$T_DIR/bad-phase.json"
sed 's/"mean_ms": 146.5,/"mean_ms": "146.5",/' "$T_DIR/results.json" \
    >"$T_DIR/string-mean.json"
check "a statistic given as a string fails" invalid "$RESULTS_SCHEMA" \
    "$T_DIR/string-mean.json"
sed '/"cold_start": {/,/^      },$/d' "$T_DIR/results.json" \
    >"$T_DIR/no-cold-start.json"
check "a success without cold_start fails" invalid "$RESULTS_SCHEMA" \
    "$T_DIR/no-cold-start.json"

# The Agent API description.
check "agent-api.openapi.yaml is valid OpenAPI" sh -c \
    "'$V' --openapi '$API' >>'$T_DIR/validate.log' 2>&1"
# The copy keeps its relative reference to ../schemas/ working.
mkdir -p "$T_DIR/contract" "$T_DIR/schemas"
cp "$RESULTS_SCHEMA" "$T_DIR/schemas/"
sed '/^  title: Perf Agent API$/d' "$API" >"$T_DIR/contract/no-title.yaml"
check "an info without title is not valid OpenAPI" sh -c \
    "'$V' --openapi '$T_DIR/contract/no-title.yaml' >/dev/null 2>&1; [ \$? -eq 1 ]"

cat >"$T_DIR/deploy.json" <<'EOF'
{
  "run_id": "2026-01-24-abc123",
  "benchmark_config": {
    "cold_start_iterations": 10,
    "warm_request_count": 100,
    "warm_request_concurrency": 10
  },
  "agent_config": {
    "implementations": ["go-gin", "rust-actix"],
    "test_matrix": {"cpu": ["1", "2"], "startup_boost": [true]}
  },
  "schedule": {"measure_delay_minutes": 20}
}
EOF
check "the /deploy example matches DeployRequest" valid \
    "$(schema DeployRequest)" "$T_DIR/deploy.json"
sed 's/"run_id": "2026-01-24-abc123",/&\n  "priority": 1,/' \
    "$T_DIR/deploy.json" >"$T_DIR/deploy-extra.json"
check "an unknown /deploy field fails DeployRequest" invalid \
    "$(schema DeployRequest)" "$T_DIR/deploy-extra.json"
sed 's/"cpu": \["1", "2"\]/"cpu": ["3"]/' "$T_DIR/deploy.json" \
    >"$T_DIR/deploy-cpu.json"
check "cpu 3 fails DeployRequest" invalid "$(schema DeployRequest)" \
    "$T_DIR/deploy-cpu.json"

printf '%s\n' '{"run_id": "2026-01-24-abc123", "status": "deploying",' \
    '"services_to_deploy": 4, "measure_scheduled_at": "2026-01-24T14:20:00Z",' \
    '"state_url": "gs://perf-benchmark-state/runs/2026-01-24-abc123/discord-webhook/",' \
    '"scheduler_job": "discord-measure-2026-01-24-abc123"}' \
    >"$T_DIR/deploy-response.json"
check "the /deploy response example matches DeployResponse" valid \
    "$(schema DeployResponse)" "$T_DIR/deploy-response.json"

cat >"$T_DIR/status.json" <<'EOF'
{
  "run_id": "2026-01-24-abc123",
  "service_type": "discord-webhook",
  "phase": "measuring",
  "progress": {"total_services": 4, "deployed": 4, "measured": 2},
  "timestamps": {
    "deploy_started": "2026-01-24T14:00:00Z",
    "deploy_completed": "2026-01-24T14:03:00Z",
    "measure_started": "2026-01-24T14:20:00Z",
    "measure_completed": null
  },
  "errors": []
}
EOF
check "the /status example matches StatusResponse" valid \
    "$(schema StatusResponse)" "$T_DIR/status.json"
sed 's/"phase": "measuring"/"phase": "sleeping"/' "$T_DIR/status.json" \
    >"$T_DIR/status-phase.json"
check "an unknown phase fails StatusResponse" invalid \
    "$(schema StatusResponse)" "$T_DIR/status-phase.json"

printf '%s\n' '{"run_id": "2026-01-24-abc123", "services_deleted": 4,' \
    '"scheduler_job_deleted": true}' >"$T_DIR/cleanup.json"
check "the /cleanup example matches CleanupResponse" valid \
    "$(schema CleanupResponse)" "$T_DIR/cleanup.json"

printf '%s\n' '{"service_type": "discord-webhook", "implementations": [' \
    '{"name": "go-gin", "status": "active", "service_url": "https://x.example.invalid"},' \
    '{"name": "java-spring3", "status": "disabled", "reason": "Known issue #123"}]}' \
    >"$T_DIR/implementations.json"
check "the /implementations example matches its schema" valid \
    "$(schema ImplementationsResponse)" "$T_DIR/implementations.json"

printf '%s\n' '{"error": {"code": "out_of_range", "message": "m",' \
    '"field": "benchmark_config.warm_request_concurrency"}}' \
    >"$T_DIR/error.json"
check "an error body matches ErrorBody" valid "$(schema ErrorBody)" \
    "$T_DIR/error.json"

#!/bin/sh
# The main job, offline: installs the dependencies, builds perf-agent,
# starts it in local mode (every Google API served by localcloud on
# loopback), deploys every active reference implementation over cpu 1 and 2,
# waits for the scheduled measure rounds and prints the results.
#
# Environment: PORT (Agent API, default 8080), LOCALCLOUD_PORT (default
# 8086), ITERATIONS (cold samples per service, default 3), WARM_COUNT
# (default 2000), CONCURRENCY (default 10).
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
BUILD=${PERF_AGENT_BUILD:-$TOP/build}
PORT=${PORT:-8080}
LOCALCLOUD_PORT=${LOCALCLOUD_PORT:-8086}
ITERATIONS=${ITERATIONS:-3}
WARM_COUNT=${WARM_COUNT:-2000}
CONCURRENCY=${CONCURRENCY:-10}

for port in "$PORT" "$LOCALCLOUD_PORT"; do
	if curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$port/"; then
		echo "run-local: port $port is in use; set PORT or" \
		    "LOCALCLOUD_PORT to free ports" >&2
		exit 1
	fi
done

scripts/install-deps.sh
scripts/build.sh >"${TMPDIR:-/tmp}/perf-agent-build.log" 2>&1 || {
	tail -30 "${TMPDIR:-/tmp}/perf-agent-build.log" >&2
	exit 1
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/perf-agent-local.XXXXXX")
# The client gets its ID token from localcloud's metadata server, as the
# Perf Manager gets one from Google's.
CTL="$BUILD/tools/perf-agent-ctl --url http://127.0.0.1:$PORT --metadata-host 127.0.0.1:$LOCALCLOUD_PORT"
echo "run-local: starting perf-agent --local (log: $WORK/agent.log)"
"$BUILD/supervisor/perf-agent" --local --runtime-dir "$WORK/run" \
    --port "$PORT" --localcloud-port "$LOCALCLOUD_PORT" --idle-timeout 3 \
    --log-format json >"$WORK/agent.log" 2>&1 &
AGENT=$!
trap 'kill -TERM $AGENT 2>/dev/null; wait $AGENT 2>/dev/null' EXIT INT TERM

i=0
until $CTL health >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 150 ] || ! kill -0 $AGENT 2>/dev/null; then
		echo "run-local: the agent did not become healthy; last log" \
		    "lines:" >&2
		tail -20 "$WORK/agent.log" >&2
		exit 1
	fi
	sleep 0.2
done

RUN=local-$(date -u +%Y%m%d-%H%M%S)
echo "run-local: deploying run $RUN (all active implementations x cpu 1,2;" \
    "$ITERATIONS cold samples each; $WARM_COUNT warm requests at" \
    "concurrency $CONCURRENCY)"
$CTL deploy "$RUN" --implementations all --cpu 1,2 \
    --iterations "$ITERATIONS" --warm-count "$WARM_COUNT" \
    --concurrency "$CONCURRENCY" --delay-seconds 10 --round-delay 5
echo "run-local: waiting for the scheduled measure; progress:"
$CTL wait "$RUN" 1800 || true
echo
$CTL table "$RUN"
$CTL results "$RUN" >"$WORK/results.json"
echo
echo "run-local: results.json: $WORK/results.json"
echo "run-local: state objects: $WORK/run/localcloud/storage"
$CTL cleanup "$RUN" >/dev/null && echo "run-local: deleted the run's services"

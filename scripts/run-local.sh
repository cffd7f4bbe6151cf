#!/bin/sh
# Installs the dependencies, builds perf-agent and starts it in local mode
# (everything on loopback, against localcloud), then shows /health.
set -eu

cd "$(dirname "$0")/.."
TOP=$(pwd)
BUILD=${PERF_AGENT_BUILD:-$TOP/build}
PORT=${PORT:-8080}

scripts/install-deps.sh
scripts/build.sh

RUNTIME=$(mktemp -d "${TMPDIR:-/tmp}/perf-agent-local.XXXXXX")
"$BUILD/supervisor/perf-agent" --local --runtime-dir "$RUNTIME" \
    --port "$PORT" >"$RUNTIME/agent.log" 2>&1 &
AGENT=$!
trap 'kill -TERM $AGENT 2>/dev/null; wait $AGENT 2>/dev/null' EXIT INT TERM

i=0
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $AGENT 2>/dev/null; then
		echo "run-local: the agent did not become healthy; log:" >&2
		cat "$RUNTIME/agent.log" >&2
		exit 1
	fi
	sleep 0.1
done
curl -s "http://127.0.0.1:$PORT/health"
echo
echo "run-local: agent log in $RUNTIME/agent.log"

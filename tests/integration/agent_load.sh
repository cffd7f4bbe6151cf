#!/bin/sh
# The Agent API under load while a measure runs: wrk against /health and
# /status/{run_id} for LOAD_SECONDS (default 10; LOAD_SECONDS=60 is the
# benchmark of docs/BENCHMARKS.md). Every request must succeed, and the RSS
# of frontd and stated must stay bounded. The warm p99 of the measure with
# and without the load is printed, never checked: the machine is shared.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

LOAD_SECONDS=${LOAD_SECONDS:-10}
# wrk connections per endpoint. Each /status request takes one of
# frontd's API_MAX_JOBS (64) slots and makes three calls to stated, which
# serves STATED_MAX_JOBS (32) at once. 8 stays within both, so any 503 is
# a fault.
CONNECTIONS=8
# The measure's warm phase: open loop at a fixed rate for the load's
# duration, so that its latency is comparable with and without the load.
RATE=500
# RSS samples (one a second) skipped at the start of the load as warm-up.
WARMUP_SAMPLES=3
# The RSS of a worker may at most double between the first sample after
# the warm-up and the last samples. frontd and stated use about 12 MiB
# and grow by under 1 MiB over a 60 s load on a 2-CPU machine. A leak of
# 400 bytes per /health request (about 3000 a second here), or of 1 KiB
# per /status request (the size of its reply, about 500 a second),
# exceeds the doubling within the 60 s run.
RSS_FACTOR=2
# AddressSanitizer keeps freed memory in a quarantine of 256 MiB by
# default, which would fill over the load and look like growth; 8 MiB
# keeps its share of the RSS small. Builds without the sanitizer ignore it.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8
export ASAN_OPTIONS

if ! command -v wrk >/dev/null 2>&1; then
	echo "1..0 # SKIP wrk is not installed"
	exit 0
fi
t_plan 18

if ! start_agent; then
	fail "agent healthy in local mode"
	exit 1
fi
ok "agent healthy in local mode"

# wait_until SECONDS COMMAND...: retries the command every 0.5 s until it
# succeeds or SECONDS of wall time have passed, however long each try takes.
wait_until()
{
	end=$(($(date +%s) + $1))
	shift
	while [ "$(date +%s)" -lt "$end" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	return 1
}

deploy_body()
{
	printf '{"run_id":"%s","benchmark_config":{"cold_start_iterations":1,"warm_request_count":100,"warm_request_concurrency":4,"warm_mode":"open","warm_rate_rps":%s,"warm_duration_s":%s},"agent_config":{"implementations":["c-libevent"],"test_matrix":{"cpu":["1"]}},"schedule":{"measure_delay_seconds":1}}' "$1" "$RATE" "$LOAD_SECONDS"
}

# warm_ms RUN STATISTIC: prints a warm latency statistic of a completed
# run (p50_ms, p99_ms), in milliseconds.
warm_ms()
{
	lc_object "runs/$1/discord-webhook/results.json" |
	    json "d['results'][0]['warm_requests']['statistics']['$2']"
}

# Succeeds once the run measures and its cold sample is stored: the
# contract checks and the warm phase come next.
cold_sample_stored()
{
	lc_object "runs/$1/discord-webhook/measurement-status.json" |
	    json 'd["phase"] == "measuring" and any(c["outcome"] == "sample"
	    for s in d["services"].values() for c in s["cold"])' |
	    grep -qx true
}

child_pid()
{
	pgrep -P "$AGENT_PID" -x "$1" | head -n 1
}

# 1. The measure alone.
api POST /deploy "$(deploy_body base-1)" >/dev/null
check "deploy of the run without load" [ "$STATUS" = 200 ]
check "the run without load completes" \
    wait_until $((LOAD_SECONDS + 120)) phase_is base-1 completed

# 2. The same measure under load.
FRONTD_PID=$(child_pid frontd)
STATED_PID=$(child_pid stated)
api POST /deploy "$(deploy_body load-1)" >/dev/null
check "deploy of the run under load" [ "$STATUS" = 200 ]
check "the run under load reaches its warm phase" \
    wait_until 120 cold_sample_stored load-1

# Counts the responses that are not 2xx, which wrk's own summary leaves
# out for 1xx and 3xx, and prints one line with the socket errors.
cat >"$T_DIR/count.lua" <<'EOF'
local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	responses = 0
	non2xx = 0
end

function response(status, headers, body)
	responses = responses + 1
	if status < 200 or status > 299 then
		non2xx = non2xx + 1
	end
end

function done(summary, latency, requests)
	local r, n = 0, 0
	for _, t in ipairs(threads) do
		r = r + t:get("responses")
		n = n + t:get("non2xx")
	end
	local e = summary.errors
	io.write(string.format("RESULT responses %d non2xx %d " ..
	    "socket_errors %d\n", r, n,
	    e.connect + e.read + e.write + e.timeout))
end
EOF

# One RSS sample of frontd and stated (kB) a second while the load runs.
(
	for _ in $(seq 1 "$((LOAD_SECONDS + 1))"); do
		printf '%s %s\n' \
		    "$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' \
		    "/proc/$FRONTD_PID/status" 2>/dev/null)" \
		    "$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' \
		    "/proc/$STATED_PID/status" 2>/dev/null)"
		sleep 1
	done
) >"$T_DIR/rss" &
sampler=$!

wrk -t1 -c"$CONNECTIONS" -d"${LOAD_SECONDS}s" --timeout 10s \
    -s "$T_DIR/count.lua" "$API/health" >"$T_DIR/wrk-health" 2>&1 &
health_wrk=$!
wrk -t1 -c"$CONNECTIONS" -d"${LOAD_SECONDS}s" --timeout 10s \
    -s "$T_DIR/count.lua" -H "Authorization: Bearer $TOKEN" \
    "$API/status/load-1" >"$T_DIR/wrk-status" 2>&1 &
status_wrk=$!
wait "$health_wrk"
wait "$status_wrk"
wait "$sampler"
sed 's/^/# health: /' "$T_DIR/wrk-health"
sed 's/^/# status: /' "$T_DIR/wrk-status"

# wrk_field FILE NAME: the number after NAME on wrk's RESULT line.
wrk_field()
{
	sed -n "s/^RESULT.* $2 \\([0-9]*\\).*/\\1/p" "$1"
}

for endpoint in health status; do
	f=$T_DIR/wrk-$endpoint
	check "/$endpoint answered under load ($(wrk_field "$f" responses))" \
	    [ "$(wrk_field "$f" responses)" -gt 0 ]
	check "/$endpoint: no socket errors" \
	    [ "$(wrk_field "$f" socket_errors)" = 0 ]
	check "/$endpoint: no response other than 2xx" \
	    [ "$(wrk_field "$f" non2xx)" = 0 ]
done

# rss_bounded COLUMN: the worst of the last three samples is within
# RSS_FACTOR of the first sample after the warm-up.
rss_bounded()
{
	awk -v col="$1" -v skip="$WARMUP_SAMPLES" -v factor="$RSS_FACTOR" '
	    $col ~ /^[0-9]+$/ { v[n++] = $col }
	    END {
		if (n < skip + 4) { print "# too few RSS samples: " n; exit 1 }
		first = v[skip]
		last = v[n - 1]
		if (v[n - 2] > last) last = v[n - 2]
		if (v[n - 3] > last) last = v[n - 3]
		printf "# RSS %d kB after the warm-up, %d kB at the end\n",
		    first, last
		exit !(last <= factor * first)
	    }' "$T_DIR/rss"
}
tr '\n' ' ' <"$T_DIR/rss" | sed 's/^/# RSS samples (frontd stated, kB): /'
echo
check "frontd RSS stays within ${RSS_FACTOR}x" rss_bounded 1
check "stated RSS stays within ${RSS_FACTOR}x" rss_bounded 2
check "no worker restarted under load" \
    [ "$(child_pid frontd):$(child_pid stated)" = "$FRONTD_PID:$STATED_PID" ]

check "the run under load completes" \
    wait_until $((LOAD_SECONDS + 120)) phase_is load-1 completed
echo "# warm p99 at $RATE requests/s for $LOAD_SECONDS s:" \
    "$(warm_ms base-1 p99_ms) ms without load," \
    "$(warm_ms load-1 p99_ms) ms under load"
echo "# warm p50: $(warm_ms base-1 p50_ms) ms without load," \
    "$(warm_ms load-1 p50_ms) ms under load"
check "the measure under load has no failed request" \
    [ "$(lc_object runs/load-1/discord-webhook/results.json |
    json 'd["results"][0]["warm_requests"]["failed"]')" = 0 ]

# A sanitizer build reports leaks when a worker exits: stop the agent here
# so that the test reads the reports.
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
check "agent stops on SIGTERM (status $rc)" [ "$rc" = 0 ]
check "no sanitizer report in the log" \
    sh -c "! grep -q 'Sanitizer' '$AGENT_LOG'"

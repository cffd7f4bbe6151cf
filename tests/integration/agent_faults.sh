#!/bin/sh
# The Agent API under faults: two /measure calls at once, kill -9 of
# measured and stated during a measure, the legacy /benchmark, and an
# implementation whose instances exit at start.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

t_plan 19

# A data folder like the source tree's, plus an implementation that exits
# as soon as it starts.
make_data_dir exits-at-start
printf '#!/bin/sh\necho "exits-at-start: failing on purpose" >&2\nexit 1\n' \
    >"$IMPL/run"
chmod +x "$IMPL/run"

if ! start_agent --data-dir "$DATA"; then
	fail "agent healthy in local mode"
	exit 1
fi
ok "agent healthy in local mode"

deploy_body()
{
	printf '{"run_id":"%s","benchmark_config":{"cold_start_iterations":%s,"warm_request_count":100,"warm_request_concurrency":2},"agent_config":{"implementations":%s},"schedule":{"measure_delay_seconds":%s,"round_delay_seconds":1}}' "$1" "$2" "$3" "$4"
}

worker_pid()
{
	"$B/tools/perf-agent-ipc" --timeout 2000 "$RT/$1.sock" \
	    '{"type":"ping","body":{}}' 2>/dev/null |
	    sed -n 's/.*"pid": \([0-9]*\).*/\1/p'
}

results_of()
{
	lc_object "runs/$1/discord-webhook/results.json"
}

# 1. Two /measure calls at once on a run the scheduler leaves alone.
api POST /deploy "$(deploy_body twice-1 1 '["c-libevent"]' 3600)" >/dev/null
check "deploy for the concurrent measure" [ "$STATUS" = 200 ]
wait_for 60 phase_is twice-1 waiting
(api POST /measure '{"run_id":"twice-1"}' >"$T_DIR/a.json") &
second=$!
api POST /measure '{"run_id":"twice-1"}' >"$T_DIR/b.json"
wait $second
check "both calls answered measuring" sh -c "grep -q measuring '$T_DIR/a.json' && grep -q measuring '$T_DIR/b.json'"
check "the concurrent run completes" wait_for 120 phase_is twice-1 completed
claims=$(grep -c 'run twice-1: measuring round 1' "$AGENT_LOG")
check "round 1 claimed once ($claims)" [ "$claims" = 1 ]
check "one cold sample, measured once" [ "$(results_of twice-1 | json 'len(d["results"][0]["cold_start"]["samples"])')" = 1 ]

# 2. kill -9 of measured, then of stated, while the run measures.
api POST /deploy "$(deploy_body kill-1 3 '["c-libevent","python"]' 2)" >/dev/null
check "deploy for the kill test" [ "$STATUS" = 200 ]
wait_for 60 phase_is kill-1 measuring
pid=$(worker_pid measured)
[ -n "$pid" ] && kill -9 "$pid"
check "measured killed during the measure" [ -n "$pid" ]
sleep 2
pid=$(worker_pid stated)
[ -n "$pid" ] && kill -9 "$pid"
check "stated killed during the measure" [ -n "$pid" ]
check "the run still completes" wait_for 240 phase_is kill-1 completed
results_of kill-1 >"$T_DIR/kill.json"
check "3 samples per service after the kills" [ "$(json 'all(len(r["cold_start"]["samples"]) == 3 for r in d["results"])' <"$T_DIR/kill.json")" = true ]
check "no sample measured twice after the kills" [ "$(json 'all(len({s["round"] for s in r["cold_start"]["samples"]}) == 3 for r in d["results"])' <"$T_DIR/kill.json")" = true ]

# 3. kill -9 of deployd right after /deploy replied: the next deployd
# resumes the deploy from the stored manifest.
api POST /deploy "$(deploy_body resume-1 1 '["c-libevent","python"]' 2)" >/dev/null
pid=$(worker_pid deployd)
[ -n "$pid" ] && kill -9 "$pid"
check "deployd killed during the deploy" [ -n "$pid" ]
check "the run completes after the deploy resumed" wait_for 180 phase_is resume-1 completed

# 4. An implementation whose instances exit at start: reported in errors,
# the others in results, HTTP 200.
api POST /deploy "$(deploy_body partial-1 1 '["c-libevent","exits-at-start"]' 2)" >/dev/null
check "partial run completes" wait_for 120 phase_is partial-1 completed
api GET /results/partial-1 >"$T_DIR/partial.json"
check "partial results answer 200" [ "$STATUS" = 200 ]
check "the working implementation is in results" [ "$(json '[r["implementation"] for r in d["results"]]' <"$T_DIR/partial.json")" = '["c-libevent"]' ]
check "the failing one is in errors at discovery or cold_start" [ "$(json 'any(e["implementation"] == "exits-at-start" and e["phase"] in ("discovery", "cold_start") for e in d["errors"])' <"$T_DIR/partial.json")" = true ]

# 5. The legacy single call.
api POST /benchmark '{"run_id":"legacy-1","implementations":["c-libevent"],"config":{"cold_start_iterations":1,"warm_request_count":50,"warm_request_concurrency":2}}' >"$T_DIR/legacy.json"
n=$(json 'len(d["results"])' <"$T_DIR/legacy.json" 2>/dev/null)
check "legacy benchmark answers 200 with a result" [ "$STATUS:$n" = "200:1" ]

#!/bin/sh
# Fault tolerance of the agent: kill -9 of a random worker at a random
# moment of each of 20 small runs, then SIGTERM to the whole agent during a
# measure and a restart on the same runtime folder.
#
# CHAOS_SEED=N replays the kills of an earlier run (the seed is printed).
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

RUNS=20
# Runs at once. Runs share the one measurement thread of measured, so more
# at once mostly lengthen the queue.
BATCH=4
# Seconds a batch of runs may take to end, kills and restarts included.
BATCH_LIMIT=300
SEED=${CHAOS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
# Debian's python3 starts in a tenth of the time of a pyenv shim.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

t_plan $((RUNS + 18))
echo "# seed $SEED (CHAOS_SEED=$SEED replays these kills)"

# The test kills each worker several times a minute, beyond the
# supervisor's default limit of 5 deaths in 60 s. The supervisor doubles
# a worker's restart delay with each death in the window, up to 10 s. In
# local mode the scheduler divides its retry backoff by its time scale of
# 60, so the three retries of a trigger span about 1.2 s (70 s on Google
# Cloud). A 5 s window keeps the restart of frontd within that span. With
# 60 s, repeated kills would delay it past the retries, and the trigger
# would be lost.
if ! start_agent --max-restarts 1000 --restart-window 5; then
	fail "agent healthy in local mode"
	exit 1
fi
ok "agent healthy in local mode"

# The plan, one run per line: RUN IMPLEMENTATION ITERATIONS VICTIM DELAY_MS.
"$PY" - "$SEED" "$RUNS" >"$T_DIR/plan" <<'PY'
import random, sys

rng = random.Random(int(sys.argv[1]))
for i in range(1, int(sys.argv[2]) + 1):
    print("chaos-%d %s %d %s %d" % (i,
        rng.choice(["c-libevent", "python"]), rng.randint(1, 2),
        rng.choice(["frontd", "deployd", "measured", "stated",
                    "localcloud"]),
        rng.randint(0, 8000)))
PY
sed 's/^/# plan: /' "$T_DIR/plan"

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

# Prints the pid of a worker, a child of the supervisor, by its name.
child_pid()
{
	pgrep -P "$AGENT_PID" -x "$1" | head -n 1
}

# kill_later VICTIM DELAY_MS RUN: kills the worker after the delay and
# notes what it killed.
kill_later()
{
	sleep "$("$PY" -c "print($2 / 1000)")"
	pid=$(child_pid "$1")
	if [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; then
		echo "# $3: killed $1 (pid $pid) at +$2 ms"
	else
		echo "# $3: $1 was not running at +$2 ms"
	fi
}

# run_phase RUN: prints the run's phase, or nothing while the API fails
# (frontd or stated restarting).
run_phase()
{
	curl -s --max-time 5 -H "Authorization: Bearer $TOKEN" \
	    "$API/status/$1" 2>/dev/null | json 'd.get("phase", "")' \
	    2>/dev/null
}

# chaos_run RUN IMPLEMENTATION ITERATIONS VICTIM DELAY_MS: deploys a run
# while a worker gets killed, retries /deploy as a manager would on a 5xx
# or a dropped connection, and waits for the run to end. Writes the last
# phase to $T_DIR/RUN.phase.
chaos_run()
{
	run=$1
	body=$(printf '{"run_id":"%s","benchmark_config":{"cold_start_iterations":%s,"warm_request_count":50,"warm_request_concurrency":2},"agent_config":{"implementations":["%s"],"test_matrix":{"cpu":["1"]}},"schedule":{"measure_delay_seconds":1,"round_delay_seconds":1}}' "$run" "$3" "$2")
	kill_later "$4" "$5" "$run" &
	killer=$!
	code=000
	for try in 1 2 3 4 5 6 7 8 9 10; do
		code=$(curl -s -o "$T_DIR/$run.deploy" -w '%{http_code}' \
		    --max-time 130 -X POST -H "Authorization: Bearer $TOKEN" \
		    -H 'Content-Type: application/json' --data-binary "$body" \
		    "$API/deploy" 2>/dev/null)
		case $code in
		200) break ;;
		000|5*) sleep 2 ;;
		*) break ;;
		esac
	done
	echo "# $run: /deploy answered $code after $try tries"
	phase=""
	if [ "$code" = 200 ]; then
		end=$(($(date +%s) + BATCH_LIMIT))
		while [ "$(date +%s)" -lt "$end" ]; do
			phase=$(run_phase "$run")
			case $phase in
			completed|failed) break ;;
			esac
			sleep 0.5
		done
	fi
	wait "$killer"
	echo "${phase:-none}" >"$T_DIR/$run.phase"
}

# 1. The runs, BATCH at a time.
n=0
pids=""
while read -r run impl iterations victim delay; do
	chaos_run "$run" "$impl" "$iterations" "$victim" "$delay" &
	pids="$pids $!"
	n=$((n + 1))
	if [ $((n % BATCH)) = 0 ] || [ "$n" = "$RUNS" ]; then
		for pid in $pids; do
			wait "$pid"
		done
		pids=""
	fi
done <"$T_DIR/plan"

# A failed run must name the phase that failed, one of the phases of the
# error format.
run_ended_well()
{
	phase=$(cat "$T_DIR/$1.phase")
	[ "$phase" = completed ] && return 0
	[ "$phase" = failed ] || return 1
	for _ in 1 2 3 4 5; do
		code=$(curl -sS -o "$T_DIR/$1.status" -w '%{http_code}' \
		    --max-time 30 -H "Authorization: Bearer $TOKEN" \
		    "$API/status/$1" 2>"$T_DIR/$1.curl")
		[ "$code" = 200 ] && break
		sleep 1
	done
	if [ "$code" != 200 ]; then
		echo "# $1: GET /status answered $code $(cat "$T_DIR/$1.curl")"
		return 1
	fi
	"$PY" - "$T_DIR/$1.status" <<'PY'
import json, sys

phases = ("discovery", "scale_to_zero", "contract_validation",
          "cold_start", "warm_requests", "internal")
errors = json.load(open(sys.argv[1]))["errors"]
if not errors or any(e.get("phase") not in phases for e in errors):
    sys.exit("# errors do not name a phase: %s" % json.dumps(errors))
PY
}

# The last kill may have hit a moment ago.
check "agent healthy after the kills" wait_for 30 agent_healthy
while read -r run impl iterations victim delay; do
	check "$run ($impl, $victim killed at +$delay ms) ended: $(cat "$T_DIR/$run.phase")" \
	    run_ended_well "$run"
done <"$T_DIR/plan"

# diagnose RUN: prints "# diag:" lines on a run that did not end, which
# the test command repeats after its list of failures.
diagnose()
{
	echo "# diag: $1: deploy $(lc_object "runs/$1/discord-webhook/deployment-status.json" |
	    json '[d.get("phase"), d.get("updated_at"), d.get("owner"), d.get("progress")]' 2>&1 | tr -d '\n')"
	echo "# diag: $1: measure $(lc_object "runs/$1/discord-webhook/measurement-status.json" |
	    json '[d.get("phase"), d.get("round"), d.get("updated_at"), d.get("owner"), d.get("current_service")]' 2>&1 | tr -d '\n')"
	grep "run $1:" "$AGENT_LOG" | tail -n 3 | cut -c 1-300 |
	    sed 's/^/# diag: log: /'
}
stuck=""
while read -r run impl iterations victim delay; do
	case $(cat "$T_DIR/$run.phase") in
	completed|failed) ;;
	*) stuck="$stuck $run" ;;
	esac
done <"$T_DIR/plan"
if [ -n "$stuck" ]; then
	echo "# diag: seed $SEED; measured: $("$B/tools/perf-agent-ipc" \
	    --timeout 2000 "$RT/measured.sock" \
	    '{"type":"measure_state","body":{}}' 2>&1 | tr -d '\n' |
	    cut -c 1-300)"
	for run in $stuck; do
		diagnose "$run"
	done
fi

# 2. Every object under runs/ and agent/ parses as JSON.
lc_objects runs/ >"$T_DIR/objects"
lc_objects agent/ >>"$T_DIR/objects"
bad=""
while read -r name; do
	lc_object "$name" | json 'True' >/dev/null 2>&1 || bad="$bad $name"
done <"$T_DIR/objects"
check "state objects listed ($(wc -l <"$T_DIR/objects"))" \
    [ "$(wc -l <"$T_DIR/objects")" -ge "$RUNS" ]
check "every state object parses as JSON${bad:+ (not:$bad)}" [ -z "$bad" ]

# 3. /cleanup finds every service, retried like /deploy.
services=$(lc_services | grep -c .)
deleted=0
while read -r run impl iterations victim delay; do
	for try in 1 2 3 4 5; do
		api POST /cleanup "{\"run_id\":\"$run\"}" >"$T_DIR/cleanup.json"
		[ "$STATUS" = 200 ] && break
		sleep 2
	done
	if [ "$STATUS" = 200 ]; then
		deleted=$((deleted + $(json 'd["services_deleted"]' \
		    <"$T_DIR/cleanup.json")))
	else
		echo "# $run: /cleanup answered $STATUS"
	fi
done <"$T_DIR/plan"
check "cleanup deleted all $services services ($deleted)" \
    [ "$deleted" = "$services" ]
check "no service left" [ -z "$(lc_services)" ]
check "no scheduler job left" [ -z "$(lc_jobs)" ]

# 4. SIGTERM during a measure stores the progress; a restart resumes it.
TERM_RUN=term-1
api POST /deploy "{\"run_id\":\"$TERM_RUN\",\"benchmark_config\":{\"cold_start_iterations\":2,\"warm_request_count\":50,\"warm_request_concurrency\":2},\"agent_config\":{\"implementations\":[\"c-libevent\",\"python\"],\"test_matrix\":{\"cpu\":[\"1\"]}},\"schedule\":{\"measure_delay_seconds\":1,\"round_delay_seconds\":1}}" >/dev/null
check "deploy for the SIGTERM test" [ "$STATUS" = 200 ]

# Succeeds once the run measures and has a cold sample stored.
measuring_with_sample()
{
	lc_object "runs/$TERM_RUN/discord-webhook/measurement-status.json" |
	    json 'd["phase"] == "measuring" and any(c["outcome"] == "sample"
	    for s in d["services"].values() for c in s["cold"])' |
	    grep -qx true
}
if wait_until 120 measuring_with_sample; then
	ok "a cold sample is stored while measuring"
else
	fail "a cold sample is stored while measuring"
	diagnose "$TERM_RUN"
fi

stop_agent
check "agent exits on SIGTERM within 15 s (status $STOP_STATUS)" \
    [ "$STOP_STATUS" = 0 ]

# The stored status, read from localcloud's folder while nothing runs.
lc_stored_object "runs/$TERM_RUN/discord-webhook/measurement-status.json" \
    >"$T_DIR/partial.json"
samples=$(json 'sum(c["outcome"] == "sample" for s in d["services"].values()
    for c in s["cold"])' <"$T_DIR/partial.json")
check "measurement-status.json keeps the samples (${samples:-none})" \
    [ "${samples:-0}" -ge 1 ]
# The round may have ended just before the signal: the run then waits
# for its next round, with no owner too.
check "the stopped run is released for the next /measure" \
    [ "$(json 'd["phase"] in ("measuring", "waiting") and d["owner"] is None' \
    <"$T_DIR/partial.json")" = true ]

if ! start_agent; then
	fail "agent restarts on the same runtime folder"
	exit 1
fi
ok "agent restarts on the same runtime folder"
# measured resumes the run at start too, so /measure may find it running
# or, rarely, done.
api POST /measure "{\"run_id\":\"$TERM_RUN\"}" >"$T_DIR/measure.json"
reply=$STATUS:$(json 'd["status"]' <"$T_DIR/measure.json")
measure_accepted()
{
	[ "$reply" = 200:measuring ] || [ "$reply" = 200:completed ]
}
check "/measure after the restart is accepted ($reply)" measure_accepted
check "the resumed run completes" \
    wait_until 180 phase_is "$TERM_RUN" completed

lc_object "runs/$TERM_RUN/discord-webhook/measurement-status.json" \
    >"$T_DIR/final.json"
check "stored samples were not measured again" "$PY" -c '
import json, sys
before = json.load(open(sys.argv[1]))["services"]
after = json.load(open(sys.argv[2]))["services"]
for name, record in before.items():
    for attempt in record["cold"]:
        if attempt not in after[name]["cold"]:
            sys.exit("%s round %s changed" % (name, attempt["round"]))
    if record.get("warm") is not None and record["warm"] != after[name]["warm"]:
        sys.exit("%s: warm result measured again" % name)
for name, record in after.items():
    rounds = [a["round"] for a in record["cold"]]
    if len(rounds) != len(set(rounds)):
        sys.exit("%s: two attempts in one round: %s" % (name, rounds))
    if sum(a["outcome"] == "sample" for a in record["cold"]) != 2:
        sys.exit("%s: not 2 samples" % name)
' "$T_DIR/partial.json" "$T_DIR/final.json"

# A sanitizer build reports leaks when a worker exits: stop the agent here
# so that the test reads the reports. Workers killed with SIGKILL report
# nothing.
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
rc=$?
check "restarted agent stops on SIGTERM (status $rc)" [ "$rc" = 0 ]
check "no sanitizer report in the log" \
    sh -c "! grep -q 'Sanitizer' '$AGENT_LOG'"

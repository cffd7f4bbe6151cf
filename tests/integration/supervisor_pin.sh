#!/bin/sh
# CPU pinning of measured (MEASURE_CPU) in a local-mode agent. Reads the
# CPU list of each running worker and of a service instance from
# /proc/PID/status, for auto, a CPU number, off, a CPU outside the
# affinity mask, a one-CPU mask and invalid values.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"
. "$PERF_AGENT_SRCDIR/tests/agent_lib.sh"

# Prints the CPUs of the affinity mask of this shell, or of a process's
# Cpus_allowed_list, as a sorted comma-separated list.
cpus_of()
{
	python3 - "${1:-self}" <<'PY'
import os, sys
if sys.argv[1] == "self":
    cpus = os.sched_getaffinity(0)
else:
    cpus = set()
    with open("/proc/%s/status" % sys.argv[1]) as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                for part in line.split(":", 1)[1].strip().split(","):
                    lo, _, hi = part.partition("-")
                    cpus.update(range(int(lo), int(hi or lo) + 1))
print(",".join(str(c) for c in sorted(cpus)))
PY
}

ALL=$(cpus_of)
NCPU=$(echo "$ALL" | tr ',' '\n' | wc -l)
if [ "$NCPU" -lt 2 ]; then
	echo "1..0 # SKIP pinning needs two CPUs in the affinity mask, this" \
	    "test runs on CPU $ALL only"
	exit 0
fi
FIRST=${ALL%%,*}
LAST=${ALL##*,}
REST=${ALL%,*}
NOT_FIRST=${ALL#*,}
# A CPU number that is valid but outside the mask.
OUTSIDE=$((LAST + 1))

t_plan 34

AGENT=$B/supervisor/perf-agent

# Prints the pid of the newest start of a worker in the agent's log.
worker_pid()
{
	sed -n "s/.*started $1, pid \([0-9]*\).*/\1/p" "$AGENT_LOG" | tail -n 1
}

# check_cpus WORKER EXPECTED: the worker's CPU list is EXPECTED.
check_cpus()
{
	pid=$(worker_pid "$1")
	got=$( [ -n "$pid" ] && cpus_of "$pid" 2>/dev/null)
	if [ -n "$got" ] && [ "$got" = "$2" ]; then
		ok "$CASE: $1 on CPUs $2"
	else
		fail "$CASE: $1 on CPUs $2 (pid ${pid:-none}, got ${got:-none})"
	fi
}

# run_case NAME [perf-agent flags...]: starts an agent with its own log.
run_case()
{
	CASE=$1
	shift
	AGENT_LOG=$T_DIR/agent-$CASE.log
	check "$CASE: agent healthy" start_agent "$@"
}

# Invalid values stop the agent before it starts anything.
"$AGENT" --measure-cpu two >"$T_DIR/invalid.out" 2>&1
check "invalid flag exits with 2" [ $? -eq 2 ]
check "invalid flag error names value and fix" grep -q \
    '"two": use auto, off or a CPU number' "$T_DIR/invalid.out"
MEASURE_CPU=1024 "$AGENT" >"$T_DIR/invalid-env.out" 2>&1
check "CPU 1024 in the environment exits with 2" [ $? -eq 2 ]
check "environment error names the variable" grep -q \
    'MEASURE_CPU (--measure-cpu) "1024"' "$T_DIR/invalid-env.out"

# The default is auto: measured on the last CPU, everything else on the
# others.
unset MEASURE_CPU
# The instance started below must outlive the scan of /proc for its pid.
run_case auto --idle-timeout 60
check "auto: choice logged" grep -q \
    "measured pinned to CPU $LAST; the other workers, localcloud" \
    "$AGENT_LOG"
check_cpus measured "$LAST"
for w in frontd deployd stated localcloud; do
	check_cpus $w "$REST"
done

# A service instance that localcloud starts stays off measured's CPU.
SERVER=$B/implementations/discord-webhook/c-libevent/server
SVC_URL="$LC/v2/projects/local-project/locations/local-region/services"
KEY=0000000000000000000000000000000000000000000000000000000000000000
instance_pid()
{
	for e in /proc/[0-9]*/environ; do
		if grep -qzx "PIN_TEST_DIR=$T_DIR" "$e" 2>/dev/null; then
			p=${e#/proc/}
			echo "${p%/environ}"
			return 0
		fi
	done
	return 1
}
if [ -x "$SERVER" ]; then
	body='{"template":{"containers":[{"image":"local/discord-webhook/c-libevent","env":[{"name":"DISCORD_PUBLIC_KEY","value":"'$KEY'"},{"name":"PIN_TEST_DIR","value":"'$T_DIR'"}],"resources":{"limits":{"cpu":"1","memory":"512Mi"}}}]}}'
	curl -s --max-time 30 -o "$T_DIR/op.json" -H \
	    'Content-Type: application/json' --data-binary "$body" \
	    "$SVC_URL?serviceId=pin-svc"
	op=$(json 'd["name"]' <"$T_DIR/op.json" 2>/dev/null)
	curl -s --max-time 40 -o /dev/null -H 'Content-Type: application/json' \
	    --data-binary '{"timeout":"30s"}' "$LC/v2/$op:wait"
	uri=$(curl -s --max-time 10 "$SVC_URL/pin-svc" | json 'd["uri"]')
	code=$(http_status "$uri/" --cacert "$RT/localcloud/ca.pem")
	check "auto: service instance answers" [ "$code" != 000 ]
	pid=$(instance_pid)
	got=$( [ -n "$pid" ] && cpus_of "$pid")
	check "auto: instance CPUs $got within $REST" python3 -c '
import sys
got, rest = (set(s.split(",")) for s in sys.argv[1:])
sys.exit(0 if got and got <= rest else 1)' "${got:-}" "$REST"
else
	skip "auto: service instance answers (c-libevent not built)"
	skip "auto: instance CPUs within $REST (c-libevent not built)"
fi

# A restarted measured gets its CPU again.
old=$(worker_pid measured)
kill -9 "$old"
restarted() { new=$(worker_pid measured); [ -n "$new" ] && [ "$new" != "$old" ]; }
check "auto: measured restarted" wait_for 20 restarted
CASE=restart
check_cpus measured "$LAST"
check "auto: agent stops" stop_agent

# An explicit CPU: measured there, everything else on the others.
run_case cpu-first --measure-cpu "$FIRST"
check_cpus measured "$FIRST"
check_cpus frontd "$NOT_FIRST"
check_cpus localcloud "$NOT_FIRST"
check "cpu-first: agent stops" stop_agent

# off: no worker is pinned.
run_case off --measure-cpu off
check "off: logged" grep -q 'MEASURE_CPU=off' "$AGENT_LOG"
check_cpus measured "$ALL"
check_cpus stated "$ALL"
check "off: agent stops" stop_agent

# A CPU outside the mask is a warning, and the agent runs unpinned.
run_case outside --measure-cpu "$OUTSIDE"
check "outside: warning names the CPU" grep -q \
    "MEASURE_CPU=$OUTSIDE is not in the CPU affinity mask" "$AGENT_LOG"
check_cpus measured "$ALL"
check "outside: agent stops" stop_agent

# One CPU allowed: auto pins nothing, and says so.
if command -v taskset >/dev/null 2>&1; then
	CASE=one-cpu
	AGENT_LOG=$T_DIR/agent-$CASE.log
	# start_agent runs $B/supervisor/perf-agent; a wrapper sets the mask.
	B_REAL=$B
	mkdir -p "$T_DIR/one/supervisor"
	printf '#!/bin/sh\nexec taskset -c %s "%s" "$@"\n' "$FIRST" "$AGENT" \
	    >"$T_DIR/one/supervisor/perf-agent"
	chmod +x "$T_DIR/one/supervisor/perf-agent"
	B=$T_DIR/one
	check "one-cpu: agent healthy" start_agent
	B=$B_REAL
	check "one-cpu: logged" grep -q "one CPU allowed ($FIRST)" "$AGENT_LOG"
	check_cpus measured "$FIRST"
	check "one-cpu: agent stops" stop_agent
else
	for n in 1 2 3 4; do
		skip "one-cpu case $n: taskset not installed"
	done
fi

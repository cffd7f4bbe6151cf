#!/bin/sh
# Cloud Scheduler and Cloud Tasks of localcloud, through real HTTP on
# 127.0.0.1: jobs and tasks fire at Python listeners within a second of
# their due time (the scheduler under LOCALCLOUD_SCHEDULER_TIME_SCALE=60),
# carry the headers the real services add and an ID token that verifies
# against the JWKS, retry failures, refuse non-loopback targets, and
# survive a restart of localcloud.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

t_plan 53

LC_BIN=$B/localcloud/localcloud
LISTENER=$S/tests/integration/localcloud_sched_listener.py
VERIFY=$S/tests/integration/localcloud_sched_verify.py
PORT=$(free_port)
U=http://127.0.0.1:$PORT
DATA=$T_DIR/data
PARENT=projects/local-project/locations/local-region
JOBS=$U/v1/$PARENT/jobs
QUEUE=$PARENT/queues/q1
TASKS=$U/v2/$QUEUE/tasks
SA=invoker@local-project.iam.gserviceaccount.com
LC_PID=

start_localcloud()
{
	LOCALCLOUD_SCHEDULER_TIME_SCALE=60 "$LC_BIN" --port "$PORT" \
	    --data-dir "$DATA" --plain-http --log-format text \
	    >>"$T_DIR/localcloud.log" 2>&1 &
	LC_PID=$!
	t_track "$LC_PID"
	wait_for 10 curl -sf "$U/oauth2/v3/certs"
}

# Stops localcloud with SIGTERM; returns its exit status.
stop_localcloud()
{
	kill -TERM "$LC_PID"
	wait "$LC_PID"
}

# start_listener NAME FAILURES: runs a listener whose port is in
# $T_DIR/NAME.port and whose log is $T_DIR/NAME.log.
start_listener()
{
	lport=$(free_port)
	echo "$lport" >"$T_DIR/$1.port"
	: >"$T_DIR/$1.log"
	python3 "$LISTENER" "$lport" "$T_DIR/$1.log" "$2" \
	    2>>"$T_DIR/listeners.err" &
	t_track $!
	wait_for 10 python3 -c 'import socket, sys
socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close()' "$lport"
}

lport()
{
	cat "$T_DIR/$1.port"
}

# logq NAME EXPR: evaluates EXPR over the records "r" of a listener log.
logq()
{
	python3 -c 'import base64, json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
v = eval(sys.argv[2])
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' \
	    "$T_DIR/$1.log" "$2"
}

# count_at_least NAME N: succeeds when the listener logged N requests.
count_at_least()
{
	test "$(logq "$1" 'len(r)')" -ge "$2"
}

# on_time NAME INDEX DUE: request INDEX arrived at or after DUE (RFC
# 3339) and less than one second later.
on_time()
{
	logq "$1" "r[$2]['time']" >"$T_DIR/arrival"
	python3 -c 'import datetime, sys
due = datetime.datetime.fromisoformat(sys.argv[1].replace("Z", "+00:00")).timestamp()
got = float(open(sys.argv[2]).read())
print("# due %.6f, arrived %.6f, late by %.3f s" % (due, got, got - due))
sys.exit(0 if due <= got < due + 1 else 1)' "$3" "$T_DIR/arrival"
}

# token_ok NAME INDEX AUDIENCE: the request's token verifies.
token_ok()
{
	logq "$1" "r[$2]" | /usr/bin/python3 "$VERIFY" "$T_DIR/jwks.json" \
	    "$3" "$SA"
}

# post URL BODY: prints the status; the response is in $T_DIR/resp.
post()
{
	curl -s -o "$T_DIR/resp" -w '%{http_code}' -X POST -d "$2" "$1"
}

# resp EXPR: evaluates EXPR over the last response "d".
resp()
{
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' \
	    "$T_DIR/resp" "$1"
}

# rfc3339_in SECONDS: the time SECONDS from now, whole seconds, UTC.
rfc3339_in()
{
	python3 -c 'import datetime, sys, time
t = int(time.time()) + int(sys.argv[1])
print(datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))' "$1"
}

start_listener job 0
start_listener retry 1
start_listener task 1
start_listener restart 0
start_listener once 5
if ! start_localcloud; then
	fail "localcloud starts"
	exit 1
fi
ok "localcloud starts"
curl -s -o "$T_DIR/jwks.json" "$U/oauth2/v3/certs"

# A job every minute (every second under the time scale), as the agent
# would create it: full name, base64 body, OIDC audience.
L1=http://127.0.0.1:$(lport job)
body=$(printf '{"run_id":"r1"}' | base64)
code=$(post "$JOBS" "{\"name\":\"$PARENT/jobs/j1\",\"schedule\":\"* * * * *\",
  \"timeZone\":\"Etc/UTC\",
  \"httpTarget\":{\"uri\":\"$L1/measure\",\"httpMethod\":\"POST\",
  \"headers\":{\"Content-Type\":\"application/json\"},\"body\":\"$body\",
  \"oidcToken\":{\"serviceAccountEmail\":\"$SA\",\"audience\":\"$L1\"}}}")
check "job create returns 200" test "$code" = 200
check "job state is ENABLED" test "$(resp 'd["state"]')" = ENABLED
due=$(resp 'd["scheduleTime"]')
check "job has a scheduleTime" test -n "$due"
check "job fires" wait_for 10 count_at_least job 1
check "job fires within one second of scheduleTime" on_time job 0 "$due"
check "job sends the target method and path" test "$(logq job \
    'r[0]["method"] + " " + r[0]["path"]')" = "POST /measure"
check "job sends the decoded body" test "$(logq job \
    'base64.b64decode(r[0]["body"]).decode()')" = '{"run_id":"r1"}'
check "job sends its Content-Type header" test "$(logq job \
    'r[0]["headers"]["Content-Type"]')" = application/json
check "job sends the Scheduler headers" test "$(logq job \
    'r[0]["headers"]["User-Agent"] + "|" + r[0]["headers"]["X-CloudScheduler"] + "|" + r[0]["headers"]["X-CloudScheduler-JobName"]')" = \
    "Google-Cloud-Scheduler|true|j1"
check "X-CloudScheduler-ScheduleTime is the scheduleTime" test "$(logq job \
    'r[0]["headers"]["X-CloudScheduler-ScheduleTime"]')" = "$due"
check "job token verifies with its audience" token_ok job 0 "$L1"
check "job fires again on its schedule" wait_for 10 count_at_least job 3

# Create-time checks.
check "a duplicate job is 409" test "$(post "$JOBS" \
    "{\"name\":\"$PARENT/jobs/j1\",\"schedule\":\"* * * * *\",\"httpTarget\":{\"uri\":\"$L1/\"}}")" = 409
check "409 is ALREADY_EXISTS" test "$(resp 'd["error"]["status"]')" = \
    ALREADY_EXISTS
check "a Quartz six-field schedule is 400" test "$(post "$JOBS" \
    "{\"name\":\"$PARENT/jobs/q6\",\"schedule\":\"05 04 15 02 01 ?\",\"httpTarget\":{\"uri\":\"$L1/\"}}")" = 400
check "the 400 explains five-field unix-cron" sh -c \
    'grep -q "five-field unix-cron" "$1"' sh "$T_DIR/resp"
check "a Quartz '?' is 400" test "$(post "$JOBS" \
    "{\"name\":\"$PARENT/jobs/q5\",\"schedule\":\"0 0 ? * *\",\"httpTarget\":{\"uri\":\"$L1/\"}}")" = 400
check "an unknown time zone is 400" test "$(post "$JOBS" \
    "{\"name\":\"$PARENT/jobs/tz\",\"schedule\":\"0 9 * * 1-5\",\"timeZone\":\"Mars/Olympus\",\"httpTarget\":{\"uri\":\"$L1/\"}}")" = 400
check "an IANA time zone is accepted" test "$(post "$JOBS" \
    "{\"name\":\"$PARENT/jobs/paris\",\"schedule\":\"0 9 * * 1-5\",\"timeZone\":\"Europe/Paris\",\"httpTarget\":{\"uri\":\"$L1/\"}}")" = 200
check "a job name outside the parent is 400" test "$(post "$JOBS" \
    "{\"name\":\"projects/x/locations/y/jobs/j\",\"schedule\":\"* * * * *\",\"httpTarget\":{\"uri\":\"$L1/\"}}")" = 400
curl -s -o "$T_DIR/resp" "$JOBS"
check "list returns the jobs" test "$(resp \
    '" ".join(j["name"].split("/")[-1] for j in d["jobs"])')" = "j1 paris"

# Retries: the first attempt gets 503, the retry 200 (minBackoff 6 s,
# 0.1 s under the time scale).
L2=http://127.0.0.1:$(lport retry)
post "$JOBS" "{\"name\":\"$PARENT/jobs/j2\",\"schedule\":\"* * * * *\",
  \"httpTarget\":{\"uri\":\"$L2/\"},
  \"retryConfig\":{\"retryCount\":1,\"minBackoffDuration\":\"6s\"}}" >/dev/null
check "a failed job attempt is retried" wait_for 10 count_at_least retry 2
check "the retry repeats the same run" test "$(logq retry \
    'r[0]["headers"]["X-CloudScheduler-ScheduleTime"] == r[1]["headers"]["X-CloudScheduler-ScheduleTime"]')" = True
check "the retry waits the scaled backoff" test "$(logq retry \
    'r[1]["time"] - r[0]["time"] >= 0.1')" = True
curl -s -o /dev/null -X DELETE "$JOBS/j2"

# A target off the loopback interface is refused and the job marked.
post "$JOBS" "{\"name\":\"$PARENT/jobs/far\",\"schedule\":\"* * * * *\",
  \"httpTarget\":{\"uri\":\"http://192.0.2.10/x\"}}" >/dev/null
far_refused()
{
	curl -s -o "$T_DIR/far" "$JOBS/far"
	test "$(python3 -c 'import json, sys
print(json.load(open(sys.argv[1])).get("status", {}).get("code"))' \
	    "$T_DIR/far")" = 7
}
check "a non-loopback job target is marked PERMISSION_DENIED" wait_for 10 \
    far_refused
curl -s -o /dev/null -X DELETE "$JOBS/far"

# Delete: {} and the job stops firing.
code=$(curl -s -o "$T_DIR/resp" -w '%{http_code}' -X DELETE "$JOBS/j1")
check "job delete returns {}" test "$code $(cat "$T_DIR/resp")" = "200 {}"
check "a deleted job is 404" test "$(http_status "$JOBS/j1")" = 404
sleep 0.5
n=$(logq job 'len(r)')
sleep 2.5
check "a deleted job no longer fires" test "$(logq job 'len(r)')" = "$n"

# A task two seconds ahead, second precision, default audience; its first
# attempt gets 503 and the retry 200.
L4=http://127.0.0.1:$(lport task)
due=$(rfc3339_in 2)
code=$(post "$TASKS" "{\"task\":{\"name\":\"$QUEUE/tasks/t1\",
  \"scheduleTime\":\"$due\",
  \"httpRequest\":{\"url\":\"$L4/measure?run=r1\",\"httpMethod\":\"POST\",
  \"body\":\"$body\",\"oidcToken\":{\"serviceAccountEmail\":\"$SA\"}}}}")
check "task create returns 200" test "$code" = 200
check "task scheduleTime is kept" test "$(resp 'd["scheduleTime"]')" = \
    "$(echo "$due" | sed 's/Z$/.000000Z/')"
check "task fires and is retried" wait_for 10 count_at_least task 2
check "task fires within one second of scheduleTime" on_time task 0 "$due"
check "task sends the Tasks headers" test "$(logq task \
    'r[0]["headers"]["User-Agent"] + "|" + r[0]["headers"]["X-CloudTasks-QueueName"] + "|" + r[0]["headers"]["X-CloudTasks-TaskName"]')" = \
    "Google-Cloud-Tasks|q1|t1"
check "task retry counts go 0 then 1" test "$(logq task \
    '[(x["headers"]["X-CloudTasks-TaskRetryCount"], x["headers"]["X-CloudTasks-TaskExecutionCount"]) for x in r[:2]]')" = \
    '[["0", "0"], ["1", "1"]]'
check "task sends no Content-Type of its own" test "$(logq task \
    '"Content-Type" in r[0]["headers"]')" = False
check "task token audience defaults to the URL" token_ok task 0 \
    "$L4/measure?run=r1"
gone()
{
	test "$(http_status "$TASKS/t1")" = 404
}
check "a finished task is deleted" wait_for 5 gone
check "a finished task name is ALREADY_EXISTS" test "$(post "$TASKS" \
    "{\"task\":{\"name\":\"$QUEUE/tasks/t1\",\"httpRequest\":{\"url\":\"$L4/\"}}}")" = 409

# A queue created up front sets the retry policy: with maxAttempts 1 a
# failing task is sent once and then deleted.
L5=http://127.0.0.1:$(lport once)
check "queue create returns 200" test "$(post "$U/v2/$PARENT/queues" \
    "{\"name\":\"$PARENT/queues/q2\",\"retryConfig\":{\"maxAttempts\":1}}")" = 200
check "queue keeps its retryConfig" test "$(resp \
    'd["retryConfig"]["maxAttempts"]')" = 1
check "a duplicate queue is 409" test "$(post "$U/v2/$PARENT/queues" \
    "{\"name\":\"$PARENT/queues/q2\"}")" = 409
post "$U/v2/$PARENT/queues/q2/tasks" "{\"task\":{\"name\":\"$PARENT/queues/q2/tasks/t5\",
  \"httpRequest\":{\"url\":\"$L5/once\"}}}" >/dev/null
t5_gone()
{
	test "$(http_status "$U/v2/$PARENT/queues/q2/tasks/t5")" = 404
}
check "a task past maxAttempts is deleted" wait_for 10 t5_gone
check "it was sent exactly once" test "$(logq once 'len(r)')" = 1

# Restart: a job and two tasks survive; a task that fell due while
# localcloud was down fires when it is back.
L3=http://127.0.0.1:$(lport restart)
post "$JOBS" "{\"name\":\"$PARENT/jobs/j4\",\"schedule\":\"* * * * *\",
  \"httpTarget\":{\"uri\":\"$L3/job\",
  \"oidcToken\":{\"serviceAccountEmail\":\"$SA\",\"audience\":\"$L3\"}}}" \
    >/dev/null
due_late=$(rfc3339_in 9)
due_down=$(rfc3339_in 2)
post "$TASKS" "{\"task\":{\"name\":\"$QUEUE/tasks/t2\",\"scheduleTime\":\"$due_late\",
  \"httpRequest\":{\"url\":\"$L3/late\"}}}" >/dev/null
post "$TASKS" "{\"task\":{\"name\":\"$QUEUE/tasks/t3\",\"scheduleTime\":\"$due_down\",
  \"httpRequest\":{\"url\":\"$L3/down\"}}}" >/dev/null
check "localcloud exits 0 on SIGTERM" stop_localcloud
sleep 3
restarted=$(python3 -c 'import time; print(time.time())')
if ! start_localcloud; then
	fail "localcloud restarts"
	exit 1
fi
ok "localcloud restarts"
check "the job is kept across the restart" test "$(http_status \
    "$JOBS/j4")" = 200
fired_after()
{
	test "$(logq restart "len([x for x in r if x['path'] == '$1' and x['time'] > $restarted])")" -ge 1
}
check "the job fires after the restart" wait_for 10 fired_after /job
check "its token still verifies" token_ok restart \
    "[i for i, x in enumerate(r) if x['path'] == '/job'][-1]" "$L3"
check "a task due during the downtime fires after the restart" \
    wait_for 10 fired_after /down
check "a task due after the restart fires" wait_for 15 fired_after /late
check "that task fires within one second of scheduleTime" on_time restart \
    "[i for i, x in enumerate(r) if x['path'] == '/late'][0]" "$due_late"

# Under ASan a leak or error makes the exit status non-zero.
check "localcloud exits 0 after the restart" stop_localcloud

[ "$T_FAILED" -eq 0 ]

#!/bin/sh
# perf-agent-ctl's command-line checks: every invalid argument exits 2 with
# one "perf-agent-ctl: " line naming it (plus at most the --help hint), and
# nothing is sent. No agent is started: valid command lines are sent to a
# free port on 127.0.0.1 where nothing listens, so they end in a connection
# failure instead of a rejection.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

CTL=$B/tools/perf-agent-ctl
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
HINT="Run 'perf-agent-ctl --help' for usage."
# perf-agent-ctl exits 2 when the agent cannot be reached, as it does for
# an invalid command line; the stderr lines tell the two apart.
CONNECT_FAILED=2
# The environment must not add a token, a metadata server or another URL.
unset PERF_AGENT_URL PERF_AGENT_TOKEN GCE_METADATA_HOST

# Items of exactly the list item limit (255 bytes) and one byte longer.
ITEM255=$(printf '%0255d' 0)
ITEM256=$(printf '%0256d' 0)

printf '{"run_id": "r1",\n "agent_config": }\n' >"$T_DIR/bad.json"
printf '[]\n' >"$T_DIR/array.json"
printf '{"run_id": "r1", "agent_config": {"implementations": ["a"]}, '\
'"benchmark_config": {"cold_start_iterations": 1}}\n' >"$T_DIR/ok.json"

# Succeeds when the stderr of the last run is one line, or one line and
# the hint.
one_message()
{
	lines=$(wc -l <"$T_DIR/err")
	[ "$lines" -eq 1 ] && return 0
	[ "$lines" -eq 2 ] && [ "$(sed -n 2p "$T_DIR/err")" = "$HINT" ]
}

# Succeeds when the first stderr line of the last run contains $1.
message_has()
{
	head -1 "$T_DIR/err" | grep -qF -- "$1"
}

# Succeeds when the first stderr line of the last run lacks $1.
message_lacks()
{
	! head -1 "$T_DIR/err" | grep -qF -- "$1"
}

# rejects NAME TEXT ARGS...: perf-agent-ctl ARGS exits 2 with one message
# that starts with "perf-agent-ctl: " and contains TEXT, and prints
# nothing on stdout.
rejects()
{
	name=$1
	text=$2
	shift 2
	failed=$T_FAILED
	"$CTL" --url "$URL" "$@" >"$T_DIR/out" 2>"$T_DIR/err"
	rc=$?
	check "$name: exit status 2 (got $rc)" test "$rc" -eq 2
	check "$name: message starts with perf-agent-ctl:" \
	    test "$(head -c 16 "$T_DIR/err")" = "perf-agent-ctl: "
	check "$name: one message line" one_message
	check "$name: message contains '$text'" message_has "$text"
	check "$name: nothing on stdout" test ! -s "$T_DIR/out"
	if [ "$T_FAILED" -gt "$failed" ]; then
		sed 's/^/# stderr: /' "$T_DIR/err"
	fi
}

# Succeeds when every stderr line of the last run is a connection failure
# of a request to $URL, and the first is METHOD PATH.
only_connect_failures()
{
	refused="Couldn't connect to server"
	[ -s "$T_DIR/err" ] &&
	    head -1 "$T_DIR/err" |
	    grep -qxF "perf-agent-ctl: $1 $URL$2: $refused" &&
	    ! grep -vqE "^perf-agent-ctl: (GET|POST) $URL/[^ ]*: $refused\$" \
	    "$T_DIR/err"
}

# sends NAME METHOD PATH ARGS...: perf-agent-ctl ARGS passes the checks
# and tries METHOD PATH first.
sends()
{
	name=$1
	method=$2
	path=$3
	shift 3
	failed=$T_FAILED
	"$CTL" --url "$URL" "$@" >"$T_DIR/out" 2>"$T_DIR/err"
	rc=$?
	check "$name: exit status of a connection failure (got $rc)" \
	    test "$rc" -eq "$CONNECT_FAILED"
	check "$name: tries $method $path and is not rejected" \
	    only_connect_failures "$method" "$path"
	if [ "$T_FAILED" -gt "$failed" ]; then
		sed 's/^/# stderr: /' "$T_DIR/err"
	fi
}

# Empty items of comma-separated lists.
rejects "--cpu 1, (trailing comma)" 'invalid --cpu list "1,": empty item' \
    deploy r1 --cpu 1,
rejects "--cpu 1,,2" 'invalid --cpu list "1,,2": empty item' \
    deploy r1 --cpu 1,,2
rejects "--memory ,1Gi" 'invalid --memory list ",1Gi": empty item' \
    deploy r1 --memory ,1Gi
rejects "--startup-boost true," \
    'invalid --startup-boost list "true,": empty item' \
    deploy r1 --startup-boost true,
rejects "--startup-boost ,true" \
    'invalid --startup-boost list ",true": empty item' \
    deploy r1 --startup-boost ,true
rejects "--startup-boost true,,false" \
    'invalid --startup-boost list "true,,false": empty item' \
    deploy r1 --startup-boost true,,false
rejects "--implementations c-libevent," \
    'invalid --implementations list "c-libevent,": empty item' \
    deploy r1 --implementations c-libevent,
rejects "benchmark --cpu 2," 'invalid --cpu list "2,": empty item' \
    benchmark r1 --cpu 2,
rejects "--startup-boost yes" 'item "yes" is not a boolean' \
    deploy r1 --startup-boost true,yes
rejects "--startup-boost yes names the accepted values" \
    'use true, false or true,false' deploy r1 --startup-boost yes

# Empty lists.
rejects "--startup-boost ''" 'invalid --startup-boost list "": empty list' \
    deploy r1 --startup-boost ''
rejects "--cpu ''" 'invalid --cpu list "": empty list' deploy r1 --cpu ''
rejects "--memory=" 'invalid --memory list "": empty list' \
    deploy r1 --memory=
rejects "--implementations ''" \
    'invalid --implementations list "": empty list' \
    deploy r1 --implementations ''
rejects "--cpu ," 'invalid --cpu list ",": empty item' deploy r1 --cpu ,

# Items over the limit.
rejects "--cpu item of 256 bytes" \
    'item 2 is 256 bytes long, more than the limit of 255 bytes' \
    deploy r1 --cpu "1,$ITEM256"
rejects "--implementations item of 256 bytes" 'limit of 255 bytes' \
    deploy r1 --implementations "$ITEM256"

# Command names, checked before their arguments.
rejects "unknown command" 'unknown command "bogus"' bogus
rejects "unknown command with an argument" 'unknown command "bogus"' \
    bogus x
rejects "unknown command lists the commands" 'health, implementations' \
    bogus
rejects "missing RUN_ID" 'missing RUN_ID; use perf-agent-ctl status RUN_ID' \
    status
rejects "empty RUN_ID" 'invalid RUN_ID ""' status ''
rejects "flag in place of RUN_ID" 'invalid RUN_ID "--cpu"' deploy --cpu 1
rejects "RUN_ID naming another path" 'invalid RUN_ID "../implementations"' \
    status ../implementations
rejects "RUN_ID with a slash" 'invalid RUN_ID "a/b"' results a/b
rejects "register: unknown option" 'unknown option "--bogus"' \
    register --bogus
rejects "register: missing value" 'missing value for option --endpoint' \
    register --endpoint
rejects "unknown strategy" 'invalid --strategy "bogus": use rounds or replicas' \
    deploy r1 --strategy bogus
rejects "both measure delays" '--delay-minutes and --delay-seconds exclude' \
    deploy r1 --delay-minutes 1 --delay-seconds 5
rejects "signed number" 'invalid --iterations "+5"' deploy r1 --iterations +5
rejects "number with a space" 'invalid --iterations " 5"' \
    deploy r1 --iterations " 5"
rejects "missing command" 'missing command'

# The SECONDS argument of wait.
rejects "wait SECONDS abc" \
    'invalid wait SECONDS "abc": must be an integer from 1 to 86400' \
    wait r1 abc
rejects "wait SECONDS abc names no --wait flag" 'wait SECONDS' wait r1 abc
check "wait SECONDS abc: message has no --wait" message_lacks '--wait'
rejects "wait SECONDS 0" 'invalid wait SECONDS "0"' wait r1 0
rejects "wait SECONDS 86401" 'invalid wait SECONDS "86401"' wait r1 86401

# --file.
rejects "--file of a missing file" \
    'cannot read /nonexistent/ctl.json: No such file or directory' \
    deploy r1 --file /nonexistent/ctl.json
check "--file of a missing file: no line number" message_lacks 'line'
rejects "--file of a folder" "cannot read $T_DIR: Is a directory" \
    deploy r1 --file "$T_DIR"
rejects "--file of invalid JSON" \
    "invalid JSON in $T_DIR/bad.json at line 2, column" \
    deploy r1 --file "$T_DIR/bad.json"
rejects "--file of a JSON array" 'must be a JSON object' \
    deploy r1 --file "$T_DIR/array.json"
rejects "--file with another flag" '--file cannot be combined' \
    deploy r1 --cpu 1 --file "$T_DIR/ok.json"

# Extra arguments.
rejects "health a b" 'unexpected argument "a"; use perf-agent-ctl health' \
    health a b
rejects "implementations x" 'unexpected argument "x"' implementations x
rejects "status x1 extra" 'unexpected argument "extra"' status x1 extra
rejects "measure r1 extra" 'unexpected argument "extra"' measure r1 extra
rejects "results r1 extra" 'unexpected argument "extra"' results r1 extra
rejects "table r1 extra" 'unexpected argument "extra"' table r1 extra
rejects "cleanup r1 extra" 'unexpected argument "extra"' cleanup r1 extra
rejects "wait r1 5 extra" 'unexpected argument "extra"' wait r1 5 extra
rejects "deploy r1 --cpu 1 extra" 'unexpected argument "extra"' \
    deploy r1 --cpu 1 extra
rejects "deploy r1 extra --cpu 1" 'unexpected argument "extra"' \
    deploy r1 extra --cpu 1

# Option errors name the program, not the path it was run by.
rejects "unknown global option" 'perf-agent-ctl: unknown option "--bogus"' \
    --bogus health
check "unknown global option: no program path" message_lacks "$CTL"
check "unknown global option: no usage text" \
    test "$(wc -l <"$T_DIR/err")" -eq 2
rejects "unknown short option" 'unknown option -x' -x health
rejects "global option without its value" \
    'missing value for option --token' --token
rejects "--help with a value" 'option --help takes no value' --help=x
rejects "unknown deploy option" 'unknown option "--bogus"' \
    deploy r1 --bogus
rejects "deploy option without its value" 'missing value for option --cpu' \
    deploy r1 --cpu
rejects "ambiguous deploy option" \
    'ambiguous option "--delay"; it could be --delay-minutes --delay-seconds' \
    deploy r1 --delay 5
rejects "--iterations abc" \
    'invalid --iterations "abc": must be an integer from 1 to 1000' \
    deploy r1 --iterations abc

# A newline in a value is escaped, so the message stays one line.
rejects "newline in a list" 'invalid --cpu list "1\x0a,": empty item' \
    deploy r1 --cpu "1
,"

# Valid command lines get as far as the request.
sends "health" GET /health health
sends "implementations" GET /implementations implementations
sends "status" GET /status/r1 status r1
sends "wait with SECONDS" GET /status/r1 wait r1 86400
sends "results" GET /results/r1 results r1
sends "table" GET /results/r1 table r1
sends "measure" POST /measure measure r1
sends "cleanup" POST /cleanup cleanup r1
sends "deploy with lists" POST /deploy deploy r1 --implementations a,b \
    --cpu 1,2 --memory 512Mi,1Gi --startup-boost true,false \
    --iterations 3 --warm-count 10 --concurrency 2 --delay-seconds 0
sends "deploy with one-item lists" POST /deploy deploy r1 \
    --implementations a --cpu 1 --startup-boost false
sends "deploy with a 255-byte item" POST /deploy deploy r1 \
    --implementations a --cpu "$ITEM255"
sends "deploy of the active implementations" GET /implementations \
    deploy r1 --cpu 1
sends "deploy --file" POST /deploy deploy r1 --file "$T_DIR/ok.json"
sends "benchmark --file" POST /benchmark benchmark r1 --file "$T_DIR/ok.json"
sends "global options after --url" GET /health --token t \
    --url="$URL" health

# The usage text lists every command the checks accept, and the wait range.
"$CTL" --help >"$T_DIR/help" 2>&1
check "--help exits 0" test $? -eq 0
for cmd in health implementations deploy measure status wait results table \
    cleanup benchmark register; do
	check "--help lists $cmd" grep -qE "^  $cmd( |\$)" "$T_DIR/help"
done
check "--help gives the wait range" grep -qF '1 to 86400' "$T_DIR/help"

t_plan "$T_COUNT"
[ "$T_FAILED" -eq 0 ]

# Starts perf-agent in local mode for a test, on free loopback ports, with
# its runtime folder (sockets, localcloud's data) in the test's folder.
# Sourced after tests/lib.sh. Sets AGENT_PID, API, LC (localcloud's URL),
# RT and CTL.

AGENT_LOG=$T_DIR/agent.log

# start_agent [extra perf-agent flags...]
start_agent()
{
	API_PORT=$(free_port)
	LC_PORT=$(free_port)
	RT=$T_DIR/run
	API=http://127.0.0.1:$API_PORT
	LC=http://127.0.0.1:$LC_PORT
	CTL="$B/tools/perf-agent-ctl --url $API"
	"$B/supervisor/perf-agent" --local --runtime-dir "$RT" \
	    --port "$API_PORT" --localcloud-port "$LC_PORT" --idle-timeout 1 \
	    --log-format json "$@" >>"$AGENT_LOG" 2>&1 &
	AGENT_PID=$!
	t_track $AGENT_PID
	wait_for 30 agent_healthy || return 1
	TOKEN=$(curl -s --max-time 10 -H 'Metadata-Flavor: Google' \
	    "$LC/computeMetadata/v1/instance/service-accounts/default/identity?audience=$API")
	CTL="$CTL --token $TOKEN"
	[ -n "$TOKEN" ]
}

# stop_agent: SIGTERM to the agent, then a wait of up to 15 s for its exit.
# Succeeds when it exited in time with status 0. STOP_STATUS is the
# exit status, or "timeout".
stop_agent()
{
	kill -TERM "$AGENT_PID" 2>/dev/null
	for _ in $(seq 1 150); do
		if ! kill -0 "$AGENT_PID" 2>/dev/null; then
			wait "$AGENT_PID"
			STOP_STATUS=$?
			[ "$STOP_STATUS" = 0 ]
			return
		fi
		sleep 0.1
	done
	STOP_STATUS=timeout
	return 1
}

# make_data_dir NAME: a data folder like the source tree's, $T_DIR/data,
# with c-libevent, python and one more implementation, NAME, in its
# manifest. Sets DATA, and IMPL to NAME's folder, where the caller writes
# its run script.
make_data_dir()
{
	DATA=$T_DIR/data
	IMPL=$DATA/implementations/discord-webhook/$1
	mkdir -p "$IMPL"
	ln -s "$S/contract" "$DATA/contract"
	for impl in c-libevent python; do
		ln -s "$S/implementations/discord-webhook/$impl" \
		    "$DATA/implementations/discord-webhook/$impl"
	done
	sed "s/^implementations:\$/implementations:\n  - name: $1\n    status: active\n    service_name: discord-$1/" \
	    "$S/manifest.yaml" >"$DATA/manifest.yaml"
}

agent_healthy()
{
	[ "$(http_status "$API/health")" = 200 ]
}

# api METHOD PATH [BODY]: prints the body and sets STATUS. Each call has
# its own reply file, so that calls may run at once.
api()
{
	reply=$(mktemp "$T_DIR/reply.XXXXXX")
	if [ $# -ge 3 ]; then
		STATUS=$(curl -s -o "$reply" -w '%{http_code}' \
		    --max-time 600 -X "$1" -H "Authorization: Bearer $TOKEN" \
		    -H 'Content-Type: application/json' \
		    --data-binary "$3" "$API$2")
	else
		STATUS=$(curl -s -o "$reply" -w '%{http_code}' \
		    --max-time 600 -X "$1" -H "Authorization: Bearer $TOKEN" \
		    "$API$2")
	fi
	cat "$reply"
	rm -f "$reply"
}

# json FILTER: reads JSON on stdin and prints the value at FILTER, a
# Python expression on `d`.
json()
{
	python3 -c "import json,sys
d = json.load(sys.stdin)
v = $1
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)"
}

# phase_is RUN PHASE...: succeeds when the run's phase is one of them.
phase_is()
{
	run=$1
	shift
	p=$(curl -s --max-time 10 -H "Authorization: Bearer $TOKEN" \
	    "$API/status/$run" | json 'd.get("phase")' 2>/dev/null)
	for want in "$@"; do
		[ "$p" = "$want" ] && return 0
	done
	return 1
}

# Lists the Cloud Run services localcloud holds, one name per line.
lc_services()
{
	curl -s --max-time 10 "$LC/v2/projects/local-project/locations/local-region/services" |
	    json '"\n".join(s["name"].rsplit("/", 1)[1] for s in d.get("services", []))'
}

lc_jobs()
{
	curl -s --max-time 10 "$LC/v1/projects/local-project/locations/local-region/jobs" |
	    json '"\n".join(j["name"].rsplit("/", 1)[1] for j in d.get("jobs", []))'
}

# Lists the state bucket's object names under a prefix.
lc_objects()
{
	curl -s --max-time 10 "$LC/storage/v1/b/perf-benchmark-state/o?prefix=$1" |
	    json '"\n".join(o["name"] for o in d.get("items", []))'
}

# lc_stored_object NAME: prints a state object from localcloud's folder
# under $RT, for use while localcloud is stopped. Each object is o/H.json
# (metadata with the live generation) and o/H.GEN.data, where H is the
# hex SHA-256 of its name.
lc_stored_object()
{
	python3 - "$RT/localcloud/storage/perf-benchmark-state/o" "$1" <<'PY'
import hashlib, json, os, sys

folder, name = sys.argv[1], sys.argv[2]
h = hashlib.sha256(name.encode()).hexdigest()
meta = json.load(open(os.path.join(folder, h + ".json")))
data = open(os.path.join(folder, "%s.%s.data" % (h, meta["generation"])))
sys.stdout.write(data.read())
PY
}

lc_object()
{
	enc=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1")
	curl -s --max-time 10 "$LC/storage/v1/b/perf-benchmark-state/o/$enc?alt=media"
}

#!/bin/sh
# Checks container/Dockerfile without a container engine. Its COPY sources
# exist and its stages are as Cloud Run needs them. make install lays out
# the files its runtime stage copies, and the installed agent starts from
# that layout. The runtime packages provide every shared library of the
# installed programs, mapped to packages with this machine's dpkg, which
# must be Debian 12 like the images.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

DOCKERFILE=$S/container/Dockerfile
HELPER=$S/tests/integration/ship_dockerfile.py
DEST=$T_DIR/dest
USR=$DEST/usr
PROGRAMS="bin/perf-agent bin/perf-agent-ctl bin/perf-agent-ipc
libexec/perf-agent/frontd libexec/perf-agent/deployd
libexec/perf-agent/measured libexec/perf-agent/stated
libexec/perf-agent/localcloud"

# report_lines: turns the helper's PASS/FAIL/SKIP lines into TAP.
report_lines()
{
	while IFS= read -r line; do
		case $line in
		"PASS "*) ok "${line#PASS }" ;;
		"FAIL "*) fail "${line#FAIL }" ;;
		"SKIP "*) skip "${line#SKIP }" ;;
		*) fail "unexpected helper output: $line" ;;
		esac
	done
}

python3 "$HELPER" copies "$DOCKERFILE" "$S" >"$T_DIR/copies" 2>&1
report_lines <"$T_DIR/copies"
python3 "$HELPER" stages "$DOCKERFILE" "$S" >"$T_DIR/stages" 2>&1
report_lines <"$T_DIR/stages"

# The build stage runs make install DESTDIR=/out with --prefix=/usr and the
# runtime stage copies /out/usr: install the same way. The harness's make
# flags name a job server this shell does not have.
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s --no-print-directory \
    -C "$B" install DESTDIR="$DEST" prefix=/usr >"$T_DIR/install.log" 2>&1
check "make install DESTDIR prefix=/usr succeeds" test $? -eq 0

missing=""
for p in $PROGRAMS; do
	[ -x "$USR/$p" ] || missing="$missing $p"
done
check "programs installed under /usr${missing:+ (missing:$missing)}" \
    test -z "$missing"
check "manifest.yaml installed in /usr/share/perf-agent" \
    test -f "$USR/share/perf-agent/manifest.yaml"
missing=$(cd "$S" && find contract -type f | LC_ALL=C sort |
    while IFS= read -r f; do
	cmp -s "$f" "$USR/share/perf-agent/$f" || echo "$f"
    done)
check "every file of contract/ installed${missing:+ (add to ship.mk:
$missing)}" test -z "$missing"
outside=$(cd "$DEST" && find . -mindepth 1 -maxdepth 1 ! -name usr)
check "make install writes only under /usr${outside:+ (found $outside)}" \
    test -z "$outside"

# The installed agent finds its workers and data the way the image's does,
# here through --libexec-dir and --data-dir because DESTDIR moved them.
API_PORT=$(free_port)
LC_PORT=$(free_port)
API=http://127.0.0.1:$API_PORT
"$USR/bin/perf-agent" --local --runtime-dir "$T_DIR/run" \
    --port "$API_PORT" --localcloud-port "$LC_PORT" \
    --libexec-dir "$USR/libexec/perf-agent" \
    --data-dir "$USR/share/perf-agent" --log-format json \
    >"$T_DIR/agent.log" 2>&1 &
t_track $!
healthy()
{
	[ "$(http_status "$API/health")" = 200 ]
}
check "installed agent answers /health" wait_for 30 healthy
token=$(curl -s --max-time 10 -H 'Metadata-Flavor: Google' \
    "http://127.0.0.1:$LC_PORT/computeMetadata/v1/instance/service-accounts/default/identity?audience=$API")
curl -s --max-time 10 -H "Authorization: Bearer $token" \
    "$API/implementations" >"$T_DIR/implementations" 2>&1
check "installed agent lists c-libevent from the installed manifest" \
    grep -q '"c-libevent"' "$T_DIR/implementations"

programs=""
for p in $PROGRAMS; do
	programs="$programs $USR/$p"
done
# shellcheck disable=SC2086
python3 "$HELPER" libs "$DOCKERFILE" $programs >"$T_DIR/libs" 2>&1
report_lines <"$T_DIR/libs"

# The library check must fail when a package is missing: drop libsodium23
# from a copy of the Dockerfile and expect stated to lack libsodium.
sed 's/[[:space:]]libsodium23[[:space:]]/ /' "$DOCKERFILE" \
    >"$T_DIR/Dockerfile.nosodium"
python3 "$HELPER" libs "$T_DIR/Dockerfile.nosodium" "$USR/libexec/perf-agent/stated" \
    >"$T_DIR/libs.nosodium" 2>&1
check "library check reports a package dropped from the runtime stage" \
    grep -q '^FAIL stated: .*libsodium\.so' "$T_DIR/libs.nosodium"

t_plan "$T_COUNT"

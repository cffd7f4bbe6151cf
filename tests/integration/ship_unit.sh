#!/bin/sh
# systemd/perf-agent.service passes systemd-analyze verify. The copy that
# is verified starts the built supervisor, because verify also checks that
# ExecStart names an executable and /usr/bin/perf-agent exists only after
# make install.
. "$PERF_AGENT_SRCDIR/tests/lib.sh"

t_plan 3

if ! command -v systemd-analyze >/dev/null 2>&1; then
	for i in 1 2 3; do
		skip "systemd-analyze is not installed (Debian package systemd)"
	done
	exit 0
fi

UNIT=$S/systemd/perf-agent.service
mkdir -p "$T_DIR/unit"
sed "s|^ExecStart=/usr/bin/perf-agent\$|ExecStart=$B/supervisor/perf-agent|" \
    "$UNIT" >"$T_DIR/unit/perf-agent.service"
check "the verified copy starts the built supervisor" \
    grep -q "^ExecStart=$B/supervisor/perf-agent\$" "$T_DIR/unit/perf-agent.service"
systemd-analyze verify "$T_DIR/unit/perf-agent.service" \
    >"$T_DIR/verify.out" 2>&1
check "systemd-analyze verify exits 0" test $? -eq 0
check "systemd-analyze verify prints no warning" test ! -s "$T_DIR/verify.out"

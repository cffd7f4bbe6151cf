# Unit tests are cmocka programs printing TAP; integration tests are shell
# scripts sourcing tests/lib.sh.
EXTRA_DIST += tests/lib.sh

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_frame
tests_unit_test_frame_SOURCES = tests/unit/test_frame.c
tests_unit_test_frame_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_frame_LDADD = $(COMMON_LIBS) $(CMOCKA_LIBS)
TESTS += tests/unit/test_frame
endif

TESTS += tests/integration/supervisor.sh
EXTRA_DIST += tests/integration/supervisor.sh

TESTS += tests/integration/agent_flow.sh
EXTRA_DIST += tests/agent_lib.sh tests/integration/agent_flow.sh
TESTS += tests/integration/agent_inputs.sh
EXTRA_DIST += tests/integration/agent_inputs.sh
TESTS += tests/integration/agent_faults.sh
EXTRA_DIST += tests/integration/agent_faults.sh
TESTS += tests/integration/agent_auth.sh
EXTRA_DIST += tests/integration/agent_auth.sh
TESTS += tests/integration/agent_replicas.sh
EXTRA_DIST += tests/integration/agent_replicas.sh

bin_PROGRAMS += supervisor/perf-agent
supervisor_perf_agent_SOURCES = supervisor/supervisor.c
supervisor_perf_agent_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
supervisor_perf_agent_LDADD = $(COMMON_LIBS)

TESTS += tests/integration/supervisor_pin.sh
EXTRA_DIST += tests/integration/supervisor_pin.sh

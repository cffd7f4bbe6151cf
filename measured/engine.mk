# measured (engine): statistics, cold samples, warm-request load engine,
# and perf-agent-load, its command-line front end.
noinst_LIBRARIES += measured/libengine.a
measured_libengine_a_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
measured_libengine_a_SOURCES = \
	measured/clock.h \
	measured/histogram.c measured/histogram.h \
	measured/stats.c measured/stats.h \
	measured/cold.c measured/cold.h \
	measured/warm.c measured/warm.h

ENGINE_LIBS = measured/libengine.a $(COMMON_LIBS) $(HTTP_PARSER_LIBS)

noinst_PROGRAMS += measured/perf-agent-load
measured_perf_agent_load_SOURCES = measured/loadgen.c
measured_perf_agent_load_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
measured_perf_agent_load_LDADD = $(ENGINE_LIBS)

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_stats tests/unit/test_histogram
TESTS += tests/unit/test_stats tests/unit/test_histogram
tests_unit_test_stats_SOURCES = tests/unit/test_stats.c
tests_unit_test_stats_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_stats_LDADD = $(ENGINE_LIBS) $(CMOCKA_LIBS)
tests_unit_test_histogram_SOURCES = tests/unit/test_histogram.c
tests_unit_test_histogram_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) \
	$(CMOCKA_CFLAGS)
tests_unit_test_histogram_LDADD = $(ENGINE_LIBS) $(CMOCKA_LIBS)
endif

TESTS += tests/integration/engine_warm.sh tests/integration/engine_refused.sh \
	tests/integration/engine_tls.sh tests/integration/engine_cold.sh
EXTRA_DIST += tests/integration/engine_warm.sh \
	tests/integration/engine_refused.sh tests/integration/engine_tls.sh \
	tests/integration/engine_cold.sh tests/integration/engine_lib.sh \
	tests/integration/engine_server.py bench/engine-bench.py

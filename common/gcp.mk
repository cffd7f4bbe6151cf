# common (gcp): clients of the Google APIs (Cloud Run Admin v2, Cloud
# Storage, Scheduler, Tasks, Monitoring, Logging, metadata server) on
# libcurl, and perf-agent-gcp, a command-line driver for their tests.
noinst_LIBRARIES += common/libgcp.a
common_libgcp_a_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
common_libgcp_a_SOURCES = \
	common/gcp.c common/gcp.h common/gcp_private.h \
	common/gcp_http.c \
	common/gcp_metadata.c \
	common/gcp_run.c \
	common/gcp_storage.c \
	common/gcp_jobs.c \
	common/gcp_monitoring.c \
	common/gcp_logging.c

GCP_LIBS = common/libgcp.a $(COMMON_LIBS)

check_PROGRAMS += tools/perf-agent-gcp
tools_perf_agent_gcp_SOURCES = tools/gcp-call.c
tools_perf_agent_gcp_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
tools_perf_agent_gcp_LDADD = $(GCP_LIBS) -lpthread

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_gcp
TESTS += tests/unit/test_gcp
tests_unit_test_gcp_SOURCES = tests/unit/test_gcp.c
tests_unit_test_gcp_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_gcp_LDADD = $(GCP_LIBS) $(CMOCKA_LIBS)
endif

TESTS += tests/integration/gcp_client.sh
EXTRA_DIST += tests/integration/gcp_client.sh tests/integration/gcp_mock.py

# Needs localcloud/localcloud; it skips when that is not built.
TESTS += tests/integration/gcp_localcloud.sh
EXTRA_DIST += tests/integration/gcp_localcloud.sh

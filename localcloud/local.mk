# localcloud: the Google API emulator for local runs.
pkglibexec_PROGRAMS += localcloud/localcloud
localcloud_localcloud_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS)
localcloud_localcloud_SOURCES = \
	localcloud/localcloud.h \
	localcloud/main.c \
	localcloud/api.c \
	localcloud/run.h \
	localcloud/run.c \
	localcloud/runstore.h \
	localcloud/runstore.c \
	localcloud/revision.h \
	localcloud/revision.c \
	localcloud/dataplane.h \
	localcloud/dataplane.c \
	localcloud/proxy.c \
	localcloud/invoker.h \
	localcloud/invoker.c \
	localcloud/tls.c \
	localcloud/filter.h \
	localcloud/filter.c \
	localcloud/monitoring.c \
	localcloud/logging.c
localcloud_localcloud_LDADD = $(COMMON_LIBS) $(HTTP_PARSER_LIBS)

# Unit tests of the parsers, and end-to-end tests of Run, the data plane
# (forwarding and invoker IAM), Monitoring and Logging.
if HAVE_CMOCKA
check_PROGRAMS += localcloud/test_parse
TESTS += localcloud/test_parse
localcloud_test_parse_SOURCES = localcloud/test_parse.c \
	localcloud/api.c localcloud/filter.c localcloud/revision.c
localcloud_test_parse_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) $(CMOCKA_CFLAGS)
localcloud_test_parse_LDADD = $(COMMON_LIBS) $(CMOCKA_LIBS)
endif

TESTS += tests/integration/localcloud_run.sh \
	tests/integration/localcloud_dataplane.sh \
	tests/integration/localcloud_proxy.sh \
	tests/integration/localcloud_invoker.sh
EXTRA_DIST += tests/integration/localcloud_run.sh \
	tests/integration/localcloud_dataplane.sh \
	tests/integration/localcloud_proxy.sh \
	tests/integration/localcloud_invoker.sh \
	tests/integration/localcloud_invoker_token.py \
	tests/integration/localcloud_run_helpers.sh \
	docs/localcloud.md bench/localcloud-dataplane.sh

# Storage, Scheduler, Tasks, the metadata server and the signing key. The
# libraries after common/libauth.a resolve what it needs.
localcloud_localcloud_SOURCES += \
	localcloud/durable.c localcloud/durable.h \
	localcloud/tokens.c localcloud/tokens.h \
	localcloud/metadata.c \
	localcloud/objstore.c localcloud/objstore.h \
	localcloud/storage.c \
	localcloud/cron.c localcloud/cron.h \
	localcloud/deliver.c localcloud/deliver.h \
	localcloud/target.c localcloud/target.h \
	localcloud/scheduler.c \
	localcloud/tasks.c
localcloud_localcloud_LDADD += common/libauth.a $(COMMON_LIBS)

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/test_cron
TESTS += tests/unit/test_cron
tests_unit_test_cron_SOURCES = tests/unit/test_cron.c \
	localcloud/cron.c localcloud/cron.h \
	localcloud/deliver.c localcloud/deliver.h
tests_unit_test_cron_CFLAGS = $(AM_CFLAGS) $(COMMON_CFLAGS) $(CMOCKA_CFLAGS)
tests_unit_test_cron_LDADD = $(COMMON_LIBS) $(CMOCKA_LIBS)
endif

TESTS += tests/integration/localcloud_storage.sh \
	tests/integration/localcloud_sched.sh \
	tests/integration/localcloud_metadata.sh
EXTRA_DIST += tests/integration/localcloud_storage.sh \
	tests/integration/localcloud_sched.sh \
	tests/integration/localcloud_metadata.sh \
	tests/integration/localcloud_sched_listener.py \
	tests/integration/localcloud_sched_verify.py

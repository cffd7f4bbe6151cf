/*
 * Unit tests of localcloud's pure parsers: RFC 3339 times, query strings,
 * the filter language, and Kubernetes CPU and memory quantities.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "filter.h"
#include "localcloud.h"
#include "revision.h"

static void
test_parse_time(void **state)
{
	static const struct {
		const char	*text;
		long long	 sec;	/* -1: invalid */
		long		 nsec;
	} cases[] = {
		{ "2026-01-02T03:04:05Z", 1767323045, 0 },
		{ "2026-01-02T03:04:05.5Z", 1767323045, 500000000 },
		{ "2026-01-02T03:04:05.123456789Z", 1767323045, 123456789 },
		{ "2026-01-02T04:04:05+01:00", 1767323045, 0 },
		{ "2026-01-02T02:34:05-00:30", 1767323045, 0 },
		{ "2026-01-02t03:04:05z", 1767323045, 0 },
		{ "2026-01-02T03:04:05", -1, 0 },
		{ "2026-13-02T03:04:05Z", -1, 0 },
		{ "2026-02-29T00:00:00Z", -1, 0 },
		{ "2026-04-31T00:00:00Z", -1, 0 },
		{ "2028-02-29T00:00:00Z", 1835395200, 0 },
		{ "2100-02-29T00:00:00Z", -1, 0 },
		{ "2026-01-02T03:04:05.Z", -1, 0 },
		{ "2026-01-02T03:04:05Zjunk", -1, 0 },
		{ "", -1, 0 },
	};
	struct timespec ts;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = lc_parse_time(cases[i].text, &ts);

		if (cases[i].sec == -1) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(ts.tv_sec, cases[i].sec);
		assert_int_equal(ts.tv_nsec, cases[i].nsec);
	}
}

static void
test_format_time_round_trip(void **state)
{
	struct timespec in = { 1767323045, 123456000 }, out;
	char buf[40];

	(void)state;
	assert_int_equal(lc_format_time(&in, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-01-02T03:04:05.123456Z");
	assert_int_equal(lc_parse_time(buf, &out), 0);
	assert_int_equal(out.tv_sec, in.tv_sec);
	assert_int_equal(out.tv_nsec, in.tv_nsec);
	assert_int_equal(lc_format_time(&in, buf, 10), -1);
}

static void
test_query_get(void **state)
{
	const char *q = "a=1&serviceId=my-svc&flag&sp=a+b%20c&a=2&empty=";
	char *v;

	(void)state;
	v = lc_query_get(q, "serviceId");
	assert_string_equal(v, "my-svc");
	free(v);
	v = lc_query_get(q, "a");
	assert_string_equal(v, "1");
	free(v);
	v = lc_query_get(q, "sp");
	assert_string_equal(v, "a b c");
	free(v);
	v = lc_query_get(q, "flag");
	assert_string_equal(v, "");
	free(v);
	v = lc_query_get(q, "empty");
	assert_string_equal(v, "");
	free(v);
	assert_null(lc_query_get(q, "missing"));
	assert_null(lc_query_get(NULL, "a"));
}

static void
test_filter_parse(void **state)
{
	struct filter_term t[FILTER_TERMS_MAX];
	char err[256];
	int n;

	(void)state;
	n = filter_parse("metric.type=\"run.googleapis.com/container/"
	    "instance_count\" AND resource.labels.service_name = \"s\\\"q\"\n"
	    "AND timestamp>=2026-01-02T03:04:05Z", t, err, sizeof(err));
	assert_int_equal(n, 3);
	assert_string_equal(t[0].field, "metric.type");
	assert_int_equal(t[0].op, FILTER_EQ);
	assert_string_equal(t[0].value,
	    "run.googleapis.com/container/instance_count");
	assert_string_equal(t[1].value, "s\"q");
	assert_int_equal(t[2].op, FILTER_GE);
	assert_string_equal(t[2].value, "2026-01-02T03:04:05Z");

	assert_int_equal(filter_parse("", t, err, sizeof(err)), 0);
	assert_int_equal(filter_parse("a=1 OR b=2", t, err, sizeof(err)), -1);
	assert_int_equal(filter_parse("(a=1)", t, err, sizeof(err)), -1);
	assert_int_equal(filter_parse("a=\"open", t, err, sizeof(err)), -1);
	assert_int_equal(filter_parse("a=", t, err, sizeof(err)), -1);
	assert_int_equal(filter_parse("a 1", t, err, sizeof(err)), -1);
	assert_int_equal(filter_parse("starts_with(\"x\")", t, err,
	    sizeof(err)), -1);
}

static void
test_filter_match(void **state)
{
	struct filter_term t;
	char err[64];

	(void)state;
	assert_int_equal(filter_parse("f:\"ell\"", &t, err, sizeof(err)), 1);
	assert_true(filter_match_string(&t, "hello"));
	assert_false(filter_match_string(&t, "help"));
	assert_int_equal(filter_parse("f!=x", &t, err, sizeof(err)), 1);
	assert_true(filter_match_string(&t, "y"));
	assert_true(filter_match_string(&t, NULL));
	assert_int_equal(filter_parse("f<b", &t, err, sizeof(err)), 1);
	assert_true(filter_match_string(&t, "a"));
	assert_false(filter_match_string(&t, "b"));
}

static void
test_cpu_quantities(void **state)
{
	static const struct {
		const char	*text;
		long		 millis;	/* -1: invalid */
	} cases[] = {
		{ "1", 1000 }, { "2", 2000 }, { "0.5", 500 }, { "500m", 500 },
		{ "1000m", 1000 }, { "0.08", 80 }, { "0", -1 }, { "-1", -1 },
		{ "1x", -1 }, { "", -1 }, { "m", -1 }, { "4096", -1 },
	};
	unsigned long millis;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = revision_parse_cpu(cases[i].text, &millis);

		if (cases[i].millis == -1) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(millis, cases[i].millis);
	}
}

static void
test_memory_quantities(void **state)
{
	static const struct {
		const char	*text;
		uint64_t	 bytes;	/* 0: invalid */
	} cases[] = {
		{ "512Mi", 512ULL << 20 }, { "2Gi", 2ULL << 30 },
		{ "1G", 1000000000ULL }, { "512M", 512000000ULL },
		{ "4096", 4096 }, { "128Ki", 128 << 10 }, { "0", 0 },
		{ "1Xi", 0 }, { "Mi", 0 }, { "", 0 }, { "-5Mi", 0 },
		{ "99999999999999999999Ti", 0 },
	};
	uint64_t bytes;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = revision_parse_memory(cases[i].text, &bytes);

		if (cases[i].bytes == 0) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(bytes, cases[i].bytes);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_format_time_round_trip),
		cmocka_unit_test(test_query_get),
		cmocka_unit_test(test_filter_parse),
		cmocka_unit_test(test_filter_match),
		cmocka_unit_test(test_cpu_quantities),
		cmocka_unit_test(test_memory_quantities),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

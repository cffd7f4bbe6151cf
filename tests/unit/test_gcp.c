/* Pure helpers of the Google API clients: encoding, endpoints, backoff,
 * name rules, resource names and times. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "gcp.h"
#include "settings.h"

static void
test_escape_object_names(void **state)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "a/b", "a%2Fb" },
		{ "a b", "a%20b" },
		{ "100%", "100%25" },
		{ "\xc3\xa9t\xc3\xa9", "%C3%A9t%C3%A9" },	/* "été" */
		{ "runs/r1/discord-webhook/results.json",
		    "runs%2Fr1%2Fdiscord-webhook%2Fresults.json" },
		{ "AZaz09-._~", "AZaz09-._~" },
		{ "?#&=+:@", "%3F%23%26%3D%2B%3A%40" },
		{ "", "" },
	};
	size_t i;
	char *out;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = gcp_escape(cases[i].in);
		assert_non_null(out);
		assert_string_equal(out, cases[i].out);
		free(out);
	}
}

static void
test_endpoint_scheme(void **state)
{
	static const struct {
		const char	*in, *out;	/* out NULL: rejected */
	} cases[] = {
		{ "127.0.0.1:4443", "http://127.0.0.1:4443" },
		{ "localhost:8086/", "http://localhost:8086" },
		{ "http://localhost:4443", "http://localhost:4443" },
		{ "http://localhost:4443//", "http://localhost:4443" },
		{ "https://storage.googleapis.com",
		    "https://storage.googleapis.com" },
		{ "metadata.google.internal",
		    "http://metadata.google.internal" },
		{ "", NULL },
		{ "ftp://host", NULL },
		{ "http://", NULL },
		{ "http://a b", NULL },
	};
	char buf[64];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = gcp_endpoint_url(cases[i].in, buf, sizeof(buf));
		if (cases[i].out == NULL) {
			assert_int_equal(rc, -1);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_string_equal(buf, cases[i].out);
	}
	assert_int_equal(gcp_endpoint_url("127.0.0.1:4443", buf, 16), -1);
}

static void
test_backoff_bounds(void **state)
{
	static const uint32_t randoms[] = { 0, 1, 99, 12345, 0x7fffffff,
	    0xffffffff };
	long ceiling, wait, previous_ceiling = 0;
	size_t r;
	int retry;

	for (retry = 0; retry <= 40; retry++) {
		ceiling = retry < 16 ? (long)GCP_BACKOFF_FIRST_MS << retry :
		    GCP_BACKOFF_MAX_MS;
		if (ceiling > GCP_BACKOFF_MAX_MS)
			ceiling = GCP_BACKOFF_MAX_MS;
		assert_true(ceiling >= previous_ceiling);
		previous_ceiling = ceiling;
		for (r = 0; r < sizeof(randoms) / sizeof(randoms[0]); r++) {
			wait = gcp_backoff_ms(retry, randoms[r]);
			assert_in_range(wait, ceiling / 2, ceiling);
		}
		assert_int_equal(gcp_backoff_ms(retry, 0), ceiling / 2);
	}
	assert_in_range(gcp_backoff_ms(0, 7), 100, 200);
	assert_in_range(gcp_backoff_ms(1, 7), 200, 400);
	assert_int_equal(gcp_backoff_ms(1000, 0), GCP_BACKOFF_MAX_MS / 2);
	assert_in_range(gcp_backoff_ms(-3, 5), 100, 200);
}

static void
test_service_ids(void **state)
{
	char long_id[64];

	assert_true(gcp_valid_service_id("a"));
	assert_true(gcp_valid_service_id("r1-discord-go-cpu1"));
	assert_false(gcp_valid_service_id(""));
	assert_false(gcp_valid_service_id("1abc"));
	assert_false(gcp_valid_service_id("abc-"));
	assert_false(gcp_valid_service_id("Abc"));
	assert_false(gcp_valid_service_id("a_b"));
	assert_false(gcp_valid_service_id("a/b"));
	memset(long_id, 'a', 49);
	long_id[49] = '\0';
	assert_true(gcp_valid_service_id(long_id));
	long_id[49] = 'a';
	long_id[50] = '\0';
	assert_false(gcp_valid_service_id(long_id));
}

static void
test_job_and_task_ids(void **state)
{
	char id[502];

	assert_true(gcp_valid_job_id("measure-r1_2"));
	assert_true(gcp_valid_task_id("A_b-9"));
	assert_false(gcp_valid_job_id(""));
	assert_false(gcp_valid_job_id("a/b"));
	assert_false(gcp_valid_task_id("a b"));
	assert_false(gcp_valid_task_id("a.b"));
	memset(id, 'x', 500);
	id[500] = '\0';
	assert_true(gcp_valid_job_id(id));
	id[500] = 'x';
	id[501] = '\0';
	assert_false(gcp_valid_job_id(id));
}

static void
test_bucket_names(void **state)
{
	char name[80];

	assert_true(gcp_valid_bucket("perf-benchmark-state"));
	assert_true(gcp_valid_bucket("a.b_c-1"));
	assert_false(gcp_valid_bucket("ab"));
	assert_false(gcp_valid_bucket("Upper"));
	assert_false(gcp_valid_bucket("-start"));
	assert_false(gcp_valid_bucket("end-"));
	assert_false(gcp_valid_bucket("a/b"));
	memset(name, 'a', 64);
	name[64] = '\0';
	assert_false(gcp_valid_bucket(name));
	name[63] = '\0';
	assert_true(gcp_valid_bucket(name));
}

static void
test_object_names(void **state)
{
	char name[1026];

	assert_true(gcp_valid_object_name("runs/r1/x.json"));
	assert_true(gcp_valid_object_name("a b%c \xc3\xa9"));
	assert_false(gcp_valid_object_name(""));
	assert_false(gcp_valid_object_name("."));
	assert_false(gcp_valid_object_name(".."));
	assert_false(gcp_valid_object_name("a\nb"));
	assert_false(gcp_valid_object_name("a\rb"));
	assert_false(gcp_valid_object_name("bad \xff utf-8"));
	assert_false(gcp_valid_object_name("\xc3"));
	assert_false(gcp_valid_object_name(".well-known/acme-challenge/x"));
	memset(name, 'o', 1024);
	name[1024] = '\0';
	assert_true(gcp_valid_object_name(name));
	name[1024] = 'o';
	name[1025] = '\0';
	assert_false(gcp_valid_object_name(name));
}

static void
test_resource_names(void **state)
{
	assert_true(gcp_valid_resource_name(
	    "projects/p/locations/l/operations/op-1"));
	assert_true(gcp_valid_resource_name(
	    "projects/example.com:p/locations/l/operations/a_b~c"));
	assert_false(gcp_valid_resource_name("operations/x"));
	assert_false(gcp_valid_resource_name("projects/p//x"));
	assert_false(gcp_valid_resource_name("projects/p/../x"));
	assert_false(gcp_valid_resource_name("projects/p/./x"));
	assert_false(gcp_valid_resource_name("projects/p/x/"));
	assert_false(gcp_valid_resource_name("projects/p/x?y"));
	assert_false(gcp_valid_resource_name("projects/p/x y"));
	assert_false(gcp_valid_resource_name("projects/p/x%2F"));
}

static void
test_code_names(void **state)
{
	assert_string_equal(gcp_code_name(5), "NOT_FOUND");
	assert_int_equal(gcp_code_http_status(5), 404);
	assert_string_equal(gcp_code_name(6), "ALREADY_EXISTS");
	assert_int_equal(gcp_code_http_status(6), 409);
	assert_string_equal(gcp_code_name(9), "FAILED_PRECONDITION");
	assert_int_equal(gcp_code_http_status(9), 400);
	assert_string_equal(gcp_code_name(16), "UNAUTHENTICATED");
	assert_int_equal(gcp_code_http_status(16), 401);
	assert_string_equal(gcp_code_name(17), "UNKNOWN");
	assert_int_equal(gcp_code_http_status(-1), 500);
}

static void
test_times(void **state)
{
	static const struct {
		const char	*text;
		time_t		 sec;
		long		 nsec;
	} cases[] = {
		{ "2026-01-01T00:00:00Z", 1767225600, 0 },
		{ "2026-01-01T00:00:01.5Z", 1767225601, 500000000 },
		{ "2026-01-01T00:00:01.123456789Z", 1767225601, 123456789 },
		{ "2026-01-01T02:00:00+02:00", 1767225600, 0 },
		{ "2025-12-31T23:30:00-00:30", 1767225600, 0 },
	};
	static const char *const invalid[] = { "2026-01-01",
	    "2026-01-01T00:00:00", "2026-01-01T00:00:00.Z",
	    "2026-01-01T00:00:00Zx", "yesterday" };
	struct timespec ts;
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(gcp_parse_time(cases[i].text, &ts), 0);
		assert_int_equal(ts.tv_sec, cases[i].sec);
		assert_int_equal(ts.tv_nsec, cases[i].nsec);
	}
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		assert_int_equal(gcp_parse_time(invalid[i], &ts), -1);
	assert_int_equal(gcp_format_time(1767225600, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "2026-01-01T00:00:00Z");
	assert_int_equal(gcp_format_time(1767225600, buf, 10), -1);
}

static void
test_resource_name_building(void **state)
{
	char *name;

	assert_int_equal(settings_set(CFG_PROJECT, "p1"), 0);
	assert_int_equal(settings_set(CFG_REGION, "europe-west1"), 0);
	assert_int_equal(settings_set(CFG_TASKS_QUEUE, "q-1"), 0);
	assert_int_equal(gcp_init(), 0);

	name = scheduler_job_name("measure-r1");
	assert_non_null(name);
	assert_string_equal(name,
	    "projects/p1/locations/europe-west1/jobs/measure-r1");
	free(name);
	name = tasks_task_name("m_r1");
	assert_non_null(name);
	assert_string_equal(name,
	    "projects/p1/locations/europe-west1/queues/q-1/tasks/m_r1");
	free(name);
	name = run_service_name("svc-a");
	assert_non_null(name);
	assert_string_equal(name,
	    "projects/p1/locations/europe-west1/services/svc-a");
	free(name);

	assert_null(scheduler_job_name("a/b"));
	assert_null(tasks_task_name(""));
	assert_null(run_service_name("Svc"));
	gcp_cleanup();
}

static void
test_invalid_settings(void **state)
{
	assert_int_equal(settings_set(CFG_PROJECT, "p1"), 0);
	assert_int_equal(settings_set(CFG_REGION, "bad/region"), 0);
	assert_int_equal(gcp_init(), -1);
	assert_int_equal(settings_set(CFG_REGION, "r"), 0);
	assert_int_equal(settings_set(CFG_STORAGE_ENDPOINT, "ftp://x"), 0);
	assert_int_equal(gcp_init(), -1);
	assert_int_equal(settings_set(CFG_STORAGE_ENDPOINT, "127.0.0.1:1"),
	    0);
	assert_int_equal(gcp_init(), 0);
	gcp_cleanup();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_object_names),
		cmocka_unit_test(test_endpoint_scheme),
		cmocka_unit_test(test_backoff_bounds),
		cmocka_unit_test(test_service_ids),
		cmocka_unit_test(test_job_and_task_ids),
		cmocka_unit_test(test_bucket_names),
		cmocka_unit_test(test_object_names),
		cmocka_unit_test(test_resource_names),
		cmocka_unit_test(test_code_names),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_resource_name_building),
		cmocka_unit_test(test_invalid_settings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of localcloud's unix-cron parser, next-run search and retry
 * backoff. */
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

#include "localcloud/cron.h"
#include "localcloud/deliver.h"

/* Parses an RFC 3339 UTC time "YYYY-MM-DDTHH:MM:SSZ". */
static time_t
utc(const char *text)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(text, "%Y-%m-%dT%H:%M:%SZ", &tm));
	return timegm(&tm);
}

static void
test_parse_valid(void **state)
{
	static const char *const schedules[] = {
		"* * * * *", "4 15 2 1 *", "*/5 * * * *", "0 9 * * 1-5",
		"0,30 8-18/2 1,15 JAN-MAR mon-fri", "59 23 31 12 7",
		"  0   0  *  *  *  ", "0 0 * * SUN", "5-10/5 * * * *",
	};
	struct cron c;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(schedules) / sizeof(schedules[0]); i++)
		if (cron_parse(schedules[i], &c, err, sizeof(err)) != 0)
			fail_msg("\"%s\" was rejected: %s", schedules[i], err);
}

static void
test_parse_invalid(void **state)
{
	static const struct {
		const char *schedule;
		const char *message_part;
	} cases[] = {
		{ "05 04 15 02 01 ?", "6 fields" },
		{ "0 0 0 1 1 * 2026", "more than 6 fields" },
		{ "* * * *", "4 fields" },
		{ "", "0 fields" },
		{ "0 0 ? * *", "Quartz" },
		{ "0 0 L * *", "Quartz" },
		{ "0 0 * * 1#2", "Quartz" },
		{ "60 * * * *", "minute" },
		{ "* 24 * * *", "hour" },
		{ "* * 0 * *", "day-of-month" },
		{ "* * * 13 *", "month" },
		{ "* * * * 8", "day-of-week" },
		{ "5-1 * * * *", "minute" },
		{ "*/0 * * * *", "minute" },
		{ "5/10 * * * *", "minute" },
		{ "1,,2 * * * *", "minute" },
		{ "* * * FOO *", "month" },
		{ "-1 * * * *", "minute" },
	};
	struct cron c;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (cron_parse(cases[i].schedule, &c, err, sizeof(err)) == 0)
			fail_msg("\"%s\" was accepted", cases[i].schedule);
		if (strstr(err, cases[i].message_part) == NULL)
			fail_msg("\"%s\": message \"%s\" lacks \"%s\"",
			    cases[i].schedule, err, cases[i].message_part);
	}
}

static void
test_next_runs(void **state)
{
	static const struct {
		const char *schedule;
		const char *zone;
		const char *after;
		const char *expected;
	} cases[] = {
		{ "* * * * *", "UTC", "2026-01-02T03:04:05Z",
		    "2026-01-02T03:05:00Z" },
		{ "* * * * *", "UTC", "2026-01-02T03:04:00Z",
		    "2026-01-02T03:05:00Z" },
		/* The fixed form of the Quartz "05 04 15 02 01 ?". */
		{ "4 15 2 1 *", "UTC", "2026-01-02T15:04:00Z",
		    "2027-01-02T15:04:00Z" },
		{ "4 15 2 1 *", "utc", "2026-01-01T00:00:00Z",
		    "2026-01-02T15:04:00Z" },
		{ "*/15 * * * *", "UTC", "2026-03-01T10:16:00Z",
		    "2026-03-01T10:30:00Z" },
		{ "0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z",
		    "2028-02-29T00:00:00Z" },
		/* 2026-01-03 is a Saturday. */
		{ "0 9 * * 1-5", "UTC", "2026-01-03T00:00:00Z",
		    "2026-01-05T09:00:00Z" },
		/* Both day fields restricted: either matches (the 10th,
		 * or the Monday the 5th). */
		{ "0 0 10 * 1", "UTC", "2026-01-03T00:00:00Z",
		    "2026-01-05T00:00:00Z" },
		{ "0 0 * * 7", "UTC", "2026-01-03T00:00:00Z",
		    "2026-01-04T00:00:00Z" },
		/* Paris is UTC+1 in winter and UTC+2 in summer. */
		{ "0 9 * * *", "Europe/Paris", "2026-01-10T00:00:00Z",
		    "2026-01-10T08:00:00Z" },
		{ "0 9 * * *", "Europe/Paris", "2026-07-10T00:00:00Z",
		    "2026-07-10T07:00:00Z" },
		/* 02:30 does not exist in Paris on 2026-03-29. */
		{ "30 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z",
		    "2026-03-30T00:30:00Z" },
	};
	struct cron c;
	char err[256], got[32];
	time_t next;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cron_parse(cases[i].schedule, &c, err,
		    sizeof(err)), 0);
		if (cron_next(&c, cases[i].zone, utc(cases[i].after),
		    &next) != 0)
			fail_msg("\"%s\" in %s after %s: no next run",
			    cases[i].schedule, cases[i].zone, cases[i].after);
		strftime(got, sizeof(got), "%Y-%m-%dT%H:%M:%SZ",
		    gmtime(&next));
		if (strcmp(got, cases[i].expected) != 0)
			fail_msg("\"%s\" in %s after %s: got %s, expected %s",
			    cases[i].schedule, cases[i].zone, cases[i].after,
			    got, cases[i].expected);
	}
}

static void
test_never_runs(void **state)
{
	struct cron c;
	char err[256];
	time_t next;

	assert_int_equal(cron_parse("0 0 31 2 *", &c, err, sizeof(err)), 0);
	assert_int_equal(cron_next(&c, "UTC", utc("2026-01-01T00:00:00Z"),
	    &next), -1);
}

static void
test_zones(void **state)
{
	assert_true(cron_valid_zone("UTC"));
	assert_true(cron_valid_zone("utc"));
	assert_true(cron_valid_zone("Europe/Paris"));
	assert_true(cron_valid_zone("America/Argentina/Buenos_Aires"));
	assert_false(cron_valid_zone("Mars/Olympus"));
	assert_false(cron_valid_zone("../../etc/passwd"));
	assert_false(cron_valid_zone("/etc/localtime"));
	assert_false(cron_valid_zone("Europe"));
	assert_false(cron_valid_zone(""));
}

/* cron_next sets TZ for the call and restores it, or unsets it. */
static void
test_tz_restored(void **state)
{
	struct cron c;
	char err[256];
	time_t next;

	setenv("TZ", "America/New_York", 1);
	assert_int_equal(cron_parse("* * * * *", &c, err, sizeof(err)), 0);
	assert_int_equal(cron_next(&c, "Asia/Tokyo", 0, &next), 0);
	assert_string_equal(getenv("TZ"), "America/New_York");
	unsetenv("TZ");
	assert_int_equal(cron_next(&c, "Asia/Tokyo", 0, &next), 0);
	assert_null(getenv("TZ"));
}

/* The documented example: min 10 s, max 300 s, 3 doublings. */
static void
test_backoff(void **state)
{
	static const double expected[] = {
		10, 20, 40, 80, 160, 240, 300, 300
	};
	double delay;
	size_t i;

	for (i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		assert_int_equal(deliver_backoff(10, 300, 3, (int)i + 1,
		    &delay), 0);
		if (delay != expected[i])
			fail_msg("retry %zu: got %g s, expected %g s", i + 1,
			    delay, expected[i]);
	}
	assert_int_equal(deliver_backoff(10, 300, 3, 0, &delay), -1);
	assert_int_equal(deliver_backoff(10, 5, 3, 1, &delay), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_next_runs),
		cmocka_unit_test(test_never_runs),
		cmocka_unit_test(test_zones),
		cmocka_unit_test(test_tz_restored),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

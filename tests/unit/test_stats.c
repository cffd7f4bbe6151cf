/*
 * Statistics: every definition the report relies on, pinned case by case.
 * Samples are given in milliseconds and stored in integer nanoseconds, as
 * the engine stores them.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "measured/stats.h"

#define MS(v)	((int64_t)llround((v) * 1e6))

/* Fails with both values printed when got is further than tol from want. */
#define assert_near(got, want, tol) do {				\
	double g_ = (got), w_ = (want);					\
	if (!(fabs(g_ - w_) <= (tol)))					\
		fail_msg("%s = %.6f, expected %.6f", #got, g_, w_);	\
} while (0)

static void
fill(struct stats_samples *s, const double *ms, size_t n)
{
	size_t	i;

	assert_int_equal(stats_samples_init(s, 0), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(stats_samples_add(s, MS(ms[i])), 0);
}

static double
to_ms(double ns)
{
	return ns / 1e6;
}

/* Returns a number member of a JSON object, NAN when absent or null. */
static double
jnum(const json_t *o, const char *key)
{
	const json_t	*v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : (double)NAN;
}

/* The statistics table of the specification's example. */
struct table_case {
	const char	*name;
	double		 values[10];
	size_t		 n;
	double		 min, max, mean, median, p50, p90, p99, stddev;
};

static const struct table_case table[] = {
	{ "spec 142..151",
	  { 145, 148, 142, 151, 147, 144, 149, 146, 143, 150 }, 10,
	  142, 151, 146.5, 146.5, 146, 150, 151, 2.872281 },
	{ "1..10 median 5.5 p50 5",
	  { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, 10,
	  1, 10, 5.5, 5.5, 5, 9, 10, 2.872281 },
	{ "outlier mean 22",
	  { 1, 2, 3, 4, 100 }, 5,
	  1, 100, 22.0, 3, 3, 100, 100, 39.012818 },
	{ "single sample stddev 0",
	  { 4.3 }, 1,
	  4.3, 4.3, 4.3, 4.3, 4.3, 4.3, 4.3, 0 },
	{ "microsecond kept",
	  { 0.001, 0.002, 1.2345 }, 3,
	  0.001, 1.2345, 0.412500, 0.002, 0.002, 1.2345, 1.2345, 0.581242 },
};

static void
test_table(void **state)
{
	size_t	i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct table_case	*t = &table[i];
		struct stats_samples	 s;
		struct stats_summary	 sum;

		print_message("case: %s\n", t->name);
		fill(&s, t->values, t->n);
		assert_int_equal(stats_summarize(&s, &sum), 0);
		assert_int_equal(sum.count, t->n);
		assert_true(sum.exact);
		assert_near(to_ms((double)sum.min_ns), t->min, 1e-9);
		assert_near(to_ms((double)sum.max_ns), t->max, 1e-9);
		assert_near(to_ms(sum.mean_ns), t->mean, 1e-6);
		assert_near(to_ms(sum.median_ns), t->median, 1e-9);
		assert_near(to_ms((double)stats_summary_percentile(&sum,
		    STATS_PCT(50))), t->p50, 1e-9);
		assert_near(to_ms((double)stats_summary_percentile(&sum,
		    STATS_PCT(90))), t->p90, 1e-9);
		assert_near(to_ms((double)stats_summary_percentile(&sum,
		    STATS_PCT(99))), t->p99, 1e-9);
		assert_near(to_ms(sum.stddev_ns), t->stddev, 1e-6);
		stats_samples_free(&s);
	}
}

/* The wire example prints stddev rounded to one decimal: 2.9. */
static void
test_spec_stddev_rounded(void **state)
{
	const double		v[] = { 145, 148, 142, 151, 147, 144, 149, 146,
				    143, 150 };
	struct stats_samples	s;
	struct stats_summary	sum;

	fill(&s, v, 10);
	assert_int_equal(stats_summarize(&s, &sum), 0);
	assert_near(round(to_ms(sum.stddev_ns) * 10) / 10, 2.9, 1e-12);
	stats_samples_free(&s);
}

/* Nearest rank on 1..100 and [1,2,2,2,2], fractional ranks included. */
static void
test_nearest_rank(void **state)
{
	int64_t	hundred[100], ones[5] = { 1, 2, 2, 2, 2 };
	int64_t	thousand[1000];
	size_t	i;

	for (i = 0; i < 100; i++)
		hundred[i] = (int64_t)i + 1;
	for (i = 0; i < 1000; i++)
		thousand[i] = (int64_t)i + 1;
	assert_int_equal(stats_nearest_rank(hundred, 100, STATS_PCT(7)), 7);
	assert_int_equal(stats_nearest_rank(hundred, 100, STATS_PCT(99)), 99);
	assert_int_equal(stats_nearest_rank(hundred, 100, STATS_PCT(100)),
	    100);
	assert_int_equal(stats_nearest_rank(hundred, 100, 0), 1);
	assert_int_equal(stats_nearest_rank(ones, 5, STATS_PCT(25)), 2);
	assert_int_equal(stats_nearest_rank(ones, 5, STATS_PCT(20)), 1);
	/* 99.9% of 1000 is rank 999 exactly; 99.95% rounds up to 1000. */
	assert_int_equal(stats_nearest_rank(thousand, 1000, 99900), 999);
	assert_int_equal(stats_nearest_rank(thousand, 1000, 99950), 1000);
	assert_int_equal(stats_nearest_rank(thousand, 0, 50000), -1);
}

/* Ranks stay exact where a double product would round: n = 10^15 + 1. */
static void
test_rank_integer_arithmetic(void **state)
{
	uint64_t	n = UINT64_C(1000000000000001);

	assert_int_equal(stats_rank(n, 99900), UINT64_C(999000000000001));
	assert_int_equal(stats_rank(n, STATS_PCT(50)),
	    UINT64_C(500000000000001));
	assert_int_equal(stats_rank(UINT64_MAX, STATS_PCT(100)), UINT64_MAX);
	assert_int_equal(stats_rank(10, STATS_PCT(7)), 1);
	assert_int_equal(stats_rank(0, STATS_PCT(50)), 0);
}

/* Median and p50 are separate fields, and the JSON names its methods. */
static void
test_json_fields(void **state)
{
	const double	 v[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };
	struct stats_samples s;
	json_t		*o;

	fill(&s, v, 10);
	o = stats_samples_to_json(&s);
	assert_non_null(o);
	assert_near(jnum(o, "median_ms"), 5.5, 1e-12);
	assert_near(jnum(o, "p50_ms"), 5, 1e-12);
	assert_near(jnum(o, "count"), 10, 0);
	assert_string_equal(json_string_value(json_object_get(o,
	    "percentile_method")), "nearest-rank");
	assert_string_equal(json_string_value(json_object_get(o,
	    "stddev_kind")), "population");
	assert_string_equal(json_string_value(json_object_get(o, "source")),
	    "exact");
	json_decref(o);
	stats_samples_free(&s);
}

/* 19 successes at 4.3 ms and a timeout: the timeout is counted apart. */
static void
test_errors_apart(void **state)
{
	struct stats_samples	s;
	struct stats_errors	e;
	struct stats_summary	sum;
	json_t			*o;
	int			i;

	memset(&e, 0, sizeof(e));
	assert_int_equal(stats_samples_init(&s, 20), 0);
	for (i = 0; i < 19; i++)
		assert_int_equal(stats_samples_add(&s, MS(4.3)), 0);
	stats_errors_add(&e, STATS_ERROR_TIMEOUT, 0);
	assert_int_equal(stats_summarize(&s, &sum), 0);
	assert_int_equal(sum.count, 19);
	assert_near(to_ms(sum.mean_ns), 4.3, 1e-9);
	assert_near(to_ms((double)sum.max_ns), 4.3, 1e-9);
	assert_int_equal(stats_errors_total(&e), 1);
	assert_near(stats_error_rate(stats_errors_total(&e), 20), 0.05, 1e-12);

	o = stats_errors_to_json(&e);
	assert_near(jnum(o, "timeout"), 1, 0);
	assert_near(jnum(o, "connect"), 0, 0);
	json_decref(o);
	stats_samples_free(&s);
}

/* HTTP status errors are kept by code. */
static void
test_errors_by_code(void **state)
{
	struct stats_errors	 e;
	json_t			*o, *codes;

	memset(&e, 0, sizeof(e));
	stats_errors_add(&e, STATS_ERROR_HTTP_STATUS, 503);
	stats_errors_add(&e, STATS_ERROR_HTTP_STATUS, 503);
	stats_errors_add(&e, STATS_ERROR_HTTP_STATUS, 401);
	stats_errors_add(&e, STATS_ERROR_CLOSED, 0);
	o = stats_errors_to_json(&e);
	codes = json_object_get(o, "http_status_codes");
	assert_near(jnum(o, "http_status"), 3, 0);
	assert_near(jnum(o, "closed"), 1, 0);
	assert_near(jnum(codes, "503"), 2, 0);
	assert_near(jnum(codes, "401"), 1, 0);
	assert_int_equal(json_object_size(codes), 2);
	json_decref(o);
}

static void
test_throughput(void **state)
{
	double	rps = stats_throughput_rps(1000, MS(1246.66));

	assert_near(round(rps * 100) / 100, 802.14, 1e-9);
	assert_near(stats_throughput_rps(1000, 0), -1, 0);
	assert_near(stats_throughput_rps(1000, -5), -1, 0);
	assert_near(stats_error_rate(0, 0), -1, 0);
}

/*
 * Open loop at 10/s for 1 s on one connection: the first response stalls
 * 500 ms and the queued ones then take 1 ms each. Latency from the
 * intended send time shows the queueing; from the actual send it hides it.
 */
static void
test_open_loop_correction(void **state)
{
	const double		 want[10] = { 500, 401, 302, 203, 104, 5, 1, 1,
				     1, 1 };
	struct stats_samples	 corrected, service, lag;
	struct stats_summary	 sum;
	int64_t			 free_at = 0, intended, sent, done;
	size_t			 i;

	assert_int_equal(stats_samples_init(&corrected, 10), 0);
	assert_int_equal(stats_samples_init(&service, 10), 0);
	assert_int_equal(stats_samples_init(&lag, 10), 0);
	for (i = 0; i < 10; i++) {
		intended = (int64_t)i * MS(100);
		sent = intended > free_at ? intended : free_at;
		done = sent + (i == 0 ? MS(500) : MS(1));
		free_at = done;
		assert_int_equal(stats_open_loop_record(&corrected, &service,
		    &lag, intended, sent, done), 0);
		assert_near(to_ms((double)corrected.exact[i]), want[i], 1e-9);
	}
	assert_int_equal(stats_summarize(&corrected, &sum), 0);
	assert_near(to_ms(sum.mean_ns), 151.9, 1e-9);
	assert_near(to_ms((double)stats_summary_percentile(&sum,
	    STATS_PCT(90))), 401, 1e-9);
	assert_int_equal(stats_summarize(&service, &sum), 0);
	assert_near(to_ms(sum.mean_ns), 50.9, 1e-9);
	assert_near(to_ms((double)stats_summary_percentile(&sum,
	    STATS_PCT(90))), 1, 1e-9);
	assert_int_equal(stats_summarize(&lag, &sum), 0);
	assert_near(to_ms((double)sum.max_ns), 400, 1e-9);
	stats_samples_free(&corrected);
	stats_samples_free(&service);
	stats_samples_free(&lag);
}

/* Warm-up of one request: the first request is reported apart. */
static void
test_warmup_apart(void **state)
{
	const double		v[] = { 180, 12, 11, 13, 12 };
	struct stats_samples	steady, first;
	struct stats_summary	sum;
	size_t			i;

	assert_int_equal(stats_samples_init(&steady, 5), 0);
	assert_int_equal(stats_samples_init(&first, 1), 0);
	for (i = 0; i < 5; i++)
		assert_int_equal(stats_record(&steady, &first, i == 0,
		    MS(v[i])), 0);
	assert_int_equal(stats_summarize(&steady, &sum), 0);
	assert_int_equal(sum.count, 4);
	assert_near(to_ms(sum.mean_ns), 12.0, 1e-9);
	assert_near(to_ms((double)stats_summary_percentile(&sum,
	    STATS_PCT(50))), 12, 1e-9);
	assert_near(to_ms((double)sum.max_ns), 13, 1e-9);
	assert_int_equal(stats_summarize(&first, &sum), 0);
	assert_int_equal(sum.count, 1);
	assert_near(to_ms((double)sum.max_ns), 180, 1e-9);
	stats_samples_free(&steady);
	stats_samples_free(&first);
}

/* Negative durations and durations longer than the run are rejected. */
static void
test_invalid_durations(void **state)
{
	struct stats_samples	s;
	struct stats_summary	sum;
	json_t			*o;

	assert_int_equal(stats_samples_init(&s, 0), 0);
	stats_samples_set_bound(&s, MS(1000));
	assert_int_equal(stats_samples_add(&s, -MS(5)), -1);
	assert_int_equal(stats_samples_add(&s, MS(10)), 0);
	assert_int_equal(stats_samples_add(&s, MS(1000.001)), -1);
	assert_int_equal(stats_samples_add(&s, MS(20)), 0);
	assert_int_equal(stats_samples_add(&s, -1), -1);
	assert_int_equal(stats_summarize(&s, &sum), 0);
	assert_int_equal(sum.count, 2);
	assert_int_equal(sum.invalid, 3);
	assert_near(to_ms((double)sum.min_ns), 10, 1e-9);
	assert_near(to_ms((double)sum.max_ns), 20, 1e-9);
	assert_near(to_ms(sum.mean_ns), 15, 1e-9);
	o = stats_summary_to_json(&sum);
	assert_near(jnum(o, "invalid"), 3, 0);
	json_decref(o);
	stats_samples_free(&s);
}

/* No samples: every statistic is null and the JSON stays strict. */
static void
test_empty_null(void **state)
{
	static const char *const keys[] = { "min_ms", "max_ms", "mean_ms",
	    "median_ms", "p50_ms", "p90_ms", "p99_ms", "stddev_ms" };
	struct stats_samples	 s;
	json_t			*o, *back;
	char			*text;
	size_t			 i;

	assert_int_equal(stats_samples_init(&s, 0), 0);
	o = stats_samples_to_json(&s);
	assert_non_null(o);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		print_message("key: %s\n", keys[i]);
		assert_true(json_is_null(json_object_get(o, keys[i])));
	}
	assert_near(jnum(o, "count"), 0, 0);
	text = json_dumps(o, STATS_JSON_FLAGS);
	assert_non_null(text);
	assert_null(strstr(text, "nan"));
	assert_null(strstr(text, "NaN"));
	assert_null(strstr(text, "inf"));
	back = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(back);
	json_decref(back);
	free(text);
	json_decref(o);
	stats_samples_free(&s);
	assert_true(json_is_null(stats_ms_json(NAN)));
	assert_true(json_is_null(stats_ms_json(INFINITY)));
}

/* Milliseconds in the JSON keep microseconds and print without noise. */
static void
test_json_microseconds(void **state)
{
	const double	 v[] = { 145, 148, 142, 151, 147, 144, 149, 146, 143,
			     150 };
	struct stats_samples s;
	json_t		*o, *j;
	char		*text;

	fill(&s, v, 10);
	o = stats_samples_to_json(&s);
	text = json_dumps(o, STATS_JSON_FLAGS);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"stddev_ms\":2.872,"));
	assert_non_null(strstr(text, "\"median_ms\":146.5,"));
	free(text);
	json_decref(o);
	stats_samples_free(&s);

	j = stats_ms_json(1234567.0);
	text = json_dumps(j, JSON_ENCODE_ANY | STATS_JSON_FLAGS);
	assert_string_equal(text, "1.235");
	free(text);
	json_decref(j);
}

/* 95% intervals: order statistics for the median, t for the mean. */
static void
test_confidence_intervals(void **state)
{
	const double		v[] = { 145, 148, 142, 151, 147, 144, 149,
				    146, 143, 150 };
	const double		five[] = { 1, 2, 3, 4, 5 };
	struct stats_samples	s;
	struct stats_summary	sum;

	fill(&s, v, 10);
	assert_int_equal(stats_summarize(&s, &sum), 0);
	/* P(Bin(10, 1/2) <= 1) = 11/1024: x(2)..x(9) covers 1 - 22/1024. */
	assert_true(sum.median_ci_valid);
	assert_near(to_ms((double)sum.median_ci_low_ns), 143, 1e-9);
	assert_near(to_ms((double)sum.median_ci_high_ns), 150, 1e-9);
	assert_near(sum.median_ci_level, 1.0 - 22.0 / 1024.0, 1e-9);
	/* Sample stddev sqrt(82.5/9), t(9) = 2.262. */
	assert_true(sum.mean_ci_valid);
	assert_near(to_ms(sum.mean_ci_low_ns), 146.5 - 2.262 *
	    sqrt(82.5 / 9) / sqrt(10), 1e-6);
	assert_near(to_ms(sum.mean_ci_high_ns), 146.5 + 2.262 *
	    sqrt(82.5 / 9) / sqrt(10), 1e-6);
	stats_samples_free(&s);

	/* Five samples cannot give 95% for the median (1 - 2/32 < 0.95). */
	fill(&s, five, 5);
	assert_int_equal(stats_summarize(&s, &sum), 0);
	assert_false(sum.median_ci_valid);
	assert_true(sum.mean_ci_valid);
	stats_samples_free(&s);

	fill(&s, five, 1);
	assert_int_equal(stats_summarize(&s, &sum), 0);
	assert_false(sum.mean_ci_valid);
	stats_samples_free(&s);
}

/* Past STATS_EXACT_MAX samples, percentiles come from the histogram, the
 * report names that source, and count, min, max and mean stay exact. */
static void
test_histogram_mode(void **state)
{
	struct stats_samples	 s;
	struct stats_summary	 sum;
	json_t			*o, *pcts, *p99;
	uint64_t		 n = STATS_EXACT_MAX + 50000, i;
	int64_t			 exact_p99;

	assert_int_equal(stats_samples_init(&s, 0), 0);
	/* Values 1 us .. n us, each once. */
	for (i = 1; i <= n; i++)
		assert_int_equal(stats_samples_add(&s, (int64_t)i * 1000), 0);
	assert_int_equal(stats_summarize(&s, &sum), 0);
	assert_int_equal(sum.count, n);
	assert_false(sum.exact);
	assert_int_equal(sum.min_ns, 1000);
	assert_int_equal(sum.max_ns, (int64_t)n * 1000);
	assert_near(sum.mean_ns, (double)(n + 1) * 500.0, 1e-3);
	exact_p99 = (int64_t)stats_rank(n, STATS_PCT(99)) * 1000;
	assert_near((double)stats_summary_percentile(&sum, STATS_PCT(99)),
	    (double)exact_p99, (double)exact_p99 * 0.001);
	assert_near(sum.median_ns, (double)(n + 1) * 500.0,
	    (double)n * 500.0 * 0.001);

	o = stats_summary_to_json(&sum);
	assert_string_equal(json_string_value(json_object_get(o, "source")),
	    "histogram");
	pcts = json_object_get(o, "percentiles");
	p99 = json_array_get(pcts, 2);
	assert_near(jnum(p99, "p"), 99, 0);
	assert_near(jnum(p99, "count"), (double)n, 0);
	assert_near(jnum(p99, "rank"), (double)stats_rank(n, STATS_PCT(99)),
	    0);
	assert_string_equal(json_string_value(json_object_get(p99,
	    "source")), "histogram");
	json_decref(o);
	stats_samples_free(&s);
}

/* A store sized for a known count drops (and counts) what exceeds it. */
static void
test_bounded_store(void **state)
{
	struct stats_samples	s;

	assert_int_equal(stats_samples_init(&s, 3), 0);
	assert_false(s.has_hist);
	assert_int_equal(stats_samples_add(&s, 1), 0);
	assert_int_equal(stats_samples_add(&s, 2), 0);
	assert_int_equal(stats_samples_add(&s, 3), 0);
	assert_int_equal(stats_samples_add(&s, 4), -1);
	assert_int_equal(s.count, 3);
	assert_int_equal(s.dropped, 1);
	stats_samples_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_spec_stddev_rounded),
		cmocka_unit_test(test_nearest_rank),
		cmocka_unit_test(test_rank_integer_arithmetic),
		cmocka_unit_test(test_json_fields),
		cmocka_unit_test(test_errors_apart),
		cmocka_unit_test(test_errors_by_code),
		cmocka_unit_test(test_throughput),
		cmocka_unit_test(test_open_loop_correction),
		cmocka_unit_test(test_warmup_apart),
		cmocka_unit_test(test_invalid_durations),
		cmocka_unit_test(test_empty_null),
		cmocka_unit_test(test_json_microseconds),
		cmocka_unit_test(test_confidence_intervals),
		cmocka_unit_test(test_histogram_mode),
		cmocka_unit_test(test_bounded_store),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Histogram accuracy: exact below 2048 ns, at most 0.1% relative error
 * from 1 us to one hour, bounded memory whatever the count.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "measured/histogram.h"
#include "measured/stats.h"

#define HOUR_NS		(INT64_C(3600) * 1000000000)
#define MAX_REL_ERROR	0.001

static void
assert_within(int64_t got, int64_t want, double rel)
{
	double	err = fabs((double)got - (double)want) / (double)want;

	if (err > rel)
		fail_msg("got %lld for %lld: relative error %.6f > %.6f",
		    (long long)got, (long long)want, err, rel);
}

/* Values below 2048 ns each have a counter of their own. */
static void
test_exact_low_values(void **state)
{
	struct histogram	h;
	int64_t			v;

	assert_int_equal(histogram_init(&h), 0);
	for (v = 0; v < 2048; v++)
		histogram_record(&h, v);
	for (v = 0; v < 2048; v++)
		assert_int_equal(histogram_value_at_rank(&h,
		    (uint64_t)v + 1), v);
	histogram_free(&h);
}

/*
 * Every value from 1 us to one hour, in steps of 0.7%, reads back within
 * 0.1%. Each is recorded between 0 and the top of the range and read from
 * the middle rank, so that the exact min and max do not clamp it.
 */
static void
test_relative_error_over_range(void **state)
{
	struct histogram	h;
	double			v;
	int64_t			got;
	unsigned		checked = 0;

	assert_int_equal(histogram_init(&h), 0);
	for (v = 1000; v <= (double)HOUR_NS; v *= 1.007) {
		histogram_reset(&h);
		histogram_record(&h, 0);
		histogram_record(&h, (int64_t)v);
		histogram_record(&h, HISTOGRAM_MAX_NS);
		got = histogram_value_at_rank(&h, 2);
		assert_within(got, (int64_t)v, MAX_REL_ERROR);
		checked++;
	}
	assert_true(checked > 3000);
	histogram_free(&h);
}

static int
cmp_int64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Percentiles of a spread of latencies match the exact nearest rank. */
static void
test_percentiles_match_exact(void **state)
{
	static const uint32_t	 pcts[] = { 1000, 25000, 50000, 90000, 99000,
				     99900, 99990, 100000 };
	struct histogram	 h;
	int64_t			*v, want;
	size_t			 n = 200000, i;
	uint64_t		 x = UINT64_C(88172645463325252);

	assert_int_equal(histogram_init(&h), 0);
	v = malloc(n * sizeof(*v));
	assert_non_null(v);
	/* Log-uniform between 50 us and 5 s from a xorshift sequence. */
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v[i] = (int64_t)(50e3 * pow(1e5, (double)(x >> 11) /
		    9007199254740992.0));
		histogram_record(&h, v[i]);
	}
	qsort(v, n, sizeof(*v), cmp_int64);
	assert_int_equal(h.total, n);
	assert_int_equal(h.min_ns, v[0]);
	assert_int_equal(h.max_ns, v[n - 1]);
	for (i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		want = stats_nearest_rank(v, n, pcts[i]);
		print_message("p%.3f: want %lld\n", pcts[i] / 1000.0,
		    (long long)want);
		assert_within(histogram_value_at_rank(&h,
		    stats_rank(n, pcts[i])), want, MAX_REL_ERROR);
	}
	free(v);
	histogram_free(&h);
}

/* Memory does not grow with the count of recorded values. */
static void
test_memory_bounded(void **state)
{
	struct histogram	h;
	size_t			before;
	int64_t			i;

	assert_int_equal(histogram_init(&h), 0);
	before = histogram_memory_bytes(&h);
	assert_true(before < 300 * 1024);
	for (i = 0; i < 3000000; i++)
		histogram_record(&h, (i * 7919) % HOUR_NS);
	assert_int_equal(histogram_memory_bytes(&h), before);
	assert_int_equal(h.total, 3000000);
	histogram_free(&h);
}

/* Values past the range are counted, and min and max stay exact. */
static void
test_overflow_counted(void **state)
{
	struct histogram	h;

	assert_int_equal(histogram_init(&h), 0);
	histogram_record(&h, 1000);
	histogram_record(&h, 2 * HOUR_NS);
	histogram_record(&h, -5);
	assert_int_equal(h.total, 3);
	assert_int_equal(h.overflow, 1);
	assert_int_equal(h.max_ns, 2 * HOUR_NS);
	assert_int_equal(h.min_ns, 0);
	assert_int_equal(histogram_value_at_rank(&h, 3), 2 * HOUR_NS);
	assert_int_equal(histogram_value_at_rank(&h, 2), 1000);
	assert_int_equal(histogram_value_at_rank(&h, 4), -1);
	assert_int_equal(histogram_value_at_rank(&h, 0), -1);
	assert_true(HISTOGRAM_MAX_NS >= HOUR_NS);
	histogram_free(&h);
}

/* 1 us and one hour, the ends of the required range, read back within
 * 0.1% from a mixed population. */
static void
test_range_ends(void **state)
{
	struct histogram	h;
	int			i;

	assert_int_equal(histogram_init(&h), 0);
	for (i = 0; i < 10; i++)
		histogram_record(&h, 1000);
	for (i = 0; i < 10; i++)
		histogram_record(&h, HOUR_NS / 2);
	for (i = 0; i < 10; i++)
		histogram_record(&h, HOUR_NS);
	assert_within(histogram_value_at_rank(&h, 5), 1000, MAX_REL_ERROR);
	assert_within(histogram_value_at_rank(&h, 15), HOUR_NS / 2,
	    MAX_REL_ERROR);
	assert_within(histogram_value_at_rank(&h, 25), HOUR_NS,
	    MAX_REL_ERROR);
	histogram_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_low_values),
		cmocka_unit_test(test_relative_error_over_range),
		cmocka_unit_test(test_percentiles_match_exact),
		cmocka_unit_test(test_memory_bounded),
		cmocka_unit_test(test_overflow_counted),
		cmocka_unit_test(test_range_ends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

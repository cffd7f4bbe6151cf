/*
 * Latency statistics: nearest-rank percentiles, population stddev, 95%
 * intervals, errors by kind, and their JSON report.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static const char *const error_kind_names[STATS_ERROR_KIND_COUNT] = {
	[STATS_ERROR_DNS] = "dns",
	[STATS_ERROR_CONNECT] = "connect",
	[STATS_ERROR_TLS] = "tls",
	[STATS_ERROR_TIMEOUT] = "timeout",
	[STATS_ERROR_HTTP_STATUS] = "http_status",
	[STATS_ERROR_CONTRACT] = "contract",
	[STATS_ERROR_CLOSED] = "closed",
	[STATS_ERROR_PROTOCOL] = "protocol",
	[STATS_ERROR_OTHER] = "other",
};

/* The percentiles every summary carries, in thousandths of a percent. */
static const uint32_t summary_pcts[STATS_NPCT] = {
	50000, 90000, 99000, 99900
};

/* Two-sided 95% critical values of Student's t for 1..30 degrees of
 * freedom, from the standard t table. */
static const double t975_table[30] = {
	12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
	2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093,
	2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045,
	2.042
};

const char *
stats_error_kind_name(enum stats_error_kind kind)
{
	if ((unsigned)kind >= STATS_ERROR_KIND_COUNT)
		return "other";
	return error_kind_names[kind];
}

void
stats_errors_add(struct stats_errors *e, enum stats_error_kind kind,
    int http_status)
{
	if ((unsigned)kind >= STATS_ERROR_KIND_COUNT)
		kind = STATS_ERROR_OTHER;
	e->kind[kind]++;
	if (kind == STATS_ERROR_HTTP_STATUS && http_status >= 0 &&
	    http_status < (int)(sizeof(e->http_status) /
	    sizeof(e->http_status[0])))
		e->http_status[http_status]++;
}

uint64_t
stats_errors_total(const struct stats_errors *e)
{
	uint64_t	total = 0;
	int		i;

	for (i = 0; i < STATS_ERROR_KIND_COUNT; i++)
		total += e->kind[i];
	return total;
}

/* Builds {"dns": n, ..., "http_status_codes": {"503": n}}. */
json_t *
stats_errors_to_json(const struct stats_errors *e)
{
	json_t	*obj, *codes;
	char	 key[8];
	size_t	 i;
	int	 n;

	if ((obj = json_object()) == NULL)
		return NULL;
	for (i = 0; i < STATS_ERROR_KIND_COUNT; i++) {
		if (json_object_set_new(obj, error_kind_names[i],
		    json_integer((json_int_t)e->kind[i])) == -1)
			goto fail;
	}
	if ((codes = json_object()) == NULL ||
	    json_object_set_new(obj, "http_status_codes", codes) == -1)
		goto fail;
	for (i = 0; i < sizeof(e->http_status) / sizeof(e->http_status[0]);
	    i++) {
		if (e->http_status[i] == 0)
			continue;
		n = snprintf(key, sizeof(key), "%zu", i);
		if (n < 0 || (size_t)n >= sizeof(key))
			goto fail;
		if (json_object_set_new(codes, key,
		    json_integer((json_int_t)e->http_status[i])) == -1)
			goto fail;
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

/*
 * Allocates storage for a measurement of at most expected_max samples
 * (0: unknown). Up to STATS_EXACT_MAX are kept exactly; a larger or unknown
 * maximum also gets a histogram, so memory stays bounded either way.
 */
int
stats_samples_init(struct stats_samples *s, uint64_t expected_max)
{
	memset(s, 0, sizeof(*s));
	s->exact_cap = STATS_EXACT_MAX;
	if (expected_max > 0 && expected_max < STATS_EXACT_MAX)
		s->exact_cap = (size_t)expected_max;
	s->exact = calloc(s->exact_cap, sizeof(*s->exact));
	if (s->exact == NULL)
		return -1;
	if (expected_max == 0 || expected_max > STATS_EXACT_MAX) {
		if (histogram_init(&s->hist) == -1) {
			free(s->exact);
			s->exact = NULL;
			return -1;
		}
		s->has_hist = 1;
	}
	s->min_ns = INT64_MAX;
	return 0;
}

void
stats_samples_free(struct stats_samples *s)
{
	free(s->exact);
	s->exact = NULL;
	if (s->has_hist)
		histogram_free(&s->hist);
	s->has_hist = 0;
}

void
stats_samples_set_bound(struct stats_samples *s, int64_t bound_ns)
{
	s->bound_ns = bound_ns;
}

/*
 * Adds one duration. Returns -1 for a negative duration or one above the
 * bound (counted as invalid, never reported) and for a sample beyond the
 * storage (counted as dropped). Allocates nothing.
 */
int
stats_samples_add(struct stats_samples *s, int64_t ns)
{
	double	delta;

	if (ns < 0 || (s->bound_ns > 0 && ns > s->bound_ns)) {
		s->invalid++;
		return -1;
	}
	if (s->exact_len < s->exact_cap)
		s->exact[s->exact_len++] = ns;
	else if (!s->has_hist) {
		s->dropped++;
		return -1;
	}
	if (s->has_hist)
		histogram_record(&s->hist, ns);

	s->count++;
	if (ns < s->min_ns)
		s->min_ns = ns;
	if (ns > s->max_ns)
		s->max_ns = ns;
	delta = (double)ns - s->run_mean;
	s->run_mean += delta / (double)s->count;
	s->run_m2 += delta * ((double)ns - s->run_mean);
	return 0;
}

/* Adds a request's duration to the warm-up samples when it was the first
 * on its connection, else to the steady samples. */
int
stats_record(struct stats_samples *steady, struct stats_samples *first,
    int is_first, int64_t ns)
{
	return stats_samples_add(is_first ? first : steady, ns);
}

/*
 * Adds one open-loop request: latency from its intended send time (which
 * corrects coordinated omission), service time from its actual send time,
 * and the send lag. Returns -1 when any of the three was rejected.
 */
int
stats_open_loop_record(struct stats_samples *corrected,
    struct stats_samples *service, struct stats_samples *send_lag,
    int64_t intended_ns, int64_t sent_ns, int64_t done_ns)
{
	int	rc = 0;

	if (stats_samples_add(corrected, done_ns - intended_ns) == -1)
		rc = -1;
	if (stats_samples_add(service, done_ns - sent_ns) == -1)
		rc = -1;
	if (stats_samples_add(send_lag, sent_ns - intended_ns) == -1)
		rc = -1;
	return rc;
}

/*
 * Returns the nearest rank ceil(p * n / STATS_PCT_SCALE), at least 1, in
 * integer arithmetic: n is split by the scale so that no product
 * overflows. Returns 0 for n = 0.
 */
uint64_t
stats_rank(uint64_t n, uint32_t p)
{
	uint64_t	q, r, rank;

	if (n == 0)
		return 0;
	if (p > STATS_PCT_SCALE)
		p = STATS_PCT_SCALE;
	q = n / STATS_PCT_SCALE;
	r = n % STATS_PCT_SCALE;
	rank = q * p + (r * p + STATS_PCT_SCALE - 1) / STATS_PCT_SCALE;
	if (rank == 0)
		rank = 1;
	return rank;
}

/* Returns the nearest-rank percentile of sorted samples, -1 if none. */
int64_t
stats_nearest_rank(const int64_t *sorted, size_t n, uint32_t p)
{
	if (n == 0)
		return -1;
	return sorted[stats_rank(n, p) - 1];
}

static int
cmp_int64(const void *a, const void *b)
{
	int64_t	x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Returns the two-sided 95% critical value of Student's t; past 30
 * degrees of freedom, the Cornish-Fisher expansion around z. */
static double
t975(uint64_t df)
{
	const double	z = 1.959963984540054;
	double		v, z3, z5, z7;

	if (df == 0)
		return NAN;
	if (df <= 30)
		return t975_table[df - 1];
	v = (double)df;
	z3 = z * z * z;
	z5 = z3 * z * z;
	z7 = z5 * z * z;
	return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) /
	    (96 * v * v) + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) /
	    (384 * v * v * v);
}

/*
 * Sets the 95% interval of the median [x(j), x(n-j+1)] with the largest j
 * for which P(Binomial(n, 1/2) <= j-1) <= 0.025. No such j exists below
 * six samples, and the interval stays unset.
 */
static void
median_interval(const int64_t *sorted, size_t n, struct stats_summary *out)
{
	double	logpmf, cdf = 0, tail = 0;
	size_t	j = 0, k;

	/* log P(B = 0) = n log(1/2); the pmf then grows by (n-k)/(k+1). */
	logpmf = -(double)n * M_LN2;
	for (k = 0; k < n / 2; k++) {
		cdf += exp(logpmf);
		if (cdf > 0.025)
			break;
		j = k + 1;
		tail = cdf;
		logpmf += log((double)(n - k)) - log((double)(k + 1));
	}
	if (j == 0)
		return;
	out->median_ci_valid = 1;
	out->median_ci_low_ns = sorted[j - 1];
	out->median_ci_high_ns = sorted[n - j];
	out->median_ci_level = 1.0 - 2.0 * tail;
}

/* Sets the statistics of exactly stored samples from a sorted copy. */
static int
summarize_exact(const struct stats_samples *s, struct stats_summary *out)
{
	int64_t		*sorted;
	long double	 sum = 0, m2 = 0, d, mean;
	size_t		 n = s->exact_len, i;
	double		 sd;

	if ((sorted = malloc(n * sizeof(*sorted))) == NULL)
		return -1;
	memcpy(sorted, s->exact, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_int64);

	/* Two passes: the mean first, then squared deviations from it. */
	for (i = 0; i < n; i++)
		sum += sorted[i];
	mean = sum / (long double)n;
	for (i = 0; i < n; i++) {
		d = (long double)sorted[i] - mean;
		m2 += d * d;
	}
	out->mean_ns = (double)mean;
	out->stddev_ns = sqrt((double)(m2 / (long double)n));
	if (n % 2 == 1)
		out->median_ns = (double)sorted[n / 2];
	else
		out->median_ns = ((double)sorted[n / 2 - 1] +
		    (double)sorted[n / 2]) / 2.0;
	for (i = 0; i < STATS_NPCT; i++) {
		out->pct[i].rank = stats_rank(n, out->pct[i].p);
		out->pct[i].value_ns = sorted[out->pct[i].rank - 1];
	}

	median_interval(sorted, n, out);
	if (n >= 2) {
		sd = sqrt((double)(m2 / (long double)(n - 1)));
		out->mean_ci_valid = 1;
		out->mean_ci_low_ns = out->mean_ns -
		    t975(n - 1) * sd / sqrt((double)n);
		out->mean_ci_high_ns = out->mean_ns +
		    t975(n - 1) * sd / sqrt((double)n);
	}
	free(sorted);
	return 0;
}

/* Sets the statistics of a run too large to keep: percentiles and median
 * from the histogram, mean and stddev from the running sums. */
static void
summarize_histogram(const struct stats_samples *s, struct stats_summary *out)
{
	uint64_t	n = s->count;
	size_t		i;

	out->mean_ns = s->run_mean;
	out->stddev_ns = sqrt(s->run_m2 / (double)n);
	if (n % 2 == 1)
		out->median_ns = (double)histogram_value_at_rank(&s->hist,
		    n / 2 + 1);
	else
		out->median_ns = ((double)histogram_value_at_rank(&s->hist,
		    n / 2) + (double)histogram_value_at_rank(&s->hist,
		    n / 2 + 1)) / 2.0;
	for (i = 0; i < STATS_NPCT; i++) {
		out->pct[i].rank = stats_rank(n, out->pct[i].p);
		out->pct[i].value_ns = histogram_value_at_rank(&s->hist,
		    out->pct[i].rank);
	}
}

/* Computes the statistics of a set of samples; the samples stay as they
 * are. Returns -1 when memory for the sorted copy is missing. */
int
stats_summarize(const struct stats_samples *s, struct stats_summary *out)
{
	size_t	i;

	memset(out, 0, sizeof(*out));
	out->count = s->count;
	out->invalid = s->invalid;
	out->dropped = s->dropped;
	for (i = 0; i < STATS_NPCT; i++) {
		out->pct[i].p = summary_pcts[i];
		out->pct[i].value_ns = -1;
	}
	if (s->count == 0)
		return 0;
	out->min_ns = s->min_ns;
	out->max_ns = s->max_ns;
	out->exact = s->count == s->exact_len;
	if (out->exact)
		return summarize_exact(s, out);
	summarize_histogram(s, out);
	return 0;
}

/* Returns one of the summary's percentiles, -1 if absent or empty. */
int64_t
stats_summary_percentile(const struct stats_summary *sum, uint32_t p)
{
	size_t	i;

	if (sum->count == 0)
		return -1;
	for (i = 0; i < STATS_NPCT; i++)
		if (sum->pct[i].p == p)
			return sum->pct[i].value_ns;
	return -1;
}

/* Returns successful requests per second of the interval, -1 when the
 * interval is not positive. */
double
stats_throughput_rps(uint64_t succeeded, int64_t duration_ns)
{
	if (duration_ns <= 0)
		return -1;
	return (double)succeeded * 1e9 / (double)duration_ns;
}

/* Returns failed / attempted, -1 when nothing was attempted. */
double
stats_error_rate(uint64_t failed, uint64_t attempted)
{
	if (attempted == 0)
		return -1;
	return (double)failed / (double)attempted;
}

/* Converts ns to a JSON number of milliseconds rounded to the
 * microsecond, or null when the value is not finite. */
json_t *
stats_ms_json(double ns)
{
	if (!isfinite(ns))
		return json_null();
	return json_real((double)llround(ns / 1e3) / 1e3);
}

static json_t *
pct_json(uint32_t p)
{
	if (p % 1000 == 0)
		return json_integer(p / 1000);
	return json_real((double)p / 1000.0);
}

/* Builds the detail of every percentile: rank, sample count, source. */
static json_t *
percentiles_json(const struct stats_summary *sum)
{
	json_t	*arr, *o;
	size_t	 i;

	if ((arr = json_array()) == NULL)
		return NULL;
	for (i = 0; i < STATS_NPCT && sum->count > 0; i++) {
		o = json_pack("{s:o s:I s:I s:o s:s}",
		    "p", pct_json(sum->pct[i].p),
		    "rank", (json_int_t)sum->pct[i].rank,
		    "count", (json_int_t)sum->count,
		    "value_ms", stats_ms_json((double)sum->pct[i].value_ns),
		    "source", sum->exact ? "exact" : "histogram");
		if (o == NULL || json_array_append_new(arr, o) == -1) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *
intervals_json(const struct stats_summary *sum, json_t **mean_ci)
{
	json_t	*median_ci;

	*mean_ci = json_null();
	median_ci = json_null();
	if (sum->median_ci_valid)
		median_ci = json_pack("{s:o s:o s:f s:s}",
		    "low_ms", stats_ms_json((double)sum->median_ci_low_ns),
		    "high_ms", stats_ms_json((double)sum->median_ci_high_ns),
		    "level", round(sum->median_ci_level * 1e4) / 1e4,
		    "method", "binomial order statistics");
	if (sum->mean_ci_valid)
		*mean_ci = json_pack("{s:o s:o s:f s:s}",
		    "low_ms", stats_ms_json(sum->mean_ci_low_ns),
		    "high_ms", stats_ms_json(sum->mean_ci_high_ns),
		    "level", 0.95,
		    "method", "student-t");
	return median_ci;
}

/*
 * Builds the statistics object of the wire shape (min_ms, max_ms, mean_ms,
 * median_ms, p50_ms, p90_ms, p99_ms, stddev_ms) with the count, methods,
 * sources and intervals. An empty summary gives null values.
 */
json_t *
stats_summary_to_json(const struct stats_summary *sum)
{
	json_t	*o, *median_ci, *mean_ci, *pcts;
	int	 empty = sum->count == 0;

	median_ci = intervals_json(sum, &mean_ci);
	pcts = percentiles_json(sum);
	o = json_pack("{s:I s:o s:o s:o s:o s:o s:o s:o s:o s:o"
	    " s:s s:s s:s s:I s:I s:o s:o s:o}",
	    "count", (json_int_t)sum->count,
	    "min_ms", empty ? json_null() : stats_ms_json((double)sum->min_ns),
	    "max_ms", empty ? json_null() : stats_ms_json((double)sum->max_ns),
	    "mean_ms", empty ? json_null() : stats_ms_json(sum->mean_ns),
	    "median_ms", empty ? json_null() : stats_ms_json(sum->median_ns),
	    "p50_ms", empty ? json_null() :
	    stats_ms_json((double)sum->pct[0].value_ns),
	    "p90_ms", empty ? json_null() :
	    stats_ms_json((double)sum->pct[1].value_ns),
	    "p99_ms", empty ? json_null() :
	    stats_ms_json((double)sum->pct[2].value_ns),
	    "p99_9_ms", empty ? json_null() :
	    stats_ms_json((double)sum->pct[3].value_ns),
	    "stddev_ms", empty ? json_null() : stats_ms_json(sum->stddev_ns),
	    "percentile_method", "nearest-rank",
	    "stddev_kind", "population",
	    "source", sum->exact || empty ? "exact" : "histogram",
	    "invalid", (json_int_t)sum->invalid,
	    "dropped", (json_int_t)sum->dropped,
	    "percentiles", pcts,
	    "median_ci95", median_ci,
	    "mean_ci95", mean_ci);
	return o;
}

/* Summarizes a set of samples and builds its statistics object. */
json_t *
stats_samples_to_json(const struct stats_samples *s)
{
	struct stats_summary	sum;

	if (stats_summarize(s, &sum) == -1)
		return NULL;
	return stats_summary_to_json(&sum);
}

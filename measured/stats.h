/*
 * Latency statistics of one measurement: samples in integer nanoseconds,
 * errors counted by kind apart from them, and the JSON report in
 * milliseconds with microsecond resolution.
 *
 * Definitions, pinned by tests/unit/test_stats.c:
 * - median: the middle sample, or the mean of the two middle samples;
 * - pNN: nearest rank, the ceil(NN/100 * n)-th smallest sample, with the
 *   rank computed in integers (percentiles in thousandths of a percent);
 * - stddev: population standard deviation;
 * - up to exact_cap samples are kept, and every statistic is exact. Past
 *   that, percentiles and the median come from a histogram (relative error
 *   at most 0.05%). Count, min and max stay exact, and mean and stddev come
 *   from running sums.
 */
#ifndef STATS_H
#define STATS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "histogram.h"

/* Samples kept exactly by default; a run with more adds a histogram. */
#define STATS_EXACT_MAX		100000

/* Percentiles in thousandths of a percent: 99.9% is 99900. */
#define STATS_PCT_SCALE		100000
#define STATS_PCT(whole)	((uint32_t)(whole) * 1000)

/* Dump flags that print every millisecond value without binary noise
 * (2.872, not 2.8719999999999999). */
#define STATS_JSON_FLAGS	(JSON_COMPACT | JSON_REAL_PRECISION(15))

enum stats_error_kind {
	STATS_ERROR_DNS,
	STATS_ERROR_CONNECT,
	STATS_ERROR_TLS,
	STATS_ERROR_TIMEOUT,
	STATS_ERROR_HTTP_STATUS,	/* a status other than the expected */
	STATS_ERROR_CONTRACT,		/* a response that fails the contract */
	STATS_ERROR_CLOSED,		/* peer closed or reset mid-request */
	STATS_ERROR_PROTOCOL,		/* response that is not valid HTTP */
	STATS_ERROR_OTHER,
	STATS_ERROR_KIND_COUNT
};

/* Errors of one measurement, by kind and, for http_status, by code. */
struct stats_errors {
	uint64_t	kind[STATS_ERROR_KIND_COUNT];
	uint64_t	http_status[600];
};

/* Samples of one measurement, stored in memory allocated by init. */
struct stats_samples {
	int64_t		*exact;
	size_t		 exact_cap;
	size_t		 exact_len;
	struct histogram hist;
	int		 has_hist;
	uint64_t	 count;
	/* Rejected: negative or longer than bound_ns. */
	uint64_t	 invalid;
	/* Beyond exact_cap with no histogram (init with a known max). */
	uint64_t	 dropped;
	/* Maximum valid duration in ns; 0 accepts any non-negative one. */
	int64_t		 bound_ns;
	int64_t		 min_ns;
	int64_t		 max_ns;
	/* Welford's running mean and sum of squared deviations, in ns. */
	double		 run_mean;
	double		 run_m2;
};

#define STATS_NPCT	4	/* p50, p90, p99, p99.9 */

struct stats_percentile {
	uint32_t	p;		/* thousandths of a percent */
	uint64_t	rank;		/* 1-based rank among count samples */
	int64_t		value_ns;
};

/* Statistics computed from a stats_samples; count 0 means no values. */
struct stats_summary {
	uint64_t	count;
	uint64_t	invalid;
	uint64_t	dropped;
	int		exact;		/* 0: percentiles from the histogram */
	int64_t		min_ns;
	int64_t		max_ns;
	double		mean_ns;
	double		median_ns;
	double		stddev_ns;	/* population */
	struct stats_percentile pct[STATS_NPCT];
	/* 95% interval of the median from order statistics (binomial). */
	int		median_ci_valid;
	int64_t		median_ci_low_ns;
	int64_t		median_ci_high_ns;
	double		median_ci_level;	/* achieved coverage >= 0.95 */
	/* 95% interval of the mean from Student's t, sample stddev. */
	int		mean_ci_valid;
	double		mean_ci_low_ns;
	double		mean_ci_high_ns;
};

const char *stats_error_kind_name(enum stats_error_kind kind);
void	stats_errors_add(struct stats_errors *e, enum stats_error_kind kind,
	    int http_status);
uint64_t stats_errors_total(const struct stats_errors *e);
json_t	*stats_errors_to_json(const struct stats_errors *e);

int	stats_samples_init(struct stats_samples *s, uint64_t expected_max);
void	stats_samples_free(struct stats_samples *s);
void	stats_samples_set_bound(struct stats_samples *s, int64_t bound_ns);
int	stats_samples_add(struct stats_samples *s, int64_t ns);
int	stats_record(struct stats_samples *steady, struct stats_samples *first,
	    int is_first, int64_t ns);
int	stats_open_loop_record(struct stats_samples *corrected,
	    struct stats_samples *service, struct stats_samples *send_lag,
	    int64_t intended_ns, int64_t sent_ns, int64_t done_ns);

uint64_t stats_rank(uint64_t n, uint32_t p);
int64_t	stats_nearest_rank(const int64_t *sorted, size_t n, uint32_t p);
int	stats_summarize(const struct stats_samples *s,
	    struct stats_summary *out);
int64_t	stats_summary_percentile(const struct stats_summary *sum, uint32_t p);

double	stats_throughput_rps(uint64_t succeeded, int64_t duration_ns);
double	stats_error_rate(uint64_t failed, uint64_t attempted);

json_t	*stats_ms_json(double ns);
json_t	*stats_summary_to_json(const struct stats_summary *sum);
json_t	*stats_samples_to_json(const struct stats_samples *s);

#endif

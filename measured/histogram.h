/*
 * Latency histogram of bounded memory with HdrHistogram's log-linear bucket
 * layout. Values below 2048 ns are counted exactly. Above, every power of
 * two is split into 1024 equal sub-buckets, so a bucket is never wider than
 * 1/1024 of its lowest value. Reading a bucket back as its midpoint is
 * within 1/2048 (0.049%) of every value counted in it.
 */
#ifndef HISTOGRAM_H
#define HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

/* log2 of the sub-buckets per power of two, times two (2048 = 2^11). */
#define HISTOGRAM_SUB_BUCKET_BITS	11
/* Largest value counted in its own bucket: 2^42 - 1 ns, about 73 min. */
#define HISTOGRAM_MAX_NS		((INT64_C(1) << 42) - 1)

struct histogram {
	uint64_t	*counts;
	size_t		 counts_len;
	uint64_t	 total;
	/* Values above HISTOGRAM_MAX_NS, counted in the top bucket. */
	uint64_t	 overflow;
	int64_t		 min_ns;
	int64_t		 max_ns;
};

int	histogram_init(struct histogram *h);
void	histogram_free(struct histogram *h);
void	histogram_reset(struct histogram *h);
void	histogram_record(struct histogram *h, int64_t value_ns);
int64_t	histogram_value_at_rank(const struct histogram *h, uint64_t rank);
size_t	histogram_memory_bytes(const struct histogram *h);

#endif

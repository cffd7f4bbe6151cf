/*
 * Log-linear latency histogram, the layout of HdrHistogram with a unit of
 * 1 ns and three significant decimal digits.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "histogram.h"

#define SUB_BUCKET_COUNT	(UINT64_C(1) << HISTOGRAM_SUB_BUCKET_BITS)
#define SUB_BUCKET_HALF_BITS	(HISTOGRAM_SUB_BUCKET_BITS - 1)
#define SUB_BUCKET_HALF		(UINT64_C(1) << SUB_BUCKET_HALF_BITS)
#define SUB_BUCKET_MASK		(SUB_BUCKET_COUNT - 1)
/* Buckets 0..31 cover values up to 2^42 - 1. */
#define BUCKET_COUNT		(42 - HISTOGRAM_SUB_BUCKET_BITS + 1)
#define COUNTS_LEN \
	((size_t)(BUCKET_COUNT + 1) << SUB_BUCKET_HALF_BITS)

/* Maps a value in [0, HISTOGRAM_MAX_NS] to its counter. */
static size_t
counts_index(uint64_t v)
{
	int	bucket, sub;

	bucket = 64 - __builtin_clzll(v | SUB_BUCKET_MASK) -
	    HISTOGRAM_SUB_BUCKET_BITS;
	sub = (int)(v >> bucket);
	return ((size_t)(bucket + 1) << SUB_BUCKET_HALF_BITS) +
	    (size_t)sub - SUB_BUCKET_HALF;
}

/* Returns the midpoint of the values counted at one index. */
static int64_t
index_midpoint(size_t idx)
{
	int		bucket;
	uint64_t	sub, lowest, width;

	bucket = (int)(idx >> SUB_BUCKET_HALF_BITS) - 1;
	sub = (idx & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
	if (bucket < 0) {
		sub -= SUB_BUCKET_HALF;
		bucket = 0;
	}
	lowest = sub << bucket;
	width = UINT64_C(1) << bucket;
	return (int64_t)(lowest + width / 2);
}

int
histogram_init(struct histogram *h)
{
	memset(h, 0, sizeof(*h));
	h->counts = calloc(COUNTS_LEN, sizeof(*h->counts));
	if (h->counts == NULL)
		return -1;
	h->counts_len = COUNTS_LEN;
	h->min_ns = INT64_MAX;
	h->max_ns = 0;
	return 0;
}

void
histogram_free(struct histogram *h)
{
	free(h->counts);
	h->counts = NULL;
	h->counts_len = 0;
}

void
histogram_reset(struct histogram *h)
{
	if (h->counts != NULL)
		memset(h->counts, 0, h->counts_len * sizeof(*h->counts));
	h->total = 0;
	h->overflow = 0;
	h->min_ns = INT64_MAX;
	h->max_ns = 0;
}

/* Counts one value; negative values count as 0 and values above the range
 * in the top bucket, with min and max kept exact either way. */
void
histogram_record(struct histogram *h, int64_t value_ns)
{
	uint64_t	v;

	if (value_ns < 0)
		value_ns = 0;
	v = (uint64_t)value_ns;
	if (value_ns > HISTOGRAM_MAX_NS) {
		h->overflow++;
		v = (uint64_t)HISTOGRAM_MAX_NS;
	}
	h->counts[counts_index(v)]++;
	h->total++;
	if (value_ns < h->min_ns)
		h->min_ns = value_ns;
	if (value_ns > h->max_ns)
		h->max_ns = value_ns;
}

/*
 * Returns the value of the rank-th smallest sample (rank counted from 1) as
 * the midpoint of its bucket, clamped to the exact min and max. A rank in
 * the top bucket reads as the max once a value went past the range.
 * Returns -1 when the rank is 0 or beyond the count.
 */
int64_t
histogram_value_at_rank(const struct histogram *h, uint64_t rank)
{
	uint64_t	seen = 0;
	int64_t		v;
	size_t		i;

	if (rank == 0 || rank > h->total)
		return -1;
	for (i = 0; i < h->counts_len; i++) {
		seen += h->counts[i];
		if (seen >= rank)
			break;
	}
	if (i == h->counts_len)
		return -1;
	/* Past the range, only the exact max is known about the values. */
	if (i == counts_index((uint64_t)HISTOGRAM_MAX_NS) && h->overflow > 0)
		return h->max_ns;
	v = index_midpoint(i);
	if (v < h->min_ns)
		v = h->min_ns;
	if (v > h->max_ns)
		v = h->max_ns;
	return v;
}

size_t
histogram_memory_bytes(const struct histogram *h)
{
	return sizeof(*h) + h->counts_len * sizeof(*h->counts);
}

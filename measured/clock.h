/*
 * Monotonic time in integer nanoseconds, read at the send and completion
 * points of every measured request. CLOCK_MONOTONIC is not set back by NTP
 * steps, so a difference of two readings is never negative.
 */
#ifndef CLOCK_H
#define CLOCK_H

#include <stdint.h>
#include <time.h>

#define CLOCK_NS_PER_US	INT64_C(1000)
#define CLOCK_NS_PER_MS	INT64_C(1000000)
#define CLOCK_NS_PER_S	INT64_C(1000000000)

/* Returns CLOCK_MONOTONIC in ns; on Linux a vDSO call, no system call. */
static inline int64_t
clock_now_ns(void)
{
	struct timespec	ts;

	/* clock_gettime() fails only for an invalid clock id or pointer. */
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * CLOCK_NS_PER_S + ts.tv_nsec;
}

#endif

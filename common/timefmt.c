/* RFC 3339 timestamps in UTC. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "timefmt.h"

char *
timefmt_utc(char *buf, size_t size, time_t t)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

char *
timefmt_now(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char base[TIMEFMT_MAX];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03dZ", base, (int)(ts.tv_nsec / 1000000));
	return buf;
}

int
timefmt_parse(const char *s, time_t *t)
{
	struct tm tm;
	const char *p;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (p == NULL)
		return -1;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (strcmp(p, "Z") != 0)
		return -1;
	*t = timegm(&tm);
	return 0;
}

/* RFC 3339 timestamps in UTC, as the state files and the API carry them. */
#ifndef TIMEFMT_H
#define TIMEFMT_H

#include <stddef.h>
#include <time.h>

#define TIMEFMT_MAX	32	/* bytes of "2026-01-24T14:20:00Z" and NUL */

/* Writes t as "YYYY-MM-DDTHH:MM:SSZ". */
char	*timefmt_utc(char *buf, size_t size, time_t t);
/* Writes the current time with milliseconds, "...SS.mmmZ". */
char	*timefmt_now(char *buf, size_t size);
/* Parses "YYYY-MM-DDTHH:MM:SS[.frac]Z"; -1 when it is not that form. */
int	 timefmt_parse(const char *s, time_t *t);

#endif

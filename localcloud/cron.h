/*
 * Five-field unix-cron schedules as Cloud Scheduler takes them: minute
 * (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC) and
 * day of week (0-7 or SUN-SAT, 7 is Sunday). Each field is "*", a number,
 * a range "a-b", a step "*\/n" or "a-b/n", or a comma list of those.
 * There is no seconds field, and Quartz's "?", "L", "W" and "#" are
 * rejected. When both day fields are restricted, a day matches either, as
 * in Vixie cron.
 */
#ifndef LOCALCLOUD_CRON_H
#define LOCALCLOUD_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Maximum length of a time-zone name, in bytes. */
#define CRON_ZONE_MAX	64

struct cron {
	uint64_t	minutes;	/* bit n: minute n */
	uint32_t	hours;
	uint32_t	days;		/* bit n: day n of the month, 1-31 */
	uint32_t	months;		/* bit n: month n, 1-12 */
	uint32_t	weekdays;	/* bit n: day n of the week, Sunday 0 */
	int		days_any;	/* day-of-month field starts with '*' */
	int		weekdays_any;
};

int	cron_parse(const char *text, struct cron *cron, char *err,
	    size_t errlen);
int	cron_valid_zone(const char *zone);
int	cron_next(const struct cron *cron, const char *zone, time_t after,
	    time_t *next);

#endif

/* unix-cron parsing and next-run computation in an IANA time zone. */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cron.h"

/* How far ahead a next run is searched, in days: a Feb 29 schedule may
 * wait eight years (2096 to 2104). */
#define CRON_SEARCH_DAYS	(366 * 8 + 2)
#define CRON_FIELD_MAX		256	/* bytes of one field */

struct field_spec {
	const char		*name;
	int			 min;
	int			 max;
	const char *const	*names;	/* names for min, min+1, ..., or NULL */
};

static const char *const month_names[] = {
	"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
	"NOV", "DEC", NULL
};
static const char *const weekday_names[] = {
	"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL
};

static const struct field_spec fields[5] = {
	{ "minute", 0, 59, NULL },
	{ "hour", 0, 23, NULL },
	{ "day-of-month", 1, 31, NULL },
	{ "month", 1, 12, month_names },
	{ "day-of-week", 0, 7, weekday_names },
};

/* Reads a number or a name at *p and advances *p past it. */
static int
parse_value(const char **p, const struct field_spec *f, int *out)
{
	const char *s = *p;
	char *end;
	long v;
	int i;

	if (isdigit((unsigned char)*s)) {
		errno = 0;
		v = strtol(s, &end, 10);
		if (errno != 0 || end - s > 2 || v < f->min || v > f->max)
			return -1;
		*p = end;
		*out = (int)v;
		return 0;
	}
	for (i = 0; f->names != NULL && f->names[i] != NULL; i++) {
		if (strncasecmp(s, f->names[i], 3) == 0 &&
		    !isalpha((unsigned char)s[3])) {
			*p = s + 3;
			*out = f->min + i;
			return 0;
		}
	}
	return -1;
}

/* Parses one comma-separated element ("*", "a", "a-b", with "/n"). */
static int
parse_element(const char *s, const struct field_spec *f, uint64_t *bits)
{
	const char *p = s;
	char *end;
	int lo, hi, v;
	long step = 1;

	if (*p == '*') {
		lo = f->min;
		hi = f->max;
		p++;
	} else {
		if (parse_value(&p, f, &lo) == -1)
			return -1;
		hi = lo;
		if (*p == '-') {
			p++;
			if (parse_value(&p, f, &hi) == -1 || hi < lo)
				return -1;
		}
	}
	if (*p == '/') {
		/* A step needs a range: "5/10" alone is not unix-cron. */
		if (lo == hi && s[0] != '*')
			return -1;
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		errno = 0;
		step = strtol(p, &end, 10);
		if (errno != 0 || step < 1 || step > f->max + 1)
			return -1;
		p = end;
	}
	if (*p != '\0')
		return -1;
	for (v = lo; v <= hi; v += (int)step)
		*bits |= (uint64_t)1 << v;
	return 0;
}

/* Parses one field into a bit set, naming it in err when invalid. */
static int
parse_field(const char *text, size_t len, const struct field_spec *f,
    uint64_t *bits, char *err, size_t errlen)
{
	char buf[CRON_FIELD_MAX], *elem, *next;

	if (len >= sizeof(buf)) {
		snprintf(err, errlen, "The %s field is too long", f->name);
		return -1;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	if (strpbrk(buf, "?LW#") != NULL) {
		snprintf(err, errlen, "The %s field '%s' uses Quartz syntax "
		    "('?', 'L', 'W' or '#'), which unix-cron does not have; "
		    "use '*' or a list", f->name, buf);
		return -1;
	}
	*bits = 0;
	for (elem = buf; elem != NULL; elem = next) {
		next = strchr(elem, ',');
		if (next != NULL)
			*next++ = '\0';
		if (parse_element(elem, f, bits) == -1) {
			snprintf(err, errlen, "The %s field '%.*s' is "
			    "invalid: expected *, a number from %d to %d, a "
			    "range or a step", f->name, (int)len, text, f->min,
			    f->max);
			return -1;
		}
	}
	return 0;
}

/* Parses a five-field schedule, or writes the reason into err. */
int
cron_parse(const char *text, struct cron *cron, char *err, size_t errlen)
{
	const char *starts[6], *p = text;
	size_t lens[6];
	uint64_t bits;
	int n = 0, i;

	memset(cron, 0, sizeof(*cron));
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		if (n == 6) {
			n++;
			break;
		}
		starts[n] = p;
		while (*p != '\0' && *p != ' ' && *p != '\t')
			p++;
		lens[n] = (size_t)(p - starts[n]);
		n++;
	}
	if (n != 5) {
		snprintf(err, errlen, "The schedule has %s%d fields; Cloud "
		    "Scheduler takes five-field unix-cron (minute hour "
		    "day-of-month month day-of-week) with no seconds or year "
		    "field, for example \"4 15 2 1 *\"", n > 6 ? "more than " :
		    "", n > 6 ? 6 : n);
		return -1;
	}
	for (i = 0; i < 5; i++) {
		if (parse_field(starts[i], lens[i], &fields[i], &bits, err,
		    errlen) == -1)
			return -1;
		switch (i) {
		case 0:
			cron->minutes = bits;
			break;
		case 1:
			cron->hours = (uint32_t)bits;
			break;
		case 2:
			cron->days = (uint32_t)bits;
			cron->days_any = starts[i][0] == '*';
			break;
		case 3:
			cron->months = (uint32_t)bits;
			break;
		case 4:
			/* 7 is another name for Sunday. */
			if (bits & (1u << 7))
				bits = (bits & ~(uint64_t)(1u << 7)) | 1;
			cron->weekdays = (uint32_t)bits;
			cron->weekdays_any = starts[i][0] == '*';
			break;
		}
	}
	return 0;
}

/* Accepts "UTC" in any case and names of files under the zoneinfo
 * folder, made of letters, digits, '_', '-', '+' and '/' with no ".."
 * so that the name cannot reach outside it. */
int
cron_valid_zone(const char *zone)
{
	const char *dir = getenv("TZDIR"), *p;
	char path[512];
	struct stat st;
	size_t len = strlen(zone);

	if (strcasecmp(zone, "utc") == 0)
		return 1;
	if (len == 0 || len > CRON_ZONE_MAX || zone[0] == '/' ||
	    strstr(zone, "..") != NULL)
		return 0;
	for (p = zone; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("_-+/", *p) == NULL)
			return 0;
	if (dir == NULL || *dir == '\0')
		dir = "/usr/share/zoneinfo";
	if (snprintf(path, sizeof(path), "%s/%s", dir, zone) >=
	    (int)sizeof(path))
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Tells whether a calendar day matches the day, month and weekday
 * fields. */
static int
day_matches(const struct cron *cron, int mday, int mon, int wday)
{
	int dom = (cron->days >> mday) & 1, dow = (cron->weekdays >> wday) & 1;

	if (!((cron->months >> mon) & 1))
		return 0;
	if (!cron->days_any && !cron->weekdays_any)
		return dom || dow;
	return dom && dow;
}

/* Finds the first matching minute of one local day after a time. */
static int
next_in_day(const struct cron *cron, const struct tm *day, time_t after,
    time_t *next)
{
	struct tm tm;
	time_t t;
	int h, m;

	for (h = 0; h < 24; h++) {
		if (!((cron->hours >> h) & 1))
			continue;
		for (m = 0; m < 60; m++) {
			if (!((cron->minutes >> m) & 1))
				continue;
			tm = *day;
			tm.tm_hour = h;
			tm.tm_min = m;
			tm.tm_sec = 0;
			tm.tm_isdst = -1;
			if ((t = mktime(&tm)) == (time_t)-1)
				continue;
			/* A time skipped by a DST change comes back moved:
			 * it does not exist that day, so it does not run. */
			if (tm.tm_hour != h || tm.tm_min != m ||
			    tm.tm_mday != day->tm_mday)
				continue;
			if (t > after) {
				*next = t;
				return 1;
			}
		}
	}
	return 0;
}

/* Computes the first run strictly after a time in the zone. localtime
 * and mktime read TZ, so it is set for the call and restored after, which
 * is safe because localcloud runs one thread. */
int
cron_next(const struct cron *cron, const char *zone, time_t after,
    time_t *next)
{
	char *saved = NULL, tz[CRON_ZONE_MAX + 2];
	const char *old = getenv("TZ");
	struct tm day, cal;
	time_t t;
	int i, rc = -1;

	if (!cron_valid_zone(zone))
		return -1;
	if (old != NULL && (saved = strdup(old)) == NULL)
		return -1;
	if (strcasecmp(zone, "utc") == 0)
		snprintf(tz, sizeof(tz), "UTC0");
	else
		snprintf(tz, sizeof(tz), ":%s", zone);
	setenv("TZ", tz, 1);
	tzset();

	if (localtime_r(&after, &day) == NULL)
		goto done;
	for (i = 0; i < CRON_SEARCH_DAYS; i++) {
		/* Step the calendar date in UTC, where days have no gaps. */
		memset(&cal, 0, sizeof(cal));
		cal.tm_year = day.tm_year;
		cal.tm_mon = day.tm_mon;
		cal.tm_mday = day.tm_mday + (i > 0 ? 1 : 0);
		cal.tm_hour = 12;
		if ((t = timegm(&cal)) == (time_t)-1 ||
		    gmtime_r(&t, &cal) == NULL)
			goto done;
		day.tm_year = cal.tm_year;
		day.tm_mon = cal.tm_mon;
		day.tm_mday = cal.tm_mday;
		if (day_matches(cron, cal.tm_mday, cal.tm_mon + 1,
		    cal.tm_wday) && next_in_day(cron, &day, after, next)) {
			rc = 0;
			break;
		}
	}
done:
	if (saved != NULL) {
		setenv("TZ", saved, 1);
		free(saved);
	} else
		unsetenv("TZ");
	tzset();
	return rc;
}

/* Set-up of the Google API clients, their settings, and pure helpers. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "gcp.h"
#include "gcp_private.h"
#include "log.h"
#include "settings.h"

/* Maximum lengths of an endpoint URL, project id, region and queue id. */
#define GCP_ENDPOINT_MAX	1024
#define GCP_PROJECT_MAX		128
#define GCP_REGION_MAX		64
#define GCP_QUEUE_MAX		100

static const struct {
	const char		*name;
	enum setting_key	 key;
} gcp_apis[GCP_API_COUNT] = {
	[GCP_API_RUN] = { "run", CFG_RUN_ENDPOINT },
	[GCP_API_STORAGE] = { "storage", CFG_STORAGE_ENDPOINT },
	[GCP_API_SCHEDULER] = { "scheduler", CFG_SCHEDULER_ENDPOINT },
	[GCP_API_TASKS] = { "tasks", CFG_TASKS_ENDPOINT },
	[GCP_API_MONITORING] = { "monitoring", CFG_MONITORING_ENDPOINT },
	[GCP_API_LOGGING] = { "logging", CFG_LOGGING_ENDPOINT },
	[GCP_API_METADATA] = { "metadata", CFG_METADATA_HOST },
};

static int gcp_initialized;
static char gcp_endpoints[GCP_API_COUNT][GCP_ENDPOINT_MAX];
static char gcp_region_id[GCP_REGION_MAX + 1];
static char gcp_queue_id[GCP_QUEUE_MAX + 1];

/* The project id, from the settings or looked up once on first use. */
static pthread_mutex_t gcp_project_lock = PTHREAD_MUTEX_INITIALIZER;
static char gcp_project_id[GCP_PROJECT_MAX + 1];

/* Returns 1 when every byte of s is in the set and s is 1 to max long. */
static int
gcp_only(const char *s, const char *set, size_t max)
{
	size_t len = strlen(s);

	return len >= 1 && len <= max && strspn(s, set) == len;
}

#define GCP_LOWER	"abcdefghijklmnopqrstuvwxyz"
#define GCP_UPPER	"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define GCP_DIGITS	"0123456789"

/* Project ids are lowercase letters, digits and hyphens; domain-scoped
 * ones ("example.com:my-project") add dots and a colon. */
static int
gcp_valid_project(const char *s)
{
	return gcp_only(s, GCP_LOWER GCP_DIGITS "-.:", GCP_PROJECT_MAX);
}

int
gcp_init(void)
{
	const char *value;
	int i;

	if (!gcp_initialized) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			log_warnx("gcp: curl_global_init failed");
			return -1;
		}
		/* libsodium's random numbers jitter the backoff. */
		if (sodium_init() == -1) {
			log_warnx("gcp: sodium_init failed");
			curl_global_cleanup();
			return -1;
		}
		if (gcp_http_init() == -1) {
			log_warnx("gcp: cannot create the connection key");
			curl_global_cleanup();
			return -1;
		}
		gcp_initialized = 1;
	}

	for (i = 0; i < GCP_API_COUNT; i++) {
		value = settings_str(gcp_apis[i].key);
		if (gcp_endpoint_url(value, gcp_endpoints[i],
		    sizeof(gcp_endpoints[i])) == -1) {
			log_warnx("gcp: invalid %s endpoint setting %s",
			    gcp_apis[i].name,
			    settings_env_name(gcp_apis[i].key));
			return -1;
		}
	}

	value = settings_str(CFG_PROJECT);
	if (value[0] != '\0' && !gcp_valid_project(value)) {
		log_warnx("gcp: invalid project id in %s: use lowercase "
		    "letters, digits and hyphens",
		    settings_env_name(CFG_PROJECT));
		return -1;
	}
	pthread_mutex_lock(&gcp_project_lock);
	snprintf(gcp_project_id, sizeof(gcp_project_id), "%s", value);
	pthread_mutex_unlock(&gcp_project_lock);

	value = settings_str(CFG_REGION);
	if (!gcp_only(value, GCP_LOWER GCP_DIGITS "-", GCP_REGION_MAX)) {
		log_warnx("gcp: invalid region in %s: use lowercase letters, "
		    "digits and hyphens", settings_env_name(CFG_REGION));
		return -1;
	}
	snprintf(gcp_region_id, sizeof(gcp_region_id), "%s", value);

	value = settings_str(CFG_TASKS_QUEUE);
	if (!gcp_only(value, GCP_LOWER GCP_UPPER GCP_DIGITS "-",
	    GCP_QUEUE_MAX)) {
		log_warnx("gcp: invalid queue id in %s: use letters, digits "
		    "and hyphens", settings_env_name(CFG_TASKS_QUEUE));
		return -1;
	}
	snprintf(gcp_queue_id, sizeof(gcp_queue_id), "%s", value);
	return 0;
}

void
gcp_cleanup(void)
{
	if (!gcp_initialized)
		return;
	gcp_metadata_cleanup();
	gcp_http_thread_cleanup();
	curl_global_cleanup();
	gcp_initialized = 0;
}

const char *
gcp_endpoint(enum gcp_api api)
{
	return gcp_endpoints[api];
}

const char *
gcp_api_name(enum gcp_api api)
{
	return gcp_apis[api].name;
}

const char *
gcp_project(struct gcp_error *err)
{
	char id[GCP_PROJECT_MAX + 1];
	const char *result = gcp_project_id;

	pthread_mutex_lock(&gcp_project_lock);
	if (gcp_project_id[0] == '\0') {
		if (metadata_project_id(id, sizeof(id), err) == -1)
			result = NULL;
		else if (!gcp_valid_project(id)) {
			gcp_error_set(err, 0, "INVALID_RESPONSE", "the "
			    "metadata server returned an invalid project id; "
			    "set %s", settings_env_name(CFG_PROJECT));
			result = NULL;
		} else
			memcpy(gcp_project_id, id, sizeof(id));
	}
	pthread_mutex_unlock(&gcp_project_lock);
	return result;
}

const char *
gcp_region(void)
{
	return gcp_region_id;
}

const char *
gcp_queue(void)
{
	return gcp_queue_id;
}

int
gcp_error_set(struct gcp_error *err, long http_status, const char *status,
    const char *fmt, ...)
{
	va_list ap;

	err->http_status = http_status;
	snprintf(err->status, sizeof(err->status), "%s", status);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

int
gcp_nomem(struct gcp_error *err)
{
	return gcp_error_set(err, 0, "INTERNAL", "out of memory");
}

char *
gcp_format(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	if (n > GCP_URL_MAX) {
		free(s);
		errno = ENAMETOOLONG;
		return NULL;
	}
	return s;
}

int
gcp_json_int64(json_t *value, int64_t *out)
{
	const char *s;
	char *end;
	long long v;

	if (json_is_integer(value)) {
		*out = json_integer_value(value);
		return 0;
	}
	if (!json_is_string(value))
		return -1;
	s = json_string_value(value);
	/* strtoll would also take leading blanks and a "+". */
	if (*s != '-' && (*s < '0' || *s > '9'))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int64_t
gcp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int (*gcp_stop_fn)(void);

void
gcp_set_stop(int (*stopping)(void))
{
	gcp_stop_fn = stopping;
}

int
gcp_stopping(void)
{
	return gcp_stop_fn != NULL && gcp_stop_fn();
}

/* Sleeps ms milliseconds in slices of at most 100 ms, and returns early
 * once gcp_stopping() returns 1, so that a stopping worker's threads end
 * within its grace period. */
void
gcp_sleep_ms(long ms)
{
	struct timespec ts;
	long slice;

	while (ms > 0 && !gcp_stopping()) {
		slice = ms < 100 ? ms : 100;
		ts.tv_sec = 0;
		ts.tv_nsec = slice * 1000000L;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
		ms -= slice;
	}
}

/* Pure helpers. */

char *
gcp_escape(const char *s)
{
	char *escaped, *copy;
	size_t len = strlen(s);

	if (len > GCP_URL_MAX)
		return NULL;
	/* libcurl keeps only A-Z a-z 0-9 - . _ ~ and ignores the handle
	 * since 7.82.0. */
	escaped = curl_easy_escape(NULL, s, (int)len);
	if (escaped == NULL)
		return NULL;
	copy = strdup(escaped);
	curl_free(escaped);
	return copy;
}

int
gcp_endpoint_url(const char *value, char *buf, size_t size)
{
	size_t len, host;
	int n;

	if (value == NULL || value[0] == '\0' || strchr(value, ' ') != NULL)
		return -1;
	if (strstr(value, "://") != NULL)
		n = snprintf(buf, size, "%s", value);
	else
		n = snprintf(buf, size, "http://%s", value);
	if (n < 0 || (size_t)n >= size)
		return -1;
	if (strncmp(buf, "http://", 7) != 0 && strncmp(buf, "https://", 8))
		return -1;
	host = strstr(buf, "://") + 3 - buf;
	len = strlen(buf);
	while (len > host && buf[len - 1] == '/')
		buf[--len] = '\0';
	if (len == host || buf[host] == '/')
		return -1;
	return 0;
}

long
gcp_backoff_ms(int retry, uint32_t random)
{
	long ceiling = GCP_BACKOFF_MAX_MS, half;

	if (retry < 0)
		retry = 0;
	if (retry < 16 && ((long)GCP_BACKOFF_FIRST_MS << retry) < ceiling)
		ceiling = (long)GCP_BACKOFF_FIRST_MS << retry;
	/* Equal jitter: half the step is fixed and half random, so that
	 * the retries of many clients spread out. */
	half = ceiling / 2;
	return half + (long)(random % (uint32_t)(ceiling - half + 1));
}

/* Cloud Run: a letter first, lowercase letters, digits and hyphens, no
 * hyphen last, fewer than 50 characters. */
int
gcp_valid_service_id(const char *s)
{
	size_t len = strlen(s);

	return gcp_only(s, GCP_LOWER GCP_DIGITS "-", 49) &&
	    s[0] >= 'a' && s[0] <= 'z' && s[len - 1] != '-';
}

/* Scheduler job ids: letters, digits, hyphens, underscores, at most 500. */
int
gcp_valid_job_id(const char *s)
{
	return gcp_only(s, GCP_LOWER GCP_UPPER GCP_DIGITS "-_", 500);
}

/* Tasks task ids: the same characters and length as job ids. */
int
gcp_valid_task_id(const char *s)
{
	return gcp_only(s, GCP_LOWER GCP_UPPER GCP_DIGITS "-_", 500);
}

/*
 * Bucket names: 3 to 63 characters of lowercase letters, digits, "-", "_"
 * and ".", starting and ending with a letter or digit. Names with dots may
 * reach 222 characters, in dot-separated parts of at most 63.
 */
int
gcp_valid_bucket(const char *s)
{
	size_t len = strlen(s), part = 0, i;

	if (len < 3 || len > 222 || !gcp_only(s, GCP_LOWER GCP_DIGITS "-_.",
	    222))
		return 0;
	if (strchr(GCP_LOWER GCP_DIGITS, s[0]) == NULL ||
	    strchr(GCP_LOWER GCP_DIGITS, s[len - 1]) == NULL)
		return 0;
	if (strchr(s, '.') == NULL && len > 63)
		return 0;
	for (i = 0; i < len; i++) {
		part = s[i] == '.' ? 0 : part + 1;
		if (part > 63)
			return 0;
	}
	return 1;
}

/*
 * Object names: 1 to 1024 bytes of valid UTF-8 with no carriage return or
 * line feed, not "." or "..", and not under .well-known/acme-challenge/.
 */
int
gcp_valid_object_name(const char *s)
{
	size_t len = strlen(s);
	json_t *utf8;

	if (len == 0 || len > 1024 || strpbrk(s, "\r\n") != NULL ||
	    strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
	    strncmp(s, ".well-known/acme-challenge/", 27) == 0)
		return 0;
	/* jansson rejects invalid UTF-8. */
	if ((utf8 = json_stringn(s, len)) == NULL)
		return 0;
	json_decref(utf8);
	return 1;
}

/*
 * Relative resource names such as projects/P/locations/L/operations/OP:
 * "projects/" first, then non-empty segments of letters, digits and
 * - . _ ~ :, none of them "." or "..", at most 1024 bytes.
 */
int
gcp_valid_resource_name(const char *s)
{
	const char *seg;
	size_t len;

	if (strncmp(s, "projects/", 9) != 0 ||
	    !gcp_only(s, GCP_LOWER GCP_UPPER GCP_DIGITS "-._~:/", 1024))
		return 0;
	for (seg = s; ; seg += len + 1) {
		len = strcspn(seg, "/");
		if (len == 0 || (len == 1 && seg[0] == '.') ||
		    (len == 2 && seg[0] == '.' && seg[1] == '.'))
			return 0;
		if (seg[len] == '\0')
			return 1;
	}
}

static const struct {
	const char	*name;
	long		 http_status;
} gcp_codes[] = {
	/* google.rpc.Code, indexed by its number. */
	{ "OK", 200 },
	{ "CANCELLED", 499 },
	{ "UNKNOWN", 500 },
	{ "INVALID_ARGUMENT", 400 },
	{ "DEADLINE_EXCEEDED", 504 },
	{ "NOT_FOUND", 404 },
	{ "ALREADY_EXISTS", 409 },
	{ "PERMISSION_DENIED", 403 },
	{ "RESOURCE_EXHAUSTED", 429 },
	{ "FAILED_PRECONDITION", 400 },
	{ "ABORTED", 409 },
	{ "OUT_OF_RANGE", 400 },
	{ "UNIMPLEMENTED", 501 },
	{ "INTERNAL", 500 },
	{ "UNAVAILABLE", 503 },
	{ "DATA_LOSS", 500 },
	{ "UNAUTHENTICATED", 401 },
};

#define GCP_CODES	(long)(sizeof(gcp_codes) / sizeof(gcp_codes[0]))

const char *
gcp_code_name(long code)
{
	if (code < 0 || code >= GCP_CODES)
		return "UNKNOWN";
	return gcp_codes[code].name;
}

long
gcp_code_http_status(long code)
{
	if (code < 0 || code >= GCP_CODES)
		return 500;
	return gcp_codes[code].http_status;
}

int
gcp_format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	if (strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	return 0;
}

int
gcp_parse_time(const char *text, struct timespec *out)
{
	struct tm tm;
	const char *p;
	long nsec = 0, scale = 100000000L, offset = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(text, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			nsec += (*p - '0') * scale;
			scale /= 10;
		}
		if (p[-1] == '.')
			return -1;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if ((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '2' &&
	    p[2] >= '0' && p[2] <= '9' && p[3] == ':' && p[4] >= '0' &&
	    p[4] <= '5' && p[5] >= '0' && p[5] <= '9') {
		offset = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600L +
		    ((p[4] - '0') * 10 + (p[5] - '0')) * 60L;
		if (*p == '-')
			offset = -offset;
		p += 6;
	} else
		return -1;
	if (*p != '\0' || (t = timegm(&tm)) == (time_t)-1)
		return -1;
	/* 12:00+02:00 is 10:00 UTC. */
	out->tv_sec = t - offset;
	out->tv_nsec = nsec;
	return 0;
}

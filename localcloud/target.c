/* HTTP targets of Scheduler jobs and Tasks tasks. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "log.h"
#include "localcloud.h"
#include "target.h"
#include "tokens.h"

/* Maximum duration accepted, in seconds: 30 days. */
#define TARGET_DURATION_MAX	(30.0 * 86400)

static const char *const methods[] = {
	"POST", "GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS", NULL
};

/* Checks an HTTP header name: RFC 9110 token characters. */
static int
valid_header_name(const char *name)
{
	const char *p;

	if (*name == '\0')
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) &&
		    strchr("!#$%&'*+-.^_`|~", *p) == NULL)
			return 0;
	return 1;
}

/* Checks a header value: no control characters but tab. */
static int
valid_header_value(const char *value, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (((unsigned char)value[i] < 0x20 && value[i] != '\t') ||
		    value[i] == 0x7f)
			return 0;
	return 1;
}

static int
check_headers(json_t *headers, char *err, size_t errlen)
{
	const char *name;
	json_t *value;
	size_t total = 0;

	if (!json_is_object(headers)) {
		snprintf(err, errlen, "headers must be an object of strings");
		return -1;
	}
	json_object_foreach(headers, name, value) {
		if (!json_is_string(value) || !valid_header_name(name) ||
		    !valid_header_value(json_string_value(value),
		    json_string_length(value))) {
			snprintf(err, errlen, "header '%.64s' has an invalid "
			    "name or value", name);
			return -1;
		}
		total += strlen(name) + json_string_length(value) + 4;
	}
	if (total > TARGET_HEADERS_MAX) {
		snprintf(err, errlen, "headers total more than %d bytes",
		    TARGET_HEADERS_MAX);
		return -1;
	}
	return 0;
}

/* Decodes the base64 body. proto3 JSON accepts both alphabets, with or
 * without padding. */
static int
decode_body(const char *b64, struct target *t)
{
	static const int variants[] = {
		sodium_base64_VARIANT_ORIGINAL,
		sodium_base64_VARIANT_ORIGINAL_NO_PADDING,
		sodium_base64_VARIANT_URLSAFE,
		sodium_base64_VARIANT_URLSAFE_NO_PADDING,
	};
	size_t len = strlen(b64), max = len / 4 * 3 + 3, i;

	if (max > TARGET_BODY_MAX + 3)
		return -1;
	if ((t->body = malloc(max)) == NULL)
		return -1;
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		if (sodium_base642bin(t->body, max, b64, len, NULL,
		    &t->body_len, NULL, variants[i]) == 0)
			return t->body_len <= TARGET_BODY_MAX ? 0 : -1;
	return -1;
}

/*
 * Checks an HttpTarget or HttpRequest object and fills t with pointers
 * into it. It sets httpMethod to POST when unset, as the APIs report it.
 * On failure, err names the problem for a 400 reply.
 */
int
target_parse(json_t *http, const char *url_key, struct target *t, char *err,
    size_t errlen)
{
	json_t *v, *oidc;
	const char *body;
	int i;

	memset(t, 0, sizeof(*t));
	if (!json_is_object(http)) {
		snprintf(err, errlen, "the HTTP target must be an object");
		return -1;
	}
	t->url = json_string_value(json_object_get(http, url_key));
	if (t->url == NULL || strlen(t->url) > TARGET_URL_MAX ||
	    (strncasecmp(t->url, "http://", 7) != 0 &&
	    strncasecmp(t->url, "https://", 8) != 0)) {
		snprintf(err, errlen, "%s must be an http:// or https:// URL "
		    "of at most %d characters", url_key, TARGET_URL_MAX);
		return -1;
	}

	if ((v = json_object_get(http, "httpMethod")) == NULL ||
	    (json_is_string(v) && strcmp(json_string_value(v),
	    "HTTP_METHOD_UNSPECIFIED") == 0)) {
		json_object_set_new(http, "httpMethod", json_string("POST"));
		v = json_object_get(http, "httpMethod");
	}
	t->method = json_string_value(v);
	for (i = 0; t->method != NULL && methods[i] != NULL; i++)
		if (strcmp(t->method, methods[i]) == 0)
			break;
	if (t->method == NULL || methods[i] == NULL) {
		snprintf(err, errlen, "httpMethod must be one of POST, GET, "
		    "HEAD, PUT, DELETE, PATCH or OPTIONS");
		return -1;
	}

	if ((t->headers = json_object_get(http, "headers")) != NULL &&
	    check_headers(t->headers, err, errlen) == -1)
		return -1;

	if ((v = json_object_get(http, "body")) != NULL) {
		if ((body = json_string_value(v)) == NULL ||
		    decode_body(body, t) == -1) {
			snprintf(err, errlen, "body must be base64 of at most "
			    "%d bytes", TARGET_BODY_MAX);
			target_clear(t);
			return -1;
		}
		if (t->body_len > 0 && strcmp(t->method, "POST") != 0 &&
		    strcmp(t->method, "PUT") != 0 &&
		    strcmp(t->method, "PATCH") != 0) {
			snprintf(err, errlen, "a body is allowed only with "
			    "POST, PUT or PATCH");
			target_clear(t);
			return -1;
		}
	}

	if (json_object_get(http, "oauthToken") != NULL) {
		snprintf(err, errlen, "oauthToken is for Google API targets; "
		    "localcloud supports oidcToken");
		target_clear(t);
		return -1;
	}
	if ((oidc = json_object_get(http, "oidcToken")) != NULL) {
		t->sa_email = json_string_value(json_object_get(oidc,
		    "serviceAccountEmail"));
		v = json_object_get(oidc, "audience");
		t->audience = json_string_value(v);
		if (!json_is_object(oidc) || t->sa_email == NULL ||
		    *t->sa_email == '\0' || (v != NULL && t->audience == NULL) ||
		    (t->audience != NULL && strlen(t->audience) >
		    TOKENS_AUDIENCE_MAX)) {
			snprintf(err, errlen, "oidcToken needs a "
			    "serviceAccountEmail and an optional audience "
			    "string");
			target_clear(t);
			return -1;
		}
		/* The audience defaults to the full target URL. */
		if (t->audience == NULL || *t->audience == '\0')
			t->audience = t->url;
	}
	return 0;
}

void
target_clear(struct target *t)
{
	free(t->body);
	t->body = NULL;
	t->body_len = 0;
}

/* Appends "name: value" to a curl header list. */
int
target_add_header(struct curl_slist **list, const char *name,
    const char *value)
{
	struct curl_slist *next;
	char *line;

	if (asprintf(&line, "%s: %s", name, value) == -1)
		return -1;
	next = curl_slist_append(*list, line);
	free(line);
	if (next == NULL)
		return -1;
	*list = next;
	return 0;
}

/* Appends a line as is ("Name:" removes a header curl would add). */
static int
add_line(struct curl_slist **list, const char *line)
{
	struct curl_slist *next = curl_slist_append(*list, line);

	if (next == NULL)
		return -1;
	*list = next;
	return 0;
}

/*
 * Builds the request headers: the target's own, then the Bearer token.
 * The service sets Host, Content-Length, User-Agent, Authorization (when
 * an OIDC token is sent) and the names in overridden (NULL-terminated), so
 * the target's values for those are dropped. With a body and no
 * Content-Type, the Scheduler sends application/octet-stream
 * (octet_stream_default) while Tasks sends none.
 */
struct curl_slist *
target_headers(const struct target *t, const char *const *overridden,
    int octet_stream_default, char *err, size_t errlen)
{
	struct curl_slist *list = NULL;
	const char *name;
	json_t *value;
	char *token, *line;
	int has_type = 0, i, skip;

	if (t->headers != NULL) {
		json_object_foreach(t->headers, name, value) {
			skip = strcasecmp(name, "Host") == 0 ||
			    strcasecmp(name, "Content-Length") == 0 ||
			    strcasecmp(name, "User-Agent") == 0 ||
			    (t->sa_email != NULL &&
			    strcasecmp(name, "Authorization") == 0);
			for (i = 0; overridden[i] != NULL && !skip; i++)
				skip = strcasecmp(name, overridden[i]) == 0;
			if (skip)
				continue;
			if (strcasecmp(name, "Content-Type") == 0)
				has_type = 1;
			if (target_add_header(&list, name,
			    json_string_value(value)) == -1)
				goto nomem;
		}
	}
	if (!has_type && add_line(&list, octet_stream_default &&
	    t->body_len > 0 ? "Content-Type: application/octet-stream" :
	    "Content-Type:") == -1)
		goto nomem;
	/* No "Expect: 100-continue" round trip. */
	if (add_line(&list, "Expect:") == -1)
		goto nomem;
	if (t->sa_email != NULL) {
		if (tokens_id_token(t->audience, t->sa_email, &token) == -1) {
			snprintf(err, errlen, "cannot sign the OIDC token");
			curl_slist_free_all(list);
			return NULL;
		}
		if (asprintf(&line, "Authorization: Bearer %s", token) ==
		    -1) {
			free(token);
			goto nomem;
		}
		free(token);
		if (add_line(&list, line) == -1) {
			free(line);
			goto nomem;
		}
		free(line);
	}
	return list;

nomem:
	curl_slist_free_all(list);
	snprintf(err, errlen, "out of memory");
	return NULL;
}

/* Parses a protobuf Duration in JSON ("3.5s"). */
int
target_parse_duration(const char *text, double *seconds)
{
	char *end;
	double v;

	if (text == NULL || !isdigit((unsigned char)*text))
		return -1;
	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end[0] != 's' || end[1] != '\0' || !isfinite(v) ||
	    v > TARGET_DURATION_MAX)
		return -1;
	*seconds = v;
	return 0;
}

/* Formats seconds as a JSON Duration string, with up to nine decimals. */
json_t *
target_duration(double seconds)
{
	char buf[48];
	size_t len;

	snprintf(buf, sizeof(buf), "%.9f", seconds);
	len = strlen(buf);
	while (len > 0 && buf[len - 1] == '0')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '.')
		buf[--len] = '\0';
	if (len + 2 > sizeof(buf))
		return NULL;
	buf[len] = 's';
	buf[len + 1] = '\0';
	return json_string(buf);
}

/* Maps an HTTP status to the google.rpc.Code a failed attempt reports.
 * Status 0 (no response) maps to UNAVAILABLE. */
int
target_rpc_code(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 0:
		return 14;	/* UNAVAILABLE */
	case 400:
		return 3;	/* INVALID_ARGUMENT */
	case 401:
		return 16;	/* UNAUTHENTICATED */
	case 403:
		return 7;	/* PERMISSION_DENIED */
	case 404:
		return 5;	/* NOT_FOUND */
	case 409:
		return 10;	/* ABORTED */
	case 429:
		return 8;	/* RESOURCE_EXHAUSTED */
	case 499:
		return 1;	/* CANCELLED */
	case 501:
		return 12;	/* UNIMPLEMENTED */
	case 503:
		return 14;	/* UNAVAILABLE */
	case 504:
		return 4;	/* DEADLINE_EXCEEDED */
	}
	return status < 500 ? 9 : 13;	/* FAILED_PRECONDITION, INTERNAL */
}

const char *
target_rpc_name(int code)
{
	static const char *const names[] = {
		"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT",
		"DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
		"PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
		"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
		"UNAUTHENTICATED",
	};

	if (code < 0 || (size_t)code >= sizeof(names) / sizeof(names[0]))
		return "UNKNOWN";
	return names[code];
}

/* Reads a Duration member with a default and a range, writing the value
 * back so that the resource shows it as the API does. */
int
target_read_duration(json_t *obj, const char *key, double def, double min,
    double max, double *out, char *err, size_t errlen)
{
	json_t *v = json_object_get(obj, key);

	*out = def;
	if (v != NULL && target_parse_duration(json_string_value(v),
	    out) == -1) {
		snprintf(err, errlen, "%s must be a duration such as \"10s\"",
		    key);
		return -1;
	}
	if (*out < min || *out > max) {
		snprintf(err, errlen, "%s must be from %gs to %gs", key, min,
		    max);
		return -1;
	}
	json_object_set_new(obj, key, target_duration(*out));
	return 0;
}

/* Returns the wall-clock time in seconds since the epoch. */
double
target_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Formats a time in seconds since the epoch as an RFC 3339 JSON string
 * with microseconds. */
json_t *
target_time(double t)
{
	struct timespec ts;
	char buf[40];

	ts.tv_sec = (time_t)floor(t);
	ts.tv_nsec = (long)((t - floor(t)) * 1e6) * 1000L;
	if (lc_format_time(&ts, buf, sizeof(buf)) == -1)
		return NULL;
	return json_string(buf);
}

/* Checks an id of 1 to max letters, digits and hyphens, and underscores
 * when allowed. */
int
target_valid_id(const char *id, size_t max, int underscore)
{
	size_t len = strlen(id), i;

	if (len == 0 || len > max)
		return 0;
	for (i = 0; i < len; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') ||
		    (id[i] >= 'A' && id[i] <= 'Z') ||
		    (id[i] >= '0' && id[i] <= '9') || id[i] == '-' ||
		    (underscore && id[i] == '_')))
			return 0;
	return 1;
}

/* Returns the part of a resource name after its last '/'. */
const char *
target_last_segment(const char *name)
{
	const char *p = strrchr(name, '/');

	return p != NULL ? p + 1 : name;
}

/* Writes the record file name of a resource, the hex SHA-256 of its name
 * plus ".json", so that any name maps to a safe fixed-length file. */
void
target_file_name(const char *name, char file[72])
{
	unsigned char md[32];
	unsigned int md_len = 0;
	char hex[65];

	EVP_Digest(name, strlen(name), md, &md_len, EVP_sha256(), NULL);
	sodium_bin2hex(hex, sizeof(hex), md, sizeof(md));
	snprintf(file, 72, "%s.json", hex);
}

/*
 * Reads maxDoublings, the minimum and maximum backoff (named min_key and
 * max_key, which differ between the APIs) and maxRetryDuration of a
 * retryConfig, filling in defaults so that the resource shows them.
 */
int
target_read_backoff(json_t *rc, const char *min_key, const char *max_key,
    const struct target_backoff *defaults, struct target_backoff *out,
    char *err, size_t errlen)
{
	json_t *v = json_object_get(rc, "maxDoublings");

	out->max_doublings = v != NULL ? (int)json_integer_value(v) :
	    defaults->max_doublings;
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > 32)) {
		snprintf(err, errlen, "retryConfig.maxDoublings must be 0 to "
		    "32");
		return -1;
	}
	json_object_set_new(rc, "maxDoublings",
	    json_integer(out->max_doublings));
	if (target_read_duration(rc, min_key, defaults->min, 0, defaults->max,
	    &out->min, err, errlen) == -1 ||
	    target_read_duration(rc, max_key, defaults->max, 0, defaults->max,
	    &out->max, err, errlen) == -1 ||
	    target_read_duration(rc, "maxRetryDuration",
	    defaults->max_retry_duration, 0, TARGET_DURATION_MAX,
	    &out->max_retry_duration, err, errlen) == -1)
		return -1;
	if (out->max < out->min) {
		snprintf(err, errlen, "retryConfig.%s is less than %s",
		    max_key, min_key);
		return -1;
	}
	return 0;
}

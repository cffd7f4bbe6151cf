/* Reply, request-body and query helpers shared by the API modules. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/rand.h>

#include "log.h"
#include "localcloud.h"

/* Maximum length of an error message, in bytes; a longer one is cut. */
#define LC_ERROR_MESSAGE_MAX	1024

const char *
lc_method_name(enum evhttp_cmd_type type)
{
	switch (type) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "UNKNOWN";
}

/* Sends body (any bytes) with the given status and content type. */
static void
lc_reply_bytes(struct evhttp_request *req, int status, const char *type,
    const char *body, size_t len)
{
	struct evbuffer *buf;
	struct evkeyvalq *headers;

	headers = evhttp_request_get_output_headers(req);
	evhttp_remove_header(headers, "Content-Type");
	if (evhttp_add_header(headers, "Content-Type", type) == -1)
		log_warnx("cannot set a response header");
	buf = evbuffer_new();
	if (buf == NULL || evbuffer_add(buf, body, len) == -1) {
		log_warnx("out of memory for a %zu-byte response", len);
		if (buf != NULL)
			evbuffer_free(buf);
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	evhttp_send_reply(req, status, NULL, buf);
	evbuffer_free(buf);
}

void
lc_reply_json(struct evhttp_request *req, int status, json_t *body)
{
	char *text;

	if (body == NULL) {
		log_warnx("%s %s: no memory for the JSON response",
		    lc_method_name(evhttp_request_get_command(req)),
		    evhttp_request_get_uri(req));
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL) {
		log_warnx("cannot encode a JSON response");
		evhttp_send_error(req, 500, "Internal Server Error");
		return;
	}
	lc_reply_bytes(req, status, "application/json; charset=UTF-8", text,
	    strlen(text));
	free(text);
}

/* Logs an error reply: 5xx as warnings, the rest at info level. */
static void
lc_log_error_reply(struct evhttp_request *req, int status, const char *msg)
{
	char uri[256], text[LC_ERROR_MESSAGE_MAX];
	const char *u = evhttp_request_get_uri(req);

	log_escape(uri, sizeof(uri), u, strlen(u));
	log_escape(text, sizeof(text), msg, strlen(msg));
	if (status >= 500)
		log_warnx("%s %s: %d %s",
		    lc_method_name(evhttp_request_get_command(req)), uri,
		    status, text);
	else
		log_info("%s %s: %d %s",
		    lc_method_name(evhttp_request_get_command(req)), uri,
		    status, text);
}

void
lc_reply_google_error(struct evhttp_request *req, int status,
    const char *canonical, const char *fmt, ...)
{
	char msg[LC_ERROR_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lc_log_error_reply(req, status, msg);
	lc_reply_json(req, status, json_pack("{s:{s:i,s:s,s:s}}", "error",
	    "code", status, "message", msg, "status", canonical));
}

void
lc_reply_gcs_error(struct evhttp_request *req, int status,
    const char *reason, const char *fmt, ...)
{
	char msg[LC_ERROR_MESSAGE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	lc_log_error_reply(req, status, msg);
	lc_reply_json(req, status, json_pack("{s:{s:i,s:s,s:[{s:s,s:s,s:s}]}}",
	    "error", "code", status, "message", msg, "errors",
	    "domain", "global", "reason", reason, "message", msg));
}

char *
lc_read_body(struct evhttp_request *req, size_t max_bytes, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char *body;

	if (n > max_bytes) {
		errno = EFBIG;
		return NULL;
	}
	if ((body = malloc(n + 1)) == NULL)
		return NULL;
	if (evbuffer_copyout(in, body, n) != (ev_ssize_t)n) {
		free(body);
		errno = EIO;
		return NULL;
	}
	body[n] = '\0';
	if (len != NULL)
		*len = n;
	return body;
}

int
lc_read_json(struct evhttp_request *req, size_t max_bytes, json_t **out)
{
	json_error_t err;
	json_t *json;
	char *body;
	size_t len;

	*out = NULL;
	if ((body = lc_read_body(req, max_bytes, &len)) == NULL) {
		if (errno == EFBIG)
			lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
			    "Request body of %zu bytes is over the limit of "
			    "%zu bytes.", evbuffer_get_length(
			    evhttp_request_get_input_buffer(req)), max_bytes);
		else
			lc_reply_google_error(req, 500, "INTERNAL",
			    "Out of memory reading the request body.");
		return -1;
	}

	/* An empty body is an empty message, as in proto3 JSON. */
	if (len == 0)
		json = json_object();
	else
		json = json_loadb(body, len, 0, &err);
	free(body);
	if (json == NULL) {
		if (len == 0)
			lc_reply_google_error(req, 500, "INTERNAL",
			    "Out of memory parsing the request body.");
		else
			lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
			    "Invalid JSON payload received. %s at line %d, "
			    "column %d (byte %d).", err.text, err.line,
			    err.column, err.position);
		return -1;
	}
	if (!json_is_object(json)) {
		json_decref(json);
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Invalid JSON payload received. The body must be a JSON "
		    "object.");
		return -1;
	}
	*out = json;
	return 0;
}

/* Whether s[0..len) is valid UTF-8. jansson's checked constructor rejects
 * invalid sequences, overlong forms and encoded surrogates. */
int
lc_utf8_valid(const char *s, size_t len)
{
	json_t *text;

	if ((text = json_stringn(s, len)) == NULL)
		return 0;
	json_decref(text);
	return 1;
}

/* Decodes a query component: %XX escapes and '+' as a space. */
static char *
lc_query_decode(const char *s, size_t len)
{
	char *copy, *decoded;

	if ((copy = strndup(s, len)) == NULL)
		return NULL;
	decoded = evhttp_uridecode(copy, 1, NULL);
	free(copy);
	return decoded;
}

char *
lc_query_get(const char *query, const char *key)
{
	const char *p, *end, *eq;
	char *name, *value;
	int same;

	if (query == NULL)
		return NULL;
	for (p = query; *p != '\0'; p = *end == '&' ? end + 1 : end) {
		end = strchr(p, '&');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if ((name = lc_query_decode(p, (size_t)((eq ? eq : end) -
		    p))) == NULL)
			return NULL;
		same = strcmp(name, key) == 0;
		free(name);
		if (!same)
			continue;
		if (eq == NULL)
			return strdup("");
		value = lc_query_decode(eq + 1, (size_t)(end - eq - 1));
		return value;
	}
	return NULL;
}

int
lc_format_time(const struct timespec *ts, char *buf, size_t size)
{
	struct tm tm;
	char date[32];
	int n;

	if (gmtime_r(&ts->tv_sec, &tm) == NULL)
		return -1;
	if (strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return -1;
	n = snprintf(buf, size, "%s.%06ldZ", date, ts->tv_nsec / 1000);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return 0;
}

/* Reads exactly n decimal digits at *p into *out and advances *p. */
static int
lc_parse_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (; n > 0; n--, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
	}
	*out = v;
	return 0;
}

/* Days in month mon (1 to 12) of a Gregorian year. */
static int
days_in_month(int year, int mon)
{
	static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
	    31, 30, 31 };

	if (mon == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
		return 29;
	return days[mon - 1];
}

int
lc_parse_time(const char *text, struct timespec *out)
{
	const char *p = text;
	struct tm tm;
	long nsec = 0, scale = 100000000;
	int year, mon, day, hour, min, sec, oh, om, sign;
	time_t t;

	if (lc_parse_digits(&p, 4, &year) == -1 || *p++ != '-' ||
	    lc_parse_digits(&p, 2, &mon) == -1 || *p++ != '-' ||
	    lc_parse_digits(&p, 2, &day) == -1 ||
	    (*p != 'T' && *p != 't' && *p != ' ') || !*p++ ||
	    lc_parse_digits(&p, 2, &hour) == -1 || *p++ != ':' ||
	    lc_parse_digits(&p, 2, &min) == -1 || *p++ != ':' ||
	    lc_parse_digits(&p, 2, &sec) == -1)
		return -1;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon) ||
	    hour > 23 || min > 59 || sec > 60)
		return -1;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			nsec += (*p - '0') * scale;
			scale /= 10;
		}
	}

	/* The zone: Z, or an offset to subtract to get UTC. */
	oh = om = 0;
	sign = 1;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (lc_parse_digits(&p, 2, &oh) == -1 || *p++ != ':' ||
		    lc_parse_digits(&p, 2, &om) == -1 || oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	out->tv_sec = t - sign * (oh * 3600 + om * 60);
	out->tv_nsec = nsec;
	return 0;
}

void
lc_uuid(char out[37])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		fatalx("the OpenSSL random generator failed");
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

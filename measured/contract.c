/*
 * Contract runner: one blocking libcurl easy handle, one vector at a time.
 * Each vector's request is prepared (signed) by the service type just before
 * it is sent, so that its timestamp is current.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "contract.h"
#include "log.h"
#include "servicetype.h"
#include "vectors.h"

#define REASON_MAX	512	/* bytes of a failure reason */

/* The response to one vector's request, kept up to fixed limits. */
struct response {
	long		 status;	/* 0 when no response arrived */
	unsigned char	 body[CONTRACT_BODY_MAX];
	size_t		 body_len;
	size_t		 body_total;	/* bytes received, kept or not */
	char		 headers[CONTRACT_HEADERS_MAX];
	size_t		 headers_len;
	char		 error[CURL_ERROR_SIZE];
	double		 time_ms;
};

/* One run: the handle, the target and the counters of the report. */
struct run {
	CURL				*curl;
	const struct contract_options	*opts;
	char				 base[CONTRACT_URL_MAX];
	long				 timeout_ms;
	struct servicetype_request	*req;
	struct response			*resp;
	size_t				 passed;
	size_t				 optional;
	size_t				 optional_passed;
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct response *resp = arg;
	size_t len = size * nmemb, room;

	room = sizeof(resp->body) - resp->body_len;
	memcpy(resp->body + resp->body_len, data, len < room ? len : room);
	resp->body_len += len < room ? len : room;
	resp->body_total += len;
	return len;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct response *resp = arg;
	size_t len = size * nmemb, room;

	/* A status line starts the headers of a new response, after a 1xx
	 * interim one, so only the final response's headers are kept. */
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
		resp->headers_len = 0;
	room = sizeof(resp->headers) - 1 - resp->headers_len;
	if (len < room) {
		memcpy(resp->headers + resp->headers_len, data, len);
		resp->headers_len += len;
	}
	resp->headers[resp->headers_len] = '\0';
	return len;
}

/*
 * Finds the next header line called name in the kept response headers,
 * starting at *pos. Sets *value and *len to its trimmed value.
 */
static int
next_header(const struct response *resp, const char *name, size_t *pos,
    const char **value, size_t *len)
{
	size_t nlen = strlen(name);
	const char *line, *end, *colon, *v, *e;

	while (*pos < resp->headers_len) {
		line = resp->headers + *pos;
		end = memchr(line, '\n', resp->headers_len - *pos);
		if (end == NULL)
			end = resp->headers + resp->headers_len;
		*pos = (size_t)(end - resp->headers) + 1;
		colon = memchr(line, ':', (size_t)(end - line));
		if (colon == NULL || (size_t)(colon - line) != nlen ||
		    strncasecmp(line, name, nlen) != 0)
			continue;
		for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
			;
		for (e = end; e > v && (e[-1] == '\r' || e[-1] == ' ' ||
		    e[-1] == '\t'); e--)
			;
		*value = v;
		*len = (size_t)(e - v);
		return 1;
	}
	return 0;
}

/*
 * A header value matches the expected one when equal ignoring case, or
 * when it continues with parameters: "application/json; charset=utf-8"
 * matches "application/json".
 */
static int
header_value_matches(const char *value, size_t len, const char *expected)
{
	size_t n = strlen(expected), i;

	if (len < n || strncasecmp(value, expected, n) != 0)
		return 0;
	for (i = n; i < len && (value[i] == ' ' || value[i] == '\t'); i++)
		;
	return i == len || value[i] == ';';
}

int
contract_json_contains(json_t *actual, json_t *expected)
{
	const char *key;
	json_t *value;
	size_t i;

	if (json_is_object(expected)) {
		if (!json_is_object(actual))
			return 0;
		json_object_foreach(expected, key, value)
			if (!contract_json_contains(json_object_get(actual, key),
			    value))
				return 0;
		return 1;
	}
	if (json_is_array(expected)) {
		if (!json_is_array(actual) ||
		    json_array_size(actual) != json_array_size(expected))
			return 0;
		json_array_foreach(expected, i, value)
			if (!contract_json_contains(json_array_get(actual, i),
			    value))
				return 0;
		return 1;
	}
	return actual != NULL && json_equal(actual, expected);
}

/* Appends line to *list. On failure it frees the whole list. */
static int
append_line(struct curl_slist **list, const char *line)
{
	struct curl_slist *next;

	if ((next = curl_slist_append(*list, line)) == NULL) {
		curl_slist_free_all(*list);
		*list = NULL;
		return -1;
	}
	*list = next;
	return 0;
}

/* Builds the request header list for libcurl, dropping its defaults. */
static struct curl_slist *
build_headers(const struct servicetype_request *req, const char *extra)
{
	char line[SERVICETYPE_HEADER_NAME_MAX + SERVICETYPE_HEADER_VALUE_MAX + 2];
	struct curl_slist *list = NULL;
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		/* libcurl sends "Name;" as a header with an empty value. */
		if (req->headers[i].value[0] == '\0')
			snprintf(line, sizeof(line), "%s;",
			    req->headers[i].name);
		else
			snprintf(line, sizeof(line), "%s: %s",
			    req->headers[i].name, req->headers[i].value);
		if (append_line(&list, line) == -1)
			return NULL;
	}

	/* "Name:" removes a header libcurl would add by itself, so that the
	 * service gets only what the vector lists. */
	if (servicetype_request_header(req, "Content-Type") == NULL &&
	    append_line(&list, "Content-Type:") == -1)
		return NULL;
	if (servicetype_request_header(req, "Accept") == NULL &&
	    append_line(&list, "Accept:") == -1)
		return NULL;
	if (append_line(&list, "Expect:") == -1)
		return NULL;
	if (extra != NULL && append_line(&list, extra) == -1)
		return NULL;
	return list;
}

/* libcurl's progress callback: a non-zero return aborts the request. */
static int
abort_on_stop(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return *(const volatile int *)arg != 0;
}

/* Sets the options of one request on the reset handle. */
static int
setup_request(struct run *r, struct curl_slist *headers, char *url)
{
	const struct servicetype_request *req = r->req;
	CURL *c = r->curl;
	int has_body;

	has_body = req->body_len > 0 || strcmp(req->method, "POST") == 0 ||
	    strcmp(req->method, "PUT") == 0 || strcmp(req->method, "PATCH") == 0;
	if (curl_easy_setopt(c, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
#if LIBCURL_VERSION_NUM >= 0x075500
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK ||
#else
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) != CURLE_OK ||
#endif
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms) !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->resp->error) !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, r->resp) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header) !=
	    CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERDATA, r->resp) != CURLE_OK)
		return -1;
	if (r->opts->cafile != NULL &&
	    curl_easy_setopt(c, CURLOPT_CAINFO, r->opts->cafile) != CURLE_OK)
		return -1;
	if (r->opts->stop != NULL && (curl_easy_setopt(c,
	    CURLOPT_XFERINFOFUNCTION, abort_on_stop) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_XFERINFODATA,
	    (void *)(uintptr_t)r->opts->stop) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) != CURLE_OK))
		return -1;
	if (has_body && (curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
	    (curl_off_t)req->body_len) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body) != CURLE_OK))
		return -1;
	if (strcmp(req->method, "HEAD") == 0 &&
	    curl_easy_setopt(c, CURLOPT_NOBODY, 1L) != CURLE_OK)
		return -1;
	if (strcmp(req->method, has_body ? "POST" : "GET") != 0 &&
	    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method) != CURLE_OK)
		return -1;
	return 0;
}

/*
 * Sends r->req and fills r->resp. A transport failure (refused, reset,
 * timed out) is recorded in resp->error and is not an error of the run.
 */
static void
send_request(struct run *r)
{
	char url[CONTRACT_URL_MAX + SERVICETYPE_PATH_MAX];
	struct response *resp = r->resp;
	struct curl_slist *headers = NULL;
	curl_off_t total_us = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s%s", r->base, r->req->path);
	curl_easy_reset(r->curl);
	if ((headers = build_headers(r->req, r->opts->extra_header)) == NULL ||
	    setup_request(r, headers, url) == -1) {
		snprintf(resp->error, sizeof(resp->error), "could not set up "
		    "the request in libcurl");
		goto done;
	}
	rc = curl_easy_perform(r->curl);
	if (rc != CURLE_OK) {
		if (resp->error[0] == '\0')
			snprintf(resp->error, sizeof(resp->error), "%s",
			    curl_easy_strerror(rc));
		resp->status = 0;
		goto done;
	}
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (curl_easy_getinfo(r->curl, CURLINFO_TOTAL_TIME_T, &total_us) ==
	    CURLE_OK)
		resp->time_ms = (double)total_us / 1000.0;

done:
	/* The handle must not keep a pointer to the list freed here. */
	curl_easy_setopt(r->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
}

static int
reason(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes a failure reason and returns 0, the verdict "failed". */
static int
reason(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return 0;
}

static int
check_status(const struct vector *v, const struct response *resp, char *why,
    size_t size)
{
	char list[VECTORS_STATUS_MAX * 8];	/* "599 or " per status */
	size_t i, used = 0;
	int n;

	for (i = 0; i < v->expect.nstatus; i++)
		if (resp->status == v->expect.status[i])
			return 1;
	list[0] = '\0';
	for (i = 0; i < v->expect.nstatus; i++) {
		n = snprintf(list + used, sizeof(list) - used, "%s%d",
		    i > 0 ? " or " : "", v->expect.status[i]);
		if (n < 0 || (size_t)n >= sizeof(list) - used)
			break;
		used += (size_t)n;
	}
	return reason(why, size, "status %ld, expected %s", resp->status, list);
}

static int
check_body(const struct vector *v, const struct response *resp, char *why,
    size_t size)
{
	const struct vector_expect *e = &v->expect;
	json_error_t jerr;
	json_t *actual, *item;
	size_t i;
	int found = 0;

	switch (e->body_match) {
	case VECTOR_BODY_ANY:
		return 1;
	case VECTOR_BODY_EXACT:
		if (resp->body_total == e->body_len &&
		    memcmp(resp->body, e->body, e->body_len) == 0)
			return 1;
		return reason(why, size, "body differs from the expected %zu "
		    "bytes (got %zu bytes)", e->body_len, resp->body_total);
	case VECTOR_BODY_JSON_SUBSET:
	case VECTOR_BODY_JSON_SUBSET_ANY:
		break;
	}
	if (resp->body_total > resp->body_len)
		return reason(why, size, "body longer than the %d bytes kept",
		    CONTRACT_BODY_MAX);
	actual = json_loadb((const char *)resp->body, resp->body_len,
	    JSON_DECODE_ANY, &jerr);
	if (actual == NULL)
		return reason(why, size, "body is not JSON: %s", jerr.text);
	if (e->body_match == VECTOR_BODY_JSON_SUBSET)
		found = contract_json_contains(actual, e->json);
	else
		json_array_foreach(e->json, i, item)
			if (contract_json_contains(actual, item)) {
				found = 1;
				break;
			}
	json_decref(actual);
	if (!found)
		return reason(why, size, "body JSON does not contain %s",
		    e->body_match == VECTOR_BODY_JSON_SUBSET ?
		    "the expected value" : "any of the expected values");
	return 1;
}

static int
check_headers(const struct vector *v, const struct response *resp, char *why,
    size_t size)
{
	const struct vector_header *h;
	const char *value;
	size_t i, pos, len;
	int seen, matched;

	for (i = 0; i < v->expect.nheaders; i++) {
		h = &v->expect.headers[i];
		pos = 0;
		seen = matched = 0;
		while (!matched && next_header(resp, h->name, &pos, &value,
		    &len)) {
			seen = 1;
			matched = header_value_matches(value, len, h->value);
		}
		if (!seen)
			return reason(why, size, "header %s missing, expected "
			    "\"%s\"", h->name, h->value);
		if (!matched)
			return reason(why, size, "header %s does not match "
			    "\"%s\"", h->name, h->value);
	}
	return 1;
}

/* Returns 1 when the response meets every expectation of v. */
static int
evaluate(const struct vector *v, const struct response *resp, char *why,
    size_t size)
{
	if (resp->error[0] != '\0')
		return reason(why, size, "request failed: %s", resp->error);
	return check_status(v, resp, why, size) &&
	    check_body(v, resp, why, size) &&
	    check_headers(v, resp, why, size);
}

/* Sets key in o, counting a failure (no memory) in *failed. */
static void
put(json_t *o, const char *key, json_t *value, int *failed)
{
	if (value == NULL || json_object_set_new(o, key, value) == -1)
		*failed = 1;
}

/* Returns printable text for untrusted bytes, as a JSON string. */
static json_t *
escaped(const void *data, size_t len)
{
	char buf[4 * CONTRACT_EXCERPT_MAX + 1];

	if (len > CONTRACT_EXCERPT_MAX)
		len = CONTRACT_EXCERPT_MAX;
	log_escape(buf, sizeof(buf), data, len);
	return json_string(buf);
}

static json_t *
status_json(const struct vector *v)
{
	json_t *list;
	size_t i;

	if (v->expect.nstatus == 1)
		return json_integer(v->expect.status[0]);
	if ((list = json_array()) == NULL)
		return NULL;
	for (i = 0; i < v->expect.nstatus; i++)
		if (json_array_append_new(list,
		    json_integer(v->expect.status[i])) == -1) {
			json_decref(list);
			return NULL;
		}
	return list;
}

/* The expected status, body and headers of a failed vector. */
static json_t *
expected_json(const struct vector *v, int *failed)
{
	const struct vector_expect *e = &v->expect;
	json_t *o, *body, *headers;
	size_t i;

	if ((o = json_object()) == NULL) {
		*failed = 1;
		return NULL;
	}
	put(o, "status", status_json(v), failed);
	if (e->body_match != VECTOR_BODY_ANY) {
		body = json_object();
		if (body != NULL && e->body_match == VECTOR_BODY_EXACT)
			put(body, "exact", json_stringn((const char *)e->body,
			    e->body_len), failed);
		else if (body != NULL)
			put(body, e->body_match == VECTOR_BODY_JSON_SUBSET ?
			    "json_subset" : "json_subset_any",
			    json_incref(e->json), failed);
		put(o, "body", body, failed);
	}
	if (e->nheaders > 0) {
		headers = json_object();
		for (i = 0; headers != NULL && i < e->nheaders; i++)
			put(headers, e->headers[i].name,
			    json_string(e->headers[i].value), failed);
		put(o, "headers", headers, failed);
	}
	return o;
}

/* The first value of header name in resp, escaped, or JSON null. */
static json_t *
actual_header(const struct response *resp, const char *name)
{
	const char *value;
	size_t pos = 0, len;

	if (!next_header(resp, name, &pos, &value, &len))
		return json_null();
	return escaped(value, len);
}

/* The actual status, body and headers of a failed vector. */
static json_t *
actual_json(const struct vector *v, const struct response *resp,
    int *failed)
{
	json_t *o, *headers;
	size_t i;

	if ((o = json_object()) == NULL) {
		*failed = 1;
		return NULL;
	}
	put(o, "status", resp->status != 0 ? json_integer(resp->status) :
	    json_null(), failed);
	if (resp->error[0] != '\0')
		put(o, "error", escaped(resp->error, strlen(resp->error)),
		    failed);
	put(o, "body", escaped(resp->body, resp->body_len), failed);
	put(o, "body_length", json_integer((json_int_t)resp->body_total),
	    failed);

	/* Content-Type always, since a wrong one is a common failure. */
	headers = json_object();
	if (headers != NULL)
		put(headers, "Content-Type", actual_header(resp,
		    "Content-Type"), failed);
	for (i = 0; headers != NULL && i < v->expect.nheaders; i++)
		put(headers, v->expect.headers[i].name,
		    actual_header(resp, v->expect.headers[i].name), failed);
	put(o, "headers", headers, failed);
	return o;
}

static void
reset_response(struct response *resp)
{
	resp->status = 0;
	resp->body_len = resp->body_total = resp->headers_len = 0;
	resp->headers[0] = '\0';
	resp->error[0] = '\0';
	resp->time_ms = 0;
}

/* Runs one vector and adds it to the report's lists. */
static int
run_vector(struct run *r, const struct servicetype *type, void *state,
    const struct vector *v, json_t *report)
{
	char why[REASON_MAX], err[REASON_MAX];
	json_t *result, *failure;
	int passed, failed = 0;

	why[0] = '\0';
	reset_response(r->resp);
	if (type->prepare_vector(state, v, time(NULL), r->req, err,
	    sizeof(err)) == -1)
		passed = reason(why, sizeof(why), "could not build the "
		    "request: %s", err);
	else {
		send_request(r);
		passed = evaluate(v, r->resp, why, sizeof(why));
	}

	if ((result = json_object()) == NULL)
		return -1;
	put(result, "name", json_string(v->name), &failed);
	put(result, "optional", json_boolean(v->optional), &failed);
	put(result, "passed", json_boolean(passed), &failed);
	put(result, "status", r->resp->status != 0 ?
	    json_integer(r->resp->status) : json_null(), &failed);
	put(result, "time_ms", json_real(r->resp->time_ms), &failed);
	if (json_array_append_new(json_object_get(report, "results"),
	    result) == -1)
		return -1;

	if (v->optional) {
		r->optional++;
		r->optional_passed += passed ? 1 : 0;
	} else
		r->passed += passed ? 1 : 0;
	if (passed)
		return failed ? -1 : 0;

	if ((failure = json_object()) == NULL)
		return -1;
	put(failure, "name", json_string(v->name), &failed);
	put(failure, "description", json_string(v->description), &failed);
	put(failure, "reason", escaped(why, strlen(why)), &failed);
	put(failure, "expected", expected_json(v, &failed), &failed);
	put(failure, "actual", actual_json(v, r->resp, &failed), &failed);
	if (json_array_append_new(json_object_get(report, v->optional ?
	    "optional_failures" : "failures"), failure) == -1)
		return -1;
	return failed ? -1 : 0;
}

/* Copies the base URL without trailing slashes after checking it. */
static int
set_base_url(struct run *r, const char *url, char *err, size_t errlen)
{
	size_t len = strlen(url), i;

	if (strncasecmp(url, "http://", 7) != 0 &&
	    strncasecmp(url, "https://", 8) != 0) {
		snprintf(err, errlen, "contract: URL must begin with http:// "
		    "or https://");
		return -1;
	}
	if (len >= sizeof(r->base)) {
		snprintf(err, errlen, "contract: URL longer than %d bytes",
		    CONTRACT_URL_MAX - 1);
		return -1;
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)url[i] <= 0x20 ||
		    (unsigned char)url[i] >= 0x7f || url[i] == '?' ||
		    url[i] == '#') {
			snprintf(err, errlen, "contract: URL must be printable "
			    "ASCII without spaces, query or fragment");
			return -1;
		}
	memcpy(r->base, url, len + 1);
	while (len > 0 && r->base[len - 1] == '/')
		r->base[--len] = '\0';
	return 0;
}

/* Creates the report object with its counters still to be filled in. */
static json_t *
new_report(const struct servicetype *type, const struct run *r)
{
	json_t *report;
	int failed = 0;

	if ((report = json_object()) == NULL)
		return NULL;
	put(report, "service_type", json_string(type->name), &failed);
	put(report, "url", json_string(r->base), &failed);
	put(report, "failures", json_array(), &failed);
	put(report, "optional_failures", json_array(), &failed);
	put(report, "results", json_array(), &failed);
	if (failed) {
		json_decref(report);
		return NULL;
	}
	return report;
}

/* Adds the counters and the compliance once every vector has run. */
static int
finish_report(json_t *report, const struct vector_set *set,
    const struct run *r)
{
	size_t counted = set->required;
	int failed = 0;

	put(report, "vectors", json_integer((json_int_t)set->count), &failed);
	put(report, "counted", json_integer((json_int_t)counted), &failed);
	put(report, "passed", json_integer((json_int_t)r->passed), &failed);
	put(report, "failed", json_integer((json_int_t)(counted - r->passed)),
	    &failed);
	put(report, "optional", json_integer((json_int_t)r->optional),
	    &failed);
	put(report, "optional_passed",
	    json_integer((json_int_t)r->optional_passed), &failed);
	put(report, "contract_compliance", json_real(counted > 0 ?
	    100.0 * (double)r->passed / (double)counted : 0.0), &failed);
	return failed ? -1 : 0;
}

json_t *
contract_run(const struct servicetype *type, void *state,
    const struct vector_set *set, const struct contract_options *opts,
    char *err, size_t errlen)
{
	struct run r;
	json_t *report = NULL;
	size_t i;

	memset(&r, 0, sizeof(r));
	r.opts = opts;
	r.timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms :
	    CONTRACT_TIMEOUT_MS_DEFAULT;
	if (r.timeout_ms > CONTRACT_TIMEOUT_MS_MAX)
		r.timeout_ms = CONTRACT_TIMEOUT_MS_MAX;
	if (set_base_url(&r, opts->base_url, err, errlen) == -1)
		return NULL;

	if ((r.req = malloc(sizeof(*r.req))) == NULL ||
	    (r.resp = malloc(sizeof(*r.resp))) == NULL ||
	    (report = new_report(type, &r)) == NULL) {
		snprintf(err, errlen, "contract: out of memory");
		goto fail;
	}
	if ((r.curl = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "contract: libcurl failed to start");
		goto fail;
	}
	for (i = 0; i < set->count; i++) {
		if (run_vector(&r, type, state, &set->vectors[i],
		    report) == -1) {
			snprintf(err, errlen, "contract: out of memory while "
			    "reporting vector %s", set->vectors[i].name);
			goto fail;
		}
		if (opts->stop != NULL && *opts->stop) {
			snprintf(err, errlen, "contract: stopped after %zu of "
			    "%zu vectors", i + 1, set->count);
			goto fail;
		}
	}
	if (finish_report(report, set, &r) == -1) {
		snprintf(err, errlen, "contract: out of memory");
		goto fail;
	}
	curl_easy_cleanup(r.curl);
	free(r.resp);
	free(r.req);
	return report;

fail:
	json_decref(report);
	if (r.curl != NULL)
		curl_easy_cleanup(r.curl);
	free(r.resp);
	free(r.req);
	return NULL;
}

/*
 * HTTP requests to the Google APIs: one libcurl easy handle per thread (so
 * connections are reused), timeouts on every attempt, a response size cap,
 * retries with backoff, and the error envelopes of the APIs.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "gcp.h"
#include "gcp_private.h"
#include "log.h"

/* Bytes of a non-JSON error body kept in the error message. */
#define GCP_ERROR_BODY_MAX	200

/* Tunables, written only before threads start (gcp_set_*). */
static long gcp_connect_timeout_ms = GCP_CONNECT_TIMEOUT_MS;
static long gcp_total_timeout_ms = GCP_TOTAL_TIMEOUT_MS;
static int gcp_attempts = GCP_MAX_ATTEMPTS;

static pthread_key_t gcp_handle_key;
static int gcp_handle_key_created;

/* Response body and headers of one attempt. */
struct gcp_sink {
	char	*data;
	size_t	 len, cap, max;
	int	 too_large;
	int64_t	 goog_generation;
};

/* Outcome of one attempt. */
enum gcp_outcome {
	GCP_DONE,		/* a final response, or an error not retried */
	GCP_RETRY,		/* retryable, and the request allows it */
	GCP_FAILED,		/* no response, not retryable */
};

void
gcp_set_timeouts(long connect_ms, long total_ms)
{
	if (connect_ms > 0)
		gcp_connect_timeout_ms = connect_ms;
	if (total_ms > 0)
		gcp_total_timeout_ms = total_ms;
}

void
gcp_set_max_attempts(int attempts)
{
	if (attempts >= 1 && attempts <= 20)
		gcp_attempts = attempts;
}

static void
gcp_handle_free(void *handle)
{
	curl_easy_cleanup(handle);
}

int
gcp_http_init(void)
{
	if (gcp_handle_key_created)
		return 0;
	if (pthread_key_create(&gcp_handle_key, gcp_handle_free) != 0)
		return -1;
	gcp_handle_key_created = 1;
	return 0;
}

void
gcp_http_thread_cleanup(void)
{
	CURL *handle;

	if (!gcp_handle_key_created)
		return;
	handle = pthread_getspecific(gcp_handle_key);
	if (handle != NULL) {
		curl_easy_cleanup(handle);
		pthread_setspecific(gcp_handle_key, NULL);
	}
}

/* Returns the calling thread's handle, reset to default options but with
 * its open connections kept. */
static CURL *
gcp_thread_handle(void)
{
	CURL *handle;

	handle = pthread_getspecific(gcp_handle_key);
	if (handle != NULL) {
		curl_easy_reset(handle);
		return handle;
	}
	if ((handle = curl_easy_init()) == NULL)
		return NULL;
	if (pthread_setspecific(gcp_handle_key, handle) != 0) {
		curl_easy_cleanup(handle);
		return NULL;
	}
	return handle;
}

/* libcurl write callback: appends a chunk of the body, and fails the
 * transfer once the body would pass sink->max. */
static size_t
gcp_on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct gcp_sink *sink = arg;
	size_t n = size * nmemb, cap;
	char *grown;

	if (n > sink->max - sink->len) {
		sink->too_large = 1;
		return 0;
	}
	if (sink->len + n + 1 > sink->cap) {
		cap = sink->cap < 4096 ? 4096 : sink->cap;
		while (cap < sink->len + n + 1)
			cap *= 2;
		if (cap > sink->max + 1)
			cap = sink->max + 1;
		if ((grown = realloc(sink->data, cap)) == NULL)
			return 0;
		sink->data = grown;
		sink->cap = cap;
	}
	memcpy(sink->data + sink->len, ptr, n);
	sink->len += n;
	sink->data[sink->len] = '\0';
	return n;
}

/* libcurl header callback: keeps x-goog-generation, the generation of a
 * downloaded object. */
static size_t
gcp_on_header(char *buf, size_t size, size_t nitems, void *arg)
{
	static const char name[] = "x-goog-generation:";
	struct gcp_sink *sink = arg;
	size_t n = size * nitems, i;
	char value[32], *end;
	long long v;

	/* A status line starts the headers of a new response (after a
	 * 100 Continue, say). */
	if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0)
		sink->goog_generation = -1;
	if (n <= sizeof(name) - 1 ||
	    strncasecmp(buf, name, sizeof(name) - 1) != 0)
		return n;
	i = sizeof(name) - 1;
	while (i < n && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	if (n - i >= sizeof(value))
		return n;
	memcpy(value, buf + i, n - i);
	value[n - i] = '\0';
	value[strcspn(value, "\r\n")] = '\0';
	errno = 0;
	v = strtoll(value, &end, 10);
	if (errno == 0 && end != value && *end == '\0' && v >= 0)
		sink->goog_generation = v;
	return n;
}

/* Overwrites the header strings, one of which contains the token, before
 * freeing them. */
static void
gcp_headers_free(struct curl_slist *headers)
{
	struct curl_slist *h;

	for (h = headers; h != NULL; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(headers);
}

/* Builds the request headers, fetching the access token if needed. */
static int
gcp_headers(const struct gcp_request *req, struct curl_slist **out,
    struct gcp_error *err)
{
	char line[GCP_ACCESS_TOKEN_MAX + 32];
	char token[GCP_ACCESS_TOKEN_MAX];
	struct curl_slist *headers = NULL, *next;

	/* No "Expect: 100-continue" round trip before a body. */
	if ((headers = curl_slist_append(NULL, "Expect:")) == NULL)
		goto nomem;
	if (req->flags & GCP_REQ_METADATA) {
		if ((next = curl_slist_append(headers,
		    "Metadata-Flavor: Google")) == NULL)
			goto nomem;
		headers = next;
	}
	if (req->content_type != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s",
		    req->content_type);
		if ((next = curl_slist_append(headers, line)) == NULL)
			goto nomem;
		headers = next;
	}
	if (req->flags & GCP_REQ_AUTH) {
		if (metadata_access_token(token, sizeof(token), err) == -1)
			goto done;
		snprintf(line, sizeof(line), "Authorization: Bearer %s", token);
		next = curl_slist_append(headers, line);
		explicit_bzero(token, sizeof(token));
		explicit_bzero(line, sizeof(line));
		if (next == NULL)
			goto nomem;
		headers = next;
	}
	*out = headers;
	return 0;

nomem:
	gcp_nomem(err);
done:
	gcp_headers_free(headers);
	return -1;
}

#define GCP_SETOPT(h, opt, val) do {					\
	if ((code = curl_easy_setopt((h), (opt), (val))) != CURLE_OK)	\
		goto done;						\
} while (0)

/* Sends one attempt; returns the libcurl result and sets *status. */
static CURLcode
gcp_attempt(const struct gcp_request *req, struct curl_slist *headers,
    struct gcp_sink *sink, long *status, char *errbuf)
{
	CURL *h;
	CURLcode code = CURLE_OUT_OF_MEMORY;

	*status = 0;
	errbuf[0] = '\0';
	if ((h = gcp_thread_handle()) == NULL)
		return code;
	GCP_SETOPT(h, CURLOPT_URL, req->url);
#if LIBCURL_VERSION_NUM >= 0x075500
	GCP_SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	GCP_SETOPT(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP |
	    CURLPROTO_HTTPS));
#endif
	GCP_SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	GCP_SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS, gcp_connect_timeout_ms);
	GCP_SETOPT(h, CURLOPT_TIMEOUT_MS, gcp_total_timeout_ms);
	GCP_SETOPT(h, CURLOPT_USERAGENT, "perf-agent/" PACKAGE_VERSION);
	GCP_SETOPT(h, CURLOPT_HTTPHEADER, headers);
	GCP_SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
	GCP_SETOPT(h, CURLOPT_WRITEFUNCTION, gcp_on_body);
	GCP_SETOPT(h, CURLOPT_WRITEDATA, sink);
	GCP_SETOPT(h, CURLOPT_HEADERFUNCTION, gcp_on_header);
	GCP_SETOPT(h, CURLOPT_HEADERDATA, sink);
	if (strcmp(req->method, "GET") == 0)
		GCP_SETOPT(h, CURLOPT_HTTPGET, 1L);
	else {
		GCP_SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
		GCP_SETOPT(h, CURLOPT_POSTFIELDS,
		    req->body != NULL ? req->body : "");
		if (strcmp(req->method, "POST") != 0)
			GCP_SETOPT(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
	code = curl_easy_perform(h);
	if (code == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
done:
	/* The handle outlives this call; drop the pointers into it. */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	return code;
}

static int
gcp_status_retryable(long status)
{
	return status == 408 || status == 429 || (status >= 500 &&
	    status <= 599);
}

/* Returns 1 when libcurl failed before sending any of the request. */
static int
gcp_not_sent(CURLcode code)
{
	return code == CURLE_COULDNT_CONNECT ||
	    code == CURLE_COULDNT_RESOLVE_HOST ||
	    code == CURLE_COULDNT_RESOLVE_PROXY;
}

static int
gcp_transport_retryable(CURLcode code)
{
	switch (code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* Records why an attempt got no response. */
static void
gcp_transport_error(CURLcode code, const struct gcp_sink *sink,
    const char *errbuf, struct gcp_error *err)
{
	const char *reason = errbuf[0] != '\0' ? errbuf :
	    curl_easy_strerror(code);

	if (sink->too_large)
		gcp_error_set(err, 0, "RESPONSE_TOO_LARGE", "response over "
		    "%zu bytes", sink->max);
	else if (code == CURLE_OPERATION_TIMEDOUT)
		gcp_error_set(err, 0, "TIMEOUT", "%s", reason);
	else
		gcp_error_set(err, 0, "TRANSPORT", "%s", reason);
}

static void
gcp_log_retry(const struct gcp_request *req, int attempt, int attempts,
    long wait_ms, const struct gcp_error *err, long status)
{
	char resource[256];

	log_escape(resource, sizeof(resource), req->resource,
	    strlen(req->resource));
	if (status != 0)
		log_warnx("gcp: %s %s %s: HTTP %ld, attempt %d of %d, "
		    "retrying in %ld ms", gcp_api_name(req->api), req->method,
		    resource, status, attempt, attempts, wait_ms);
	else
		log_warnx("gcp: %s %s %s: %s (%s), attempt %d of %d, "
		    "retrying in %ld ms", gcp_api_name(req->api), req->method,
		    resource, err->status, err->message, attempt, attempts,
		    wait_ms);
}

/* Classifies one finished attempt. */
static enum gcp_outcome
gcp_classify(struct gcp_request *req, CURLcode code, long status,
    const struct gcp_sink *sink, const char *errbuf, struct gcp_error *err)
{
	int idempotent = (req->flags & GCP_REQ_IDEMPOTENT) != 0;

	if (code == CURLE_OK) {
		if (gcp_status_retryable(status) && idempotent)
			return GCP_RETRY;
		return GCP_DONE;
	}
	gcp_transport_error(code, sink, errbuf, err);
	if (sink->too_large)
		return GCP_FAILED;
	/* A request that never left may be sent again whatever it does. */
	if (gcp_not_sent(code))
		return GCP_RETRY;
	if (gcp_transport_retryable(code) && idempotent)
		return GCP_RETRY;
	return GCP_FAILED;
}

int
gcp_request_perform(struct gcp_request *req, struct gcp_error *err)
{
	struct curl_slist *headers = NULL;
	struct gcp_sink sink;
	char errbuf[CURL_ERROR_SIZE], resource[256];
	enum gcp_outcome outcome;
	int attempt, attempts = gcp_attempts, reauthorized = 0;
	long wait_ms = 0, status;
	CURLcode code;

	memset(&sink, 0, sizeof(sink));
	sink.max = req->max_response != 0 ? req->max_response :
	    GCP_RESPONSE_MAX;
	req->ambiguous = 0;
	req->status = 0;

	for (attempt = 1; ; attempt++) {
		free(sink.data);
		sink.data = NULL;
		sink.len = sink.cap = 0;
		sink.too_large = 0;
		sink.goog_generation = -1;

		if (gcp_headers(req, &headers, err) == -1)
			goto fail;
		code = gcp_attempt(req, headers, &sink, &status, errbuf);
		gcp_headers_free(headers);
		headers = NULL;
		outcome = gcp_classify(req, code, status, &sink, errbuf, err);

		/* A rejected token may have been revoked: fetch a new one
		 * once. */
		if (outcome == GCP_DONE && status == 401 &&
		    (req->flags & GCP_REQ_AUTH) && !reauthorized) {
			reauthorized = 1;
			log_escape(resource, sizeof(resource), req->resource,
			    strlen(req->resource));
			log_warnx("gcp: %s %s %s: HTTP 401, retrying with a "
			    "new access token", gcp_api_name(req->api),
			    req->method, resource);
			gcp_access_token_invalidate();
			attempt--;
			continue;
		}
		if (outcome == GCP_RETRY && attempt < attempts) {
			if (code != CURLE_OK ? !gcp_not_sent(code) :
			    status >= 500)
				req->ambiguous = 1;
			wait_ms = gcp_backoff_ms(attempt - 1,
			    randombytes_random());
			gcp_log_retry(req, attempt, attempts, wait_ms, err,
			    code == CURLE_OK ? status : 0);
			gcp_sleep_ms(wait_ms);
			continue;
		}
		if (code == CURLE_OK)
			break;
		goto fail;
	}

	req->status = status;
	req->data = sink.data;
	req->len = sink.len;
	req->goog_generation = sink.goog_generation;
	if (req->data == NULL && (req->data = strdup("")) == NULL)
		return gcp_nomem(err);
	return 0;

fail:
	free(sink.data);
	log_escape(resource, sizeof(resource), req->resource,
	    strlen(req->resource));
	log_warnx("gcp: %s %s %s failed after %d attempt%s: %s (%s)",
	    gcp_api_name(req->api), req->method, resource, attempt,
	    attempt == 1 ? "" : "s", err->status, err->message);
	return -1;
}

void
gcp_request_release(struct gcp_request *req)
{
	free(req->data);
	req->data = NULL;
	req->len = 0;
}

/* The canonical code name of an HTTP status, for error bodies without
 * one. */
static const char *
gcp_status_name(long status)
{
	switch (status) {
	case 400:
		return "INVALID_ARGUMENT";
	case 401:
		return "UNAUTHENTICATED";
	case 403:
		return "PERMISSION_DENIED";
	case 404:
		return "NOT_FOUND";
	case 409:
		return "ALREADY_EXISTS";
	case 412:
		return "FAILED_PRECONDITION";
	case 429:
		return "RESOURCE_EXHAUSTED";
	case 499:
		return "CANCELLED";
	case 501:
		return "UNIMPLEMENTED";
	case 503:
		return "UNAVAILABLE";
	case 504:
		return "DEADLINE_EXCEEDED";
	default:
		return status >= 500 ? "INTERNAL" : "UNKNOWN";
	}
}

/*
 * Fills err from an error response: the status name of the Google
 * envelope {"error": {"code", "message", "status"}}, else the reason of
 * the Cloud Storage one {"error": {"errors": [{"reason"}]}}, else the name
 * of the HTTP status.
 */
void
gcp_response_error(const struct gcp_request *req, struct gcp_error *err)
{
	const char *status = NULL, *message = NULL;
	json_t *root, *error, *first;
	char text[GCP_ERROR_BODY_MAX * 4 + 1];
	size_t len;

	root = json_loadb(req->data, req->len, 0, NULL);
	error = json_object_get(root, "error");
	if (json_is_object(error)) {
		status = json_string_value(json_object_get(error, "status"));
		message = json_string_value(json_object_get(error,
		    "message"));
		first = json_array_get(json_object_get(error, "errors"), 0);
		if (status == NULL)
			status = json_string_value(json_object_get(first,
			    "reason"));
	}
	if (status == NULL || status[0] == '\0' || strlen(status) >=
	    sizeof(err->status))
		status = gcp_status_name(req->status);
	if (message != NULL)
		log_escape(text, sizeof(text), message, strlen(message));
	else {
		len = req->len < GCP_ERROR_BODY_MAX ? req->len :
		    GCP_ERROR_BODY_MAX;
		log_escape(text, sizeof(text), req->data != NULL ? req->data :
		    "", req->data != NULL ? len : 0);
	}
	gcp_error_set(err, req->status, status, "%s", text);
	json_decref(root);
}

int
gcp_request_fail(struct gcp_request *req, struct gcp_error *err)
{
	gcp_response_error(req, err);
	gcp_log_error(req->api, req->method, req->resource, err);
	return -1;
}

json_t *
gcp_request_json(struct gcp_request *req, struct gcp_error *err)
{
	json_error_t jerr;
	json_t *root;

	root = json_loadb(req->data, req->len, 0, &jerr);
	if (json_is_object(root))
		return root;
	json_decref(root);
	gcp_error_set(err, req->status, "INVALID_RESPONSE", "HTTP %ld body "
	    "is not a JSON object (%s at byte %d)", req->status,
	    root == NULL ? jerr.text : "another JSON type",
	    root == NULL ? jerr.position : 0);
	gcp_log_error(req->api, req->method, req->resource, err);
	return NULL;
}

int
gcp_send_json(struct gcp_request *req, enum gcp_api api, const char *method,
    const char *url, const char *resource, json_t *body, int flags,
    struct gcp_error *err)
{
	char *text = NULL;
	int rc;

	memset(req, 0, sizeof(*req));
	if (body != NULL) {
		if ((text = json_dumps(body, JSON_COMPACT)) == NULL)
			return gcp_invalid(err, api, method, resource,
			    "the request body cannot be encoded as JSON");
		req->content_type = "application/json";
		req->body = text;
		req->body_len = strlen(text);
	}
	req->api = api;
	req->method = method;
	req->url = url;
	req->resource = resource;
	req->flags = flags | GCP_REQ_AUTH;
	rc = gcp_request_perform(req, err);
	free(text);
	req->body = NULL;
	return rc;
}

int
gcp_already_exists(const struct gcp_request *req)
{
	struct gcp_error err;

	if (req->status != 409)
		return 0;
	gcp_response_error(req, &err);
	return strcmp(err.status, "ALREADY_EXISTS") == 0 ||
	    strcmp(err.status, "conflict") == 0;
}

int
gcp_invalid(struct gcp_error *err, enum gcp_api api, const char *method,
    const char *resource, const char *fmt, ...)
{
	va_list ap;

	err->http_status = 0;
	snprintf(err->status, sizeof(err->status), "INVALID_ARGUMENT");
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	gcp_log_error(api, method, resource, err);
	return -1;
}

char *
gcp_page_url(const char *url, const char *token)
{
	char *escaped, *out;

	if (token == NULL)
		return gcp_format("%s", url);
	if ((escaped = gcp_escape(token)) == NULL)
		return NULL;
	out = gcp_format("%s%cpageToken=%s", url,
	    strchr(url, '?') != NULL ? '&' : '?', escaped);
	free(escaped);
	return out;
}

void
gcp_log_error(enum gcp_api api, const char *method, const char *resource,
    const struct gcp_error *err)
{
	char escaped[256];

	log_escape(escaped, sizeof(escaped), resource, strlen(resource));
	if (err->http_status != 0)
		log_warnx("gcp: %s %s %s: HTTP %ld %s: %s", gcp_api_name(api),
		    method, escaped, err->http_status, err->status,
		    err->message);
	else
		log_warnx("gcp: %s %s %s: %s: %s", gcp_api_name(api), method,
		    escaped, err->status, err->message);
}

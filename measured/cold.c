/*
 * Cold-start sample through libcurl easy: a fresh connection that is not
 * kept, phases from libcurl's *_TIME_T infos, and the client-observed total
 * from CLOCK_MONOTONIC around curl_easy_perform().
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "clock.h"
#include "cold.h"

#define COLD_TIMEOUT_DEFAULT_NS	(30 * CLOCK_NS_PER_S)

struct body_sink {
	char	*buf;
	size_t	 len;
	size_t	 max;
	int	 truncated;
};

/* Keeps at most max bytes of the body and reads the rest unkept, so that
 * a long body still ends the request normally. */
static size_t
body_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct body_sink	*sink = arg;
	size_t			 n = size * nmemb, room;

	room = sink->max - sink->len;
	if (n > room)
		sink->truncated = 1;
	memcpy(sink->buf + sink->len, ptr, n < room ? n : room);
	sink->len += n < room ? n : room;
	return n;
}

/* Maps a libcurl result to an error kind. */
static enum stats_error_kind
classify(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return STATS_ERROR_DNS;
	case CURLE_COULDNT_CONNECT:
		return STATS_ERROR_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return STATS_ERROR_TIMEOUT;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
		return STATS_ERROR_TLS;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		return STATS_ERROR_CLOSED;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return STATS_ERROR_PROTOCOL;
	default:
		return STATS_ERROR_OTHER;
	}
}

/* Builds the header list with an empty "Expect:", which stops libcurl from
 * waiting up to a second for a 100 Continue before sending a POST body. */
static struct curl_slist *
build_headers(const struct cold_request *req)
{
	struct curl_slist	*list = NULL, *next;
	size_t			 i;

	if (req->nheaders > COLD_MAX_HEADERS)
		return NULL;
	for (i = 0; i <= req->nheaders; i++) {
		const char *h = i < req->nheaders ? req->headers[i] : "Expect:";

		if (strpbrk(h, "\r\n") != NULL)
			goto fail;
		if ((next = curl_slist_append(list, h)) == NULL)
			goto fail;
		list = next;
	}
	return list;
fail:
	curl_slist_free_all(list);
	return NULL;
}

/* libcurl's progress callback: a non-zero return aborts the transfer. It
 * runs at least once a second while the request waits. */
static int
abort_on_stop(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return *(const volatile int *)arg != 0;
}

/* Sets the request options: fresh connection, no reuse, no delay. */
static int
set_options(CURL *curl, const struct cold_request *req,
    struct curl_slist *headers, struct body_sink *sink, char *errbuf)
{
	const char	*method = req->method != NULL ? req->method : "GET";
	int64_t		 timeout_ns = req->timeout_ns > 0 ? req->timeout_ns :
			    COLD_TIMEOUT_DEFAULT_NS;
	CURLcode	 rc = CURLE_OK;

#define SET(opt, val)	do { if (rc == CURLE_OK) \
	rc = curl_easy_setopt(curl, opt, val); } while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_FRESH_CONNECT, 1L);
	SET(CURLOPT_FORBID_REUSE, 1L);
	SET(CURLOPT_TCP_NODELAY, 1L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_TIMEOUT_MS, (long)(timeout_ns / CLOCK_NS_PER_MS));
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_WRITEFUNCTION, body_write);
	SET(CURLOPT_WRITEDATA, sink);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	if (req->cafile != NULL)
		SET(CURLOPT_CAINFO, req->cafile);
	if (req->stop != NULL) {
		SET(CURLOPT_XFERINFOFUNCTION, abort_on_stop);
		SET(CURLOPT_XFERINFODATA, (void *)(uintptr_t)req->stop);
		SET(CURLOPT_NOPROGRESS, 0L);
	}
	if (strcmp(method, "HEAD") == 0)
		SET(CURLOPT_NOBODY, 1L);
	else if (req->body != NULL) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SET(CURLOPT_POSTFIELDS, req->body);
		if (strcmp(method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, method);
	} else if (strcmp(method, "GET") != 0)
		SET(CURLOPT_CUSTOMREQUEST, method);
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

/* Returns one of libcurl's *_TIME_T points in ns, -1 when unset. */
static int64_t
time_info(CURL *curl, CURLINFO info)
{
	curl_off_t	us = 0;

	if (curl_easy_getinfo(curl, info, &us) != CURLE_OK || us <= 0)
		return -1;
	return (int64_t)us * CLOCK_NS_PER_US;
}

static int64_t
span(int64_t from, int64_t to)
{
	if (from < 0 || to < 0 || to < from)
		return -1;
	return to - from;
}

/* Reads the cumulative time points and turns them into phases. */
static void
read_phases(CURL *curl, struct cold_result *res)
{
	int64_t	before_request;

	res->namelookup_ns = time_info(curl, CURLINFO_NAMELOOKUP_TIME_T);
	res->connect_ns = time_info(curl, CURLINFO_CONNECT_TIME_T);
	res->appconnect_ns = time_info(curl, CURLINFO_APPCONNECT_TIME_T);
	res->pretransfer_ns = time_info(curl, CURLINFO_PRETRANSFER_TIME_T);
	res->starttransfer_ns = time_info(curl,
	    CURLINFO_STARTTRANSFER_TIME_T);

	res->phases.dns_ns = res->namelookup_ns;
	res->phases.tcp_connect_ns = span(res->namelookup_ns,
	    res->connect_ns);
	res->phases.tls_ns = span(res->connect_ns, res->appconnect_ns);
	before_request = res->appconnect_ns > 0 ? res->appconnect_ns :
	    res->connect_ns;
	res->phases.request_sent_ns = span(before_request,
	    res->pretransfer_ns);
	res->phases.first_byte_ns = span(res->pretransfer_ns,
	    res->starttransfer_ns);
	res->phases.total_ns = time_info(curl, CURLINFO_TOTAL_TIME_T);
}

/*
 * Sends one request on a new connection and waits for the whole response.
 * Returns 0 when the request ran, whatever its outcome, which res->ok and
 * the error kind and message report. Returns -1 for an invalid request or
 * missing memory. The caller frees res with cold_result_free().
 */
int
cold_sample(const struct cold_request *req, struct cold_result *res)
{
	struct curl_slist	*headers = NULL;
	struct body_sink	 sink;
	char			 errbuf[CURL_ERROR_SIZE];
	CURL			*curl = NULL;
	CURLcode		 rc;
	int64_t			 t0, t1;
	int			 ret = -1;

	memset(res, 0, sizeof(*res));
	memset(&sink, 0, sizeof(sink));
	errbuf[0] = '\0';
	res->phases = (struct cold_phases){ -1, -1, -1, -1, -1, -1 };
	res->namelookup_ns = res->connect_ns = res->appconnect_ns = -1;
	res->pretransfer_ns = res->starttransfer_ns = -1;
	if (req->url == NULL)
		return -1;
	sink.max = req->body_max > 0 ? req->body_max : COLD_BODY_MAX_DEFAULT;
	if ((sink.buf = malloc(sink.max + 1)) == NULL)
		return -1;
	if ((headers = build_headers(req)) == NULL)
		goto done;
	if ((curl = curl_easy_init()) == NULL)
		goto done;
	if (set_options(curl, req, headers, &sink, errbuf) == -1)
		goto done;

	/* The timed part: everything above is set up before it. */
	t0 = clock_now_ns();
	rc = curl_easy_perform(curl);
	t1 = clock_now_ns();

	res->client_total_ns = t1 - t0;
	read_phases(curl, res);
	(void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res->status);
	{
		char *type = NULL;

		if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &type) ==
		    CURLE_OK && type != NULL)
			snprintf(res->content_type, sizeof(res->content_type),
			    "%s", type);
	}
	if (rc != CURLE_OK) {
		res->error_kind = classify(rc);
		(void)snprintf(res->error, sizeof(res->error), "%s",
		    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
	} else if (req->expect_status != 0 &&
	    res->status != req->expect_status) {
		res->error_kind = STATS_ERROR_HTTP_STATUS;
		(void)snprintf(res->error, sizeof(res->error),
		    "status %ld, expected %d", res->status,
		    req->expect_status);
	} else
		res->ok = 1;

	sink.buf[sink.len] = '\0';
	res->body = sink.buf;
	res->body_len = sink.len;
	res->body_truncated = sink.truncated;
	sink.buf = NULL;
	ret = 0;
done:
	if (curl != NULL)
		curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	free(sink.buf);
	return ret;
}

void
cold_result_free(struct cold_result *res)
{
	free(res->body);
	res->body = NULL;
	res->body_len = 0;
}

static json_t *
ns_or_null(int64_t ns)
{
	return ns < 0 ? json_null() : stats_ms_json((double)ns);
}

/* Builds the JSON of one sample: the headline cold_start_ms (only for a
 * successful sample), phases and libcurl's cumulative time points. */
json_t *
cold_result_to_json(const struct cold_result *res)
{
	json_t	*error;

	if (res->ok)
		error = json_null();
	else
		error = json_pack("{s:s s:s}",
		    "kind", stats_error_kind_name(res->error_kind),
		    "message", res->error);
	return json_pack("{s:b s:o s:o s:o s:o s:{s:o s:o s:o s:o s:o s:o}"
	    " s:{s:o s:o s:o s:o s:o} s:I s:b}",
	    "ok", res->ok,
	    "status", res->status > 0 ? json_integer(res->status) :
	    json_null(),
	    "error", error,
	    "cold_start_ms", res->ok ?
	    stats_ms_json((double)res->client_total_ns) : json_null(),
	    "client_total_ms", stats_ms_json((double)res->client_total_ns),
	    "phases_ms",
	    "dns", ns_or_null(res->phases.dns_ns),
	    "tcp_connect", ns_or_null(res->phases.tcp_connect_ns),
	    "tls", ns_or_null(res->phases.tls_ns),
	    "request_sent", ns_or_null(res->phases.request_sent_ns),
	    "first_byte", ns_or_null(res->phases.first_byte_ns),
	    "total", ns_or_null(res->phases.total_ns),
	    "timeline_ms",
	    "namelookup", ns_or_null(res->namelookup_ns),
	    "connect", ns_or_null(res->connect_ns),
	    "appconnect", ns_or_null(res->appconnect_ns),
	    "pretransfer", ns_or_null(res->pretransfer_ns),
	    "starttransfer", ns_or_null(res->starttransfer_ns),
	    "body_bytes", (json_int_t)res->body_len,
	    "body_truncated", res->body_truncated);
}

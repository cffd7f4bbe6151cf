/* libcurl multi on libevent: non-blocking HTTP requests to loopback. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "deliver.h"
#include "log.h"

/* Maximum response body read, in bytes. Past it the transfer ends, and
 * the caller still gets the response status. */
#define DELIVER_RESPONSE_MAX	(64 * 1024)

struct deliver {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	struct delivery		*list;		/* in flight */
};

struct delivery {
	struct deliver		*d;
	CURL			*easy;
	struct curl_slist	*headers;
	struct curl_slist	*resolve;
	deliver_cb		 cb;
	void			*arg;
	size_t			 received;	/* response bytes */
	char			 error[CURL_ERROR_SIZE];
	struct delivery		*prev, *next;
};

/* A socket that curl asked to watch. */
struct watch {
	struct deliver		*d;
	curl_socket_t		 fd;
	struct event		*ev;
};

static void check_done(struct deliver *);

/* Accepts http and https URLs to 127.0.0.1 or localhost only. */
int
deliver_check_url(const char *url, char *err, size_t errlen)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL;
	int rc = -1;

	if ((u = curl_url()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errlen, "the target URL is invalid");
		goto done;
	}
	if (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0) {
		snprintf(err, errlen, "the target URL must be http or https");
		goto done;
	}
	if (strcmp(host, "127.0.0.1") != 0 &&
	    strcasecmp(host, "localhost") != 0) {
		snprintf(err, errlen, "localcloud sends requests only to "
		    "127.0.0.1 or localhost; the target host is not "
		    "loopback");
		goto done;
	}
	rc = 0;
done:
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

/* Runs curl's work for a ready socket. */
static void
on_socket(evutil_socket_t fd, short events, void *arg)
{
	struct deliver *d = arg;
	int running, flags = 0;

	if (events & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (events & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(d->multi, fd, flags, &running);
	check_done(d);
}

static void
on_timer(evutil_socket_t fd, short events, void *arg)
{
	struct deliver *d = arg;
	int running;

	curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(d);
}

/* CURLMOPT_SOCKETFUNCTION: starts, changes or stops watching a socket. */
static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct deliver *d = userp;
	struct watch *w = socketp;
	short events = EV_PERSIST;

	if (what == CURL_POLL_REMOVE) {
		if (w != NULL) {
			event_free(w->ev);
			free(w);
			curl_multi_assign(d->multi, fd, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EV_READ;
	if (what & CURL_POLL_OUT)
		events |= EV_WRITE;
	if (w == NULL) {
		if ((w = calloc(1, sizeof(*w))) == NULL)
			return -1;
		w->d = d;
		w->fd = fd;
		curl_multi_assign(d->multi, fd, w);
	} else
		event_free(w->ev);
	if ((w->ev = event_new(d->base, fd, events, on_socket, d)) == NULL ||
	    event_add(w->ev, NULL) == -1)
		return -1;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: arms the single timer curl wants. */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct deliver *d = userp;
	struct timeval tv;

	if (timeout_ms < 0)
		return evtimer_del(d->timer);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(d->timer, &tv);
}

struct deliver *
deliver_new(struct event_base *base)
{
	static int curl_ready;
	struct deliver *d;

	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return NULL;
		curl_ready = 1;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->base = base;
	if ((d->multi = curl_multi_init()) == NULL ||
	    (d->timer = evtimer_new(base, on_timer, d)) == NULL) {
		deliver_free(d);
		return NULL;
	}
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
	return d;
}

/* Detaches a delivery from the multi handle and frees it. */
static void
delivery_free(struct delivery *dl)
{
	struct deliver *d = dl->d;

	if (dl->prev != NULL)
		dl->prev->next = dl->next;
	else
		d->list = dl->next;
	if (dl->next != NULL)
		dl->next->prev = dl->prev;
	curl_multi_remove_handle(d->multi, dl->easy);
	curl_easy_cleanup(dl->easy);
	curl_slist_free_all(dl->resolve);
	curl_slist_free_all(dl->headers);
	free(dl);
}

void
deliver_free(struct deliver *d)
{
	if (d == NULL)
		return;
	while (d->list != NULL)
		delivery_free(d->list);
	if (d->multi != NULL)
		curl_multi_cleanup(d->multi);
	if (d->timer != NULL)
		event_free(d->timer);
	free(d);
}

/* Reports finished transfers. Each is freed before its callback runs,
 * so the callback may start or cancel other deliveries. */
static void
check_done(struct deliver *d)
{
	struct delivery *dl;
	CURLMsg *msg;
	CURLcode res;
	long status = 0;
	int left, timed_out;
	char error[CURL_ERROR_SIZE + 64];
	deliver_cb cb;
	void *arg;

	while ((msg = curl_multi_info_read(d->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		res = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &dl);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
		    &status);
		/* A response cut short by the size limit still counts. */
		if (res != CURLE_OK && !(res == CURLE_WRITE_ERROR &&
		    status != 0))
			snprintf(error, sizeof(error), "%s%s%s",
			    curl_easy_strerror(res), dl->error[0] ? ": " : "",
			    dl->error);
		else
			error[0] = '\0';
		if (error[0] != '\0')
			status = 0;
		timed_out = res == CURLE_OPERATION_TIMEDOUT;
		cb = dl->cb;
		arg = dl->arg;
		delivery_free(dl);
		cb(status, timed_out, error[0] != '\0' ? error : NULL, arg);
	}
}

/* Counts and drops response bytes, ending the transfer past the limit. */
static size_t
discard_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct delivery *dl = userp;

	dl->received += size * nmemb;
	if (dl->received > DELIVER_RESPONSE_MAX)
		return 0;
	return size * nmemb;
}

/* Makes the CURLOPT_RESOLVE entry that pins localhost to 127.0.0.1, so no
 * resolver is asked and the connection cannot go elsewhere. */
static struct curl_slist *
pin_localhost(const char *url)
{
	CURLU *u;
	char *port = NULL, entry[64];
	struct curl_slist *list = NULL;

	if ((u = curl_url()) == NULL)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK) {
		snprintf(entry, sizeof(entry), "localhost:%s:127.0.0.1", port);
		list = curl_slist_append(NULL, entry);
	}
	curl_free(port);
	curl_url_cleanup(u);
	return list;
}

/*
 * Starts one request. The delivery owns request->headers from here on,
 * even on failure. Returns NULL with err set when the URL is rejected or
 * the transfer cannot start, and cb is then never called.
 */
struct delivery *
deliver_start(struct deliver *d, const struct deliver_request *request,
    deliver_cb cb, void *arg, char *err, size_t errlen)
{
	struct delivery *dl;
	CURL *e;

	if (deliver_check_url(request->url, err, errlen) == -1) {
		curl_slist_free_all(request->headers);
		return NULL;
	}
	if ((dl = calloc(1, sizeof(*dl))) == NULL ||
	    (dl->easy = e = curl_easy_init()) == NULL) {
		free(dl);
		curl_slist_free_all(request->headers);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	dl->d = d;
	dl->cb = cb;
	dl->arg = arg;
	dl->headers = request->headers;
	dl->resolve = pin_localhost(request->url);

	curl_easy_setopt(e, CURLOPT_URL, request->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, request->timeout);
	curl_easy_setopt(e, CURLOPT_RESOLVE, dl->resolve);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, dl->headers);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, dl);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, dl->error);
	curl_easy_setopt(e, CURLOPT_PRIVATE, dl);
	if (request->ca_file != NULL)
		curl_easy_setopt(e, CURLOPT_CAINFO, request->ca_file);
	if (strcmp(request->method, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (request->body_len > 0 || strcmp(request->method, "POST") ==
	    0 || strcmp(request->method, "PUT") == 0 ||
	    strcmp(request->method, "PATCH") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)request->body_len);
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS,
		    request->body_len > 0 ? request->body : "");
	}
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, request->method);

	if (curl_multi_add_handle(d->multi, e) != CURLM_OK) {
		curl_easy_cleanup(e);
		curl_slist_free_all(dl->resolve);
		curl_slist_free_all(dl->headers);
		free(dl);
		snprintf(err, errlen, "cannot start the request");
		return NULL;
	}
	dl->next = d->list;
	if (d->list != NULL)
		d->list->prev = dl;
	d->list = dl;
	return dl;
}

/* Stops a delivery in flight; its callback is not called. */
void
deliver_cancel(struct delivery *dl)
{
	if (dl != NULL)
		delivery_free(dl);
}

/*
 * Computes the wait before retry number retry (1 for the first retry),
 * in seconds, as Cloud Scheduler and Cloud Tasks document it: min, doubled
 * max_doublings times, then growing linearly by min * 2^max_doublings,
 * capped at max. With min 10 s, max 300 s and 3 doublings the waits are
 * 10, 20, 40, 80, 160, 240, 300, 300, ...
 */
int
deliver_backoff(double min, double max, int max_doublings, int retry,
    double *delay)
{
	double v;

	if (retry < 1 || min < 0 || max < min || max_doublings < 0)
		return -1;
	if (retry <= max_doublings + 1)
		v = min * ldexp(1.0, retry - 1);
	else
		v = min * ldexp(1.0, max_doublings) *
		    (double)(retry - max_doublings);
	*delay = v > max ? max : v;
	return 0;
}

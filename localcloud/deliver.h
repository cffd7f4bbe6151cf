/*
 * Outbound HTTP requests of Cloud Scheduler and Cloud Tasks, sent with
 * libcurl's multi interface driven by the libevent loop, so that no
 * request blocks it. Targets must be http or https URLs whose host is
 * 127.0.0.1 or localhost: localcloud never sends a request off the machine.
 * Proxies and redirects are not followed.
 */
#ifndef LOCALCLOUD_DELIVER_H
#define LOCALCLOUD_DELIVER_H

#include <stddef.h>

#include <curl/curl.h>
#include <event2/event.h>

struct deliver;
struct delivery;

struct deliver_request {
	const char		*url;
	const char		*method;	/* "POST", "GET", ... */
	struct curl_slist	*headers;	/* "Name: value" lines */
	const void		*body;
	size_t			 body_len;
	long			 timeout;	/* seconds */
	const char		*ca_file;	/* for https, or NULL */
};

/* Called once per delivery. status is the HTTP status, or 0 when no
 * response arrived, with error saying why (NULL on a response) and
 * timed_out set when the timeout ended the request. */
typedef void (*deliver_cb)(long status, int timed_out, const char *error,
    void *arg);

struct deliver	*deliver_new(struct event_base *base);
void		 deliver_free(struct deliver *d);
int		 deliver_check_url(const char *url, char *err, size_t errlen);
struct delivery	*deliver_start(struct deliver *d,
		    const struct deliver_request *request, deliver_cb cb,
		    void *arg, char *err, size_t errlen);
void		 deliver_cancel(struct delivery *delivery);
int		 deliver_backoff(double min, double max, int max_doublings,
		    int retry, double *delay);

#endif

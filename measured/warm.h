/*
 * Warm-request load engine: HTTP/1.1 over keep-alive connections on
 * libevent, TLS by OpenSSL directly on the socket, responses parsed by
 * http_parser. warm_run() runs its own event loop to completion on the
 * calling thread.
 *
 * Closed loop: every connection first sends one warm-up request. Once all
 * have finished, the measured interval starts, and `count` requests go out
 * over the `concurrency` connections. Each is sent as soon as its
 * connection has finished the previous one, after the other responses
 * that arrived with it were timestamped.
 *
 * Open loop (rate_rps > 0): after the same warm-up, requests fall due at
 * fixed intervals for duration_ns. Each is sent on a free connection, or
 * as soon as one frees up.
 *
 * On the timed path nothing is allocated, except by OpenSSL when a TLS
 * connection is opened again. There is no logging and no DNS. The process
 * must ignore SIGPIPE, because OpenSSL writes to the socket with write().
 */
#ifndef WARM_H
#define WARM_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "stats.h"

#define WARM_MAX_CONCURRENCY	10000
#define WARM_MAX_HEADERS	64
#define WARM_TIMEOUT_DEFAULT_NS	(INT64_C(10) * 1000000000)
/* An open-loop run fell behind when the p99 send lag exceeded this. */
#define WARM_FELL_BEHIND_NS	INT64_C(1000000)

struct warm_config {
	const char	*host;		/* name or address, resolved once */
	const char	*port;
	int		 tls;
	const char	*server_name;	/* TLS SNI and check; NULL: host */
	const char	*cafile;	/* NULL: OpenSSL's default CAs */
	const char	*request;	/* raw HTTP/1.1 request, sent as is */
	size_t		 request_len;
	uint64_t	 count;		/* closed loop: measured requests */
	unsigned	 concurrency;	/* connections */
	int		 expect_status;	/* any other status: http_status */
	int64_t		 timeout_ns;	/* per request and per connect */
	double		 rate_rps;	/* > 0: open loop at this rate */
	int64_t		 duration_ns;	/* open loop */
	const volatile int *stop;	/* non-zero ends the run with an
					 * error within 100 ms; NULL: never */
	/*
	 * Called every refresh_ns on the engine's thread, between
	 * events: may point *request and *len at new bytes (a fresh
	 * signature or token) for the requests sent from then on, and
	 * returns 0, or -1 to keep the current request. Every request
	 * handed out must stay valid until warm_run returns. NULL: never.
	 */
	int		(*refresh)(void *arg, const char **request,
			    size_t *len);
	void		*refresh_arg;
	int64_t		 refresh_ns;
	/* Tests only: leave Nagle's algorithm on and never force ACKs. */
	int		 test_nagle;
};

/* A raw request and its target, built from a URL. */
struct warm_request {
	char	*bytes;
	size_t	 len;
	char	*host;
	char	*port;
	int	 tls;
};

struct warm_result {
	int		 open_loop;
	uint64_t	 count;
	unsigned	 concurrency;
	/* Measured requests: warm-up requests are not among them. */
	uint64_t	 attempted;
	uint64_t	 succeeded;
	struct stats_errors errors;
	/* Closed loop: send to completion. Open loop: intended send to
	 * completion, which corrects coordinated omission. */
	struct stats_samples latency;
	/* Open loop: actual send to completion, and send lag. */
	struct stats_samples service;
	struct stats_samples send_lag;
	/* Warm-up: first request of each initial connection. */
	struct stats_samples first;
	uint64_t	 warmup_failed;
	struct stats_errors warmup_errors;
	/* Connections: connect plus TLS handshake time of each. */
	struct stats_samples connect;
	uint64_t	 connections_opened;
	uint64_t	 nodelay_verified;	/* TCP_NODELAY read back */
	uint64_t	 quick_acks;		/* ACKs forced mid-response */
	uint64_t	 response_bytes;
	int64_t		 duration_ns;		/* the measured interval */
	/* Open loop. */
	double		 target_rps;
	uint64_t	 scheduled;
	uint64_t	 sent_on_schedule;	/* sent within the duration */
	uint64_t	 not_sent;
	uint64_t	 connections_exhausted;	/* due, no free connection */
	int		 fell_behind;
	char		 error[256];		/* why warm_run returned -1 */
};

int	warm_request_build(const char *method, const char *url,
	    const char *const *headers, size_t nheaders, const void *body,
	    size_t body_len, struct warm_request *out, char *err,
	    size_t errlen);
void	warm_request_free(struct warm_request *req);

int	warm_run(const struct warm_config *cfg, struct warm_result *res);
void	warm_result_free(struct warm_result *res);
json_t	*warm_result_to_json(const struct warm_result *res);

#endif

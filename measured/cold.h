/*
 * Cold-start sample: one HTTP request on a fresh connection through libcurl
 * easy, with its phases. The caller calls curl_global_init() once before.
 */
#ifndef COLD_H
#define COLD_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "stats.h"

#define COLD_BODY_MAX_DEFAULT	65536	/* bytes of response body kept */
#define COLD_MAX_HEADERS	64
#define COLD_ERROR_MAX		256

struct cold_request {
	const char	 *method;		/* NULL: GET */
	const char	 *url;
	const char *const *headers;		/* "Name: value" lines */
	size_t		  nheaders;
	const void	 *body;
	size_t		  body_len;
	const char	 *cafile;		/* https; NULL: system CAs */
	int64_t		  timeout_ns;		/* whole request; 0: 30 s */
	size_t		  body_max;		/* 0: COLD_BODY_MAX_DEFAULT */
	int		  expect_status;	/* 0: any status succeeds */
	const volatile int *stop;		/* non-zero aborts; NULL: never */
};

/*
 * Phase durations in ns, each -1 when libcurl did not reach it. tcp_connect
 * starts after dns, tls after the connect (-1 for http), request_sent runs
 * up to pretransfer and first_byte after it. total is libcurl's own.
 */
struct cold_phases {
	int64_t	dns_ns;
	int64_t	tcp_connect_ns;
	int64_t	tls_ns;
	int64_t	request_sent_ns;
	int64_t	first_byte_ns;
	int64_t	total_ns;
};

struct cold_result {
	int		 ok;	/* 1: a response with the expected status */
	enum stats_error_kind error_kind;	/* when !ok */
	char		 error[COLD_ERROR_MAX];
	long		 status;	/* 0 without a response */
	/* The headline: CLOCK_MONOTONIC from just before the request starts
	 * until libcurl returns with the whole response. */
	int64_t		 client_total_ns;
	struct cold_phases phases;
	/* libcurl's cumulative *_TIME_T points in ns, -1 when absent. */
	int64_t		 namelookup_ns;
	int64_t		 connect_ns;
	int64_t		 appconnect_ns;
	int64_t		 pretransfer_ns;
	int64_t		 starttransfer_ns;
	char		*body;		/* NUL-terminated, body_len bytes */
	size_t		 body_len;
	int		 body_truncated;
	char		 content_type[128];	/* "" when absent */
};

int	cold_sample(const struct cold_request *req, struct cold_result *res);
void	cold_result_free(struct cold_result *res);
json_t	*cold_result_to_json(const struct cold_result *res);

#endif

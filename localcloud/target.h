/*
 * The HTTP target shared by Cloud Scheduler jobs (HttpTarget, URL field
 * "uri") and Cloud Tasks tasks (HttpRequest, URL field "url"): checking it
 * on create, and turning it into a request with the OIDC token and the
 * headers each service adds. Also the small helpers both modules use for
 * ids, durations, times and record file names.
 */
#ifndef LOCALCLOUD_TARGET_H
#define LOCALCLOUD_TARGET_H

#include <stddef.h>

#include <curl/curl.h>
#include <jansson.h>

/* Maximum length of a target URL, in characters, in both APIs. */
#define TARGET_URL_MAX		2083
/* Maximum size of all headers of a target together, in bytes
 * (Scheduler's limit is 80 KB). */
#define TARGET_HEADERS_MAX	(80 * 1024)
/* Maximum decoded body, in bytes (both APIs allow about 1 MB). */
#define TARGET_BODY_MAX		(1000 * 1000)

/* The backoff part of a retryConfig, shared by both APIs. */
struct target_backoff {
	double		 min;		/* seconds */
	double		 max;		/* seconds */
	double		 max_retry_duration;	/* seconds, 0: unlimited */
	int		 max_doublings;
};

struct target {
	const char	*url;
	const char	*method;	/* "POST" when unset */
	json_t		*headers;	/* object of strings, or NULL */
	unsigned char	*body;		/* decoded, owned */
	size_t		 body_len;
	const char	*sa_email;	/* oidcToken.serviceAccountEmail */
	const char	*audience;	/* the token's aud */
};

int	target_parse(json_t *http, const char *url_key, struct target *t,
	    char *err, size_t errlen);
void	target_clear(struct target *t);
struct curl_slist *target_headers(const struct target *t,
	    const char *const *overridden, int octet_stream_default,
	    char *err, size_t errlen);
int	target_add_header(struct curl_slist **list, const char *name,
	    const char *value);
int	target_parse_duration(const char *text, double *seconds);
json_t	*target_duration(double seconds);
int	target_read_duration(json_t *obj, const char *key, double def,
	    double min, double max, double *out, char *err, size_t errlen);
int	target_read_backoff(json_t *rc, const char *min_key,
	    const char *max_key, const struct target_backoff *defaults,
	    struct target_backoff *out, char *err, size_t errlen);
double	target_now(void);
json_t	*target_time(double t);
int	target_valid_id(const char *id, size_t max, int underscore);
const char *target_last_segment(const char *name);
void	target_file_name(const char *name, char file[72]);
int	target_rpc_code(long http_status);
const char *target_rpc_name(int code);

#endif

/*
 * Internals shared by the gcp_*.c files: the endpoints read at gcp_init, the
 * HTTP request with retries, and error helpers. Not for other modules.
 */
#ifndef GCP_PRIVATE_H
#define GCP_PRIVATE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gcp.h"

/* Maximum length of a URL, in bytes. Longer ones fail. */
#define GCP_URL_MAX		16384
/* Largest metadata server response, in bytes. */
#define GCP_METADATA_MAX	(64 * 1024)
/* Maximum length of an access token from the metadata server, in bytes. */
#define GCP_ACCESS_TOKEN_MAX	4096
/* Maximum number of pages a list call follows. */
#define GCP_PAGES_MAX		1000

enum gcp_api {
	GCP_API_RUN,
	GCP_API_STORAGE,
	GCP_API_SCHEDULER,
	GCP_API_TASKS,
	GCP_API_MONITORING,
	GCP_API_LOGGING,
	GCP_API_METADATA,
	GCP_API_COUNT
};

/* Request flags. */
#define GCP_REQ_AUTH		0x01	/* send the access token */
#define GCP_REQ_METADATA	0x02	/* send Metadata-Flavor: Google */
#define GCP_REQ_IDEMPOTENT	0x04	/* retry 408, 429, 5xx, transport */

/*
 * One HTTP request and, after gcp_request_perform, its final response.
 * The caller sets the inputs, zeroes the rest, and calls
 * gcp_request_release afterwards.
 */
struct gcp_request {
	enum gcp_api	 api;
	const char	*method;	/* "GET", "POST", "DELETE" */
	const char	*url;
	const char	*resource;	/* named in log lines; NUL-terminated */
	const char	*content_type;	/* of the body; NULL without one */
	const void	*body;
	size_t		 body_len;
	int		 flags;
	size_t		 max_response;	/* bytes; 0 means GCP_RESPONSE_MAX */

	long		 status;	/* HTTP status of the last attempt */
	char		*data;		/* body, malloc'd, NUL after len */
	size_t		 len;
	/* 1 when an earlier attempt ended in a way that may have let it
	 * take effect (a transport error or a 5xx after sending). */
	int		 ambiguous;
	int64_t		 goog_generation; /* x-goog-generation, or -1 */
};

/*
 * Sends the request, retrying as its flags allow. Returns 0 when an HTTP
 * response arrived (whatever its status, which the caller checks) and -1
 * with err filled in and a warning logged when none did.
 */
int	gcp_request_perform(struct gcp_request *, struct gcp_error *);
void	gcp_request_release(struct gcp_request *);
/* Fills err from an unexpected response, logs it and returns -1.
 * gcp_response_error only fills err. */
int	gcp_request_fail(struct gcp_request *, struct gcp_error *);
void	gcp_response_error(const struct gcp_request *, struct gcp_error *);
/* Parses a 2xx body as a JSON object, or fails with INVALID_RESPONSE. */
json_t	*gcp_request_json(struct gcp_request *, struct gcp_error *);
/*
 * Sends a request with the access token and, unless body is NULL, that JSON
 * body. Returns -1 when no response arrived, else 0 with the response in
 * req, which the caller checks by req->status and releases.
 */
int	gcp_send_json(struct gcp_request *req, enum gcp_api, const char *method,
	    const char *url, const char *resource, json_t *body, int flags,
	    struct gcp_error *);
/* Returns 1 for a 409 that means ALREADY_EXISTS (not ABORTED). */
int	gcp_already_exists(const struct gcp_request *);
/* Fills err with INVALID_ARGUMENT for a request not sent, logs it and
 * returns -1. resource is escaped before it is logged. */
int	gcp_invalid(struct gcp_error *, enum gcp_api, const char *method,
	    const char *resource, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
/* Logs a failed call, its resource escaped. */
void	gcp_log_error(enum gcp_api, const char *method, const char *resource,
	    const struct gcp_error *);
/* Drops the cached access token after an API rejected it with 401. */
void	gcp_access_token_invalidate(void);
/* Frees the cached tokens. */
void	gcp_metadata_cleanup(void);
/* Frees every connection of the calling thread. */
void	gcp_http_thread_cleanup(void);
int	gcp_http_init(void);

/* Fills err with INTERNAL "out of memory" and returns -1. */
int	gcp_nomem(struct gcp_error *);
/* Fills err and returns -1. */
int	gcp_error_set(struct gcp_error *, long http_status, const char *status,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Base URL of an API, without a trailing "/", read at gcp_init. */
const char *gcp_endpoint(enum gcp_api);
const char *gcp_api_name(enum gcp_api);
/* Project (from the settings, else the metadata server), region and
 * queue; NULL after filling err when the project is unknown. */
const char *gcp_project(struct gcp_error *);
const char *gcp_region(void);
const char *gcp_queue(void);

/* A malloc'd string of at most GCP_URL_MAX bytes, or NULL. */
char	*gcp_format(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* url with pageToken=token added (url itself when token is NULL),
 * malloc'd, or NULL. */
char	*gcp_page_url(const char *url, const char *token);
/* Reads an int64 sent as a JSON string (or number); -1 if neither. */
int	gcp_json_int64(json_t *, int64_t *);
/* Milliseconds of CLOCK_MONOTONIC. */
int64_t	gcp_now_ms(void);
void	gcp_sleep_ms(long ms);
/* Returns 1 once the stop function set by gcp_set_stop returns non-zero. */
int	gcp_stopping(void);

#endif

/*
 * localcloud: an emulator, on 127.0.0.1, of the Google APIs perf-agent
 * calls. One evhttp server takes every API request; each API is a module
 * (a row in the table in main.c) that claims the paths it owns.
 *
 * Module contract:
 * - init runs once at start-up, after the settings are final, the data dir
 *   exists and the event base and evhttp server are set up. It returns 0, or
 *   -1 after logging why (localcloud then exits non-zero).
 * - route runs for every request, in table order, until one returns 1. It
 *   returns 0 at once for a path that is not its own, and otherwise replies
 *   (now or later, from an event) and returns 1. path is percent-decoded and
 *   never contains a NUL; the raw path is evhttp_uri_get_path() of
 *   evhttp_request_get_evhttp_uri(req). query is the raw query string or
 *   NULL; read it with lc_query_get().
 * - shutdown runs once at exit, in reverse table order, after the event loop
 *   has stopped, and only for modules whose init succeeded (a failing init
 *   releases what it took itself). It frees the module's state and may block for a bounded
 *   time (the data plane waits for instances to exit).
 * - A module keeps its private state in its own slot of struct lc and its
 *   files under <data_dir>/<module name>/, which it creates itself.
 */
#ifndef LOCALCLOUD_H
#define LOCALCLOUD_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#define LC_PATH_MAX		4096
#define LC_URL_MAX		128
/* Largest request body evhttp accepts at all, in bytes; each handler
 * passes its own, usually smaller, limit to lc_read_body(). */
#define LC_HTTP_BODY_MAX	(64 * 1024 * 1024)
#define LC_HTTP_HEADERS_MAX	(64 * 1024)	/* request line and headers */
/* Idle time allowed in reading a request or writing a reply, in seconds.
 * A request whose reply comes later, such as operations.wait, has none. */
#define LC_HTTP_TIMEOUT_S	60

struct lc {
	struct event_base	*base;
	struct evhttp		*http;

	/* Settings, final before any module's init runs. */
	const char	*data_dir;	/* persistent state, created 0700 */
	const char	*project;	/* default "local-project" */
	const char	*region;	/* default "local-region" */
	const char	*listen_addr;	/* always "127.0.0.1" */
	uint16_t	 port;		/* API port; the bound one if 0 was set */
	char		 api_url[LC_URL_MAX];	/* "http://127.0.0.1:PORT" */
	const char	*implementations; /* ':'-separated list of dirs */
	unsigned int	 idle_timeout;	/* seconds an instance may sit idle */
	unsigned int	 startup_timeout; /* seconds to wait for a listen */
	unsigned int	 metrics_lag;	/* seconds Monitoring hides */
	unsigned int	 token_lifetime; /* seconds a token lasts */
	int		 tls;		/* 1: service URLs are https:// */
	int		 invoker_iam;	/* 1: private services need a token */
	char		 ca_cert_path[LC_PATH_MAX]; /* <data_dir>/ca.pem */
	char		 ca_key_path[LC_PATH_MAX];  /* <data_dir>/ca-key.pem */
	int		 debug;

	/* Private state, one slot per module. */
	void		*run;		/* Cloud Run Admin API v2 */
	void		*dataplane;	/* service ports and instances */
	void		*tls_state;	/* CA and server certificate */
	void		*monitoring;	/* instance_count history */
	void		*logging;	/* request log entries */
	void		*storage;
	void		*scheduler;
	void		*tasks;
	void		*metadata;
};

struct lc_module {
	const char	*name;
	int		(*init)(struct lc *);
	int		(*route)(struct lc *, struct evhttp_request *,
			    const char *path, const char *query);
	void		(*shutdown)(struct lc *);
};

extern const struct lc_module run_module;
extern const struct lc_module monitoring_module;
extern const struct lc_module logging_module;
extern const struct lc_module storage_module;
extern const struct lc_module scheduler_module;
extern const struct lc_module tasks_module;
extern const struct lc_module metadata_module;

/* api.c: replies. Each sends the whole response and sets Content-Type. */
void	lc_reply_json(struct evhttp_request *, int status, json_t *body);
void	lc_reply_google_error(struct evhttp_request *, int status,
	    const char *canonical, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));
void	lc_reply_gcs_error(struct evhttp_request *, int status,
	    const char *reason, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

/*
 * api.c: request bodies. lc_read_body returns a malloc'd copy of the body
 * with a NUL after it, so text bodies are C strings. It returns NULL with
 * errno EFBIG when the body is over max_bytes, or ENOMEM, and does not
 * reply. lc_read_json parses a JSON object. On any failure it replies 400
 * INVALID_ARGUMENT (with the parse position) and returns -1.
 */
char	*lc_read_body(struct evhttp_request *, size_t max_bytes, size_t *len);
int	 lc_read_json(struct evhttp_request *, size_t max_bytes, json_t **out);

/* api.c: the decoded value of key in a raw query string (a malloc'd copy,
 * which the caller frees), or NULL when absent. */
char	*lc_query_get(const char *query, const char *key);
int	 lc_utf8_valid(const char *s, size_t len);

/*
 * api.c: small helpers. lc_format_time writes RFC 3339 UTC with
 * microseconds ("2026-01-02T03:04:05.123456Z"); lc_parse_time reads RFC 3339
 * with any fraction and a Z or +hh:mm offset. lc_uuid writes a random
 * version 4 UUID.
 */
const char *lc_method_name(enum evhttp_cmd_type);
int	 lc_format_time(const struct timespec *, char *buf, size_t size);
int	 lc_parse_time(const char *text, struct timespec *out);
void	 lc_uuid(char out[37]);

#endif

/* frontd: the Agent API over HTTP. */
#ifndef FRONTD_H
#define FRONTD_H

#include <event2/http.h>
#include <jansson.h>

#include "ipc.h"

enum frontd_peer {
	PEER_STATED,
	PEER_DEPLOYD,
	PEER_MEASURED,
	PEER_COUNT
};

/* Time a worker gets to reply to frontd, in milliseconds. */
#define FRONTD_IPC_TIMEOUT_MS	5000

struct ipc_client *frontd_client(enum frontd_peer);
const char	*frontd_peer_name(enum frontd_peer);

/* Replies with a JSON body (stolen) and Content-Type application/json. */
void		 http_reply_json(struct evhttp_request *, int status,
	    json_t *body);
/* Replies {"error": {"code", "message", "field"?}}. */
void		 http_reply_error(struct evhttp_request *, int status,
	    const char *code, const char *field, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

void		 health_handle(struct evhttp_request *);

/* Largest request body the API accepts, in bytes. */
#define API_BODY_MAX	(1024 * 1024)
/* Largest body evhttp reads at all; between the two the API replies with a
 * JSON 413, beyond it evhttp sends its own 413. */
#define HTTP_BODY_HARD_MAX	(4 * 1024 * 1024)

/* Bytes of request line and headers evhttp reads at most. */
#define HTTP_HEADERS_MAX	(64 * 1024)
/* Seconds a client may take to send a request, or to read a reply. */
#define HTTP_TIMEOUT_S		60

struct api_error;

int		 api_init(void);
void		 api_shutdown(void);
/* Serves an API path; 0 when the path is not one of the API's. */
int		 api_route(struct evhttp_request *, const char *path);
/* Checks an Authorization header value; -1 with the 401, 403 or 503
 * error set. Thread-safe. */
int		 auth_check(const char *authorization, struct api_error *);
int		 auth_init(void);
void		 auth_shutdown(void);
/* Runs the legacy /benchmark on a thread. */
void		 benchmark_run(json_t *deploy, int *status, json_t **reply,
	    struct api_error *error);

#endif

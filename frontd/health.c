/* GET /health: healthy when every worker replies to a ping. */
#include "config.h"

#include <stdlib.h>

#include "frontd.h"
#include "log.h"
#include "proto.h"
#include "settings.h"

/* Time each worker gets to reply to the health ping, in milliseconds. */
#define HEALTH_PING_TIMEOUT_MS	1000

struct health_check {
	struct evhttp_request	*req;
	int			 pending;
	json_t			*down;		/* [{worker, error}] */
};

struct health_ping {
	struct health_check	*check;
	enum frontd_peer	 peer;
};

static void
health_finish(struct health_check *check)
{
	json_t *body;

	if (json_array_size(check->down) == 0) {
		body = json_pack("{s:s, s:s, s:s}", "status", "healthy",
		    "version", PACKAGE_VERSION, "service_type",
		    settings_str(CFG_SERVICE_TYPE));
		http_reply_json(check->req, 200, body);
		json_decref(check->down);
	} else {
		body = json_pack("{s:s, s:s, s:s, s:o}", "status",
		    "unhealthy", "version", PACKAGE_VERSION, "service_type",
		    settings_str(CFG_SERVICE_TYPE), "workers_not_responding",
		    check->down);
		http_reply_json(check->req, 503, body);
	}
	free(check);
}

static void
health_on_ping(const struct ipc_result *result, void *arg)
{
	struct health_ping *ping = arg;
	struct health_check *check = ping->check;

	if (!result->ok)
		json_array_append_new(check->down, json_pack("{s:s, s:s}",
		    "worker", frontd_peer_name(ping->peer), "error",
		    result->message));
	free(ping);
	if (--check->pending == 0)
		health_finish(check);
}

void
health_handle(struct evhttp_request *req)
{
	struct health_check *check;
	struct health_ping *ping;
	int i;

	if ((check = calloc(1, sizeof(*check))) == NULL ||
	    (check->down = json_array()) == NULL) {
		free(check);
		http_reply_error(req, 500, "internal", NULL, "out of memory");
		return;
	}
	check->req = req;
	/* Hold one count until every ping is sent, so that none can finish
	 * the check early. */
	check->pending = 1;
	for (i = 0; i < PEER_COUNT; i++) {
		if ((ping = calloc(1, sizeof(*ping))) == NULL) {
			json_array_append_new(check->down, json_pack(
			    "{s:s, s:s}", "worker", frontd_peer_name(i),
			    "error", "out of memory"));
			continue;
		}
		ping->check = check;
		ping->peer = i;
		check->pending++;
		if (ipc_call(frontd_client(i), MSG_PING, NULL,
		    HEALTH_PING_TIMEOUT_MS, health_on_ping, ping) == -1) {
			check->pending--;
			free(ping);
			json_array_append_new(check->down, json_pack(
			    "{s:s, s:s}", "worker", frontd_peer_name(i),
			    "error", "cannot send the ping"));
		}
	}
	if (--check->pending == 0)
		health_finish(check);
}

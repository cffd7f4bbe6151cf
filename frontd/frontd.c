/*
 * frontd: serves the Agent API over HTTP, validates requests and forwards
 * them to the worker that owns the work.
 */
#include "config.h"

#include <string.h>

#include <event2/http.h>

#include "frontd.h"
#include "log.h"
#include "proto.h"
#include "settings.h"
#include "worker.h"

static struct evhttp *http;
static struct ipc_client *clients[PEER_COUNT];
static const char *peer_names[PEER_COUNT] = { "stated", "deployd",
    "measured" };

struct ipc_client *
frontd_client(enum frontd_peer peer)
{
	return clients[peer];
}

const char *
frontd_peer_name(enum frontd_peer peer)
{
	return peer_names[peer];
}

static void
frontd_route(struct evhttp_request *req, void *arg)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(
	    req));
	enum evhttp_cmd_type method = evhttp_request_get_command(req);

	if (path == NULL)
		path = "/";
	/* CONNECT asks for a tunnel, which the API never opens. */
	if (method == EVHTTP_REQ_CONNECT) {
		http_reply_error(req, 405, "method_not_allowed", NULL,
		    "CONNECT is not supported");
		return;
	}
	if (strcmp(path, "/health") == 0) {
		if (method != EVHTTP_REQ_GET) {
			evhttp_add_header(evhttp_request_get_output_headers(
			    req), "Allow", "GET");
			http_reply_error(req, 405, "method_not_allowed", NULL,
			    "%s takes GET", path);
			return;
		}
		health_handle(req);
		return;
	}
	if (api_route(req, path))
		return;
	http_reply_error(req, 404, "not_found", NULL, "no endpoint %.200s",
	    path);
}

static int
frontd_init(struct event_base *base)
{
	const char *address = settings_str(CFG_LISTEN_ADDRESS);
	long port = settings_int(CFG_PORT);
	char path[256];
	int i;

	for (i = 0; i < PEER_COUNT; i++) {
		if (worker_peer_path(path, sizeof(path), peer_names[i]) == -1)
			return -1;
		if ((clients[i] = ipc_client_new(base, peer_names[i],
		    path)) == NULL)
			return -1;
	}
	if (api_init() == -1)
		return -1;
	if ((http = evhttp_new(base)) == NULL)
		return -1;
	evhttp_set_max_body_size(http, HTTP_BODY_HARD_MAX);
	evhttp_set_max_headers_size(http, HTTP_HEADERS_MAX);
	evhttp_set_timeout(http, HTTP_TIMEOUT_S);
	/* Every method, TRACE, CONNECT and unknown ones included, reaches
	 * the router, which answers 405 with a JSON error; evhttp would
	 * answer the methods left out with its own HTML 501. */
	evhttp_set_allowed_methods(http, (ev_uint16_t)~0);
	evhttp_set_gencb(http, frontd_route, NULL);
	if (evhttp_bind_socket(http, address, (ev_uint16_t)port) == -1) {
		log_warn("cannot listen on %s port %ld", address, port);
		return -1;
	}
	log_info("Agent API on http://%s:%ld", address, port);
	return 0;
}

static void
frontd_shutdown(void)
{
	int i;

	evhttp_free(http);
	api_shutdown();
	for (i = 0; i < PEER_COUNT; i++)
		ipc_client_free(clients[i]);
}

static void
frontd_handle(struct ipc_request *req)
{
	ipc_reply_error(req, "unsupported_type", "frontd does not handle %s",
	    proto_type_name(req->type));
}

static const struct worker frontd_worker = {
	.name = "frontd",
	.summary = "Serves the Agent API over HTTP on PORT.",
	.init = frontd_init,
	.handle = frontd_handle,
	/* Before the wait: no new request may start a thread. */
	.stop = frontd_shutdown,
};

int
main(int argc, char **argv)
{
	return worker_main(&frontd_worker, argc, argv);
}

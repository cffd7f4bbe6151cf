/* JSON replies of the Agent API. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "frontd.h"
#include "log.h"

static const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

void
http_reply_json(struct evhttp_request *req, int status, json_t *body)
{
	struct evbuffer *buf;
	char *text = NULL, length[32];

	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(body);
	if (text == NULL) {
		evhttp_send_error(req, 500, "cannot encode the reply");
		return;
	}
	if ((buf = evbuffer_new()) == NULL) {
		free(text);
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evbuffer_add(buf, text, strlen(text));
	evbuffer_add(buf, "\n", 1);
	free(text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	/* evhttp leaves Content-Length out of replies to CONNECT and HEAD;
	 * without it a client cannot tell where a reply to CONNECT ends. */
	snprintf(length, sizeof(length), "%zu", evbuffer_get_length(buf));
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Length", length);
	evhttp_send_reply(req, status, http_reason(status), buf);
	evbuffer_free(buf);
}

void
http_reply_error(struct evhttp_request *req, int status, const char *code,
    const char *field, const char *fmt, ...)
{
	char message[1024];
	json_t *error;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	error = json_pack("{s:s, s:s}", "code", code, "message", message);
	if (error != NULL && field != NULL)
		json_object_set_new(error, "field", json_string(field));
	http_reply_json(req, status, json_pack("{s:o}", "error", error));
}

/*
 * A Discord interactions endpoint on libevent's evhttp, libsodium and
 * jansson: POST /interactions verifies the Ed25519 signature over the
 * X-Signature-Timestamp string followed by the raw body, then answers a
 * PING with {"type":1} and a slash command with a deferred response
 * ({"type":5}). A bad or missing signature gets 401, a body that is not an
 * interaction of a handled type gets 400.
 *
 * Environment: PORT (default 8080) and DISCORD_PUBLIC_KEY (64 hex
 * characters). Listens on 0.0.0.0:PORT and exits 0 on SIGTERM or SIGINT.
 * It builds on its own, without the rest of the project:
 *   cc -O2 -o server server.c $(pkg-config --cflags --libs libevent jansson libsodium)
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>

#define BODY_MAX		65536	/* bytes; larger requests get 413 */
#define HEADERS_MAX		8192	/* bytes of request headers */
#define IDLE_TIMEOUT		30	/* seconds a kept-alive connection idles */
#define TIMESTAMP_TOLERANCE	300	/* seconds between our clock and theirs */
#define TIMESTAMP_DIGITS_MAX	18	/* keeps the value within long long */

#define INTERACTION_PING		1
#define INTERACTION_APPLICATION_COMMAND	2

static unsigned char public_key[crypto_sign_PUBLICKEYBYTES];

static void
logmsg(const char *severity, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes one JSON log line, the form Cloud Logging reads, to stderr. */
static void
logmsg(const char *severity, const char *fmt, ...)
{
	char text[512];
	json_t *line;
	char *out;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	line = json_pack("{s:s, s:s}", "severity", severity, "message", text);
	if (line == NULL)
		return;
	if ((out = json_dumps(line, JSON_COMPACT)) != NULL) {
		fprintf(stderr, "%s\n", out);
		free(out);
	}
	json_decref(line);
}

static void
reply(struct evhttp_request *req, int status, const char *reason,
    const char *body)
{
	struct evbuffer *out;

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	if ((out = evbuffer_new()) == NULL ||
	    evbuffer_add(out, body, strlen(body)) == -1) {
		if (out != NULL)
			evbuffer_free(out);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_send_reply(req, status, reason, out);
	evbuffer_free(out);
}

/* Parses a timestamp of decimal digits only and checks it is recent. */
static int
timestamp_fresh(const char *s)
{
	long long value = 0;
	size_t i, len = strlen(s);
	time_t now;

	if (len == 0 || len > TIMESTAMP_DIGITS_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		value = value * 10 + (s[i] - '0');
	}
	now = time(NULL);
	return value >= (long long)now - TIMESTAMP_TOLERANCE &&
	    value <= (long long)now + TIMESTAMP_TOLERANCE;
}

/*
 * Returns 1 when the request carries a valid signature over the exact
 * bytes of timestamp and body.
 */
static int
signature_valid(struct evhttp_request *req, const unsigned char *body,
    size_t len)
{
	struct evkeyvalq *headers = evhttp_request_get_input_headers(req);
	unsigned char sig[crypto_sign_BYTES], *message;
	const char *sig_hex, *timestamp, *end;
	size_t bin_len, tlen;
	int valid;

	sig_hex = evhttp_find_header(headers, "X-Signature-Ed25519");
	timestamp = evhttp_find_header(headers, "X-Signature-Timestamp");
	if (sig_hex == NULL || timestamp == NULL)
		return 0;
	if (strlen(sig_hex) != 2 * crypto_sign_BYTES ||
	    sodium_hex2bin(sig, sizeof(sig), sig_hex, strlen(sig_hex), NULL,
	    &bin_len, &end) != 0 || bin_len != sizeof(sig) || *end != '\0')
		return 0;
	if (!timestamp_fresh(timestamp))
		return 0;

	tlen = strlen(timestamp);
	if ((message = malloc(tlen + len + 1)) == NULL)
		return 0;
	memcpy(message, timestamp, tlen);
	if (len > 0)
		memcpy(message + tlen, body, len);
	valid = crypto_sign_verify_detached(sig, message, tlen + len,
	    public_key) == 0;
	free(message);
	return valid;
}

/* Returns the interaction type of a JSON object body, or -1. */
static long long
interaction_type(const unsigned char *body, size_t len)
{
	json_error_t error;
	json_t *root, *type;
	long long value = -1;

	if (len == 0)
		return -1;
	root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES,
	    &error);
	if (root == NULL)
		return -1;
	type = json_object_get(root, "type");
	if (json_is_object(root) && json_is_integer(type))
		value = json_integer_value(type);
	json_decref(root);
	return value;
}

static void
handle(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	const unsigned char *body;
	size_t len;

	if (path == NULL || strcmp(path, "/interactions") != 0) {
		reply(req, 404, "Not Found", "{\"error\":\"not found\"}");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "POST");
		reply(req, 405, "Method Not Allowed",
		    "{\"error\":\"method not allowed\"}");
		return;
	}

	len = evbuffer_get_length(in);
	body = len > 0 ? evbuffer_pullup(in, -1) : (const unsigned char *)"";
	if (body == NULL) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (!signature_valid(req, body, len)) {
		reply(req, 401, "Unauthorized",
		    "{\"error\":\"invalid request signature\"}");
		return;
	}

	switch (interaction_type(body, len)) {
	case INTERACTION_PING:
		reply(req, 200, "OK", "{\"type\":1}");
		break;
	case INTERACTION_APPLICATION_COMMAND:
		/* Deferred: a follow-up message would carry the result
		 * later. */
		reply(req, 200, "OK", "{\"type\":5}");
		break;
	default:
		reply(req, 400, "Bad Request",
		    "{\"error\":\"not an interaction of a handled type\"}");
		break;
	}
}

static void
on_signal(evutil_socket_t sig, short events, void *arg)
{
	struct event_base *base = arg;

	logmsg("INFO", "signal %d received, shutting down", (int)sig);
	event_base_loopexit(base, NULL);
}

/* Reads PORT and DISCORD_PUBLIC_KEY; returns the port or -1. */
static int
read_environment(void)
{
	const char *port_s = getenv("PORT"), *key = getenv("DISCORD_PUBLIC_KEY");
	size_t bin_len;
	const char *end;
	char *port_end;
	long port = 8080;

	if (port_s != NULL && port_s[0] != '\0') {
		errno = 0;
		port = strtol(port_s, &port_end, 10);
		if (errno != 0 || *port_end != '\0' || port < 1 ||
		    port > 65535) {
			logmsg("ERROR", "PORT must be a number 1-65535");
			return -1;
		}
	}
	if (key == NULL || strlen(key) != 2 * sizeof(public_key) ||
	    sodium_hex2bin(public_key, sizeof(public_key), key, strlen(key),
	    NULL, &bin_len, &end) != 0 || bin_len != sizeof(public_key) ||
	    *end != '\0') {
		logmsg("ERROR", "DISCORD_PUBLIC_KEY must be 64 hex characters");
		return -1;
	}
	return (int)port;
}

int
main(void)
{
	struct event *sigterm = NULL, *sigint = NULL;
	struct event_base *base = NULL;
	struct evhttp *http = NULL;
	int port, status = 1;

	if (sodium_init() < 0) {
		logmsg("ERROR", "libsodium failed to start");
		return 1;
	}
	if ((port = read_environment()) == -1)
		return 1;
	/* A client that goes away mid-reply must not kill the server. */
	signal(SIGPIPE, SIG_IGN);

	if ((base = event_base_new()) == NULL || (http = evhttp_new(base)) ==
	    NULL) {
		logmsg("ERROR", "libevent failed to start");
		goto done;
	}
	evhttp_set_max_body_size(http, BODY_MAX);
	evhttp_set_max_headers_size(http, HEADERS_MAX);
	evhttp_set_timeout(http, IDLE_TIMEOUT);
	evhttp_set_gencb(http, handle, NULL);
	if (evhttp_bind_socket_with_handle(http, "0.0.0.0",
	    (ev_uint16_t)port) == NULL) {
		logmsg("ERROR", "cannot listen on 0.0.0.0:%d: %s", port,
		    strerror(errno));
		goto done;
	}
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm,
	    NULL) == -1 || evsignal_add(sigint, NULL) == -1) {
		logmsg("ERROR", "cannot watch SIGTERM and SIGINT");
		goto done;
	}

	logmsg("INFO", "listening on 0.0.0.0:%d", port);
	if (event_base_dispatch(base) == -1)
		logmsg("ERROR", "event loop failed");
	else
		status = 0;
	logmsg("INFO", "stopped");

done:
	if (sigint != NULL)
		event_free(sigint);
	if (sigterm != NULL)
		event_free(sigterm);
	if (http != NULL)
		evhttp_free(http);
	if (base != NULL)
		event_base_free(base);
	return status;
}

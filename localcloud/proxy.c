/*
 * Client connections of the data plane. Each direction has one fixed
 * buffer: bytes are read into it and written out of it with one call each,
 * with no copy and no allocation per message, so a small request costs one
 * read and one write per hop plus the event loop's epoll_wait. Plain
 * libevent events drive the sockets; TLS is OpenSSL on the same buffers.
 *
 * Requests and responses go through http_parser as they are read, so that
 * each request is logged with the instance that served it and, with
 * --invoker-iam, a request's ID token is checked before any byte of it
 * reaches an instance.
 *
 * Only the event callbacks (and dataplane_close) free a connection. A
 * helper that frees one returns -1, and its caller returns at once.
 */
#include "config.h"

#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "jwt.h"
#include "log.h"
#include "localcloud.h"
#include "dataplane.h"
#include "invoker.h"

#define DP_FLUSH_TIMEOUT_S	30	/* a closing client must read by then */
#define DP_LINGER_S		2	/* for the client to close first */
#define DP_REQUEST_TIMEOUT_S	30	/* for a failed connection's request */
#define DP_LINGER_READS		16	/* reads per wakeup while lingering */
/* An Authorization value: "Bearer " and the longest token accepted. */
#define DP_AUTH_MAX		(7 + JWT_MAX_TOKEN_LEN)
/* The HTML page of a denial, with its path escaped, in bytes. */
#define DP_LOCAL_MAX		(1024 + 6 * DP_URL_MAX)

enum dp_header {
	DP_HEADER_OTHER,
	DP_HEADER_USER_AGENT,
	DP_HEADER_AUTHORIZATION,
};

static void	conn_process_up(struct dp_conn *);
static void	conn_close(struct dp_conn *);
static int	conn_flush_client(struct dp_conn *);

/* ---- buffers and events ---- */

/* Empties b once everything in it has been written. */
static void
buf_rewind(struct dp_buf *b)
{
	if (b->off == b->len)
		b->off = b->ready = b->parsed = b->len = 0;
}

/* Moves the bytes not yet written to the front, making room at the end. */
static void
buf_compact(struct dp_buf *b)
{
	size_t n = b->off;

	if (n == 0)
		return;
	memmove(b->data, b->data + n, b->len - n);
	b->off = 0;
	b->ready -= n;
	b->parsed -= n;
	b->len -= n;
}

/* Room for more bytes, counting what buf_compact would free. */
static size_t
buf_room(const struct dp_buf *b)
{
	return DP_BUF_SIZE - b->len + b->off;
}

/* Removes the bytes [ready, parsed), a denied request's, from b. */
static void
buf_drop_parsed(struct dp_buf *b)
{
	size_t n = b->parsed - b->ready;

	if (n == 0)
		return;
	memmove(b->data + b->ready, b->data + b->parsed, b->len - b->parsed);
	b->parsed = b->ready;
	b->len -= n;
}

/* Adds or removes a persistent event. Either is a no-op when the event is
 * in that state already. */
static void
watch(struct event *ev, int on)
{
	if (ev == NULL)
		return;
	if (on)
		(void)event_add(ev, NULL);
	else
		(void)event_del(ev);
}

/* ---- client I/O, plain or TLS ---- */

/*
 * Maps the result of SSL_read or SSL_write to the read(2) convention. Only
 * a close_notify is an end of file: a TCP close without one is an error
 * (OpenSSL 3 reports it as SSL_ERROR_SSL), so a TLS client that goes away
 * mid-request ends its connection instead of half-closing it.
 */
static ssize_t
ssl_result(struct dp_conn *c, int n, int reading)
{
	int err = SSL_get_error(c->ssl, n);

	switch (err) {
	case SSL_ERROR_ZERO_RETURN:
		if (reading)
			return 0;
		errno = EPIPE;
		return -1;
	case SSL_ERROR_WANT_READ:
		/* A write that needs the peer's bytes: the read event
		 * retries it. */
		if (!reading) {
			c->ssl_write_wants_read = 1;
			watch(c->client_rd, 1);
		}
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		if (reading)
			c->ssl_read_wants_write = 1;
		watch(c->client_wr, 1);
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (errno == 0 || errno == EAGAIN) {
			if (reading && n == 0)
				return 0;
			errno = ECONNRESET;
		}
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

/* Reads from the client: a byte count, 0 at its end of file, or -1 with
 * errno, EAGAIN when nothing is ready. */
static ssize_t
client_recv(struct dp_conn *c, char *buf, size_t size)
{
	int n;

	if (c->ssl == NULL)
		return read(c->cfd, buf, size);
	c->ssl_read_wants_write = 0;
	errno = 0;
	n = SSL_read(c->ssl, buf, size > INT_MAX ? INT_MAX : (int)size);
	if (n > 0)
		return n;
	return ssl_result(c, n, 1);
}

/* Writes to the client, with the same results as client_recv. */
static ssize_t
client_send(struct dp_conn *c, const char *buf, size_t size)
{
	int n;

	if (c->ssl == NULL)
		return write(c->cfd, buf, size);
	c->ssl_write_wants_read = 0;
	errno = 0;
	n = SSL_write(c->ssl, buf, size > INT_MAX ? INT_MAX : (int)size);
	if (n > 0)
		return n;
	return ssl_result(c, n, 0);
}

/* ---- request logs ---- */

/* Sends one request log entry to the Logging module. local marks a
 * response localcloud sent itself, which names no instance. */
static void
conn_log(struct dp_conn *c, const struct dp_req *r, int status,
    uint64_t req_size, uint64_t resp_size, uint64_t latency_us, int local)
{
	struct log_request e;
	char url[sizeof(c->url_prefix) + DP_URL_MAX];
	struct run_service *svc = c->svc;
	size_t len;

	if (svc == NULL)
		return;
	memset(&e, 0, sizeof(e));
	e.time = r != NULL ? r->wall : c->accepted_wall;
	e.project = svc->project;
	e.location = svc->location;
	e.service = svc->id;
	e.revision = c->revision;
	e.instance_id = local ? "" : c->instance_id;
	e.remote_ip = c->remote_ip;
	e.status = status;
	e.request_size = req_size;
	e.response_size = resp_size;
	e.latency_us = latency_us;
	if (r != NULL) {
		/* Two copies, not a snprintf: this runs once per request. */
		len = strlen(r->url);
		memcpy(url, c->url_prefix, c->url_prefix_len);
		memcpy(url + c->url_prefix_len, r->url, len + 1);
		e.method = r->method;
		e.url = url;
		e.user_agent = r->user_agent;
		e.protocol = r->protocol;
	} else {
		e.protocol = svc->serving != NULL && svc->serving->h2c ?
		    "HTTP/2" : "";
	}
	logging_add_request(svc->lc, &e);
}

/* Logs, once, a connection whose bytes were forwarded without HTTP/1
 * parsing, such as HTTP/2: it has no request of its own to log. */
static void
conn_log_unparsed(struct dp_conn *c)
{
	if (c->unparsed_logged || c->parse != 0 || c->bytes_in == 0 ||
	    c->req_count != 0 || c->instance_id[0] == '\0' ||
	    c->resp_status != 0)
		return;
	c->unparsed_logged = 1;
	conn_log(c, NULL, 0, c->bytes_in, c->bytes_out,
	    dp_elapsed_us(&c->accepted_mono), 0);
}

/* ---- HTTP/1 parsing ---- */

static void
append(char *dst, size_t size, const char *src, size_t len)
{
	size_t have = strlen(dst);

	if (have + 1 >= size)
		return;
	if (len > size - have - 1)
		len = size - have - 1;
	memcpy(dst + have, src, len);
	dst[have + len] = '\0';
}

static int
on_req_begin(http_parser *p)
{
	struct dp_conn *c = p->data;
	struct dp_req *r;

	/* Reached only while failing: an open connection stops parsing
	 * before the queue overflows. The error stops parsing. */
	if (c->req_count == DP_REQ_QUEUE)
		return -1;
	r = &c->reqs[(c->req_head + c->req_count) % DP_REQ_QUEUE];
	clock_gettime(CLOCK_REALTIME, &r->wall);
	dp_mono_now(&r->mono);
	r->method = "";
	r->protocol[0] = '\0';
	r->url[0] = '\0';
	r->user_agent[0] = '\0';
	r->size = 0;
	r->complete = 0;
	r->deny = 0;
	r->keep_alive = 1;
	r->head = 0;
	c->req_count++;
	c->req_cur = r;
	c->last_was_value = 0;
	c->header_len = 0;
	c->approved = c->state != DP_CONN_OPEN || !invoker_required(c->svc);
	c->auth_headers = 0;
	c->auth_len = 0;
	c->auth_too_long = 0;
	return 0;
}

static int
on_req_url(http_parser *p, const char *at, size_t len)
{
	struct dp_conn *c = p->data;

	if (c->req_cur != NULL)
		append(c->req_cur->url, sizeof(c->req_cur->url), at, len);
	return 0;
}

static int
on_req_header_field(http_parser *p, const char *at, size_t len)
{
	struct dp_conn *c = p->data;
	size_t n;

	if (c->last_was_value) {
		c->header_len = 0;
		c->last_was_value = 0;
	}

	/* A name longer than the buffer matches no header we look for. */
	if (c->header_len < sizeof(c->header)) {
		n = sizeof(c->header) - c->header_len;
		memcpy(c->header + c->header_len, at, len < n ? len : n);
	}
	c->header_len += len;
	return 0;
}

static enum dp_header
header_kind(const struct dp_conn *c)
{
	if (c->header_len == 10 &&
	    strncasecmp(c->header, "user-agent", 10) == 0)
		return DP_HEADER_USER_AGENT;
	if (c->header_len == 13 &&
	    strncasecmp(c->header, "authorization", 13) == 0)
		return DP_HEADER_AUTHORIZATION;
	return DP_HEADER_OTHER;
}

/* Keeps the Authorization value of a request that needs a token. */
static void
auth_append(struct dp_conn *c, const char *at, size_t len)
{
	if (c->auth == NULL) {
		/* One block per connection: the value and the last token
		 * that passed. */
		if ((c->auth = malloc(2 * DP_AUTH_MAX)) == NULL) {
			log_warnx("service %s: out of memory for a token",
			    c->svc->name);
			c->auth_too_long = 1;
			return;
		}
		c->verified = c->auth + DP_AUTH_MAX;
	}
	if (len > DP_AUTH_MAX - c->auth_len) {
		c->auth_too_long = 1;
		return;
	}
	memcpy(c->auth + c->auth_len, at, len);
	c->auth_len += len;
}

static int
on_req_header_value(http_parser *p, const char *at, size_t len)
{
	struct dp_conn *c = p->data;

	if (!c->last_was_value) {
		c->header_kind = header_kind(c);
		if (c->header_kind == DP_HEADER_AUTHORIZATION)
			c->auth_headers++;
	}
	c->last_was_value = 1;
	if (c->req_cur == NULL)
		return 0;
	switch (c->header_kind) {
	case DP_HEADER_USER_AGENT:
		append(c->req_cur->user_agent,
		    sizeof(c->req_cur->user_agent), at, len);
		break;
	case DP_HEADER_AUTHORIZATION:
		if (!c->approved && c->auth_headers == 1)
			auth_append(c, at, len);
		break;
	default:
		break;
	}
	return 0;
}

/*
 * Checks the request's token. Returns 0 when it passes, 403 without an
 * Authorization header, and 401 with one that does not pass. The last
 * token that passed is kept with its exp, so a keep-alive connection pays
 * one RSA verification per token, not per request.
 */
static int
conn_authorize(struct dp_conn *c)
{
	const char *token, *reason = NULL;
	size_t len;
	time_t now;
	int64_t exp;

	if (c->auth_headers == 0)
		return 403;
	if (c->auth_headers > 1) {
		reason = "more than one Authorization header";
		goto deny;
	}
	if (c->auth_too_long) {
		reason = "the Authorization header is too long";
		goto deny;
	}
	len = c->auth != NULL ? c->auth_len : 0;
	while (len > 0 && (c->auth[len - 1] == ' ' || c->auth[len - 1] == '\t'))
		len--;
	if (len < 7 || strncasecmp(c->auth, "Bearer ", 7) != 0) {
		reason = "the Authorization header is not a Bearer token";
		goto deny;
	}
	token = c->auth + 7;
	len -= 7;
	while (len > 0 && *token == ' ') {
		token++;
		len--;
	}

	now = time(NULL);
	if (len == c->verified_len && len > 0 &&
	    memcmp(token, c->verified, len) == 0 &&
	    c->verified_exp >= (int64_t)now - INVOKER_SKEW_S)
		return 0;
	if (invoker_verify(c->svc, token, len, now, &exp, &reason) == -1)
		goto deny;
	memcpy(c->verified, token, len);
	c->verified_len = len;
	c->verified_exp = exp;
	return 0;

deny:
	log_debug("service %s: request from %s denied: %s", c->svc->name,
	    c->remote_ip, reason);
	return 401;
}

static int
on_req_headers_complete(http_parser *p)
{
	struct dp_conn *c = p->data;
	struct dp_req *r = c->req_cur;
	int status;

	if (r == NULL)
		return 0;
	r->method = http_method_str((enum http_method)p->method);
	if (p->http_major == 1 && p->http_minor <= 1)
		memcpy(r->protocol, p->http_minor == 1 ? "HTTP/1.1" :
		    "HTTP/1.0", sizeof("HTTP/1.1"));
	else
		snprintf(r->protocol, sizeof(r->protocol), "HTTP/%u.%u",
		    p->http_major, p->http_minor);
	r->head = p->method == HTTP_HEAD;
	r->keep_alive = http_should_keep_alive(p) && !p->upgrade;
	if (c->approved || c->state != DP_CONN_OPEN)
		return 0;

	/* A denied request stops the parser here, so that the caller drops
	 * the headers it holds back; its body is dropped as it comes. */
	if ((status = conn_authorize(c)) == 0) {
		c->approved = 1;
		return 0;
	}
	r->deny = status;
	http_parser_pause(p, 1);
	return 0;
}

/* Pauses the parser, so that the caller learns the exact end of the
 * message in the byte stream. */
static int
on_req_message_complete(http_parser *p)
{
	struct dp_conn *c = p->data;

	c->paused_at_end = 1;
	http_parser_pause(p, 1);
	return 0;
}

static int
on_resp_message_complete(http_parser *p)
{
	http_parser_pause(p, 1);
	return 0;
}

static int
on_resp_headers_complete(http_parser *p)
{
	struct dp_conn *c = p->data;

	c->resp_status = p->status_code;

	/* A response to HEAD has headers only, and returning 1 makes the
	 * parser expect no body. */
	if (c->req_count > 0 && c->reqs[c->req_head].head)
		return 1;
	return 0;
}

static const http_parser_settings req_settings = {
	.on_message_begin = on_req_begin,
	.on_url = on_req_url,
	.on_header_field = on_req_header_field,
	.on_header_value = on_req_header_value,
	.on_headers_complete = on_req_headers_complete,
	.on_message_complete = on_req_message_complete,
};

static const http_parser_settings resp_settings = {
	.on_headers_complete = on_resp_headers_complete,
	.on_message_complete = on_resp_message_complete,
};

/* A request ended at byte req_fed of the client's stream. A denied one
 * stops parsing until its response has been sent in its turn. */
static void
req_finished(struct dp_conn *c)
{
	struct dp_req *r = c->req_cur;

	c->req_cur = NULL;
	if (r == NULL)
		return;
	r->size = c->req_fed - c->req_end;
	r->complete = 1;
	c->req_end = c->req_fed;
	if (r->deny) {
		c->discard = 0;
		c->stall = DP_STALL_DENIAL;
	}
}

/* A response ended at byte resp_fed of the instance's stream: log it with
 * the oldest request waiting. */
static void
resp_finished(struct dp_conn *c)
{
	const struct dp_req *r;
	uint64_t size = c->resp_fed - c->resp_end;

	c->resp_end = c->resp_fed;

	/* Interim responses (100 Continue) come before the real one. */
	if (c->resp_status >= 100 && c->resp_status < 200 &&
	    c->resp_status != 101)
		return;
	c->resp_bytes = 0;
	if (c->req_count == 0)
		return;
	r = &c->reqs[c->req_head];
	conn_log(c, r, c->resp_status, r->size, size, dp_elapsed_us(&r->mono),
	    0);
	c->req_head = (c->req_head + 1) % DP_REQ_QUEUE;
	c->req_count--;
}

/* Stops HTTP/1 parsing for good: the bytes are not HTTP/1, or a request
 * switched protocols. */
static void
conn_stop_parsing(struct dp_conn *c, int upgraded, const char *why)
{
	if (!upgraded)
		log_debug("service %s: connection is not HTTP/1 (%s); "
		    "forwarding bytes only", c->svc != NULL ? c->svc->name :
		    "?", why);
	c->parse = 0;
	c->upgraded = upgraded;
}

/*
 * Parses the client's bytes the parser has not seen. It stops at a
 * request that must wait, drops a denied request's bytes, and moves the
 * ready mark over what may go to the instance. The bytes of a request
 * that waits for its token check stay behind the mark.
 */
static void
conn_parse_up(struct dp_conn *c)
{
	struct dp_buf *b = &c->up;
	http_parser *p = &c->req_parser;
	size_t done;
	int paused;

	while (c->parse && c->stall == DP_STALL_NONE && b->parsed < b->len) {
		if (c->req_cur == NULL && c->req_count == DP_REQ_QUEUE &&
		    c->state == DP_CONN_OPEN) {
			c->stall = DP_STALL_QUEUE;
			break;
		}
		done = http_parser_execute(p, &req_settings,
		    b->data + b->parsed, b->len - b->parsed);
		b->parsed += done;
		c->req_fed += done;
		paused = HTTP_PARSER_ERRNO(p) == HPE_PAUSED;
		if (paused)
			http_parser_pause(p, 0);

		/* A pause before the end is a denial: from here on the
		 * request's bytes are dropped. */
		if (c->discard || (paused && !c->paused_at_end)) {
			c->discard = 1;
			buf_drop_parsed(b);
		}
		if (paused && c->paused_at_end) {
			c->paused_at_end = 0;
			req_finished(c);
		}
		if (c->req_cur == NULL || c->approved)
			b->ready = b->parsed;
		if (paused)
			continue;
		if (p->upgrade) {
			conn_stop_parsing(c, 1, NULL);
			break;
		}
		if (HTTP_PARSER_ERRNO(p) != HPE_OK || done == 0) {
			conn_stop_parsing(c, 0,
			    http_errno_name(HTTP_PARSER_ERRNO(p)));
			break;
		}
	}
	if (!c->parse)
		b->parsed = b->ready = b->len;
}

/* Feeds new bytes of the instance's stream to the response parser. */
static void
conn_parse_down(struct dp_conn *c, const char *data, size_t left)
{
	http_parser *p = &c->resp_parser;
	size_t done;

	while (c->parse && left > 0) {
		done = http_parser_execute(p, &resp_settings, data, left);
		data += done;
		left -= done;
		c->resp_fed += done;
		if (HTTP_PARSER_ERRNO(p) == HPE_PAUSED) {
			http_parser_pause(p, 0);
			resp_finished(c);
			continue;
		}
		if (p->upgrade) {
			conn_stop_parsing(c, 1, NULL);
			return;
		}
		if (HTTP_PARSER_ERRNO(p) != HPE_OK || done == 0) {
			conn_stop_parsing(c, 0,
			    http_errno_name(HTTP_PARSER_ERRNO(p)));
			return;
		}
	}
}

/* Tells the response parser the instance closed, which ends a response
 * delimited by the end of the connection. */
static void
conn_parse_eof(struct dp_conn *c)
{
	if (!c->parse)
		return;
	http_parser_execute(&c->resp_parser, &resp_settings, NULL, 0);
	if (HTTP_PARSER_ERRNO(&c->resp_parser) == HPE_PAUSED) {
		http_parser_pause(&c->resp_parser, 0);
		resp_finished(c);
	}
}

/* ---- responses localcloud sends itself ---- */

/* Copies text into dst with the five HTML metacharacters escaped. */
static void
html_escape(char *dst, size_t size, const char *text)
{
	const char *rep;
	size_t used = 0, n;

	for (; *text != '\0'; text++) {
		switch (*text) {
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '&': rep = "&amp;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: rep = NULL; break;
		}
		n = rep != NULL ? strlen(rep) : 1;
		if (used + n >= size)
			break;
		memcpy(dst + used, rep != NULL ? rep : text, n);
		used += n;
	}
	dst[used] = '\0';
}

/* Queues len bytes for the client. Returns -1 when they do not fit yet. */
static int
conn_queue_client(struct dp_conn *c, const char *text, size_t len)
{
	struct dp_buf *b = &c->down;

	if (buf_room(b) < len)
		return -1;
	if (DP_BUF_SIZE - b->len < len)
		buf_compact(b);
	memcpy(b->data + b->len, text, len);
	b->len += len;
	b->ready = b->parsed = b->len;
	return 0;
}

/*
 * Formats the 401 or 403 of a denied request as Cloud Run's front end
 * words it. The page names the request's path, so that a client sees
 * which URL it lacked permission for.
 */
static int
denial_format(const struct dp_req *r, char *out, size_t size)
{
	char path[6 * DP_URL_MAX], body[DP_LOCAL_MAX];
	const char *title;
	int n;

	html_escape(path, sizeof(path), r->url);
	title = r->deny == 403 ? "403 Forbidden" : "401 Unauthorized";
	if (r->deny == 403)
		n = snprintf(body, sizeof(body), "<html><head>\n<meta "
		    "http-equiv=\"content-type\" content=\"text/html;"
		    "charset=utf-8\">\n<title>%s</title>\n</head>\n<body "
		    "text=#000000 bgcolor=#ffffff>\n<h1>Error: Forbidden</h1>\n"
		    "<h2>Your client does not have permission to get URL "
		    "<code>%s</code> from this server.</h2>\n<h2></h2>\n"
		    "</body></html>\n", title, path);
	else
		n = snprintf(body, sizeof(body), "<html><head>\n<meta "
		    "http-equiv=\"content-type\" content=\"text/html;"
		    "charset=utf-8\">\n<title>%s</title>\n</head>\n<body "
		    "text=#000000 bgcolor=#ffffff>\n<h1>Error: Unauthorized"
		    "</h1>\n<h2>Your client does not have permission to the "
		    "requested URL <code>%s</code>.</h2>\n<h2></h2>\n"
		    "</body></html>\n", title, path);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -1;

	n = snprintf(out, size, "HTTP/1.1 %s\r\nContent-Type: text/html; "
	    "charset=UTF-8\r\nContent-Length: %d\r\n%s%s\r\n%s", title, n,
	    r->deny == 401 ? "WWW-Authenticate: Bearer error=\"invalid_token\""
	    " error_description=\"The access token could not be verified\""
	    "\r\n" : "", r->keep_alive ? "" : "Connection: close\r\n",
	    r->head ? "" : body);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/*
 * Sends the 401 or 403 of the denied request at the head of the queue,
 * once the responses before it are queued for the client. Returns 0 when
 * it is sent and parsing may go on, 1 when it must wait, and -1 when the
 * connection closes after it.
 */
static int
conn_send_denial(struct dp_conn *c)
{
	struct dp_req *r = &c->reqs[c->req_head];
	char out[DP_LOCAL_MAX + 512];
	int len;

	if (c->req_count == 0 || !r->deny || !r->complete)
		return 1;
	if ((len = denial_format(r, out, sizeof(out))) == -1)
		len = 0;
	if (len > 0 && conn_queue_client(c, out, (size_t)len) == -1)
		return 1;
	conn_log(c, r, r->deny, r->size, (uint64_t)len,
	    dp_elapsed_us(&r->mono), 1);
	c->req_head = (c->req_head + 1) % DP_REQ_QUEUE;
	c->req_count--;
	c->stall = DP_STALL_NONE;
	if (!r->keep_alive || c->client_eof || c->upstream_gone || len == 0) {
		conn_close(c);
		return -1;
	}
	return 0;
}

/* Sends the error that proxy_fail stored as the whole response, logs it
 * with the oldest request waiting, and closes. It waits while the
 * responses before it fill the client's buffer. */
static void
conn_send_failure(struct dp_conn *c)
{
	char out[DP_DETAIL_MAX + 256];
	const struct dp_req *r = NULL;
	int len;

	len = snprintf(out, sizeof(out), "HTTP/1.1 %d %s\r\nContent-Type: "
	    "text/plain; charset=utf-8\r\nContent-Length: %zu\r\nConnection: "
	    "close\r\n\r\n%s\n", c->fail_status, c->fail_reason,
	    strlen(c->fail_detail) + 1, c->fail_detail);
	if (len < 0 || (size_t)len >= sizeof(out))
		len = 0;
	if (conn_queue_client(c, out, (size_t)len) == -1) {
		c->failure_due = 1;
		watch(c->client_wr, 1);
		return;
	}
	c->failure_due = 0;
	if (c->req_count > 0)
		r = &c->reqs[c->req_head];
	conn_log(c, r, c->fail_status, r != NULL ? r->size : c->bytes_in,
	    (uint64_t)len, r != NULL ? dp_elapsed_us(&r->mono) :
	    dp_elapsed_us(&c->accepted_mono), 0);
	c->req_count = 0;
	c->resp_status = c->fail_status;
	conn_close(c);
}

/* ---- closing ---- */

static void
conn_drop_upstream(struct dp_conn *c)
{
	if (c->ufd == -1)
		return;
	if (c->upstream_rd != NULL)
		event_free(c->upstream_rd);
	if (c->upstream_wr != NULL)
		event_free(c->upstream_wr);
	c->upstream_rd = c->upstream_wr = NULL;
	close(c->ufd);
	c->ufd = -1;
	c->connected = 0;
	c->connecting = 0;
}

void
proxy_free(struct dp_conn *c)
{
	conn_log_unparsed(c);
	dp_detach(c);
	if (c->svc != NULL)
		TAILQ_REMOVE(&c->svc->conns, c, entry);
	conn_drop_upstream(c);
	if (c->client_rd != NULL)
		event_free(c->client_rd);
	if (c->client_wr != NULL)
		event_free(c->client_wr);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->cfd != -1)
		close(c->cfd);
	if (c->auth != NULL) {
		OPENSSL_cleanse(c->auth, 2 * DP_AUTH_MAX);
		free(c->auth);
	}
	free(c);
}

/*
 * Ends a connection whose response has been sent: sends the TLS
 * close_notify and a FIN, then reads until the client closes (a lingering
 * close). Closing a socket with unread bytes makes the kernel send a
 * reset, and a client that receives it may drop the response it has not
 * read yet. Returns -1 when it freed c.
 */
static int
conn_linger(struct dp_conn *c)
{
	struct timeval tv = { DP_LINGER_S, 0 };

	watch(c->client_rd, 0);
	watch(c->client_wr, 0);

	/* With the TLS handshake unfinished, no response has been sent. */
	if (c->ssl != NULL && !SSL_is_init_finished(c->ssl)) {
		proxy_free(c);
		return -1;
	}
	if (c->ssl != NULL) {
		/* Sends close_notify without waiting for the client's. */
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
	if (shutdown(c->cfd, SHUT_WR) == -1) {
		proxy_free(c);
		return -1;
	}
	c->state = DP_CONN_LINGER;
	dp_mono_now(&c->linger_start);

	/* DP_LINGER_S bounds the whole linger, not the wait for each read,
	 * so that a client that keeps sending cannot hold the socket. */
	if (evtimer_add(c->timer, &tv) == -1 ||
	    event_add(c->client_rd, NULL) == -1) {
		proxy_free(c);
		return -1;
	}
	return 0;
}

/* Stops forwarding, sends the client what is queued for it, then closes
 * its connection with conn_linger. The write event runs the rest, so that
 * c is never freed here. */
static void
conn_close(struct dp_conn *c)
{
	struct timeval tv = { DP_FLUSH_TIMEOUT_S, 0 };

	conn_drop_upstream(c);
	dp_detach(c);
	conn_log_unparsed(c);
	c->state = DP_CONN_CLOSING;
	c->stall = DP_STALL_NONE;
	evtimer_add(c->timer, &tv);
	watch(c->client_wr, 1);
	watch(c->client_rd, !c->client_eof);
}

/* ---- forwarding ---- */

/* Resumes reading the client once its buffer has room. Decrypted bytes
 * buffered inside OpenSSL make no socket event, so they are run at once. */
static void
conn_resume_client(struct dp_conn *c)
{
	if (!c->client_paused || buf_room(&c->up) == 0 || c->client_eof)
		return;
	c->client_paused = 0;
	watch(c->client_rd, 1);
	if (c->ssl != NULL && SSL_pending(c->ssl) > 0)
		event_active(c->client_rd, EV_READ, 1);
}

/* Writes the client's ready bytes to the instance, and passes a client's
 * half-close on once all it sent has gone. */
static void
conn_flush_upstream(struct dp_conn *c)
{
	struct dp_buf *b = &c->up;
	ssize_t n;

	if (!c->connected)
		return;
	if (b->ready > b->off) {
		n = write(c->ufd, b->data + b->off, b->ready - b->off);
		if (n > 0)
			b->off += (size_t)n;
		else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			/* The instance is gone. Its read event gets the end
			 * of file and fails or ends the request. */
			watch(c->upstream_wr, 0);
			b->off = b->ready;
		}
	}
	buf_rewind(b);
	watch(c->upstream_wr, b->ready > b->off);
	if (c->client_eof && !c->upstream_shut && b->off == b->len) {
		c->upstream_shut = 1;
		(void)shutdown(c->ufd, SHUT_WR);
	}
	conn_resume_client(c);
}

/* Whether the denial at the head of the queue waits only for room in the
 * client's buffer. */
static int
denial_due(const struct dp_conn *c)
{
	const struct dp_req *r = &c->reqs[c->req_head];

	return c->state == DP_CONN_OPEN && c->stall == DP_STALL_DENIAL &&
	    c->req_count > 0 && r->deny && r->complete;
}

/*
 * Writes what is queued for the client. The write event stays on while a
 * denial waits for room, so that it is queued once this flush made some.
 * Returns -1 when the client is gone and c was freed.
 */
static int
conn_flush_client(struct dp_conn *c)
{
	struct dp_buf *b = &c->down;
	ssize_t n;

	/* One TLS record per SSL_write, so TLS may take a few rounds. */
	while (b->off < b->len) {
		n = client_send(c, b->data + b->off, b->len - b->off);
		if (n > 0) {
			b->off += (size_t)n;
			if (c->ssl == NULL)
				break;
			continue;
		}
		if (errno == EAGAIN || errno == EINTR)
			break;
		proxy_free(c);
		return -1;
	}
	buf_rewind(b);
	watch(c->client_wr, b->off < b->len || c->ssl_read_wants_write ||
	    c->state == DP_CONN_CLOSING || c->failure_due || denial_due(c));

	/* Room again: resume reading the instance. */
	if (c->upstream_paused && buf_room(b) > 0 && c->connected) {
		c->upstream_paused = 0;
		watch(c->upstream_rd, 1);
	}
	return 0;
}

/*
 * Parses what the client sent, sends the 401 or 403 of denied requests in
 * their turn, picks an instance for the first request that may reach one,
 * and forwards what is ready. It never frees c, but may close it.
 */
static void
conn_process_up(struct dp_conn *c)
{
	int rc;

	for (;;) {
		conn_parse_up(c);
		if (c->stall == DP_STALL_DENIAL) {
			if ((rc = conn_send_denial(c)) == 0)
				continue;
			if (rc == -1)
				return;
		}
		if (c->stall == DP_STALL_QUEUE &&
		    c->req_count < DP_REQ_QUEUE) {
			c->stall = DP_STALL_NONE;
			continue;
		}
		break;
	}
	if (c->state != DP_CONN_OPEN)
		return;

	/* Bytes the parser cannot follow must not pass the token check. */
	if (!c->parse && !c->upgraded && c->svc != NULL &&
	    invoker_required(c->svc) && c->up.len > c->up.off) {
		c->up.off = c->up.ready = c->up.parsed = c->up.len = 0;
		proxy_fail(c, 400, "Bad Request", "localcloud: the request is "
		    "not HTTP/1.1, so its token cannot be checked.");
		return;
	}

	/* A connection to a private service picks its instance with its
	 * first request that passes, so a denied one starts none. */
	if (c->inst == NULL && c->up.ready > c->up.off) {
		if (dp_attach(c) == -1) {
			proxy_fail(c, 503, "Service Unavailable", "localcloud: "
			    "cannot start an instance.");
			return;
		}
		if (c->inst->state == DP_READY) {
			proxy_connect(c, -1);
			if (c->state != DP_CONN_OPEN)
				return;
		}
	}
	conn_flush_upstream(c);

	/* Dropped denials also make room, with no instance to write to. */
	conn_resume_client(c);
	if (buf_room(&c->up) == 0 && !c->client_paused) {
		c->client_paused = 1;
		watch(c->client_rd, 0);
	}
}

/* The client's end of file on an open connection. Returns -1 when it
 * freed c. */
static int
conn_client_eof(struct dp_conn *c)
{
	c->client_eof = 1;
	watch(c->client_rd, 0);
	conn_process_up(c);
	if (c->state != DP_CONN_OPEN)
		return 0;

	/*
	 * The connection is done when no request waits for a response: none
	 * is queued, or the one being read can never be checked. Queued
	 * bytes for the client are still sent.
	 */
	if ((c->parse && (c->req_count == 0 || (c->req_cur != NULL &&
	    !c->approved))) || (!c->connected && c->up.len == 0)) {
		if (c->down.off < c->down.len) {
			conn_close(c);
			return 0;
		}
		proxy_free(c);
		return -1;
	}
	conn_flush_upstream(c);
	return 0;
}

/* Reads what the client sent on an open connection. Returns -1 when it
 * freed c. */
static int
conn_read_client(struct dp_conn *c)
{
	struct dp_buf *b = &c->up;
	ssize_t n;

	do {
		if (b->len == DP_BUF_SIZE)
			buf_compact(b);
		if (b->len == DP_BUF_SIZE)
			break;
		n = client_recv(c, b->data + b->len, DP_BUF_SIZE - b->len);
		if (n > 0) {
			b->len += (size_t)n;
			c->bytes_in += (uint64_t)n;
			continue;
		}
		if (n == 0)
			return conn_client_eof(c);
		if (errno == EAGAIN || errno == EINTR)
			break;
		proxy_free(c);
		return -1;
	} while (c->ssl != NULL && SSL_pending(c->ssl) > 0);

	conn_process_up(c);
	if (c->state != DP_CONN_OPEN)
		return 0;

	/* Headers that fill the whole buffer while held back for the token
	 * check can never be checked. */
	if (buf_room(b) == 0 && b->off == b->ready && !c->approved &&
	    c->req_cur != NULL && c->stall == DP_STALL_NONE) {
		b->off = b->ready = b->parsed = b->len = 0;
		proxy_fail(c, 431, "Request Header Fields Too Large",
		    "localcloud: the request headers are too large.");
	}
	return 0;
}

/* Sends a failed connection's error once its request has been read. */
static void
conn_fail_check(struct dp_conn *c)
{
	if (!c->failure_due && (!c->parse || c->client_eof ||
	    (c->req_count > 0 && c->req_cur == NULL)))
		conn_send_failure(c);
}

/*
 * Reads and discards what a failed connection's client sends, parsing it
 * to find the end of the request, and sends the error once the request is
 * read whole, because sending it earlier would leave request bytes
 * unread. Bytes that are not HTTP/1 and a client's end of file get the
 * error at once. Returns -1 when it freed c.
 */
static int
conn_fail_read(struct dp_conn *c)
{
	struct dp_buf *b = &c->up;
	ssize_t n;

	if (!c->client_eof) {
		b->off = b->ready = b->parsed = b->len = 0;
		n = client_recv(c, b->data, DP_BUF_SIZE);
		if (n > 0) {
			b->len = (size_t)n;
			c->bytes_in += (uint64_t)n;
			conn_parse_up(c);
			b->off = b->ready = b->parsed = b->len = 0;
		} else if (n == 0) {
			c->client_eof = 1;
			watch(c->client_rd, 0);
		} else if (errno != EAGAIN && errno != EINTR) {
			proxy_free(c);
			return -1;
		}
	}
	conn_fail_check(c);
	return 0;
}

/* Reads and discards what a closing client sends, so that a client
 * blocked in sending still gets to read. Returns -1 when it freed c. */
static int
conn_close_read(struct dp_conn *c)
{
	char discard[4096];
	ssize_t n;

	n = client_recv(c, discard, sizeof(discard));
	if (n > 0 || (n == -1 && (errno == EAGAIN || errno == EINTR)))
		return 0;
	if (n == 0) {
		/* Half-closed: keep sending the response. */
		c->client_eof = 1;
		watch(c->client_rd, 0);
		return 0;
	}
	proxy_free(c);
	return -1;
}

/* Reads and discards after the FIN, and frees the connection at the
 * client's end of file or on an error. */
static void
conn_linger_read(struct dp_conn *c)
{
	char discard[4096];
	ssize_t n;
	int i;

	for (i = 0; i < DP_LINGER_READS; i++) {
		n = read(c->cfd, discard, sizeof(discard));
		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return;
		proxy_free(c);
		return;
	}
}

static void
on_client_readable(evutil_socket_t fd, short events, void *arg)
{
	struct dp_conn *c = arg;

	switch (c->state) {
	case DP_CONN_LINGER:
		conn_linger_read(c);
		return;
	case DP_CONN_CLOSING:
		if (c->ssl_write_wants_read && conn_flush_client(c) == -1)
			return;
		(void)conn_close_read(c);
		return;
	case DP_CONN_FAILING:
		if (c->ssl_write_wants_read && conn_flush_client(c) == -1)
			return;
		if (conn_fail_read(c) == -1)
			return;
		break;
	case DP_CONN_OPEN:
		if (c->ssl_write_wants_read && conn_flush_client(c) == -1)
			return;
		if (conn_read_client(c) == -1)
			return;
		break;
	}

	/* A denial or an error response may be queued for the client. */
	if (c->down.off < c->down.len)
		(void)conn_flush_client(c);
}

static void
on_client_writable(evutil_socket_t fd, short events, void *arg)
{
	struct dp_conn *c = arg;

	if (c->ssl_read_wants_write) {
		if (c->state == DP_CONN_OPEN) {
			if (conn_read_client(c) == -1)
				return;
		} else if (c->state == DP_CONN_FAILING) {
			if (conn_fail_read(c) == -1)
				return;
		}
	}
	if (conn_flush_client(c) == -1)
		return;

	/* Room for what waited for the client's buffer to drain. */
	if (denial_due(c)) {
		conn_process_up(c);
		if (conn_flush_client(c) == -1)
			return;
	}
	if (c->state == DP_CONN_FAILING && c->failure_due)
		conn_send_failure(c);
	if (c->state == DP_CONN_CLOSING && c->down.off == c->down.len)
		(void)conn_linger(c);
}

/*
 * The instance closed or reset: end the response it was sending, or
 * answer 502 when a request got no byte of response. A denied request
 * whose turn has come is answered first. It never frees c.
 */
static void
conn_upstream_closed(struct dp_conn *c, int eof)
{
	char detail[256];

	if (eof)
		conn_parse_eof(c);
	conn_drop_upstream(c);
	c->upstream_gone = 1;
	if (c->stall == DP_STALL_DENIAL && conn_send_denial(c) == -1)
		return;
	if (c->parse && c->req_count > 0 && c->resp_bytes == 0 &&
	    !c->reqs[c->req_head].deny) {
		snprintf(detail, sizeof(detail), "localcloud: instance %s of "
		    "service %s closed the connection without a response.",
		    c->instance_id, c->svc != NULL ? c->svc->id : "?");
		proxy_fail(c, 502, "Bad Gateway", detail);
		return;
	}
	conn_close(c);
}

static void
on_upstream_readable(evutil_socket_t fd, short events, void *arg)
{
	struct dp_conn *c = arg;
	struct dp_buf *b = &c->down;
	size_t old;
	ssize_t n;

	if (b->len == DP_BUF_SIZE)
		buf_compact(b);
	if (b->len == DP_BUF_SIZE) {
		c->upstream_paused = 1;
		watch(c->upstream_rd, 0);
		return;
	}
	n = read(fd, b->data + b->len, DP_BUF_SIZE - b->len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_upstream_closed(c, n == 0);
		return;
	}
	old = b->len;
	b->len += (size_t)n;
	b->ready = b->parsed = b->len;
	c->bytes_out += (uint64_t)n;
	c->resp_bytes += (uint64_t)n;
	if (c->parse)
		conn_parse_down(c, b->data + old, (size_t)n);

	/* A response ended: a denial or a request that waited may go. */
	if (c->stall != DP_STALL_NONE)
		conn_process_up(c);
	if (c->state != DP_CONN_OPEN)
		return;
	if (conn_flush_client(c) == -1)
		return;
	if (b->len == DP_BUF_SIZE && b->off == 0 && !c->upstream_paused) {
		c->upstream_paused = 1;
		watch(c->upstream_rd, 0);
	}
}

/* The instance's socket connected: forward what the client sent while
 * it was waiting. */
static void
conn_upstream_connected(struct dp_conn *c)
{
	c->connecting = 0;
	c->connected = 1;
	dp_set_nodelay(c->ufd);
	watch(c->upstream_rd, 1);
	conn_flush_upstream(c);
}

static void
on_upstream_writable(evutil_socket_t fd, short events, void *arg)
{
	struct dp_conn *c = arg;
	char detail[256];
	socklen_t len = sizeof(int);
	int err = 0;

	if (!c->connecting) {
		conn_flush_upstream(c);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err == 0) {
		conn_upstream_connected(c);
		return;
	}
	conn_drop_upstream(c);
	snprintf(detail, sizeof(detail), "localcloud: instance %s of service "
	    "%s refused the connection.", c->instance_id,
	    c->svc != NULL ? c->svc->id : "?");
	proxy_fail(c, 502, "Bad Gateway", detail);
}

static void
on_conn_timer(evutil_socket_t fd, short events, void *arg)
{
	struct dp_conn *c = arg;

	/* The request of a failed connection did not come whole in time:
	 * the error goes now. Closing and lingering end here. */
	if (c->state == DP_CONN_FAILING && !c->failure_due) {
		conn_send_failure(c);
		return;
	}
	proxy_free(c);
}

/* ---- interface ---- */

/* Connects c to its instance. fd is an already connected socket or -1. */
void
proxy_connect(struct dp_conn *c, evutil_socket_t fd)
{
	struct event_base *base = c->dp->lc->base;
	struct sockaddr_in sin;
	char detail[256];

	if (c->state != DP_CONN_OPEN || c->ufd != -1) {
		if (fd != -1)
			close(fd);
		return;
	}
	if (fd == -1) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1) {
			log_warn("service %s: socket", c->svc->name);
			proxy_fail(c, 503, "Service Unavailable",
			    "localcloud: cannot open a socket.");
			return;
		}
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(c->inst->port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			if (errno != EINPROGRESS) {
				close(fd);
				snprintf(detail, sizeof(detail), "localcloud: "
				    "instance %s of service %s refused the "
				    "connection.", c->instance_id, c->svc->id);
				proxy_fail(c, 502, "Bad Gateway", detail);
				return;
			}
			c->connecting = 1;
		}
	}
	c->ufd = fd;
	c->upstream_rd = event_new(base, fd, EV_READ | EV_PERSIST,
	    on_upstream_readable, c);
	c->upstream_wr = event_new(base, fd, EV_WRITE | EV_PERSIST,
	    on_upstream_writable, c);
	if (c->upstream_rd == NULL || c->upstream_wr == NULL) {
		conn_drop_upstream(c);
		proxy_fail(c, 503, "Service Unavailable",
		    "localcloud: out of memory.");
		return;
	}
	if (c->connecting) {
		watch(c->upstream_wr, 1);
		return;
	}
	conn_upstream_connected(c);
}

/*
 * Fails a connection with an HTTP error: drops its instance, sends the
 * error as the response once the request is read, then closes. The first
 * failure of a connection wins. It never frees c.
 */
void
proxy_fail(struct dp_conn *c, int status, const char *reason,
    const char *detail)
{
	struct timeval tv = { DP_REQUEST_TIMEOUT_S, 0 };
	struct dp_buf *b = &c->up;

	if (c->state != DP_CONN_OPEN)
		return;
	conn_drop_upstream(c);
	dp_detach(c);
	c->fail_status = status;
	c->fail_reason = reason;
	snprintf(c->fail_detail, sizeof(c->fail_detail), "%s", detail);
	c->state = DP_CONN_FAILING;
	c->stall = DP_STALL_NONE;
	c->discard = 0;
	c->client_paused = 0;

	/* What was read is dropped, after the parser has seen it, so that
	 * the request's end is found. */
	conn_parse_up(c);
	b->off = b->ready = b->parsed = b->len = 0;
	evtimer_add(c->timer, &tv);
	watch(c->client_rd, !c->client_eof);
	watch(c->client_wr, c->down.off < c->down.len);
	conn_fail_check(c);
}

/* Sets up a connection accepted on svc's port and attaches it to an
 * instance, or leaves that to its first request when a token is needed. */
void
proxy_accept(struct run_service *svc, evutil_socket_t fd,
    const struct sockaddr *sa)
{
	struct lc *lc = svc->lc;
	struct event_base *base = lc->base;
	struct dp_conn *c;
	SSL_CTX *ctx;

	dp_set_nodelay(fd);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("service %s: out of memory for a connection",
		    svc->name);
		close(fd);
		return;
	}
	c->dp = lc->dataplane;
	c->svc = svc;
	c->cfd = fd;
	c->ufd = -1;
	clock_gettime(CLOCK_REALTIME, &c->accepted_wall);
	dp_mono_now(&c->accepted_mono);
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    c->remote_ip, sizeof(c->remote_ip));
	c->url_prefix_len = (size_t)snprintf(c->url_prefix,
	    sizeof(c->url_prefix), "%s://127.0.0.1:%u", lc->tls ? "https" :
	    "http", svc->port);
	TAILQ_INSERT_TAIL(&svc->conns, c, entry);

	c->client_rd = event_new(base, fd, EV_READ | EV_PERSIST,
	    on_client_readable, c);
	c->client_wr = event_new(base, fd, EV_WRITE | EV_PERSIST,
	    on_client_writable, c);
	c->timer = evtimer_new(base, on_conn_timer, c);
	if (c->client_rd == NULL || c->client_wr == NULL || c->timer == NULL)
		goto fail;
	if (lc->tls) {
		/* Partial writes let one SSL_write send what fits, and the
		 * buffer may move between retries after buf_compact. */
		ctx = tls_server_ctx(lc, svc->serving != NULL &&
		    svc->serving->h2c);
		if (ctx == NULL || (c->ssl = SSL_new(ctx)) == NULL ||
		    SSL_set_fd(c->ssl, fd) != 1)
			goto fail;
		SSL_set_accept_state(c->ssl);
		SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
		    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	}
	if (event_add(c->client_rd, NULL) == -1)
		goto fail;

	/* The parser also finds the end of the request that an error
	 * response waits for. */
	c->parse = svc->serving == NULL || !svc->serving->h2c;
	http_parser_init(&c->req_parser, HTTP_REQUEST);
	http_parser_init(&c->resp_parser, HTTP_RESPONSE);
	c->req_parser.data = c;
	c->resp_parser.data = c;
	if (svc->serving == NULL) {
		proxy_fail(c, 503, "Service Unavailable", "localcloud: the "
		    "service has no ready revision.");
		return;
	}
	snprintf(c->revision, sizeof(c->revision), "%s", svc->serving->name);
	if (invoker_required(svc)) {
		/* HTTP/2 is not parsed, so its token cannot be checked. */
		if (!c->parse)
			proxy_fail(c, 403, "Forbidden", "localcloud: HTTP/2 "
			    "requests to a private service are not supported.");
		return;
	}
	if (dp_attach(c) == -1) {
		proxy_fail(c, 503, "Service Unavailable", "localcloud: cannot "
		    "start an instance.");
		return;
	}
	if (c->inst->state == DP_READY)
		proxy_connect(c, -1);
	return;

fail:
	ERR_clear_error();
	log_warnx("service %s: cannot set up a connection", svc->name);
	proxy_free(c);
}

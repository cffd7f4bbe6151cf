/*
 * Warm-request load engine. One event loop drives every connection. Each
 * connection has a persistent read event, a one-shot write event (connect,
 * handshake or a write that would block) and a timer that carries the
 * per-request timeout. The send timestamp is taken just before the first
 * write of a request and the completion timestamp in http_parser's
 * message-complete callback.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "clock.h"
#include "warm.h"

/* Bytes read per read(2); a response larger than this is read in parts. */
#define READ_BUF_SIZE		16384
/* Maximum request size of warm_request_build(), headers and body. */
#define REQUEST_MAX_BYTES	(16 * 1024 * 1024)
/* Interval of the check of the caller's stop flag, in microseconds. */
#define STOP_POLL_US		100000

enum conn_state {
	CONN_CLOSED,
	CONN_CONNECTING,
	CONN_HANDSHAKE,
	CONN_IDLE,
	CONN_WRITING,
	CONN_READING,
};

enum run_phase {
	PHASE_WARMUP,
	PHASE_MEASURE,
	PHASE_DONE,
};

struct engine;

struct conn {
	struct engine	*eng;
	int		 fd;
	SSL		*ssl;
	enum conn_state	 state;
	struct event	*ev_read;	/* persistent while connected */
	struct event	*ev_write;	/* one-shot */
	struct event	*ev_timer;	/* the current deadline */
	struct event	*ev_next;	/* activated to send the next request */
	http_parser	 parser;
	int		 warmed;	/* its warm-up request has ended */
	int		 has_request;	/* a request is assigned to it */
	int		 is_warmup;
	int		 complete;
	int		 keep_alive;
	int		 connect_errno;	/* connect(2) failed at once */
	const char	*req;		/* the request being written */
	size_t		 req_len;
	size_t		 written;
	int64_t		 t_connect;
	int64_t		 t_intended;
	int64_t		 t_sent;
	int64_t		 t_done;
	char		*rbuf;
};

struct engine {
	const struct warm_config *cfg;
	struct warm_result	*res;
	struct event_base	*base;
	SSL_CTX			*ssl_ctx;
	struct sockaddr_storage	 addr;
	socklen_t		 addrlen;
	const char		*server_name;
	int			 server_name_is_ip;
	const struct timeval	*timeout_tv;
	http_parser_settings	 settings;
	int			 head;		/* responses carry no body */
	struct conn		*conns;
	char			*rbufs;
	enum run_phase		 phase;
	unsigned		 warm_pending;
	uint64_t		 issued;	/* measured requests assigned */
	uint64_t		 finished;	/* measured requests ended */
	int64_t			 t_start;
	int64_t			 t_last;
	/* Open loop: request i is due at t_start + i * interval_ns. */
	struct event		*ev_tick;
	struct event		*ev_stop;	/* polls cfg->stop */
	/* The request sent from now on; cfg->refresh may replace it. */
	const char		*request;
	size_t			 request_len;
	struct event		*ev_refresh;
	uint64_t		 next_due;
	double			 interval_ns;
	int64_t			 t_window_end;
	int64_t			 t_drain_end;
	struct conn		**idle;
	unsigned		 nidle;
};

static void	conn_go(struct conn *c);
static void	conn_send(struct conn *c);
static void	conn_fail(struct conn *c, enum stats_error_kind kind);
static void	engine_next(struct conn *c);
static void	conn_io_cb(evutil_socket_t fd, short what, void *arg);

/* Request building. */

/* Appends one "Name: value" header after checking its shape; a header that
 * would change the message framing is rejected. */
static int
add_header(struct evbuffer *buf, const char *h, int *has_host, char *err,
    size_t errlen)
{
	const char	*colon;
	size_t		 name_len;

	colon = strchr(h, ':');
	if (colon == NULL || colon == h || strpbrk(h, "\r\n") != NULL) {
		(void)snprintf(err, errlen, "invalid header (expected "
		    "\"Name: value\" on one line): %.64s", h);
		return -1;
	}
	name_len = (size_t)(colon - h);
	if ((name_len == 14 && strncasecmp(h, "Content-Length", 14) == 0) ||
	    (name_len == 17 &&
	    strncasecmp(h, "Transfer-Encoding", 17) == 0)) {
		(void)snprintf(err, errlen, "header %.*s is set from the "
		    "body and cannot be given", (int)name_len, h);
		return -1;
	}
	if (name_len == 4 && strncasecmp(h, "Host", 4) == 0)
		*has_host = 1;
	return evbuffer_add_printf(buf, "%s\r\n", h) < 0 ? -1 : 0;
}

/* Copies the URL's host without IPv6 brackets, and its port. */
static int
url_target(const struct evhttp_uri *uri, int tls, struct warm_request *out)
{
	const char	*host = evhttp_uri_get_host(uri);
	size_t		 len;
	int		 port = evhttp_uri_get_port(uri);
	char		 portbuf[16];

	if (host == NULL || host[0] == '\0')
		return -1;
	len = strlen(host);
	if (host[0] == '[' && len > 2 && host[len - 1] == ']')
		out->host = strndup(host + 1, len - 2);
	else
		out->host = strdup(host);
	if (port < 0)
		port = tls ? 443 : 80;
	(void)snprintf(portbuf, sizeof(portbuf), "%d", port);
	out->port = strdup(portbuf);
	return out->host == NULL || out->port == NULL ? -1 : 0;
}

/* Writes the request line, Host and Content-Length. */
static int
add_request_head(struct evbuffer *buf, const char *method,
    const struct evhttp_uri *uri, const struct warm_request *out)
{
	const char	*path = evhttp_uri_get_path(uri);
	const char	*query = evhttp_uri_get_query(uri);

	if (path == NULL || path[0] == '\0')
		path = "/";
	return evbuffer_add_printf(buf, "%s %s%s%s HTTP/1.1\r\n", method, path,
	    query != NULL ? "?" : "", query != NULL ? query : "") < 0 ? -1 : 0;
}

static int
add_host_header(struct evbuffer *buf, const struct warm_request *out)
{
	int	v6 = strchr(out->host, ':') != NULL;
	int	default_port = strcmp(out->port, out->tls ? "443" : "80") == 0;

	return evbuffer_add_printf(buf, "Host: %s%s%s%s%s\r\n", v6 ? "[" : "",
	    out->host, v6 ? "]" : "", default_port ? "" : ":",
	    default_port ? "" : out->port) < 0 ? -1 : 0;
}

static int
valid_method(const char *m)
{
	size_t	i;

	if (m[0] == '\0' || strlen(m) > 16)
		return 0;
	for (i = 0; m[i] != '\0'; i++)
		if (m[i] < 'A' || m[i] > 'Z')
			return 0;
	return 1;
}

/*
 * Builds the raw HTTP/1.1 request for a URL: request line, Host, the
 * caller's headers, Content-Length when there is a body or the method
 * carries one, then the body. Returns -1 with a message in err.
 */
int
warm_request_build(const char *method, const char *url,
    const char *const *headers, size_t nheaders, const void *body,
    size_t body_len, struct warm_request *out, char *err, size_t errlen)
{
	struct evhttp_uri	*uri = NULL;
	struct evbuffer		*buf = NULL;
	const char		*scheme;
	int			 has_host = 0, ret = -1;
	size_t			 i;

	memset(out, 0, sizeof(*out));
	(void)snprintf(err, errlen, "out of memory");
	if (method == NULL)
		method = "GET";
	if (!valid_method(method)) {
		(void)snprintf(err, errlen, "invalid method: %.32s", method);
		return -1;
	}
	if (nheaders > WARM_MAX_HEADERS || body_len > REQUEST_MAX_BYTES) {
		(void)snprintf(err, errlen, "more than %d headers or a body "
		    "over %d bytes", WARM_MAX_HEADERS, REQUEST_MAX_BYTES);
		return -1;
	}
	uri = evhttp_uri_parse_with_flags(url, 0);
	scheme = uri != NULL ? evhttp_uri_get_scheme(uri) : NULL;
	if (scheme == NULL || (strcmp(scheme, "http") != 0 &&
	    strcmp(scheme, "https") != 0)) {
		(void)snprintf(err, errlen, "invalid URL (expected http:// or "
		    "https://host[:port]/path): %.200s", url);
		goto done;
	}
	out->tls = strcmp(scheme, "https") == 0;
	if (url_target(uri, out->tls, out) == -1) {
		(void)snprintf(err, errlen, "URL has no host: %.200s", url);
		goto done;
	}
	if ((buf = evbuffer_new()) == NULL ||
	    add_request_head(buf, method, uri, out) == -1)
		goto done;
	for (i = 0; i < nheaders; i++)
		if (add_header(buf, headers[i], &has_host, err, errlen) == -1)
			goto done;
	if (!has_host && add_host_header(buf, out) == -1)
		goto done;
	if ((body != NULL || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0) &&
	    evbuffer_add_printf(buf, "Content-Length: %zu\r\n", body_len) < 0)
		goto done;
	if (evbuffer_add(buf, "\r\n", 2) == -1 ||
	    (body_len > 0 && evbuffer_add(buf, body, body_len) == -1))
		goto done;

	out->len = evbuffer_get_length(buf);
	if ((out->bytes = malloc(out->len)) == NULL ||
	    evbuffer_remove(buf, out->bytes, out->len) != (int)out->len)
		goto done;
	ret = 0;
	err[0] = '\0';
done:
	if (buf != NULL)
		evbuffer_free(buf);
	if (uri != NULL)
		evhttp_uri_free(uri);
	if (ret == -1)
		warm_request_free(out);
	return ret;
}

void
warm_request_free(struct warm_request *req)
{
	/* The bytes may carry an identity token. */
	if (req->bytes != NULL)
		explicit_bzero(req->bytes, req->len);
	free(req->bytes);
	free(req->host);
	free(req->port);
	memset(req, 0, sizeof(*req));
}

/* Connections. */

/* Closes the socket and drops the TLS state; the events stay allocated. */
static void
conn_close(struct conn *c)
{
	if (c->state == CONN_CLOSED)
		return;
	(void)event_del(c->ev_read);
	(void)event_del(c->ev_write);
	(void)event_del(c->ev_timer);
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	(void)close(c->fd);
	c->fd = -1;
	c->state = CONN_CLOSED;
}

/* Sets TCP_NODELAY and counts the connection when getsockopt() reads the
 * option back as set. */
static void
conn_set_nodelay(struct conn *c)
{
	int		on = 1, got = 0;
	socklen_t	len = sizeof(got);

	if (c->eng->cfg->test_nagle)
		return;
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on,
	    sizeof(on)) == -1)
		return;
	if (getsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &got, &len) == 0 &&
	    got != 0)
		c->eng->res->nodelay_verified++;
}

/*
 * Opens a non-blocking connection. A connect(2) that fails at once is
 * reported through the write event on the next loop turn, so that a run
 * against a closed port never recurses from one failure into the next.
 */
static void
conn_open(struct conn *c)
{
	struct engine	*eng = c->eng;
	int		 rc;

	c->connect_errno = 0;
	c->t_connect = clock_now_ns();
	c->fd = socket(eng->addr.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (c->fd == -1) {
		c->connect_errno = errno;
	} else {
		conn_set_nodelay(c);
		rc = connect(c->fd, (struct sockaddr *)&eng->addr,
		    eng->addrlen);
		if (rc == -1 && errno != EINPROGRESS)
			c->connect_errno = errno;
	}
	c->state = CONN_CONNECTING;
	(void)event_assign(c->ev_read, eng->base, c->fd, EV_READ | EV_PERSIST,
	    conn_io_cb, c);
	(void)event_assign(c->ev_write, eng->base, c->fd, EV_WRITE,
	    conn_io_cb, c);
	if (c->connect_errno != 0) {
		event_active(c->ev_write, EV_WRITE, 1);
		return;
	}
	(void)event_add(c->ev_read, NULL);
	(void)event_add(c->ev_write, NULL);
	(void)event_add(c->ev_timer, eng->timeout_tv);
}

/* Records the connection time and sends the assigned request. */
static void
conn_ready(struct conn *c)
{
	struct engine	*eng = c->eng;

	eng->res->connections_opened++;
	(void)stats_samples_add(&eng->res->connect,
	    clock_now_ns() - c->t_connect);
	c->state = CONN_IDLE;
	if (c->has_request)
		conn_send(c);
}

/* Starts TLS on a connected socket, with SNI and a check of the server's
 * name (or address) against its certificate. */
static int
conn_tls_start(struct conn *c)
{
	struct engine	*eng = c->eng;
	X509_VERIFY_PARAM *param;

	if ((c->ssl = SSL_new(eng->ssl_ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1)
		return -1;
	if (eng->server_name_is_ip) {
		param = SSL_get0_param(c->ssl);
		if (X509_VERIFY_PARAM_set1_ip_asc(param,
		    eng->server_name) != 1)
			return -1;
	} else if (SSL_set_tlsext_host_name(c->ssl,
	    eng->server_name) != 1 ||
	    SSL_set1_host(c->ssl, eng->server_name) != 1)
		return -1;
	SSL_set_connect_state(c->ssl);
	c->state = CONN_HANDSHAKE;
	return 0;
}

/* Advances the TLS handshake; the read event is always armed, so only a
 * wanted write needs an event. */
static void
conn_tls_handshake(struct conn *c)
{
	int	rc;

	rc = SSL_do_handshake(c->ssl);
	if (rc == 1) {
		conn_ready(c);
		return;
	}
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return;
	case SSL_ERROR_WANT_WRITE:
		(void)event_add(c->ev_write, NULL);
		return;
	default:
		ERR_clear_error();
		conn_fail(c, STATS_ERROR_TLS);
	}
}

/* Finishes a non-blocking connect from the socket's pending error. */
static void
conn_connected(struct conn *c)
{
	int		err = c->connect_errno;
	socklen_t	len = sizeof(err);

	if (err == 0 &&
	    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		conn_fail(c, STATS_ERROR_CONNECT);
		return;
	}
	if (c->eng->cfg->tls) {
		if (conn_tls_start(c) == -1) {
			ERR_clear_error();
			conn_fail(c, STATS_ERROR_TLS);
			return;
		}
		conn_tls_handshake(c);
		return;
	}
	conn_ready(c);
}

/* Writes what is left of the request; returns -1 after a failure. */
static int
conn_write(struct conn *c)
{
	ssize_t	n;
	int	e;

	while (c->written < c->req_len) {
		if (c->ssl != NULL) {
			n = SSL_write(c->ssl, c->req + c->written,
			    (int)(c->req_len - c->written));
			if (n <= 0) {
				e = SSL_get_error(c->ssl, (int)n);
				if (e == SSL_ERROR_WANT_WRITE)
					break;
				if (e == SSL_ERROR_WANT_READ)
					return 0;
				ERR_clear_error();
				conn_fail(c, e == SSL_ERROR_SSL ?
				    STATS_ERROR_TLS : STATS_ERROR_CLOSED);
				return -1;
			}
		} else {
			n = send(c->fd, c->req + c->written,
			    c->req_len - c->written, MSG_NOSIGNAL);
			if (n == -1) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				conn_fail(c, STATS_ERROR_CLOSED);
				return -1;
			}
		}
		c->written += (size_t)n;
	}
	if (c->written < c->req_len)
		(void)event_add(c->ev_write, NULL);
	else
		c->state = CONN_READING;
	return 0;
}

/* Timestamps and writes the assigned request on an open connection. */
static void
conn_send(struct conn *c)
{
	struct engine	*eng = c->eng;

	http_parser_init(&c->parser, HTTP_RESPONSE);
	c->parser.data = c;
	c->complete = 0;
	c->req = eng->request;
	c->req_len = eng->request_len;
	c->written = 0;
	c->state = CONN_WRITING;
	(void)event_add(c->ev_timer, eng->timeout_tv);
	c->t_sent = clock_now_ns();
	(void)conn_write(c);
}

/* Records the outcome of the assigned request. */
static void
record_request(struct conn *c, int ok, enum stats_error_kind kind,
    int status)
{
	struct engine		*eng = c->eng;
	struct warm_result	*res = eng->res;
	int64_t			 t = ok ? c->t_done : clock_now_ns();

	if (c->is_warmup) {
		if (ok)
			(void)stats_samples_add(&res->first,
			    c->t_done - c->t_sent);
		else {
			res->warmup_failed++;
			stats_errors_add(&res->warmup_errors, kind, status);
		}
		return;
	}
	eng->finished++;
	if (t > eng->t_last)
		eng->t_last = t;
	if (!ok) {
		stats_errors_add(&res->errors, kind, status);
		return;
	}
	res->succeeded++;
	if (res->open_loop)
		(void)stats_open_loop_record(&res->latency, &res->service,
		    &res->send_lag, c->t_intended, c->t_sent, c->t_done);
	else
		(void)stats_samples_add(&res->latency, c->t_done - c->t_sent);
}

/* Ends the run once every measured request has ended. */
static void
check_done(struct engine *eng)
{
	const struct warm_result *res = eng->res;
	uint64_t	target;

	if (eng->phase != PHASE_MEASURE)
		return;
	target = res->open_loop ? eng->next_due : res->count;
	if (res->open_loop && eng->next_due < res->scheduled)
		return;
	if (eng->finished < target)
		return;
	eng->phase = PHASE_DONE;
	(void)event_base_loopbreak(eng->base);
}

static void	start_measure(struct engine *eng);

/* Frees the connection of its request and hands it the next one. */
static void
request_ended(struct conn *c)
{
	struct engine	*eng = c->eng;
	int		 was_warmup = c->is_warmup;

	c->has_request = 0;
	c->is_warmup = 0;
	if (was_warmup) {
		c->warmed = 1;
		if (--eng->warm_pending == 0)
			start_measure(eng);
		return;
	}
	check_done(eng);
	if (eng->phase != PHASE_MEASURE)
		return;
	/*
	 * The next request goes out from the active queue, after the read
	 * events that epoll returned together with this one: their
	 * completion timestamps are then not delayed by this send.
	 */
	event_active(c->ev_next, EV_TIMEOUT, 1);
}

/* Sends the next request of a connection whose request ended. */
static void
conn_next_cb(evutil_socket_t fd, short what, void *arg)
{
	engine_next(arg);
}

/* Fails the assigned request, if any, and closes the connection. */
static void
conn_fail(struct conn *c, enum stats_error_kind kind)
{
	conn_close(c);
	if (!c->has_request)
		return;
	record_request(c, 0, kind, 0);
	request_ended(c);
}

/* Handles a response that http_parser has completed. */
static void
conn_complete(struct conn *c)
{
	struct engine	*eng = c->eng;
	int		 status = c->parser.status_code;

	if (!c->keep_alive)
		conn_close(c);
	else
		c->state = CONN_IDLE;
	if (status == eng->cfg->expect_status)
		record_request(c, 1, STATS_ERROR_OTHER, status);
	else
		record_request(c, 0, STATS_ERROR_HTTP_STATUS, status);
	request_ended(c);
}

/* Reads from the socket into the connection's buffer. Returns the byte
 * count, 0 at end of stream, -1 when nothing is ready and -2 on error. */
static ssize_t
conn_recv(struct conn *c)
{
	ssize_t	n;
	int	e;

	if (c->ssl == NULL) {
		n = recv(c->fd, c->rbuf, READ_BUF_SIZE, 0);
		if (n >= 0)
			return n;
		return errno == EAGAIN || errno == EINTR ? -1 : -2;
	}
	errno = 0;
	n = SSL_read(c->ssl, c->rbuf, READ_BUF_SIZE);
	if (n > 0)
		return n;
	e = SSL_get_error(c->ssl, (int)n);
	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
		return -1;
	ERR_clear_error();
	/* A peer that closes without close_notify still ends the stream. */
	if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL &&
	    errno == 0))
		return 0;
	return -2;
}

/* Feeds bytes to the parser; returns -1 after a protocol error. */
static int
conn_parse(struct conn *c, const char *data, size_t len)
{
	enum http_errno	e;

	(void)http_parser_execute(&c->parser, &c->eng->settings, data, len);
	e = HTTP_PARSER_ERRNO(&c->parser);
	if (e != HPE_OK && e != HPE_PAUSED) {
		conn_fail(c, STATS_ERROR_PROTOCOL);
		return -1;
	}
	return 0;
}

/* The end of the stream: a response delimited by it completes, anything
 * else was cut off. */
static void
conn_eof(struct conn *c)
{
	if (c->state != CONN_READING && c->state != CONN_WRITING) {
		conn_close(c);
		return;
	}
	if (conn_parse(c, NULL, 0) == -1)
		return;
	if (c->complete) {
		c->keep_alive = 0;
		conn_complete(c);
		return;
	}
	conn_fail(c, STATS_ERROR_CLOSED);
}

/*
 * Reads what the socket has. When a read leaves the response incomplete,
 * the delayed ACK is sent at once (TCP_QUICKACK). Otherwise a server that
 * writes headers and body separately with Nagle's algorithm on waits for
 * that ACK, at least 40 ms (TCP_DELACK_MIN in Linux's include/net/tcp.h).
 */
static void
conn_read(struct conn *c)
{
	struct engine	*eng = c->eng;
	ssize_t		 n;
	int		 one = 1, got = 0;

	for (;;) {
		n = conn_recv(c);
		if (n == -2) {
			conn_fail(c, c->ssl != NULL ? STATS_ERROR_TLS :
			    STATS_ERROR_CLOSED);
			return;
		}
		if (n == 0) {
			conn_eof(c);
			return;
		}
		if (n == -1)
			break;
		got = 1;
		eng->res->response_bytes += (uint64_t)n;
		if (c->state != CONN_READING && c->state != CONN_WRITING) {
			/* Unrequested bytes: the stream is out of step. */
			conn_close(c);
			return;
		}
		if (conn_parse(c, c->rbuf, (size_t)n) == -1)
			return;
		if (c->complete) {
			conn_complete(c);
			return;
		}
		/* A short plain read drained the socket; TLS reads go on
		 * until OpenSSL wants more, so no record stays buffered. */
		if (c->ssl == NULL && n < READ_BUF_SIZE)
			break;
	}
	if (got && !eng->cfg->test_nagle && setsockopt(c->fd, IPPROTO_TCP,
	    TCP_QUICKACK, &one, sizeof(one)) == 0)
		eng->res->quick_acks++;
}

/* Dispatches a socket event by connection state. */
static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	switch (c->state) {
	case CONN_CONNECTING:
		conn_connected(c);
		break;
	case CONN_HANDSHAKE:
		conn_tls_handshake(c);
		break;
	case CONN_WRITING:
		if (conn_write(c) == -1)
			break;
		if ((what & EV_READ) && c->state != CONN_CLOSED)
			conn_read(c);
		break;
	case CONN_READING:
	case CONN_IDLE:
		conn_read(c);
		break;
	case CONN_CLOSED:
		break;
	}
}

/* The deadline of a connect, handshake or request has passed. */
static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*c = arg;

	if (c->state == CONN_IDLE || c->state == CONN_CLOSED)
		return;
	conn_fail(c, STATS_ERROR_TIMEOUT);
}

/* Sends the assigned request, opening the connection first if needed. */
static void
conn_go(struct conn *c)
{
	c->has_request = 1;
	if (c->state == CONN_CLOSED)
		conn_open(c);
	else
		conn_send(c);
}

/* Open loop. */

static int64_t
due_time(const struct engine *eng, uint64_t i)
{
	return eng->t_start + (int64_t)llround((double)i * eng->interval_ns);
}

/* Assigns the next due request to a connection and sends it. */
static void
send_due(struct engine *eng, struct conn *c, int64_t now)
{
	c->t_intended = due_time(eng, eng->next_due);
	eng->next_due++;
	eng->res->attempted++;
	if (now < eng->t_window_end)
		eng->res->sent_on_schedule++;
	conn_go(c);
}

/* Arms the tick for the next due request, or for the drain deadline
 * while due requests wait for a free connection. */
static void
arm_tick(struct engine *eng, int64_t now)
{
	struct timeval	tv;
	int64_t		at, wait;

	if (eng->next_due >= eng->res->scheduled)
		return;
	at = due_time(eng, eng->next_due);
	if (at <= now)
		at = eng->t_drain_end;
	wait = at > now ? at - now : 0;
	tv.tv_sec = (time_t)(wait / CLOCK_NS_PER_S);
	tv.tv_usec = (suseconds_t)((wait % CLOCK_NS_PER_S) / CLOCK_NS_PER_US);
	(void)evtimer_add(eng->ev_tick, &tv);
}

/* Gives up on requests still unsent at the drain deadline. */
static void
drain_stop(struct engine *eng)
{
	eng->res->not_sent = eng->res->scheduled - eng->next_due;
	eng->res->scheduled = eng->next_due;
	check_done(eng);
}

/* Sends every request that is due on free connections. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine	*eng = arg;
	int64_t		 now = clock_now_ns();

	if (eng->phase != PHASE_MEASURE)
		return;
	if (now >= eng->t_drain_end) {
		drain_stop(eng);
		return;
	}
	while (eng->next_due < eng->res->scheduled &&
	    due_time(eng, eng->next_due) <= now && eng->nidle > 0)
		send_due(eng, eng->idle[--eng->nidle], now);
	arm_tick(eng, now);
}

/* Hands a free connection its next request, or parks it. */
static void
engine_next(struct conn *c)
{
	struct engine		*eng = c->eng;
	struct warm_result	*res = eng->res;
	int64_t			 now;

	if (eng->phase == PHASE_WARMUP) {
		if (!c->warmed) {
			c->is_warmup = 1;
			conn_go(c);
		}
		return;
	}
	if (eng->phase != PHASE_MEASURE)
		return;
	if (!res->open_loop) {
		if (eng->issued >= res->count)
			return;
		eng->issued++;
		res->attempted++;
		conn_go(c);
		return;
	}
	now = clock_now_ns();
	if (eng->next_due < res->scheduled && now < eng->t_drain_end &&
	    due_time(eng, eng->next_due) <= now) {
		/* It fell due while every connection was busy. */
		res->connections_exhausted++;
		send_due(eng, c, now);
		return;
	}
	eng->idle[eng->nidle++] = c;
	/* While due requests waited for a connection, the tick was armed
	 * for the drain deadline; now that they are sent, it must wait for
	 * the next due time instead. */
	arm_tick(eng, now);
}

/* Ends the warm-up: every connection has had its first request. */
static void
start_measure(struct engine *eng)
{
	struct warm_result	*res = eng->res;
	unsigned		 i;

	eng->phase = PHASE_MEASURE;
	eng->t_start = clock_now_ns();
	eng->t_last = eng->t_start;
	if (res->open_loop) {
		eng->t_window_end = eng->t_start + eng->cfg->duration_ns;
		eng->t_drain_end = eng->t_window_end + eng->cfg->timeout_ns;
		for (i = 0; i < res->concurrency; i++)
			eng->idle[eng->nidle++] = &eng->conns[i];
		event_active(eng->ev_tick, EV_TIMEOUT, 1);
		return;
	}
	for (i = 0; i < res->concurrency; i++)
		engine_next(&eng->conns[i]);
}

/* Setup and teardown. */

static int
on_headers_complete(http_parser *p)
{
	struct conn	*c = p->data;

	/* A response to HEAD has no body, and returning 1 skips it. */
	return c->eng->head ? 1 : 0;
}

/* Takes the completion timestamp and pauses the parser, so that bytes
 * after the response are not read as another one. */
static int
on_message_complete(http_parser *p)
{
	struct conn	*c = p->data;

	/* An interim 1xx response is followed by the real one. */
	if (p->status_code >= 100 && p->status_code < 200 &&
	    p->status_code != 101)
		return 0;
	c->t_done = clock_now_ns();
	c->complete = 1;
	c->keep_alive = http_should_keep_alive(p);
	http_parser_pause(p, 1);
	return 0;
}

static int
check_config(const struct warm_config *cfg, struct warm_result *res)
{
	const char	*why = NULL;

	if (cfg->host == NULL || cfg->port == NULL)
		why = "host and port are required";
	else if (cfg->request == NULL || cfg->request_len == 0)
		why = "the request is empty";
	else if (cfg->concurrency < 1 ||
	    cfg->concurrency > WARM_MAX_CONCURRENCY)
		why = "concurrency must be between 1 and 10000";
	else if (cfg->rate_rps > 0 && (cfg->duration_ns <= 0 ||
	    !isfinite(cfg->rate_rps) || cfg->rate_rps > 1e7))
		why = "an open-loop run needs a rate up to 1e7/s and a "
		    "positive duration";
	else if (cfg->rate_rps <= 0 && cfg->count < 1)
		why = "a closed-loop run needs a request count of at least 1";
	else if (cfg->expect_status < 100 || cfg->expect_status > 599)
		why = "the expected status must be between 100 and 599";
	if (why == NULL)
		return 0;
	(void)snprintf(res->error, sizeof(res->error), "%s", why);
	return -1;
}

/* Allocates every sample store before the run, sized to it. */
static int
init_samples(const struct warm_config *cfg, struct warm_result *res)
{
	uint64_t	n = res->open_loop ? res->scheduled : res->count;
	int64_t		timeout = cfg->timeout_ns;

	if (stats_samples_init(&res->latency, n) == -1 ||
	    stats_samples_init(&res->service, res->open_loop ? n : 1) == -1 ||
	    stats_samples_init(&res->send_lag, res->open_loop ? n : 1) == -1 ||
	    stats_samples_init(&res->first, cfg->concurrency) == -1 ||
	    stats_samples_init(&res->connect, 0) == -1) {
		(void)snprintf(res->error, sizeof(res->error),
		    "out of memory for %" PRIu64 " samples", n);
		return -1;
	}
	/* A duration past its deadline is a clock fault, never a sample. */
	stats_samples_set_bound(&res->first, timeout);
	stats_samples_set_bound(&res->connect, timeout);
	stats_samples_set_bound(&res->service, timeout);
	if (res->open_loop) {
		stats_samples_set_bound(&res->latency,
		    cfg->duration_ns + 2 * timeout);
		stats_samples_set_bound(&res->send_lag,
		    cfg->duration_ns + timeout);
	} else
		stats_samples_set_bound(&res->latency, timeout);
	return 0;
}

/* Resolves the target once, before anything is timed. */
static int
resolve(struct engine *eng)
{
	struct addrinfo	 hints, *ai = NULL;
	struct in6_addr	 a6;
	struct in_addr	 a4;
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(eng->cfg->host, eng->cfg->port, &hints, &ai);
	if (rc != 0 || ai == NULL) {
		(void)snprintf(eng->res->error, sizeof(eng->res->error),
		    "cannot resolve %.100s port %.8s: %s", eng->cfg->host,
		    eng->cfg->port, gai_strerror(rc));
		stats_errors_add(&eng->res->errors, STATS_ERROR_DNS, 0);
		return -1;
	}
	memcpy(&eng->addr, ai->ai_addr, ai->ai_addrlen);
	eng->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);

	eng->server_name = eng->cfg->server_name != NULL ?
	    eng->cfg->server_name : eng->cfg->host;
	eng->server_name_is_ip = inet_pton(AF_INET, eng->server_name,
	    &a4) == 1 || inet_pton(AF_INET6, eng->server_name, &a6) == 1;
	return 0;
}

/* Creates the TLS context: peer verification on, TLS 1.2 at least. */
static int
init_tls(struct engine *eng)
{
	const char	*cafile = eng->cfg->cafile;

	if ((eng->ssl_ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto fail;
	SSL_CTX_set_verify(eng->ssl_ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_min_proto_version(eng->ssl_ctx, TLS1_2_VERSION) != 1)
		goto fail;
	if (cafile != NULL) {
		if (SSL_CTX_load_verify_locations(eng->ssl_ctx, cafile,
		    NULL) != 1)
			goto fail;
	} else if (SSL_CTX_set_default_verify_paths(eng->ssl_ctx) != 1)
		goto fail;
	return 0;
fail:
	(void)snprintf(eng->res->error, sizeof(eng->res->error),
	    "TLS setup failed%s%.200s: %s", cafile != NULL ? " with CA file " :
	    "", cafile != NULL ? cafile : "",
	    ERR_reason_error_string(ERR_get_error()));
	ERR_clear_error();
	return -1;
}

/*
 * Creates the event base and every connection's events. An open loop gets
 * precise timers, so that its sends are not rounded to the millisecond.
 * A closed loop does without, because on epoll they cost a timerfd_settime
 * call per loop turn and its only timers are the request timeouts.
 */
static int
init_loop(struct engine *eng)
{
	struct event_config	*ecfg;
	struct timeval		 tv;
	struct conn		*c;
	unsigned		 i, n = eng->cfg->concurrency;

	if ((ecfg = event_config_new()) == NULL)
		return -1;
	if (eng->cfg->rate_rps > 0)
		(void)event_config_set_flag(ecfg,
		    EVENT_BASE_FLAG_PRECISE_TIMER);
	(void)event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK);
	eng->base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	if (eng->base == NULL)
		return -1;
	tv.tv_sec = (time_t)(eng->cfg->timeout_ns / CLOCK_NS_PER_S);
	tv.tv_usec = (suseconds_t)((eng->cfg->timeout_ns % CLOCK_NS_PER_S) /
	    CLOCK_NS_PER_US);
	/* Every deadline has the same length: a common timeout keeps them
	 * in a list, O(1) per request instead of the heap's O(log n). */
	if ((eng->timeout_tv = event_base_init_common_timeout(eng->base,
	    &tv)) == NULL)
		return -1;
	eng->conns = calloc(n, sizeof(*eng->conns));
	eng->rbufs = malloc((size_t)n * READ_BUF_SIZE);
	eng->idle = calloc(n, sizeof(*eng->idle));
	eng->ev_tick = evtimer_new(eng->base, tick_cb, eng);
	if (eng->conns == NULL || eng->rbufs == NULL || eng->idle == NULL ||
	    eng->ev_tick == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		c = &eng->conns[i];
		c->eng = eng;
		c->fd = -1;
		c->rbuf = eng->rbufs + (size_t)i * READ_BUF_SIZE;
		c->ev_read = event_new(eng->base, -1, EV_READ | EV_PERSIST,
		    conn_io_cb, c);
		c->ev_write = event_new(eng->base, -1, EV_WRITE, conn_io_cb, c);
		c->ev_timer = evtimer_new(eng->base, conn_timer_cb, c);
		c->ev_next = event_new(eng->base, -1, 0, conn_next_cb, c);
		if (c->ev_read == NULL || c->ev_write == NULL ||
		    c->ev_timer == NULL || c->ev_next == NULL)
			return -1;
	}
	eng->settings.on_headers_complete = on_headers_complete;
	eng->settings.on_message_complete = on_message_complete;
	return 0;
}

/* Ends the loop when the caller's stop flag is set; the run then ends
 * unfinished, and its partial statistics are not reported. The check is
 * armed again only while other events wait, so that it never keeps alive
 * a loop that has nothing else to do. */
static void
stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine	*eng = arg;
	struct timeval	 poll = { 0, STOP_POLL_US };

	(void)fd, (void)what;
	if (*eng->cfg->stop)
		(void)event_base_loopbreak(eng->base);
	else if (event_base_get_num_events(eng->base,
	    EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE) > 0)
		(void)evtimer_add(eng->ev_stop, &poll);
}

/* Takes the caller's new request, if any, for the requests sent from now
 * on; armed again on the same terms as the stop check. */
static void
refresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine	*eng = arg;
	const struct warm_config *cfg = eng->cfg;
	struct timeval	 tv;
	const char	*req = NULL;
	size_t		 len = 0;

	(void)fd, (void)what;
	if (cfg->refresh(cfg->refresh_arg, &req, &len) == 0 && req != NULL &&
	    len > 0) {
		eng->request = req;
		eng->request_len = len;
	}
	if (event_base_get_num_events(eng->base, EVENT_BASE_COUNT_ADDED |
	    EVENT_BASE_COUNT_ACTIVE) > 0) {
		tv.tv_sec = (time_t)(cfg->refresh_ns / CLOCK_NS_PER_S);
		tv.tv_usec = (suseconds_t)((cfg->refresh_ns % CLOCK_NS_PER_S) /
		    CLOCK_NS_PER_US);
		(void)evtimer_add(eng->ev_refresh, &tv);
	}
}

static void
engine_free(struct engine *eng)
{
	unsigned	i;

	for (i = 0; eng->conns != NULL && i < eng->cfg->concurrency; i++) {
		conn_close(&eng->conns[i]);
		if (eng->conns[i].ev_read != NULL)
			event_free(eng->conns[i].ev_read);
		if (eng->conns[i].ev_write != NULL)
			event_free(eng->conns[i].ev_write);
		if (eng->conns[i].ev_timer != NULL)
			event_free(eng->conns[i].ev_timer);
		if (eng->conns[i].ev_next != NULL)
			event_free(eng->conns[i].ev_next);
	}
	if (eng->ev_tick != NULL)
		event_free(eng->ev_tick);
	if (eng->ev_stop != NULL)
		event_free(eng->ev_stop);
	if (eng->ev_refresh != NULL)
		event_free(eng->ev_refresh);
	free(eng->idle);
	free(eng->rbufs);
	free(eng->conns);
	if (eng->base != NULL)
		event_base_free(eng->base);
	if (eng->ssl_ctx != NULL)
		SSL_CTX_free(eng->ssl_ctx);
}

/* Sets the result's shape from the configuration. */
static void
init_result(const struct warm_config *cfg, struct warm_result *res)
{
	memset(res, 0, sizeof(*res));
	res->concurrency = cfg->concurrency;
	res->open_loop = cfg->rate_rps > 0;
	if (res->open_loop) {
		res->target_rps = cfg->rate_rps;
		res->scheduled = (uint64_t)floor(cfg->rate_rps *
		    (double)cfg->duration_ns / 1e9);
		if (res->scheduled == 0)
			res->scheduled = 1;
		res->count = res->scheduled;
	} else
		res->count = cfg->count;
}

/* Sets the figures derived after the loop: interval and open-loop lag. */
static void
finish_result(struct engine *eng)
{
	struct warm_result	*res = eng->res;
	struct stats_summary	 lag;

	res->duration_ns = eng->t_last - eng->t_start;
	if (!res->open_loop)
		return;
	if (res->not_sent > 0)
		res->fell_behind = 1;
	if (stats_summarize(&res->send_lag, &lag) == 0 && lag.count > 0 &&
	    stats_summary_percentile(&lag, STATS_PCT(99)) >
	    WARM_FELL_BEHIND_NS)
		res->fell_behind = 1;
}

/*
 * Runs one warm measurement to completion. Returns 0 when the run took
 * place, even if every request failed, and -1 when it could not start
 * (invalid configuration, unresolvable host, TLS setup, memory), with the
 * reason in res->error. The caller frees res with warm_result_free().
 */
int
warm_run(const struct warm_config *cfg, struct warm_result *res)
{
	struct warm_config	 local = *cfg;
	struct engine		 eng;
	unsigned		 i;
	int			 ret = -1;

	if (local.timeout_ns <= 0)
		local.timeout_ns = WARM_TIMEOUT_DEFAULT_NS;
	init_result(&local, res);
	memset(&eng, 0, sizeof(eng));
	eng.cfg = &local;
	eng.res = res;
	if (check_config(&local, res) == -1 ||
	    init_samples(&local, res) == -1 || resolve(&eng) == -1)
		goto done;
	if (local.tls && init_tls(&eng) == -1)
		goto done;
	if (init_loop(&eng) == -1) {
		(void)snprintf(res->error, sizeof(res->error),
		    "event loop setup failed for %u connections",
		    local.concurrency);
		goto done;
	}
	eng.head = local.request_len >= 5 &&
	    memcmp(local.request, "HEAD ", 5) == 0;
	eng.request = local.request;
	eng.request_len = local.request_len;
	if (res->open_loop)
		eng.interval_ns = 1e9 / local.rate_rps;

	eng.phase = PHASE_WARMUP;
	eng.warm_pending = local.concurrency;
	for (i = 0; i < local.concurrency; i++)
		engine_next(&eng.conns[i]);
	if (local.stop != NULL) {
		struct timeval	poll = { 0, STOP_POLL_US };

		eng.ev_stop = evtimer_new(eng.base, stop_cb, &eng);
		if (eng.ev_stop == NULL || evtimer_add(eng.ev_stop, &poll) ==
		    -1) {
			(void)snprintf(res->error, sizeof(res->error),
			    "event loop setup failed for the stop check");
			goto done;
		}
	}
	if (local.refresh != NULL && local.refresh_ns > 0) {
		struct timeval	tv;

		tv.tv_sec = (time_t)(local.refresh_ns / CLOCK_NS_PER_S);
		tv.tv_usec = (suseconds_t)((local.refresh_ns % CLOCK_NS_PER_S) /
		    CLOCK_NS_PER_US);
		eng.ev_refresh = evtimer_new(eng.base, refresh_cb, &eng);
		if (eng.ev_refresh == NULL || evtimer_add(eng.ev_refresh,
		    &tv) == -1) {
			(void)snprintf(res->error, sizeof(res->error),
			    "event loop setup failed for the request refresh");
			goto done;
		}
	}
	(void)event_base_dispatch(eng.base);
	if (eng.phase != PHASE_DONE) {
		(void)snprintf(res->error, sizeof(res->error), "%s",
		    local.stop != NULL && *local.stop ? "stopped before the "
		    "run finished" : "event loop ended before the run "
		    "finished");
		goto done;
	}
	finish_result(&eng);
	ret = 0;
done:
	engine_free(&eng);
	return ret;
}

void
warm_result_free(struct warm_result *res)
{
	stats_samples_free(&res->latency);
	stats_samples_free(&res->service);
	stats_samples_free(&res->send_lag);
	stats_samples_free(&res->first);
	stats_samples_free(&res->connect);
}

/* JSON. */

static json_t *
rate_json(double v)
{
	if (v < 0 || !isfinite(v))
		return json_null();
	return json_real(round(v * 1000) / 1000);
}

static json_t *
open_loop_json(const struct warm_result *res)
{
	double	window_s;

	if (!res->open_loop)
		return json_null();
	window_s = res->target_rps > 0 ?
	    (double)(res->scheduled + res->not_sent) / res->target_rps : 0;
	return json_pack("{s:o s:o s:I s:I s:I s:I s:o s:b s:o s:o s:s}",
	    "target_rps", rate_json(res->target_rps),
	    "achieved_send_rps", rate_json(window_s > 0 ?
	    (double)res->sent_on_schedule / window_s : -1),
	    "scheduled", (json_int_t)(res->scheduled + res->not_sent),
	    "sent_on_schedule", (json_int_t)res->sent_on_schedule,
	    "not_sent", (json_int_t)res->not_sent,
	    "connections_exhausted", (json_int_t)res->connections_exhausted,
	    "send_lag_ms", stats_samples_to_json(&res->send_lag),
	    "fell_behind", res->fell_behind,
	    "fell_behind_threshold_ms",
	    stats_ms_json((double)WARM_FELL_BEHIND_NS),
	    "service_time_statistics", stats_samples_to_json(&res->service),
	    "service_time_basis", "actual send time to completion");
}

/* Builds the warm-request report. statistics covers successful measured
 * requests only; errors, warm-up and connections are reported apart. */
json_t *
warm_result_to_json(const struct warm_result *res)
{
	uint64_t	failed = res->attempted - res->succeeded;

	return json_pack("{s:s s:I s:I s:I s:I s:I s:o s:o s:I s:o s:o s:s"
	    " s:o s:{s:I s:I s:o s:o} s:{s:I s:o s:I s:I s:o} s:I s:o}",
	    "mode", res->open_loop ? "open_loop" : "closed_loop",
	    "count", (json_int_t)res->count,
	    "concurrency", (json_int_t)res->concurrency,
	    "attempted", (json_int_t)res->attempted,
	    "succeeded", (json_int_t)res->succeeded,
	    "failed", (json_int_t)failed,
	    "error_rate", rate_json(stats_error_rate(failed, res->attempted)),
	    "throughput_rps", rate_json(stats_throughput_rps(res->succeeded,
	    res->duration_ns)),
	    "duration_ns", (json_int_t)res->duration_ns,
	    "duration_ms", stats_ms_json((double)res->duration_ns),
	    "statistics", stats_samples_to_json(&res->latency),
	    "latency_basis", res->open_loop ?
	    "intended send time to completion (coordinated omission "
	    "corrected)" : "send to completion",
	    "errors", stats_errors_to_json(&res->errors),
	    "warmup",
	    "requests", (json_int_t)(res->first.count + res->warmup_failed),
	    "failed", (json_int_t)res->warmup_failed,
	    "errors", stats_errors_to_json(&res->warmup_errors),
	    "first_request_ms", stats_samples_to_json(&res->first),
	    "connections",
	    "opened", (json_int_t)res->connections_opened,
	    "requests_per_connection", rate_json(res->connections_opened > 0 ?
	    (double)(res->attempted + res->first.count + res->warmup_failed) /
	    (double)res->connections_opened : -1),
	    "tcp_nodelay_verified", (json_int_t)res->nodelay_verified,
	    "quick_acks", (json_int_t)res->quick_acks,
	    "connect_ms", stats_samples_to_json(&res->connect),
	    "response_bytes", (json_int_t)res->response_bytes,
	    "open_loop", open_loop_json(res));
}

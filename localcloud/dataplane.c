/*
 * The data plane: each service listens on its own port on 127.0.0.1 and
 * forwards connections to instances of its serving revision. Instances are
 * started on demand (scale from zero), added when open connections exceed
 * the revision's concurrency (up to its maximum), and stopped after the idle
 * timeout: SIGTERM, then SIGKILL 10 s later, as Cloud Run does.
 *
 * Concurrency is counted in open connections, not requests, so a keep-alive
 * connection keeps its slot until it closes.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <http_parser.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "log.h"
#include "localcloud.h"
#include "run.h"

extern char **environ;

/* Bytes buffered in one direction before reading from the sender pauses. */
#define DP_BUFFER_MAX		(1024 * 1024)
#define DP_CONNECT_RETRY_MS	5	/* while waiting for an instance */
#define DP_KILL_GRACE_S		10	/* SIGTERM to SIGKILL, as Cloud Run */
#define DP_FLUSH_TIMEOUT_S	30	/* a closing client must read by then */
#define DP_LINGER_S		2	/* for the client to close first */
#define DP_REQUEST_TIMEOUT_S	30	/* for a failed connection's request */
#define DP_LINGER_READS		16	/* reads per wakeup while lingering */
#define DP_DETAIL_MAX		512	/* of an error response's body */
#define DP_REQ_QUEUE		8	/* pipelined requests tracked */
#define DP_URL_MAX		512
#define DP_AGENT_MAX		256

enum dp_instance_state {
	DP_STARTING,		/* forked, not listening yet */
	DP_READY,
	DP_STOPPING,		/* SIGTERM or SIGKILL sent */
};

struct dp_instance {
	TAILQ_ENTRY(dp_instance) entry;
	struct dp_conn_list	 conns;		/* attached connections */
	struct dp_state		*dp;
	struct run_service	*svc;	/* NULL once the service is gone */
	struct run_revision	*rev;
	char			*service_name;
	char			 id[RUN_INSTANCE_ID_LEN + 1];
	pid_t			 pid;
	uint16_t		 port;
	enum dp_instance_state	 state;
	unsigned int		 nconns;
	int			 retiring;	/* stop when idle */
	struct timespec		 started;	/* CLOCK_MONOTONIC */
	struct timespec		 last_active;	/* a connection left */
	struct timespec		 deadline;	/* startup, CLOCK_MONOTONIC */
	struct event		*timer;
	struct event		*connect_ev;	/* probe connect in progress */
	evutil_socket_t		 connect_fd;
	dp_probe_cb		 probe_cb;
	void			*probe_arg;
};

/* One request seen on a connection, until its response completes. */
struct dp_req {
	struct timespec	wall;
	struct timespec	mono;
	char		method[16];
	char		protocol[24];
	char		url[DP_URL_MAX];
	char		user_agent[DP_AGENT_MAX];
	uint64_t	size;
};

struct dp_conn {
	TAILQ_ENTRY(dp_conn)	 entry;		/* in the service's list */
	TAILQ_ENTRY(dp_conn)	 ientry;	/* in the instance's list */
	struct dp_state		*dp;
	struct run_service	*svc;
	struct dp_instance	*inst;
	char			 instance_id[RUN_INSTANCE_ID_LEN + 1];
	char			 revision[128];
	struct bufferevent	*client;
	struct bufferevent	*upstream;
	int			 connected;	/* upstream connected */
	int			 closing;	/* flushing to the client */
	int			 unparsed_logged;
	int			 client_eof;
	int			 upstream_shut;	/* SHUT_WR sent upstream */
	int			 client_paused;	/* reading stopped: back-pressure */
	int			 upstream_paused;
	char			 remote_ip[INET6_ADDRSTRLEN];
	uint64_t		 bytes_in;	/* client to instance */
	uint64_t		 bytes_out;	/* instance to client */
	uint64_t		 resp_bytes;	/* of the response under way */
	struct timespec		 accepted_wall;
	struct timespec		 accepted_mono;

	/* The error response sent once the request is read, if status > 0. */
	int			 fail_status;
	const char		*fail_reason;
	char			 fail_detail[DP_DETAIL_MAX];

	/* Reads and discards after the response, until the client closes. */
	struct event		*linger;
	struct timespec		 linger_start;

	/* HTTP/1 tracking for request logs; off for other protocols. */
	int			 parse;
	http_parser		 req_parser;
	http_parser		 resp_parser;
	struct dp_req		 reqs[DP_REQ_QUEUE];
	unsigned int		 req_head, req_count;
	struct dp_req		*req_cur;	/* being parsed */
	char			 header[16];	/* current header name */
	int			 header_is_agent;
	int			 last_was_value;
	int			 resp_status;
	uint64_t		 req_fed;	/* bytes parsed, client side */
	uint64_t		 req_end;	/* where the last request ended */
	uint64_t		 resp_fed;
	uint64_t		 resp_end;
};

struct dp_state {
	struct lc		*lc;
	struct event		*sigchld;
	struct dp_instance_list	 orphans;	/* of deleted services */
	cpu_set_t		 cpus;		/* where instances may run */
	int			 ncpus;
	unsigned int		 next_cpu;
	char			 log_dir[LC_PATH_MAX];
};

static void	conn_free(struct dp_conn *);
static void	conn_pump(struct dp_conn *, int to_upstream);
static void	conn_connect(struct dp_conn *, evutil_socket_t fd);
static void	instance_stop(struct dp_instance *, int sig);
static void	instance_try_connect(struct dp_instance *);

static void
mono_now(struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
}

static uint64_t
elapsed_us(const struct timespec *since)
{
	struct timespec now;

	mono_now(&now);
	return (uint64_t)(now.tv_sec - since->tv_sec) * 1000000 +
	    (uint64_t)((now.tv_nsec - since->tv_nsec) / 1000);
}

static void
set_nodelay(evutil_socket_t fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1)
		log_warn("TCP_NODELAY");
}

/* Finds a free port on 127.0.0.1 for an instance. Another program may take
 * it before the instance binds; the instance then fails to start and the
 * next connection starts another. */
static int
free_port(uint16_t *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return -1;
	}
	close(fd);
	*port = ntohs(sin.sin_port);
	return 0;
}

/* ---- request logs ---- */

/* Sends one request log entry to the Logging module. */
static void
conn_log(struct dp_conn *c, const struct dp_req *r, int status,
    uint64_t req_size, uint64_t resp_size, uint64_t latency_us)
{
	struct log_request e;
	char url[DP_URL_MAX + 64];
	struct run_service *svc = c->svc;

	if (svc == NULL)
		return;
	memset(&e, 0, sizeof(e));
	e.time = r != NULL ? r->wall : c->accepted_wall;
	e.project = svc->project;
	e.location = svc->location;
	e.service = svc->id;
	e.revision = c->revision;
	e.instance_id = c->instance_id;
	e.remote_ip = c->remote_ip;
	e.status = status;
	e.request_size = req_size;
	e.response_size = resp_size;
	e.latency_us = latency_us;
	if (r != NULL) {
		snprintf(url, sizeof(url), "%s://127.0.0.1:%u%s",
		    svc->lc->tls ? "https" : "http", svc->port, r->url);
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

	/* Deeper pipelining than tracked: the error stops parsing. */
	if (c->req_count == DP_REQ_QUEUE)
		return -1;
	r = &c->reqs[(c->req_head + c->req_count) % DP_REQ_QUEUE];
	memset(r, 0, sizeof(*r));
	clock_gettime(CLOCK_REALTIME, &r->wall);
	mono_now(&r->mono);
	c->req_count++;
	c->req_cur = r;
	c->last_was_value = 0;
	c->header[0] = '\0';
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

	if (c->last_was_value) {
		c->header[0] = '\0';
		c->last_was_value = 0;
	}
	append(c->header, sizeof(c->header), at, len);
	return 0;
}

static int
on_req_header_value(http_parser *p, const char *at, size_t len)
{
	struct dp_conn *c = p->data;

	if (!c->last_was_value)
		c->header_is_agent = strcasecmp(c->header, "user-agent") == 0;
	c->last_was_value = 1;
	if (c->header_is_agent && c->req_cur != NULL)
		append(c->req_cur->user_agent, sizeof(c->req_cur->user_agent),
		    at, len);
	return 0;
}

static int
on_req_headers_complete(http_parser *p)
{
	struct dp_conn *c = p->data;
	struct dp_req *r = c->req_cur;

	if (r == NULL)
		return 0;
	snprintf(r->method, sizeof(r->method), "%s",
	    http_method_str((enum http_method)p->method));
	snprintf(r->protocol, sizeof(r->protocol), "HTTP/%u.%u",
	    p->http_major, p->http_minor);
	return 0;
}

/* Both message_complete callbacks pause the parser, so that the caller
 * learns the exact end of the message in the byte stream. */
static int
on_message_complete(http_parser *p)
{
	http_parser_pause(p, 1);
	return 0;
}

static int
on_resp_headers_complete(http_parser *p)
{
	struct dp_conn *c = p->data;
	const struct dp_req *r;

	c->resp_status = p->status_code;

	/* A response to HEAD has headers only; 1 tells the parser so. */
	if (c->req_count > 0) {
		r = &c->reqs[c->req_head];
		if (strcmp(r->method, "HEAD") == 0)
			return 1;
	}
	return 0;
}

/* A request ended at byte req_fed of the client's stream. */
static void
req_finished(struct dp_conn *c)
{
	if (c->req_cur != NULL)
		c->req_cur->size = c->req_fed - c->req_end;
	c->req_end = c->req_fed;
	c->req_cur = NULL;
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
	conn_log(c, r, c->resp_status, r->size, size, elapsed_us(&r->mono));
	c->req_head = (c->req_head + 1) % DP_REQ_QUEUE;
	c->req_count--;
}

static const http_parser_settings req_settings = {
	.on_message_begin = on_req_begin,
	.on_url = on_req_url,
	.on_header_field = on_req_header_field,
	.on_header_value = on_req_header_value,
	.on_headers_complete = on_req_headers_complete,
	.on_message_complete = on_message_complete,
};

static const http_parser_settings resp_settings = {
	.on_headers_complete = on_resp_headers_complete,
	.on_message_complete = on_message_complete,
};

/* Runs one parser over data, handling each message end on the way. An
 * upgrade (WebSocket) or bytes that are not HTTP/1 stop parsing for good. */
static void
conn_parse_bytes(struct dp_conn *c, int request, const char *data,
    size_t left)
{
	http_parser *p = request ? &c->req_parser : &c->resp_parser;
	const http_parser_settings *s = request ? &req_settings :
	    &resp_settings;
	size_t done;

	do {
		done = http_parser_execute(p, s, data, left);
		data += done;
		left -= done;
		if (request)
			c->req_fed += done;
		else
			c->resp_fed += done;
		if (HTTP_PARSER_ERRNO(p) == HPE_PAUSED) {
			http_parser_pause(p, 0);
			if (request)
				req_finished(c);
			else
				resp_finished(c);
			continue;
		}
		if (p->upgrade) {
			c->parse = 0;
			return;
		}
		if (HTTP_PARSER_ERRNO(p) != HPE_OK || (left > 0 && done == 0)) {
			log_debug("service %s: connection is not HTTP/1 (%s); "
			    "forwarding bytes only", c->svc ? c->svc->name :
			    "?", http_errno_name(HTTP_PARSER_ERRNO(p)));
			c->parse = 0;
			return;
		}
	} while (left > 0);
}

/* Feeds the first len bytes of buf to the request or response parser. */
static void
conn_parse(struct dp_conn *c, struct evbuffer *buf, size_t len, int request)
{
	struct evbuffer_iovec vec[16];
	struct evbuffer_ptr pos;
	int i, n;
	size_t chunk;

	/* Sixteen segments at a time, however fragmented the buffer. */
	if (evbuffer_ptr_set(buf, &pos, 0, EVBUFFER_PTR_SET) == -1)
		return;
	while (len > 0 && c->parse) {
		n = evbuffer_peek(buf, (ev_ssize_t)len, &pos, vec, 16);
		if (n <= 0)
			break;
		if (n > 16)
			n = 16;
		for (i = 0; i < n && c->parse && len > 0; i++) {
			chunk = vec[i].iov_len < len ? vec[i].iov_len : len;
			conn_parse_bytes(c, request, vec[i].iov_base, chunk);
			len -= chunk;
			if (evbuffer_ptr_set(buf, &pos, chunk,
			    EVBUFFER_PTR_ADD) == -1)
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

/* ---- connections ---- */

static void
conn_detach(struct dp_conn *c)
{
	struct dp_instance *inst = c->inst;
	struct timeval tv;

	if (inst == NULL)
		return;
	TAILQ_REMOVE(&inst->conns, c, ientry);
	c->inst = NULL;
	inst->nconns--;
	mono_now(&inst->last_active);
	if (inst->nconns > 0 || inst->state != DP_READY)
		return;
	if (inst->retiring || inst->svc == NULL) {
		instance_stop(inst, SIGTERM);
		return;
	}
	tv.tv_sec = inst->dp->lc->idle_timeout;
	tv.tv_usec = 0;
	evtimer_add(inst->timer, &tv);
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
	    elapsed_us(&c->accepted_mono));
}

static void
conn_free(struct dp_conn *c)
{
	conn_log_unparsed(c);
	conn_detach(c);
	if (c->svc != NULL)
		TAILQ_REMOVE(&c->svc->conns, c, entry);
	if (c->linger != NULL)
		event_free(c->linger);
	if (c->client != NULL)
		bufferevent_free(c->client);
	if (c->upstream != NULL)
		bufferevent_free(c->upstream);
	free(c);
}

/* Reads and discards what a closing client still sends, and frees the
 * connection at its end of file, on an error, or after DP_LINGER_S. */
static void
on_linger(evutil_socket_t fd, short events, void *arg)
{
	struct dp_conn *c = arg;
	char discard[4096];
	struct timeval tv;
	uint64_t spent;
	ssize_t n;
	int i;

	if (events & EV_TIMEOUT) {
		conn_free(c);
		return;
	}
	for (i = 0; i < DP_LINGER_READS; i++) {
		n = read(fd, discard, sizeof(discard));
		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			break;
		conn_free(c);
		return;
	}

	/* DP_LINGER_S bounds the whole linger, not the wait for each read,
	 * so that a client that keeps sending cannot hold the socket. */
	spent = elapsed_us(&c->linger_start);
	if (spent >= DP_LINGER_S * 1000000ULL) {
		conn_free(c);
		return;
	}
	tv.tv_sec = (time_t)((DP_LINGER_S * 1000000ULL - spent) / 1000000);
	tv.tv_usec = (suseconds_t)((DP_LINGER_S * 1000000ULL - spent) %
	    1000000);
	if (event_add(c->linger, &tv) == -1)
		conn_free(c);
}

/*
 * Ends a connection whose response has been sent: sends the TLS
 * close_notify and a FIN, then reads until the client closes (a lingering
 * close). Closing a socket with unread bytes makes the kernel send a
 * reset, and a client that receives it may drop the response it has not
 * read yet.
 */
static void
conn_linger(struct dp_conn *c)
{
	struct timeval tv = { DP_LINGER_S, 0 };
	evutil_socket_t fd = bufferevent_getfd(c->client);
	SSL *ssl = bufferevent_openssl_get_ssl(c->client);

	bufferevent_disable(c->client, EV_READ | EV_WRITE);
	bufferevent_setcb(c->client, NULL, NULL, NULL, NULL);
	bufferevent_set_timeouts(c->client, NULL, NULL);

	/* With the TLS handshake unfinished, no response has been sent, and
	 * libevent's handshake events cannot be disabled to linger. */
	if (fd == -1 || (ssl != NULL && !SSL_is_init_finished(ssl))) {
		conn_free(c);
		return;
	}
	if (ssl != NULL) {
		/* Sends close_notify without waiting for the client's. */
		(void)SSL_shutdown(ssl);
		ERR_clear_error();
	}
	if (shutdown(fd, SHUT_WR) == -1) {
		conn_free(c);
		return;
	}
	mono_now(&c->linger_start);
	c->linger = event_new(c->dp->lc->base, fd, EV_READ, on_linger, c);
	if (c->linger == NULL || event_add(c->linger, &tv) == -1)
		conn_free(c);
}

/* Discards what the client sends while its last response is flushed, so
 * that a client blocked in sending still gets to read. */
static void
on_close_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
on_close_write(struct bufferevent *bev, void *arg)
{
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		conn_linger(arg);
}

/*
 * Keeps flushing through the end of the TLS handshake, which can come
 * after the response was queued, and through a client's half-close, after
 * which the openssl bufferevent stops writing until it is enabled again.
 * Frees the connection on errors and on the flush timeout.
 */
static void
on_close_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
		bufferevent_enable(bev, EV_WRITE);
		return;
	}
	conn_free(arg);
}

/* Stops forwarding, sends the client what is queued for it, then closes
 * its connection with conn_linger. */
static void
conn_close(struct dp_conn *c)
{
	struct timeval tv = { DP_FLUSH_TIMEOUT_S, 0 };

	if (c->upstream != NULL) {
		bufferevent_free(c->upstream);
		c->upstream = NULL;
	}
	conn_detach(c);
	conn_log_unparsed(c);
	if (c->client == NULL) {
		conn_free(c);
		return;
	}
	c->closing = 1;
	bufferevent_setwatermark(c->client, EV_WRITE, 0, 0);
	bufferevent_setcb(c->client, on_close_read, on_close_write,
	    on_close_event, c);
	bufferevent_set_timeouts(c->client, NULL, &tv);
	bufferevent_enable(c->client, EV_WRITE);
	if (!c->client_eof)
		bufferevent_enable(c->client, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->client)) == 0)
		conn_linger(c);
}

/* Sends the error that conn_fail stored as the whole response, logs it
 * with the oldest request waiting, and closes. */
static void
conn_send_failure(struct dp_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->client);
	const struct dp_req *r = NULL;

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n"
	    "%s\n", c->fail_status, c->fail_reason, strlen(c->fail_detail) + 1,
	    c->fail_detail);
	if (c->req_count > 0)
		r = &c->reqs[c->req_head];
	conn_log(c, r, c->fail_status, r != NULL ? r->size : c->bytes_in, 0,
	    r != NULL ? elapsed_us(&r->mono) : elapsed_us(&c->accepted_mono));
	c->req_count = 0;
	c->resp_status = c->fail_status;
	conn_close(c);
}

/*
 * Parses and discards what a failed connection's client sent, and sends
 * the error once the request is read whole, because sending it earlier
 * would leave request bytes unread. Bytes that are not HTTP/1 and a
 * client's end of file get the error at once.
 */
static void
conn_fail_read(struct dp_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->client);
	size_t len = evbuffer_get_length(in);

	c->bytes_in += len;
	if (c->parse)
		conn_parse(c, in, len, 1);
	evbuffer_drain(in, len);
	if (!c->parse || c->client_eof ||
	    (c->req_count > 0 && c->req_cur == NULL))
		conn_send_failure(c);
}

static void
on_fail_read(struct bufferevent *bev, void *arg)
{
	conn_fail_read(arg);
}

/* A failed connection waiting for its request: the end of the TLS
 * handshake lets the request come, an end of file or the request timeout
 * gets the error sent at once. */
static void
on_fail_event(struct bufferevent *bev, short what, void *arg)
{
	struct dp_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_ERROR) {
		conn_free(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->client_eof = 1;
		conn_fail_read(c);
		return;
	}
	conn_send_failure(c);
}

/*
 * Fails a connection with an HTTP error: drops its instance, sends the
 * error as the response once the request is read, then closes. The first
 * failure of a connection wins.
 */
static void
conn_fail(struct dp_conn *c, int status, const char *reason,
    const char *detail)
{
	struct timeval tv = { DP_REQUEST_TIMEOUT_S, 0 };

	if (c->client == NULL) {
		conn_free(c);
		return;
	}
	if (c->closing || c->fail_status != 0)
		return;
	if (c->upstream != NULL) {
		bufferevent_free(c->upstream);
		c->upstream = NULL;
	}
	conn_detach(c);
	c->fail_status = status;
	c->fail_reason = reason;
	snprintf(c->fail_detail, sizeof(c->fail_detail), "%s", detail);

	bufferevent_setcb(c->client, on_fail_read, NULL, on_fail_event, c);
	bufferevent_setwatermark(c->client, EV_WRITE, 0, 0);
	bufferevent_set_timeouts(c->client, &tv, NULL);
	bufferevent_enable(c->client, EV_WRITE);
	if (!c->client_eof)
		bufferevent_enable(c->client, EV_READ);
	conn_fail_read(c);
}

/* Moves what one side sent to the other, parsing it on the way. */
static void
conn_pump(struct dp_conn *c, int to_upstream)
{
	struct bufferevent *from = to_upstream ? c->client : c->upstream;
	struct bufferevent *to = to_upstream ? c->upstream : c->client;
	struct evbuffer *in, *out;
	size_t len;

	if (from == NULL || to == NULL || (to_upstream && !c->connected))
		return;
	in = bufferevent_get_input(from);
	out = bufferevent_get_output(to);
	len = evbuffer_get_length(in);
	if (len == 0)
		return;
	if (to_upstream)
		c->bytes_in += len;
	else {
		c->bytes_out += len;
		c->resp_bytes += len;
	}
	if (c->parse)
		conn_parse(c, in, len, to_upstream);

	/* With nothing queued, write to a plain socket at once: queueing
	 * would cost an epoll round trip (enable EV_WRITE, wait, write,
	 * disable) per message. What the socket does not take is queued. */
	if (evbuffer_get_length(out) == 0 && (to == c->upstream ||
	    !c->dp->lc->tls))
		(void)evbuffer_write(in, bufferevent_getfd(to));
	if (evbuffer_get_length(in) > 0)
		evbuffer_add_buffer(out, in);

	/* Back-pressure: stop reading until the other side drains. */
	if (evbuffer_get_length(out) >= DP_BUFFER_MAX) {
		bufferevent_disable(from, EV_READ);
		bufferevent_setwatermark(to, EV_WRITE, DP_BUFFER_MAX / 2, 0);
		if (to_upstream)
			c->client_paused = 1;
		else
			c->upstream_paused = 1;
	}
}

static void
on_client_read(struct bufferevent *bev, void *arg)
{
	conn_pump(arg, 1);
}

static void
on_upstream_read(struct bufferevent *bev, void *arg)
{
	conn_pump(arg, 0);
}

/* Resumes reading from the side that was paused, and passes on a client's
 * half-close once everything it sent has reached the instance. */
static void
on_upstream_write(struct bufferevent *bev, void *arg)
{
	struct dp_conn *c = arg;

	if (c->client_paused) {
		c->client_paused = 0;
		if (c->client != NULL && !c->client_eof)
			bufferevent_enable(c->client, EV_READ);
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	}
	if (c->client_eof && !c->upstream_shut &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		c->upstream_shut = 1;
		shutdown(bufferevent_getfd(bev), SHUT_WR);
	}
}

static void
on_client_write(struct bufferevent *bev, void *arg)
{
	struct dp_conn *c = arg;

	if (!c->upstream_paused)
		return;
	c->upstream_paused = 0;
	if (c->upstream != NULL)
		bufferevent_enable(c->upstream, EV_READ);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
}

static void
on_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct dp_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if ((what & BEV_EVENT_ERROR) || !(what & BEV_EVENT_EOF)) {
		conn_free(c);
		return;
	}

	/* EOF while the instance is not connected yet: what the client sent
	 * stays buffered for it, and on_upstream_event passes the half-close
	 * on. A client that sent nothing is done. */
	if (!c->connected) {
		if (evbuffer_get_length(bufferevent_get_input(bev)) == 0) {
			conn_free(c);
			return;
		}
		c->client_eof = 1;
		return;
	}

	/* EOF: with no request waiting for its response, the connection is
	 * done. Otherwise pass the half-close on and wait for the response,
	 * which the openssl bufferevent writes only once enabled again. */
	conn_pump(c, 1);
	if (c->parse && c->req_count == 0) {
		conn_free(c);
		return;
	}
	c->client_eof = 1;
	bufferevent_disable(c->client, EV_READ);
	bufferevent_enable(c->client, EV_WRITE);
	on_upstream_write(c->upstream, c);
}

static void
on_upstream_event(struct bufferevent *bev, short what, void *arg)
{
	struct dp_conn *c = arg;
	char detail[256];

	if (what & BEV_EVENT_CONNECTED) {
		c->connected = 1;
		set_nodelay(bufferevent_getfd(bev));
		bufferevent_enable(bev, EV_READ | EV_WRITE);
		conn_pump(c, 1);
		if (c->client_eof)
			on_upstream_write(bev, c);
		return;
	}
	if (!c->connected) {
		snprintf(detail, sizeof(detail), "localcloud: instance %s of "
		    "service %s refused the connection.", c->instance_id,
		    c->svc != NULL ? c->svc->id : "?");
		conn_fail(c, 502, "Bad Gateway", detail);
		return;
	}

	/* The instance closed or reset: end the response it was sending,
	 * or reply 502 when a request got no byte of response. */
	conn_pump(c, 0);
	if (what & BEV_EVENT_EOF)
		conn_parse_eof(c);
	if (c->parse && c->req_count > 0 && c->resp_bytes == 0) {
		snprintf(detail, sizeof(detail), "localcloud: instance %s of "
		    "service %s closed the connection without a response.",
		    c->instance_id, c->svc != NULL ? c->svc->id : "?");
		conn_fail(c, 502, "Bad Gateway", detail);
		return;
	}
	conn_close(c);
}

/* Connects c to its instance; fd is an already connected socket or -1. */
static void
conn_connect(struct dp_conn *c, evutil_socket_t fd)
{
	struct event_base *base = c->dp->lc->base;
	struct sockaddr_in sin;

	c->upstream = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->upstream == NULL) {
		if (fd != -1)
			close(fd);
		conn_fail(c, 503, "Service Unavailable",
		    "localcloud: out of memory.");
		return;
	}
	bufferevent_setcb(c->upstream, on_upstream_read, on_upstream_write,
	    on_upstream_event, c);
	bufferevent_setwatermark(c->upstream, EV_READ, 0, DP_BUFFER_MAX);
	if (fd != -1) {
		on_upstream_event(c->upstream, BEV_EVENT_CONNECTED, c);
		return;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(c->inst->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bufferevent_socket_connect(c->upstream, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1)
		on_upstream_event(c->upstream, BEV_EVENT_ERROR, c);
}

/* ---- instances ---- */

/* Builds the environment of an instance: localcloud's own, then the
 * service's variables, then the ones Cloud Run sets, which win. */
static char **
instance_env(const struct dp_instance *inst)
{
	const struct run_revision *rev = inst->rev;
	size_t n = 0, m = 0, i, j, k;
	char **env, *set[4];
	const char *svc_id = inst->svc->id;

	for (i = 0; environ[i] != NULL; i++)
		n++;
	for (i = 0; rev->env[i] != NULL; i++)
		m++;
	if ((env = calloc(n + m + 5, sizeof(*env))) == NULL)
		return NULL;
	memset(set, 0, sizeof(set));
	if (asprintf(&set[0], "PORT=%u", inst->port) == -1 ||
	    asprintf(&set[1], "K_SERVICE=%s", svc_id) == -1 ||
	    asprintf(&set[2], "K_REVISION=%s", rev->name) == -1 ||
	    asprintf(&set[3], "K_CONFIGURATION=%s", svc_id) == -1) {
		for (i = 0; i < 4; i++)
			free(set[i]);
		free(env);
		return NULL;
	}

	/* Strings from environ and rev->env are borrowed, set[] owned. */
	k = 0;
	for (i = 0; i < 4; i++)
		env[k++] = set[i];
	for (i = 0; i < m; i++) {
		size_t len = strcspn(rev->env[i], "=") + 1;

		for (j = 0; j < k; j++)
			if (strncmp(env[j], rev->env[i], len) == 0)
				break;
		if (j == k)
			env[k++] = rev->env[i];
	}
	for (i = 0; i < n; i++) {
		size_t len = strcspn(environ[i], "=") + 1;

		for (j = 0; j < k; j++)
			if (strncmp(env[j], environ[i], len) == 0)
				break;
		if (j == k)
			env[k++] = environ[i];
	}
	env[k] = NULL;
	return env;
}

static void
instance_env_free(char **env)
{
	int i;

	for (i = 0; i < 4; i++)
		free(env[i]);
	free(env);
}

/* Picks the CPUs an instance with rev->cpus CPUs may use, round robin so
 * that instances spread over the host. */
static void
instance_cpus(struct dp_state *dp, const struct run_revision *rev,
    cpu_set_t *set)
{
	unsigned int want = rev->cpus, i, seen;
	int cpu = 0;

	*set = dp->cpus;
	if (want == 0 || (int)want >= dp->ncpus)
		return;
	CPU_ZERO(set);
	for (seen = 0, i = 0; i < want; seen++) {
		cpu = (int)((dp->next_cpu + seen) % CPU_SETSIZE);
		if (seen >= CPU_SETSIZE)
			break;
		if (!CPU_ISSET(cpu, &dp->cpus))
			continue;
		CPU_SET(cpu, set);
		i++;
	}
	dp->next_cpu = (unsigned int)(cpu + 1) % CPU_SETSIZE;
}

/* Runs in the child after fork: limits, descriptors, then exec. Only
 * async-signal-safe calls, since localcloud may be anywhere in malloc. */
static void __attribute__((noreturn))
instance_exec(const struct run_revision *rev, char **env, int log_fd,
    const cpu_set_t *cpus)
{
	struct rlimit rl;
	sigset_t all;
	char *argv[2];
	int null_fd;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	if ((null_fd = open("/dev/null", O_RDONLY)) != -1)
		dup2(null_fd, STDIN_FILENO);
	if (log_fd != -1) {
		dup2(log_fd, STDOUT_FILENO);
		dup2(log_fd, STDERR_FILENO);
	}
	close_range(3, ~0U, 0);
	if (rev->memory_bytes > 0) {
		rl.rlim_cur = rl.rlim_max = rev->memory_bytes;
		if (setrlimit(RLIMIT_DATA, &rl) == -1)
			_exit(126);
	}
	(void)sched_setaffinity(0, sizeof(*cpus), cpus);
	if (chdir(rev->work_dir) == -1)
		_exit(126);
	argv[0] = rev->run_path;
	argv[1] = NULL;
	execve(rev->run_path, argv, env);
	_exit(127);
}

static void
on_instance_timer(evutil_socket_t fd, short events, void *arg);

/* Starts an instance of svc's revision rev; returns NULL on failure. */
static struct dp_instance *
instance_start(struct run_service *svc, struct run_revision *rev)
{
	struct dp_state *dp = svc->lc->dataplane;
	struct dp_instance *inst;
	unsigned char raw[RUN_INSTANCE_ID_LEN / 2];
	char log_path[LC_PATH_MAX], **env = NULL;
	cpu_set_t cpus;
	int log_fd = -1, i;
	struct timeval tv = { 0, 0 };

	if ((inst = calloc(1, sizeof(*inst))) == NULL)
		return NULL;
	TAILQ_INIT(&inst->conns);
	inst->dp = dp;
	inst->svc = svc;
	inst->rev = run_revision_ref(rev);
	inst->connect_fd = -1;
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		fatalx("the OpenSSL random generator failed");
	for (i = 0; i < (int)sizeof(raw); i++)
		snprintf(inst->id + 2 * i, 3, "%02x", raw[i]);
	if ((inst->service_name = strdup(svc->name)) == NULL ||
	    (inst->timer = evtimer_new(svc->lc->base, on_instance_timer,
	    inst)) == NULL || free_port(&inst->port) == -1 ||
	    (env = instance_env(inst)) == NULL)
		goto fail;

	if (snprintf(log_path, sizeof(log_path), "%s/%s.%s.%s.log",
	    dp->log_dir, svc->project, svc->location, svc->id) >=
	    (int)sizeof(log_path))
		log_fd = -1;
	else if ((log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND |
	    O_CLOEXEC, 0600)) == -1)
		log_warn("cannot open %s; the instance output is lost",
		    log_path);
	instance_cpus(dp, rev, &cpus);

	mono_now(&inst->started);
	inst->deadline = inst->started;
	inst->deadline.tv_sec += dp->lc->startup_timeout;
	inst->pid = fork();
	if (inst->pid == -1) {
		log_warn("service %s: cannot fork an instance", svc->name);
		goto fail;
	}
	if (inst->pid == 0)
		instance_exec(rev, env, log_fd, &cpus);
	(void)setpgid(inst->pid, inst->pid);
	if (log_fd != -1)
		close(log_fd);
	instance_env_free(env);

	inst->state = DP_STARTING;
	TAILQ_INSERT_TAIL(&svc->instances, inst, entry);
	log_info("service %s: instance %s started (pid %d, port %u, revision "
	    "%s, cpus %u, memory %llu bytes)", svc->name, inst->id,
	    (int)inst->pid, inst->port, rev->name, rev->cpus,
	    (unsigned long long)rev->memory_bytes);
	evtimer_add(inst->timer, &tv);
	return inst;

fail:
	if (log_fd != -1)
		close(log_fd);
	if (env != NULL)
		instance_env_free(env);
	if (inst->timer != NULL)
		event_free(inst->timer);
	run_revision_unref(inst->rev);
	free(inst->service_name);
	free(inst);
	return NULL;
}

/* Sends sig to the instance's process group; SIGTERM also arms the
 * SIGKILL that follows after the grace period. */
static void
instance_stop(struct dp_instance *inst, int sig)
{
	struct timeval tv = { DP_KILL_GRACE_S, 0 };

	if (inst->pid <= 0)
		return;
	if (sig == SIGTERM && inst->state == DP_STOPPING)
		return;
	if (inst->connect_ev != NULL) {
		event_free(inst->connect_ev);
		inst->connect_ev = NULL;
		close(inst->connect_fd);
		inst->connect_fd = -1;
	}
	log_info("service %s: stopping instance %s (pid %d) with %s",
	    inst->service_name, inst->id, (int)inst->pid,
	    sig == SIGTERM ? "SIGTERM" : "SIGKILL");
	if (kill(-inst->pid, sig) == -1 && errno != ESRCH)
		log_warn("kill %d", (int)inst->pid);
	inst->state = DP_STOPPING;
	evtimer_del(inst->timer);
	if (sig == SIGTERM)
		evtimer_add(inst->timer, &tv);
}

/* The instance listens: fd is a connection to it, or -1. */
static void
instance_ready(struct dp_instance *inst, evutil_socket_t fd)
{
	struct dp_conn *c, *next;
	dp_probe_cb cb = inst->probe_cb;
	struct timeval tv;

	inst->state = DP_READY;
	evtimer_del(inst->timer);
	log_info("service %s: instance %s listening on port %u after %llu ms",
	    inst->service_name, inst->id, inst->port,
	    (unsigned long long)(elapsed_us(&inst->started) / 1000));
	inst->probe_cb = NULL;
	if (cb != NULL)
		cb(inst->probe_arg, 1, NULL, NULL);

	for (c = TAILQ_FIRST(&inst->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, ientry);
		if (c->upstream != NULL)
			continue;
		conn_connect(c, fd);
		fd = -1;
	}
	if (fd != -1)
		close(fd);
	if (inst->nconns == 0) {
		if (inst->retiring || inst->svc == NULL) {
			instance_stop(inst, SIGTERM);
		} else {
			tv.tv_sec = inst->dp->lc->idle_timeout;
			tv.tv_usec = 0;
			evtimer_add(inst->timer, &tv);
		}
	}
}

/* Fails a starting instance: its waiting connections and its probe. */
static void
instance_start_failed(struct dp_instance *inst, int status,
    const char *reason, const char *message)
{
	struct dp_conn *c, *next;
	dp_probe_cb cb = inst->probe_cb;

	inst->probe_cb = NULL;
	for (c = TAILQ_FIRST(&inst->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, ientry);
		if (c->upstream == NULL)
			conn_fail(c, status, status == 502 ? "Bad Gateway" :
			    "Service Unavailable", message);
	}
	if (cb != NULL)
		cb(inst->probe_arg, 0, reason, message);
}

static void
on_connect_done(evutil_socket_t fd, short events, void *arg)
{
	struct dp_instance *inst = arg;
	int err = 0;
	socklen_t len = sizeof(err);
	struct timeval tv = { 0, DP_CONNECT_RETRY_MS * 1000 };

	event_free(inst->connect_ev);
	inst->connect_ev = NULL;
	inst->connect_fd = -1;
	if ((events & EV_WRITE) && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
	    &len) == 0 && err == 0) {
		instance_ready(inst, fd);
		return;
	}
	close(fd);
	evtimer_add(inst->timer, &tv);
}

/* One attempt to connect to a starting instance's port. */
static void
instance_try_connect(struct dp_instance *inst)
{
	struct sockaddr_in sin;
	struct timeval tv = { 0, DP_CONNECT_RETRY_MS * 1000 };
	struct timespec now;
	char msg[512];
	int fd;

	mono_now(&now);
	if (now.tv_sec > inst->deadline.tv_sec ||
	    (now.tv_sec == inst->deadline.tv_sec &&
	    now.tv_nsec >= inst->deadline.tv_nsec)) {
		snprintf(msg, sizeof(msg), "The user-provided container failed "
		    "to start and listen on the port defined by the PORT=%u "
		    "environment variable within %u s.", inst->port,
		    inst->dp->lc->startup_timeout);
		log_warnx("service %s: instance %s: %s", inst->service_name,
		    inst->id, msg);
		instance_stop(inst, SIGKILL);
		instance_start_failed(inst, 503, "HEALTH_CHECK_CONTAINER_ERROR",
		    msg);
		return;
	}

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("socket");
		evtimer_add(inst->timer, &tv);
		return;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(inst->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
		instance_ready(inst, fd);
		return;
	}
	if (errno == EINPROGRESS) {
		struct timeval limit = { 1, 0 };

		inst->connect_ev = event_new(inst->dp->lc->base, fd, EV_WRITE,
		    on_connect_done, inst);
		if (inst->connect_ev != NULL &&
		    event_add(inst->connect_ev, &limit) == 0) {
			inst->connect_fd = fd;
			return;
		}
		if (inst->connect_ev != NULL)
			event_free(inst->connect_ev);
		inst->connect_ev = NULL;
	}
	close(fd);
	evtimer_add(inst->timer, &tv);
}

/* The instance timer: connect retries while starting, the idle timeout
 * when ready, and the SIGKILL after the grace period when stopping. */
static void
on_instance_timer(evutil_socket_t fd, short events, void *arg)
{
	struct dp_instance *inst = arg;

	switch (inst->state) {
	case DP_STARTING:
		instance_try_connect(inst);
		break;
	case DP_READY:
		if (inst->nconns == 0) {
			log_info("service %s: instance %s idle for %u s",
			    inst->service_name, inst->id,
			    inst->dp->lc->idle_timeout);
			instance_stop(inst, SIGTERM);
		}
		break;
	case DP_STOPPING:
		instance_stop(inst, SIGKILL);
		break;
	}
}

static void
instance_free(struct dp_instance *inst)
{
	struct dp_conn *c;

	while ((c = TAILQ_FIRST(&inst->conns)) != NULL) {
		TAILQ_REMOVE(&inst->conns, c, ientry);
		c->inst = NULL;
	}
	if (inst->connect_ev != NULL) {
		event_free(inst->connect_ev);
		close(inst->connect_fd);
	}
	event_free(inst->timer);
	run_revision_unref(inst->rev);
	free(inst->service_name);
	free(inst);
}

/* Handles the exit of one instance's process. */
static void
instance_exited(struct dp_instance *inst, int status)
{
	char how[64], msg[512];
	struct dp_conn *c, *next;

	if (WIFSIGNALED(status))
		snprintf(how, sizeof(how), "was killed by signal %d",
		    WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "exited with status %d",
		    WEXITSTATUS(status));
	if (inst->state == DP_STOPPING)
		log_info("service %s: instance %s (pid %d) %s after %.3f s",
		    inst->service_name, inst->id, (int)inst->pid, how,
		    (double)elapsed_us(&inst->started) / 1e6);
	else
		log_warnx("service %s: instance %s (pid %d) %s after %.3f s "
		    "while %s", inst->service_name, inst->id, (int)inst->pid,
		    how, (double)elapsed_us(&inst->started) / 1e6,
		    inst->state == DP_STARTING ? "starting" : "serving");

	if (inst->state == DP_STARTING) {
		snprintf(msg, sizeof(msg), "The user-provided container %s "
		    "before listening on the port defined by the PORT=%u "
		    "environment variable.", how, inst->port);
		inst->state = DP_STOPPING;
		instance_start_failed(inst, 502, "HEALTH_CHECK_CONTAINER_ERROR",
		    msg);
	}

	/* Connections still waiting for it get an error now. */
	for (c = TAILQ_FIRST(&inst->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, ientry);
		if (c->upstream == NULL)
			conn_fail(c, 502, "Bad Gateway", "localcloud: the "
			    "instance exited.");
	}
	inst->pid = -1;
	if (inst->svc != NULL)
		TAILQ_REMOVE(&inst->svc->instances, inst, entry);
	else
		TAILQ_REMOVE(&inst->dp->orphans, inst, entry);
	instance_free(inst);
}

/* Finds the instance whose process is pid, in services and orphans. */
static struct dp_instance *
instance_by_pid(struct lc *lc, pid_t pid)
{
	struct dp_state *dp = lc->dataplane;
	struct run_state *rs = lc->run;
	struct run_service *svc;
	struct dp_instance *inst;

	TAILQ_FOREACH(svc, &rs->services, entry)
		TAILQ_FOREACH(inst, &svc->instances, entry)
			if (inst->pid == pid)
				return inst;
	TAILQ_FOREACH(inst, &dp->orphans, entry)
		if (inst->pid == pid)
			return inst;
	return NULL;
}

/*
 * Reaps exited children. The group is killed while the exited leader is
 * still a zombie, so that what it left behind goes too and its pid cannot
 * have been reused by another group yet.
 */
static void
reap_children(struct lc *lc)
{
	struct dp_instance *inst;
	siginfo_t si;
	int status;
	pid_t pid;

	for (;;) {
		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == -1 ||
		    si.si_pid == 0)
			return;
		pid = si.si_pid;
		(void)kill(-pid, SIGKILL);
		if (waitpid(pid, &status, 0) != pid)
			return;
		if ((inst = instance_by_pid(lc, pid)) != NULL)
			instance_exited(inst, status);
	}
}

static void
on_sigchld(evutil_socket_t sig, short events, void *arg)
{
	reap_children(arg);
}

/* Chooses the instance for a new connection, starting one if needed. */
static struct dp_instance *
instance_pick(struct run_service *svc)
{
	struct run_revision *rev = svc->serving;
	struct dp_instance *inst, *best = NULL, *starting = NULL, *any = NULL;
	unsigned int live = 0;

	TAILQ_FOREACH(inst, &svc->instances, entry) {
		if (inst->rev != rev || inst->retiring ||
		    inst->state == DP_STOPPING)
			continue;
		live++;
		if (any == NULL || inst->nconns < any->nconns)
			any = inst;
		if (inst->nconns >= rev->concurrency)
			continue;
		if (inst->state == DP_READY &&
		    (best == NULL || inst->nconns < best->nconns))
			best = inst;
		if (inst->state == DP_STARTING && starting == NULL)
			starting = inst;
	}
	if (best != NULL)
		return best;
	if (starting != NULL)
		return starting;
	if (live < rev->max_instances)
		return instance_start(svc, rev);

	/* At the maximum, extra connections share the least loaded
	 * instance instead of queueing. */
	return any;
}

static void
on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int slen, void *arg)
{
	struct run_service *svc = arg;
	struct lc *lc = svc->lc;
	struct dp_conn *c;
	struct dp_instance *inst;
	SSL *ssl;

	set_nodelay(fd);
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warnx("service %s: out of memory for a connection",
		    svc->name);
		close(fd);
		return;
	}
	c->dp = lc->dataplane;
	c->svc = svc;
	clock_gettime(CLOCK_REALTIME, &c->accepted_wall);
	mono_now(&c->accepted_mono);
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr,
		    c->remote_ip, sizeof(c->remote_ip));
	TAILQ_INSERT_TAIL(&svc->conns, c, entry);

	if (lc->tls) {
		ssl = SSL_new(tls_server_ctx(lc, svc->serving != NULL &&
		    svc->serving->h2c));
		c->client = ssl == NULL ? NULL : bufferevent_openssl_socket_new(
		    lc->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->client != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(c->client,
			    1);
		else if (ssl != NULL)
			SSL_free(ssl);
	} else {
		c->client = bufferevent_socket_new(lc->base, fd,
		    BEV_OPT_CLOSE_ON_FREE);
	}
	if (c->client == NULL) {
		log_warnx("service %s: cannot set up a connection", svc->name);
		close(fd);
		conn_free(c);
		return;
	}
	bufferevent_setcb(c->client, on_client_read, on_client_write,
	    on_client_event, c);
	bufferevent_setwatermark(c->client, EV_READ, 0, DP_BUFFER_MAX);
	bufferevent_enable(c->client, EV_READ | EV_WRITE);

	/* The parser also finds the end of the request that an error
	 * response waits for. */
	c->parse = svc->serving == NULL || !svc->serving->h2c;
	http_parser_init(&c->req_parser, HTTP_REQUEST);
	http_parser_init(&c->resp_parser, HTTP_RESPONSE);
	c->req_parser.data = c;
	c->resp_parser.data = c;
	if (svc->serving == NULL) {
		conn_fail(c, 503, "Service Unavailable", "localcloud: the "
		    "service has no ready revision.");
		return;
	}
	snprintf(c->revision, sizeof(c->revision), "%s", svc->serving->name);

	if ((inst = instance_pick(svc)) == NULL) {
		conn_fail(c, 503, "Service Unavailable", "localcloud: cannot "
		    "start an instance.");
		return;
	}
	c->inst = inst;
	inst->nconns++;
	TAILQ_INSERT_TAIL(&inst->conns, c, ientry);
	memcpy(c->instance_id, inst->id, sizeof(c->instance_id));
	if (inst->state == DP_READY) {
		evtimer_del(inst->timer);
		conn_connect(c, -1);
	}
}

static void
on_accept_error(struct evconnlistener *l, void *arg)
{
	struct run_service *svc = arg;

	log_warn("service %s: accept", svc->name);
}

/* ---- interface ---- */

int
dataplane_open(struct run_service *svc, uint16_t port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	evutil_socket_t fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	svc->listener = evconnlistener_new_bind(svc->lc->base, on_accept, svc,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE,
	    -1, (struct sockaddr *)&sin, sizeof(sin));
	if (svc->listener == NULL)
		return -1;
	evconnlistener_set_error_cb(svc->listener, on_accept_error);
	fd = evconnlistener_get_fd(svc->listener);
	if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		evconnlistener_free(svc->listener);
		svc->listener = NULL;
		return -1;
	}
	svc->port = ntohs(sin.sin_port);
	return 0;
}

void
dataplane_close(struct run_service *svc)
{
	struct dp_state *dp = svc->lc->dataplane;
	struct dp_instance *inst;
	struct dp_conn *c;

	if (svc->listener != NULL)
		evconnlistener_free(svc->listener);
	svc->listener = NULL;
	while ((c = TAILQ_FIRST(&svc->conns)) != NULL)
		conn_free(c);
	while ((inst = TAILQ_FIRST(&svc->instances)) != NULL) {
		TAILQ_REMOVE(&svc->instances, inst, entry);
		inst->svc = NULL;
		inst->probe_cb = NULL;
		TAILQ_INSERT_TAIL(&dp->orphans, inst, entry);
		instance_stop(inst, SIGTERM);
	}
	run_revision_unref(svc->serving);
	svc->serving = NULL;
}

int
dataplane_probe(struct run_service *svc, struct run_revision *rev,
    dp_probe_cb cb, void *arg, char *msg, size_t msg_size)
{
	struct dp_instance *inst;

	if ((inst = instance_start(svc, rev)) == NULL) {
		snprintf(msg, msg_size, "localcloud cannot start an instance: "
		    "%s.", strerror(errno));
		return -1;
	}
	inst->probe_cb = cb;
	inst->probe_arg = arg;
	return 0;
}

void
dataplane_cancel_probe(struct run_service *svc, void *arg)
{
	struct dp_instance *inst;

	TAILQ_FOREACH(inst, &svc->instances, entry) {
		if (inst->probe_cb == NULL || inst->probe_arg != arg)
			continue;
		inst->probe_cb = NULL;
		inst->retiring = 1;
		if (inst->nconns == 0)
			instance_stop(inst, SIGTERM);
	}
}

void
dataplane_serve(struct run_service *svc, struct run_revision *rev)
{
	struct dp_instance *inst;

	run_revision_ref(rev);
	run_revision_unref(svc->serving);
	svc->serving = rev;

	/* Instances of older revisions finish their connections, then go. */
	TAILQ_FOREACH(inst, &svc->instances, entry) {
		if (inst->rev == rev || inst->retiring)
			continue;
		inst->retiring = 1;
		if (inst->nconns == 0 && inst->state == DP_READY)
			instance_stop(inst, SIGTERM);
	}
}

void
dataplane_counts(struct run_service *svc, struct dp_counts *counts)
{
	struct dp_instance *inst;

	counts->active = counts->idle = 0;
	TAILQ_FOREACH(inst, &svc->instances, entry) {
		/* Active: starting, or serving now or in the last second (the
		 * sampling period), so that short requests are seen. */
		if (inst->state == DP_STARTING || (inst->state == DP_READY &&
		    (inst->nconns > 0 || (inst->last_active.tv_sec != 0 &&
		    elapsed_us(&inst->last_active) < 1000000))))
			counts->active++;
		else
			counts->idle++;
	}
}

int
dataplane_init(struct lc *lc)
{
	struct dp_state *dp;

	if ((dp = calloc(1, sizeof(*dp))) == NULL)
		return -1;
	dp->lc = lc;
	TAILQ_INIT(&dp->orphans);
	if (sched_getaffinity(0, sizeof(dp->cpus), &dp->cpus) == -1) {
		log_warn("sched_getaffinity");
		CPU_ZERO(&dp->cpus);
		CPU_SET(0, &dp->cpus);
	}
	dp->ncpus = CPU_COUNT(&dp->cpus);
	if (snprintf(dp->log_dir, sizeof(dp->log_dir), "%s/run/logs",
	    lc->data_dir) >= (int)sizeof(dp->log_dir) ||
	    (mkdir(dp->log_dir, 0700) == -1 && errno != EEXIST)) {
		/* The parent folder may not exist yet on a first start. */
		char parent[LC_PATH_MAX];

		snprintf(parent, sizeof(parent), "%s/run", lc->data_dir);
		if ((mkdir(parent, 0700) == -1 && errno != EEXIST) ||
		    (mkdir(dp->log_dir, 0700) == -1 && errno != EEXIST)) {
			log_warn("cannot create %s", dp->log_dir);
			free(dp);
			return -1;
		}
	}
	dp->sigchld = evsignal_new(lc->base, SIGCHLD, on_sigchld, lc);
	if (dp->sigchld == NULL || evsignal_add(dp->sigchld, NULL) == -1) {
		log_warnx("cannot watch SIGCHLD");
		if (dp->sigchld != NULL)
			event_free(dp->sigchld);
		free(dp);
		return -1;
	}
	lc->dataplane = dp;
	return 0;
}

/*
 * Stops every instance left. The services are closed already, so all are
 * orphans and have had SIGTERM. Waits up to the grace period, then sends
 * SIGKILL to the rest. It blocks because the event loop is over.
 */
void
dataplane_shutdown(struct lc *lc)
{
	struct dp_state *dp = lc->dataplane;
	struct dp_instance *inst;
	struct timespec start, pause = { 0, 20 * 1000 * 1000 };
	int status;
	pid_t pid;

	if (dp == NULL)
		return;
	mono_now(&start);
	while (!TAILQ_EMPTY(&dp->orphans) &&
	    elapsed_us(&start) < DP_KILL_GRACE_S * 1000000ULL) {
		TAILQ_FOREACH(inst, &dp->orphans, entry)
			instance_stop(inst, SIGTERM);
		reap_children(lc);
		if (!TAILQ_EMPTY(&dp->orphans))
			nanosleep(&pause, NULL);
	}
	while ((inst = TAILQ_FIRST(&dp->orphans)) != NULL) {
		pid = inst->pid;
		instance_stop(inst, SIGKILL);
		if (waitpid(pid, &status, 0) == pid)
			instance_exited(inst, status);
		else {
			TAILQ_REMOVE(&dp->orphans, inst, entry);
			instance_free(inst);
		}
	}
	event_free(dp->sigchld);
	free(dp);
	lc->dataplane = NULL;
}

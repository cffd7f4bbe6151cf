/* IPC server and clients over Unix stream sockets. */
#include "config.h"

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "frame.h"
#include "ipc.h"
#include "log.h"
#include "proto.h"

/* Connections one worker serves at once; more are closed at accept. */
#define IPC_MAX_CONNS		256
/* Unsent reply bytes kept for a client that does not read, in bytes. */
#define IPC_MAX_OUTPUT		(64u * 1024 * 1024)

struct ipc_conn {
	struct ipc_server	*server;
	struct bufferevent	*bev;		/* NULL once closed */
	int			 refs;
	char			 peer[32];
	LIST_ENTRY(ipc_conn)	 entry;
};

struct ipc_server {
	struct event_base	*base;
	struct evconnlistener	*listener;
	ipc_handler_fn		 handler;
	void			*arg;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int			 nconns;
	LIST_HEAD(, ipc_conn)	 conns;
};

struct ipc_pending {
	struct ipc_client	*client;
	uint64_t		 id;
	ipc_result_fn		 cb;
	void			*arg;
	struct event		*timer;
	char			 error[256];	/* set for a deferred failure */
	TAILQ_ENTRY(ipc_pending) entry;
};

struct ipc_client {
	struct event_base	*base;
	struct bufferevent	*bev;
	char			 peer[32];
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	uint64_t		 next_id;
	TAILQ_HEAD(, ipc_pending) pending;
};

int
ipc_socket_path(char *buf, size_t size, const char *runtime_dir,
    const char *name)
{
	int n;

	n = snprintf(buf, size, "%s/%s.sock", runtime_dir, name);
	if (n < 0 || (size_t)n >= size ||
	    (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return -1;
	return 0;
}

static int
ipc_sockaddr(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Encodes a frame and queues it on bev; -1 when it cannot be encoded. */
static int
ipc_send(struct bufferevent *bev, uint32_t type, uint64_t id,
    json_t *body)
{
	msgpack_sbuffer sb;
	int rc = -1;

	msgpack_sbuffer_init(&sb);
	if (frame_encode(&sb, type, id, body) == 0 &&
	    bufferevent_write(bev, sb.data, sb.size) == 0)
		rc = 0;
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/*
 * Takes the next frame off input. Returns FRAME_INCOMPLETE, FRAME_DECODED,
 * FRAME_INVALID (frame consumed) or FRAME_BROKEN; *size gets the length.
 */
static enum frame_result
ipc_next_frame(struct evbuffer *input, struct frame *frame, uint32_t *size,
    char *err, size_t errlen)
{
	uint8_t header[FRAME_HEADER_SIZE];
	enum frame_result result;
	size_t avail, consumed;
	unsigned char *data;

	memset(frame, 0, sizeof(*frame));
	*size = 0;
	avail = evbuffer_get_length(input);
	if (avail < FRAME_HEADER_SIZE)
		return FRAME_INCOMPLETE;
	evbuffer_copyout(input, header, sizeof(header));
	*size = frame_length(header);
	/* The length is checked before the frame is made contiguous. */
	if (*size == 0 || *size > FRAME_MAX_SIZE)
		return frame_parse(header, sizeof(header), &consumed, frame,
		    err, errlen);
	if (avail < FRAME_HEADER_SIZE + (size_t)*size)
		return FRAME_INCOMPLETE;
	data = evbuffer_pullup(input, FRAME_HEADER_SIZE + (ssize_t)*size);
	if (data == NULL) {
		snprintf(err, errlen, "out of memory");
		return FRAME_BROKEN;
	}
	result = frame_parse(data, FRAME_HEADER_SIZE + (size_t)*size,
	    &consumed, frame, err, errlen);
	evbuffer_drain(input, consumed);
	return result;
}

/* Server side. */

static void
ipc_conn_unref(struct ipc_conn *conn)
{
	if (--conn->refs > 0)
		return;
	free(conn);
}

static void
ipc_conn_close(struct ipc_conn *conn)
{
	if (conn->bev == NULL)
		return;
	bufferevent_free(conn->bev);
	conn->bev = NULL;
	LIST_REMOVE(conn, entry);
	conn->server->nconns--;
	ipc_conn_unref(conn);
}

static void
ipc_conn_read(struct bufferevent *bev, void *arg)
{
	struct ipc_conn *conn = arg;
	struct ipc_server *server = conn->server;
	struct ipc_request *req;
	struct frame frame;
	json_t *body;
	char err[256];
	uint32_t size;

	/* Hold the connection while handlers run: one may close it. */
	conn->refs++;
	while (conn->bev != NULL) {
		switch (ipc_next_frame(bufferevent_get_input(bev), &frame,
		    &size, err, sizeof(err))) {
		case FRAME_INCOMPLETE:
			goto out;
		case FRAME_BROKEN:
			log_warnx("closing IPC connection from %s: %s",
			    conn->peer, err);
			ipc_conn_close(conn);
			goto out;
		case FRAME_INVALID:
			log_warnx("invalid frame from %s (type %u, %u bytes): "
			    "%s", conn->peer, frame.type, size, err);
			/* Without an id there is nothing to answer to. */
			if (!frame.has_id) {
				frame_clear(&frame);
				ipc_conn_close(conn);
				goto out;
			}
			body = json_pack("{s:s, s:s}", "code",
			    "invalid_frame", "message", err);
			ipc_send(bev, MSG_ERROR, frame.id, body);
			json_decref(body);
			frame_clear(&frame);
			continue;
		case FRAME_DECODED:
			break;
		}
		if ((req = calloc(1, sizeof(*req))) == NULL) {
			log_warn("IPC request from %s", conn->peer);
			frame_clear(&frame);
			continue;
		}
		req->conn = conn;
		req->type = frame.type;
		req->id = frame.id;
		req->body = frame.body;
		conn->refs++;
		server->handler(req, server->arg);
	}
out:
	ipc_conn_unref(conn);
}

static void
ipc_conn_write(struct bufferevent *bev, void *arg)
{
}

static void
ipc_conn_event(struct bufferevent *bev, short events, void *arg)
{
	struct ipc_conn *conn = arg;

	if (events & BEV_EVENT_ERROR)
		log_debug("IPC connection from %s failed: %s", conn->peer,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		ipc_conn_close(conn);
}

static void
ipc_accept(struct evconnlistener *listener, evutil_socket_t fd,
    struct sockaddr *sa, int socklen, void *arg)
{
	struct ipc_server *server = arg;
	struct ipc_conn *conn;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (server->nconns >= IPC_MAX_CONNS) {
		log_warnx("closing IPC connection: %d connections open",
		    server->nconns);
		close(fd);
		return;
	}
	if ((conn = calloc(1, sizeof(*conn))) == NULL) {
		log_warn("IPC connection");
		close(fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		snprintf(conn->peer, sizeof(conn->peer), "pid %ld",
		    (long)cred.pid);
	else
		snprintf(conn->peer, sizeof(conn->peer), "unknown peer");
	conn->bev = bufferevent_socket_new(server->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (conn->bev == NULL) {
		log_warnx("IPC connection from %s: no buffer", conn->peer);
		close(fd);
		free(conn);
		return;
	}
	conn->server = server;
	conn->refs = 1;
	LIST_INSERT_HEAD(&server->conns, conn, entry);
	server->nconns++;
	bufferevent_setcb(conn->bev, ipc_conn_read, ipc_conn_write,
	    ipc_conn_event, conn);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
}

struct ipc_server *
ipc_server_new(struct event_base *base, const char *path,
    ipc_handler_fn handler, void *arg)
{
	struct ipc_server *server;
	struct sockaddr_un sun;
	int fd = -1;

	if ((server = calloc(1, sizeof(*server))) == NULL)
		return NULL;
	if (ipc_sockaddr(&sun, path) == -1)
		goto fail;
	memcpy(server->path, sun.sun_path, sizeof(server->path));
	LIST_INIT(&server->conns);
	server->base = base;
	server->handler = handler;
	server->arg = arg;

	/* A socket left by a previous instance of this worker is stale. */
	if (unlink(path) == -1 && errno != ENOENT)
		goto fail;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    chmod(path, 0600) == -1)
		goto fail;
	server->listener = evconnlistener_new(base, ipc_accept, server,
	    LEV_OPT_CLOSE_ON_FREE, 64, fd);
	if (server->listener == NULL)
		goto fail;
	return server;
fail:
	if (fd != -1)
		close(fd);
	free(server);
	return NULL;
}

void
ipc_server_free(struct ipc_server *server)
{
	struct ipc_conn *conn;

	if (server == NULL)
		return;
	while ((conn = LIST_FIRST(&server->conns)) != NULL)
		ipc_conn_close(conn);
	evconnlistener_free(server->listener);
	unlink(server->path);
	free(server);
}

static void
ipc_request_finish(struct ipc_request *req, uint32_t type, json_t *body)
{
	struct ipc_conn *conn = req->conn;

	if (conn->bev != NULL) {
		if (ipc_send(conn->bev, type, req->id, body) == -1)
			log_warnx("cannot encode the reply to %s for request "
			    "%llu (%s)", conn->peer,
			    (unsigned long long)req->id,
			    proto_type_name(req->type));
		else if (evbuffer_get_length(bufferevent_get_output(
		    conn->bev)) > IPC_MAX_OUTPUT) {
			log_warnx("closing IPC connection from %s: it does "
			    "not read its replies", conn->peer);
			ipc_conn_close(conn);
		}
	}
	json_decref(body);
	json_decref(req->body);
	ipc_conn_unref(conn);
	free(req);
}

void
ipc_reply(struct ipc_request *req, json_t *result)
{
	if (result == NULL)
		result = json_object();
	ipc_request_finish(req, MSG_OK, result);
}

void
ipc_reply_error(struct ipc_request *req, const char *code, const char *fmt,
    ...)
{
	char message[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	ipc_request_finish(req, MSG_ERROR, json_pack("{s:s, s:s}", "code",
	    code, "message", message));
}

const char *
ipc_request_peer(const struct ipc_request *req)
{
	return req->conn->peer;
}

/* Client side, on an event loop. */

static void
ipc_pending_finish(struct ipc_pending *p, const struct ipc_result *result)
{
	struct ipc_client *client = p->client;

	TAILQ_REMOVE(&client->pending, p, entry);
	event_free(p->timer);
	p->cb(result, p->arg);
	free(p);
}

static void
ipc_pending_fail(struct ipc_pending *p, const char *code, const char *message)
{
	struct ipc_result result = { 0, NULL, code, message };

	ipc_pending_finish(p, &result);
}

static void
ipc_client_disconnect(struct ipc_client *client, const char *why)
{
	struct ipc_pending *p, *next;
	char message[256];

	if (client->bev != NULL) {
		bufferevent_free(client->bev);
		client->bev = NULL;
	}
	snprintf(message, sizeof(message), "%s: %s", client->peer, why);
	for (p = TAILQ_FIRST(&client->pending); p != NULL; p = next) {
		next = TAILQ_NEXT(p, entry);
		if (p->error[0] == '\0')
			ipc_pending_fail(p, "unavailable", message);
	}
}

static void
ipc_client_read(struct bufferevent *bev, void *arg)
{
	struct ipc_client *client = arg;
	struct ipc_result result;
	struct ipc_pending *p;
	struct frame frame;
	char err[256];
	uint32_t size;

	for (;;) {
		switch (ipc_next_frame(bufferevent_get_input(bev), &frame,
		    &size, err, sizeof(err))) {
		case FRAME_INCOMPLETE:
			return;
		case FRAME_BROKEN:
			log_warnx("broken frame from %s: %s", client->peer,
			    err);
			ipc_client_disconnect(client, "sent a broken frame");
			return;
		case FRAME_INVALID:
			log_warnx("invalid reply from %s (type %u, %u bytes): "
			    "%s", client->peer, frame.type, size, err);
			frame_clear(&frame);
			continue;
		case FRAME_DECODED:
			break;
		}
		TAILQ_FOREACH(p, &client->pending, entry)
			if (p->id == frame.id && p->error[0] == '\0')
				break;
		if (p == NULL) {
			log_debug("reply from %s for request %llu that is no "
			    "longer waiting", client->peer,
			    (unsigned long long)frame.id);
			frame_clear(&frame);
			continue;
		}
		memset(&result, 0, sizeof(result));
		result.body = frame.body;
		if (frame.type == MSG_OK)
			result.ok = 1;
		else {
			result.code = json_string_value(json_object_get(
			    frame.body, "code"));
			result.message = json_string_value(json_object_get(
			    frame.body, "message"));
			if (result.code == NULL)
				result.code = "error";
			if (result.message == NULL)
				result.message = "error reply without message";
		}
		ipc_pending_finish(p, &result);
		frame_clear(&frame);
		/* The callback may have reconnected the client; callbacks
		 * never free it, because clients live as long as the loop. */
		if (client->bev != bev)
			return;
	}
}

static void
ipc_client_event(struct bufferevent *bev, short events, void *arg)
{
	struct ipc_client *client = arg;

	if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		ipc_client_disconnect(client, "closed the connection");
}

static int
ipc_client_connect(struct ipc_client *client)
{
	struct sockaddr_un sun;
	int fd;

	if (ipc_sockaddr(&sun, client->path) == -1)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	/* Unix sockets connect at once or fail; EAGAIN is a full backlog. */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	client->bev = bufferevent_socket_new(client->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (client->bev == NULL) {
		close(fd);
		return -1;
	}
	bufferevent_setcb(client->bev, ipc_client_read, NULL,
	    ipc_client_event, client);
	bufferevent_enable(client->bev, EV_READ | EV_WRITE);
	return 0;
}

struct ipc_client *
ipc_client_new(struct event_base *base, const char *peer, const char *path)
{
	struct ipc_client *client;

	if ((client = calloc(1, sizeof(*client))) == NULL)
		return NULL;
	if (strlen(path) >= sizeof(client->path)) {
		free(client);
		errno = ENAMETOOLONG;
		return NULL;
	}
	client->base = base;
	snprintf(client->peer, sizeof(client->peer), "%s", peer);
	memcpy(client->path, path, strlen(path) + 1);
	client->next_id = 1;
	TAILQ_INIT(&client->pending);
	return client;
}

void
ipc_client_free(struct ipc_client *client)
{
	struct ipc_pending *p;

	if (client == NULL)
		return;
	ipc_client_disconnect(client, "client shut down");
	while ((p = TAILQ_FIRST(&client->pending)) != NULL)
		ipc_pending_fail(p, "unavailable", "client shut down");
	free(client);
}

static void
ipc_pending_timeout(evutil_socket_t fd, short events, void *arg)
{
	struct ipc_pending *p = arg;
	char message[320];

	if (p->error[0] != '\0') {
		ipc_pending_fail(p, "unavailable", p->error);
		return;
	}
	snprintf(message, sizeof(message), "%s did not reply in time",
	    p->client->peer);
	ipc_pending_fail(p, "timeout", message);
}

int
ipc_call(struct ipc_client *client, uint32_t type, json_t *body,
    int timeout_ms, ipc_result_fn cb, void *arg)
{
	struct ipc_pending *p;
	struct timeval tv;

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		json_decref(body);
		return -1;
	}
	p->timer = evtimer_new(client->base, ipc_pending_timeout, p);
	if (p->timer == NULL) {
		free(p);
		json_decref(body);
		return -1;
	}
	p->client = client;
	p->id = client->next_id++;
	p->cb = cb;
	p->arg = arg;
	TAILQ_INSERT_TAIL(&client->pending, p, entry);

	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	if (client->bev == NULL && ipc_client_connect(client) == -1) {
		/* Fail on the next loop turn, never inside the caller. */
		snprintf(p->error, sizeof(p->error), "%s: cannot connect to "
		    "%s: %s", client->peer, client->path, strerror(errno));
		tv.tv_sec = tv.tv_usec = 0;
	} else if (ipc_send(client->bev, type, p->id, body) == -1) {
		snprintf(p->error, sizeof(p->error), "%s: cannot encode "
		    "request %s", client->peer, proto_type_name(type));
		tv.tv_sec = tv.tv_usec = 0;
	}
	json_decref(body);
	evtimer_add(p->timer, &tv);
	return 0;
}

/* Blocking client. */

static int64_t
ipc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for events until the deadline; 0 or -1. */
static int
ipc_wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { fd, events, 0 };
	int64_t left;
	int n;

	for (;;) {
		left = deadline - ipc_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&pfd, 1, (int)left);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		return 0;
	}
}

static int
ipc_write_all(int fd, const char *buf, size_t len, int64_t deadline)
{
	ssize_t n;

	while (len > 0) {
		if (ipc_wait_fd(fd, POLLOUT, deadline) == -1)
			return -1;
		/* A peer that died mid-request must not kill us with SIGPIPE:
		 * tools call this without ignoring the signal. */
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
ipc_read_all(int fd, uint8_t *buf, size_t len, int64_t deadline)
{
	ssize_t n;

	while (len > 0) {
		if (ipc_wait_fd(fd, POLLIN, deadline) == -1)
			return -1;
		n = read(fd, buf, len);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return -1;
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
ipc_call_sync(const char *path, const char *peer, uint32_t type,
    json_t *body, int timeout_ms, json_t **result, char *err,
    size_t errlen)
{
	static uint64_t next_id = 1;
	struct sockaddr_un sun;
	msgpack_sbuffer sb;
	struct frame frame;
	uint8_t *buf = NULL;
	uint32_t size;
	size_t consumed;
	int64_t deadline = ipc_now_ms() + timeout_ms;
	uint64_t id = __atomic_fetch_add(&next_id, 1, __ATOMIC_RELAXED);
	int fd = -1, rc = -1;

	*result = NULL;
	msgpack_sbuffer_init(&sb);
	if (ipc_sockaddr(&sun, path) == -1) {
		snprintf(err, errlen, "%s: socket path too long: %s", peer,
		    path);
		goto done;
	}
	if (frame_encode(&sb, type, id, body) == -1) {
		snprintf(err, errlen, "%s: cannot encode the request", peer);
		goto done;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		snprintf(err, errlen, "%s: cannot connect to %s: %s", peer,
		    path, strerror(errno));
		goto done;
	}
	if (ipc_write_all(fd, sb.data, sb.size, deadline) == -1)
		goto io_error;

	/* Read replies until the one with our id; others are not ours. */
	for (;;) {
		uint8_t header[FRAME_HEADER_SIZE];

		if (ipc_read_all(fd, header, sizeof(header), deadline) == -1)
			goto io_error;
		size = frame_length(header);
		if (size == 0 || size > FRAME_MAX_SIZE) {
			snprintf(err, errlen, "%s: reply frame of %u bytes",
			    peer, size);
			goto done;
		}
		if ((buf = malloc(FRAME_HEADER_SIZE + (size_t)size)) == NULL) {
			snprintf(err, errlen, "%s: out of memory", peer);
			goto done;
		}
		memcpy(buf, header, sizeof(header));
		if (ipc_read_all(fd, buf + FRAME_HEADER_SIZE, size,
		    deadline) == -1)
			goto io_error;
		if (frame_parse(buf, FRAME_HEADER_SIZE + (size_t)size,
		    &consumed, &frame, err, errlen) != FRAME_DECODED) {
			goto done;
		}
		free(buf);
		buf = NULL;
		if (frame.id == id)
			break;
		frame_clear(&frame);
	}
	*result = frame.body;
	if (frame.type == MSG_OK) {
		rc = 0;
	} else {
		const char *code, *message;

		code = json_string_value(json_object_get(frame.body, "code"));
		message = json_string_value(json_object_get(frame.body,
		    "message"));
		snprintf(err, errlen, "%s: %s", code ? code : "error",
		    message ? message : "no message");
		rc = 1;
	}
	goto done;
io_error:
	if (errno == ETIMEDOUT)
		snprintf(err, errlen, "%s did not reply within %d ms", peer,
		    timeout_ms);
	else
		snprintf(err, errlen, "%s: connection failed: %s", peer,
		    strerror(errno));
done:
	free(buf);
	if (fd != -1)
		close(fd);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* Work handed to a thread, finished on the loop. */

struct ipc_job {
	struct event	*ev;
	void		(*work)(void *);
	void		(*done)(void *);
	void		*arg;
};

static void
ipc_job_done(evutil_socket_t fd, short events, void *arg)
{
	struct ipc_job *job = arg;

	job->done(job->arg);
	event_free(job->ev);
	free(job);
}

static int ipc_threads;

int
ipc_threads_running(void)
{
	return __atomic_load_n(&ipc_threads, __ATOMIC_SEQ_CST);
}

static void *
ipc_job_thread(void *arg)
{
	struct ipc_job *job = arg;

	job->work(job->arg);
	event_active(job->ev, EV_TIMEOUT, 0);
	__atomic_fetch_sub(&ipc_threads, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

int
ipc_run_in_thread(struct event_base *base, void (*work)(void *),
    void (*done)(void *), void *arg)
{
	struct ipc_job *job;
	pthread_attr_t attr;
	pthread_t thread;
	int rc;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return -1;
	job->ev = event_new(base, -1, 0, ipc_job_done, job);
	if (job->ev == NULL) {
		free(job);
		return -1;
	}
	job->work = work;
	job->done = done;
	job->arg = arg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	__atomic_fetch_add(&ipc_threads, 1, __ATOMIC_SEQ_CST);
	rc = pthread_create(&thread, &attr, ipc_job_thread, job);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		__atomic_fetch_sub(&ipc_threads, 1, __ATOMIC_SEQ_CST);
		event_free(job->ev);
		free(job);
		errno = rc;
		return -1;
	}
	return 0;
}

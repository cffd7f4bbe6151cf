/*
 * The data plane's two halves: dataplane.c owns service ports and instances
 * (start, readiness, idle timeout, stop), proxy.c owns client connections
 * and forwards their bytes to an instance. This header is private to them.
 */
#ifndef LOCALCLOUD_DATAPLANE_H
#define LOCALCLOUD_DATAPLANE_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <sched.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <http_parser.h>
#include <openssl/ssl.h>

#include "run.h"

/*
 * Bytes buffered per direction of a connection. One TLS record carries at
 * most 16 KiB, so one SSL_read fills at most one buffer. A full buffer
 * stops reading from the sender until the receiver drains it.
 */
#define DP_BUF_SIZE		(16 * 1024)
#define DP_REQ_QUEUE		8	/* pipelined requests tracked */
#define DP_URL_MAX		512
#define DP_AGENT_MAX		256
#define DP_DETAIL_MAX		512	/* of an error response's body */
#define DP_HEADER_NAME_MAX	32	/* longest header name compared */

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

struct dp_state {
	struct lc		*lc;
	struct event		*sigchld;
	struct dp_instance_list	 orphans;	/* of deleted services */
	cpu_set_t		 cpus;		/* where instances may run */
	int			 ncpus;
	unsigned int		 next_cpu;
	char			 log_dir[LC_PATH_MAX];
};

/* One request seen on a connection, until its response completes. */
struct dp_req {
	struct timespec	 wall;
	struct timespec	 mono;
	const char	*method;	/* a static string of http_parser */
	char		 protocol[16];
	char		 url[DP_URL_MAX];
	char		 user_agent[DP_AGENT_MAX];
	uint64_t	 size;
	int		 complete;	/* the whole request was read */
	int		 deny;		/* 401 or 403 sent by localcloud */
	int		 keep_alive;
	int		 head;		/* HEAD: the response has no body */
};

/*
 * The bytes of one direction, with off <= ready <= parsed <= len. Bytes
 * [off, ready) may be written to the receiver. Bytes [ready, parsed) belong
 * to a request that waits for its token check, and [parsed, len) wait for
 * the parser.
 */
struct dp_buf {
	size_t	off;
	size_t	ready;
	size_t	parsed;
	size_t	len;
	char	data[DP_BUF_SIZE];
};

enum dp_conn_state {
	DP_CONN_OPEN,		/* forwarding, or waiting for an instance */
	DP_CONN_FAILING,	/* reading the request an error answers */
	DP_CONN_CLOSING,	/* flushing the last bytes to the client */
	DP_CONN_LINGER,		/* FIN sent, reading until the client's */
};

/* The reason the request parser stopped before the end of its bytes. */
enum dp_stall {
	DP_STALL_NONE,
	DP_STALL_QUEUE,		/* DP_REQ_QUEUE requests await responses */
	DP_STALL_DENIAL,	/* a 401 or 403 waits for its turn */
};

struct dp_conn {
	TAILQ_ENTRY(dp_conn)	 entry;		/* in the service's list */
	TAILQ_ENTRY(dp_conn)	 ientry;	/* in the instance's list */
	struct dp_state		*dp;
	struct run_service	*svc;
	struct dp_instance	*inst;
	char			 instance_id[RUN_INSTANCE_ID_LEN + 1];
	char			 revision[128];
	enum dp_conn_state	 state;

	/* The client's socket, and its TLS session unless --plain-http. */
	evutil_socket_t		 cfd;
	SSL			*ssl;
	struct event		*client_rd;
	struct event		*client_wr;
	int			 client_eof;
	int			 client_paused;	/* up buffer full */
	int			 ssl_read_wants_write;
	int			 ssl_write_wants_read;

	/* The instance's socket: -1 until an instance listens. */
	evutil_socket_t		 ufd;
	struct event		*upstream_rd;
	struct event		*upstream_wr;
	int			 connecting;
	int			 connected;
	int			 upstream_shut;	/* SHUT_WR sent */
	int			 upstream_gone;	/* the instance closed */
	int			 upstream_paused; /* down buffer full */

	struct event		*timer;		/* the state's deadline */
	struct timespec		 linger_start;

	char			 remote_ip[INET6_ADDRSTRLEN];
	char			 url_prefix[48];	/* scheme://host:port */
	size_t			 url_prefix_len;
	uint64_t		 bytes_in;	/* client to instance */
	uint64_t		 bytes_out;	/* instance to client */
	uint64_t		 resp_bytes;	/* of the response under way */
	struct timespec		 accepted_wall;
	struct timespec		 accepted_mono;
	int			 unparsed_logged;

	/* The error response sent once the request is read, if status > 0. */
	int			 fail_status;
	const char		*fail_reason;
	char			 fail_detail[DP_DETAIL_MAX];
	int			 failure_due;	/* waits for room to be sent */

	/* HTTP/1 tracking for request logs; off for other protocols. */
	int			 parse;
	int			 upgraded;	/* parsing stopped at an upgrade */
	enum dp_stall		 stall;
	http_parser		 req_parser;
	http_parser		 resp_parser;
	struct dp_req		 reqs[DP_REQ_QUEUE];
	unsigned int		 req_head, req_count;
	struct dp_req		*req_cur;	/* being parsed */
	char			 header[DP_HEADER_NAME_MAX];
	size_t			 header_len;
	int			 header_kind;	/* of the header being read */
	int			 last_was_value;
	int			 resp_status;
	int			 paused_at_end;	/* the parser stopped at an end */
	uint64_t		 req_fed;	/* bytes parsed, client side */
	uint64_t		 req_end;	/* where the last request ended */
	uint64_t		 resp_fed;
	uint64_t		 resp_end;

	/*
	 * Invoker IAM. approved: the request being read may reach the
	 * instance. discard: the bytes of a denied request are dropped as
	 * they are parsed. auth is the request's Authorization value, and
	 * verified the last token that passed, valid until verified_exp.
	 */
	int			 approved;
	int			 discard;
	int			 auth_headers;	/* Authorization headers seen */
	int			 auth_too_long;
	char			*auth;		/* DP_AUTH_MAX bytes, or NULL */
	size_t			 auth_len;
	char			*verified;	/* DP_AUTH_MAX bytes, or NULL */
	size_t			 verified_len;
	int64_t			 verified_exp;	/* Unix time */

	struct dp_buf		 up;		/* client to instance */
	struct dp_buf		 down;		/* instance to client */
};

/* dataplane.c, for proxy.c. */
int	 dp_attach(struct dp_conn *);
void	 dp_detach(struct dp_conn *);
void	 dp_mono_now(struct timespec *);
uint64_t dp_elapsed_us(const struct timespec *);
void	 dp_set_nodelay(evutil_socket_t);

/* proxy.c, for dataplane.c. */
void	 proxy_accept(struct run_service *, evutil_socket_t,
	    const struct sockaddr *);
void	 proxy_connect(struct dp_conn *, evutil_socket_t);
void	 proxy_fail(struct dp_conn *, int status, const char *reason,
	    const char *detail);
void	 proxy_free(struct dp_conn *);

#endif

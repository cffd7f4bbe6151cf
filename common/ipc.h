/*
 * IPC over Unix stream sockets with the frames of frame.h.
 *
 * A worker serves requests with an ipc_server; every request is handed to
 * the worker's handler as a struct ipc_request, which the handler answers
 * now or later with ipc_reply or ipc_reply_error (exactly once). Requests
 * whose connection closes before the reply are answered into the void.
 *
 * Processes call their peers with an ipc_client on their event loop, or with
 * ipc_call_sync from a thread or a command-line tool.
 */
#ifndef IPC_H
#define IPC_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

struct ipc_conn;
struct ipc_server;
struct ipc_client;

struct ipc_request {
	struct ipc_conn	*conn;
	uint32_t	 type;
	uint64_t	 id;
	json_t		*body;		/* owned by the request */
};

typedef void	(*ipc_handler_fn)(struct ipc_request *, void *);

struct ipc_server *ipc_server_new(struct event_base *, const char *path,
	    ipc_handler_fn, void *arg);
void		 ipc_server_free(struct ipc_server *);

/* Sends MSG_OK with result (stolen; NULL sends {}) and frees the request. */
void		 ipc_reply(struct ipc_request *, json_t *result);
/* Sends MSG_ERROR {code, message} and frees the request. */
void		 ipc_reply_error(struct ipc_request *, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Describes the sending process for logs, e.g. "pid 123". */
const char	*ipc_request_peer(const struct ipc_request *);

/* Result of a call: ok, or an error reply or a transport failure. */
struct ipc_result {
	int		 ok;
	json_t		*body;		/* MSG_OK result or MSG_ERROR body;
					   borrowed, NULL on transport errors */
	const char	*code;		/* error code when !ok */
	const char	*message;	/* error message when !ok */
};

typedef void	(*ipc_result_fn)(const struct ipc_result *, void *);

struct ipc_client *ipc_client_new(struct event_base *, const char *peer,
	    const char *path);
void		 ipc_client_free(struct ipc_client *);
/* Sends a request (body stolen); cb runs exactly once, on the loop. */
int		 ipc_call(struct ipc_client *, uint32_t type, json_t *body,
	    int timeout_ms, ipc_result_fn cb, void *arg);

/*
 * Blocking call on a fresh connection, for threads and tools. Returns 0 with
 * *result set to the MSG_OK body, 1 with *result set to the MSG_ERROR body
 * and err holding "code: message", or -1 on a transport error or time-out
 * described in err (naming the peer).
 */
int		 ipc_call_sync(const char *path, const char *peer,
	    uint32_t type, json_t *body, int timeout_ms,
	    json_t **result, char *err, size_t errlen);

/* Socket path of a worker: <runtime_dir>/<name>.sock. */
int		 ipc_socket_path(char *buf, size_t size,
	    const char *runtime_dir, const char *name);

/*
 * Runs work(arg) on a new thread, then done(arg) on the loop of base. Needs
 * evthread_use_pthreads() before the base was created.
 */
int		 ipc_run_in_thread(struct event_base *base,
	    void (*work)(void *), void (*done)(void *), void *arg);

/* Threads of ipc_run_in_thread that have not finished their work. */
int		 ipc_threads_running(void);

#endif

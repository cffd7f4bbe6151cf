/*
 * The start-up path every worker shares: settings, logging, an event base
 * with thread support, SIGTERM/SIGINT handling, the IPC listener on
 * <runtime-dir>/<name>.sock, the worker's init, dispatch, and an orderly
 * shutdown. Ping is answered here; every other message goes to the
 * worker's handler.
 */
#ifndef WORKER_H
#define WORKER_H

#include <event2/event.h>

#include "ipc.h"

struct worker {
	const char	*name;
	const char	*summary;	/* one line for --help */
	int		(*init)(struct event_base *);
	void		(*handle)(struct ipc_request *);
	/* After the loop ends: makes the worker's threads finish. */
	void		(*stop)(void);
	/* Once no thread runs; skipped when one does not end in time. */
	void		(*shutdown)(void);
};

int		 worker_main(const struct worker *, int argc, char **argv);
/* Socket path of another worker, for IPC clients. */
int		 worker_peer_path(char *buf, size_t size, const char *name);
struct event_base *worker_base(void);
/* Returns 1 once the worker is shutting down. */
int		 worker_is_stopping(void);
/*
 * Runs work(job) on a thread and then done(job) on the loop, with at most
 * max requests in progress as counted by *running (done must decrement
 * it). Returns -1 after replying busy or internal to req; the caller then
 * frees job.
 */
int		 worker_offload(struct ipc_request *req, int *running, int max,
	    void (*work)(void *), void (*done)(void *), void *job);

#endif

/* The shared start-up path of the workers. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/thread.h>

#include "log.h"
#include "proto.h"
#include "settings.h"
#include "worker.h"

/* Time unfinished request threads get at shutdown, in milliseconds. */
#define WORKER_THREAD_WAIT_MS	3000

static const struct worker *worker_self;
static struct event_base *worker_evbase;
static struct ipc_server *worker_server;
static int worker_stopping;

int
worker_is_stopping(void)
{
	return worker_stopping;
}

struct event_base *
worker_base(void)
{
	return worker_evbase;
}

int
worker_peer_path(char *buf, size_t size, const char *name)
{
	return ipc_socket_path(buf, size, settings_runtime_dir(), name);
}

int
worker_offload(struct ipc_request *req, int *running, int max,
    void (*work)(void *), void (*done)(void *), void *job)
{
	if (*running >= max) {
		log_warnx("rejecting %s from %s: %d requests in progress",
		    proto_type_name(req->type), ipc_request_peer(req),
		    *running);
		ipc_reply_error(req, "busy", "%s has %d requests in progress; "
		    "retry", worker_self->name, *running);
		return -1;
	}
	if (ipc_run_in_thread(worker_evbase, work, done, job) == -1) {
		log_warn("cannot start a thread for %s",
		    proto_type_name(req->type));
		ipc_reply_error(req, "internal", "cannot start a thread");
		return -1;
	}
	(*running)++;
	return 0;
}

static void
worker_dispatch(struct ipc_request *req, void *arg)
{
	switch (req->type) {
	case MSG_PING:
		ipc_reply(req, json_pack("{s:s, s:I, s:s}", "worker",
		    worker_self->name, "pid", (json_int_t)getpid(), "version",
		    PACKAGE_VERSION));
		break;
	case MSG_OK:
	case MSG_ERROR:
		log_warnx("unexpected %s frame from %s",
		    proto_type_name(req->type), ipc_request_peer(req));
		ipc_reply_error(req, "unexpected_type", "%s is a reply, not "
		    "a request", proto_type_name(req->type));
		break;
	default:
		worker_self->handle(req);
		break;
	}
}

static void
worker_signal(evutil_socket_t sig, short events, void *arg)
{
	log_info("%s received, shutting down", strsignal(sig));
	worker_stopping = 1;
	event_base_loopexit(worker_evbase, NULL);
}

int
worker_main(const struct worker *w, int argc, char **argv)
{
	struct event *sigterm = NULL, *sigint = NULL;
	enum log_format format;
	char path[256];
	int i;

	worker_self = w;
	settings_load(argc, argv, w->name, w->summary);
	if (log_format_parse(settings_str(CFG_LOG_FORMAT), &format) == -1) {
		fprintf(stderr, "%s: invalid LOG_FORMAT \"%s\": use json, "
		    "text or auto\n", w->name, settings_str(CFG_LOG_FORMAT));
		return 2;
	}
	log_init(w->name, format, settings_bool(CFG_DEBUG));
	signal(SIGPIPE, SIG_IGN);

	if (settings_bool(CFG_LOCAL) &&
	    settings_check_loopback(path, sizeof(path)) == -1)
		fatalx("%s", path);

	if (evthread_use_pthreads() == -1)
		fatalx("libevent has no pthreads support");
	if ((worker_evbase = event_base_new()) == NULL)
		fatalx("cannot create the event base");
	sigterm = evsignal_new(worker_evbase, SIGTERM, worker_signal, NULL);
	sigint = evsignal_new(worker_evbase, SIGINT, worker_signal, NULL);
	if (sigterm == NULL || sigint == NULL ||
	    evsignal_add(sigterm, NULL) == -1 ||
	    evsignal_add(sigint, NULL) == -1)
		fatalx("cannot watch signals");

	if (settings_str(CFG_SOCKET)[0] != '\0')
		snprintf(path, sizeof(path), "%s", settings_str(CFG_SOCKET));
	else {
		if (mkdir(settings_runtime_dir(), 0700) == -1 &&
		    errno != EEXIST)
			fatal("cannot create %s", settings_runtime_dir());
		if (worker_peer_path(path, sizeof(path), w->name) == -1)
			fatalx("socket path in %s is too long",
			    settings_runtime_dir());
	}
	worker_server = ipc_server_new(worker_evbase, path, worker_dispatch,
	    NULL);
	if (worker_server == NULL)
		fatal("cannot listen on %s", path);
	if (w->init != NULL && w->init(worker_evbase) == -1)
		fatalx("initialisation failed");
	log_info("%s %s ready on %s", w->name, PACKAGE_VERSION, path);

	event_base_dispatch(worker_evbase);

	if (w->stop != NULL)
		w->stop();
	/* Threads still working activate their completion on the base once
	 * done: keep running the loop without blocking so that every
	 * completion runs and frees its request, and leave the base alone
	 * if a thread does not finish in time. */
	for (i = 0; i < WORKER_THREAD_WAIT_MS / 10; i++) {
		event_base_loop(worker_evbase, EVLOOP_NONBLOCK);
		if (ipc_threads_running() == 0)
			break;
		usleep(10000);
	}
	event_base_loop(worker_evbase, EVLOOP_NONBLOCK);
	if (ipc_threads_running() > 0) {
		log_warnx("stopping with %d requests unfinished",
		    ipc_threads_running());
		return 0;
	}
	if (w->shutdown != NULL)
		w->shutdown();
	ipc_server_free(worker_server);
	event_free(sigterm);
	event_free(sigint);
	event_base_free(worker_evbase);
	libevent_global_shutdown();
	log_info("stopped");
	return 0;
}

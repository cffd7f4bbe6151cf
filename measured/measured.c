/*
 * measured: measures contract compliance, cold starts and warm requests.
 * Its event loop only serves IPC; claims run on short-lived threads and
 * the measurements on one measurement thread at a time, so that two runs
 * never share the machine while they are timed.
 */
#include "config.h"

#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "log.h"
#include "measure.h"
#include "proto.h"
#include "settings.h"
#include "state.h"
#include "worker.h"

/* Runs waiting for the measurement thread at most. */
#define MEASURED_QUEUE_MAX	64

struct queued_job {
	struct measure_job	*job;
	TAILQ_ENTRY(queued_job)	 entry;
};

struct claim_work {
	struct ipc_request	*req;		/* NULL for a start-up resume */
	char			 run_id[80];
	enum measure_why	 why;
	enum measure_claim	 claim;
	struct measure_job	*job;
	json_t			*reply;
	char			 err[512];
};

/* A run whose deploy still runs, claimed again when ev fires. */
struct deferred_run {
	char			 run_id[80];
	struct event		*ev;
	TAILQ_ENTRY(deferred_run) entry;
};

static TAILQ_HEAD(, queued_job) queue = TAILQ_HEAD_INITIALIZER(queue);
static TAILQ_HEAD(, deferred_run) deferred =
    TAILQ_HEAD_INITIALIZER(deferred);
static int queued;
static struct measure_job *running;
/* A /measure for the running run came in: claim again once it ends,
 * because it may be the trigger of the round that run just scheduled. */
static int running_again;
static volatile int stopping;
static int measuring;			/* the thread is working */

static void	measured_next(void);

static int
measured_known(const char *run_id)
{
	struct queued_job *q;

	if (running != NULL && strcmp(measure_job_run_id(running),
	    run_id) == 0)
		return 1;
	TAILQ_FOREACH(q, &queue, entry)
		if (strcmp(measure_job_run_id(q->job), run_id) == 0)
			return 1;
	return 0;
}

static struct deferred_run *
measured_deferred_find(const char *run_id)
{
	struct deferred_run *d;

	TAILQ_FOREACH(d, &deferred, entry)
		if (strcmp(d->run_id, run_id) == 0)
			return d;
	return NULL;
}

static void
measured_deferred_drop(const char *run_id)
{
	struct deferred_run *d;

	if ((d = measured_deferred_find(run_id)) == NULL)
		return;
	TAILQ_REMOVE(&deferred, d, entry);
	event_free(d->ev);
	free(d);
}

static int	measured_start_claim(struct ipc_request *, const char *,
		    enum measure_why);

static void
measured_deferred_fire(evutil_socket_t fd, short what, void *arg)
{
	struct deferred_run *d = arg;

	if (!stopping && !measured_known(d->run_id))
		measured_start_claim(NULL, d->run_id, WHY_TRIGGER);
}

/* Claims the run again in MEASURE_DEFER_S; logs the first wait only. */
static void
measured_defer(const char *run_id)
{
	struct timeval tv = { MEASURE_DEFER_S, 0 };
	struct deferred_run *d;

	if ((d = measured_deferred_find(run_id)) == NULL) {
		if ((d = calloc(1, sizeof(*d))) == NULL ||
		    (d->ev = evtimer_new(worker_base(), measured_deferred_fire,
		    d)) == NULL) {
			free(d);
			log_warnx("run %s: cannot wait for its deploy; the next "
			    "/measure resumes it", run_id);
			return;
		}
		snprintf(d->run_id, sizeof(d->run_id), "%s", run_id);
		TAILQ_INSERT_TAIL(&deferred, d, entry);
		log_info("run %s: its deploy still runs; measuring once it is "
		    "done", run_id);
	}
	evtimer_add(d->ev, &tv);
}

static void
measured_work(void *arg)
{
	measure_run(arg, &stopping);
	__atomic_store_n(&measuring, 0, __ATOMIC_SEQ_CST);
}

static void
measured_work_done(void *arg)
{
	char run_id[80];
	int again;

	snprintf(run_id, sizeof(run_id), "%s", measure_job_run_id(arg));
	again = measure_job_deferred(arg);
	measure_job_free(arg);
	if (again && !stopping)
		measured_defer(run_id);
	else
		measured_deferred_drop(run_id);
	running = NULL;
	if (running_again && !stopping)
		measured_start_claim(NULL, run_id, WHY_AGAIN);
	running_again = 0;
	measured_next();
}

/* Starts the next queued job on the measurement thread. */
static void
measured_next(void)
{
	struct queued_job *q;

	if (running != NULL || stopping || (q = TAILQ_FIRST(&queue)) == NULL)
		return;
	TAILQ_REMOVE(&queue, q, entry);
	queued--;
	running = q->job;
	free(q);
	log_set_context(measure_job_run_id(running), NULL);
	__atomic_store_n(&measuring, 1, __ATOMIC_SEQ_CST);
	if (ipc_run_in_thread(worker_base(), measured_work, measured_work_done,
	    running) == -1) {
		log_warn("run %s: cannot start the measurement thread",
		    measure_job_run_id(running));
		__atomic_store_n(&measuring, 0, __ATOMIC_SEQ_CST);
		measure_job_free(running);
		running = NULL;
	}
}

static int
measured_enqueue(struct measure_job *job)
{
	struct queued_job *q;

	if (queued >= MEASURED_QUEUE_MAX || (q = calloc(1, sizeof(*q))) ==
	    NULL) {
		log_warnx("run %s: %d runs already waiting; dropping the claim "
		    "until the next trigger", measure_job_run_id(job), queued);
		measure_job_free(job);
		return -1;
	}
	q->job = job;
	TAILQ_INSERT_TAIL(&queue, q, entry);
	queued++;
	measured_next();
	return 0;
}

static void
measured_claim_work(void *arg)
{
	struct claim_work *w = arg;

	w->claim = measure_claim(w->run_id, w->why, &w->job,
	    &w->reply, w->err, sizeof(w->err));
}

static void
measured_claim_done(void *arg)
{
	struct claim_work *w = arg;

	if (w->claim == CLAIM_STARTED) {
		if (measured_known(w->run_id) || stopping) {
			/* Claimed twice by this process: keep one job. */
			measure_job_free(w->job);
		} else if (measured_enqueue(w->job) == -1 && w->req != NULL) {
			json_decref(w->reply);
			ipc_reply_error(w->req, "busy", "too many runs waiting "
			    "to be measured; retry later");
			free(w);
			return;
		}
	}
	/* Someone else measures it, or it has ended; after an error, a run
	 * waiting for its deploy tries again. */
	if (w->claim == CLAIM_ERROR && w->req == NULL && !stopping &&
	    measured_deferred_find(w->run_id) != NULL)
		measured_defer(w->run_id);
	else if (w->claim != CLAIM_STARTED && w->claim != CLAIM_ERROR)
		measured_deferred_drop(w->run_id);
	if (w->req == NULL) {
		json_decref(w->reply);
		free(w);
		return;
	}
	switch (w->claim) {
	case CLAIM_NOT_FOUND:
		json_decref(w->reply);
		ipc_reply_error(w->req, "not_found", "run %s was never "
		    "deployed", w->run_id);
		break;
	case CLAIM_ERROR:
		log_warnx("run %s: cannot claim the measurement: %s",
		    w->run_id, w->err);
		ipc_reply_error(w->req, "unavailable", "cannot claim the "
		    "measurement: %s", w->err);
		break;
	default:
		ipc_reply(w->req, w->reply);
		break;
	}
	free(w);
}

static int
measured_start_claim(struct ipc_request *req, const char *run_id,
    enum measure_why why)
{
	struct claim_work *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->req = req;
	w->why = why;
	snprintf(w->run_id, sizeof(w->run_id), "%s", run_id);
	if (ipc_run_in_thread(worker_base(), measured_claim_work,
	    measured_claim_done, w) == -1) {
		free(w);
		return -1;
	}
	return 0;
}

static void
measured_measure(struct ipc_request *req)
{
	const char *run_id = json_string_value(json_object_get(req->body,
	    "run_id"));
	char url[512];

	if (run_id == NULL || strlen(run_id) >= 64 || run_id[0] == '\0' ||
	    strchr(run_id, '/') != NULL) {
		ipc_reply_error(req, "invalid", "field \"run_id\" must be a run "
		    "id string");
		return;
	}
	if (measured_known(run_id)) {
		if (running != NULL && strcmp(measure_job_run_id(running),
		    run_id) == 0)
			running_again = 1;
		state_run_url(url, sizeof(url), run_id, STATE_RESULTS);
		ipc_reply(req, json_pack("{s:s, s:s, s:s}", "run_id", run_id,
		    "status", "measuring", "results_url", url));
		return;
	}
	if (measured_start_claim(req, run_id, WHY_TRIGGER) == -1) {
		log_warn("run %s: cannot start the claim", run_id);
		ipc_reply_error(req, "internal", "cannot start the claim");
	}
}

/* Lists the runs in progress, to resume those whose owner is gone. */
static void
measured_scan_work(void *arg)
{
	json_t **names = arg;
	char err[512];

	if (state_list("agent/active/", names, err, sizeof(err)) == -1)
		log_warnx("cannot list the runs in progress: %s", err);
}

static struct event *rescan_ev;

static void
measured_scan_done(void *arg)
{
	json_t **names = arg, *name;
	char run_id[80];
	const char *s, *base;
	size_t i, len;

	json_array_foreach(*names, i, name) {
		s = json_string_value(name);
		base = s != NULL ? strrchr(s, '/') : NULL;
		if (base == NULL)
			continue;
		base++;
		len = strlen(base);
		if (len <= 5 || len - 5 >= sizeof(run_id) ||
		    strcmp(base + len - 5, ".json") != 0)
			continue;
		memcpy(run_id, base, len - 5);
		run_id[len - 5] = '\0';
		if (!measured_known(run_id) && !stopping)
			measured_start_claim(NULL, run_id, WHY_SCAN);
	}
	json_decref(*names);
	free(names);
}

/*
 * Lists the runs in progress, to resume those whose owner is gone and to
 * start the rounds whose trigger was lost. It runs at start, then every
 * MEASURE_RESCAN_S or TRIGGER_GRACE, whichever is shorter. A trigger that
 * a process accepted before it died without claiming the round is not
 * sent again by the scheduler.
 */
static void
measured_rescan(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { MEASURE_RESCAN_S, 0 };

	if (settings_int(CFG_TRIGGER_GRACE) < MEASURE_RESCAN_S)
		tv.tv_sec = settings_int(CFG_TRIGGER_GRACE);
	json_t **names;

	if (stopping)
		return;
	if ((names = calloc(1, sizeof(*names))) == NULL ||
	    ipc_run_in_thread(worker_base(), measured_scan_work,
	    measured_scan_done, names) == -1) {
		free(names);
		log_warnx("cannot start the scan for runs to resume");
	}
	evtimer_add(rescan_ev, &tv);
}

static void
measured_handle(struct ipc_request *req)
{
	struct queued_job *q;
	json_t *waiting;

	switch (req->type) {
	case MSG_MEASURE_RUN:
		measured_measure(req);
		break;
	case MSG_MEASURE_STATE:
		waiting = json_array();
		TAILQ_FOREACH(q, &queue, entry)
			json_array_append_new(waiting, json_string(
			    measure_job_run_id(q->job)));
		ipc_reply(req, json_pack("{s:b, s:s?, s:o}", "busy",
		    running != NULL, "run_id", running ?
		    measure_job_run_id(running) : NULL, "queued", waiting));
		break;
	default:
		log_warnx("%s from %s is not a measured message",
		    proto_type_name(req->type), ipc_request_peer(req));
		ipc_reply_error(req, "unsupported_type", "measured does not "
		    "handle %s", proto_type_name(req->type));
		break;
	}
}

static int
measured_init(struct event_base *base)
{
	struct timeval first = { 2, 0 };

	if (curl_global_init(CURL_GLOBAL_ALL) != 0)
		return -1;
	measure_init();
	/* The first scan waits for stated, which starts alongside. */
	if ((rescan_ev = evtimer_new(base, measured_rescan, NULL)) == NULL ||
	    evtimer_add(rescan_ev, &first) == -1) {
		log_warnx("cannot create the scan timer");
		return -1;
	}
	return 0;
}

static void
measured_stop(void)
{
	int i;

	stopping = 1;
	/* The measurement thread stores its progress and gives the claim
	 * up at its next step; 8 s fits in Cloud Run's 10 s grace. */
	for (i = 0; i < 800 && __atomic_load_n(&measuring, __ATOMIC_SEQ_CST);
	    i++) {
		struct timespec tick = { 0, 10 * 1000000 };

		nanosleep(&tick, NULL);
	}
}

static void
measured_shutdown(void)
{
	struct queued_job *q;
	struct deferred_run *d;

	while ((d = TAILQ_FIRST(&deferred)) != NULL)
		measured_deferred_drop(d->run_id);
	if (rescan_ev != NULL)
		event_free(rescan_ev);
	rescan_ev = NULL;
	while ((q = TAILQ_FIRST(&queue)) != NULL) {
		TAILQ_REMOVE(&queue, q, entry);
		measure_job_free(q->job);
		free(q);
	}
}

static const struct worker measured_worker = {
	.name = "measured",
	.summary = "Measures contract compliance, cold starts and warm "
	    "requests.",
	.init = measured_init,
	.handle = measured_handle,
	.stop = measured_stop,
	.shutdown = measured_shutdown,
};

int
main(int argc, char **argv)
{
	return worker_main(&measured_worker, argc, argv);
}

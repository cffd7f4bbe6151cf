/*
 * Cloud Tasks v2: HTTP tasks in queues under
 * /v2/projects/{p}/locations/{l}/queues. A task is sent at its
 * scheduleTime (second precision or finer) to its loopback target with an
 * OIDC token signed by localcloud's key and the X-CloudTasks-* headers,
 * retried with backoff until a 2xx or the queue's maxAttempts, then
 * deleted. Its name stays reserved for an hour after (ALREADY_EXISTS), as
 * on Cloud Tasks.
 *
 * Queues need no setup: the first task creates its queue with Cloud
 * Tasks' default retryConfig (maxAttempts 100, minBackoff 0.1s,
 * maxBackoff 3600s, maxDoublings 16). To change the retry behaviour,
 * create the queue first with POST .../queues and a Queue body carrying
 * retryConfig. Queues and tasks survive restarts in <data_dir>/tasks/.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <sodium.h>

#include "deliver.h"
#include "durable.h"
#include "log.h"
#include "localcloud.h"
#include "target.h"
#include "tokens.h"

#define TASKS_MAX		10000	/* live tasks and reserved names */
#define TASKS_QUEUES_MAX	1000
#define TASKS_BODY_MAX		(2 * 1024 * 1024)	/* bytes */
#define TASKS_FILE_MAX		(4 * 1024 * 1024)	/* bytes */
#define TASKS_TASK_ID_MAX	500
#define TASKS_QUEUE_ID_MAX	100
/* How long a finished or deleted task's name stays taken, in seconds. */
#define TASKS_DEDUP_WINDOW	3600.0
/* Latest scheduleTime accepted, in seconds from now: 30 days. */
#define TASKS_SCHEDULE_MAX	(30 * 86400.0)
/* dispatchDeadline default and range, in seconds. */
#define TASKS_DEADLINE		600.0
#define TASKS_DEADLINE_MIN	15.0
#define TASKS_DEADLINE_MAX	1800.0
/* The default queue retryConfig, in seconds where timed. */
#define TASKS_MAX_ATTEMPTS	100
#define TASKS_MIN_BACKOFF	0.1
#define TASKS_MAX_BACKOFF	3600.0
#define TASKS_MAX_DOUBLINGS	16

struct tasks;

/* Cloud Tasks' default queue retryConfig. */
static const struct target_backoff tasks_backoff = {
	TASKS_MIN_BACKOFF, TASKS_MAX_BACKOFF, 0, TASKS_MAX_DOUBLINGS
};

struct queue {
	char		*name;		/* projects/P/locations/L/queues/Q */
	char		 file[72];
	json_t		*resource;
	int		 max_attempts;	/* -1: unlimited */
	struct target_backoff backoff;
};

struct task {
	struct tasks	*t;
	struct queue	*queue;
	char		*name;
	char		 file[72];
	json_t		*resource;	/* NULL once finished or deleted */
	double		 gone_at;	/* when it finished, for dedup */
	struct target	 target;	/* points into resource */
	double		 schedule;	/* real time of the next attempt */
	double		 deadline;	/* seconds */
	double		 first_attempt;	/* 0 before the first */
	double		 dispatched;	/* when the last attempt was sent */
	int		 dispatch_count;
	int		 response_count;
	int		 stopped;	/* refused target: never sent */
	struct event	*timer;
	struct delivery	*inflight;
};

struct tasks {
	struct lc	*lc;
	struct deliver	*deliver;
	char		 task_dir[LC_PATH_MAX];
	char		 queue_dir[LC_PATH_MAX];
	struct queue	*queues[TASKS_QUEUES_MAX];
	size_t		 nqueues;
	struct task	**tasks;	/* TASKS_MAX slots */
	size_t		 ntasks;
};

static void	task_attempt(struct task *);

/* Reads a queue's retryConfig, filling in Cloud Tasks' defaults. */
static int
queue_configure(struct queue *q, char *err, size_t errlen)
{
	json_t *rc = json_object_get(q->resource, "retryConfig"), *v;

	if (rc == NULL) {
		rc = json_object();
		json_object_set_new(q->resource, "retryConfig", rc);
	}
	if (!json_is_object(rc)) {
		snprintf(err, errlen, "retryConfig must be an object");
		return -1;
	}
	v = json_object_get(rc, "maxAttempts");
	q->max_attempts = v != NULL ? (int)json_integer_value(v) :
	    TASKS_MAX_ATTEMPTS;
	if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < -1 ||
	    json_integer_value(v) == 0 || json_integer_value(v) > 1000000)) {
		snprintf(err, errlen, "retryConfig.maxAttempts must be -1 "
		    "(unlimited) or from 1 to 1000000");
		return -1;
	}
	json_object_set_new(rc, "maxAttempts", json_integer(q->max_attempts));
	if (target_read_backoff(rc, "minBackoff", "maxBackoff",
	    &tasks_backoff, &q->backoff, err, errlen) == -1)
		return -1;
	json_object_set_new(q->resource, "state", json_string("RUNNING"));
	return 0;
}

static void
queue_free(struct queue *q)
{
	if (q == NULL)
		return;
	json_decref(q->resource);
	free(q->name);
	free(q);
}

static struct queue *
find_queue(struct tasks *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->nqueues; i++)
		if (strcmp(t->queues[i]->name, name) == 0)
			return t->queues[i];
	return NULL;
}

/* Creates a queue from a Queue resource (taking its reference) and saves
 * it, or explains the failure in err. */
static struct queue *
queue_add(struct tasks *t, json_t *resource, const char *name, char *err,
    size_t errlen)
{
	struct queue *q;
	json_t *rec;

	if (t->nqueues == TASKS_QUEUES_MAX) {
		snprintf(err, errlen, "localcloud holds at most %d queues",
		    TASKS_QUEUES_MAX);
		json_decref(resource);
		return NULL;
	}
	if ((q = calloc(1, sizeof(*q))) == NULL ||
	    (q->name = strdup(name)) == NULL) {
		free(q);
		json_decref(resource);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	q->resource = resource;
	json_object_set_new(resource, "name", json_string(name));
	if (queue_configure(q, err, errlen) == -1) {
		queue_free(q);
		return NULL;
	}
	target_file_name(name, q->file);
	rec = json_pack("{s:O}", "queue", q->resource);
	if (rec == NULL || durable_write_json(t->queue_dir, q->file, rec) ==
	    -1)
		log_warn("tasks: cannot save queue %s", name);
	json_decref(rec);
	t->queues[t->nqueues++] = q;
	return q;
}

static struct task *
find_task(struct tasks *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->ntasks; i++)
		if (strcmp(t->tasks[i]->name, name) == 0)
			return t->tasks[i];
	return NULL;
}

/* Releases the resources of a live task. Its name stays as a tombstone. */
static void
task_release(struct task *task)
{
	deliver_cancel(task->inflight);
	task->inflight = NULL;
	if (task->timer != NULL)
		event_free(task->timer);
	task->timer = NULL;
	target_clear(&task->target);
	json_decref(task->resource);
	task->resource = NULL;
}

static void
task_free(struct task *task)
{
	if (task == NULL)
		return;
	task_release(task);
	free(task->name);
	free(task);
}

/* Writes a live task, or the tombstone of a gone one, to its file. */
static void
task_save(struct task *task)
{
	json_t *rec;

	if (task->resource != NULL)
		rec = json_pack("{s:O, s:s, s:f, s:f, s:b}", "task",
		    task->resource, "queue", task->queue->name, "schedule",
		    task->schedule, "firstAttempt", task->first_attempt,
		    "stopped", task->stopped);
	else
		rec = json_pack("{s:s, s:f}", "name", task->name, "goneAt",
		    task->gone_at);
	if (rec == NULL || durable_write_json(task->t->task_dir, task->file,
	    rec) == -1)
		log_warn("tasks: cannot save task %s", task->name);
	json_decref(rec);
}

/* Ends a task, which is deleted while its name stays reserved. */
static void
task_finish(struct task *task)
{
	task_release(task);
	task->gone_at = target_now();
	task_save(task);
}

/* Drops tombstones older than the dedup window. */
static void
purge_tombstones(struct tasks *t)
{
	double cutoff = target_now() - TASKS_DEDUP_WINDOW;
	size_t i = 0;

	while (i < t->ntasks) {
		struct task *task = t->tasks[i];

		if (task->resource != NULL || task->gone_at > cutoff) {
			i++;
			continue;
		}
		if (durable_remove(t->task_dir, task->file) == -1)
			log_warn("tasks: cannot remove %s", task->file);
		t->tasks[i] = t->tasks[--t->ntasks];
		task_free(task);
	}
}

static void
task_arm(struct task *task)
{
	double delay = task->schedule - target_now();
	struct timeval tv;

	if (delay < 0)
		delay = 0;
	tv.tv_sec = (time_t)floor(delay);
	tv.tv_usec = (suseconds_t)((delay - floor(delay)) * 1e6);
	if (evtimer_add(task->timer, &tv) == -1)
		log_warnx("tasks: cannot arm the timer of %s", task->name);
}

/* Records the outcome of an attempt in lastAttempt. */
static void
record_attempt(struct task *task, double dispatched, int code,
    const char *message)
{
	json_t *attempt;

	attempt = json_pack("{s:o, s:o, s:o, s:{s:i, s:s}}",
	    "scheduleTime", target_time(task->schedule),
	    "dispatchTime", target_time(dispatched),
	    "responseTime", target_time(target_now()),
	    "responseStatus", "code", code, "message", message);
	if (attempt != NULL)
		json_object_set_new(task->resource, "lastAttempt", attempt);
}

static void
on_response(long status, int timed_out, const char *error, void *arg)
{
	struct task *task = arg;
	struct queue *q = task->queue;
	double delay, now = target_now();
	char message[300];

	task->inflight = NULL;
	if (status != 0)
		task->response_count++;
	json_object_set_new(task->resource, "responseCount",
	    json_integer(task->response_count));
	if (status >= 200 && status < 300) {
		log_info("tasks: task %s done: HTTP %ld", task->name, status);
		task_finish(task);
		return;
	}
	if (status == 0)
		snprintf(message, sizeof(message), "The request failed: %s.",
		    error != NULL ? error : "no response");
	else
		snprintf(message, sizeof(message), "The target returned HTTP "
		    "%ld.", status);
	/* A dispatchDeadline expiry is DEADLINE_EXCEEDED (4). */
	record_attempt(task, task->dispatched, timed_out ? 4 :
	    target_rpc_code(status), message);
	log_warnx("tasks: task %s attempt %d failed: %s", task->name,
	    task->dispatch_count, message);

	if ((q->max_attempts != -1 && task->dispatch_count >=
	    q->max_attempts) || (q->backoff.max_retry_duration > 0 &&
	    now - task->first_attempt >= q->backoff.max_retry_duration) ||
	    deliver_backoff(q->backoff.min, q->backoff.max,
	    q->backoff.max_doublings, task->dispatch_count, &delay) == -1) {
		log_warnx("tasks: task %s deleted after %d attempts",
		    task->name, task->dispatch_count);
		task_finish(task);
		return;
	}
	task->schedule = now + delay;
	json_object_set_new(task->resource, "scheduleTime",
	    target_time(task->schedule));
	task_save(task);
	task_arm(task);
}

/* Builds the X-CloudTasks-* headers on top of the target's. */
static struct curl_slist *
task_headers(struct task *task, char *err, size_t errlen)
{
	static const char *const overridden[] = {
		"X-CloudTasks-QueueName", "X-CloudTasks-TaskName",
		"X-CloudTasks-TaskRetryCount",
		"X-CloudTasks-TaskExecutionCount", "X-CloudTasks-TaskETA",
		NULL
	};
	struct curl_slist *headers;
	char retries[16], executions[16], eta[32];

	if ((headers = target_headers(&task->target, overridden, 0, err,
	    errlen)) == NULL)
		return NULL;
	snprintf(retries, sizeof(retries), "%d", task->dispatch_count - 1);
	snprintf(executions, sizeof(executions), "%d", task->response_count);
	snprintf(eta, sizeof(eta), "%.6f", task->schedule);
	if (target_add_header(&headers, "User-Agent", "Google-Cloud-Tasks") ==
	    -1 || target_add_header(&headers, "X-CloudTasks-QueueName",
	    target_last_segment(task->queue->name)) == -1 ||
	    target_add_header(&headers, "X-CloudTasks-TaskName",
	    target_last_segment(task->name)) == -1 ||
	    target_add_header(&headers, "X-CloudTasks-TaskRetryCount",
	    retries) == -1 ||
	    target_add_header(&headers, "X-CloudTasks-TaskExecutionCount",
	    executions) == -1 ||
	    target_add_header(&headers, "X-CloudTasks-TaskETA", eta) == -1) {
		curl_slist_free_all(headers);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return headers;
}

/* Sends one attempt of a task. */
static void
task_attempt(struct task *task)
{
	struct deliver_request request;
	double now = target_now();
	json_t *attempt;
	char err[256];

	task->dispatch_count++;
	json_object_set_new(task->resource, "dispatchCount",
	    json_integer(task->dispatch_count));
	if (task->first_attempt == 0) {
		task->first_attempt = now;
		attempt = json_pack("{s:o, s:o}", "scheduleTime",
		    target_time(task->schedule), "dispatchTime", target_time(now));
		if (attempt != NULL)
			json_object_set_new(task->resource, "firstAttempt",
			    attempt);
	}
	if (deliver_check_url(task->target.url, err, sizeof(err)) == -1) {
		/* Sending again could not help, so keep the task, marked. */
		log_warnx("tasks: task %s not sent: %s", task->name, err);
		record_attempt(task, now, 7, err);
		task->stopped = 1;
		task_save(task);
		return;
	}
	task->dispatched = now;
	memset(&request, 0, sizeof(request));
	request.url = task->target.url;
	request.method = task->target.method;
	request.body = task->target.body;
	request.body_len = task->target.body_len;
	request.timeout = (long)ceil(task->deadline);
	request.ca_file = task->t->lc->ca_cert_path;
	if ((request.headers = task_headers(task, err, sizeof(err))) ==
	    NULL || (task->inflight = deliver_start(task->t->deliver,
	    &request, on_response, task, err, sizeof(err))) == NULL) {
		/* A local failure counts as an attempt without a response. */
		on_response(0, 0, err, task);
		return;
	}
	task_save(task);
}

static void
on_timer(evutil_socket_t fd, short events, void *arg)
{
	struct task *task = arg;

	/* libevent times with a coarse monotonic clock, which may fire a
	 * few milliseconds early by the wall clock, so re-arm until due. */
	if (target_now() < task->schedule) {
		task_arm(task);
		return;
	}
	if (task->inflight == NULL && task->resource != NULL &&
	    !task->stopped)
		task_attempt(task);
}

/* Allocates a live task around a resource (taking its reference). */
static struct task *
task_new(struct tasks *t, struct queue *q, json_t *resource, const char *name)
{
	struct task *task;

	if ((task = calloc(1, sizeof(*task))) == NULL) {
		json_decref(resource);
		return NULL;
	}
	task->t = t;
	task->queue = q;
	task->resource = resource;
	if ((task->name = strdup(name)) == NULL ||
	    (task->timer = evtimer_new(t->lc->base, on_timer, task)) ==
	    NULL) {
		task_free(task);
		return NULL;
	}
	target_file_name(name, task->file);
	return task;
}

/* Checks the task's httpRequest and dispatchDeadline. */
static int
task_configure(struct task *task, char *err, size_t errlen)
{
	json_t *http = json_object_get(task->resource, "httpRequest");

	if (json_object_get(task->resource, "appEngineHttpRequest") != NULL) {
		snprintf(err, errlen, "localcloud supports httpRequest tasks "
		    "only");
		return -1;
	}
	if (http == NULL) {
		snprintf(err, errlen, "task.httpRequest is required");
		return -1;
	}
	target_clear(&task->target);
	if (target_parse(http, "url", &task->target, err, errlen) == -1)
		return -1;
	return target_read_duration(task->resource, "dispatchDeadline",
	    TASKS_DEADLINE, TASKS_DEADLINE_MIN, TASKS_DEADLINE_MAX,
	    &task->deadline, err, errlen);
}

/* Reads task.scheduleTime: unset or past means now. */
static int
read_schedule(json_t *resource, double now, double *schedule, char *err,
    size_t errlen)
{
	const char *text = json_string_value(json_object_get(resource,
	    "scheduleTime"));
	struct timespec ts;

	*schedule = now;
	if (json_object_get(resource, "scheduleTime") == NULL)
		return 0;
	if (text == NULL || lc_parse_time(text, &ts) == -1) {
		snprintf(err, errlen, "scheduleTime must be an RFC 3339 time");
		return -1;
	}
	*schedule = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (*schedule > now + TASKS_SCHEDULE_MAX) {
		snprintf(err, errlen, "scheduleTime is more than 30 days "
		    "ahead");
		return -1;
	}
	if (*schedule < now)
		*schedule = now;
	return 0;
}

/* Makes a task id of 19 random digits, the form Cloud Tasks uses. */
static void
random_task_id(char id[20])
{
	unsigned char rnd[19];
	int i;

	randombytes_buf(rnd, sizeof(rnd));
	for (i = 0; i < 19; i++)
		id[i] = (char)('0' + rnd[i] % 10);
	if (id[0] == '0')
		id[0] = '1';
	id[19] = '\0';
}

static void
reply_invalid(struct evhttp_request *req, const char *err)
{
	lc_reply_google_error(req, 400, "INVALID_ARGUMENT", "%s.", err);
}

/* Checks the task name against the queue, or makes one. Replies and
 * returns -1 on a bad or taken name. */
static int
task_name(struct tasks *t, struct evhttp_request *req, json_t *task,
    const char *queue, char *name, size_t size)
{
	const char *given = json_string_value(json_object_get(task, "name"));
	size_t qlen = strlen(queue);
	struct task *old;
	char id[20];

	if (given == NULL || *given == '\0') {
		random_task_id(id);
		snprintf(name, size, "%s/tasks/%s", queue, id);
		json_object_set_new(task, "name", json_string(name));
		return 0;
	}
	if (strncmp(given, queue, qlen) != 0 ||
	    strncmp(given + qlen, "/tasks/", 7) != 0 ||
	    !target_valid_id(given + qlen + 7, TASKS_TASK_ID_MAX, 1) ||
	    (size_t)snprintf(name, size, "%s", given) >= size) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Task name must be %s/tasks/TASK_ID, where TASK_ID has 1 "
		    "to %d letters, digits, hyphens or underscores.", queue,
		    TASKS_TASK_ID_MAX);
		return -1;
	}
	purge_tombstones(t);
	if ((old = find_task(t, name)) != NULL) {
		lc_reply_google_error(req, 409, "ALREADY_EXISTS",
		    "Requested entity already exists: %s%s.", name,
		    old->resource == NULL ? " (a task of that name ran or was "
		    "deleted within the last hour)" : "");
		return -1;
	}
	return 0;
}

/* Removes the output-only fields a client may have sent. */
static void
strip_output_fields(json_t *r)
{
	static const char *const output[] = {
		"createTime", "dispatchCount", "responseCount",
		"firstAttempt", "lastAttempt", "view", NULL
	};
	int i;

	for (i = 0; output[i] != NULL; i++)
		json_object_del(r, output[i]);
}

/* POST .../queues/Q/tasks with body {"task": {...}}. */
static void
handle_create_task(struct tasks *t, struct evhttp_request *req,
    const char *queue_name)
{
	json_t *body, *resource;
	struct queue *q;
	struct task *task;
	char name[LC_PATH_MAX], err[512];
	double now = target_now(), schedule;

	if (lc_read_json(req, TASKS_BODY_MAX, &body) == -1)
		return;
	resource = json_object_get(body, "task");
	if (!json_is_object(resource)) {
		reply_invalid(req, "The body must be {\"task\": {...}}");
		goto done;
	}
	if (task_name(t, req, resource, queue_name, name, sizeof(name)) == -1)
		goto done;
	if (read_schedule(resource, now, &schedule, err, sizeof(err)) == -1) {
		reply_invalid(req, err);
		goto done;
	}
	if (t->ntasks == TASKS_MAX)
		purge_tombstones(t);
	if (t->ntasks == TASKS_MAX) {
		lc_reply_google_error(req, 429, "RESOURCE_EXHAUSTED",
		    "localcloud holds at most %d tasks.", TASKS_MAX);
		goto done;
	}
	strip_output_fields(resource);
	if ((q = find_queue(t, queue_name)) == NULL && (q = queue_add(t,
	    json_object(), queue_name, err, sizeof(err))) == NULL) {
		lc_reply_google_error(req, 500, "INTERNAL", "%s.", err);
		goto done;
	}
	if ((task = task_new(t, q, json_incref(resource), name)) == NULL) {
		lc_reply_google_error(req, 500, "INTERNAL", "Out of memory.");
		goto done;
	}
	if (task_configure(task, err, sizeof(err)) == -1) {
		reply_invalid(req, err);
		task_free(task);
		goto done;
	}
	task->schedule = schedule;
	json_object_set_new(resource, "scheduleTime", target_time(schedule));
	json_object_set_new(resource, "createTime", target_time(now));
	json_object_set_new(resource, "dispatchCount", json_integer(0));
	json_object_set_new(resource, "responseCount", json_integer(0));
	json_object_set_new(resource, "view", json_string("BASIC"));
	t->tasks[t->ntasks++] = task;
	task_save(task);
	task_arm(task);
	log_info("tasks: created task %s", name);
	lc_reply_json(req, 200, json_incref(task->resource));
done:
	json_decref(body);
}

/* GET .../queues/Q/tasks: the queue's live tasks, sorted by name. */
static void
handle_list_tasks(struct tasks *t, struct evhttp_request *req,
    const char *queue_name)
{
	json_t *list = json_array(), *out = json_object();
	size_t i, j;

	if (list == NULL || out == NULL) {
		json_decref(list);
		lc_reply_json(req, 200, NULL);
		json_decref(out);
		return;
	}
	for (i = 0; i < t->ntasks; i++) {
		struct task *task = t->tasks[i];

		if (task->resource == NULL ||
		    strcmp(task->queue->name, queue_name) != 0)
			continue;
		for (j = 0; j < json_array_size(list); j++)
			if (strcmp(json_string_value(json_object_get(
			    json_array_get(list, j), "name")), task->name) > 0)
				break;
		json_array_insert(list, j, task->resource);
	}
	if (json_array_size(list) > 0)
		json_object_set(out, "tasks", list);
	json_decref(list);
	lc_reply_json(req, 200, out);
}

/* Routes .../queues/Q/tasks/T[:run]. */
static void
handle_task(struct tasks *t, struct evhttp_request *req,
    const char *queue_name, const char *rest)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	const char *colon = strchr(rest, ':');
	size_t id_len = colon != NULL ? (size_t)(colon - rest) : strlen(rest);
	char name[LC_PATH_MAX];
	struct task *task;

	if (snprintf(name, sizeof(name), "%s/tasks/%.*s", queue_name,
	    (int)id_len, rest) >= (int)sizeof(name) ||
	    (task = find_task(t, name)) == NULL || task->resource == NULL) {
		lc_reply_google_error(req, 404, "NOT_FOUND",
		    "Requested entity was not found.");
		return;
	}
	if (colon != NULL) {
		if (method != EVHTTP_REQ_POST || strcmp(colon, ":run") != 0) {
			lc_reply_google_error(req, 404, "NOT_FOUND",
			    "Unknown method; tasks support POST :run.");
			return;
		}
		if (task->inflight == NULL) {
			task->stopped = 0;
			task->schedule = target_now();
			evtimer_del(task->timer);
			task_attempt(task);
		}
		if (task->resource != NULL)
			lc_reply_json(req, 200, json_incref(task->resource));
		else
			lc_reply_json(req, 200, json_pack("{s:s}", "name",
			    name));
		return;
	}
	if (method == EVHTTP_REQ_GET) {
		lc_reply_json(req, 200, json_incref(task->resource));
	} else if (method == EVHTTP_REQ_DELETE) {
		log_info("tasks: deleted task %s", task->name);
		task_finish(task);
		lc_reply_json(req, 200, json_object());
	} else {
		lc_reply_google_error(req, 405, "INVALID_ARGUMENT",
		    "Method %s is not allowed here.", lc_method_name(method));
	}
}

/* POST .../queues with a Queue body, to set retryConfig up front. */
static void
handle_create_queue(struct tasks *t, struct evhttp_request *req,
    const char *parent)
{
	json_t *body;
	const char *name;
	size_t plen = strlen(parent);
	char err[512];
	struct queue *q;

	if (lc_read_json(req, TASKS_BODY_MAX, &body) == -1)
		return;
	name = json_string_value(json_object_get(body, "name"));
	if (name == NULL || strncmp(name, parent, plen) != 0 ||
	    strncmp(name + plen, "/queues/", 8) != 0 ||
	    !target_valid_id(name + plen + 8, TASKS_QUEUE_ID_MAX, 0)) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Queue name must be %s/queues/QUEUE_ID, where QUEUE_ID "
		    "has 1 to %d letters, digits or hyphens.", parent,
		    TASKS_QUEUE_ID_MAX);
		json_decref(body);
		return;
	}
	if (find_queue(t, name) != NULL) {
		lc_reply_google_error(req, 409, "ALREADY_EXISTS",
		    "Queue %s already exists.", name);
		json_decref(body);
		return;
	}
	if ((q = queue_add(t, json_deep_copy(body), name, err,
	    sizeof(err))) == NULL)
		reply_invalid(req, err);
	else
		lc_reply_json(req, 200, json_incref(q->resource));
	json_decref(body);
}

/* Routes .../queues[/Q[/tasks[/T]]]. */
static void
handle_queues(struct tasks *t, struct evhttp_request *req,
    const char *parent, const char *rest)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	char queue_name[LC_PATH_MAX];
	size_t qlen;
	struct queue *q;

	if (*rest == '\0') {
		if (method == EVHTTP_REQ_POST) {
			handle_create_queue(t, req, parent);
			return;
		}
		lc_reply_google_error(req, 405, "INVALID_ARGUMENT",
		    "Use POST to create a queue.");
		return;
	}
	rest++;
	qlen = strcspn(rest, "/");
	if (snprintf(queue_name, sizeof(queue_name), "%s/queues/%.*s",
	    parent, (int)qlen, rest) >= (int)sizeof(queue_name) ||
	    !target_valid_id(queue_name + strlen(parent) + 8, TASKS_QUEUE_ID_MAX,
	    0)) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Invalid queue id: 1 to %d letters, digits or hyphens.",
		    TASKS_QUEUE_ID_MAX);
		return;
	}
	rest += qlen;
	if (*rest == '\0') {
		if (method == EVHTTP_REQ_GET &&
		    (q = find_queue(t, queue_name)) != NULL)
			lc_reply_json(req, 200, json_incref(q->resource));
		else
			lc_reply_google_error(req, 404, "NOT_FOUND",
			    "Queue %s does not exist.", queue_name);
		return;
	}
	if (strcmp(rest, "/tasks") == 0) {
		if (method == EVHTTP_REQ_POST)
			handle_create_task(t, req, queue_name);
		else if (method == EVHTTP_REQ_GET)
			handle_list_tasks(t, req, queue_name);
		else
			lc_reply_google_error(req, 405, "INVALID_ARGUMENT",
			    "Use GET or POST on a tasks collection.");
		return;
	}
	if (strncmp(rest, "/tasks/", 7) == 0) {
		handle_task(t, req, queue_name, rest + 7);
		return;
	}
	lc_reply_google_error(req, 404, "NOT_FOUND", "Not found.");
}

static int
tasks_route(struct lc *lc, struct evhttp_request *req, const char *path,
    const char *query)
{
	const char *p = path + 13, *loc, *rest;
	char parent[LC_PATH_MAX];
	size_t plen, llen;

	/* /v2/projects/P/locations/L/queues... */
	if (strncmp(path, "/v2/projects/", 13) != 0)
		return 0;
	plen = strcspn(p, "/");
	if (plen == 0 || strncmp(p + plen, "/locations/", 11) != 0)
		return 0;
	loc = p + plen + 11;
	llen = strcspn(loc, "/");
	rest = loc + llen;
	if (llen == 0 || strncmp(rest, "/queues", 7) != 0 ||
	    (rest[7] != '\0' && rest[7] != '/'))
		return 0;
	if (snprintf(parent, sizeof(parent), "projects/%.*s/locations/%.*s",
	    (int)plen, p, (int)llen, loc) >= (int)sizeof(parent)) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "The path is too long.");
		return 1;
	}
	handle_queues(lc->tasks, req, parent, rest + 7);
	return 1;
}

/* Reads a JSON record of the tasks folders, or returns NULL. */
static json_t *
read_record(const char *dir, const char *file)
{
	char path[LC_PATH_MAX], *text;
	json_t *rec;
	size_t len;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >=
	    (int)sizeof(path))
		return NULL;
	if ((text = durable_read(path, TASKS_FILE_MAX, &len)) == NULL) {
		log_warn("tasks: cannot read %s", path);
		return NULL;
	}
	rec = json_loadb(text, len, 0, NULL);
	free(text);
	if (!json_is_object(rec)) {
		log_warnx("tasks: %s/%s is not a JSON object", dir, file);
		json_decref(rec);
		return NULL;
	}
	return rec;
}

static void
load_queue(struct tasks *t, const char *file)
{
	json_t *rec = read_record(t->queue_dir, file), *resource;
	const char *name;
	char err[256];

	resource = json_object_get(rec, "queue");
	name = json_string_value(json_object_get(resource, "name"));
	if (name == NULL || find_queue(t, name) != NULL ||
	    queue_add(t, json_deep_copy(resource), name, err,
	    sizeof(err)) == NULL)
		log_warnx("tasks: %s/%s is not a valid queue record",
		    t->queue_dir, file);
	json_decref(rec);
}

/* Loads a task or a tombstone. A live task due in the past fires at
 * once. */
static void
load_task(struct tasks *t, const char *file)
{
	json_t *rec = read_record(t->task_dir, file), *resource;
	const char *name, *queue;
	struct queue *q;
	struct task *task;
	char err[512];

	if (rec == NULL || t->ntasks == TASKS_MAX)
		goto bad;
	resource = json_object_get(rec, "task");
	if (resource == NULL) {
		name = json_string_value(json_object_get(rec, "name"));
		if (name == NULL || (task = calloc(1, sizeof(*task))) == NULL)
			goto bad;
		task->t = t;
		if ((task->name = strdup(name)) == NULL) {
			free(task);
			goto bad;
		}
		task->gone_at = json_number_value(json_object_get(rec,
		    "goneAt"));
		target_file_name(name, task->file);
		t->tasks[t->ntasks++] = task;
		json_decref(rec);
		return;
	}
	name = json_string_value(json_object_get(resource, "name"));
	queue = json_string_value(json_object_get(rec, "queue"));
	if (name == NULL || queue == NULL || find_task(t, name) != NULL ||
	    ((q = find_queue(t, queue)) == NULL && (q = queue_add(t,
	    json_object(), queue, err, sizeof(err))) == NULL) ||
	    (task = task_new(t, q, json_incref(resource), name)) == NULL)
		goto bad;
	if (task_configure(task, err, sizeof(err)) == -1) {
		task_free(task);
		goto bad;
	}
	task->schedule = json_number_value(json_object_get(rec, "schedule"));
	task->first_attempt = json_number_value(json_object_get(rec,
	    "firstAttempt"));
	task->stopped = json_is_true(json_object_get(rec, "stopped"));
	task->dispatch_count = (int)json_integer_value(json_object_get(
	    resource, "dispatchCount"));
	task->response_count = (int)json_integer_value(json_object_get(
	    resource, "responseCount"));
	t->tasks[t->ntasks++] = task;
	if (!task->stopped)
		task_arm(task);
	json_decref(rec);
	return;

bad:
	log_warnx("tasks: %s/%s is not a valid task record; skipped",
	    t->task_dir, file);
	json_decref(rec);
}

/* Calls fn for each NAME.json file of dir. */
static int
load_dir(struct tasks *t, const char *dir,
    void (*fn)(struct tasks *, const char *))
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		log_warn("tasks: cannot open %s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strlen(de->d_name) == 64 + 5 &&
		    strcmp(de->d_name + 64, ".json") == 0)
			fn(t, de->d_name);
	closedir(d);
	return 0;
}

static int
tasks_init(struct lc *lc)
{
	struct tasks *t;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->tasks = calloc(TASKS_MAX, sizeof(*t->tasks))) == NULL) {
		free(t);
		return -1;
	}
	t->lc = lc;
	if (snprintf(t->task_dir, sizeof(t->task_dir), "%s/tasks/tasks",
	    lc->data_dir) >= (int)sizeof(t->task_dir) ||
	    snprintf(t->queue_dir, sizeof(t->queue_dir), "%s/tasks/queues",
	    lc->data_dir) >= (int)sizeof(t->queue_dir) ||
	    durable_mkdir(t->task_dir) == -1 ||
	    durable_mkdir(t->queue_dir) == -1) {
		log_warn("tasks: cannot create %s", t->task_dir);
		goto fail;
	}
	if (tokens_open(lc) == -1)
		goto fail;
	if ((t->deliver = deliver_new(lc->base)) == NULL) {
		log_warnx("tasks: cannot set up libcurl");
		tokens_close();
		goto fail;
	}
	lc->tasks = t;
	if (load_dir(t, t->queue_dir, load_queue) == -1 ||
	    load_dir(t, t->task_dir, load_task) == -1) {
		lc->tasks = NULL;
		deliver_free(t->deliver);
		tokens_close();
		goto fail;
	}
	purge_tombstones(t);
	log_info("tasks: %zu queues, %zu tasks and reserved names",
	    t->nqueues, t->ntasks);
	return 0;

fail:
	while (t->ntasks > 0)
		task_free(t->tasks[--t->ntasks]);
	while (t->nqueues > 0)
		queue_free(t->queues[--t->nqueues]);
	free(t->tasks);
	free(t);
	return -1;
}

static void
tasks_shutdown(struct lc *lc)
{
	struct tasks *t = lc->tasks;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->ntasks; i++)
		task_free(t->tasks[i]);
	for (i = 0; i < t->nqueues; i++)
		queue_free(t->queues[i]);
	deliver_free(t->deliver);
	free(t->tasks);
	free(t);
	lc->tasks = NULL;
	tokens_close();
}

const struct lc_module tasks_module = {
	"tasks", tasks_init, tasks_route, tasks_shutdown
};

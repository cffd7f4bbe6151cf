/*
 * Cloud Scheduler v1: HTTP-target jobs with five-field unix-cron schedules
 * in a time zone, under /v1/projects/{p}/locations/{l}/jobs. When a job is
 * due, localcloud sends its request (loopback targets only) with an OIDC
 * token signed by its own key and the headers Scheduler adds, retries per
 * retryConfig, and records state, status, scheduleTime and
 * lastAttemptTime. Jobs survive restarts in <data_dir>/scheduler/jobs/.
 *
 * Faster firing for local runs: LOCALCLOUD_SCHEDULER_TIME_SCALE=N (an
 * integer from 1, the default, to 3600) makes each job's clock run N
 * times faster from the moment it is created or localcloud starts, so
 * the wait until every run and every retry backoff is divided by N. With
 * N=60 a job due in two minutes fires in two seconds and "* * * * *"
 * fires about every second. The request body is unchanged; scheduleTime,
 * lastAttemptTime and X-CloudScheduler-ScheduleTime report the real
 * (scaled) times at which localcloud fires.
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

#include "cron.h"
#include "deliver.h"
#include "durable.h"
#include "log.h"
#include "localcloud.h"
#include "target.h"
#include "tokens.h"

#define SCHED_MAX_JOBS		1000
#define SCHED_BODY_MAX		(2 * 1024 * 1024)	/* bytes */
#define SCHED_FILE_MAX		(4 * 1024 * 1024)	/* bytes */
#define SCHED_ID_MAX		500	/* characters of a job id */
#define SCHED_DESCRIPTION_MAX	500
#define SCHED_SCALE_MAX		3600
/* retryConfig defaults and limits, in seconds where timed. */
#define SCHED_RETRY_COUNT_MAX	5
#define SCHED_MIN_BACKOFF	5.0
#define SCHED_MAX_BACKOFF	3600.0
#define SCHED_MAX_DOUBLINGS	5
/* attemptDeadline default and range for HTTP targets, in seconds. */
#define JOB_DEADLINE_DEFAULT	180.0
#define JOB_DEADLINE_MIN	15.0
#define JOB_DEADLINE_MAX	1800.0

struct sched;

/* Cloud Scheduler's retryConfig defaults. */
static const struct target_backoff sched_backoff = {
	SCHED_MIN_BACKOFF, SCHED_MAX_BACKOFF, 0, SCHED_MAX_DOUBLINGS
};

struct job {
	struct sched	*s;
	char		*name;		/* projects/P/locations/L/jobs/ID */
	char		 file[72];	/* hex SHA-256 of name + ".json" */
	json_t		*resource;	/* the Job as the API returns it */
	struct target	 target;	/* points into resource */
	struct cron	 cron;
	const char	*zone;		/* points into resource */
	int		 retry_count;
	struct target_backoff backoff;
	double		 deadline;

	/* The job's clock: virtual = anchor_virtual + (real - anchor_real)
	 * * scale. Cron times are virtual, and timers are real. */
	double		 anchor_real;
	double		 anchor_virtual;
	double		 cursor;	/* virtual time of the next run */
	double		 next_real;	/* real time of the next run */
	int		 has_next;

	double		 exec_time;	/* real schedule time being run */
	double		 exec_first;	/* first attempt of that run */
	int		 retry;		/* retries made in that run */
	int		 retrying;	/* the timer is for a retry */
	double		 due;		/* real time the timer is for */
	struct event	*timer;
	struct delivery	*inflight;
};

struct sched {
	struct lc	*lc;
	struct deliver	*deliver;
	char		 dir[LC_PATH_MAX];
	struct job	*jobs[SCHED_MAX_JOBS];
	size_t		 count;
	double		 scale;
};

static void	on_timer(evutil_socket_t, short, void *);
static void	job_attempt(struct job *);

static struct job *
find_job(struct sched *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->count; i++)
		if (strcmp(s->jobs[i]->name, name) == 0)
			return s->jobs[i];
	return NULL;
}

static void
job_free(struct job *job)
{
	if (job == NULL)
		return;
	deliver_cancel(job->inflight);
	if (job->timer != NULL)
		event_free(job->timer);
	target_clear(&job->target);
	json_decref(job->resource);
	free(job->name);
	free(job);
}

/* Writes the job and its clock to its file. */
static void
job_save(struct job *job)
{
	json_t *rec;

	rec = json_pack("{s:O, s:f, s:f, s:f, s:f, s:f, s:b}",
	    "job", job->resource, "anchorReal", job->anchor_real,
	    "anchorVirtual", job->anchor_virtual,
	    "timeScale", job->s->scale, "cursor", job->cursor,
	    "nextRun", job->next_real, "hasNext", job->has_next);
	if (rec == NULL || durable_write_json(job->s->dir, job->file,
	    rec) == -1)
		log_warn("scheduler: cannot save job %s", job->name);
	json_decref(rec);
}

/* Reads retryConfig, filling in its defaults. */
static int
read_retry_config(struct job *job, char *err, size_t errlen)
{
	json_t *rc = json_object_get(job->resource, "retryConfig"), *v;

	if (rc == NULL) {
		rc = json_object();
		json_object_set_new(job->resource, "retryConfig", rc);
	}
	if (!json_is_object(rc)) {
		snprintf(err, errlen, "retryConfig must be an object");
		return -1;
	}
	v = json_object_get(rc, "retryCount");
	job->retry_count = v != NULL ? (int)json_integer_value(v) : 0;
	if ((v != NULL && !json_is_integer(v)) ||
	    (v != NULL && (json_integer_value(v) < 0 ||
	    json_integer_value(v) > SCHED_RETRY_COUNT_MAX))) {
		snprintf(err, errlen, "retryConfig.retryCount must be 0 to %d",
		    SCHED_RETRY_COUNT_MAX);
		return -1;
	}
	return target_read_backoff(rc, "minBackoffDuration",
	    "maxBackoffDuration", &sched_backoff, &job->backoff, err, errlen);
}

/* Checks the Job's fields and fills the parsed ones, or explains the 400
 * in err. */
static int
job_configure(struct job *job, char *err, size_t errlen)
{
	json_t *r = job->resource, *v;
	const char *schedule;

	if (json_object_get(r, "pubsubTarget") != NULL ||
	    json_object_get(r, "appEngineHttpTarget") != NULL) {
		snprintf(err, errlen, "localcloud supports httpTarget jobs "
		    "only");
		return -1;
	}
	if ((schedule = json_string_value(json_object_get(r,
	    "schedule"))) == NULL) {
		snprintf(err, errlen, "schedule is required");
		return -1;
	}
	if (cron_parse(schedule, &job->cron, err, errlen) == -1)
		return -1;
	if (json_object_get(r, "timeZone") == NULL ||
	    json_string_length(json_object_get(r, "timeZone")) == 0)
		json_object_set_new(r, "timeZone", json_string("UTC"));
	job->zone = json_string_value(json_object_get(r, "timeZone"));
	if (job->zone == NULL || !cron_valid_zone(job->zone)) {
		snprintf(err, errlen, "timeZone must be a time zone database "
		    "name such as \"Europe/Paris\" or \"UTC\"");
		return -1;
	}
	if ((v = json_object_get(r, "description")) != NULL &&
	    (!json_is_string(v) ||
	    json_string_length(v) > SCHED_DESCRIPTION_MAX)) {
		snprintf(err, errlen, "description must be a string of at "
		    "most %d characters", SCHED_DESCRIPTION_MAX);
		return -1;
	}
	if ((v = json_object_get(r, "httpTarget")) == NULL) {
		snprintf(err, errlen, "httpTarget is required");
		return -1;
	}
	target_clear(&job->target);
	if (target_parse(v, "uri", &job->target, err, errlen) == -1)
		return -1;
	if (read_retry_config(job, err, errlen) == -1 ||
	    target_read_duration(r, "attemptDeadline", JOB_DEADLINE_DEFAULT,
	    JOB_DEADLINE_MIN, JOB_DEADLINE_MAX, &job->deadline, err,
	    errlen) == -1)
		return -1;
	return 0;
}

/* Computes the next run after the current cursor and now. Clears
 * scheduleTime when the schedule has no next run. */
static void
job_plan_next(struct job *job, double now)
{
	double vnow, base;
	time_t next;

	vnow = job->anchor_virtual + (now - job->anchor_real) * job->s->scale;
	base = vnow > job->cursor ? vnow : job->cursor;
	if (cron_next(&job->cron, job->zone, (time_t)floor(base),
	    &next) == -1) {
		log_warnx("scheduler: job %s has no next run", job->name);
		job->has_next = 0;
		json_object_del(job->resource, "scheduleTime");
		return;
	}
	job->cursor = (double)next;
	job->next_real = job->anchor_real + ((double)next -
	    job->anchor_virtual) / job->s->scale;
	job->has_next = 1;
	json_object_set_new(job->resource, "scheduleTime",
	    target_time(job->next_real));
}

/* Arms the timer for a real time, or at once when it has passed. */
static void
job_arm(struct job *job, double when)
{
	double delay = when - target_now();
	struct timeval tv;

	job->due = when;
	if (delay < 0)
		delay = 0;
	tv.tv_sec = (time_t)floor(delay);
	tv.tv_usec = (suseconds_t)((delay - floor(delay)) * 1e6);
	if (evtimer_add(job->timer, &tv) == -1)
		log_warnx("scheduler: cannot arm the timer of %s", job->name);
}

static int
job_enabled(const struct job *job)
{
	const char *state = json_string_value(json_object_get(job->resource,
	    "state"));

	return state != NULL && strcmp(state, "ENABLED") == 0;
}

/* Ends the current run: plans and arms the next one. */
static void
job_finish_run(struct job *job)
{
	job->retry = 0;
	job->retrying = 0;
	job_plan_next(job, target_now());
	if (job->has_next && job_enabled(job))
		job_arm(job, job->next_real);
	job_save(job);
}

/* Records a failed attempt and retries it when retryConfig allows and
 * the retry comes before the next scheduled run. */
static void
job_failed(struct job *job, int code, const char *message, int retryable)
{
	double delay, at, vnow, next_real;
	time_t next;

	json_object_set_new(job->resource, "status", json_pack("{s:i, s:s}",
	    "code", code, "message", message));
	log_warnx("scheduler: job %s attempt failed: %s", job->name,
	    message);
	if (!retryable || job->retry >= job->retry_count ||
	    deliver_backoff(job->backoff.min, job->backoff.max,
	    job->backoff.max_doublings, job->retry + 1, &delay) == -1) {
		job_finish_run(job);
		return;
	}
	at = target_now() + delay / job->s->scale;
	if (job->backoff.max_retry_duration > 0 && (at - job->exec_first) *
	    job->s->scale > job->backoff.max_retry_duration) {
		job_finish_run(job);
		return;
	}
	vnow = job->anchor_virtual + (target_now() - job->anchor_real) *
	    job->s->scale;
	if (cron_next(&job->cron, job->zone, (time_t)floor(vnow >
	    job->cursor ? vnow : job->cursor), &next) == 0) {
		next_real = job->anchor_real + ((double)next -
		    job->anchor_virtual) / job->s->scale;
		if (at >= next_real) {
			job_finish_run(job);
			return;
		}
	}
	job->retry++;
	job->retrying = 1;
	job_arm(job, at);
	job_save(job);
}

static void
on_response(long status, int timed_out, const char *error, void *arg)
{
	struct job *job = arg;
	char message[300];

	job->inflight = NULL;
	if (status >= 200 && status < 300) {
		json_object_set_new(job->resource, "status", json_object());
		log_info("scheduler: job %s ran: HTTP %ld", job->name, status);
		job_finish_run(job);
		return;
	}
	if (status == 0)
		snprintf(message, sizeof(message), "The request failed: %s.",
		    error != NULL ? error : "no response");
	else
		snprintf(message, sizeof(message), "The target returned HTTP "
		    "%ld.", status);
	/* An attemptDeadline expiry is DEADLINE_EXCEEDED (4). */
	job_failed(job, timed_out ? 4 : target_rpc_code(status), message, 1);
}

/* Sends one attempt of the current run. */
static void
job_attempt(struct job *job)
{
	static const char *const overridden[] = {
		"X-CloudScheduler", "X-CloudScheduler-JobName",
		"X-CloudScheduler-ScheduleTime", NULL
	};
	struct deliver_request request;
	struct curl_slist *headers;
	json_t *when = json_object();
	char err[256];

	json_object_set_new(job->resource, "lastAttemptTime",
	    target_time(target_now()));
	if (deliver_check_url(job->target.url, err, sizeof(err)) == -1) {
		json_decref(when);
		job_failed(job, 7, err, 0);
		return;
	}
	json_object_set_new(when, "t", target_time(job->exec_time));
	headers = target_headers(&job->target, overridden, 1, err,
	    sizeof(err));
	if (headers == NULL ||
	    target_add_header(&headers, "User-Agent",
	    "Google-Cloud-Scheduler") == -1 ||
	    target_add_header(&headers, "X-CloudScheduler", "true") == -1 ||
	    target_add_header(&headers, "X-CloudScheduler-JobName",
	    target_last_segment(job->name)) == -1 ||
	    target_add_header(&headers, "X-CloudScheduler-ScheduleTime",
	    json_string_value(json_object_get(when, "t"))) == -1) {
		json_decref(when);
		curl_slist_free_all(headers);
		job_failed(job, 13, headers == NULL ? err : "out of memory",
		    1);
		return;
	}
	json_decref(when);
	memset(&request, 0, sizeof(request));
	request.url = job->target.url;
	request.method = job->target.method;
	request.headers = headers;
	request.body = job->target.body;
	request.body_len = job->target.body_len;
	request.timeout = (long)ceil(job->deadline);
	request.ca_file = job->s->lc->ca_cert_path;
	job->inflight = deliver_start(job->s->deliver, &request, on_response,
	    job, err, sizeof(err));
	if (job->inflight == NULL)
		job_failed(job, 14, err, 1);
}

/* Starts a run, or a retry of the current one. A new run never starts
 * while the previous one is in flight. */
static void
on_timer(evutil_socket_t fd, short events, void *arg)
{
	struct job *job = arg;

	/* libevent times with a coarse monotonic clock, which may fire a
	 * few milliseconds early by the wall clock, so re-arm until due. */
	if (target_now() < job->due) {
		job_arm(job, job->due);
		return;
	}
	if (job->inflight != NULL) {
		log_warnx("scheduler: job %s is still running; run skipped",
		    job->name);
		job_finish_run(job);
		return;
	}
	if (!job->retrying) {
		job->exec_time = job->next_real;
		job->exec_first = target_now();
		job->retry = 0;
	}
	job->retrying = 0;
	job_attempt(job);
}

/* Allocates a job around a resource (taking its reference). */
static struct job *
job_new(struct sched *s, json_t *resource, const char *name)
{
	struct job *job;

	if ((job = calloc(1, sizeof(*job))) == NULL) {
		json_decref(resource);
		return NULL;
	}
	job->s = s;
	job->resource = resource;
	if ((job->name = strdup(name)) == NULL ||
	    (job->timer = evtimer_new(s->lc->base, on_timer, job)) == NULL) {
		job_free(job);
		return NULL;
	}
	target_file_name(name, job->file);
	return job;
}

/* Removes the output-only fields a client may have sent. */
static void
strip_output_fields(json_t *r)
{
	static const char *const output[] = {
		"state", "status", "scheduleTime", "lastAttemptTime",
		"userUpdateTime", NULL
	};
	int i;

	for (i = 0; output[i] != NULL; i++)
		json_object_del(r, output[i]);
}

/* POST .../jobs: the body is the Job, with its full name. */
static void
handle_create(struct sched *s, struct evhttp_request *req,
    const char *parent)
{
	json_t *body;
	struct job *job;
	const char *name, *id;
	char generated[LC_PATH_MAX], err[512], uuid[37];
	size_t plen = strlen(parent);
	double now = target_now();

	if (lc_read_json(req, SCHED_BODY_MAX, &body) == -1)
		return;
	if ((name = json_string_value(json_object_get(body, "name"))) ==
	    NULL || *name == '\0') {
		lc_uuid(uuid);
		snprintf(generated, sizeof(generated), "%s/jobs/%.8s%.4s",
		    parent, uuid, uuid + 9);
		json_object_set_new(body, "name", json_string(generated));
		name = json_string_value(json_object_get(body, "name"));
	}
	id = name + plen + 6;
	if (strncmp(name, parent, plen) != 0 ||
	    strncmp(name + plen, "/jobs/", 6) != 0 || !target_valid_id(id, SCHED_ID_MAX, 1)) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Job name must be %s/jobs/JOB_ID, where JOB_ID has 1 to "
		    "%d letters, digits, hyphens or underscores.", parent,
		    SCHED_ID_MAX);
		json_decref(body);
		return;
	}
	if (find_job(s, name) != NULL) {
		lc_reply_google_error(req, 409, "ALREADY_EXISTS",
		    "Job %s already exists.", name);
		json_decref(body);
		return;
	}
	if (s->count == SCHED_MAX_JOBS) {
		lc_reply_google_error(req, 429, "RESOURCE_EXHAUSTED",
		    "localcloud holds at most %d jobs.", SCHED_MAX_JOBS);
		json_decref(body);
		return;
	}
	strip_output_fields(body);
	if ((job = job_new(s, body, name)) == NULL) {
		lc_reply_google_error(req, 500, "INTERNAL", "Out of memory.");
		return;
	}
	if (job_configure(job, err, sizeof(err)) == -1) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT", "%s.",
		    err);
		job_free(job);
		return;
	}
	json_object_set_new(job->resource, "state", json_string("ENABLED"));
	json_object_set_new(job->resource, "userUpdateTime",
	    target_time(now));
	job->anchor_real = job->anchor_virtual = now;
	job_plan_next(job, now);
	if (job->has_next)
		job_arm(job, job->next_real);
	s->jobs[s->count++] = job;
	job_save(job);
	log_info("scheduler: created job %s, schedule \"%s\" %s", job->name,
	    json_string_value(json_object_get(job->resource, "schedule")),
	    job->zone);
	lc_reply_json(req, 200, json_incref(job->resource));
}

/* GET .../jobs: the jobs under parent, sorted by name. */
static void
handle_list(struct sched *s, struct evhttp_request *req, const char *parent)
{
	json_t *jobs = json_array(), *out;
	size_t i, j, plen = strlen(parent);

	if (jobs == NULL) {
		lc_reply_json(req, 200, NULL);
		return;
	}
	for (i = 0; i < s->count; i++) {
		const char *name = s->jobs[i]->name;

		if (strncmp(name, parent, plen) != 0 || name[plen] != '/')
			continue;
		for (j = 0; j < json_array_size(jobs); j++)
			if (strcmp(json_string_value(json_object_get(
			    json_array_get(jobs, j), "name")), name) > 0)
				break;
		json_array_insert(jobs, j, s->jobs[i]->resource);
	}
	out = json_object();
	if (out != NULL && json_array_size(jobs) > 0)
		json_object_set(out, "jobs", jobs);
	json_decref(jobs);
	lc_reply_json(req, 200, out);
}

static void
job_remove(struct sched *s, struct job *job)
{
	size_t i;

	for (i = 0; i < s->count; i++)
		if (s->jobs[i] == job)
			break;
	if (i == s->count)
		return;
	s->jobs[i] = s->jobs[--s->count];
	if (durable_remove(s->dir, job->file) == -1)
		log_warn("scheduler: cannot remove the file of %s", job->name);
	job_free(job);
}

/* POST .../jobs/ID:pause, :resume or :run. */
static void
handle_verb(struct sched *s, struct evhttp_request *req, struct job *job,
    const char *verb)
{
	if (strcmp(verb, "pause") == 0) {
		json_object_set_new(job->resource, "state",
		    json_string("PAUSED"));
		evtimer_del(job->timer);
	} else if (strcmp(verb, "resume") == 0) {
		json_object_set_new(job->resource, "state",
		    json_string("ENABLED"));
		job_plan_next(job, target_now());
		if (job->has_next && job->inflight == NULL)
			job_arm(job, job->next_real);
	} else if (strcmp(verb, "run") == 0) {
		if (job->inflight != NULL) {
			lc_reply_google_error(req, 400, "FAILED_PRECONDITION",
			    "Job %s is already running.", job->name);
			return;
		}
		evtimer_del(job->timer);
		job->exec_time = job->exec_first = target_now();
		job->retry = 0;
		job->retrying = 0;
		job_attempt(job);
	} else {
		lc_reply_google_error(req, 404, "NOT_FOUND",
		    "Unknown method :%s; expected :pause, :resume or :run.",
		    verb);
		return;
	}
	json_object_set_new(job->resource, "userUpdateTime",
	    target_time(target_now()));
	job_save(job);
	lc_reply_json(req, 200, json_incref(job->resource));
}

/* Routes .../jobs/ID[:verb]. */
static void
handle_job(struct sched *s, struct evhttp_request *req, const char *parent,
    const char *rest)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	char name[LC_PATH_MAX];
	const char *colon = strchr(rest, ':');
	size_t id_len = colon != NULL ? (size_t)(colon - rest) : strlen(rest);
	struct job *job;

	if (snprintf(name, sizeof(name), "%s/jobs/%.*s", parent, (int)id_len,
	    rest) >= (int)sizeof(name) || (job = find_job(s, name)) == NULL) {
		lc_reply_google_error(req, 404, "NOT_FOUND",
		    "Job not found.");
		return;
	}
	if (colon != NULL && method == EVHTTP_REQ_POST) {
		handle_verb(s, req, job, colon + 1);
	} else if (colon != NULL) {
		lc_reply_google_error(req, 405, "INVALID_ARGUMENT",
		    "Use POST for :%s.", colon + 1);
	} else if (method == EVHTTP_REQ_GET) {
		lc_reply_json(req, 200, json_incref(job->resource));
	} else if (method == EVHTTP_REQ_DELETE) {
		log_info("scheduler: deleted job %s", job->name);
		job_remove(s, job);
		lc_reply_json(req, 200, json_object());
	} else if (method == EVHTTP_REQ_PATCH) {
		/* TODO: jobs.patch. The agent deletes and re-creates jobs, so
		 * only other clients miss it. */
		lc_reply_google_error(req, 501, "UNIMPLEMENTED",
		    "localcloud does not implement jobs.patch; delete and "
		    "create the job.");
	} else {
		lc_reply_google_error(req, 405, "INVALID_ARGUMENT",
		    "Method %s is not allowed here.", lc_method_name(method));
	}
}

/* Checks a project or location segment of a path. */
static int
valid_segment(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 100)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		    s[i] == '.' || s[i] == ':' || s[i] == '_'))
			return 0;
	return 1;
}

static int
scheduler_route(struct lc *lc, struct evhttp_request *req, const char *path,
    const char *query)
{
	struct sched *s = lc->scheduler;
	const char *p = path + 13, *loc, *rest;
	char parent[LC_PATH_MAX];
	size_t plen, llen;

	/* /v1/projects/P/locations/L/jobs[/ID[:verb]] */
	if (strncmp(path, "/v1/projects/", 13) != 0)
		return 0;
	plen = strcspn(p, "/");
	if (strncmp(p + plen, "/locations/", 11) != 0)
		return 0;
	loc = p + plen + 11;
	llen = strcspn(loc, "/");
	rest = loc + llen;
	if (strncmp(rest, "/jobs", 5) != 0 ||
	    (rest[5] != '\0' && rest[5] != '/'))
		return 0;
	if (!valid_segment(p, plen) || !valid_segment(loc, llen)) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Invalid project or location in the path.");
		return 1;
	}
	snprintf(parent, sizeof(parent), "projects/%.*s/locations/%.*s",
	    (int)plen, p, (int)llen, loc);
	rest += 5;
	if (*rest == '\0') {
		if (evhttp_request_get_command(req) == EVHTTP_REQ_POST)
			handle_create(s, req, parent);
		else if (evhttp_request_get_command(req) == EVHTTP_REQ_GET)
			handle_list(s, req, parent);
		else
			lc_reply_google_error(req, 405, "INVALID_ARGUMENT",
			    "Use GET or POST on a jobs collection.");
		return 1;
	}
	handle_job(s, req, parent, rest + 1);
	return 1;
}

/* Loads one job file and plans it. A bad file is logged and skipped. */
static void
load_job(struct sched *s, const char *file)
{
	char path[LC_PATH_MAX], err[512], *text;
	json_t *rec, *resource;
	struct job *job;
	const char *name;
	double now = target_now(), scale;
	size_t len;

	if (snprintf(path, sizeof(path), "%s/%s", s->dir, file) >=
	    (int)sizeof(path))
		return;
	if ((text = durable_read(path, SCHED_FILE_MAX, &len)) == NULL) {
		log_warn("scheduler: cannot read %s", path);
		return;
	}
	rec = json_loadb(text, len, 0, NULL);
	free(text);
	resource = json_object_get(rec, "job");
	name = json_string_value(json_object_get(resource, "name"));
	if (name == NULL || s->count == SCHED_MAX_JOBS ||
	    find_job(s, name) != NULL ||
	    (job = job_new(s, json_incref(resource), name)) == NULL) {
		log_warnx("scheduler: %s is not a valid job record", path);
		json_decref(rec);
		return;
	}
	if (job_configure(job, err, sizeof(err)) == -1 ||
	    strcmp(job->file, file) != 0) {
		log_warnx("scheduler: %s: %s", path, err);
		job_free(job);
		json_decref(rec);
		return;
	}
	scale = json_number_value(json_object_get(rec, "timeScale"));
	job->anchor_real = json_number_value(json_object_get(rec,
	    "anchorReal"));
	job->anchor_virtual = json_number_value(json_object_get(rec,
	    "anchorVirtual"));
	job->cursor = json_number_value(json_object_get(rec, "cursor"));
	job->next_real = json_number_value(json_object_get(rec, "nextRun"));
	job->has_next = json_is_true(json_object_get(rec, "hasNext"));
	json_decref(rec);

	/* With another time scale the old clock means nothing, so restart
	 * it now. A run missed while localcloud was down fires at once. */
	if (scale != s->scale || job->anchor_real <= 0) {
		job->anchor_real = job->anchor_virtual = now;
		job->cursor = 0;
		job_plan_next(job, now);
	}
	if (job->has_next && job_enabled(job))
		job_arm(job, job->next_real);
	s->jobs[s->count++] = job;
}

/* Reads LOCALCLOUD_SCHEDULER_TIME_SCALE. */
static int
read_scale(double *scale)
{
	const char *text = getenv("LOCALCLOUD_SCHEDULER_TIME_SCALE");
	char *end;
	long v;

	*scale = 1;
	if (text == NULL || *text == '\0')
		return 0;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < 1 || v > SCHED_SCALE_MAX) {
		log_warnx("invalid LOCALCLOUD_SCHEDULER_TIME_SCALE '%s': "
		    "expected an integer from 1 to %d", text,
		    SCHED_SCALE_MAX);
		return -1;
	}
	*scale = (double)v;
	return 0;
}

static int
scheduler_init(struct lc *lc)
{
	struct sched *s;
	struct dirent *de;
	DIR *dir;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	s->lc = lc;
	if (read_scale(&s->scale) == -1)
		goto fail;
	if (snprintf(s->dir, sizeof(s->dir), "%s/scheduler/jobs",
	    lc->data_dir) >= (int)sizeof(s->dir) ||
	    durable_mkdir(s->dir) == -1) {
		log_warn("scheduler: cannot create %s", s->dir);
		goto fail;
	}
	if (tokens_open(lc) == -1)
		goto fail;
	if ((s->deliver = deliver_new(lc->base)) == NULL) {
		log_warnx("scheduler: cannot set up libcurl");
		tokens_close();
		goto fail;
	}
	if ((dir = opendir(s->dir)) == NULL) {
		log_warn("scheduler: cannot open %s", s->dir);
		deliver_free(s->deliver);
		tokens_close();
		goto fail;
	}
	while ((de = readdir(dir)) != NULL)
		if (strlen(de->d_name) == 64 + 5 &&
		    strcmp(de->d_name + 64, ".json") == 0)
			load_job(s, de->d_name);
	closedir(dir);
	lc->scheduler = s;
	log_info("scheduler: %zu jobs, time scale %g", s->count, s->scale);
	return 0;

fail:
	free(s);
	return -1;
}

static void
scheduler_shutdown(struct lc *lc)
{
	struct sched *s = lc->scheduler;
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->count; i++)
		job_free(s->jobs[i]);
	deliver_free(s->deliver);
	free(s);
	lc->scheduler = NULL;
	tokens_close();
}

const struct lc_module scheduler_module = {
	"scheduler", scheduler_init, scheduler_route, scheduler_shutdown
};

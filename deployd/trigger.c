/*
 * Measure triggers. Cloud Scheduler takes five-field unix-cron in a time
 * zone and has no one-shot jobs, so the job names the target minute in UTC
 * ("M H DoM Mon *"), would fire again a year later, and is deleted by the
 * /measure it triggers and by /cleanup. Cloud Tasks schedules to the
 * second, up to 30 days ahead; each round gets its own task, because a
 * task name cannot be reused for about an hour after the task ran.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "deployd.h"
#include "gcp.h"
#include "log.h"
#include "settings.h"
#include "timefmt.h"

/* Time Cloud Scheduler waits for /measure, which replies at once. */
#define TRIGGER_ATTEMPT_DEADLINE	"180s"

int
trigger_job_id(const char *run_id, char *buf, size_t size)
{
	unsigned char hash[4];
	char hex[9], *p;
	size_t len;
	int n, changed = 0;

	n = snprintf(buf, size, "%s-measure-%s",
	    settings_str(CFG_SERVICE_TYPE), run_id);
	if (n < 0 || (size_t)n >= size)
		return -1;
	/* Job ids take letters, digits, hyphens and underscores only. */
	for (p = buf; *p != '\0'; p++)
		if (*p == '.') {
			*p = '_';
			changed = 1;
		}
	if (changed) {
		/* Keeps "a.b" and "a_b" apart. */
		crypto_generichash(hash, sizeof(hash),
		    (const unsigned char *)run_id, strlen(run_id), NULL, 0);
		sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
		len = strlen(buf);
		n = snprintf(buf + len, size - len, "-%s", hex);
		if (n < 0 || (size_t)n >= size - len)
			return -1;
	}
	return 0;
}

static int
trigger_task_id(const char *run_id, long round, char *buf, size_t size)
{
	char job[256];
	int n;

	if (trigger_job_id(run_id, job, sizeof(job)) == -1)
		return -1;
	n = snprintf(buf, size, "%s-r%ld", job, round);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Builds the HTTP request the trigger sends: POST <agent>/measure. */
static json_t *
trigger_http(const char *run_id, const char *url_key, char *err,
    size_t errlen)
{
	const char *agent = settings_str(CFG_AGENT_URL);
	char url[1024], body[256], b64[512];
	json_t *http;

	if (agent[0] == '\0') {
		snprintf(err, errlen, "AGENT_URL is not set: the trigger needs "
		    "the agent's base URL to call /measure");
		return NULL;
	}
	snprintf(url, sizeof(url), "%s/measure", agent);
	snprintf(body, sizeof(body), "{\"run_id\":\"%s\"}", run_id);
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)body,
	    strlen(body), sodium_base64_VARIANT_ORIGINAL);
	/* The audience is set explicitly: its default, the full target URL,
	 * is not an audience Cloud Run accepts. */
	http = json_pack("{s:s, s:s, s:{s:s}, s:s, s:{s:s, s:s}}", url_key,
	    url, "httpMethod", "POST", "headers", "Content-Type",
	    "application/json", "body", b64, "oidcToken",
	    "serviceAccountEmail", settings_str(CFG_SERVICE_ACCOUNT),
	    "audience", agent);
	if (http == NULL)
		snprintf(err, errlen, "cannot build the trigger request");
	return http;
}

/*
 * Reads the time the scheduler will fire the job (its scheduleTime) into
 * *at when it is no later than the time asked for: localcloud's scaled
 * clock fires jobs early. Keeps *at when the job cannot be read.
 */
static void
trigger_job_time(const char *id, time_t *at)
{
	struct gcp_error gerr;
	const char *when;
	json_t *job;
	time_t t;

	if (scheduler_get_job(id, &job, &gerr) != 0)
		return;
	when = json_string_value(json_object_get(job, "scheduleTime"));
	if (when != NULL && timefmt_parse(when, &t) == 0 && t <= *at)
		*at = t;
	json_decref(job);
}

static int
trigger_create_job(const char *run_id, time_t *at, char *name,
    size_t namelen, char *err, size_t errlen)
{
	struct gcp_error gerr;
	char id[256], cron[64];
	json_t *job, *http;
	char *full;
	struct tm tm;
	int rc;

	if (trigger_job_id(run_id, id, sizeof(id)) == -1) {
		snprintf(err, errlen, "scheduler job id for %s too long",
		    run_id);
		return -1;
	}
	if ((http = trigger_http(run_id, "uri", err, errlen)) == NULL)
		return -1;
	gmtime_r(at, &tm);
	snprintf(cron, sizeof(cron), "%d %d %d %d *", tm.tm_min, tm.tm_hour,
	    tm.tm_mday, tm.tm_mon + 1);
	full = scheduler_job_name(id);
	job = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:{s:i, s:s}}", "name",
	    full, "description", "perf-agent measure trigger", "schedule",
	    cron, "timeZone", "Etc/UTC", "attemptDeadline",
	    TRIGGER_ATTEMPT_DEADLINE, "httpTarget", http, "retryConfig",
	    "retryCount", 3, "minBackoffDuration", "10s");
	free(full);
	/* A job of an earlier round has the same name: replace it. */
	scheduler_delete_job(id, &gerr);
	rc = scheduler_create_job(job, &gerr);
	json_decref(job);
	if (rc == -1) {
		snprintf(err, errlen, "cannot create scheduler job %s: %s", id,
		    gerr.message);
		return -1;
	}
	snprintf(name, namelen, "%s", id);
	log_info("run %s: scheduler job %s fires at \"%s\" UTC", run_id, id,
	    cron);
	trigger_job_time(id, at);
	return 0;
}

static int
trigger_create_task(const char *run_id, long round, time_t at, char *name,
    size_t namelen, char *err, size_t errlen)
{
	struct gcp_error gerr;
	char id[300], when[TIMEFMT_MAX];
	json_t *task, *http;
	char *full;
	int rc;

	if (trigger_task_id(run_id, round, id, sizeof(id)) == -1) {
		snprintf(err, errlen, "task id for %s too long", run_id);
		return -1;
	}
	if ((http = trigger_http(run_id, "url", err, errlen)) == NULL)
		return -1;
	full = tasks_task_name(id);
	task = json_pack("{s:s, s:s, s:o}", "name", full, "scheduleTime",
	    timefmt_utc(when, sizeof(when), at), "httpRequest", http);
	free(full);
	rc = tasks_create_task(task, &gerr);
	json_decref(task);
	if (rc == -1) {
		snprintf(err, errlen, "cannot create task %s: %s", id,
		    gerr.message);
		return -1;
	}
	/* rc 1: the same task exists, from a retried request. */
	snprintf(name, namelen, "%s", id);
	log_info("run %s: task %s fires at %s", run_id, id, when);
	return 0;
}

static int
trigger_uses_tasks(void)
{
	return strcmp(settings_str(CFG_MEASURE_TRIGGER), "tasks") == 0;
}

int
trigger_create(const char *run_id, long delay_s, long round, time_t *at,
    char *name, size_t namelen, char *err, size_t errlen)
{
	time_t target = time(NULL) + delay_s;

	if (trigger_uses_tasks()) {
		*at = target;
		return trigger_create_task(run_id, round, target, name, namelen,
		    err, errlen);
	}
	/* The next whole minute at or after the target. */
	if (target % 60 != 0)
		target += 60 - target % 60;
	*at = target;
	return trigger_create_job(run_id, at, name, namelen, err, errlen);
}

int
trigger_delete(const char *run_id, long round, char *err, size_t errlen)
{
	struct gcp_error gerr;
	char id[300];
	int rc;

	if (trigger_uses_tasks()) {
		if (trigger_task_id(run_id, round, id, sizeof(id)) == -1)
			return 1;
		rc = tasks_delete_task(id, &gerr);
	} else {
		if (trigger_job_id(run_id, id, sizeof(id)) == -1)
			return 1;
		rc = scheduler_delete_job(id, &gerr);
	}
	if (rc == -1)
		snprintf(err, errlen, "cannot delete %s: %s", id, gerr.message);
	return rc;
}

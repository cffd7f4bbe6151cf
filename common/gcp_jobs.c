/* Cloud Scheduler v1 jobs and Cloud Tasks v2 tasks, named by the caller. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gcp.h"
#include "gcp_private.h"
#include "log.h"

#define GCP_ID_RULE	"an id is 1 to 500 letters, digits, hyphens and " \
	"underscores"

/* Returns the parent of jobs and queues, "projects/P/locations/L". */
static char *
jobs_location(struct gcp_error *err)
{
	const char *project;
	char *location;

	if ((project = gcp_project(err)) == NULL)
		return NULL;
	location = gcp_format("projects/%s/locations/%s", project,
	    gcp_region());
	if (location == NULL)
		gcp_nomem(err);
	return location;
}

char *
scheduler_job_name(const char *job_id)
{
	struct gcp_error err;
	char *location, *name;

	if (!gcp_valid_job_id(job_id) ||
	    (location = jobs_location(&err)) == NULL)
		return NULL;
	name = gcp_format("%s/jobs/%s", location, job_id);
	free(location);
	return name;
}

char *
tasks_task_name(const char *task_id)
{
	struct gcp_error err;
	char *location, *name;

	if (!gcp_valid_task_id(task_id) ||
	    (location = jobs_location(&err)) == NULL)
		return NULL;
	name = gcp_format("%s/queues/%s/tasks/%s", location, gcp_queue(),
	    task_id);
	free(location);
	return name;
}

/* Returns 1 when name is prefix followed by an id that passes valid. */
static int
jobs_name_under(const char *name, const char *prefix, int (*valid)(const
    char *))
{
	size_t len = strlen(prefix);

	return strncmp(name, prefix, len) == 0 && valid(name + len);
}

/* Classifies the response to a create: 0, 1 for ALREADY_EXISTS, or -1. */
static int
jobs_create_result(struct gcp_request *req, const char *name, int named,
    struct gcp_error *err)
{
	char escaped[256];

	if (gcp_already_exists(req)) {
		if (named && req->ambiguous) {
			log_escape(escaped, sizeof(escaped), name,
			    strlen(name));
			log_warnx("gcp: %s POST %s: ALREADY_EXISTS after a "
			    "failed attempt, which probably created it",
			    gcp_api_name(req->api), escaped);
			return 0;
		}
		return 1;
	}
	if (req->status / 100 != 2)
		return gcp_request_fail(req, err);
	return 0;
}

int
scheduler_create_job(json_t *job, struct gcp_error *err)
{
	struct gcp_request req;
	char *location, *prefix = NULL, *url = NULL;
	const char *name;
	int rc = -1;

	name = json_string_value(json_object_get(job, "name"));
	if (!json_is_object(job) || name == NULL)
		return gcp_invalid(err, GCP_API_SCHEDULER, "POST", "(job)",
		    "the job must be a JSON object with a name");
	if ((location = jobs_location(err)) == NULL)
		return -1;
	prefix = gcp_format("%s/jobs/", location);
	url = gcp_format("%s/v1/%s/jobs", gcp_endpoint(GCP_API_SCHEDULER),
	    location);
	if (prefix == NULL || url == NULL) {
		gcp_nomem(err);
		goto done;
	}
	if (!jobs_name_under(name, prefix, gcp_valid_job_id)) {
		rc = gcp_invalid(err, GCP_API_SCHEDULER, "POST", name,
		    "job name must be %sID, where %s", prefix, GCP_ID_RULE);
		goto done;
	}
	/* The body is the Job itself; its name makes a repeat fail with
	 * ALREADY_EXISTS, so retries are safe. */
	if (gcp_send_json(&req, GCP_API_SCHEDULER, "POST", url, name, job,
	    GCP_REQ_IDEMPOTENT, err) == -1)
		goto done;
	rc = jobs_create_result(&req, name, 1, err);
	gcp_request_release(&req);
done:
	free(url);
	free(prefix);
	free(location);
	return rc;
}

/* GETs or DELETEs a named resource: 0 (with the body in *out when out is
 * not NULL), 1 on 404, or -1. */
static int
jobs_by_name(enum gcp_api api, const char *version, const char *method,
    const char *name, json_t **out, struct gcp_error *err)
{
	struct gcp_request req;
	char *url;
	int rc = -1;

	if ((url = gcp_format("%s/%s/%s", gcp_endpoint(api), version,
	    name)) == NULL)
		return gcp_nomem(err);
	if (gcp_send_json(&req, api, method, url, name, NULL,
	    GCP_REQ_IDEMPOTENT, err) == 0) {
		if (req.status == 404)
			rc = 1;
		else if (req.status != 200)
			rc = gcp_request_fail(&req, err);
		else if (out == NULL)
			rc = 0;
		else if ((*out = gcp_request_json(&req, err)) != NULL)
			rc = 0;
		gcp_request_release(&req);
	}
	free(url);
	return rc;
}

int
scheduler_get_job(const char *job_id, json_t **job, struct gcp_error *err)
{
	char *name;
	int rc;

	*job = NULL;
	if (!gcp_valid_job_id(job_id))
		return gcp_invalid(err, GCP_API_SCHEDULER, "GET", job_id,
		    "invalid job id: %s", GCP_ID_RULE);
	if ((name = scheduler_job_name(job_id)) == NULL)
		return gcp_project(err) == NULL ? -1 : gcp_nomem(err);
	rc = jobs_by_name(GCP_API_SCHEDULER, "v1", "GET", name, job, err);
	free(name);
	return rc;
}

int
scheduler_delete_job(const char *job_id, struct gcp_error *err)
{
	char *name;
	int rc;

	if (!gcp_valid_job_id(job_id))
		return gcp_invalid(err, GCP_API_SCHEDULER, "DELETE", job_id,
		    "invalid job id: %s", GCP_ID_RULE);
	if ((name = scheduler_job_name(job_id)) == NULL)
		return gcp_project(err) == NULL ? -1 : gcp_nomem(err);
	rc = jobs_by_name(GCP_API_SCHEDULER, "v1", "DELETE", name, NULL, err);
	free(name);
	return rc;
}

int
tasks_create_task(json_t *task, struct gcp_error *err)
{
	struct gcp_request req;
	char *location, *prefix = NULL, *url = NULL;
	const char *name, *resource;
	json_t *body = NULL;
	int rc = -1;

	if (!json_is_object(task))
		return gcp_invalid(err, GCP_API_TASKS, "POST", "(task)",
		    "the task must be a JSON object");
	name = json_string_value(json_object_get(task, "name"));
	if ((location = jobs_location(err)) == NULL)
		return -1;
	prefix = gcp_format("%s/queues/%s/tasks/", location, gcp_queue());
	url = gcp_format("%s/v2/%s/queues/%s/tasks",
	    gcp_endpoint(GCP_API_TASKS), location, gcp_queue());
	body = json_pack("{s:O}", "task", task);
	if (prefix == NULL || url == NULL || body == NULL) {
		gcp_nomem(err);
		goto done;
	}
	resource = name != NULL ? name : prefix;
	if (name != NULL && !jobs_name_under(name, prefix, gcp_valid_task_id)) {
		rc = gcp_invalid(err, GCP_API_TASKS, "POST", name,
		    "task name must be %sID, where %s", prefix, GCP_ID_RULE);
		goto done;
	}
	/* Without a name, a repeated create would queue a second task. */
	if (gcp_send_json(&req, GCP_API_TASKS, "POST", url, resource, body,
	    name != NULL ? GCP_REQ_IDEMPOTENT : 0, err) == -1)
		goto done;
	rc = jobs_create_result(&req, resource, name != NULL, err);
	gcp_request_release(&req);
done:
	json_decref(body);
	free(url);
	free(prefix);
	free(location);
	return rc;
}

int
tasks_delete_task(const char *task_id, struct gcp_error *err)
{
	char *name;
	int rc;

	if (!gcp_valid_task_id(task_id))
		return gcp_invalid(err, GCP_API_TASKS, "DELETE", task_id,
		    "invalid task id: %s", GCP_ID_RULE);
	if ((name = tasks_task_name(task_id)) == NULL)
		return gcp_project(err) == NULL ? -1 : gcp_nomem(err);
	rc = jobs_by_name(GCP_API_TASKS, "v2", "DELETE", name, NULL, err);
	free(name);
	return rc;
}

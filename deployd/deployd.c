/*
 * deployd: deploys services to Cloud Run, creates and deletes measure
 * triggers, and returns scale checks from Cloud Monitoring and Cloud
 * Logging. Every request runs on its own thread because the Google API
 * calls block; the event loop only serves IPC.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deployd.h"
#include "gcp.h"
#include "log.h"
#include "proto.h"
#include "settings.h"
#include "timefmt.h"
#include "worker.h"

/* Requests in progress at once; more are rejected as busy. */
#define DEPLOYD_MAX_JOBS	64

struct deployd_job {
	struct ipc_request	*req;
	json_t			*reply;
	void			*deploy;	/* services left to deploy */
	char			 code[32];
	char			 err[1024];
};

static struct manifest *manifest;
static int jobs_running;

const struct manifest *
deployd_manifest(void)
{
	return manifest;
}

static void
deployd_schedule(struct deployd_job *job, json_t *body)
{
	const char *run_id = json_string_value(json_object_get(body,
	    "run_id"));
	long delay = (long)json_integer_value(json_object_get(body,
	    "delay_s"));
	long round = (long)json_integer_value(json_object_get(body, "round"));
	char name[300], when[TIMEFMT_MAX];
	time_t at;

	if (run_id == NULL || delay < 0 || round < 1) {
		snprintf(job->code, sizeof(job->code), "invalid");
		snprintf(job->err, sizeof(job->err), "fields run_id, delay_s "
		    ">= 0 and round >= 1 are required");
		return;
	}
	if (trigger_create(run_id, delay, round, &at, name, sizeof(name),
	    job->err, sizeof(job->err)) == -1) {
		snprintf(job->code, sizeof(job->code), "unavailable");
		return;
	}
	job->reply = json_pack("{s:s, s:s}", "scheduled_at", timefmt_utc(when,
	    sizeof(when), at), "job", name);
}

static void
deployd_unschedule(struct deployd_job *job, json_t *body)
{
	const char *run_id = json_string_value(json_object_get(body,
	    "run_id"));
	int rc;

	if (run_id == NULL) {
		snprintf(job->code, sizeof(job->code), "invalid");
		snprintf(job->err, sizeof(job->err), "field run_id is required");
		return;
	}
	/* The scheduler job has one name for every round. */
	rc = trigger_delete(run_id, 1, job->err, sizeof(job->err));
	if (rc == -1) {
		snprintf(job->code, sizeof(job->code), "unavailable");
		return;
	}
	job->reply = json_pack("{s:b}", "deleted", rc == 0);
}

static void
deployd_scale_state(struct deployd_job *job, json_t *body)
{
	const char *service = json_string_value(json_object_get(body,
	    "service_name"));
	json_t *since = json_object_get(body, "since"), *served = NULL;
	struct gcp_error gerr;
	time_t now = time(NULL);
	long active = 0, idle = 0;
	int rc;

	if (service == NULL || !gcp_valid_service_id(service)) {
		snprintf(job->code, sizeof(job->code), "invalid");
		snprintf(job->err, sizeof(job->err), "field service_name must "
		    "be a Cloud Run service id");
		return;
	}
	if ((rc = monitoring_instance_count(service, now - settings_int(
	    CFG_SCALE_WINDOW), now, &active, &idle, &gerr)) == -1) {
		snprintf(job->code, sizeof(job->code), "unavailable");
		snprintf(job->err, sizeof(job->err), "instance count of %s: %s",
		    service, gerr.message);
		return;
	}
	if (json_is_integer(since) && logging_request_instances(service,
	    (time_t)json_integer_value(since), &served, &gerr) == -1) {
		snprintf(job->code, sizeof(job->code), "unavailable");
		snprintf(job->err, sizeof(job->err), "request log of %s: %s",
		    service, gerr.message);
		return;
	}
	/* "points" false: the window held no sample, which the metric's
	 * lag makes possible while instances run. */
	job->reply = json_pack("{s:I, s:I, s:I, s:b, s:o}", "instances",
	    (json_int_t)(active + idle), "active", (json_int_t)active, "idle",
	    (json_int_t)idle, "points", rc == 0, "served", served ? served :
	    json_array());
}

/* Maximum validity a caller may request, in seconds. Google's ID tokens
 * last an hour. */
#define DEPLOYD_TOKEN_VALID_MAX	3300

/* Replies to {audience, min_valid_s?} with {token, valid_s}: an ID token
 * that stays valid for min_valid_s more seconds (default 0), and the
 * seconds it has left (-1: unknown). */
static void
deployd_id_token(struct deployd_job *job, json_t *body)
{
	const char *audience = json_string_value(json_object_get(body,
	    "audience"));
	json_t *min_valid = json_object_get(body, "min_valid_s");
	struct gcp_error gerr;
	char *token;
	long valid_s;

	if (audience == NULL) {
		snprintf(job->code, sizeof(job->code), "invalid");
		snprintf(job->err, sizeof(job->err), "field audience is "
		    "required");
		return;
	}
	if (min_valid != NULL && (!json_is_integer(min_valid) ||
	    json_integer_value(min_valid) < 0 ||
	    json_integer_value(min_valid) > DEPLOYD_TOKEN_VALID_MAX)) {
		snprintf(job->code, sizeof(job->code), "invalid");
		snprintf(job->err, sizeof(job->err), "field min_valid_s must "
		    "be an integer from 0 to %d seconds",
		    DEPLOYD_TOKEN_VALID_MAX);
		return;
	}
	if (metadata_identity_token(audience, (long)json_integer_value(
	    min_valid), &token, &valid_s, &gerr) == -1) {
		snprintf(job->code, sizeof(job->code), "unavailable");
		snprintf(job->err, sizeof(job->err), "identity token: %s",
		    gerr.message);
		return;
	}
	job->reply = json_pack("{s:s, s:I}", "token", token, "valid_s",
	    (json_int_t)valid_s);
	explicit_bzero(token, strlen(token));
	free(token);
}

static void
deployd_work(void *arg)
{
	struct deployd_job *job = arg;
	json_t *body = job->req->body;
	const char *run_id;

	switch (job->req->type) {
	case MSG_DEPLOY_RUN:
		deploy_plan(body, &job->reply, &job->deploy, job->err,
		    sizeof(job->err), job->code, sizeof(job->code));
		break;
	case MSG_CLEANUP_RUN:
		run_id = json_string_value(json_object_get(body, "run_id"));
		if (run_id == NULL) {
			snprintf(job->code, sizeof(job->code), "invalid");
			snprintf(job->err, sizeof(job->err), "field run_id is "
			    "required");
			break;
		}
		deploy_cleanup(run_id, &job->reply, job->err,
		    sizeof(job->err), job->code, sizeof(job->code));
		break;
	case MSG_SCHEDULE:
		deployd_schedule(job, body);
		break;
	case MSG_UNSCHEDULE:
		deployd_unschedule(job, body);
		break;
	case MSG_SCALE_STATE:
		deployd_scale_state(job, body);
		break;
	case MSG_ID_TOKEN:
		deployd_id_token(job, body);
		break;
	}
}

/*
 * Warns when the agent's own Cloud Run service gives it CPU only during
 * requests: /deploy and /measure reply at once and work afterwards, which
 * such a service throttles, so the work crawls and its timings are wrong.
 * K_SERVICE names the service on Cloud Run; elsewhere there is nothing to
 * check.
 */
static void
deployd_check_cpu(void *arg)
{
	const char *self = getenv("K_SERVICE");
	struct gcp_error gerr;
	json_t *service, *resources;

	if (self == NULL || self[0] == '\0' || settings_bool(CFG_LOCAL))
		return;
	if (run_get_service(self, &service, &gerr) != 0) {
		log_warnx("cannot read this agent's service %s to check its "
		    "CPU allocation: %s", self, gerr.message);
		return;
	}
	resources = json_object_get(json_array_get(json_object_get(
	    json_object_get(service, "template"), "containers"), 0),
	    "resources");
	/* cpuIdle absent means true: CPU only during requests. */
	if (!json_is_false(json_object_get(resources, "cpuIdle")))
		log_warnx("this agent's service %s allocates CPU only during "
		    "requests (cpuIdle is not false): work after /deploy and "
		    "/measure replies will be throttled and timings distorted; "
		    "deploy the agent with CPU always allocated "
		    "(--no-cpu-throttling, or cpu_idle = false)", self);
	json_decref(service);
}

static void
deployd_resume_done(void *arg)
{
	jobs_running--;
}

static struct event *rescan_ev;
static int rescan_running;

static void
deployd_resume_done_one(void *arg)
{
	jobs_running--;
	free(arg);
}

/* Resumes each abandoned deploy on a thread of its own, so that a long
 * one does not hold up the others. */
static void
deployd_rescan_done(void *arg)
{
	json_t **list = arg, *id;
	char *run_id;
	size_t i;

	jobs_running--;
	rescan_running = 0;
	json_array_foreach(*list, i, id) {
		if (worker_is_stopping())
			break;
		if ((run_id = strdup(json_string_value(id))) == NULL ||
		    ipc_run_in_thread(worker_base(), deploy_resume,
		    deployd_resume_done_one, run_id) == -1) {
			log_warnx("cannot start resuming the deploy of run %s",
			    json_string_value(id));
			free(run_id);
			continue;
		}
		jobs_running++;
	}
	json_decref(*list);
	free(list);
}

/* Starts a scan for deploys whose owner is gone, unless one runs: at
 * start, and every DEPLOY_RESCAN_S, because an owner may die while this
 * deployd runs, or leave its final status unwritten. */
static void
deployd_rescan(evutil_socket_t fd, short what, void *arg)
{
	struct timeval tv = { DEPLOY_RESCAN_S, 0 };
	json_t **list;

	if (rescan_running || worker_is_stopping())
		goto again;
	if ((list = calloc(1, sizeof(*list))) == NULL ||
	    ipc_run_in_thread(worker_base(), deploy_list_abandoned,
	    deployd_rescan_done, list) == -1) {
		free(list);
		log_warnx("cannot start the scan for deploys to resume");
	} else {
		rescan_running = 1;
		jobs_running++;
	}
again:
	if (!worker_is_stopping())
		evtimer_add(rescan_ev, &tv);
}

static void
deployd_services_done(void *arg)
{
	jobs_running--;
	deploy_job_free(arg);
}

static void
deployd_done(void *arg)
{
	struct deployd_job *job = arg;

	jobs_running--;
	if (job->reply != NULL)
		ipc_reply(job->req, job->reply);
	else {
		log_warnx("%s failed: %s: %s", proto_type_name(job->req->type),
		    job->code[0] ? job->code : "internal", job->err);
		ipc_reply_error(job->req, job->code[0] ? job->code :
		    "internal", "%s", job->err);
	}
	/* The reply went out; the services deploy in the background. A
	 * deploy not started because the worker stops is resumed by the
	 * next deployd, from the state it finds. */
	if (job->deploy != NULL && worker_is_stopping()) {
		deploy_job_free(job->deploy);
	} else if (job->deploy != NULL) {
		if (ipc_run_in_thread(worker_base(), deploy_services,
		    deployd_services_done, job->deploy) == -1) {
			log_warn("cannot start the deploy thread");
			deploy_job_free(job->deploy);
		} else
			jobs_running++;
	}
	free(job);
}

static void
deployd_handle(struct ipc_request *req)
{
	struct deployd_job *job;

	switch (req->type) {
	case MSG_DEPLOY_RUN:
	case MSG_CLEANUP_RUN:
	case MSG_SCHEDULE:
	case MSG_UNSCHEDULE:
	case MSG_SCALE_STATE:
	case MSG_ID_TOKEN:
		break;
	default:
		log_warnx("%s from %s is not a deployd message",
		    proto_type_name(req->type), ipc_request_peer(req));
		ipc_reply_error(req, "unsupported_type", "deployd does not "
		    "handle %s", proto_type_name(req->type));
		return;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		ipc_reply_error(req, "internal", "out of memory");
		return;
	}
	job->req = req;
	if (worker_offload(req, &jobs_running, DEPLOYD_MAX_JOBS, deployd_work,
	    deployd_done, job) == -1)
		free(job);
}

static int
deployd_init(struct event_base *base)
{
	struct timeval first = { 2, 0 };
	char path[1024], err[512];

	snprintf(path, sizeof(path), "%s/manifest.yaml", settings_data_dir());
	if ((manifest = manifest_load_file(path, err, sizeof(err))) == NULL) {
		log_warnx("cannot load the implementations manifest: %s", err);
		return -1;
	}
	if (settings_str(CFG_AGENT_URL)[0] == '\0')
		log_warnx("AGENT_URL is not set: /deploy fails until the "
		    "agent knows the URL its measure trigger calls");
	if (gcp_init() == -1)
		return -1;
	gcp_set_stop(worker_is_stopping);
	if (settings_bool(CFG_PUBLIC_SERVICES))
		log_info("PUBLIC_SERVICES is on: services are deployed open to "
		    "all and called without an ID token");
	if (ipc_run_in_thread(base, deployd_check_cpu, deployd_resume_done,
	    NULL) == -1)
		log_warnx("cannot start the CPU allocation check");
	else
		jobs_running++;
	/* The first scan waits for stated, which starts alongside. */
	if ((rescan_ev = evtimer_new(base, deployd_rescan, NULL)) == NULL ||
	    evtimer_add(rescan_ev, &first) == -1) {
		log_warnx("cannot create the scan timer");
		return -1;
	}
	return 0;
}

static void
deployd_shutdown(void)
{
	if (rescan_ev != NULL)
		event_free(rescan_ev);
	rescan_ev = NULL;
	gcp_cleanup();
	manifest_free(manifest);
}

static const struct worker deployd_worker = {
	.name = "deployd",
	.summary = "Deploys services to Cloud Run and schedules the measure "
	    "phase.",
	.init = deployd_init,
	.handle = deployd_handle,
	.shutdown = deployd_shutdown,
};

int
main(int argc, char **argv)
{
	return worker_main(&deployd_worker, argc, argv);
}

/*
 * The deploy phase: claim the run with a create-only write of its request,
 * plan the services, create the measure trigger and the state files, reply,
 * then create the services in parallel and record each one's URL.
 * /cleanup deletes what a run deployed, also after a deploy that stopped
 * half-way, because service names are derived from the stored plan.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deployd.h"
#include "gcp.h"
#include "log.h"
#include "runkey.h"
#include "runplan.h"
#include "servicetype.h"
#include "settings.h"
#include "state.h"
#include "timefmt.h"
#include "worker.h"

struct deploy_job {
	char		 run_id[80];
	struct runplan	 plan;
	json_t		*manifest;	/* deployment-manifest.json */
	json_t		*status;	/* deployment-status.json */
	json_t		*env;		/* per-run environment of services */
	pthread_mutex_t	 lock;
	size_t		 next;		/* next plan entry to deploy */
	int		 active;	/* listed in deploy_active */
	volatile int	 done;		/* ends the heartbeat */
};

/*
 * Runs whose deploy this process is working on, as an object used as a
 * set. A status that names this process as its owner while the run is not
 * listed was left by a deploy that stopped without finishing (a failed
 * write, say), and the next scan resumes it.
 */
static pthread_mutex_t deploy_active_lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *deploy_active;

/* Lists the job's run as deployed by this process; 0 when it was listed
 * already, by another job. */
static int
deploy_active_take(struct deploy_job *job)
{
	int listed = 0;

	pthread_mutex_lock(&deploy_active_lock);
	if (deploy_active == NULL)
		deploy_active = json_object();
	if (deploy_active != NULL &&
	    json_object_get(deploy_active, job->run_id) == NULL &&
	    json_object_set_new(deploy_active, job->run_id, json_true()) == 0)
		listed = job->active = 1;
	pthread_mutex_unlock(&deploy_active_lock);
	return listed;
}

static json_t *
deploy_now(void)
{
	char now[TIMEFMT_MAX];

	return json_string(timefmt_now(now, sizeof(now)));
}

void
deploy_job_free(void *arg)
{
	struct deploy_job *job = arg;

	if (job == NULL)
		return;
	if (job->active) {
		pthread_mutex_lock(&deploy_active_lock);
		json_object_del(deploy_active, job->run_id);
		if (json_object_size(deploy_active) == 0) {
			json_decref(deploy_active);
			deploy_active = NULL;
		}
		pthread_mutex_unlock(&deploy_active_lock);
	}
	runplan_free(&job->plan);
	json_decref(job->manifest);
	json_decref(job->status);
	json_decref(job->env);
	pthread_mutex_destroy(&job->lock);
	free(job);
}

static long
deploy_delay(json_t *request)
{
	json_t *schedule = json_object_get(request, "schedule"), *v;

	if ((v = json_object_get(schedule, "measure_delay_seconds")) != NULL)
		return (long)json_integer_value(v);
	return 60 * (long)json_integer_value(json_object_get(schedule,
	    "measure_delay_minutes"));
}

/* Builds the per-run environment of the services from the run's key. */
static json_t *
deploy_env(const char *run_id, char *err, size_t errlen)
{
	const struct servicetype *type;
	unsigned char secret[SERVICETYPE_SECRET_MAX];
	json_t *env, *vars, *value;
	const char *name;
	void *state;

	type = servicetype_find(settings_str(CFG_SERVICE_TYPE));
	if (type == NULL) {
		snprintf(err, errlen, "service type %s is not known",
		    settings_str(CFG_SERVICE_TYPE));
		return NULL;
	}
	if (type->secret_len > 0 && runkey_derive(run_id, secret,
	    type->secret_len, err, errlen) == -1)
		return NULL;
	state = type->create(type->secret_len > 0 ? secret : NULL,
	    type->secret_len, err, errlen);
	memset(secret, 0, sizeof(secret));
	if (state == NULL)
		return NULL;
	vars = json_object();
	if (type->service_env(state, vars) == -1) {
		snprintf(err, errlen, "cannot build the service environment");
		json_decref(vars);
		type->destroy(state);
		return NULL;
	}
	type->destroy(state);
	/* Cloud Run takes env as [{name, value}]. */
	env = json_array();
	json_object_foreach(vars, name, value)
		json_array_append_new(env, json_pack("{s:s, s:O}", "name", name,
		    "value", value));
	json_decref(vars);
	return env;
}

/* The reply to /deploy, from the stored manifest and status. */
static json_t *
deploy_reply(const char *run_id, json_t *manifest, const char *status)
{
	char url[512];
	size_t n;

	snprintf(url, sizeof(url), "gs://%s/runs/%s/%s/",
	    settings_str(CFG_STATE_BUCKET), run_id,
	    settings_str(CFG_SERVICE_TYPE));
	n = json_array_size(json_object_get(manifest, "services"));
	return json_pack("{s:s, s:s, s:I, s:O, s:s, s:O}", "run_id", run_id,
	    "status", status, "services_to_deploy", (json_int_t)n,
	    "measure_scheduled_at", json_object_get(manifest,
	    "measure_scheduled_at"), "state_url", url, "scheduler_job",
	    json_object_get(manifest, "scheduler_job_name"));
}

/*
 * Claims the run by creating request.json. Returns 0 when this call owns
 * the deploy, 1 when the same request was deployed already (reply set), or
 * -1 (code "conflict" for a different request under the same run id).
 */
static int
deploy_claim(const char *run_id, json_t *request, const char *canonical,
    json_t **reply, char *err, size_t errlen, char *code, size_t codelen)
{
	char object[256], mobject[256], sobject[256];
	json_t *stored, *manifest, *status;
	const char *have, *phase;
	int rc;

	state_run_object(object, sizeof(object), run_id, STATE_REQUEST);
	stored = json_pack("{s:s, s:s, s:O, s:o}", "run_id", run_id,
	    "canonical", canonical, "request", request, "created_at",
	    deploy_now());
	rc = state_put(object, stored, "0", NULL, err, errlen);
	json_decref(stored);
	if (rc != 1)
		return rc;

	if (state_get(object, &stored, NULL, err, errlen) != 0)
		return -1;
	have = json_string_value(json_object_get(stored, "canonical"));
	if (have == NULL || strcmp(have, canonical) != 0) {
		json_decref(stored);
		snprintf(code, codelen, "conflict");
		snprintf(err, errlen, "run %s exists with a different request; "
		    "use a new run_id", run_id);
		return -1;
	}
	json_decref(stored);

	/* The same request again: report the run in its current phase. A deploy that
	 * stopped before writing its manifest, or its status right after it,
	 * goes on from here.
	 * NOTE: a second identical /deploy that arrives between the two
	 * writes of a deploy in progress deploys too. Service creation is
	 * idempotent, so both end with the same services, and the last
	 * status written wins. */
	state_run_object(mobject, sizeof(mobject), run_id,
	    STATE_DEPLOY_MANIFEST);
	state_run_object(sobject, sizeof(sobject), run_id,
	    STATE_DEPLOY_STATUS);
	rc = state_get(mobject, &manifest, NULL, err, errlen);
	if (rc == 1)
		return 0;
	if (rc == -1)
		return -1;
	phase = "deploying";
	rc = state_get(sobject, &status, NULL, err, errlen);
	if (rc == 1) {
		json_decref(manifest);
		return 0;
	}
	if (rc == 0) {
		if (json_string_value(json_object_get(status, "phase")))
			phase = json_string_value(json_object_get(status,
			    "phase"));
		*reply = deploy_reply(run_id, manifest, phase);
		json_decref(status);
	} else
		*reply = deploy_reply(run_id, manifest, phase);
	json_object_set_new(*reply, "existing", json_true());
	json_decref(manifest);
	return 1;
}

static int
deploy_write(struct deploy_job *job, int manifest, char *err, size_t errlen)
{
	char object[256];

	json_object_set_new(job->status, "updated_at", deploy_now());
	if (manifest) {
		state_run_object(object, sizeof(object), job->run_id,
		    STATE_DEPLOY_MANIFEST);
		if (state_put(object, job->manifest, NULL, NULL, err,
		    errlen) != 0)
			return -1;
	}
	state_run_object(object, sizeof(object), job->run_id,
	    STATE_DEPLOY_STATUS);
	return state_put(object, job->status, NULL, NULL, err, errlen) == 0 ?
	    0 : -1;
}

/* Writes the manifest, the status and the index entry of a new run. */
static int
deploy_write_initial(struct deploy_job *job, json_t *request, time_t at,
    const char *trigger, char *err, size_t errlen)
{
	char when[TIMEFMT_MAX], object[256];
	json_t *services, *service, *active;
	size_t i;

	services = runplan_services_json(&job->plan);
	json_array_foreach(services, i, service) {
		json_object_set_new(service, "service_url", json_string(""));
		json_object_set_new(service, "status", json_string("pending"));
		json_object_set_new(service, "deployed_at", json_null());
	}
	job->manifest = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:O, "
	    "s:o}", "run_id", job->run_id, "service_type",
	    settings_str(CFG_SERVICE_TYPE), "agent_version", PACKAGE_VERSION,
	    "deployed_at", deploy_now(), "measure_scheduled_at",
	    timefmt_utc(when, sizeof(when), at), "scheduler_job_name", trigger,
	    "trigger", settings_str(CFG_MEASURE_TRIGGER), "benchmark_config",
	    json_object_get(request, "benchmark_config"), "services",
	    services);
	job->status = json_pack("{s:s, s:s, s:o, s:o, s:n, s:{s:I, s:i, s:i}, "
	    "s:n, s:[], s:{s:s, s:I}}", "run_id", job->run_id, "phase",
	    "deploying", "started_at", deploy_now(), "updated_at", deploy_now(),
	    "completed_at", "progress", "total", (json_int_t)job->plan.count,
	    "completed", 0, "failed", 0, "current_service", "errors", "owner",
	    "instance", settings_instance_id(), "pid", (json_int_t)getpid());
	if (job->manifest == NULL || job->status == NULL) {
		snprintf(err, errlen, "cannot build the state files");
		return -1;
	}
	if (deploy_write(job, 1, err, errlen) == -1)
		return -1;
	snprintf(object, sizeof(object), "agent/active/%s.json", job->run_id);
	active = json_pack("{s:s, s:s, s:o}", "run_id", job->run_id,
	    "service_type", settings_str(CFG_SERVICE_TYPE), "created_at",
	    deploy_now());
	state_put(object, active, NULL, NULL, err, errlen);
	json_decref(active);
	return 0;
}

int
deploy_plan(json_t *body, json_t **reply, void **jobp, char *err,
    size_t errlen, char *code, size_t codelen)
{
	struct runplan_options opts;
	struct deploy_job *job;
	const char *run_id, *canonical;
	json_t *request;
	char trigger[300];
	time_t at;
	int rc;

	*reply = NULL;
	*jobp = NULL;
	snprintf(code, codelen, "internal");
	run_id = json_string_value(json_object_get(body, "run_id"));
	request = json_object_get(body, "request");
	canonical = json_string_value(json_object_get(body, "canonical"));
	if (run_id == NULL || !json_is_object(request) || canonical == NULL) {
		snprintf(code, codelen, "invalid");
		snprintf(err, errlen, "fields run_id, request and canonical are "
		    "required");
		return -1;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&job->lock, NULL);
	snprintf(job->run_id, sizeof(job->run_id), "%s", run_id);
	memset(&opts, 0, sizeof(opts));
	opts.registry = settings_str(CFG_IMAGE_REGISTRY);
	opts.tag = settings_str(CFG_IMAGE_TAG);
	opts.local = settings_bool(CFG_LOCAL);
	if (runplan_build(&job->plan, request, deployd_manifest(), &opts, err,
	    errlen) == -1) {
		snprintf(code, codelen, "invalid");
		goto fail;
	}
	rc = deploy_claim(run_id, request, canonical, reply, err, errlen,
	    code, codelen);
	if (rc == 1) {
		deploy_job_free(job);
		return 0;
	}
	if (rc == -1)
		goto fail;
	if (!deploy_active_take(job)) {
		snprintf(code, codelen, "unavailable");
		snprintf(err, errlen, "run %s is being deployed by an earlier "
		    "request; retry in a few seconds", run_id);
		goto fail;
	}
	if ((job->env = deploy_env(run_id, err, errlen)) == NULL)
		goto fail;
	if (trigger_create(run_id, deploy_delay(request), 1, &at, trigger,
	    sizeof(trigger), err, errlen) == -1)
		goto fail;
	if (deploy_write_initial(job, request, at, trigger, err, errlen) == -1)
		goto fail;
	*reply = deploy_reply(run_id, job->manifest, "deploying");
	*jobp = job;
	log_info("run %s: deploying %zu services; measure at %s", run_id,
	    job->plan.count, json_string_value(json_object_get(job->manifest,
	    "measure_scheduled_at")));
	return 0;
fail:
	deploy_job_free(job);
	return -1;
}

/*
 * Reads a service until its terminal condition settles, for at most
 * DEPLOY_TIMEOUT_S; a service still reconciling (its create operation was
 * lost, or an interrupted deploy created it) is polled every 2 s, and
 * read errors are retried, since the API may be restarting.
 */
static int
deploy_wait_service(const char *name, json_t **service, char *err,
    size_t errlen)
{
	struct gcp_error gerr;
	const char *state;
	time_t deadline = time(NULL) + DEPLOY_TIMEOUT_S;
	int rc;

	for (;;) {
		rc = run_get_service(name, service, &gerr);
		if (rc == 1) {
			snprintf(err, errlen, "the service was not created");
			return -1;
		}
		if (rc == 0) {
			state = json_string_value(json_object_get(
			    json_object_get(*service, "terminalCondition"),
			    "state"));
			if (state == NULL ||
			    strcmp(state, "CONDITION_SUCCEEDED") == 0 ||
			    strcmp(state, "CONDITION_FAILED") == 0)
				return 0;
			snprintf(gerr.message, sizeof(gerr.message),
			    "still %s", state);
			json_decref(*service);
			*service = NULL;
		}
		if (time(NULL) >= deadline) {
			snprintf(err, errlen, "service not ready after %d s: %s",
			    DEPLOY_TIMEOUT_S, gerr.message);
			return -1;
		}
		if (worker_is_stopping()) {
			snprintf(err, errlen, "stopped");
			return -1;
		}
		sleep(2);
	}
}

/* Creates one service and waits until it is ready; fills url or err. */
static int
deploy_one(struct deploy_job *job, const struct runplan_entry *entry,
    char *url, size_t urllen, char *err, size_t errlen)
{
	struct gcp_error gerr;
	json_t *body, *op = NULL, *done = NULL, *service = NULL, *error;
	const char *uri, *state;
	int rc;

	body = runplan_create_body(&job->plan, entry, job->env, err, errlen);
	if (body == NULL)
		return -1;
	/* Cloud Run then skips its invoker check, so that anyone may call
	 * the service; otherwise measured calls it with an ID token. */
	if (settings_bool(CFG_PUBLIC_SERVICES) && json_object_set_new(body,
	    "invokerIamDisabled", json_true()) == -1) {
		json_decref(body);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = run_create_service(entry->service_name, body, &op, &gerr);
	json_decref(body);
	if (rc == -1) {
		snprintf(err, errlen, "create failed: %s", gerr.message);
		return -1;
	}
	/* rc 1, or rc 0 without an operation after a retried create: the
	 * service exists already, from a deploy that was interrupted. */
	if (rc == 0 && op != NULL) {
		const char *name = json_string_value(json_object_get(op,
		    "name"));

		rc = run_wait_operation(name ? name : "", DEPLOY_TIMEOUT_S,
		    &done, &gerr);
		json_decref(op);
		if (rc == -1 && worker_is_stopping()) {
			json_decref(done);
			snprintf(err, errlen, "stopped");
			return -1;
		}
		if (rc == -1 && done == NULL) {
			/* The operation could not be read (the API restarted,
			 * or the operation expired); the service itself tells
			 * how the deploy went. */
			log_warnx("service %s: cannot follow its create "
			    "operation (%s); polling the service instead",
			    entry->service_name, gerr.message);
		} else if (rc == -1) {
			/* A failed operation comes back with -1 and is set. */
			json_decref(done);
			snprintf(err, errlen, "%s", gerr.message);
			return -1;
		} else if ((error = json_object_get(done, "error")) != NULL) {
			snprintf(err, errlen, "%s", json_string_value(
			    json_object_get(error, "message")) ?
			    json_string_value(json_object_get(error,
			    "message")) : "the operation failed");
			json_decref(done);
			return -1;
		}
		json_decref(done);
	}
	if (deploy_wait_service(entry->service_name, &service, err,
	    errlen) == -1)
		return -1;
	uri = json_string_value(json_object_get(service, "uri"));
	state = json_string_value(json_object_get(json_object_get(service,
	    "terminalCondition"), "state"));
	if (uri == NULL || uri[0] == '\0' || (state != NULL &&
	    strcmp(state, "CONDITION_SUCCEEDED") != 0)) {
		const char *message = json_string_value(json_object_get(
		    json_object_get(service, "terminalCondition"), "message"));

		snprintf(err, errlen, "service not ready: %s", message ?
		    message : "no URL");
		json_decref(service);
		return -1;
	}
	snprintf(url, urllen, "%s", uri);
	json_decref(service);
	return 0;
}

/* Records the outcome of one service in the manifest and the status. */
static void
deploy_record(struct deploy_job *job, size_t index, const char *url,
    const char *error)
{
	json_t *service, *progress;
	char err[512];

	pthread_mutex_lock(&job->lock);
	service = json_array_get(json_object_get(job->manifest, "services"),
	    index);
	progress = json_object_get(job->status, "progress");
	if (error == NULL) {
		json_object_set_new(service, "service_url", json_string(url));
		json_object_set_new(service, "status", json_string("deployed"));
		json_object_set_new(service, "deployed_at", deploy_now());
		json_object_set_new(progress, "completed", json_integer(
		    json_integer_value(json_object_get(progress,
		    "completed")) + 1));
	} else {
		json_object_set_new(service, "status", json_string("failed"));
		json_object_set_new(service, "error", json_string(error));
		json_object_set_new(progress, "failed", json_integer(
		    json_integer_value(json_object_get(progress, "failed")) +
		    1));
		json_array_append_new(json_object_get(job->status, "errors"),
		    json_pack("{s:O, s:O, s:s, s:s, s:s, s:o}",
		    "implementation", json_object_get(service,
		    "implementation"), "service_name", json_object_get(service,
		    "service_name"), "phase", "discovery", "message",
		    "deploy failed", "details", error, "timestamp",
		    deploy_now()));
	}
	if (deploy_write(job, 1, err, sizeof(err)) == -1)
		log_warnx("run %s: cannot store the deploy progress: %s",
		    job->run_id, err);
	pthread_mutex_unlock(&job->lock);
}

/* Returns 1 when a resumed deploy finished this service before. */
static int
deploy_done_already(struct deploy_job *job, size_t index)
{
	const char *status;

	pthread_mutex_lock(&job->lock);
	status = json_string_value(json_object_get(json_array_get(
	    json_object_get(job->manifest, "services"), index), "status"));
	pthread_mutex_unlock(&job->lock);
	return status != NULL && strcmp(status, "deployed") == 0;
}

static void *
deploy_worker(void *arg)
{
	struct deploy_job *job = arg;
	const struct runplan_entry *entry;
	char url[1024], err[1024];
	size_t index;

	for (;;) {
		pthread_mutex_lock(&job->lock);
		index = job->next++;
		pthread_mutex_unlock(&job->lock);
		if (index >= job->plan.count || worker_is_stopping())
			return NULL;
		if (deploy_done_already(job, index))
			continue;
		entry = &job->plan.entries[index];
		log_info("run %s: deploying %s (%s)", job->run_id,
		    entry->service_name, entry->image);
		if (deploy_one(job, entry, url, sizeof(url), err,
		    sizeof(err)) == 0) {
			log_info("run %s: %s ready at %s", job->run_id,
			    entry->service_name, url);
			deploy_record(job, index, url, NULL);
		} else if (worker_is_stopping()) {
			/* Left for the deployd that resumes the run. */
			return NULL;
		} else {
			log_warnx("run %s: %s failed: %s", job->run_id,
			    entry->service_name, err);
			deploy_record(job, index, NULL, err);
		}
	}
}

/* Writes the status every DEPLOY_HEARTBEAT_S while the deploy runs, so
 * that another agent instance can tell a slow deploy from an abandoned
 * one. Ticks of 100 ms bound the join at the end. */
static void *
deploy_heartbeat(void *arg)
{
	struct deploy_job *job = arg;
	char err[512];
	long ticks = 0;

	while (!job->done) {
		struct timespec tick = { 0, 100 * 1000000 };

		nanosleep(&tick, NULL);
		if (++ticks % (DEPLOY_HEARTBEAT_S * 10) != 0 || job->done)
			continue;
		pthread_mutex_lock(&job->lock);
		if (deploy_write(job, 0, err, sizeof(err)) == -1)
			log_warnx("run %s: cannot store the deploy status: %s",
			    job->run_id, err);
		pthread_mutex_unlock(&job->lock);
	}
	return NULL;
}

/*
 * Writes the final status. Retried for a minute, because measured waits
 * for it: stated may be restarting. A status that still cannot be written
 * stays "deploying" under this process, which no longer lists the run as
 * active, so the next scan resumes the deploy and writes it again.
 */
static void
deploy_write_final(struct deploy_job *job)
{
	char err[512];
	int i;

	/* The manifest too: a service's own write may have failed, and the
	 * manifest is where measured finds its URL. */
	for (i = 0; i < 30; i++) {
		if (deploy_write(job, 1, err, sizeof(err)) == 0)
			return;
		if (worker_is_stopping())
			break;
		sleep(2);
	}
	log_warnx("run %s: cannot store the deploy status: %s; the next scan "
	    "writes it again", job->run_id, err);
}

void
deploy_services(void *arg)
{
	struct deploy_job *job = arg;
	pthread_t threads[DEPLOY_PARALLEL], heartbeat;
	size_t i, n = job->plan.count < DEPLOY_PARALLEL ? job->plan.count :
	    DEPLOY_PARALLEL, started = 0;
	json_int_t completed = 0, failed = 0;
	json_t *service, *progress;
	const char *status;
	int beating;

	beating = pthread_create(&heartbeat, NULL, deploy_heartbeat, job) == 0;
	for (i = 0; i < n; i++)
		if (pthread_create(&threads[started], NULL, deploy_worker,
		    job) == 0)
			started++;
	if (started == 0)
		deploy_worker(job);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	job->done = 1;
	if (beating)
		pthread_join(heartbeat, NULL);

	/* Counted from the manifest, which each service's outcome reaches
	 * before the status does: a deploy resumed after a crash between
	 * the two writes skips a service whose count the status lacks. */
	json_array_foreach(json_object_get(job->manifest, "services"), i,
	    service) {
		status = json_string_value(json_object_get(service, "status"));
		if (status != NULL && strcmp(status, "deployed") == 0)
			completed++;
		else if (status != NULL && strcmp(status, "failed") == 0)
			failed++;
	}
	progress = json_object_get(job->status, "progress");
	json_object_set_new(progress, "completed", json_integer(completed));
	json_object_set_new(progress, "failed", json_integer(failed));
	if (completed + failed < (json_int_t)job->plan.count) {
		/* Stopped: give the deploy up for the next deployd. */
		json_object_set_new(job->status, "owner", json_null());
		deploy_write_final(job);
		log_info("run %s: stopped with %lld of %zu services done; the "
		    "next deployd resumes the deploy", job->run_id,
		    (long long)(completed + failed), job->plan.count);
		return;
	}
	json_object_set_new(job->status, "phase", json_string(completed > 0 ?
	    "waiting" : "failed"));
	json_object_set_new(job->status, "completed_at", deploy_now());
	deploy_write_final(job);
	log_info("run %s: deploy done, %lld of %zu services ready",
	    job->run_id, (long long)completed, job->plan.count);
}

/* Names of the run's services: from the manifest, else from the plan of
 * the stored request (a deploy that stopped before its manifest). */
static json_t *
deploy_service_names(const char *run_id, char *err, size_t errlen)
{
	struct runplan_options opts;
	struct runplan plan;
	char object[256];
	json_t *stored, *names, *service;
	size_t i;
	int rc;

	state_run_object(object, sizeof(object), run_id,
	    STATE_DEPLOY_MANIFEST);
	rc = state_get(object, &stored, NULL, err, errlen);
	if (rc == -1)
		return NULL;
	names = json_array();
	if (rc == 0) {
		json_array_foreach(json_object_get(stored, "services"), i,
		    service)
			json_array_append(names, json_object_get(service,
			    "service_name"));
		json_decref(stored);
		return names;
	}
	state_run_object(object, sizeof(object), run_id, STATE_REQUEST);
	if (state_get(object, &stored, NULL, err, errlen) != 0) {
		json_decref(names);
		return NULL;
	}
	memset(&opts, 0, sizeof(opts));
	opts.registry = settings_str(CFG_IMAGE_REGISTRY);
	opts.tag = settings_str(CFG_IMAGE_TAG);
	opts.local = settings_bool(CFG_LOCAL);
	if (runplan_build(&plan, json_object_get(stored, "request"),
	    deployd_manifest(), &opts, err, errlen) == 0) {
		for (i = 0; i < plan.count; i++)
			json_array_append_new(names, json_string(
			    plan.entries[i].service_name));
		runplan_free(&plan);
	}
	json_decref(stored);
	return names;
}

int
deploy_cleanup(const char *run_id, json_t **reply, char *err, size_t errlen,
    char *code, size_t codelen)
{
	struct gcp_error gerr;
	json_t *names, *name, *op = NULL, *round;
	char object[256], terr[512];
	long deleted = 0, rounds = 1, r;
	int job_deleted = 0, rc;
	size_t i;

	snprintf(code, codelen, "internal");
	state_run_object(object, sizeof(object), run_id, STATE_REQUEST);
	if ((rc = state_get(object, &name, NULL, err, errlen)) != 0) {
		if (rc == 1) {
			snprintf(code, codelen, "not_found");
			snprintf(err, errlen, "run %s was never deployed",
			    run_id);
		}
		return -1;
	}
	json_decref(name);
	if ((names = deploy_service_names(run_id, err, errlen)) == NULL)
		return -1;
	json_array_foreach(names, i, name) {
		rc = run_delete_service(json_string_value(name), &op, &gerr);
		json_decref(op);
		op = NULL;
		if (rc == 0) {
			deleted++;
			log_info("run %s: deleted service %s", run_id,
			    json_string_value(name));
		} else if (rc == -1)
			log_warnx("run %s: cannot delete %s: %s", run_id,
			    json_string_value(name), gerr.message);
	}
	json_decref(names);

	/* Triggers: the job, or the task of every round so far. */
	state_run_object(object, sizeof(object), run_id, STATE_MEASURE_STATUS);
	if (state_get(object, &round, NULL, terr, sizeof(terr)) == 0) {
		rounds = (long)json_integer_value(json_object_get(round,
		    "round")) + 1;
		json_decref(round);
	}
	for (r = 1; r <= rounds; r++)
		if (trigger_delete(run_id, r, terr, sizeof(terr)) == 0)
			job_deleted = 1;
	snprintf(object, sizeof(object), "agent/active/%s.json", run_id);
	state_delete(object, terr, sizeof(terr));
	*reply = json_pack("{s:s, s:I, s:b}", "run_id", run_id,
	    "services_deleted", (json_int_t)deleted, "scheduler_job_deleted",
	    job_deleted);
	return 0;
}

/*
 * Returns 1 when no process works on a deploy in progress. That is so when
 * its owner released it or is a dead process of this instance. It is so
 * when the owner is this process, which takes the run only if no job of
 * its own lists it. And it is so when the owner belongs to another
 * instance and has not written the status for DEPLOY_LEASE_S.
 */
static int
deploy_owner_gone(json_t *status)
{
	json_t *owner = json_object_get(status, "owner");
	const char *instance = json_string_value(json_object_get(owner,
	    "instance"));
	const char *updated = json_string_value(json_object_get(status,
	    "updated_at"));
	json_int_t pid = json_integer_value(json_object_get(owner, "pid"));
	time_t at;

	if (!json_is_object(owner))
		return 1;
	if (instance != NULL && strcmp(instance, settings_instance_id()) == 0)
		return pid == getpid() || pid <= 0 ||
		    (kill((pid_t)pid, 0) == -1 && errno == ESRCH);
	if (updated == NULL || timefmt_parse(updated, &at) == -1)
		return 1;
	return time(NULL) - at > DEPLOY_LEASE_S;
}

void
deploy_resume(void *arg)
{
	const char *run_id = arg;
	struct runplan_options opts;
	struct deploy_job *job;
	char object[256], err[512];
	json_t *stored;
	const char *phase;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return;
	pthread_mutex_init(&job->lock, NULL);
	snprintf(job->run_id, sizeof(job->run_id), "%s", run_id);
	state_run_object(object, sizeof(object), run_id, STATE_DEPLOY_STATUS);
	if (state_get(object, &job->status, NULL, err, sizeof(err)) != 0)
		goto done;
	phase = json_string_value(json_object_get(job->status, "phase"));
	if (phase == NULL || strcmp(phase, "deploying") != 0 ||
	    !deploy_owner_gone(job->status) || !deploy_active_take(job))
		goto done;
	state_run_object(object, sizeof(object), run_id,
	    STATE_DEPLOY_MANIFEST);
	if (state_get(object, &job->manifest, NULL, err, sizeof(err)) != 0)
		goto done;
	state_run_object(object, sizeof(object), run_id, STATE_REQUEST);
	if (state_get(object, &stored, NULL, err, sizeof(err)) != 0)
		goto done;
	memset(&opts, 0, sizeof(opts));
	opts.registry = settings_str(CFG_IMAGE_REGISTRY);
	opts.tag = settings_str(CFG_IMAGE_TAG);
	opts.local = settings_bool(CFG_LOCAL);
	if (runplan_build(&job->plan, json_object_get(stored, "request"),
	    deployd_manifest(), &opts, err, sizeof(err)) == -1 ||
	    job->plan.count != json_array_size(json_object_get(job->manifest,
	    "services"))) {
		json_decref(stored);
		log_warnx("run %s: cannot resume the deploy: the plan no "
		    "longer matches its manifest: %s", run_id, err);
		goto done;
	}
	json_decref(stored);
	if ((job->env = deploy_env(run_id, err, sizeof(err))) == NULL)
		goto done;
	json_object_set_new(job->status, "owner", json_pack("{s:s, s:I}",
	    "instance", settings_instance_id(), "pid", (json_int_t)getpid()));
	log_info("run %s: resuming the deploy its previous owner left",
	    run_id);
	deploy_services(job);
done:
	deploy_job_free(job);
}

void
deploy_list_abandoned(void *arg)
{
	json_t **out = arg, *names, *name, *status;
	char err[512], run_id[80], object[256];
	const char *base, *phase;
	size_t i, len;

	*out = json_array();
	if (state_list("agent/active/", &names, err, sizeof(err)) == -1) {
		log_warnx("cannot list the runs in progress: %s", err);
		return;
	}
	json_array_foreach(names, i, name) {
		if (worker_is_stopping() || *out == NULL)
			break;
		base = strrchr(json_string_value(name) ?
		    json_string_value(name) : "", '/');
		if (base == NULL)
			continue;
		base++;
		len = strlen(base);
		if (len <= 5 || len - 5 >= sizeof(run_id) ||
		    strcmp(base + len - 5, ".json") != 0)
			continue;
		memcpy(run_id, base, len - 5);
		run_id[len - 5] = '\0';
		state_run_object(object, sizeof(object), run_id,
		    STATE_DEPLOY_STATUS);
		if (state_get(object, &status, NULL, err, sizeof(err)) != 0)
			continue;
		phase = json_string_value(json_object_get(status, "phase"));
		if (phase != NULL && strcmp(phase, "deploying") == 0 &&
		    deploy_owner_gone(status))
			json_array_append_new(*out, json_string(run_id));
		json_decref(status);
	}
	json_decref(names);
}

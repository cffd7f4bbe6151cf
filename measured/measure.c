/* The measure phase of one run: claim, rounds, results. */
#include "config.h"

#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "measure.h"
#include "measure_int.h"
#include "peer.h"
#include "proto.h"
#include "runkey.h"
#include "servicetype.h"
#include "settings.h"
#include "state.h"
#include "timefmt.h"
#include "vectors.h"

/* When this process started, for the deploy staleness check. */
static time_t measure_started;

void
measure_init(void)
{
	measure_started = time(NULL);
}

int
measure_job_deferred(const struct measure_job *job)
{
	return job->deferred;
}

const char *
measure_job_run_id(const struct measure_job *job)
{
	return job->run_id;
}

void
measure_job_free(struct measure_job *job)
{
	if (job == NULL)
		return;
	if (job->type != NULL && job->type_state != NULL)
		job->type->destroy(job->type_state);
	vectors_free(job->vectors);
	json_decref(job->manifest);
	json_decref(job->request);
	json_decref(job->status);
	pthread_mutex_destroy(&job->lock);
	free(job);
}

json_t *
measure_now_json(void)
{
	char now[TIMEFMT_MAX];

	return json_string(timefmt_now(now, sizeof(now)));
}

/* Builds the owner entry of a claim. "claim" numbers the claims of this
 * process, so that two claims made within one millisecond still differ
 * and a claim can tell its own write from another's. */
static json_t *
measure_owner(void)
{
	static unsigned long claims;

	return json_pack("{s:s, s:I, s:o, s:I}", "instance",
	    settings_instance_id(), "pid", (json_int_t)getpid(),
	    "heartbeat_at", measure_now_json(), "claim", (json_int_t)
	    __atomic_add_fetch(&claims, 1, __ATOMIC_RELAXED));
}

long
measure_config_int(struct measure_job *job, const char *field)
{
	return (long)json_integer_value(json_object_get(json_object_get(
	    job->request, "benchmark_config"), field));
}

const char *
measure_strategy(json_t *request)
{
	const char *s = json_string_value(json_object_get(json_object_get(
	    request, "benchmark_config"), "cold_start_strategy"));

	return s != NULL ? s : "rounds";
}

/* Returns 1 when the time in field of object is more than seconds in the
 * past, and missing when the field has no time. */
static int
measure_late(json_t *object, const char *field, long seconds, int missing)
{
	const char *when = json_string_value(json_object_get(object, field));
	time_t at;

	if (when == NULL || timefmt_parse(when, &at) == -1)
		return missing;
	return time(NULL) - at > seconds;
}

/* Returns 1 when the owner recorded in status can no longer be working. */
static int
measure_owner_gone(json_t *status)
{
	json_t *owner = json_object_get(status, "owner");
	const char *instance, *heartbeat;
	json_int_t pid;
	time_t at;

	if (!json_is_object(owner))
		return 1;
	instance = json_string_value(json_object_get(owner, "instance"));
	pid = json_integer_value(json_object_get(owner, "pid"));
	heartbeat = json_string_value(json_object_get(owner, "heartbeat_at"));
	/* On this instance a dead pid settles it at once. */
	if (instance != NULL && strcmp(instance, settings_instance_id()) == 0)
		return pid <= 0 || (pid != getpid() &&
		    kill((pid_t)pid, 0) == -1 && errno == ESRCH);
	if (heartbeat == NULL || timefmt_parse(heartbeat, &at) == -1)
		return 1;
	return time(NULL) - at > MEASURE_LEASE_S;
}

/* Returns 1 when the stored status is job->status, and takes its
 * generation: a write that failed in transit and then got a precondition
 * failure on its retry may have landed. */
static int
measure_write_landed(struct measure_job *job)
{
	char generation[STATE_GENERATION_MAX], err[512];
	json_t *stored;
	int same;

	if (state_get(job->object, &stored, generation, err,
	    sizeof(err)) != 0)
		return 0;
	same = json_equal(stored, job->status);
	json_decref(stored);
	if (same)
		memcpy(job->generation, generation, sizeof(generation));
	return same;
}

/* Writes the status with the generation last written; 0 on success, 1
 * when another process has taken the claim, -1 on error. */
static int
measure_write_locked(struct measure_job *job)
{
	char err[512];
	int rc;

	if (job->lost)
		return 1;
	json_object_set_new(job->status, "updated_at", measure_now_json());
	json_object_set_new(json_object_get(job->status, "owner"),
	    "heartbeat_at", measure_now_json());
	rc = state_put(job->object, job->status, job->generation,
	    job->generation, err, sizeof(err));
	if (rc == 1 && measure_write_landed(job))
		rc = 0;
	if (rc == 1) {
		log_warnx("run %s: another process took over the measurement",
		    job->run_id);
		job->lost = 1;
	} else if (rc == -1)
		log_warnx("run %s: cannot store the measurement status: %s",
		    job->run_id, err);
	return rc;
}

int
measure_write(struct measure_job *job)
{
	int rc;

	pthread_mutex_lock(&job->lock);
	rc = measure_write_locked(job);
	pthread_mutex_unlock(&job->lock);
	return rc;
}

static json_t *
measure_reply(const char *run_id, const char *status, json_t *st)
{
	char url[512];
	json_t *reply;

	state_run_url(url, sizeof(url), run_id, STATE_RESULTS);
	reply = json_pack("{s:s, s:s, s:s}", "run_id", run_id, "status",
	    status, "results_url", url);
	if (st != NULL) {
		json_object_set(reply, "phase", json_object_get(st, "phase"));
		json_object_set(reply, "round", json_object_get(st, "round"));
	}
	return reply;
}

static json_t *
measure_status_new(const char *run_id, json_t *request, long planned)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:{s:i, s:i, s:i}, s:n, s:[], "
	    "s:i, s:i, s:s, s:o, s:{}}", "run_id", run_id, "phase", "measuring",
	    "started_at", measure_now_json(), "updated_at", measure_now_json(),
	    "progress", "total", 0, "completed", 0, "failed", 0,
	    "current_service", "errors", "round", 1, "rounds_planned",
	    (int)planned, "strategy", measure_strategy(request), "owner",
	    measure_owner(), "services");
}

/* Loads what a job needs besides the status; -1 with err set. */
static int
measure_load_run(struct measure_job *job, char *err, size_t errlen)
{
	char object[256];
	int rc;

	state_run_object(object, sizeof(object), job->run_id,
	    STATE_DEPLOY_MANIFEST);
	rc = state_get(object, &job->manifest, NULL, err, errlen);
	if (rc != 0)
		return rc;
	state_run_object(object, sizeof(object), job->run_id, STATE_REQUEST);
	rc = state_get(object, &job->request, NULL, err, errlen);
	if (rc == 1)
		snprintf(err, errlen, "%s is missing", object);
	if (rc != 0)
		return -1;
	/* The request object wraps the normalized request. */
	if (json_object_get(job->request, "request") != NULL) {
		json_t *inner = json_incref(json_object_get(job->request,
		    "request"));

		json_decref(job->request);
		job->request = inner;
	}
	return 0;
}

enum measure_claim
measure_claim(const char *run_id, enum measure_why why,
    struct measure_job **jobp,
    json_t **reply, char *err, size_t errlen)
{
	struct measure_job *job;
	const char *phase;
	json_t *st, *tried = NULL;
	long iterations;
	int rc, attempt;

	*jobp = NULL;
	*reply = NULL;
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return CLAIM_ERROR;
	}
	pthread_mutex_init(&job->lock, NULL);
	snprintf(job->run_id, sizeof(job->run_id), "%s", run_id);
	state_run_object(job->object, sizeof(job->object), run_id,
	    STATE_MEASURE_STATUS);
	rc = measure_load_run(job, err, errlen);
	if (rc == 1) {
		measure_job_free(job);
		*reply = measure_reply(run_id, "not_found", NULL);
		return CLAIM_NOT_FOUND;
	}
	if (rc == -1)
		goto error;
	iterations = measure_config_int(job, "cold_start_iterations");

	for (attempt = 0; attempt < 5; attempt++) {
		rc = state_get(job->object, &st, job->generation, err, errlen);
		if (rc == -1)
			goto error;
		/*
		 * A write that failed in transit and got a precondition
		 * failure on its retry may have landed: the claim is ours
		 * when the stored status is the one we wrote. Without this,
		 * our own owner entry would look alive and block the run.
		 */
		if (rc == 0 && tried != NULL && json_equal(st, tried)) {
			json_decref(tried);
			tried = NULL;
			job->status = st;
			job->round = (long)json_integer_value(json_object_get(
			    st, "round"));
			goto started;
		}
		json_decref(tried);
		tried = NULL;
		if (rc == 1) {
			if (why == WHY_SCAN && !measure_late(job->manifest,
			    "measure_scheduled_at",
			    settings_int(CFG_TRIGGER_GRACE), 0))
				goto busy_or_idle;
			if (why == WHY_SCAN)
				log_warnx("run %s: the measure trigger did not "
				    "come; starting the measurement", run_id);
			st = measure_status_new(run_id, job->request,
			    strcmp(measure_strategy(job->request),
			    "replicas") == 0 ? 1 : iterations);
			rc = state_put(job->object, st, "0", job->generation,
			    err, errlen);
			if (rc == 0) {
				job->status = st;
				job->round = 1;
				goto started;
			}
			if (rc == -1) {
				json_decref(st);
				goto error;
			}
			tried = st;
			continue;
		}
		phase = json_string_value(json_object_get(st, "phase"));
		if (phase != NULL && strcmp(phase, "completed") == 0) {
			*reply = measure_reply(run_id, "completed", st);
			json_decref(st);
			measure_job_free(job);
			return CLAIM_COMPLETED;
		}
		if (phase != NULL && strcmp(phase, "failed") == 0) {
			*reply = measure_reply(run_id, "failed", st);
			json_decref(st);
			measure_job_free(job);
			return CLAIM_FAILED;
		}
		if (phase != NULL && strcmp(phase, "measuring") == 0 &&
		    !measure_owner_gone(st)) {
			*reply = measure_reply(run_id, "measuring", st);
			json_decref(st);
			measure_job_free(job);
			return CLAIM_BUSY;
		}
		if (phase != NULL && strcmp(phase, "waiting") == 0) {
			/* Due means at most a second ahead. */
			if ((why == WHY_SCAN && !measure_late(st,
			    "next_round_at", settings_int(CFG_TRIGGER_GRACE),
			    0)) || (why == WHY_AGAIN && !measure_late(st,
			    "next_round_at", -2, 1))) {
				json_decref(st);
				goto busy_or_idle;
			}
			if (why == WHY_SCAN)
				log_warnx("run %s: the trigger of round %lld did "
				    "not come; starting the round", run_id,
				    (long long)json_integer_value(
				    json_object_get(st, "round")) + 1);
			/* The next round's trigger. */
			json_object_set_new(st, "round", json_integer(
			    json_integer_value(json_object_get(st, "round")) +
			    1));
		}
		json_object_set_new(st, "phase", json_string("measuring"));
		json_object_set_new(st, "owner", measure_owner());
		json_object_del(st, "next_round_at");
		rc = state_put(job->object, st, job->generation,
		    job->generation, err, errlen);
		if (rc == 0) {
			job->status = st;
			job->round = (long)json_integer_value(json_object_get(
			    st, "round"));
			goto started;
		}
		if (rc == -1) {
			json_decref(st);
			goto error;
		}
		tried = st;
	}
	snprintf(err, errlen, "%s keeps changing under us", job->object);
error:
	json_decref(tried);
	measure_job_free(job);
	return CLAIM_ERROR;
busy_or_idle:
	measure_job_free(job);
	*reply = measure_reply(run_id, "idle", NULL);
	return CLAIM_BUSY;
started:
	log_debug("run %s: claimed round %ld of the measurement", run_id,
	    job->round);
	*reply = measure_reply(run_id, "measuring", job->status);
	*jobp = job;
	return CLAIM_STARTED;
}

void
measure_error(struct measure_job *job, json_t *service, const char *phase,
    const char *message, const char *details)
{
	const char *impl, *name;
	json_t *error;

	impl = json_string_value(json_object_get(service, "implementation"));
	name = json_string_value(json_object_get(service, "service_name"));
	error = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:I}",
	    "implementation", impl ? impl : "", "service_name", name ? name : "",
	    "phase", phase, "message", message, "details", details ? details :
	    "", "timestamp", measure_now_json(), "round", (json_int_t)job->round);
	log_warnx("run %s: %s: %s: %s%s%s", job->run_id, name ? name : "?",
	    phase, message, details ? ": " : "", details ? details : "");
	pthread_mutex_lock(&job->lock);
	json_array_append_new(json_object_get(job->status, "errors"), error);
	pthread_mutex_unlock(&job->lock);
}

int
measure_sleep(struct measure_job *job, long seconds)
{
	struct timespec tick = { 0, 100 * 1000000 };
	long i;

	for (i = 0; i < seconds * 10; i++) {
		if (*job->stop || job->lost)
			return -1;
		nanosleep(&tick, NULL);
	}
	return *job->stop || job->lost ? -1 : 0;
}

static void *
measure_heartbeat(void *arg)
{
	struct measure_job *job = arg;
	long ticks = 0;

	/* Ticks of 100 ms: the job joins this thread when it ends, so a tick
	 * bounds that wait. */
	while (!job->done && !*job->stop && !job->lost) {
		struct timespec tick = { 0, 100 * 1000000 };

		nanosleep(&tick, NULL);
		if (++ticks % (MEASURE_HEARTBEAT_S * 10) == 0 && !job->done)
			measure_write(job);
	}
	return NULL;
}

/* Builds the service type's state from the run's derived secret and loads
 * the contract's test vectors. */
static int
measure_prepare(struct measure_job *job, char *err, size_t errlen)
{
	unsigned char secret[SERVICETYPE_SECRET_MAX];
	const char *type = settings_str(CFG_SERVICE_TYPE);
	char dir[1024];

	if ((job->type = servicetype_find(type)) == NULL) {
		snprintf(err, errlen, "service type %s is not known", type);
		return -1;
	}
	if (job->type->secret_len > 0 && runkey_derive(job->run_id, secret,
	    job->type->secret_len, err, errlen) == -1)
		return -1;
	job->type_state = job->type->create(job->type->secret_len > 0 ?
	    secret : NULL, job->type->secret_len, err, errlen);
	memset(secret, 0, sizeof(secret));
	if (job->type_state == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/contract/%s/test-vectors",
	    settings_data_dir(), type);
	job->vectors = vectors_load(dir, err, errlen);
	return job->vectors == NULL ? -1 : 0;
}

static int
measure_reload_manifest(struct measure_job *job, char *err, size_t errlen)
{
	char object[256];
	json_t *manifest;

	state_run_object(object, sizeof(object), job->run_id,
	    STATE_DEPLOY_MANIFEST);
	if (state_get(object, &manifest, NULL, err, errlen) != 0)
		return -1;
	json_decref(job->manifest);
	job->manifest = manifest;
	return 0;
}

/*
 * Checks the deploy phase: 0 when it has ended (the manifest is read
 * again, since the one read at the claim may predate the services' URLs),
 * 1 while it runs, 2 when it is stuck (no write for
 * MEASURE_DEPLOY_STALE_S), -1 on a state error. A deploy that stopped
 * half-way has a manifest but no status until /deploy is repeated or
 * deployd resumes it. Such a deploy counts as running since the
 * manifest's time.
 */
static int
measure_deploy_state(struct measure_job *job, char *err, size_t errlen)
{
	char object[256];
	const char *phase, *updated;
	json_t *st = NULL;
	time_t at;
	int rc;

	state_run_object(object, sizeof(object), job->run_id,
	    STATE_DEPLOY_STATUS);
	if ((rc = state_get(object, &st, NULL, err, errlen)) == -1)
		return -1;
	if (rc == 1) {
		phase = "deploying";
		updated = json_string_value(json_object_get(job->manifest,
		    "deployed_at"));
	} else {
		phase = json_string_value(json_object_get(st, "phase"));
		updated = json_string_value(json_object_get(st, "updated_at"));
	}
	if (phase == NULL || strcmp(phase, "deploying") != 0) {
		json_decref(st);
		return measure_reload_manifest(job, err, errlen);
	}
	if (updated == NULL || timefmt_parse(updated, &at) == -1)
		at = 0;
	json_decref(st);
	/* After a long outage every status looks stale: deployd resumes the
	 * deploy, so give it the same time after this process started. */
	if (time(NULL) - at > MEASURE_DEPLOY_STALE_S &&
	    time(NULL) - measure_started > MEASURE_DEPLOY_STALE_S) {
		snprintf(err, errlen, "the deploy stopped: its status was last "
		    "written more than %d s ago; deploy the run again with a "
		    "new run_id", MEASURE_DEPLOY_STALE_S);
		return 2;
	}
	return 1;
}

static int
measure_is_primary(json_t *service)
{
	json_t *replica = json_object_get(json_object_get(service,
	    "dimensions"), "replica");

	return replica == NULL || json_integer_value(replica) == 0;
}

static int
measure_deployed(json_t *service)
{
	const char *status = json_string_value(json_object_get(service,
	    "status"));
	const char *url = json_string_value(json_object_get(service,
	    "service_url"));

	return status != NULL && strcmp(status, "deployed") == 0 &&
	    url != NULL && url[0] != '\0';
}

/* Counts the confirmed cold samples of a service record. */
static long
measure_samples(json_t *record)
{
	json_t *attempt;
	size_t i;
	long n = 0;

	json_array_foreach(json_object_get(record, "cold"), i, attempt) {
		const char *outcome = json_string_value(json_object_get(
		    attempt, "outcome"));

		if (outcome != NULL && strcmp(outcome, "sample") == 0)
			n++;
	}
	return n;
}

/* Returns 1 when a cold attempt was refused (HTTP 401 or 403), which
 * no later round changes. */
static int
measure_denied(json_t *record)
{
	json_t *attempt;
	size_t i;

	json_array_foreach(json_object_get(record, "cold"), i, attempt) {
		const char *outcome = json_string_value(json_object_get(
		    attempt, "outcome"));

		if (outcome != NULL && strcmp(outcome, "denied") == 0)
			return 1;
	}
	return 0;
}

static long
measure_target(struct measure_job *job)
{
	if (strcmp(measure_strategy(job->request), "replicas") == 0)
		return 1;
	return measure_config_int(job, "cold_start_iterations");
}

/* Returns 1 when the service still needs a cold attempt this round. */
static int
measure_needs_cold(struct measure_job *job, json_t *record)
{
	json_t *attempt;
	size_t i;

	if (measure_samples(record) >= measure_target(job) ||
	    measure_denied(record))
		return 0;
	json_array_foreach(json_object_get(record, "cold"), i, attempt)
		if (json_integer_value(json_object_get(attempt, "round")) ==
		    job->round)
			return 0;
	return 1;
}

static json_t *
measure_record(struct measure_job *job, const char *name)
{
	json_t *services = json_object_get(job->status, "services");
	json_t *record = json_object_get(services, name);

	if (record != NULL)
		return record;
	record = json_pack("{s:[], s:[], s:n, s:n}", "cold", "seen_instances",
	    "contract", "warm");
	pthread_mutex_lock(&job->lock);
	json_object_set_new(services, name, record);
	pthread_mutex_unlock(&job->lock);
	return record;
}

/* Stores a cold attempt and the instances it saw. */
static void
measure_store_cold(struct measure_job *job, json_t *record, json_t *attempt)
{
	json_t *seen = json_object_get(record, "seen_instances"), *id, *have;
	size_t i, j;

	pthread_mutex_lock(&job->lock);
	json_array_foreach(json_object_get(attempt, "instances"), i, id) {
		json_array_foreach(seen, j, have)
			if (json_equal(have, id))
				break;
		if (j == json_array_size(seen))
			json_array_append(seen, id);
	}
	json_object_del(attempt, "instances");
	json_array_append_new(json_object_get(record, "cold"), attempt);
	pthread_mutex_unlock(&job->lock);
}

static void
measure_set(struct measure_job *job, json_t *object, const char *key,
    json_t *value)
{
	pthread_mutex_lock(&job->lock);
	json_object_set_new(object, key, value);
	pthread_mutex_unlock(&job->lock);
}

/* Updates progress: a service is completed once it has all its samples
 * (and its contract and warm results when it is a cell's primary). */
static void
measure_progress(struct measure_job *job)
{
	json_t *services = json_object_get(job->manifest, "services");
	json_t *service, *record, *progress;
	long completed = 0, failed = 0;
	size_t i;

	json_array_foreach(services, i, service) {
		const char *name = json_string_value(json_object_get(service,
		    "service_name"));

		record = json_object_get(json_object_get(job->status,
		    "services"), name ? name : "");
		if (!measure_deployed(service) || (record != NULL &&
		    measure_denied(record)))
			failed++;
		else if (record != NULL &&
		    measure_samples(record) >= measure_target(job) &&
		    (!measure_is_primary(service) ||
		    (!json_is_null(json_object_get(record, "contract")) &&
		    !json_is_null(json_object_get(record, "warm")))))
			completed++;
	}
	progress = json_pack("{s:I, s:I, s:I}", "total",
	    (json_int_t)json_array_size(services), "completed",
	    (json_int_t)completed, "failed", (json_int_t)failed);
	measure_set(job, job->status, "progress", progress);
}

/* Measures one service for this round. */
static void
measure_service(struct measure_job *job, json_t *service)
{
	const char *name = json_string_value(json_object_get(service,
	    "service_name"));
	json_t *record, *result;

	record = measure_record(job, name);
	measure_set(job, job->status, "current_service", json_string(name));
	measure_write(job);

	if (measure_needs_cold(job, record)) {
		result = measure_cold(job, service, record);
		if (result == NULL)
			return;
		measure_store_cold(job, record, result);
		measure_set(job, record, "last_request_at", measure_now_json());
		measure_write(job);
	}
	if (!measure_is_primary(service))
		return;
	if (json_is_null(json_object_get(record, "contract")) &&
	    !*job->stop && !job->lost) {
		if ((result = measure_contract(job, service)) == NULL)
			return;
		measure_set(job, record, "contract", result);
		measure_set(job, record, "last_request_at", measure_now_json());
		measure_write(job);
	}
	if (json_is_null(json_object_get(record, "warm")) &&
	    !*job->stop && !job->lost) {
		if ((result = measure_warm(job, service)) == NULL)
			return;
		measure_set(job, record, "warm", result);
		measure_set(job, record, "last_request_at", measure_now_json());
		measure_write(job);
	}
}

static long
measure_round_delay(struct measure_job *job)
{
	json_t *schedule = json_object_get(job->request, "schedule");
	json_t *v;

	if ((v = json_object_get(schedule, "round_delay_seconds")) != NULL)
		return (long)json_integer_value(v);
	if ((v = json_object_get(schedule, "measure_delay_seconds")) != NULL)
		return (long)json_integer_value(v);
	return 60 * (long)json_integer_value(json_object_get(schedule,
	    "measure_delay_minutes"));
}

/* Asks deployd to schedule the next round, and writes the time the
 * trigger fires into at; -1 when it could not. */
static int
measure_schedule_next(struct measure_job *job, long delay, time_t *at)
{
	json_t *body, *result = NULL;
	const char *when;
	char err[512];
	int rc;

	body = json_pack("{s:s, s:I, s:I}", "run_id", job->run_id, "delay_s",
	    (json_int_t)delay, "round", (json_int_t)(job->round + 1));
	rc = peer_call("deployd", MSG_SCHEDULE, body, 60000, &result, err,
	    sizeof(err));
	json_decref(body);
	when = json_string_value(json_object_get(result, "scheduled_at"));
	if (rc == 0 && (when == NULL || timefmt_parse(when, at) == -1))
		*at = time(NULL) + delay;
	json_decref(result);
	if (rc != 0) {
		measure_error(job, NULL, "internal", "cannot schedule the next "
		    "round; measured starts it itself, a few minutes late",
		    err);
		return -1;
	}
	return 0;
}

static void
measure_unschedule(struct measure_job *job)
{
	json_t *body, *result = NULL;
	char err[512];

	body = json_pack("{s:s}", "run_id", job->run_id);
	if (peer_call("deployd", MSG_UNSCHEDULE, body, 60000, &result, err,
	    sizeof(err)) != 0)
		log_warnx("run %s: cannot delete the measure trigger: %s",
		    job->run_id, err);
	json_decref(body);
	json_decref(result);
}

/* Writes results.json and marks the run completed. */
static void
measure_finish(struct measure_job *job)
{
	char object[256], err[512];
	json_t *results;

	results = measure_results(job);
	state_run_object(object, sizeof(object), job->run_id, STATE_RESULTS);
	if (results == NULL || state_put(object, results, NULL, NULL, err,
	    sizeof(err)) != 0) {
		measure_error(job, NULL, "internal", "cannot store results.json",
		    results == NULL ? "cannot build the results" : err);
		json_decref(results);
		measure_set(job, job->status, "phase", json_string("failed"));
		measure_write(job);
		return;
	}
	json_decref(results);
	pthread_mutex_lock(&job->lock);
	json_object_set_new(job->status, "phase", json_string("completed"));
	json_object_set_new(job->status, "completed_at", measure_now_json());
	json_object_set_new(job->status, "current_service", json_null());
	pthread_mutex_unlock(&job->lock);
	if (measure_write(job) != 0)
		return;
	measure_unschedule(job);
	snprintf(object, sizeof(object), "agent/active/%s.json", job->run_id);
	state_delete(object, err, sizeof(err));
	state_run_url(object, sizeof(object), job->run_id, STATE_RESULTS);
	log_info("run %s: measurement completed, results in %s", job->run_id,
	    object);
}

/* Ends a round: schedules the next one or finishes the run. */
static void
measure_end_round(struct measure_job *job)
{
	json_t *services = json_object_get(job->manifest, "services");
	json_t *service, *record;
	long delay, max_rounds;
	int need_more = 0;
	char at[TIMEFMT_MAX];
	time_t next;
	size_t i;

	json_array_foreach(services, i, service) {
		const char *name = json_string_value(json_object_get(service,
		    "service_name"));

		record = json_object_get(json_object_get(job->status,
		    "services"), name ? name : "");
		if (measure_deployed(service) && (record == NULL ||
		    (measure_samples(record) < measure_target(job) &&
		    !measure_denied(record))))
			need_more = 1;
	}
	max_rounds = strcmp(measure_strategy(job->request), "replicas") == 0 ?
	    1 : measure_config_int(job, "cold_start_iterations") +
	    MEASURE_EXTRA_ROUNDS;
	if (!need_more || job->round >= max_rounds) {
		measure_finish(job);
		return;
	}
	delay = measure_round_delay(job);
	/*
	 * The trigger comes before the status: after a crash between the
	 * two, the run is still measuring under a dead owner, and the next
	 * measured resumes it, whereas a run left waiting without a trigger
	 * would wait for ever. A trigger that fires before the status is
	 * written finds this job running, which claims the run again when
	 * it ends.
	 * A trigger that is lost all the same (it reached another instance,
	 * or this process died before the claim) is made up for by the
	 * scan of measured, which claims a run whose next_round_at is
	 * TRIGGER_GRACE seconds past.
	 */
	log_info("run %s: round %ld done; next round in %ld s", job->run_id,
	    job->round, delay);
	next = time(NULL) + delay;
	measure_schedule_next(job, delay, &next);
	pthread_mutex_lock(&job->lock);
	json_object_set_new(job->status, "phase", json_string("waiting"));
	json_object_set_new(job->status, "next_round_at", json_string(
	    timefmt_utc(at, sizeof(at), next)));
	json_object_set_new(job->status, "current_service", json_null());
	json_object_set_new(job->status, "owner", json_null());
	pthread_mutex_unlock(&job->lock);
	measure_write(job);
}

/* Gives the claim up, so that the next /measure resumes at once. */
static void
measure_release(struct measure_job *job)
{
	measure_set(job, job->status, "owner", json_null());
	if (measure_write(job) == 0)
		log_info("run %s: stopped; progress stored for the next "
		    "/measure", job->run_id);
	else
		log_warnx("run %s: stopped without storing the last progress; "
		    "the next /measure resumes from the last step stored, once "
		    "the claim's lease of %d s has run out", job->run_id,
		    MEASURE_LEASE_S);
}

void
measure_run(struct measure_job *job, volatile int *stop)
{
	json_t *services, *service;
	pthread_t heartbeat;
	char err[512];
	size_t i;
	int rc;

	job->stop = stop;
	if (pthread_create(&heartbeat, NULL, measure_heartbeat, job) != 0) {
		log_warnx("run %s: cannot start the heartbeat", job->run_id);
		return;
	}
	if (measure_prepare(job, err, sizeof(err)) == -1 ||
	    (rc = measure_deploy_state(job, err, sizeof(err))) == -1) {
		measure_error(job, NULL, "internal", "cannot start measuring",
		    err);
		measure_set(job, job->status, "phase", json_string("failed"));
		measure_write(job);
		goto out;
	}
	if (rc == 2) {
		measure_error(job, NULL, "discovery", "the services were not "
		    "deployed", err);
		measure_set(job, job->status, "phase", json_string("failed"));
		measure_write(job);
		goto out;
	}
	if (rc == 1) {
		/* Waiting here would hold up the runs queued behind. */
		job->deferred = 1;
		measure_set(job, job->status, "owner", json_null());
		measure_write(job);
		goto out;
	}
	log_info("run %s: measuring round %ld", job->run_id, job->round);

	services = json_object_get(job->manifest, "services");
	json_array_foreach(services, i, service) {
		if (*stop || job->lost)
			break;
		if (!measure_deployed(service))
			continue;
		measure_service(job, service);
		measure_progress(job);
		measure_write(job);
	}
	if (job->lost)
		goto out;
	if (*stop) {
		measure_release(job);
		goto out;
	}
	measure_end_round(job);
out:
	job->done = 1;
	pthread_join(heartbeat, NULL);
}

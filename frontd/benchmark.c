/*
 * POST /benchmark, the legacy single call: deploy, wait for the services
 * to scale to zero inside the call, measure every round, clean up, and
 * answer with the whole results document. The phased /deploy + /measure
 * is the way for real runs; this call holds a request open for minutes.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frontd.h"
#include "log.h"
#include "peer.h"
#include "proto.h"
#include "settings.h"
#include "state.h"
#include "validate.h"

/* Maximum duration of the whole call, in seconds: Cloud Run's request
 * timeout of the agent's own service is 30 minutes. */
#define BENCHMARK_LIMIT_S	1740
/* Delay of the scheduled trigger, in seconds: long enough that it never
 * fires during the call, which measures by itself. */
#define BENCHMARK_TRIGGER_DELAY_S	3600

static const char *
benchmark_phase(const char *run_id, const char *file, json_t **data)
{
	char object[256], err[512];

	*data = NULL;
	state_run_object(object, sizeof(object), run_id, file);
	if (state_get(object, data, NULL, err, sizeof(err)) != 0)
		return NULL;
	return json_string_value(json_object_get(*data, "phase"));
}

static void
benchmark_sleep(void)
{
	struct timespec tick = { 1, 0 };

	nanosleep(&tick, NULL);
}

static int
benchmark_call(const char *worker, uint32_t type, json_t *body,
    int timeout_ms, json_t **result, struct api_error *error)
{
	char err[1024];
	int rc;

	rc = peer_call(worker, type, body, timeout_ms, result, err,
	    sizeof(err));
	if (rc == 0)
		return 0;
	error->status = rc == 1 ? 500 : 503;
	snprintf(error->code, sizeof(error->code), "%s", rc == 1 ?
	    peer_error_code(*result) : "unavailable");
	if (strcmp(error->code, "conflict") == 0)
		error->status = 409;
	snprintf(error->message, sizeof(error->message), "%s", err);
	json_decref(*result);
	*result = NULL;
	return -1;
}

/* Waits for the deploy phase to end; -1 when the time is up. */
static int
benchmark_wait_deploy(const char *run_id, time_t deadline)
{
	const char *phase;
	json_t *st;

	while (time(NULL) < deadline) {
		phase = benchmark_phase(run_id, STATE_DEPLOY_STATUS, &st);
		if (phase != NULL && strcmp(phase, "deploying") != 0) {
			json_decref(st);
			return 0;
		}
		json_decref(st);
		benchmark_sleep();
	}
	return -1;
}

/* Measures round after round until the run completes or fails. */
static int
benchmark_measure(const char *run_id, time_t deadline,
    struct api_error *error)
{
	json_t *body = json_pack("{s:s}", "run_id", run_id), *result, *st;
	const char *phase;
	int rc = -1, call = 1;

	while (time(NULL) < deadline) {
		if (call) {
			result = NULL;
			if (benchmark_call("measured", MSG_MEASURE_RUN, body,
			    60000, &result, error) == -1)
				break;
			json_decref(result);
			call = 0;
		}
		benchmark_sleep();
		phase = benchmark_phase(run_id, STATE_MEASURE_STATUS, &st);
		if (phase != NULL && (strcmp(phase, "completed") == 0 ||
		    strcmp(phase, "failed") == 0)) {
			json_decref(st);
			rc = 0;
			break;
		}
		/* Between rounds: the next round waits for zero instances. */
		if (phase != NULL && strcmp(phase, "waiting") == 0)
			call = 1;
		json_decref(st);
	}
	if (rc == -1 && error->status == 0) {
		error->status = 504;
		snprintf(error->code, sizeof(error->code), "timeout");
		snprintf(error->message, sizeof(error->message), "run %s did "
		    "not finish within %d s; GET /status/%s", run_id,
		    BENCHMARK_LIMIT_S, run_id);
	}
	json_decref(body);
	return rc;
}

void
benchmark_run(json_t *deploy, int *status, json_t **reply,
    struct api_error *error)
{
	const char *run_id = json_string_value(json_object_get(deploy,
	    "run_id"));
	time_t deadline = time(NULL) + BENCHMARK_LIMIT_S;
	json_t *schedule, *body, *result = NULL, *results;
	char object[256], err[512];
	char *canonical;

	schedule = json_object_get(deploy, "schedule");
	json_object_set_new(schedule, "measure_delay_seconds",
	    json_integer(BENCHMARK_TRIGGER_DELAY_S));
	json_object_set_new(schedule, "round_delay_seconds", json_integer(0));
	canonical = validate_canonical_dump(deploy);
	body = json_pack("{s:s, s:O, s:s}", "run_id", run_id, "request",
	    deploy, "canonical", canonical ? canonical : "");
	free(canonical);
	if (benchmark_call("deployd", MSG_DEPLOY_RUN, body, 120000, &result,
	    error) == -1) {
		json_decref(body);
		return;
	}
	json_decref(body);
	json_decref(result);
	log_info("run %s: legacy benchmark deployed; measuring in this call",
	    run_id);

	if (benchmark_wait_deploy(run_id, deadline) == -1 ||
	    benchmark_measure(run_id, deadline, error) == -1) {
		if (error->status == 0) {
			error->status = 504;
			snprintf(error->code, sizeof(error->code), "timeout");
			snprintf(error->message, sizeof(error->message),
			    "the deploy of run %s did not finish in time",
			    run_id);
		}
		return;
	}
	state_run_object(object, sizeof(object), run_id, STATE_RESULTS);
	if (state_get(object, &results, NULL, err, sizeof(err)) != 0) {
		error->status = 500;
		snprintf(error->code, sizeof(error->code), "internal");
		snprintf(error->message, sizeof(error->message), "run %s ended "
		    "without results.json: %s", run_id, err);
		return;
	}
	body = json_pack("{s:s}", "run_id", run_id);
	result = NULL;
	if (benchmark_call("deployd", MSG_CLEANUP_RUN, body, 600000, &result,
	    error) == -1)
		log_warnx("run %s: cleanup after the benchmark failed: %s",
		    run_id, error->message);
	memset(error, 0, sizeof(*error));
	json_decref(result);
	json_decref(body);
	*status = 200;
	*reply = results;
}

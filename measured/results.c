/*
 * results.json: one entry per matrix cell (implementation x settings),
 * built from the deployment manifest and the stored measurements, in the
 * Agent API's result schema with the agent's extensions beside the
 * required fields.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "measure_int.h"
#include "settings.h"
#include "stats.h"

/* Identifies a cell: the dimensions without the replica index. */
static char *
results_cell_key(json_t *service)
{
	json_t *dims = json_deep_copy(json_object_get(service, "dimensions"));
	char *key;

	if (dims == NULL)
		dims = json_object();
	json_object_del(dims, "replica");
	json_object_set(dims, "implementation", json_object_get(service,
	    "implementation"));
	key = json_dumps(dims, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(dims);
	return key;
}

static json_t *
results_record(struct measure_job *job, json_t *service)
{
	const char *name = json_string_value(json_object_get(service,
	    "service_name"));

	return json_object_get(json_object_get(job->status, "services"),
	    name ? name : "");
}

static const char *
results_image_tag(const char *image)
{
	const char *at, *slash, *colon;

	if (image == NULL)
		return NULL;
	if ((at = strchr(image, '@')) != NULL)
		return at + 1;
	slash = strrchr(image, '/');
	colon = strrchr(image, ':');
	return colon != NULL && (slash == NULL || colon > slash) ? colon + 1 :
	    NULL;
}

/* Collects the cell's confirmed cold samples into the cold_start object. */
static json_t *
results_cold(struct measure_job *job, json_t *cell, long *count)
{
	json_t *measurements = json_array(), *phases = json_array();
	json_t *service, *attempt, *cold;
	struct stats_samples samples;
	struct stats_summary summary;
	long discarded = 0, failed = 0;
	size_t i, j;

	*count = 0;
	/* Bounded by the API's limit of 1000 iterations plus retries. */
	stats_samples_init(&samples, 4096);
	json_array_foreach(cell, i, service) {
		json_t *record = results_record(job, service);

		json_array_foreach(json_object_get(record, "cold"), j,
		    attempt) {
			const char *outcome = json_string_value(json_object_get(
			    attempt, "outcome"));

			if (outcome == NULL)
				continue;
			if (strcmp(outcome, "sample") != 0) {
				if (strcmp(outcome, "not_cold") == 0 ||
				    strcmp(outcome, "unconfirmed") == 0)
					discarded++;
				else
					failed++;
				continue;
			}
			stats_samples_add(&samples, json_integer_value(
			    json_object_get(attempt, "total_ns")));
			json_array_append(measurements, json_object_get(attempt,
			    "total_ms"));
			json_array_append_new(phases, json_pack("{s:O, s:O, "
			    "s:O, s:O}", "round", json_object_get(attempt,
			    "round"), "service_name", json_object_get(service,
			    "service_name"), "instance_id", json_object_get(
			    attempt, "instance_id"), "phases", json_object_get(
			    attempt, "phases")));
			(*count)++;
		}
	}
	stats_summarize(&samples, &summary);
	cold = json_pack("{s:I, s:I, s:o, s:o, s:o, s:I, s:I, s:s}",
	    "iterations", (json_int_t)*count, "requested_iterations",
	    (json_int_t)measure_config_int(job, "cold_start_iterations"),
	    "measurements_ms", measurements, "statistics",
	    stats_summary_to_json(&summary), "samples", phases,
	    "discarded_not_cold", (json_int_t)discarded, "failed_attempts",
	    (json_int_t)failed, "confirmation", "zero instances in Cloud "
	    "Monitoring before, a new instance id in the request log after");
	stats_samples_free(&samples);
	return cold;
}

/* Builds one result entry, or NULL when the cell produced no numbers. */
static json_t *
results_cell(struct measure_job *job, json_t *cell, json_t *errors)
{
	json_t *primary = json_array_get(cell, 0), *record, *contract, *warm;
	json_t *cold, *names = json_array(), *service, *result;
	const char *image;
	double compliance = 0;
	long samples;
	size_t i;

	record = results_record(job, primary);
	contract = json_object_get(record, "contract");
	warm = json_object_get(record, "warm");
	cold = results_cold(job, cell, &samples);
	json_array_foreach(cell, i, service)
		json_array_append(names, json_object_get(service,
		    "service_name"));
	if (samples == 0 && (warm == NULL || json_integer_value(
	    json_object_get(warm, "succeeded")) == 0)) {
		json_array_append_new(errors, json_pack("{s:O, s:s, s:s, s:s, "
		    "s:o}", "implementation", json_object_get(primary,
		    "implementation"), "phase", "cold_start", "message",
		    "no cold sample and no successful warm request",
		    "details", "see the errors above for this implementation",
		    "timestamp", measure_now_json()));
		json_decref(cold);
		json_decref(names);
		return NULL;
	}
	if (json_is_object(contract))
		compliance = json_number_value(json_object_get(contract,
		    "contract_compliance"));
	/* A warm phase that could not run left {"error"}, already among
	 * the errors: no warm_requests, and no success. */
	if (warm != NULL && json_object_get(warm, "count") == NULL)
		warm = NULL;
	image = json_string_value(json_object_get(primary, "image"));
	result = json_pack("{s:O, s:s, s:f, s:o, s:O*, s:{s:O, s:O, s:O, "
	    "s:s*, s:O, s:{s:O, s:o}}}", "implementation", json_object_get(
	    primary, "implementation"), "status", compliance >= 100.0 &&
	    samples > 0 && warm != NULL ? "success" : "failed",
	    "contract_compliance", compliance, "cold_start", cold,
	    "warm_requests", warm,
	    "metadata", "service_url", json_object_get(primary, "service_url"),
	    "service_name", json_object_get(primary, "service_name"), "image",
	    json_object_get(primary, "image"), "image_tag",
	    results_image_tag(image), "dimensions", json_object_get(primary,
	    "dimensions"), "custom", "contract", contract ? contract :
	    json_null(), "services", names);
	return result;
}

/* Copies the recorded errors and adds the services that never deployed. */
static json_t *
results_errors(struct measure_job *job)
{
	json_t *errors = json_array(), *error, *service;
	size_t i;

	json_array_foreach(json_object_get(job->status, "errors"), i, error)
		json_array_append(errors, error);
	json_array_foreach(json_object_get(job->manifest, "services"), i,
	    service) {
		const char *status = json_string_value(json_object_get(service,
		    "status"));

		if (status != NULL && strcmp(status, "deployed") == 0)
			continue;
		json_array_append_new(errors, json_pack("{s:O, s:O, s:s, s:s, "
		    "s:s, s:o}", "implementation", json_object_get(service,
		    "implementation"), "service_name", json_object_get(service,
		    "service_name"), "phase", "discovery", "message",
		    "the service was not deployed", "details",
		    json_string_value(json_object_get(service, "error")) ?
		    json_string_value(json_object_get(service, "error")) : "",
		    "timestamp", measure_now_json()));
	}
	return errors;
}

json_t *
measure_results(struct measure_job *job)
{
	json_t *cells = json_object(), *order = json_array();
	json_t *results = json_array(), *errors, *service, *cell, *entry;
	json_t *result;
	const char *key;
	char *k;
	size_t i;

	errors = results_errors(job);
	/* Groups deployed services by cell, in manifest order. */
	json_array_foreach(json_object_get(job->manifest, "services"), i,
	    service) {
		const char *status = json_string_value(json_object_get(service,
		    "status"));

		if (status == NULL || strcmp(status, "deployed") != 0)
			continue;
		if ((k = results_cell_key(service)) == NULL)
			continue;
		if ((cell = json_object_get(cells, k)) == NULL) {
			cell = json_array();
			json_object_set_new(cells, k, cell);
			json_array_append_new(order, json_string(k));
		}
		json_array_append(cell, service);
		free(k);
	}
	json_array_foreach(order, i, entry) {
		key = json_string_value(entry);
		cell = json_object_get(cells, key);
		if ((result = results_cell(job, cell, errors)) != NULL)
			json_array_append_new(results, result);
	}
	json_decref(cells);
	json_decref(order);
	return json_pack("{s:s, s:s, s:s, s:O, s:o, s:s, s:o, s:o}",
	    "service_type", settings_str(CFG_SERVICE_TYPE), "agent_version",
	    PACKAGE_VERSION, "run_id", job->run_id, "start_time",
	    json_object_get(job->status, "started_at"), "end_time",
	    measure_now_json(), "strategy", measure_strategy(job->request),
	    "results", results, "errors", errors);
}

/*
 * results.json entries built from a stored measurement: a cell whose warm
 * phase could not run has no warm_requests (the schema would reject the
 * stored error object) and is not a success.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "measured/measure_int.h"

static const char manifest_json[] =
    "{\"services\":[{\"implementation\":\"c-libevent\","
    "\"service_name\":\"discord-c-libevent-r1\",\"status\":\"deployed\","
    "\"service_url\":\"https://127.0.0.1:1\",\"deployed_at\":"
    "\"2026-12-05T00:00:00.000Z\",\"image\":\"local/discord-webhook/"
    "c-libevent\",\"dimensions\":{\"cpu\":\"1\"}}]}";

static const char request_json[] =
    "{\"benchmark_config\":{\"cold_start_iterations\":1,"
    "\"warm_request_count\":10,\"warm_request_concurrency\":1}}";

/* A record with one confirmed cold sample and a full contract. */
static const char record_json[] =
    "{\"cold\":[{\"round\":1,\"outcome\":\"sample\",\"total_ns\":5000000,"
    "\"total_ms\":5.0,\"instance_id\":\"i1\",\"phases\":{}}],"
    "\"seen_instances\":[\"i1\"],\"contract\":{\"contract_compliance\":"
    "100.0}}";

/* Builds a job from the JSON above, with warm as the stored warm record
 * (stolen). */
static struct measure_job *
job_with_warm(json_t *warm)
{
	struct measure_job *job = calloc(1, sizeof(*job));
	json_t *record;

	assert_non_null(job);
	pthread_mutex_init(&job->lock, NULL);
	snprintf(job->run_id, sizeof(job->run_id), "r1");
	job->manifest = json_loads(manifest_json, 0, NULL);
	job->request = json_loads(request_json, 0, NULL);
	record = json_loads(record_json, 0, NULL);
	assert_non_null(job->manifest);
	assert_non_null(job->request);
	assert_non_null(record);
	json_object_set_new(record, "warm", warm);
	job->status = json_pack("{s:s, s:[], s:{s:o}}", "started_at",
	    "2026-12-05T00:00:01.000Z", "errors", "services",
	    "discord-c-libevent-r1", record);
	assert_non_null(job->status);
	return job;
}

static void
job_free(struct measure_job *job)
{
	json_decref(job->manifest);
	json_decref(job->request);
	json_decref(job->status);
	pthread_mutex_destroy(&job->lock);
	free(job);
}

static json_t *
first_result(json_t *results)
{
	json_t *entry = json_array_get(json_object_get(results, "results"), 0);

	assert_non_null(entry);
	return entry;
}

/* A warm phase that could not run: no warm_requests, and failed. */
static void
test_warm_error_is_left_out(void **state)
{
	struct measure_job *job = job_with_warm(json_pack("{s:s}", "error",
	    "no identity token for the service"));
	json_t *results = measure_results(job), *entry;

	(void)state;
	assert_non_null(results);
	entry = first_result(results);
	assert_null(json_object_get(entry, "warm_requests"));
	assert_string_equal(json_string_value(json_object_get(entry,
	    "status")), "failed");
	json_decref(results);
	job_free(job);
}

/* A warm report is kept, and the cell succeeds. */
static void
test_warm_report_is_kept(void **state)
{
	struct measure_job *job = job_with_warm(json_pack("{s:i, s:i, s:i}",
	    "count", 10, "concurrency", 1, "succeeded", 10));
	json_t *results = measure_results(job), *entry;

	(void)state;
	assert_non_null(results);
	entry = first_result(results);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    entry, "warm_requests"), "count")), 10);
	assert_string_equal(json_string_value(json_object_get(entry,
	    "status")), "success");
	json_decref(results);
	job_free(job);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_warm_error_is_left_out),
		cmocka_unit_test(test_warm_report_is_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

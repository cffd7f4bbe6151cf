/*
 * The Agent API: POST /deploy, /measure, /cleanup, /benchmark, GET
 * /status/{run_id} and /implementations. Requests are validated on the
 * event loop; the work that waits on other workers runs on a thread whose
 * result is sent back on the loop, because evhttp requests belong to it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include "frontd.h"
#include "log.h"
#include "manifest.h"
#include "peer.h"
#include "proto.h"
#include "settings.h"
#include "state.h"
#include "validate.h"
#include "worker.h"

/* API requests waiting on other workers at once; more get 503. */
#define API_MAX_JOBS		64
/* Time deployd gets to plan a deploy and create its trigger, in ms. */
#define API_DEPLOY_TIMEOUT_MS	120000

struct api_job {
	struct evhttp_request	*req;
	enum api_route {
		ROUTE_DEPLOY,
		ROUTE_MEASURE,
		ROUTE_CLEANUP,
		ROUTE_STATUS,
		ROUTE_RESULTS,
		ROUTE_BENCHMARK,
		ROUTE_IMPLEMENTATIONS,
	}			 route;
	char			*body;		/* POST body, NUL-terminated */
	size_t			 body_len;
	char			*authorization;	/* header value or NULL */
	json_t			*(*validate)(const char *, size_t,
				    struct api_error *);
	json_t			*input;		/* validated request */
	char			 canonical_run[80];
	int			 status;	/* HTTP status of the reply */
	json_t			*reply;
	struct api_error	 error;
};

static struct manifest *manifest;
static int jobs_running;

int
api_init(void)
{
	char path[1024], err[512];

	snprintf(path, sizeof(path), "%s/manifest.yaml", settings_data_dir());
	if ((manifest = manifest_load_file(path, err, sizeof(err))) == NULL) {
		log_warnx("cannot load the implementations manifest: %s", err);
		return -1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -1;
	return auth_init();
}

void
api_shutdown(void)
{
	auth_shutdown();
	manifest_free(manifest);
	curl_global_cleanup();
}

static void
api_set_error(struct api_error *e, int status, const char *code,
    const char *field, const char *message)
{
	e->status = status;
	snprintf(e->code, sizeof(e->code), "%s", code);
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	snprintf(e->message, sizeof(e->message), "%s", message);
}

static void
api_reply_error(struct evhttp_request *req, const struct api_error *e)
{
	http_reply_error(req, e->status, e->code, e->field[0] ? e->field :
	    NULL, "%s", e->message);
}

/* Maps a worker's error reply to an HTTP status. */
static void
api_worker_error(struct api_job *job, json_t *body, const char *err)
{
	const char *code = peer_error_code(body);
	const char *message = json_string_value(json_object_get(body,
	    "message"));
	int status = 500;

	if (strcmp(code, "invalid") == 0)
		status = 400;
	else if (strcmp(code, "not_found") == 0)
		status = 404;
	else if (strcmp(code, "conflict") == 0)
		status = 409;
	else if (strcmp(code, "busy") == 0 || strcmp(code, "unavailable") == 0
	    || body == NULL)
		status = 503;
	api_set_error(&job->error, status, code[0] ? code : "unavailable",
	    NULL, message ? message : err);
}

/* Calls a worker and keeps its reply, or the mapped error. */
static int
api_call(struct api_job *job, const char *worker, uint32_t type,
    json_t *body, int timeout_ms)
{
	json_t *result = NULL;
	char err[1024];
	int rc;

	rc = peer_call(worker, type, body, timeout_ms, &result, err,
	    sizeof(err));
	if (rc == 0) {
		job->status = 200;
		job->reply = result;
		return 0;
	}
	api_worker_error(job, rc == 1 ? result : NULL, err);
	json_decref(result);
	return -1;
}

static json_t *
api_get(const char *run_id, const char *file, struct api_job *job, int *rc)
{
	char object[256], err[512];
	json_t *data = NULL;

	state_run_object(object, sizeof(object), run_id, file);
	*rc = state_get(object, &data, NULL, err, sizeof(err));
	if (*rc == -1)
		api_set_error(&job->error, 503, "unavailable", NULL, err);
	return data;
}

static json_t *
api_field(json_t *object, const char *key)
{
	json_t *v = json_object_get(object, key);

	return v != NULL ? json_incref(v) : json_null();
}

/* Composes GET /status/{run_id} from the stored state files. */
static void
api_status(struct api_job *job)
{
	const char *run_id = json_string_value(json_object_get(job->input,
	    "run_id"));
	json_t *request, *deploy, *measure, *errors, *dprog, *mprog, *body;
	const char *phase = "pending";
	int rc;

	request = api_get(run_id, STATE_REQUEST, job, &rc);
	if (rc == -1)
		return;
	if (rc == 1) {
		api_set_error(&job->error, 404, "not_found", "run_id",
		    "no run with this run_id");
		return;
	}
	json_decref(request);
	deploy = api_get(run_id, STATE_DEPLOY_STATUS, job, &rc);
	if (rc == -1)
		return;
	measure = api_get(run_id, STATE_MEASURE_STATUS, job, &rc);
	if (rc == -1) {
		json_decref(deploy);
		return;
	}
	if (json_string_value(json_object_get(deploy, "phase")) != NULL)
		phase = json_string_value(json_object_get(deploy, "phase"));
	if (json_string_value(json_object_get(measure, "phase")) != NULL &&
	    strcmp(phase, "failed") != 0)
		phase = json_string_value(json_object_get(measure, "phase"));

	errors = json_array();
	json_array_extend(errors, json_object_get(deploy, "errors"));
	json_array_extend(errors, json_object_get(measure, "errors"));
	dprog = json_object_get(deploy, "progress");
	mprog = json_object_get(measure, "progress");
	body = json_pack("{s:s, s:s, s:s, s:{s:o, s:o, s:o, s:o}, "
	    "s:{s:o, s:o, s:o, s:o}, s:o, s:o, s:o, s:o}",
	    "run_id", run_id, "service_type", settings_str(CFG_SERVICE_TYPE),
	    "phase", phase, "progress",
	    "total_services", api_field(dprog, "total"),
	    "deployed", api_field(dprog, "completed"),
	    "measured", mprog ? api_field(mprog, "completed") :
	    json_integer(0),
	    "failed", api_field(dprog, "failed"),
	    "timestamps",
	    "deploy_started", api_field(deploy, "started_at"),
	    "deploy_completed", api_field(deploy, "completed_at"),
	    "measure_started", api_field(measure, "started_at"),
	    "measure_completed", api_field(measure, "completed_at"),
	    "errors", errors,
	    "round", api_field(measure, "round"),
	    "rounds_planned", api_field(measure, "rounds_planned"),
	    "next_round_at", api_field(measure, "next_round_at"));
	json_decref(deploy);
	json_decref(measure);
	job->status = 200;
	job->reply = body;
}

/* GET /results/{run_id}: the stored results.json, once it exists. */
static void
api_results(struct api_job *job)
{
	const char *run_id = json_string_value(json_object_get(job->input,
	    "run_id"));
	json_t *results, *request;
	int rc;

	results = api_get(run_id, STATE_RESULTS, job, &rc);
	if (rc == -1)
		return;
	if (rc == 0) {
		job->status = 200;
		job->reply = results;
		return;
	}
	request = api_get(run_id, STATE_REQUEST, job, &rc);
	json_decref(request);
	if (rc == -1)
		return;
	if (rc == 1)
		api_set_error(&job->error, 404, "not_found", "run_id",
		    "no run with this run_id");
	else
		api_set_error(&job->error, 404, "not_ready", NULL, "the run "
		    "has no results yet; GET /status/{run_id} shows its phase");
}

/* Validates a POST body into job->input; -1 with job->error set. */
static int
api_validate(struct api_job *job)
{
	json_t *deploy;

	job->input = job->validate(job->body, job->body_len, &job->error);
	if (job->input == NULL)
		return -1;
	if (job->route == ROUTE_DEPLOY && validate_implementations(job->input,
	    manifest, &job->error) == -1)
		return -1;
	if (job->route == ROUTE_BENCHMARK) {
		deploy = validate_benchmark_to_deploy(job->input, manifest,
		    &job->error);
		json_decref(job->input);
		job->input = deploy;
		if (deploy == NULL)
			return -1;
	}
	return 0;
}

static void
api_work(void *arg)
{
	struct api_job *job = arg;
	char *canonical;
	json_t *body;

	/* Authentication comes first: nothing else is revealed without it. */
	if (auth_check(job->authorization, &job->error) == -1)
		return;
	if (job->validate != NULL && api_validate(job) == -1)
		return;
	switch (job->route) {
	case ROUTE_DEPLOY:
		canonical = validate_canonical_dump(job->input);
		body = json_pack("{s:O, s:O, s:s}", "run_id", json_object_get(
		    job->input, "run_id"), "request", job->input, "canonical",
		    canonical ? canonical : "");
		free(canonical);
		api_call(job, "deployd", MSG_DEPLOY_RUN, body,
		    API_DEPLOY_TIMEOUT_MS);
		json_decref(body);
		break;
	case ROUTE_MEASURE:
		api_call(job, "measured", MSG_MEASURE_RUN, job->input, 60000);
		break;
	case ROUTE_CLEANUP:
		api_call(job, "deployd", MSG_CLEANUP_RUN, job->input, 600000);
		break;
	case ROUTE_STATUS:
		api_status(job);
		break;
	case ROUTE_RESULTS:
		api_results(job);
		break;
	case ROUTE_BENCHMARK:
		benchmark_run(job->input, &job->status, &job->reply,
		    &job->error);
		break;
	case ROUTE_IMPLEMENTATIONS:
		job->status = 200;
		job->reply = manifest_implementations_response(manifest, NULL);
		break;
	}
}

static void	api_job_free(struct api_job *);

static void
api_done(void *arg)
{
	struct api_job *job = arg;

	jobs_running--;
	if (job->reply != NULL)
		http_reply_json(job->req, job->status, job->reply);
	else {
		if (job->error.status == 401)
			evhttp_add_header(evhttp_request_get_output_headers(
			    job->req), "WWW-Authenticate", "Bearer "
			    "realm=\"perf-agent\", error=\"invalid_token\"");
		if (job->error.status == 0)
			api_set_error(&job->error, 500, "internal", NULL,
			    "the request failed without a reason");
		api_reply_error(job->req, &job->error);
	}
	api_job_free(job);
}

static void
api_job_free(struct api_job *job)
{
	json_decref(job->input);
	free(job->body);
	free(job->authorization);
	free(job);
}

/*
 * Hands a request to a thread. body (taken over, may be NULL) is checked
 * by validate there, after authentication; input (taken over) is a
 * request already decoded on the loop.
 */
static void
api_start(struct evhttp_request *req, enum api_route route, json_t *input,
    char *body, size_t body_len,
    json_t *(*validate)(const char *, size_t, struct api_error *))
{
	const char *authorization;
	struct api_job *job;

	if (jobs_running >= API_MAX_JOBS) {
		json_decref(input);
		free(body);
		http_reply_error(req, 503, "busy", NULL, "%d requests in "
		    "progress; retry later", jobs_running);
		return;
	}
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		json_decref(input);
		free(body);
		http_reply_error(req, 500, "internal", NULL, "out of memory");
		return;
	}
	job->req = req;
	job->route = route;
	job->input = input;
	job->body = body;
	job->body_len = body_len;
	job->validate = validate;
	authorization = evhttp_find_header(evhttp_request_get_input_headers(
	    req), "Authorization");
	if (authorization != NULL)
		job->authorization = strdup(authorization);
	if (ipc_run_in_thread(worker_base(), api_work, api_done, job) == -1) {
		log_warn("cannot start a thread for %s",
		    evhttp_request_get_uri(req));
		api_job_free(job);
		http_reply_error(req, 500, "internal", NULL, "cannot start a "
		    "thread");
		return;
	}
	jobs_running++;
}

/* Checks the method, content type and size of a POST; -1 after replying. */
static int
api_read_post(struct evhttp_request *req, char **body, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *type;
	size_t n;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "POST");
		http_reply_error(req, 405, "method_not_allowed", NULL, "%s "
		    "takes POST", evhttp_request_get_uri(req));
		return -1;
	}
	type = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	if (type == NULL || strncasecmp(type, "application/json", 16) != 0 ||
	    (type[16] != '\0' && type[16] != ';' && type[16] != ' ')) {
		http_reply_error(req, 415, "unsupported_media_type", NULL,
		    "Content-Type must be application/json");
		return -1;
	}
	n = evbuffer_get_length(in);
	if (n > API_BODY_MAX) {
		http_reply_error(req, 413, "payload_too_large", NULL, "the body "
		    "has %zu bytes; the limit is %d", n, API_BODY_MAX);
		return -1;
	}
	if ((*body = malloc(n + 1)) == NULL) {
		http_reply_error(req, 500, "internal", NULL, "out of memory");
		return -1;
	}
	evbuffer_remove(in, *body, n);
	(*body)[n] = '\0';
	*len = n;
	return 0;
}

static void
api_post(struct evhttp_request *req, enum api_route route,
    json_t *(*validate)(const char *, size_t, struct api_error *))
{
	size_t len;
	char *body;

	if (api_read_post(req, &body, &len) == -1)
		return;
	api_start(req, route, NULL, body, len, validate);
}

static void
api_get_run(struct evhttp_request *req, enum api_route route,
    const char *run_id)
{
	struct api_error error;
	char decoded[256];
	size_t len = 0;
	char *d;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET");
		http_reply_error(req, 405, "method_not_allowed", NULL,
		    "%s takes GET", evhttp_request_get_uri(req));
		return;
	}
	d = evhttp_uridecode(run_id, 0, &len);
	snprintf(decoded, sizeof(decoded), "%s", d ? d : "");
	memset(&error, 0, sizeof(error));
	/* A %00 would end the id early, and another run would be read. */
	if (d != NULL && strlen(d) != len) {
		free(d);
		api_set_error(&error, 400, "invalid_value", "run_id", "run_id "
		    "must not contain a NUL byte (%00)");
		api_reply_error(req, &error);
		return;
	}
	free(d);
	if (validate_run_id(decoded, &error) == -1) {
		api_reply_error(req, &error);
		return;
	}
	api_start(req, route, json_pack("{s:s}", "run_id", decoded), NULL, 0,
	    NULL);
}

static void
api_implementations(struct evhttp_request *req)
{
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET");
		http_reply_error(req, 405, "method_not_allowed", NULL,
		    "/implementations takes GET");
		return;
	}
	api_start(req, ROUTE_IMPLEMENTATIONS, NULL, NULL, 0, NULL);
}

int
api_route(struct evhttp_request *req, const char *path)
{
	if (strcmp(path, "/deploy") == 0)
		api_post(req, ROUTE_DEPLOY, validate_deploy);
	else if (strcmp(path, "/measure") == 0)
		api_post(req, ROUTE_MEASURE, validate_measure);
	else if (strcmp(path, "/cleanup") == 0)
		api_post(req, ROUTE_CLEANUP, validate_cleanup);
	else if (strcmp(path, "/benchmark") == 0)
		api_post(req, ROUTE_BENCHMARK, validate_benchmark);
	else if (strncmp(path, "/status/", 8) == 0)
		api_get_run(req, ROUTE_STATUS, path + 8);
	else if (strncmp(path, "/results/", 9) == 0)
		api_get_run(req, ROUTE_RESULTS, path + 9);
	else if (strcmp(path, "/implementations") == 0)
		api_implementations(req);
	else
		return 0;
	return 1;
}

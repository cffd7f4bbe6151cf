/*
 * stated: the only reader and writer of run state. Objects are JSON
 * documents in the state bucket under runs/<run_id>/<service_type>/ (and
 * agent/ for the agent's own records), read and written whole through the
 * Cloud Storage JSON API, with generation preconditions so that concurrent
 * writers never lose an update.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gcp.h"
#include "log.h"
#include "proto.h"
#include "settings.h"
#include "worker.h"

/* Requests in progress at once; more are rejected as busy. */
#define STATED_MAX_JOBS		32
/* Maximum object name length, in bytes. */
#define STATED_NAME_MAX		512

struct stated_job {
	struct ipc_request	*req;
	json_t			*result;
	char			 code[32];
	char			 message[600];
};

static int jobs_running;

/* Accepts names of letters, digits and . _ - / with no empty, "." or ".."
 * segment, so that a name can never leave its prefix. A list prefix may
 * end with a slash. */
static int
stated_valid_name(const char *name, int prefix)
{
	const char *p, *segment = name;
	size_t len = strlen(name);

	if (len == 0 || len > STATED_NAME_MAX || name[0] == '/')
		return 0;
	for (p = name; ; p++) {
		if (*p == '/' || *p == '\0') {
			size_t n = (size_t)(p - segment);

			if (prefix && *p == '\0' && n == 0)
				return 1;
			if (n == 0 || (n == 1 && segment[0] == '.') ||
			    (n == 2 && segment[0] == '.' && segment[1] == '.'))
				return 0;
			if (*p == '\0')
				return 1;
			segment = p + 1;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
		    *p == '-'))
			return 0;
	}
}

static void
stated_fail(struct stated_job *job, const char *code,
    const struct gcp_error *err, const char *object)
{
	snprintf(job->code, sizeof(job->code), "%s", code);
	snprintf(job->message, sizeof(job->message), "%s: %s (HTTP %ld %s)",
	    object, err->message, err->http_status, err->status);
}

static void
stated_get(struct stated_job *job, const char *object)
{
	const char *bucket = settings_str(CFG_STATE_BUCKET);
	struct gcp_error err;
	json_error_t jerr;
	json_t *data;
	int64_t generation;
	char *text = NULL, gen[32];
	size_t len;
	int rc;

	rc = gcs_download(bucket, object, &text, &len, &generation, &err);
	if (rc == -1) {
		stated_fail(job, "storage", &err, object);
		return;
	}
	if (rc == 1) {
		job->result = json_pack("{s:b}", "found", 0);
		return;
	}
	data = json_loadb(text, len, 0, &jerr);
	free(text);
	if (data == NULL) {
		snprintf(job->code, sizeof(job->code), "corrupt");
		snprintf(job->message, sizeof(job->message), "gs://%s/%s is not "
		    "JSON: %s at line %d", bucket, object, jerr.text, jerr.line);
		return;
	}
	snprintf(gen, sizeof(gen), "%" PRId64, generation);
	job->result = json_pack("{s:b, s:s, s:o}", "found", 1, "generation",
	    gen, "data", data);
}

/* Parses an if_generation string; -1 means no precondition. */
static int
stated_generation(json_t *value, int64_t *out)
{
	const char *s;
	char *end;
	long long v;

	*out = -1;
	if (value == NULL)
		return 0;
	if ((s = json_string_value(value)) == NULL)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0)
		return -1;
	*out = v;
	return 0;
}

static void
stated_put(struct stated_job *job, const char *object, json_t *data,
    int64_t if_generation)
{
	const char *bucket = settings_str(CFG_STATE_BUCKET);
	struct gcp_error err;
	int64_t generation;
	char *text, gen[32];
	int rc;

	text = json_dumps(data, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_ENCODE_ANY);
	if (text == NULL) {
		snprintf(job->code, sizeof(job->code), "internal");
		snprintf(job->message, sizeof(job->message), "%s: cannot "
		    "encode the document", object);
		return;
	}
	rc = gcs_upload(bucket, object, "application/json", text,
	    strlen(text), if_generation, &generation, &err);
	free(text);
	if (rc == 1) {
		snprintf(job->code, sizeof(job->code), "precondition");
		snprintf(job->message, sizeof(job->message), "%s changed or "
		    "exists already (if_generation %" PRId64 ")", object,
		    if_generation);
		return;
	}
	if (rc == -1) {
		stated_fail(job, "storage", &err, object);
		return;
	}
	snprintf(gen, sizeof(gen), "%" PRId64, generation);
	job->result = json_pack("{s:s}", "generation", gen);
}

static void
stated_list(struct stated_job *job, const char *prefix)
{
	struct gcp_error err;
	json_t *names;

	if (gcs_list(settings_str(CFG_STATE_BUCKET), prefix, &names,
	    &err) == -1) {
		/* A bucket nothing was written to yet lists nothing. */
		if (err.http_status == 404) {
			job->result = json_pack("{s:[]}", "objects");
			return;
		}
		stated_fail(job, "storage", &err, prefix);
		return;
	}
	job->result = json_pack("{s:o}", "objects", names);
}

static void
stated_delete(struct stated_job *job, const char *object)
{
	struct gcp_error err;
	int rc;

	rc = gcs_delete(settings_str(CFG_STATE_BUCKET), object, -1, &err);
	if (rc == -1) {
		stated_fail(job, "storage", &err, object);
		return;
	}
	job->result = json_pack("{s:b}", "deleted", rc == 0);
}

/* Uploads raw text, such as the registration manifest, to the registry
 * bucket or the state bucket. */
static void
stated_upload(struct stated_job *job, const char *which, const char *object,
    const char *content_type, const char *text)
{
	struct gcp_error err;
	const char *bucket;
	int64_t generation;
	char gen[32];

	if (strcmp(which, "registry") == 0)
		bucket = settings_str(CFG_REGISTRY_BUCKET);
	else if (strcmp(which, "state") == 0)
		bucket = settings_str(CFG_STATE_BUCKET);
	else {
		snprintf(job->code, sizeof(job->code), "invalid");
		snprintf(job->message, sizeof(job->message), "bucket \"%.64s\" "
		    "must be registry or state", which);
		return;
	}
	if (gcs_upload(bucket, object, content_type, text, strlen(text), -1,
	    &generation, &err) != 0) {
		stated_fail(job, "storage", &err, object);
		return;
	}
	snprintf(gen, sizeof(gen), "%" PRId64, generation);
	job->result = json_pack("{s:s, s:s, s:s}", "bucket", bucket, "object",
	    object, "generation", gen);
}

/* Runs on a thread: the Cloud Storage calls block. */
static void
stated_work(void *arg)
{
	struct stated_job *job = arg;
	struct ipc_request *req = job->req;
	json_t *body = req->body;
	const char *object, *text, *which, *content_type;
	int64_t if_generation;

	switch (req->type) {
	case MSG_STATE_GET:
		object = json_string_value(json_object_get(body, "object"));
		stated_get(job, object);
		break;
	case MSG_STATE_PUT:
		object = json_string_value(json_object_get(body, "object"));
		stated_generation(json_object_get(body, "if_generation"),
		    &if_generation);
		stated_put(job, object, json_object_get(body, "data"),
		    if_generation);
		break;
	case MSG_STATE_LIST:
		stated_list(job, json_string_value(json_object_get(body,
		    "prefix")));
		break;
	case MSG_STATE_DELETE:
		stated_delete(job, json_string_value(json_object_get(body,
		    "object")));
		break;
	case MSG_STATE_UPLOAD:
		which = json_string_value(json_object_get(body, "bucket"));
		object = json_string_value(json_object_get(body, "object"));
		content_type = json_string_value(json_object_get(body,
		    "content_type"));
		text = json_string_value(json_object_get(body, "text"));
		stated_upload(job, which, object, content_type, text);
		break;
	}
}

static void
stated_done(void *arg)
{
	struct stated_job *job = arg;

	jobs_running--;
	if (job->result != NULL)
		ipc_reply(job->req, job->result);
	else {
		log_warnx("%s failed: %s: %s", proto_type_name(job->req->type),
		    job->code, job->message);
		ipc_reply_error(job->req, job->code, "%s", job->message);
	}
	free(job);
}

/* Checks the body's fields before any storage call; -1 after replying. */
static int
stated_check(struct ipc_request *req)
{
	json_t *body = req->body, *v;
	const char *name = NULL, *field = "object";
	int64_t generation;

	switch (req->type) {
	case MSG_STATE_LIST:
		field = "prefix";
		name = json_string_value(json_object_get(body, "prefix"));
		break;
	case MSG_STATE_PUT:
		if (json_object_get(body, "data") == NULL) {
			ipc_reply_error(req, "invalid", "field \"data\" is "
			    "missing");
			return -1;
		}
		v = json_object_get(body, "if_generation");
		if (stated_generation(v, &generation) == -1) {
			ipc_reply_error(req, "invalid", "field "
			    "\"if_generation\" must be a string of digits");
			return -1;
		}
		/* FALLTHROUGH */
	default:
		name = json_string_value(json_object_get(body, "object"));
		break;
	}
	if (name == NULL || !stated_valid_name(name,
	    req->type == MSG_STATE_LIST)) {
		ipc_reply_error(req, "invalid", "field \"%s\" must be a "
		    "relative object name of letters, digits and ._-/ without "
		    "empty or dot segments, at most %d bytes", field,
		    STATED_NAME_MAX);
		return -1;
	}
	if (req->type == MSG_STATE_UPLOAD &&
	    (!json_is_string(json_object_get(body, "bucket")) ||
	    !json_is_string(json_object_get(body, "content_type")) ||
	    !json_is_string(json_object_get(body, "text")))) {
		ipc_reply_error(req, "invalid", "fields \"bucket\", "
		    "\"content_type\" and \"text\" must be strings");
		return -1;
	}
	return 0;
}

static void
stated_handle(struct ipc_request *req)
{
	struct stated_job *job;

	switch (req->type) {
	case MSG_STATE_GET:
	case MSG_STATE_PUT:
	case MSG_STATE_LIST:
	case MSG_STATE_DELETE:
	case MSG_STATE_UPLOAD:
		break;
	default:
		log_warnx("%s from %s is not a stated message",
		    proto_type_name(req->type), ipc_request_peer(req));
		ipc_reply_error(req, "unsupported_type", "stated does not "
		    "handle %s", proto_type_name(req->type));
		return;
	}
	if (stated_check(req) == -1)
		return;
	if ((job = calloc(1, sizeof(*job))) == NULL) {
		ipc_reply_error(req, "internal", "out of memory");
		return;
	}
	job->req = req;
	if (worker_offload(req, &jobs_running, STATED_MAX_JOBS, stated_work,
	    stated_done, job) == -1)
		free(job);
}

static int
stated_init(struct event_base *base)
{
	return gcp_init();
}

static const struct worker stated_worker = {
	.name = "stated",
	.summary = "Stores run state in Cloud Storage: the only writer of "
	    "state objects.",
	.init = stated_init,
	.handle = stated_handle,
	.shutdown = gcp_cleanup,
};

int
main(int argc, char **argv)
{
	return worker_main(&stated_worker, argc, argv);
}

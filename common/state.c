/* Client of stated for worker threads. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "peer.h"
#include "proto.h"
#include "settings.h"
#include "state.h"

/* Time stated gets for one object operation, in milliseconds. */
#define STATE_TIMEOUT_MS	60000

int
state_run_object(char *buf, size_t size, const char *run_id,
    const char *file)
{
	int n;

	n = snprintf(buf, size, "runs/%s/%s/%s", run_id,
	    settings_str(CFG_SERVICE_TYPE), file);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
state_run_url(char *buf, size_t size, const char *run_id, const char *file)
{
	int n;

	n = snprintf(buf, size, "gs://%s/runs/%s/%s/%s",
	    settings_str(CFG_STATE_BUCKET), run_id,
	    settings_str(CFG_SERVICE_TYPE), file);
	return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
state_get(const char *object, json_t **data, char *generation, char *err,
    size_t errlen)
{
	json_t *body, *result = NULL;
	const char *gen;
	int rc;

	*data = NULL;
	body = json_pack("{s:s}", "object", object);
	rc = peer_call("stated", MSG_STATE_GET, body, STATE_TIMEOUT_MS,
	    &result, err, errlen);
	json_decref(body);
	if (rc != 0) {
		json_decref(result);
		return -1;
	}
	if (!json_is_true(json_object_get(result, "found"))) {
		/* Callers that treat a missing object as an error report
		 * err, so err names the object. */
		snprintf(err, errlen, "%s does not exist", object);
		json_decref(result);
		return 1;
	}
	*data = json_incref(json_object_get(result, "data"));
	gen = json_string_value(json_object_get(result, "generation"));
	if (generation != NULL)
		snprintf(generation, STATE_GENERATION_MAX, "%s",
		    gen ? gen : "");
	json_decref(result);
	return 0;
}

int
state_put(const char *object, json_t *data, const char *if_generation,
    char *generation, char *err, size_t errlen)
{
	json_t *body, *result = NULL;
	const char *gen;
	int rc;

	body = json_pack("{s:s, s:O}", "object", object, "data", data);
	if (body == NULL) {
		snprintf(err, errlen, "%s: cannot build the request", object);
		return -1;
	}
	if (if_generation != NULL)
		json_object_set_new(body, "if_generation",
		    json_string(if_generation));
	rc = peer_call("stated", MSG_STATE_PUT, body, STATE_TIMEOUT_MS,
	    &result, err, errlen);
	json_decref(body);
	if (rc == 1 && strcmp(peer_error_code(result), "precondition") == 0)
		rc = 1;
	else if (rc == 1)
		rc = -1;
	else if (rc == 0 && generation != NULL) {
		gen = json_string_value(json_object_get(result,
		    "generation"));
		snprintf(generation, STATE_GENERATION_MAX, "%s",
		    gen ? gen : "");
	}
	json_decref(result);
	return rc;
}

int
state_list(const char *prefix, json_t **names, char *err, size_t errlen)
{
	json_t *body, *result = NULL;
	int rc;

	*names = NULL;
	body = json_pack("{s:s}", "prefix", prefix);
	rc = peer_call("stated", MSG_STATE_LIST, body, STATE_TIMEOUT_MS,
	    &result, err, errlen);
	json_decref(body);
	if (rc != 0) {
		json_decref(result);
		return -1;
	}
	*names = json_incref(json_object_get(result, "objects"));
	json_decref(result);
	return *names != NULL ? 0 : -1;
}

int
state_delete(const char *object, char *err, size_t errlen)
{
	json_t *body, *result = NULL;
	int rc;

	body = json_pack("{s:s}", "object", object);
	rc = peer_call("stated", MSG_STATE_DELETE, body, STATE_TIMEOUT_MS,
	    &result, err, errlen);
	json_decref(body);
	if (rc == 0)
		rc = json_is_true(json_object_get(result, "deleted")) ? 0 : 1;
	else
		rc = -1;
	json_decref(result);
	return rc;
}

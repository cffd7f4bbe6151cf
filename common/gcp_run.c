/* Cloud Run Admin API v2: services and their long-running operations. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gcp.h"
#include "gcp_private.h"
#include "log.h"

/* Services asked for per page of a list. */
#define RUN_PAGE_SIZE		100
/* Operation polling interval: first and largest, in milliseconds. */
#define RUN_POLL_FIRST_MS	500
#define RUN_POLL_MAX_MS		5000
/* Maximum timeout of run_wait_operation, in seconds. */
#define RUN_WAIT_MAX_S		3600

#define RUN_SERVICE_RULE	"a service id is 1 to 49 lowercase letters, " \
	"digits and hyphens, starting with a letter and not ending with a " \
	"hyphen"

/* Returns "projects/P/locations/L", malloc'd, or NULL with err set. */
static char *
run_parent(struct gcp_error *err)
{
	const char *project;
	char *parent;

	if ((project = gcp_project(err)) == NULL)
		return NULL;
	parent = gcp_format("projects/%s/locations/%s", project, gcp_region());
	if (parent == NULL)
		gcp_nomem(err);
	return parent;
}

char *
run_service_name(const char *service_id)
{
	struct gcp_error err;
	char *parent, *name;

	if (!gcp_valid_service_id(service_id) ||
	    (parent = run_parent(&err)) == NULL)
		return NULL;
	name = gcp_format("%s/services/%s", parent, service_id);
	free(parent);
	return name;
}

/* Builds the URL and resource name of one service; 0 or -1 with err. */
static int
run_service_urls(const char *service_id, const char *method, char **url,
    char **name, struct gcp_error *err)
{
	*url = *name = NULL;
	if (!gcp_valid_service_id(service_id))
		return gcp_invalid(err, GCP_API_RUN, method, service_id,
		    "invalid service id: %s", RUN_SERVICE_RULE);
	if ((*name = run_service_name(service_id)) == NULL) {
		if (gcp_project(err) != NULL)
			gcp_nomem(err);
		return -1;
	}
	if ((*url = gcp_format("%s/v2/%s", gcp_endpoint(GCP_API_RUN),
	    *name)) == NULL) {
		free(*name);
		*name = NULL;
		return gcp_nomem(err);
	}
	return 0;
}

int
run_create_service(const char *service_id, json_t *service,
    json_t **operation, struct gcp_error *err)
{
	struct gcp_request req;
	char *parent = NULL, *url = NULL, *name = NULL;
	int rc = -1;

	*operation = NULL;
	if (!gcp_valid_service_id(service_id))
		return gcp_invalid(err, GCP_API_RUN, "POST", service_id,
		    "invalid service id: %s", RUN_SERVICE_RULE);
	if (!json_is_object(service))
		return gcp_invalid(err, GCP_API_RUN, "POST", service_id,
		    "the service is not a JSON object");
	if ((parent = run_parent(err)) == NULL)
		goto done;
	url = gcp_format("%s/v2/%s/services?serviceId=%s",
	    gcp_endpoint(GCP_API_RUN), parent, service_id);
	name = gcp_format("%s/services/%s", parent, service_id);
	if (url == NULL || name == NULL) {
		gcp_nomem(err);
		goto done;
	}

	/* A create by explicit name is safe to retry: a second create
	 * fails with ALREADY_EXISTS instead of making a second service. */
	if (gcp_send_json(&req, GCP_API_RUN, "POST", url, name, service,
	    GCP_REQ_IDEMPOTENT, err) == -1)
		goto done;
	if (gcp_already_exists(&req)) {
		if (req.ambiguous) {
			log_warnx("gcp: run POST %s: ALREADY_EXISTS after a "
			    "failed attempt, which probably created it", name);
			rc = 0;
		} else
			rc = 1;
	} else if (req.status / 100 != 2)
		rc = gcp_request_fail(&req, err);
	else if ((*operation = gcp_request_json(&req, err)) != NULL)
		rc = 0;
	gcp_request_release(&req);
done:
	free(name);
	free(url);
	free(parent);
	return rc;
}

int
run_get_operation(const char *operation_name, json_t **operation,
    struct gcp_error *err)
{
	struct gcp_request req;
	char *url;
	int rc = -1;

	*operation = NULL;
	if (!gcp_valid_resource_name(operation_name) ||
	    strstr(operation_name, "/operations/") == NULL)
		return gcp_invalid(err, GCP_API_RUN, "GET", operation_name,
		    "invalid operation name: expected projects/P/locations/"
		    "L/operations/ID");
	if ((url = gcp_format("%s/v2/%s", gcp_endpoint(GCP_API_RUN),
	    operation_name)) == NULL)
		return gcp_nomem(err);
	if (gcp_send_json(&req, GCP_API_RUN, "GET", url, operation_name, NULL,
	    GCP_REQ_IDEMPOTENT, err) == 0) {
		if (req.status != 200)
			rc = gcp_request_fail(&req, err);
		else if ((*operation = gcp_request_json(&req, err)) != NULL)
			rc = 0;
		gcp_request_release(&req);
	}
	free(url);
	return rc;
}

/* Fills err from the google.rpc.Status of a finished operation. */
static int
run_operation_failed(const char *name, json_t *error, struct gcp_error *err)
{
	json_t *code = json_object_get(error, "code");
	const char *message;
	char escaped[256];
	long c = json_is_integer(code) ? (long)json_integer_value(code) : 2;

	message = json_string_value(json_object_get(error, "message"));
	if (message == NULL)
		message = "operation failed without a message";
	log_escape(err->message, sizeof(err->message), message,
	    strlen(message));
	err->http_status = gcp_code_http_status(c);
	snprintf(err->status, sizeof(err->status), "%s", gcp_code_name(c));
	log_escape(escaped, sizeof(escaped), name, strlen(name));
	log_warnx("gcp: run operation %s failed: %s: %s", escaped,
	    err->status, err->message);
	return -1;
}

int
run_wait_operation(const char *operation_name, int timeout_s,
    json_t **operation, struct gcp_error *err)
{
	json_t *op = NULL, *error;
	int64_t deadline, left;
	long interval = RUN_POLL_FIRST_MS;
	char escaped[256];

	*operation = NULL;
	if (timeout_s < 0 || timeout_s > RUN_WAIT_MAX_S)
		return gcp_invalid(err, GCP_API_RUN, "GET", operation_name,
		    "wait timeout must be 0 to %d s", RUN_WAIT_MAX_S);
	deadline = gcp_now_ms() + (int64_t)timeout_s * 1000;
	for (;;) {
		if (run_get_operation(operation_name, &op, err) == -1)
			return -1;
		if (json_is_true(json_object_get(op, "done")))
			break;
		json_decref(op);
		op = NULL;
		if (gcp_stopping())
			return gcp_error_set(err, 0, "CANCELLED", "stopped "
			    "while waiting for operation %s", operation_name);
		left = deadline - gcp_now_ms();
		if (left <= 0) {
			log_escape(escaped, sizeof(escaped), operation_name,
			    strlen(operation_name));
			log_warnx("gcp: run operation %s not done after %d s",
			    escaped, timeout_s);
			return gcp_error_set(err, 0, "TIMEOUT", "operation not "
			    "done after %d s", timeout_s);
		}
		gcp_sleep_ms(left < interval ? (long)left : interval);
		interval = interval * 2 > RUN_POLL_MAX_MS ? RUN_POLL_MAX_MS :
		    interval * 2;
	}

	*operation = op;
	error = json_object_get(op, "error");
	if (json_is_object(error))
		return run_operation_failed(operation_name, error, err);
	return 0;
}

int
run_get_service(const char *service_id, json_t **service,
    struct gcp_error *err)
{
	struct gcp_request req;
	char *url, *name;
	int rc = -1;

	*service = NULL;
	if (run_service_urls(service_id, "GET", &url, &name, err) == -1)
		return -1;
	if (gcp_send_json(&req, GCP_API_RUN, "GET", url, name, NULL,
	    GCP_REQ_IDEMPOTENT, err) == 0) {
		if (req.status == 404)
			rc = 1;
		else if (req.status != 200)
			rc = gcp_request_fail(&req, err);
		else if ((*service = gcp_request_json(&req, err)) != NULL)
			rc = 0;
		gcp_request_release(&req);
	}
	free(name);
	free(url);
	return rc;
}

int
run_delete_service(const char *service_id, json_t **operation,
    struct gcp_error *err)
{
	struct gcp_request req;
	char *url, *name;
	int rc = -1;

	*operation = NULL;
	if (run_service_urls(service_id, "DELETE", &url, &name, err) == -1)
		return -1;
	if (gcp_send_json(&req, GCP_API_RUN, "DELETE", url, name, NULL,
	    GCP_REQ_IDEMPOTENT, err) == 0) {
		if (req.status == 404)
			rc = 1;
		else if (req.status / 100 != 2)
			rc = gcp_request_fail(&req, err);
		else if ((*operation = gcp_request_json(&req, err)) != NULL)
			rc = 0;
		gcp_request_release(&req);
	}
	free(name);
	free(url);
	return rc;
}

/* Appends one page of services.list to all and returns its
 * nextPageToken (malloc'd, NULL on the last page) in *next. */
static int
run_list_page(const char *url, const char *parent, json_t *all, char **next,
    struct gcp_error *err)
{
	struct gcp_request req;
	json_t *root, *services;
	const char *token;
	int rc = -1;

	*next = NULL;
	if (gcp_send_json(&req, GCP_API_RUN, "GET", url, parent, NULL,
	    GCP_REQ_IDEMPOTENT, err) == -1)
		return -1;
	if (req.status != 200) {
		rc = gcp_request_fail(&req, err);
		goto done;
	}
	if ((root = gcp_request_json(&req, err)) == NULL)
		goto done;
	services = json_object_get(root, "services");
	token = json_string_value(json_object_get(root, "nextPageToken"));
	if (services != NULL && !json_is_array(services))
		gcp_error_set(err, req.status, "INVALID_RESPONSE",
		    "services is not an array");
	else if (services != NULL && json_array_extend(all, services) == -1)
		gcp_nomem(err);
	else if (token != NULL && token[0] != '\0' &&
	    (*next = strdup(token)) == NULL)
		gcp_nomem(err);
	else
		rc = 0;
	json_decref(root);
done:
	gcp_request_release(&req);
	return rc;
}

int
run_list_services(json_t **services, struct gcp_error *err)
{
	char *parent, *first = NULL, *url, *token = NULL;
	json_t *all;
	int page, rc = -1;

	*services = NULL;
	if ((parent = run_parent(err)) == NULL)
		return -1;
	if ((all = json_array()) == NULL ||
	    (first = gcp_format("%s/v2/%s/services?pageSize=%d",
	    gcp_endpoint(GCP_API_RUN), parent, RUN_PAGE_SIZE)) == NULL) {
		gcp_nomem(err);
		goto done;
	}
	for (page = 0; page < GCP_PAGES_MAX; page++) {
		url = gcp_page_url(first, token);
		free(token);
		token = NULL;
		if (url == NULL) {
			rc = gcp_error_set(err, 0, "INVALID_RESPONSE",
			    "nextPageToken too long");
			goto done;
		}
		rc = run_list_page(url, parent, all, &token, err);
		free(url);
		if (rc == -1 || token == NULL)
			break;
	}
	if (token != NULL)
		rc = gcp_error_set(err, 0, "INVALID_RESPONSE", "more than %d "
		    "pages of services", GCP_PAGES_MAX);
done:
	free(token);
	free(first);
	free(parent);
	if (rc == 0)
		*services = all;
	else
		json_decref(all);
	return rc;
}

/*
 * Cloud Logging v2 entries:list: which instance served each request of a
 * Cloud Run service, from its request log.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gcp.h"
#include "gcp_private.h"
#include "log.h"

/* Entries asked for per page; entries:list allows up to 1000. */
#define LOGGING_PAGE_SIZE	1000

/* One collected entry, with its parsed time for sorting. */
struct logging_row {
	struct timespec	 time;
	json_t		*entry;		/* {"instance_id", "timestamp"} */
	size_t		 order;		/* arrival, to keep the sort stable */
};

/* Newest first; equal times keep their order of arrival. */
static int
logging_row_cmp(const void *a, const void *b)
{
	const struct logging_row *x = a, *y = b;

	if (x->time.tv_sec != y->time.tv_sec)
		return x->time.tv_sec < y->time.tv_sec ? 1 : -1;
	if (x->time.tv_nsec != y->time.tv_nsec)
		return x->time.tv_nsec < y->time.tv_nsec ? 1 : -1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Appends the {"instance_id", "timestamp"} of each entry of one page
 * that names both; entries without an instance id are skipped. */
static int
logging_page_rows(json_t *root, json_t *rows, struct gcp_error *err)
{
	json_t *list, *entry, *row;
	const char *instance, *timestamp;
	struct timespec ts;
	size_t i;

	list = json_object_get(root, "entries");
	if (list != NULL && !json_is_array(list))
		return gcp_error_set(err, 200, "INVALID_RESPONSE",
		    "entries is not an array");
	json_array_foreach(list, i, entry) {
		instance = json_string_value(json_object_get(json_object_get(
		    entry, "labels"), "instanceId"));
		timestamp = json_string_value(json_object_get(entry,
		    "timestamp"));
		if (instance == NULL || timestamp == NULL)
			continue;
		if (gcp_parse_time(timestamp, &ts) == -1)
			return gcp_error_set(err, 200, "INVALID_RESPONSE",
			    "an entry has an invalid timestamp");
		if (json_array_size(rows) >= GCP_LOG_ENTRIES_MAX)
			break;
		row = json_pack("{s:s,s:s}", "instance_id", instance,
		    "timestamp", timestamp);
		if (row == NULL || json_array_append_new(rows, row) == -1)
			return gcp_nomem(err);
	}
	return 0;
}

/* Posts one entries:list request; *next is the malloc'd nextPageToken,
 * or NULL on the last page. */
static int
logging_page(const char *url, json_t *body, const char *service,
    json_t *rows, char **next, struct gcp_error *err)
{
	struct gcp_request req;
	json_t *root;
	const char *token;
	int rc = -1;

	*next = NULL;
	/* entries:list only reads, so it is retried like a GET. */
	if (gcp_send_json(&req, GCP_API_LOGGING, "POST", url, service, body,
	    GCP_REQ_IDEMPOTENT, err) == -1)
		return -1;
	if (req.status != 200) {
		rc = gcp_request_fail(&req, err);
		goto done;
	}
	if ((root = gcp_request_json(&req, err)) == NULL)
		goto done;
	if (logging_page_rows(root, rows, err) == -1)
		gcp_log_error(GCP_API_LOGGING, "POST", service, err);
	else {
		token = json_string_value(json_object_get(root,
		    "nextPageToken"));
		if (token != NULL && token[0] != '\0' &&
		    (*next = strdup(token)) == NULL)
			gcp_nomem(err);
		else
			rc = 0;
	}
	json_decref(root);
done:
	gcp_request_release(&req);
	return rc;
}

/* Sorts the rows newest first into a new array. */
static json_t *
logging_sorted(json_t *rows)
{
	struct logging_row *sorted;
	json_t *out, *row;
	size_t i, n = json_array_size(rows);

	if ((out = json_array()) == NULL)
		return NULL;
	if (n == 0)
		return out;
	if ((sorted = calloc(n, sizeof(*sorted))) == NULL) {
		json_decref(out);
		return NULL;
	}
	json_array_foreach(rows, i, row) {
		/* logging_page_rows parsed every timestamp already. */
		gcp_parse_time(json_string_value(json_object_get(row,
		    "timestamp")), &sorted[i].time);
		sorted[i].entry = row;
		sorted[i].order = i;
	}
	qsort(sorted, n, sizeof(*sorted), logging_row_cmp);
	for (i = 0; i < n; i++) {
		if (json_array_append(out, sorted[i].entry) == -1) {
			json_decref(out);
			out = NULL;
			break;
		}
	}
	free(sorted);
	return out;
}

int
logging_request_instances(const char *service, time_t since,
    json_t **entries, struct gcp_error *err)
{
	const char *project;
	char from[32], *filter = NULL, *resource = NULL, *url = NULL;
	char *token = NULL;
	json_t *body = NULL, *rows = NULL;
	int page, rc = -1;

	*entries = NULL;
	if (!gcp_valid_service_id(service))
		return gcp_invalid(err, GCP_API_LOGGING, "POST", service,
		    "invalid service id");
	if (gcp_format_time(since, from, sizeof(from)) == -1)
		return gcp_invalid(err, GCP_API_LOGGING, "POST", service,
		    "invalid start time");
	if ((project = gcp_project(err)) == NULL)
		return -1;
	/* The request log's id is run.googleapis.com/requests, with its
	 * "/" percent-encoded inside the log name. */
	filter = gcp_format("resource.type=\"cloud_run_revision\" AND "
	    "resource.labels.service_name=\"%s\" AND "
	    "logName=\"projects/%s/logs/run.googleapis.com%%2Frequests\" AND "
	    "timestamp>=\"%s\"", service, project, from);
	resource = gcp_format("projects/%s", project);
	url = gcp_format("%s/v2/entries:list", gcp_endpoint(GCP_API_LOGGING));
	if (filter == NULL || resource == NULL || url == NULL ||
	    (rows = json_array()) == NULL ||
	    (body = json_pack("{s:[s],s:s,s:s,s:i}", "resourceNames",
	    resource, "filter", filter, "orderBy", "timestamp desc",
	    "pageSize", LOGGING_PAGE_SIZE)) == NULL) {
		gcp_nomem(err);
		goto done;
	}

	for (page = 0; page < GCP_PAGES_MAX; page++) {
		if (token != NULL && json_object_set_new(body, "pageToken",
		    json_string(token)) == -1) {
			rc = gcp_error_set(err, 0, "INVALID_RESPONSE",
			    "nextPageToken is not UTF-8");
			break;
		}
		free(token);
		rc = logging_page(url, body, service, rows, &token, err);
		if (rc == -1 || token == NULL ||
		    json_array_size(rows) >= GCP_LOG_ENTRIES_MAX)
			break;
	}
	if (rc == 0 && (*entries = logging_sorted(rows)) == NULL)
		rc = gcp_nomem(err);
done:
	json_decref(body);
	json_decref(rows);
	free(token);
	free(url);
	free(resource);
	free(filter);
	return rc;
}

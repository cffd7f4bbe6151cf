/*
 * Cloud Monitoring v3 timeSeries.list: the instance count of a Cloud Run
 * service by state.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gcp.h"
#include "gcp_private.h"
#include "log.h"

#define MON_METRIC	"run.googleapis.com/container/instance_count"

/*
 * Each revision's series is aligned to 60 s periods by its maximum, and the
 * series are summed by state. The newest point of a state is then the sum
 * of the revisions' maximum counts in the newest period.
 * NOTE: public clients spell the groupByFields entry "metric.label.state",
 * and Google's reference shows no example for this metric.
 */
#define MON_AGGREGATION	"&aggregation.alignmentPeriod=60s" \
	"&aggregation.perSeriesAligner=ALIGN_MAX" \
	"&aggregation.crossSeriesReducer=REDUCE_SUM" \
	"&aggregation.groupByFields=metric.label.state"

/* Reads the value of a point: int64Value (a string) or doubleValue. */
static int
mon_point_value(json_t *point, long *value)
{
	json_t *v = json_object_get(point, "value");
	double d;
	int64_t i;

	if (gcp_json_int64(json_object_get(v, "int64Value"), &i) == 0) {
		if (i < 0 || i > 1000000)
			return -1;
		*value = (long)i;
		return 0;
	}
	if (!json_is_number(json_object_get(v, "doubleValue")))
		return -1;
	d = json_number_value(json_object_get(v, "doubleValue"));
	if (!(d >= 0 && d <= 1000000))
		return -1;
	*value = lround(d);
	return 0;
}

/* Adds the newest point of each series of one page to the counts. */
static int
mon_page_counts(json_t *root, long *active, long *idle, int *points,
    struct gcp_error *err)
{
	json_t *list, *series;
	const char *state;
	size_t i;
	long value;

	list = json_object_get(root, "timeSeries");
	if (list != NULL && !json_is_array(list))
		return gcp_error_set(err, 200, "INVALID_RESPONSE",
		    "timeSeries is not an array");
	json_array_foreach(list, i, series) {
		state = json_string_value(json_object_get(json_object_get(
		    json_object_get(series, "metric"), "labels"), "state"));
		/* Points come newest first. */
		if (json_array_size(json_object_get(series, "points")) == 0)
			continue;
		if (mon_point_value(json_array_get(json_object_get(series,
		    "points"), 0), &value) == -1)
			return gcp_error_set(err, 200, "INVALID_RESPONSE",
			    "a point has no valid int64Value");
		if (state != NULL && strcmp(state, "active") == 0)
			*active += value;
		else if (state != NULL && strcmp(state, "idle") == 0)
			*idle += value;
		else
			continue;
		(*points)++;
	}
	return 0;
}

/* Reads one page; *next is its malloc'd nextPageToken or NULL. */
static int
mon_page(const char *url, const char *service, long *active, long *idle,
    int *points, char **next, struct gcp_error *err)
{
	struct gcp_request req;
	json_t *root;
	const char *token;
	int rc = -1;

	*next = NULL;
	if (gcp_send_json(&req, GCP_API_MONITORING, "GET", url, service, NULL,
	    GCP_REQ_IDEMPOTENT, err) == -1)
		return -1;
	if (req.status != 200) {
		rc = gcp_request_fail(&req, err);
		goto done;
	}
	if ((root = gcp_request_json(&req, err)) == NULL)
		goto done;
	if (mon_page_counts(root, active, idle, points, err) == -1)
		gcp_log_error(GCP_API_MONITORING, "GET", service, err);
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

int
monitoring_instance_count(const char *service, time_t start, time_t end,
    long *active, long *idle, struct gcp_error *err)
{
	const char *project;
	char from[32], to[32], *filter = NULL, *escaped = NULL, *first = NULL;
	char *url, *token = NULL;
	int page, points = 0, rc = -1;

	*active = *idle = 0;
	if (!gcp_valid_service_id(service))
		return gcp_invalid(err, GCP_API_MONITORING, "GET", service,
		    "invalid service id");
	if (start > end || gcp_format_time(start, from, sizeof(from)) == -1 ||
	    gcp_format_time(end, to, sizeof(to)) == -1)
		return gcp_invalid(err, GCP_API_MONITORING, "GET", service,
		    "the interval must have start <= end");
	if ((project = gcp_project(err)) == NULL)
		return -1;
	filter = gcp_format("metric.type=\"%s\" AND "
	    "resource.labels.service_name=\"%s\"", MON_METRIC, service);
	if (filter == NULL || (escaped = gcp_escape(filter)) == NULL ||
	    (first = gcp_format("%s/v3/projects/%s/timeSeries?filter=%s"
	    "&interval.startTime=%s&interval.endTime=%s" MON_AGGREGATION,
	    gcp_endpoint(GCP_API_MONITORING), project, escaped, from,
	    to)) == NULL) {
		gcp_nomem(err);
		goto done;
	}

	for (page = 0; page < GCP_PAGES_MAX; page++) {
		if ((url = gcp_page_url(first, token)) == NULL) {
			rc = gcp_error_set(err, 0, "INVALID_RESPONSE",
			    "nextPageToken too long");
			break;
		}
		free(token);
		rc = mon_page(url, service, active, idle, &points, &token,
		    err);
		free(url);
		if (rc == -1 || token == NULL)
			break;
	}
	if (rc == 0 && token != NULL)
		rc = gcp_error_set(err, 0, "INVALID_RESPONSE", "more than %d "
		    "pages of time series", GCP_PAGES_MAX);
	if (rc == 0 && points == 0)
		rc = 1;
done:
	if (rc == -1)
		*active = *idle = 0;
	free(token);
	free(first);
	free(escaped);
	free(filter);
	return rc;
}

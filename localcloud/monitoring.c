/*
 * Cloud Monitoring v3, timeSeries.list for
 * run.googleapis.com/container/instance_count. Every second each service's
 * instances are counted by state (active: starting or serving a connection;
 * idle: running without one, or stopping) into a per-service history.
 * Unlike the real metric, samples are visible at once unless --metrics-lag
 * hides the newest ones.
 */
#include "config.h"

#include <sys/queue.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "filter.h"
#include "log.h"
#include "localcloud.h"
#include "run.h"

#define MON_METRIC	"run.googleapis.com/container/instance_count"
#define MON_SAMPLES	3600	/* one hour of one-second samples */
#define MON_SERIES_MAX	1000	/* services with a history */
#define MON_PERIOD_S	1	/* seconds between samples */
#define MON_POINTS_MAX	100000	/* per response */

struct mon_sample {
	time_t		t;		/* wall clock, seconds */
	uint16_t	count[2];	/* active, idle */
};

struct mon_series {
	TAILQ_ENTRY(mon_series) entry;
	char		*service;	/* full service name */
	char		*project;
	char		*location;
	char		*id;
	char		 revision[128];
	struct mon_sample ring[MON_SAMPLES];
	unsigned int	 head;		/* next slot */
	unsigned int	 count;
};

struct mon_state {
	TAILQ_HEAD(, mon_series) series;
	unsigned int	 nseries;
	struct event	*timer;
};

static const char *const mon_states[2] = { "active", "idle" };

static void
series_free(struct mon_series *s)
{
	free(s->service);
	free(s->project);
	free(s->location);
	free(s->id);
	free(s);
}

/* Finds the history of svc, creating it (and dropping the oldest one past
 * MON_SERIES_MAX) when missing. */
static struct mon_series *
series_get(struct mon_state *ms, const struct run_service *svc)
{
	struct mon_series *s;

	TAILQ_FOREACH(s, &ms->series, entry)
		if (strcmp(s->service, svc->name) == 0)
			return s;
	if (ms->nseries == MON_SERIES_MAX) {
		s = TAILQ_FIRST(&ms->series);
		TAILQ_REMOVE(&ms->series, s, entry);
		series_free(s);
		ms->nseries--;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->service = strdup(svc->name)) == NULL ||
	    (s->project = strdup(svc->project)) == NULL ||
	    (s->location = strdup(svc->location)) == NULL ||
	    (s->id = strdup(svc->id)) == NULL) {
		series_free(s);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&ms->series, s, entry);
	ms->nseries++;
	return s;
}

static void
on_sample(evutil_socket_t fd, short events, void *arg)
{
	struct lc *lc = arg;
	struct mon_state *ms = lc->monitoring;
	struct run_state *rs = lc->run;
	struct run_service *svc;
	struct mon_series *s;
	struct mon_sample *m;
	struct dp_counts c;
	time_t now = time(NULL);

	if (rs == NULL)
		return;
	TAILQ_FOREACH(svc, &rs->services, entry) {
		if ((s = series_get(ms, svc)) == NULL) {
			log_warnx("out of memory for the history of %s",
			    svc->name);
			continue;
		}
		dataplane_counts(svc, &c);
		m = &s->ring[s->head];
		m->t = now;
		m->count[0] = (uint16_t)(c.active > 65535 ? 65535 : c.active);
		m->count[1] = (uint16_t)(c.idle > 65535 ? 65535 : c.idle);
		s->head = (s->head + 1) % MON_SAMPLES;
		if (s->count < MON_SAMPLES)
			s->count++;
		snprintf(s->revision, sizeof(s->revision), "%s",
		    svc->latest_ready != NULL ? svc->latest_ready :
		    svc->latest_created != NULL ? svc->latest_created : "");
	}
}

/* The parameters of a timeSeries.list request. */
struct mon_query {
	struct filter_term terms[FILTER_TERMS_MAX];
	int		nterms;
	time_t		start, end;	/* inclusive, seconds */
	long		period;		/* 0: raw samples */
	int		aligner;	/* 0 none, 1 max, 2 min, 3 mean, 4 sum */
	int		reducer;	/* 0 none, 1 sum, 2 max */
	int		group_state;	/* reducer keeps the state label */
	int		headers_only;
};

/* Returns the value of a series label for a filter field, or NULL for a
 * field this emulation does not know. */
static const char *
series_field(const struct mon_series *s, int state, const char *field)
{
	if (strcmp(field, "metric.type") == 0)
		return MON_METRIC;
	if (strcmp(field, "resource.type") == 0)
		return "cloud_run_revision";
	if (strcmp(field, "resource.labels.service_name") == 0 ||
	    strcmp(field, "resource.labels.configuration_name") == 0)
		return s->id;
	if (strcmp(field, "resource.labels.location") == 0)
		return s->location;
	if (strcmp(field, "resource.labels.project_id") == 0)
		return s->project;
	if (strcmp(field, "resource.labels.revision_name") == 0)
		return s->revision;
	if (strcmp(field, "metric.labels.state") == 0 ||
	    strcmp(field, "metric.label.state") == 0)
		return mon_states[state];
	return NULL;
}

/* Returns 1 for a filter field that series_field() supports. */
static int
known_field(const char *field)
{
	static const char *const fields[] = { "metric.type", "resource.type",
	    "resource.labels.service_name",
	    "resource.labels.configuration_name", "resource.labels.location",
	    "resource.labels.project_id", "resource.labels.revision_name",
	    "metric.labels.state", "metric.label.state", NULL };
	int i;

	for (i = 0; fields[i] != NULL; i++)
		if (strcmp(field, fields[i]) == 0)
			return 1;
	return 0;
}

static int
series_matches(const struct mon_series *s, int state,
    const struct mon_query *q)
{
	int i;

	for (i = 0; i < q->nterms; i++)
		if (!filter_match_string(&q->terms[i], series_field(s, state,
		    q->terms[i].field)))
			return 0;
	return 1;
}

/* Reads a "60s" alignment period. */
static int
parse_period(const char *text, long *seconds)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || end == text || strcmp(end, "s") != 0 || v < 1 ||
	    v > 86400 * 30)
		return -1;
	*seconds = v;
	return 0;
}

/* Fills q from the query string, or replies 400 and returns -1. */
static int
query_parse(struct evhttp_request *req, const char *query,
    struct mon_query *q)
{
	static const char *const aligners[] = { "ALIGN_NONE", "ALIGN_MAX",
	    "ALIGN_MIN", "ALIGN_MEAN", "ALIGN_SUM", NULL };
	static const char *const reducers[] = { "REDUCE_NONE", "REDUCE_SUM",
	    "REDUCE_MAX", NULL };
	char *filter = NULL, *start = NULL, *end = NULL, *period = NULL;
	char *aligner = NULL, *reducer = NULL, *group = NULL, *view = NULL;
	struct timespec ts;
	char err[256];
	int i, rc = -1;

	memset(q, 0, sizeof(*q));
	filter = lc_query_get(query, "filter");
	start = lc_query_get(query, "interval.startTime");
	end = lc_query_get(query, "interval.endTime");
	period = lc_query_get(query, "aggregation.alignmentPeriod");
	aligner = lc_query_get(query, "aggregation.perSeriesAligner");
	reducer = lc_query_get(query, "aggregation.crossSeriesReducer");
	group = lc_query_get(query, "aggregation.groupByFields");
	view = lc_query_get(query, "view");

	if (filter == NULL || *filter == '\0') {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Field filter had an invalid value: a filter is required.");
		goto out;
	}
	if ((q->nterms = filter_parse(filter, q->terms, err,
	    sizeof(err))) == -1) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Field filter had an invalid value of \"%.200s\": %s",
		    filter, err);
		goto out;
	}
	if (end == NULL || lc_parse_time(end, &ts) == -1) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Field interval.endTime had an invalid value: an RFC 3339 "
		    "time is required.");
		goto out;
	}
	q->end = ts.tv_sec;
	q->start = q->end;
	if (start != NULL) {
		if (lc_parse_time(start, &ts) == -1 || ts.tv_sec > q->end) {
			lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
			    "Field interval.startTime had an invalid value: an "
			    "RFC 3339 time no later than interval.endTime is "
			    "required.");
			goto out;
		}
		q->start = ts.tv_sec;
	}
	if (period != NULL && parse_period(period, &q->period) == -1) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Field aggregation.alignmentPeriod had an invalid value "
		    "of \"%.32s\": expected seconds such as \"60s\".", period);
		goto out;
	}
	for (i = 0; aligner != NULL && aligners[i] != NULL; i++)
		if (strcmp(aligner, aligners[i]) == 0)
			break;
	if (aligner != NULL && aligners[i] == NULL) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "The aligner %.32s is not supported here; use ALIGN_NONE, "
		    "ALIGN_MAX, ALIGN_MIN, ALIGN_MEAN or ALIGN_SUM.", aligner);
		goto out;
	}
	q->aligner = aligner != NULL ? i : 0;
	for (i = 0; reducer != NULL && reducers[i] != NULL; i++)
		if (strcmp(reducer, reducers[i]) == 0)
			break;
	if (reducer != NULL && reducers[i] == NULL) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "The reducer %.32s is not supported here; use REDUCE_NONE, "
		    "REDUCE_SUM or REDUCE_MAX.", reducer);
		goto out;
	}
	q->reducer = reducer != NULL ? i : 0;
	q->group_state = group != NULL && strstr(group, "state") != NULL;
	if (q->aligner != 0 && q->period == 0) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "An alignment period is required with a per-series "
		    "aligner.");
		goto out;
	}
	q->headers_only = view != NULL && strcmp(view, "HEADERS") == 0;
	rc = 0;
out:
	free(filter);
	free(start);
	free(end);
	free(period);
	free(aligner);
	free(reducer);
	free(group);
	free(view);
	return rc;
}

static json_t *
point_json(time_t start, time_t end, double value, int as_double)
{
	struct timespec ts = { 0, 0 };
	char s[40], e[40], v[32];

	ts.tv_sec = start;
	lc_format_time(&ts, s, sizeof(s));
	ts.tv_sec = end;
	lc_format_time(&ts, e, sizeof(e));
	if (as_double)
		return json_pack("{s:{s:s,s:s},s:{s:f}}", "interval",
		    "startTime", s, "endTime", e, "value", "doubleValue", value);
	snprintf(v, sizeof(v), "%lld", (long long)value);
	return json_pack("{s:{s:s,s:s},s:{s:s}}", "interval", "startTime", s,
	    "endTime", e, "value", "int64Value", v);
}

/*
 * Adds the points of one series, newest first. states is a bit mask of the
 * states summed into it (1 active, 2 idle). With an aligner, one point per
 * alignment period ending at q->end.
 */
static int
series_points(const struct mon_series *s, int states,
    const struct mon_query *q, time_t visible, json_t *points)
{
	unsigned int i, idx;
	const struct mon_sample *m;
	time_t bucket_end = 0;
	double acc = 0, v;
	int n = 0, as_double = q->aligner == 3, total = 0;

	for (i = 0; i < s->count; i++) {
		idx = (s->head + MON_SAMPLES - 1 - i) % MON_SAMPLES;
		m = &s->ring[idx];
		if (m->t > q->end || m->t > visible)
			continue;
		if (m->t < q->start)
			break;
		v = (states & 1 ? m->count[0] : 0) +
		    (states & 2 ? m->count[1] : 0);
		if (q->aligner == 0) {
			if (json_array_append_new(points, point_json(m->t,
			    m->t, v, 0)) == -1 || ++total > MON_POINTS_MAX)
				return -1;
			continue;
		}
		if (n > 0 && m->t <= bucket_end - q->period) {
			if (json_array_append_new(points, point_json(
			    bucket_end, bucket_end, as_double ? acc / n : acc,
			    as_double)) == -1)
				return -1;
			n = 0;
		}
		if (n == 0) {
			bucket_end = q->end - ((q->end - m->t) / q->period) *
			    q->period;
			acc = v;
		} else if (q->aligner == 1) {
			acc = v > acc ? v : acc;
		} else if (q->aligner == 2) {
			acc = v < acc ? v : acc;
		} else {
			acc += v;
		}
		n++;
	}
	if (n > 0 && json_array_append_new(points, point_json(bucket_end,
	    bucket_end, as_double ? acc / n : acc, as_double)) == -1)
		return -1;
	return 0;
}

static json_t *
series_json(const struct mon_series *s, int states,
    const struct mon_query *q, time_t visible)
{
	json_t *ts, *labels, *points;

	labels = json_object();
	if (states != 3)
		json_object_set_new(labels, "state",
		    json_string(mon_states[states == 1 ? 0 : 1]));
	ts = json_pack("{s:{s:s,s:o},s:{s:s,s:{s:s,s:s,s:s,s:s,s:s}},s:s,s:s}",
	    "metric", "type", MON_METRIC, "labels", labels,
	    "resource", "type", "cloud_run_revision", "labels",
	    "project_id", s->project, "service_name", s->id,
	    "revision_name", s->revision, "location", s->location,
	    "configuration_name", s->id,
	    "metricKind", "GAUGE", "valueType", q->aligner == 3 ? "DOUBLE" :
	    "INT64");
	if (ts == NULL || q->headers_only)
		return ts;
	if ((points = json_array()) == NULL ||
	    series_points(s, states, q, visible, points) == -1) {
		json_decref(points);
		json_decref(ts);
		return NULL;
	}
	if (json_array_size(points) == 0) {
		/* The API leaves out series without points. */
		json_decref(points);
		json_decref(ts);
		return json_null();
	}
	json_object_set_new(ts, "points", points);
	return ts;
}

/* GET /v3/projects/{p}/timeSeries */
static void
time_series_list(struct lc *lc, struct evhttp_request *req,
    const char *project, const char *query)
{
	struct mon_state *ms = lc->monitoring;
	struct mon_series *s;
	struct mon_query q;
	json_t *out, *list, *ts;
	time_t visible = time(NULL) - (time_t)lc->metrics_lag;
	int state, i, reduced;

	if (query_parse(req, query, &q) == -1)
		return;
	for (i = 0; i < q.nterms; i++) {
		if (!known_field(q.terms[i].field)) {
			lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
			    "Field filter had an invalid value: the field %s "
			    "is not supported by localcloud.",
			    q.terms[i].field);
			return;
		}
	}
	if ((out = json_object()) == NULL || (list = json_array()) == NULL) {
		json_decref(out);
		lc_reply_google_error(req, 500, "INTERNAL", "Out of memory.");
		return;
	}
	json_object_set_new(out, "timeSeries", list);

	/* A reducer without the state among its group-by fields sums the
	 * two states into one series. */
	reduced = q.reducer != 0 && !q.group_state;
	TAILQ_FOREACH(s, &ms->series, entry) {
		if (strcmp(s->project, project) != 0)
			continue;
		for (state = 0; state < 2; state++) {
			if (!series_matches(s, state, &q))
				continue;
			if (reduced) {
				ts = series_json(s, 3, &q, visible);
				state = 2;
			} else {
				ts = series_json(s, 1 << state, &q, visible);
			}
			if (ts == NULL) {
				json_decref(out);
				lc_reply_google_error(req, 500, "INTERNAL",
				    "Out of memory or too many points.");
				return;
			}
			if (json_is_null(ts))
				json_decref(ts);
			else
				json_array_append_new(list, ts);
		}
	}
	if (json_array_size(list) == 0)
		json_object_del(out, "timeSeries");
	lc_reply_json(req, 200, out);
}

static int
monitoring_route(struct lc *lc, struct evhttp_request *req,
    const char *path, const char *query)
{
	const char *p, *slash;
	char project[64];
	size_t n;

	if (strncmp(path, "/v3/projects/", 13) != 0)
		return 0;
	p = path + 13;
	if ((slash = strchr(p, '/')) == NULL ||
	    strcmp(slash, "/timeSeries") != 0)
		return 0;
	n = (size_t)(slash - p);
	if (n == 0 || n >= sizeof(project)) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Invalid project in '%.128s'.", path);
		return 1;
	}
	memcpy(project, p, n);
	project[n] = '\0';
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		lc_reply_google_error(req, 404, "NOT_FOUND",
		    "Only timeSeries.list (GET) is emulated.");
		return 1;
	}
	time_series_list(lc, req, project, query);
	return 1;
}

static int
monitoring_init(struct lc *lc)
{
	struct mon_state *ms;
	struct timeval tv = { MON_PERIOD_S, 0 };

	if ((ms = calloc(1, sizeof(*ms))) == NULL)
		return -1;
	TAILQ_INIT(&ms->series);
	ms->timer = event_new(lc->base, -1, EV_PERSIST, on_sample, lc);
	if (ms->timer == NULL || event_add(ms->timer, &tv) == -1) {
		if (ms->timer != NULL)
			event_free(ms->timer);
		free(ms);
		return -1;
	}
	lc->monitoring = ms;
	return 0;
}

static void
monitoring_shutdown(struct lc *lc)
{
	struct mon_state *ms = lc->monitoring;
	struct mon_series *s;

	if (ms == NULL)
		return;
	while ((s = TAILQ_FIRST(&ms->series)) != NULL) {
		TAILQ_REMOVE(&ms->series, s, entry);
		series_free(s);
	}
	event_free(ms->timer);
	free(ms);
	lc->monitoring = NULL;
}

const struct lc_module monitoring_module = {
	.name = "monitoring",
	.init = monitoring_init,
	.route = monitoring_route,
	.shutdown = monitoring_shutdown,
};

/*
 * Cloud Logging v2, entries.list, for the request logs of Cloud Run
 * services: one entry per request the data plane forwarded, with the
 * serving instance in labels.instanceId. Entries live in a ring of
 * LOG_ENTRIES_MAX in memory; older ones are dropped and none survive a
 * restart.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <jansson.h>

#include "filter.h"
#include "log.h"
#include "localcloud.h"
#include "run.h"

#define LOG_ENTRIES_MAX		8192
#define LOG_BODY_MAX		(64 * 1024)	/* bytes of a list request */
#define LOG_PAGE_DEFAULT	50
#define LOG_PAGE_MAX		1000
#define LOG_REQUESTS_LOG	"run.googleapis.com%2Frequests"

struct log_entry {
	uint64_t	seq;		/* insertId, increasing */
	struct timespec	time;
	struct timespec	received;
	char		project[64];
	char		location[64];
	char		service[64];
	char		revision[128];
	char		instance_id[RUN_INSTANCE_ID_LEN + 1];
	char		method[16];
	char		url[640];
	char		user_agent[128];
	char		remote_ip[48];
	char		protocol[16];
	int		status;
	uint64_t	request_size;
	uint64_t	response_size;
	uint64_t	latency_us;
};

struct log_state {
	struct log_entry *ring;
	unsigned int	 head;		/* next slot */
	unsigned int	 count;
	uint64_t	 next_seq;
};

#define COPY(dst, src) copy_text((dst), sizeof(dst), (src))

/* Copies src, cut to size - 1 bytes, into dst; NULL copies as "". */
static void
copy_text(char *dst, size_t size, const char *src)
{
	size_t n = src != NULL ? strnlen(src, size - 1) : 0;

	memcpy(dst, src != NULL ? src : "", n);
	dst[n] = '\0';
}

void
logging_add_request(struct lc *lc, const struct log_request *r)
{
	struct log_state *ls = lc->logging;
	struct log_entry *e;

	if (ls == NULL)
		return;
	e = &ls->ring[ls->head];
	ls->head = (ls->head + 1) % LOG_ENTRIES_MAX;
	if (ls->count < LOG_ENTRIES_MAX)
		ls->count++;
	e->seq = ++ls->next_seq;
	e->time = r->time;
	clock_gettime(CLOCK_REALTIME, &e->received);
	COPY(e->project, r->project);
	COPY(e->location, r->location);
	COPY(e->service, r->service);
	COPY(e->revision, r->revision);
	COPY(e->instance_id, r->instance_id);
	COPY(e->method, r->method);
	COPY(e->url, r->url);
	COPY(e->user_agent, r->user_agent);
	COPY(e->remote_ip, r->remote_ip);
	COPY(e->protocol, r->protocol);
	e->status = r->status;
	e->request_size = r->request_size;
	e->response_size = r->response_size;
	e->latency_us = r->latency_us;
}

static const char *
entry_severity(const struct log_entry *e)
{
	if (e->status >= 500)
		return "ERROR";
	if (e->status >= 400)
		return "WARNING";
	if (e->status > 0)
		return "INFO";
	return "DEFAULT";
}

static json_t *
entry_json(const struct log_entry *e)
{
	char t[40], rt[40], id[32], lat[32], log_name[160], n[32];
	json_t *out, *http;

	lc_format_time(&e->time, t, sizeof(t));
	lc_format_time(&e->received, rt, sizeof(rt));
	snprintf(id, sizeof(id), "%016llx", (unsigned long long)e->seq);
	snprintf(log_name, sizeof(log_name), "projects/%s/logs/%s",
	    e->project, LOG_REQUESTS_LOG);
	out = json_pack("{s:s,s:{s:s,s:{s:s,s:s,s:s,s:s,s:s}},s:s,s:s,s:s,"
	    "s:s}", "logName", log_name,
	    "resource", "type", "cloud_run_revision", "labels",
	    "project_id", e->project, "service_name", e->service,
	    "revision_name", e->revision, "location", e->location,
	    "configuration_name", e->service,
	    "timestamp", t, "receiveTimestamp", rt,
	    "severity", entry_severity(e), "insertId", id);
	if (out == NULL)
		return NULL;

	/* A response that localcloud sent itself, such as the 403 of the
	 * invoker check, came from no instance, so it has no instanceId. */
	if (*e->instance_id != '\0' && json_object_set_new(out, "labels",
	    json_pack("{s:s}", "instanceId", e->instance_id)) == -1) {
		json_decref(out);
		return NULL;
	}

	snprintf(lat, sizeof(lat), "%llu.%06llus",
	    (unsigned long long)(e->latency_us / 1000000),
	    (unsigned long long)(e->latency_us % 1000000));
	http = json_pack("{s:s,s:s,s:s}", "latency", lat, "serverIp",
	    "127.0.0.1", "remoteIp", e->remote_ip);
	if (http == NULL) {
		json_decref(out);
		return NULL;
	}
	if (*e->method != '\0')
		json_object_set_new(http, "requestMethod",
		    json_string(e->method));
	if (*e->url != '\0')
		json_object_set_new(http, "requestUrl", json_string(e->url));
	if (*e->user_agent != '\0')
		json_object_set_new(http, "userAgent",
		    json_string(e->user_agent));
	if (*e->protocol != '\0')
		json_object_set_new(http, "protocol",
		    json_string(e->protocol));
	if (e->status > 0)
		json_object_set_new(http, "status", json_integer(e->status));
	snprintf(n, sizeof(n), "%llu", (unsigned long long)e->request_size);
	json_object_set_new(http, "requestSize", json_string(n));
	snprintf(n, sizeof(n), "%llu", (unsigned long long)e->response_size);
	json_object_set_new(http, "responseSize", json_string(n));
	json_object_set_new(out, "httpRequest", http);
	return out;
}

/* Compares two timestamps: <0, 0 or >0. */
static int
time_cmp(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return a->tv_sec < b->tv_sec ? -1 : 1;
	if (a->tv_nsec != b->tv_nsec)
		return a->tv_nsec < b->tv_nsec ? -1 : 1;
	return 0;
}

static int
op_holds(enum filter_op op, int c)
{
	switch (op) {
	case FILTER_EQ:
	case FILTER_HAS:
		return c == 0;
	case FILTER_NE:
		return c != 0;
	case FILTER_LT:
		return c < 0;
	case FILTER_LE:
		return c <= 0;
	case FILTER_GT:
		return c > 0;
	case FILTER_GE:
		return c >= 0;
	}
	return 0;
}

/* Severity names in order, for severity>=WARNING. */
static int
severity_rank(const char *s)
{
	static const char *const names[] = { "DEFAULT", "DEBUG", "INFO",
	    "NOTICE", "WARNING", "ERROR", "CRITICAL", "ALERT", "EMERGENCY",
	    NULL };
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* Decides one term for one entry. Terms were checked by check_term. */
static int
term_matches(const struct filter_term *t, const struct log_entry *e)
{
	struct timespec ts;
	char log_name[160];
	const char *v = NULL;
	long n;

	if (strcmp(t->field, "timestamp") == 0) {
		(void)lc_parse_time(t->value, &ts);
		return op_holds(t->op, time_cmp(&e->time, &ts));
	}
	if (strcmp(t->field, "httpRequest.status") == 0) {
		n = strtol(t->value, NULL, 10);
		return op_holds(t->op, e->status < n ? -1 : e->status > n);
	}
	if (strcmp(t->field, "severity") == 0)
		return op_holds(t->op, severity_rank(entry_severity(e)) -
		    severity_rank(t->value));
	if (strcmp(t->field, "logName") == 0) {
		/* Either spelling of the log id matches. */
		snprintf(log_name, sizeof(log_name), "projects/%s/logs/%s",
		    e->project, LOG_REQUESTS_LOG);
		if (filter_match_string(t, log_name))
			return 1;
		snprintf(log_name, sizeof(log_name), "projects/%s/logs/"
		    "run.googleapis.com/requests", e->project);
		return filter_match_string(t, log_name);
	}
	if (strcmp(t->field, "resource.type") == 0)
		v = "cloud_run_revision";
	else if (strcmp(t->field, "resource.labels.service_name") == 0 ||
	    strcmp(t->field, "resource.labels.configuration_name") == 0)
		v = e->service;
	else if (strcmp(t->field, "resource.labels.revision_name") == 0)
		v = e->revision;
	else if (strcmp(t->field, "resource.labels.location") == 0)
		v = e->location;
	else if (strcmp(t->field, "resource.labels.project_id") == 0)
		v = e->project;
	else if (strcmp(t->field, "labels.instanceId") == 0)
		v = e->instance_id;
	else if (strcmp(t->field, "httpRequest.requestMethod") == 0)
		v = e->method;
	else if (strcmp(t->field, "httpRequest.requestUrl") == 0)
		v = e->url;
	else if (strcmp(t->field, "httpRequest.userAgent") == 0)
		v = e->user_agent;
	return filter_match_string(t, v);
}

/* Rejects the fields and values term_matches cannot decide. */
static int
check_term(const struct filter_term *t, char *err, size_t size)
{
	static const char *const strings[] = { "resource.type",
	    "resource.labels.service_name",
	    "resource.labels.configuration_name",
	    "resource.labels.revision_name", "resource.labels.location",
	    "resource.labels.project_id", "labels.instanceId", "logName",
	    "httpRequest.requestMethod", "httpRequest.requestUrl",
	    "httpRequest.userAgent", NULL };
	struct timespec ts;
	char *end;
	int i;

	if (strcmp(t->field, "timestamp") == 0) {
		if (lc_parse_time(t->value, &ts) == -1) {
			snprintf(err, size, "invalid timestamp \"%.64s\": "
			    "expected RFC 3339", t->value);
			return -1;
		}
		return 0;
	}
	if (strcmp(t->field, "httpRequest.status") == 0) {
		errno = 0;
		(void)strtol(t->value, &end, 10);
		if (*t->value == '\0' || *end != '\0' || errno != 0) {
			snprintf(err, size, "invalid status \"%.32s\"",
			    t->value);
			return -1;
		}
		return 0;
	}
	if (strcmp(t->field, "severity") == 0) {
		if (severity_rank(t->value) == -1) {
			snprintf(err, size, "invalid severity \"%.32s\"",
			    t->value);
			return -1;
		}
		return 0;
	}
	for (i = 0; strings[i] != NULL; i++)
		if (strcmp(t->field, strings[i]) == 0)
			return 0;
	snprintf(err, size, "the field %s is not supported by localcloud",
	    t->field);
	return -1;
}

/* Reads pageSize, which proto3 JSON allows as a number or a string. */
static int
read_page_size(const json_t *v, long *out)
{
	char *end;

	*out = LOG_PAGE_DEFAULT;
	if (v == NULL)
		return 0;
	if (json_is_integer(v))
		*out = (long)json_integer_value(v);
	else if (json_is_string(v)) {
		errno = 0;
		*out = strtol(json_string_value(v), &end, 10);
		if (*end != '\0' || errno != 0)
			return -1;
	} else
		return -1;
	if (*out < 0)
		return -1;
	if (*out == 0)
		*out = LOG_PAGE_DEFAULT;
	if (*out > LOG_PAGE_MAX)
		*out = LOG_PAGE_MAX;
	return 0;
}

/* Collects the projects named in resourceNames ("projects/P"). */
static int
read_projects(const json_t *names, const char **projects, int max,
    char *err, size_t size)
{
	const json_t *v;
	const char *s;
	size_t i;
	int n = 0;

	if (!json_is_array(names) || json_array_size(names) == 0) {
		snprintf(err, size, "resourceNames must list at least one "
		    "\"projects/PROJECT_ID\"");
		return -1;
	}
	json_array_foreach(names, i, v) {
		s = json_string_value(v);
		if (s == NULL || strncmp(s, "projects/", 9) != 0 ||
		    s[9] == '\0' || strchr(s + 9, '/') != NULL) {
			snprintf(err, size, "resourceNames[%zu] must be "
			    "\"projects/PROJECT_ID\"", i);
			return -1;
		}
		if (n < max)
			projects[n++] = s + 9;
	}
	return n;
}

static int
entry_selected(const struct log_entry *e, const char **projects,
    int nprojects, const struct filter_term *terms, int nterms)
{
	int i;

	for (i = 0; i < nprojects; i++)
		if (strcmp(e->project, projects[i]) == 0)
			break;
	if (i == nprojects)
		return 0;
	for (i = 0; i < nterms; i++)
		if (!term_matches(&terms[i], e))
			return 0;
	return 1;
}

/* POST /v2/entries:list */
static void
entries_list(struct lc *lc, struct evhttp_request *req)
{
	struct log_state *ls = lc->logging;
	struct filter_term terms[FILTER_TERMS_MAX];
	const char *projects[8], *filter, *order, *token;
	const struct log_entry *e;
	json_t *body = NULL, *out = NULL, *list;
	unsigned int i, idx;
	int nprojects, nterms = 0, desc = 0, t;
	long page;
	uint64_t after = 0, last = 0;
	char err[256], next[32], *end;

	if (lc_read_json(req, LOG_BODY_MAX, &body) == -1)
		return;
	if ((nprojects = read_projects(json_object_get(body,
	    "resourceNames"), projects, 8, err, sizeof(err))) == -1) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT", "%s", err);
		goto out;
	}
	filter = json_string_value(json_object_get(body, "filter"));
	order = json_string_value(json_object_get(body, "orderBy"));
	token = json_string_value(json_object_get(body, "pageToken"));
	if ((json_object_get(body, "filter") != NULL && filter == NULL) ||
	    (json_object_get(body, "orderBy") != NULL && order == NULL) ||
	    (json_object_get(body, "pageToken") != NULL && token == NULL) ||
	    read_page_size(json_object_get(body, "pageSize"), &page) == -1) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Invalid JSON payload: filter, orderBy and pageToken must "
		    "be strings and pageSize a non-negative integer.");
		goto out;
	}
	if (filter != NULL && (nterms = filter_parse(filter, terms, err,
	    sizeof(err))) == -1) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Invalid filter: %s.", err);
		goto out;
	}
	for (t = 0; t < nterms; t++) {
		if (check_term(&terms[t], err, sizeof(err)) == -1) {
			lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
			    "Invalid filter: %s.", err);
			goto out;
		}
	}
	if (order != NULL && strcmp(order, "timestamp desc") == 0)
		desc = 1;
	else if (order != NULL && *order != '\0' &&
	    strcmp(order, "timestamp asc") != 0 &&
	    strcmp(order, "timestamp") != 0) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Invalid orderBy \"%.64s\": use \"timestamp asc\" or "
		    "\"timestamp desc\".", order);
		goto out;
	}
	if (token != NULL && *token != '\0') {
		errno = 0;
		after = strtoull(token, &end, 16);
		if (*end != '\0' || errno != 0) {
			lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
			    "Invalid pageToken.");
			goto out;
		}
	}

	if ((out = json_object()) == NULL || (list = json_array()) == NULL) {
		lc_reply_google_error(req, 500, "INTERNAL", "Out of memory.");
		goto out;
	}
	json_object_set_new(out, "entries", list);

	/* The ring is in insertion order, which is timestamp order up to the
	 * request latency; the page token is the last insertId sent. */
	for (i = 0; i < ls->count; i++) {
		idx = desc ? (ls->head + LOG_ENTRIES_MAX - 1 - i) %
		    LOG_ENTRIES_MAX : (ls->head + LOG_ENTRIES_MAX - ls->count +
		    i) % LOG_ENTRIES_MAX;
		e = &ls->ring[idx];
		if (after != 0 && (desc ? e->seq >= after : e->seq <= after))
			continue;
		if (!entry_selected(e, projects, nprojects, terms, nterms))
			continue;
		if ((long)json_array_size(list) == page) {
			snprintf(next, sizeof(next), "%llx",
			    (unsigned long long)last);
			json_object_set_new(out, "nextPageToken",
			    json_string(next));
			break;
		}
		json_array_append_new(list, entry_json(e));
		last = e->seq;
	}
	if (json_array_size(list) == 0)
		json_object_del(out, "entries");
	lc_reply_json(req, 200, out);
	out = NULL;
out:
	json_decref(out);
	json_decref(body);
}

static int
logging_route(struct lc *lc, struct evhttp_request *req, const char *path,
    const char *query)
{
	if (strcmp(path, "/v2/entries:list") != 0)
		return 0;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		lc_reply_google_error(req, 404, "NOT_FOUND",
		    "entries.list takes POST.");
		return 1;
	}
	entries_list(lc, req);
	return 1;
}

static int
logging_init(struct lc *lc)
{
	struct log_state *ls;

	if ((ls = calloc(1, sizeof(*ls))) == NULL ||
	    (ls->ring = calloc(LOG_ENTRIES_MAX, sizeof(*ls->ring))) == NULL) {
		free(ls);
		return -1;
	}
	lc->logging = ls;
	return 0;
}

static void
logging_shutdown(struct lc *lc)
{
	struct log_state *ls = lc->logging;

	if (ls == NULL)
		return;
	free(ls->ring);
	free(ls);
	lc->logging = NULL;
}

const struct lc_module logging_module = {
	.name = "logging",
	.init = logging_init,
	.route = logging_route,
	.shutdown = logging_shutdown,
};

/*
 * Cloud Run Admin API v2: services (create, get, list, patch, delete, IAM
 * policy) and their long-running operations. A deploy resolves the image to
 * an implementation's run file and starts one instance that must listen on
 * its PORT, as Cloud Run checks a new revision before it serves.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "log.h"
#include "localcloud.h"
#include "invoker.h"
#include "revision.h"
#include "run.h"
#include "runstore.h"

#define RUN_BODY_MAX		(1024 * 1024)	/* bytes of a Service body */
#define RUN_OPERATIONS_MAX	1000	/* finished ones beyond are dropped */
#define RUN_PAGE_SIZE_DEFAULT	100
#define RUN_PAGE_SIZE_MAX	1000
#define RUN_WAIT_DEFAULT	60	/* seconds, operations.wait */
#define RUN_WAIT_MAX		600	/* seconds */
#define RUN_SERVICE_TYPE	"type.googleapis.com/google.cloud.run.v2.Service"

/* gRPC codes of google.rpc.Code used in Operation.error. */
#define RPC_ABORTED		10
#define RPC_FAILED_PRECONDITION	9
#define RPC_INTERNAL		13

struct run_waiter {
	TAILQ_ENTRY(run_waiter)	 entry;
	struct run_operation	*op;
	struct evhttp_request	*req;
	struct event		*timer;
};

struct run_operation {
	TAILQ_ENTRY(run_operation) entry;
	struct lc		*lc;
	char			 id[37];
	char			*name;
	json_t			*metadata;	/* Service at the start */
	int			 done;
	json_t			*response;	/* Service, when done and ok */
	json_t			*error;		/* google.rpc.Status */
	TAILQ_HEAD(, run_waiter) waiters;
};

struct run_deploy {
	struct run_service	*svc;
	struct run_revision	*rev;
	struct run_operation	*op;	/* NULL for a deploy after restart */
	json_t			*spec;	/* the spec being deployed */
};

/* The parts of a /v2/projects/P/locations/L/COLLECTION[/ID[:VERB]] path. */
struct run_path {
	char	project[64];
	char	location[64];
	char	collection[16];
	char	id[128];
	char	verb[32];
	int	has_id;
};

static void	run_operation_finish(struct run_operation *, json_t *response,
		    int code, const char *message);

static void
now_text(char *buf, size_t size)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (lc_format_time(&ts, buf, size) == -1)
		snprintf(buf, size, "1970-01-01T00:00:00Z");
}

/* Accepts a project or location id: lowercase letters, digits, hyphens. */
static int
id_ok(const char *s, int allow_dash_alone)
{
	size_t i;

	if (allow_dash_alone && strcmp(s, "-") == 0)
		return 1;
	if (*s == '\0')
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '-')
			return 0;
	return 1;
}

int
run_service_id_ok(const char *id)
{
	size_t i, len = strlen(id);

	if (len == 0 || len > RUN_SERVICE_ID_MAX || !islower((unsigned char)
	    id[0]) || id[len - 1] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!islower((unsigned char)id[i]) &&
		    !isdigit((unsigned char)id[i]) && id[i] != '-')
			return 0;
	return 1;
}

/* Copies the segment at *p up to the next '/' (or the end) into out. */
static int
path_segment(const char **p, char *out, size_t size)
{
	size_t n = strcspn(*p, "/");

	if (n == 0 || n >= size)
		return -1;
	memcpy(out, *p, n);
	out[n] = '\0';
	*p += n;
	if (**p == '/')
		(*p)++;
	return 0;
}

/* Splits a Run path; returns 0 when it is one, -1 otherwise. */
static int
run_path_parse(const char *path, struct run_path *rp)
{
	const char *p = path;
	char *colon;

	memset(rp, 0, sizeof(*rp));
	if (strncmp(p, "/v2/projects/", 13) != 0)
		return -1;
	p += 13;
	if (path_segment(&p, rp->project, sizeof(rp->project)) == -1 ||
	    strncmp(p, "locations/", 10) != 0)
		return -1;
	p += 10;
	if (path_segment(&p, rp->location, sizeof(rp->location)) == -1 ||
	    path_segment(&p, rp->collection, sizeof(rp->collection)) == -1)
		return -1;
	if (strcmp(rp->collection, "services") != 0 &&
	    strcmp(rp->collection, "operations") != 0)
		return -1;
	if (*p == '\0')
		return 0;
	if (strchr(p, '/') != NULL || strlen(p) >= sizeof(rp->id))
		return -1;
	memcpy(rp->id, p, strlen(p) + 1);
	if ((colon = strchr(rp->id, ':')) != NULL) {
		*colon = '\0';
		if (strlen(colon + 1) >= sizeof(rp->verb))
			return -1;
		memcpy(rp->verb, colon + 1, strlen(colon + 1) + 1);
	}
	rp->has_id = 1;
	return 0;
}

/* Reads a boolean query parameter ("true"/"false"). */
static int
query_bool(const char *query, const char *key)
{
	char *v = lc_query_get(query, key);
	int on = v != NULL && strcmp(v, "true") == 0;

	free(v);
	return on;
}

struct run_service *
run_service_find(struct lc *lc, const char *name)
{
	struct run_state *rs = lc->run;
	struct run_service *svc;

	TAILQ_FOREACH(svc, &rs->services, entry)
		if (strcmp(svc->name, name) == 0)
			return svc;
	return NULL;
}

/* Returns the service URL: https (or http with --plain-http) and its
 * data plane port. */
void
run_service_uri(const struct run_service *svc, char *buf, size_t size)
{
	snprintf(buf, size, "%s://127.0.0.1:%u", svc->lc->tls ? "https" :
	    "http", svc->port);
}

/* Builds the Ready condition from the service's state. */
static json_t *
condition_json(const struct run_service *svc, const char *type)
{
	json_t *c;

	c = json_pack("{s:s,s:s,s:s}", "type", type, "state", svc->cond_state,
	    "lastTransitionTime", svc->cond_time);
	if (c == NULL)
		return NULL;
	if (svc->cond_message != NULL)
		json_object_set_new(c, "message",
		    json_string(svc->cond_message));
	if (svc->cond_reason != NULL)
		json_object_set_new(c, "reason", json_string(svc->cond_reason));
	if (strcmp(svc->cond_state, "CONDITION_FAILED") == 0)
		json_object_set_new(c, "severity", json_string("ERROR"));
	return c;
}

/* Fills the defaults Cloud Run reports for fields the client left out. */
static void
template_defaults(json_t *out)
{
	json_t *tmpl = json_object_get(out, "template"), *scaling;

	if (!json_is_object(tmpl))
		return;
	if (json_object_get(tmpl, "maxInstanceRequestConcurrency") == NULL) {
		const char *cpu = json_string_value(json_object_get(
		    json_object_get(json_object_get(json_array_get(
		    json_object_get(tmpl, "containers"), 0), "resources"),
		    "limits"), "cpu"));
		unsigned long millis = 1000;

		if (cpu != NULL)
			(void)revision_parse_cpu(cpu, &millis);
		json_object_set_new(tmpl, "maxInstanceRequestConcurrency",
		    json_integer(millis < 1000 ? 1 : 80));
	}
	if (json_object_get(tmpl, "timeout") == NULL)
		json_object_set_new(tmpl, "timeout", json_string("300s"));
	scaling = json_object_get(tmpl, "scaling");
	if (scaling == NULL) {
		scaling = json_object();
		json_object_set_new(tmpl, "scaling", scaling);
	}
	if (json_is_object(scaling) &&
	    json_object_get(scaling, "maxInstanceCount") == NULL)
		json_object_set_new(scaling, "maxInstanceCount",
		    json_integer(100));
}

json_t *
run_service_json(const struct run_service *svc)
{
	json_t *out, *conds;
	char uri[LC_URL_MAX], text[RUN_NAME_MAX + 64];
	int ready;

	if ((out = json_deep_copy(svc->spec)) == NULL)
		return NULL;
	template_defaults(out);
	json_object_set_new(out, "name", json_string(svc->name));
	json_object_set_new(out, "uid", json_string(svc->uid));
	snprintf(text, sizeof(text), "%lu", svc->generation);
	json_object_set_new(out, "generation", json_string(text));
	snprintf(text, sizeof(text), "\"%lu\"", svc->generation);
	json_object_set_new(out, "etag", json_string(text));
	json_object_set_new(out, "createTime", json_string(svc->create_time));
	json_object_set_new(out, "updateTime", json_string(svc->update_time));
	json_object_set_new(out, "creator", json_string("localcloud"));
	json_object_set_new(out, "lastModifier", json_string("localcloud"));
	if (json_object_get(out, "ingress") == NULL)
		json_object_set_new(out, "ingress",
		    json_string("INGRESS_TRAFFIC_ALL"));
	if (json_object_get(out, "launchStage") == NULL)
		json_object_set_new(out, "launchStage", json_string("GA"));
	if (json_object_get(out, "traffic") == NULL)
		json_object_set_new(out, "traffic", json_pack("[{s:s,s:i}]",
		    "type", "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST",
		    "percent", 100));
	if (svc->observed_generation > 0) {
		snprintf(text, sizeof(text), "%lu", svc->observed_generation);
		json_object_set_new(out, "observedGeneration",
		    json_string(text));
	}
	json_object_set_new(out, "terminalCondition",
	    condition_json(svc, "Ready"));
	conds = json_array();
	json_array_append_new(conds, condition_json(svc, "Ready"));
	json_array_append_new(conds, condition_json(svc,
	    "ConfigurationsReady"));
	json_array_append_new(conds, condition_json(svc, "RoutesReady"));
	json_object_set_new(out, "conditions", conds);
	if (svc->latest_created != NULL) {
		snprintf(text, sizeof(text), "%s/revisions/%s", svc->name,
		    svc->latest_created);
		json_object_set_new(out, "latestCreatedRevision",
		    json_string(text));
	}

	/* Serving fields are set once a revision is ready. */
	ready = svc->latest_ready != NULL;
	if (ready) {
		snprintf(text, sizeof(text), "%s/revisions/%s", svc->name,
		    svc->latest_ready);
		json_object_set_new(out, "latestReadyRevision",
		    json_string(text));
		run_service_uri(svc, uri, sizeof(uri));
		json_object_set_new(out, "uri", json_string(uri));
		json_object_set_new(out, "urls", json_pack("[s]", uri));
		json_object_set_new(out, "trafficStatuses",
		    json_pack("[{s:s,s:i}]", "type",
		    "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST", "percent", 100));
	}
	if (strcmp(svc->cond_state, "CONDITION_RECONCILING") == 0 ||
	    strcmp(svc->cond_state, "CONDITION_PENDING") == 0)
		json_object_set_new(out, "reconciling", json_true());
	return out;
}

/* The Service as an Any: "@type" first, then its fields. */
static json_t *
service_any(const struct run_service *svc)
{
	json_t *any, *body;

	if ((body = run_service_json(svc)) == NULL)
		return NULL;
	if ((any = json_pack("{s:s}", "@type", RUN_SERVICE_TYPE)) == NULL ||
	    json_object_update(any, body) == -1) {
		json_decref(any);
		json_decref(body);
		return NULL;
	}
	json_decref(body);
	return any;
}

static json_t *
operation_json(const struct run_operation *op)
{
	json_t *out;

	out = json_pack("{s:s}", "name", op->name);
	if (out == NULL)
		return NULL;
	if (op->metadata != NULL)
		json_object_set(out, "metadata", op->metadata);
	if (op->done) {
		json_object_set_new(out, "done", json_true());
		if (op->error != NULL)
			json_object_set(out, "error", op->error);
		else if (op->response != NULL)
			json_object_set(out, "response", op->response);
	}
	return out;
}

static void
run_operation_free(struct run_operation *op)
{
	json_decref(op->metadata);
	json_decref(op->response);
	json_decref(op->error);
	free(op->name);
	free(op);
}

/* Drops the oldest finished operations beyond RUN_OPERATIONS_MAX. */
static void
run_operations_trim(struct run_state *rs)
{
	struct run_operation *op, *next;

	for (op = TAILQ_FIRST(&rs->operations);
	    op != NULL && rs->noperations > RUN_OPERATIONS_MAX; op = next) {
		next = TAILQ_NEXT(op, entry);
		if (!op->done || !TAILQ_EMPTY(&op->waiters))
			continue;
		TAILQ_REMOVE(&rs->operations, op, entry);
		rs->noperations--;
		run_operation_free(op);
	}
}

/* Starts an operation on svc, with the Service as its metadata. */
static struct run_operation *
run_operation_new(struct run_service *svc)
{
	struct run_state *rs = svc->lc->run;
	struct run_operation *op;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return NULL;
	op->lc = svc->lc;
	lc_uuid(op->id);
	if (asprintf(&op->name, "projects/%s/locations/%s/operations/%s",
	    svc->project, svc->location, op->id) == -1) {
		free(op);
		return NULL;
	}
	op->metadata = service_any(svc);
	TAILQ_INIT(&op->waiters);
	TAILQ_INSERT_TAIL(&rs->operations, op, entry);
	rs->noperations++;
	run_operations_trim(rs);
	return op;
}

static void
waiter_free(struct run_waiter *w)
{
	TAILQ_REMOVE(&w->op->waiters, w, entry);
	event_free(w->timer);
	free(w);
}

/* Replies to a waiting operations.wait with the operation as it is. */
static void
waiter_reply(struct run_waiter *w)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(w->req);

	if (conn != NULL)
		evhttp_connection_set_closecb(conn, NULL, NULL);
	lc_reply_json(w->req, 200, operation_json(w->op));
	waiter_free(w);
}

static void
on_waiter_timeout(evutil_socket_t fd, short events, void *arg)
{
	waiter_reply(arg);
}

/* The client of a waiting operations.wait went away; evhttp frees the
 * request after this returns. */
static void
on_waiter_closed(struct evhttp_connection *conn, void *arg)
{
	waiter_free(arg);
}

static void
run_operation_finish(struct run_operation *op, json_t *response, int code,
    const char *message)
{
	struct run_waiter *w;

	if (op == NULL) {
		json_decref(response);
		return;
	}
	op->done = 1;
	if (message != NULL) {
		op->error = json_pack("{s:i,s:s}", "code", code, "message",
		    message);
		json_decref(response);
	} else {
		op->response = response;
	}
	while ((w = TAILQ_FIRST(&op->waiters)) != NULL)
		waiter_reply(w);
}

/* Sets the Ready condition and its transition time. */
static void
set_condition(struct run_service *svc, const char *state, const char *reason,
    const char *message)
{
	free(svc->cond_reason);
	free(svc->cond_message);
	svc->cond_reason = reason != NULL ? strdup(reason) : NULL;
	svc->cond_message = message != NULL ? strdup(message) : NULL;
	svc->cond_state = state;
	now_text(svc->cond_time, sizeof(svc->cond_time));
}

static void
deploy_free(struct run_deploy *d)
{
	run_revision_unref(d->rev);
	json_decref(d->spec);
	free(d);
}

/* Ends the deploy in progress with an error, for a newer deploy or a
 * delete. */
static void
deploy_abort(struct run_service *svc, const char *why)
{
	struct run_deploy *d = svc->deploy;

	if (d == NULL)
		return;
	dataplane_cancel_probe(svc, d);
	svc->deploy = NULL;
	run_operation_finish(d->op, NULL, RPC_ABORTED, why);
	deploy_free(d);
}

/* Completes a deploy when its first instance listens or fails. */
static void
on_probe_done(void *arg, int ok, const char *reason, const char *message)
{
	struct run_deploy *d = arg;
	struct run_service *svc = d->svc;
	char msg[1024];

	svc->deploy = NULL;
	svc->observed_generation = svc->generation;
	if (ok) {
		dataplane_serve(svc, d->rev);
		free(svc->latest_ready);
		svc->latest_ready = strdup(d->rev->name);
		json_decref(svc->ready_spec);
		svc->ready_spec = json_incref(d->spec);
		set_condition(svc, "CONDITION_SUCCEEDED", NULL, NULL);
		log_info("service %s: revision %s is ready at port %u",
		    svc->name, d->rev->name, svc->port);
	} else {
		/* d->rev is NULL when the image did not resolve. */
		snprintf(msg, sizeof(msg), "Revision '%s' is not ready and "
		    "cannot serve traffic. %s", svc->latest_created, message);
		set_condition(svc, "CONDITION_FAILED", reason, msg);
		log_warnx("service %s: revision %s failed: %s", svc->name,
		    svc->latest_created, message);
	}
	if (runstore_save(svc) == -1)
		log_warnx("service %s: the change is not saved", svc->name);
	if (ok)
		run_operation_finish(d->op, service_any(svc), 0, NULL);
	else
		run_operation_finish(d->op, NULL, RPC_FAILED_PRECONDITION,
		    svc->cond_message);
	deploy_free(d);
}

/* Makes a revision name "ID-NNNNN-xyz" like Cloud Run's generated ones. */
static char *
revision_name(struct run_service *svc)
{
	const char *given;
	unsigned char r[3];
	char *name;
	int i;

	svc->revision_seq++;
	given = json_string_value(json_object_get(json_object_get(svc->spec,
	    "template"), "revision"));
	if (given != NULL && *given != '\0')
		return strdup(given);
	if (RAND_bytes(r, sizeof(r)) != 1)
		fatalx("the OpenSSL random generator failed");
	for (i = 0; i < 3; i++)
		r[i] = (unsigned char)('a' + r[i] % 26);
	if (asprintf(&name, "%s-%05lu-%c%c%c", svc->id, svc->revision_seq,
	    r[0], r[1], r[2]) == -1)
		return NULL;
	return name;
}

/*
 * Starts a deploy of svc->spec as a new revision: resolve the image, then
 * start one instance and wait for it to listen. op (may be NULL) finishes
 * when the revision is ready or has failed.
 */
static void
run_deploy_start(struct run_service *svc, struct run_operation *op)
{
	struct run_deploy *d = NULL;
	char reason[64], msg[1024];
	char *name;

	deploy_abort(svc, "Superseded by a newer change of the service.");
	if ((name = revision_name(svc)) == NULL)
		goto nomem;
	free(svc->latest_created);
	svc->latest_created = name;
	set_condition(svc, "CONDITION_RECONCILING", NULL, NULL);

	if ((d = calloc(1, sizeof(*d))) == NULL)
		goto nomem;
	d->svc = svc;
	d->op = op;
	d->spec = json_incref(svc->spec);
	d->rev = revision_build(svc->lc, svc->spec, name, reason,
	    sizeof(reason), msg, sizeof(msg));
	if (d->rev == NULL) {
		svc->deploy = d;
		on_probe_done(d, 0, reason, msg);
		return;
	}
	svc->deploy = d;
	if (dataplane_probe(svc, d->rev, on_probe_done, d, msg,
	    sizeof(msg)) == -1)
		on_probe_done(d, 0, "REVISION_FAILED", msg);
	return;

nomem:
	free(d);
	set_condition(svc, "CONDITION_FAILED", "INTERNAL",
	    "Out of memory starting the deploy.");
	run_operation_finish(op, NULL, RPC_INTERNAL,
	    "Out of memory starting the deploy.");
}

/* Removes the output-only fields a client may send back from a GET. */
static void
strip_output_fields(json_t *spec)
{
	static const char *const fields[] = { "name", "uid", "generation",
	    "createTime", "updateTime", "deleteTime", "expireTime", "creator",
	    "lastModifier", "observedGeneration", "terminalCondition",
	    "conditions", "latestReadyRevision", "latestCreatedRevision",
	    "trafficStatuses", "uri", "urls", "reconciling", "etag",
	    "satisfiesPzs", NULL };
	int i;

	for (i = 0; fields[i] != NULL; i++)
		json_object_del(spec, fields[i]);
}

struct run_service *
run_service_new(struct lc *lc, const char *project, const char *location,
    const char *id, json_t *spec)
{
	struct run_service *svc;

	if ((svc = calloc(1, sizeof(*svc))) == NULL)
		return NULL;
	svc->lc = lc;
	TAILQ_INIT(&svc->instances);
	TAILQ_INIT(&svc->conns);
	svc->spec = json_incref(spec);
	invoker_update(svc);
	svc->cond_state = "CONDITION_PENDING";
	now_text(svc->cond_time, sizeof(svc->cond_time));
	if ((svc->project = strdup(project)) == NULL ||
	    (svc->location = strdup(location)) == NULL ||
	    (svc->id = strdup(id)) == NULL ||
	    asprintf(&svc->name, "projects/%s/locations/%s/services/%s",
	    project, location, id) == -1) {
		svc->name = NULL;
		run_service_free(svc);
		return NULL;
	}
	return svc;
}

void
run_service_free(struct run_service *svc)
{
	if (svc == NULL)
		return;
	json_decref(svc->spec);
	json_decref(svc->ready_spec);
	json_decref(svc->iam_policy);
	free(svc->latest_created);
	free(svc->latest_ready);
	free(svc->cond_reason);
	free(svc->cond_message);
	free(svc->name);
	free(svc->project);
	free(svc->location);
	free(svc->id);
	free(svc);
}

/* Replies 400 and returns 1 when the path names every location ("-"),
 * where no service can be created. */
static int
location_missing(struct evhttp_request *req, const struct run_path *rp)
{
	if (strcmp(rp->location, "-") != 0)
		return 0;
	lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
	    "A location is required to create a service.");
	return 1;
}

/* services.create: POST .../services?serviceId=ID with the Service. */
static void
service_create(struct lc *lc, struct evhttp_request *req,
    const struct run_path *rp, const char *query)
{
	struct run_state *rs = lc->run;
	struct run_service *svc = NULL;
	struct run_operation *op;
	json_t *body = NULL;
	char *id, err[512], name[RUN_NAME_MAX];

	if ((id = lc_query_get(query, "serviceId")) == NULL) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "The serviceId query parameter is required.");
		return;
	}
	if (!run_service_id_ok(id)) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Invalid serviceId '%.64s': it must begin with a letter, "
		    "contain only lowercase letters, digits and hyphens, not "
		    "end with a hyphen, and be fewer than 50 characters.", id);
		goto out;
	}
	if (location_missing(req, rp))
		goto out;
	if (lc_read_json(req, RUN_BODY_MAX, &body) == -1)
		goto out;
	strip_output_fields(body);
	if (revision_validate(body, err, sizeof(err)) == -1) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT", "%s", err);
		goto out;
	}
	snprintf(name, sizeof(name), "projects/%s/locations/%s/services/%s",
	    rp->project, rp->location, id);
	if (run_service_find(lc, name) != NULL) {
		lc_reply_google_error(req, 409, "ALREADY_EXISTS",
		    "Resource '%s' already exists.", id);
		goto out;
	}

	if ((svc = run_service_new(lc, rp->project, rp->location, id,
	    body)) == NULL)
		goto nomem;
	lc_uuid(svc->uid);
	now_text(svc->create_time, sizeof(svc->create_time));
	memcpy(svc->update_time, svc->create_time, sizeof(svc->update_time));
	svc->generation = 1;
	set_condition(svc, "CONDITION_RECONCILING", NULL, NULL);
	if (query_bool(query, "validateOnly")) {
		/* A validated request returns the Service it would create. */
		lc_reply_json(req, 200, json_pack("{s:s,s:b,s:o}", "name",
		    "", "done", 1, "response", service_any(svc)));
		run_service_free(svc);
		goto out;
	}
	if (dataplane_open(svc, 0) == -1) {
		lc_reply_google_error(req, 500, "INTERNAL",
		    "Cannot open a port for the service: %s.", strerror(errno));
		run_service_free(svc);
		goto out;
	}
	TAILQ_INSERT_TAIL(&rs->services, svc, entry);
	log_info("service %s created at port %u", svc->name, svc->port);
	if ((op = run_operation_new(svc)) == NULL) {
		/* The service exists; only its operation is missing. */
		run_deploy_start(svc, NULL);
		goto nomem;
	}
	run_deploy_start(svc, op);
	if (runstore_save(svc) == -1)
		log_warnx("service %s: the new service is not saved",
		    svc->name);
	lc_reply_json(req, 200, operation_json(op));
	goto out;

nomem:
	lc_reply_google_error(req, 500, "INTERNAL", "Out of memory.");
out:
	json_decref(body);
	free(id);
}

/* Applies a PATCH body to a copy of the spec, per the update mask (top
 * level fields only). */
static json_t *
patch_spec(const json_t *old, json_t *body, const char *mask)
{
	json_t *spec;
	const char *p, *end;
	char field[128];
	size_t n;

	if (mask == NULL || *mask == '\0' || strcmp(mask, "*") == 0)
		return json_incref(body);
	if ((spec = json_deep_copy(old)) == NULL)
		return NULL;
	for (p = mask; *p != '\0'; p = *end == ',' ? end + 1 : end) {
		end = p + strcspn(p, ",");
		n = strcspn(p, ".,");
		if (n == 0 || n >= sizeof(field))
			continue;
		memcpy(field, p, n);
		field[n] = '\0';
		if (json_object_get(body, field) != NULL)
			json_object_set(spec, field,
			    json_object_get(body, field));
		else
			json_object_del(spec, field);
	}
	return spec;
}

/* services.patch: a new generation, and a new revision when the template
 * changed. */
static void
service_patch(struct lc *lc, struct evhttp_request *req,
    const struct run_path *rp, const char *query, struct run_service *svc)
{
	struct run_operation *op;
	json_t *body = NULL, *spec = NULL;
	char err[512], *mask = NULL;
	int template_changed;

	if (lc_read_json(req, RUN_BODY_MAX, &body) == -1)
		return;
	strip_output_fields(body);
	mask = lc_query_get(query, "updateMask");
	if ((spec = patch_spec(svc != NULL ? svc->spec : body, body,
	    svc != NULL ? mask : NULL)) == NULL) {
		lc_reply_google_error(req, 500, "INTERNAL", "Out of memory.");
		goto out;
	}
	if (revision_validate(spec, err, sizeof(err)) == -1) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT", "%s", err);
		goto out;
	}
	if (query_bool(query, "validateOnly")) {
		lc_reply_json(req, 200, json_pack("{s:s,s:b}", "name", "",
		    "done", 1));
		goto out;
	}
	if (svc == NULL) {
		/* allowMissing=true: the patch creates the service. */
		if (!run_service_id_ok(rp->id)) {
			lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
			    "Invalid service id '%.64s'.", rp->id);
			goto out;
		}
		if (location_missing(req, rp))
			goto out;
		if ((svc = run_service_new(lc, rp->project, rp->location,
		    rp->id, spec)) == NULL) {
			lc_reply_google_error(req, 500, "INTERNAL",
			    "Out of memory.");
			goto out;
		}
		lc_uuid(svc->uid);
		now_text(svc->create_time, sizeof(svc->create_time));
		if (dataplane_open(svc, 0) == -1) {
			lc_reply_google_error(req, 500, "INTERNAL",
			    "Cannot open a port for the service: %s.",
			    strerror(errno));
			run_service_free(svc);
			goto out;
		}
		TAILQ_INSERT_TAIL(&((struct run_state *)lc->run)->services,
		    svc, entry);
		template_changed = 1;
	} else {
		template_changed = !json_equal(json_object_get(svc->spec,
		    "template"), json_object_get(spec, "template"));
		json_decref(svc->spec);
		svc->spec = json_incref(spec);
		invoker_update(svc);
	}
	svc->generation++;
	now_text(svc->update_time, sizeof(svc->update_time));
	if ((op = run_operation_new(svc)) == NULL) {
		lc_reply_google_error(req, 500, "INTERNAL", "Out of memory.");
		goto out;
	}
	if (template_changed || svc->latest_ready == NULL) {
		run_deploy_start(svc, op);
	} else {
		/* Nothing to redeploy: the serving revision stays. */
		deploy_abort(svc, "Superseded by a newer change of the "
		    "service.");
		svc->observed_generation = svc->generation;
		run_operation_finish(op, service_any(svc), 0, NULL);
	}
	if (runstore_save(svc) == -1)
		log_warnx("service %s: the change is not saved", svc->name);
	log_info("service %s patched to generation %lu", svc->name,
	    svc->generation);
	lc_reply_json(req, 200, operation_json(op));

out:
	free(mask);
	json_decref(spec);
	json_decref(body);
}

/* services.delete: stops serving at once and removes the service. */
static void
service_delete(struct lc *lc, struct evhttp_request *req, const char *query,
    struct run_service *svc)
{
	struct run_state *rs = lc->run;
	struct run_operation *op;
	json_t *any;
	char now[40];

	if (query_bool(query, "validateOnly")) {
		lc_reply_json(req, 200, json_pack("{s:s,s:b}", "name", "",
		    "done", 1));
		return;
	}
	deploy_abort(svc, "The service was deleted.");
	op = run_operation_new(svc);
	any = service_any(svc);
	now_text(now, sizeof(now));
	if (any != NULL)
		json_object_set_new(any, "deleteTime", json_string(now));
	run_operation_finish(op, any, 0, NULL);

	TAILQ_REMOVE(&rs->services, svc, entry);
	dataplane_close(svc);
	if (runstore_remove(svc) == -1)
		log_warnx("service %s: its saved state is not removed",
		    svc->name);
	log_info("service %s deleted", svc->name);
	if (op == NULL)
		lc_reply_google_error(req, 500, "INTERNAL", "Out of memory.");
	else
		lc_reply_json(req, 200, operation_json(op));
	run_service_free(svc);
}

static int
compare_names(const void *a, const void *b)
{
	const struct run_service *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

/* services.list: sorted by name; the page token is the last name sent. */
static void
service_list(struct lc *lc, struct evhttp_request *req,
    const struct run_path *rp, const char *query)
{
	struct run_state *rs = lc->run;
	struct run_service *svc, **all = NULL;
	json_t *out = NULL, *list;
	char *size_text, *token;
	size_t n = 0, i, sent = 0;
	unsigned long page = RUN_PAGE_SIZE_DEFAULT;
	char *end;

	size_text = lc_query_get(query, "pageSize");
	token = lc_query_get(query, "pageToken");
	if (size_text != NULL && *size_text != '\0') {
		errno = 0;
		page = strtoul(size_text, &end, 10);
		if (errno != 0 || *end != '\0' || *size_text == '-') {
			lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
			    "Invalid pageSize '%.32s'.", size_text);
			goto out;
		}
		if (page == 0)
			page = RUN_PAGE_SIZE_DEFAULT;
		if (page > RUN_PAGE_SIZE_MAX)
			page = RUN_PAGE_SIZE_MAX;
	}
	if (token != NULL && *token != '\0' && strncmp(token, "projects/",
	    9) != 0) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Invalid pageToken.");
		goto out;
	}

	TAILQ_FOREACH(svc, &rs->services, entry)
		n++;
	if (n > 0 && (all = calloc(n, sizeof(*all))) == NULL)
		goto nomem;
	n = 0;
	TAILQ_FOREACH(svc, &rs->services, entry) {
		if (strcmp(svc->project, rp->project) != 0 ||
		    (strcmp(rp->location, "-") != 0 &&
		    strcmp(svc->location, rp->location) != 0))
			continue;
		all[n++] = svc;
	}
	if (n > 0)
		qsort(all, n, sizeof(*all), compare_names);

	if ((out = json_object()) == NULL || (list = json_array()) == NULL)
		goto nomem;
	json_object_set_new(out, "services", list);
	for (i = 0; i < n; i++) {
		if (token != NULL && *token != '\0' &&
		    strcmp(all[i]->name, token) <= 0)
			continue;
		if (sent == page) {
			json_object_set_new(out, "nextPageToken",
			    json_string(all[i - 1]->name));
			break;
		}
		json_array_append_new(list, run_service_json(all[i]));
		sent++;
	}
	if (sent == 0)
		json_object_del(out, "services");
	lc_reply_json(req, 200, out);
	out = NULL;
	goto out;

nomem:
	lc_reply_google_error(req, 500, "INTERNAL", "Out of memory.");
out:
	json_decref(out);
	free(all);
	free(size_text);
	free(token);
}

/* getIamPolicy and setIamPolicy; the etag is the base64 of a counter. */
static void
service_iam(struct evhttp_request *req, const char *verb,
    struct run_service *svc)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	json_t *body = NULL, *policy;
	unsigned char raw[8];
	char etag[16];
	int i;

	if (strcmp(verb, "setIamPolicy") == 0 && method == EVHTTP_REQ_POST) {
		if (lc_read_json(req, RUN_BODY_MAX, &body) == -1)
			return;
		policy = json_object_get(body, "policy");
		if (!json_is_object(policy) || (json_object_get(policy,
		    "bindings") != NULL && !json_is_array(json_object_get(
		    policy, "bindings")))) {
			json_decref(body);
			lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
			    "The request needs a policy object with a bindings "
			    "list.");
			return;
		}
		json_decref(svc->iam_policy);
		svc->iam_policy = json_deep_copy(policy);
		invoker_update(svc);
		json_decref(body);
		svc->iam_version++;
		if (runstore_save(svc) == -1)
			log_warnx("service %s: the IAM policy is not saved",
			    svc->name);
	} else if (strcmp(verb, "getIamPolicy") != 0 ||
	    (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_POST)) {
		lc_reply_google_error(req, 404, "NOT_FOUND",
		    "Method %s :%s is not supported.", lc_method_name(method),
		    verb);
		return;
	}

	for (i = 0; i < 8; i++)
		raw[i] = (unsigned char)(svc->iam_version >> (56 - 8 * i));
	if (EVP_EncodeBlock((unsigned char *)etag, raw, sizeof(raw)) <= 0)
		etag[0] = '\0';
	policy = svc->iam_policy != NULL ? json_deep_copy(svc->iam_policy) :
	    json_object();
	if (policy != NULL) {
		json_object_set_new(policy, "etag", json_string(etag));
		if (json_object_get(policy, "version") == NULL)
			json_object_set_new(policy, "version", json_integer(1));
	}
	lc_reply_json(req, 200, policy);
}

/* Routes .../services and .../services/ID[:verb]. */
static void
route_services(struct lc *lc, struct evhttp_request *req,
    const struct run_path *rp, const char *query)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	struct run_service *svc;
	char name[RUN_NAME_MAX];

	if (!rp->has_id) {
		if (method == EVHTTP_REQ_POST)
			service_create(lc, req, rp, query);
		else if (method == EVHTTP_REQ_GET)
			service_list(lc, req, rp, query);
		else
			lc_reply_google_error(req, 404, "NOT_FOUND",
			    "Method %s is not supported on services.",
			    lc_method_name(method));
		return;
	}
	snprintf(name, sizeof(name), "projects/%s/locations/%s/services/%s",
	    rp->project, rp->location, rp->id);
	svc = run_service_find(lc, name);
	if (svc == NULL && !(method == EVHTTP_REQ_PATCH && *rp->verb == '\0' &&
	    query_bool(query, "allowMissing"))) {
		lc_reply_google_error(req, 404, "NOT_FOUND",
		    "Resource '%s' was not found", name);
		return;
	}
	if (*rp->verb != '\0') {
		service_iam(req, rp->verb, svc);
		return;
	}
	switch (method) {
	case EVHTTP_REQ_GET:
		lc_reply_json(req, 200, run_service_json(svc));
		break;
	case EVHTTP_REQ_PATCH:
		service_patch(lc, req, rp, query, svc);
		break;
	case EVHTTP_REQ_DELETE:
		service_delete(lc, req, query, svc);
		break;
	default:
		lc_reply_google_error(req, 404, "NOT_FOUND",
		    "Method %s is not supported on a service.",
		    lc_method_name(method));
	}
}

static struct run_operation *
operation_find(struct lc *lc, const char *name)
{
	struct run_state *rs = lc->run;
	struct run_operation *op;

	TAILQ_FOREACH(op, &rs->operations, entry)
		if (strcmp(op->name, name) == 0)
			return op;
	return NULL;
}

/* Parses a Duration such as "30s" or "1.5s" into whole seconds. */
static int
parse_duration(const char *text, long *seconds)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno != 0 || end == text || strcmp(end, "s") != 0 || v < 0 ||
	    v > 1e9)
		return -1;
	*seconds = (long)(v + 0.999);
	return 0;
}

/* operations.wait: replies when the operation is done or at the timeout. */
static void
operation_wait(struct lc *lc, struct evhttp_request *req,
    struct run_operation *op)
{
	struct evhttp_connection *conn;
	struct run_waiter *w;
	struct timeval tv;
	json_t *body;
	const json_t *t;
	long seconds = RUN_WAIT_DEFAULT;

	if (lc_read_json(req, RUN_BODY_MAX, &body) == -1)
		return;
	t = json_object_get(body, "timeout");
	if (t != NULL && (!json_is_string(t) ||
	    parse_duration(json_string_value(t), &seconds) == -1)) {
		json_decref(body);
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Invalid timeout: expected a duration such as \"30s\".");
		return;
	}
	json_decref(body);
	if (seconds > RUN_WAIT_MAX)
		seconds = RUN_WAIT_MAX;
	if (op->done || seconds == 0) {
		lc_reply_json(req, 200, operation_json(op));
		return;
	}

	if ((w = calloc(1, sizeof(*w))) == NULL ||
	    (w->timer = evtimer_new(lc->base, on_waiter_timeout, w)) == NULL) {
		free(w);
		lc_reply_google_error(req, 500, "INTERNAL", "Out of memory.");
		return;
	}
	w->op = op;
	w->req = req;
	TAILQ_INSERT_TAIL(&op->waiters, w, entry);
	tv.tv_sec = seconds;
	tv.tv_usec = 0;
	evtimer_add(w->timer, &tv);
	if ((conn = evhttp_request_get_connection(req)) != NULL)
		evhttp_connection_set_closecb(conn, on_waiter_closed, w);
}

/* Routes .../operations and .../operations/ID[:wait]. */
static void
route_operations(struct lc *lc, struct evhttp_request *req,
    const struct run_path *rp, const char *query)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	struct run_state *rs = lc->run;
	struct run_operation *op;
	struct run_service *svc;
	struct run_waiter *w;
	json_t *out, *list;
	char name[RUN_NAME_MAX];

	if (!rp->has_id) {
		if (method != EVHTTP_REQ_GET) {
			lc_reply_google_error(req, 404, "NOT_FOUND",
			    "Method %s is not supported on operations.",
			    lc_method_name(method));
			return;
		}
		snprintf(name, sizeof(name), "projects/%s/locations/%s/",
		    rp->project, rp->location);
		out = json_object();
		list = json_array();
		if (out == NULL || list == NULL) {
			json_decref(out);
			json_decref(list);
			lc_reply_google_error(req, 500, "INTERNAL",
			    "Out of memory.");
			return;
		}
		TAILQ_FOREACH(op, &rs->operations, entry) {
			if (strcmp(rp->location, "-") == 0 ?
			    strncmp(op->name, name, strlen("projects/") +
			    strlen(rp->project) + 1) != 0 :
			    strncmp(op->name, name, strlen(name)) != 0)
				continue;
			json_array_append_new(list, operation_json(op));
		}
		json_object_set_new(out, "operations", list);
		lc_reply_json(req, 200, out);
		return;
	}
	snprintf(name, sizeof(name), "projects/%s/locations/%s/operations/%s",
	    rp->project, rp->location, rp->id);
	if ((op = operation_find(lc, name)) == NULL) {
		lc_reply_google_error(req, 404, "NOT_FOUND",
		    "Operation '%s' was not found.", name);
		return;
	}
	if (strcmp(rp->verb, "wait") == 0 && method == EVHTTP_REQ_POST) {
		operation_wait(lc, req, op);
	} else if (*rp->verb != '\0') {
		lc_reply_google_error(req, 404, "NOT_FOUND",
		    "Method :%s is not supported on an operation.", rp->verb);
	} else if (method == EVHTTP_REQ_GET) {
		lc_reply_json(req, 200, operation_json(op));
	} else if (method == EVHTTP_REQ_DELETE) {
		/* Deleting an operation does not cancel its deploy, which
		 * then finishes with no operation to report to. */
		TAILQ_FOREACH(svc, &rs->services, entry)
			if (svc->deploy != NULL && svc->deploy->op == op)
				svc->deploy->op = NULL;
		while ((w = TAILQ_FIRST(&op->waiters)) != NULL)
			waiter_reply(w);
		TAILQ_REMOVE(&rs->operations, op, entry);
		rs->noperations--;
		run_operation_free(op);
		lc_reply_json(req, 200, json_object());
	} else {
		lc_reply_google_error(req, 404, "NOT_FOUND",
		    "Method %s is not supported on an operation.",
		    lc_method_name(method));
	}
}

static int
run_route(struct lc *lc, struct evhttp_request *req, const char *path,
    const char *query)
{
	struct run_path rp;

	if (run_path_parse(path, &rp) == -1)
		return 0;
	if (!id_ok(rp.project, 0) || !id_ok(rp.location, 1)) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "Invalid project or location in '%.256s'.", path);
		return 1;
	}
	if (strcmp(rp.collection, "services") == 0)
		route_services(lc, req, &rp, query);
	else
		route_operations(lc, req, &rp, query);
	return 1;
}

/* Brings back a saved service: its port and its serving revision. */
void
run_service_restore(struct run_service *svc, int was_reconciling)
{
	struct run_revision *rev;
	char reason[64], msg[1024];

	if (svc->latest_ready != NULL && svc->ready_spec != NULL) {
		rev = revision_build(svc->lc, svc->ready_spec,
		    svc->latest_ready, reason, sizeof(reason), msg,
		    sizeof(msg));
		if (rev != NULL) {
			dataplane_serve(svc, rev);
			run_revision_unref(rev);
		} else {
			log_warnx("service %s: revision %s cannot run: %s",
			    svc->name, svc->latest_ready, msg);
			set_condition(svc, "CONDITION_FAILED", reason, msg);
		}
	}
	if (was_reconciling)
		run_deploy_start(svc, NULL);
}

static int
run_init(struct lc *lc)
{
	struct run_state *rs;

	if ((rs = calloc(1, sizeof(*rs))) == NULL)
		return -1;
	TAILQ_INIT(&rs->services);
	TAILQ_INIT(&rs->operations);
	lc->run = rs;
	if (tls_init(lc) == -1 || dataplane_init(lc) == -1 ||
	    runstore_load(lc) == -1) {
		tls_shutdown(lc);
		free(rs);
		lc->run = NULL;
		return -1;
	}
	return 0;
}

static void
run_shutdown(struct lc *lc)
{
	struct run_state *rs = lc->run;
	struct run_service *svc;
	struct run_operation *op;
	struct run_waiter *w;

	if (rs == NULL)
		return;
	while ((svc = TAILQ_FIRST(&rs->services)) != NULL) {
		TAILQ_REMOVE(&rs->services, svc, entry);
		if (svc->deploy != NULL) {
			dataplane_cancel_probe(svc, svc->deploy);
			deploy_free(svc->deploy);
			svc->deploy = NULL;
		}
		dataplane_close(svc);
		run_service_free(svc);
	}
	dataplane_shutdown(lc);
	while ((op = TAILQ_FIRST(&rs->operations)) != NULL) {
		while ((w = TAILQ_FIRST(&op->waiters)) != NULL) {
			evhttp_connection_set_closecb(
			    evhttp_request_get_connection(w->req), NULL, NULL);
			waiter_free(w);
		}
		TAILQ_REMOVE(&rs->operations, op, entry);
		run_operation_free(op);
	}
	tls_shutdown(lc);
	free(rs);
	lc->run = NULL;
}

const struct lc_module run_module = {
	.name = "run",
	.init = run_init,
	.route = run_route,
	.shutdown = run_shutdown,
};

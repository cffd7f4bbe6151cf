/* One service's measurements: cold attempt, contract, warm requests. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "cold.h"
#include "contract.h"
#include "log.h"
#include "measure_int.h"
#include "peer.h"
#include "proto.h"
#include "settings.h"
#include "stats.h"
#include "timefmt.h"
#include "warm.h"

/* Bytes of one "Name: value" header line. */
#define SAMPLE_HEADER_LINE_MAX	(SERVICETYPE_HEADER_NAME_MAX + \
	SERVICETYPE_HEADER_VALUE_MAX + 4)
/* Bytes of the identity token's header line; Google's ID tokens take
 * about 1 KiB. */
#define SAMPLE_AUTH_LINE_MAX	8192
/* Bytes of a token buffer, NUL included: a token that fits leaves room in
 * the header line for the longest name, X-Serverless-Authorization. */
#define SAMPLE_TOKEN_SIZE	(SAMPLE_AUTH_LINE_MAX - 64)
/* Seconds an identity token must stay valid after the cold and contract
 * requests that carry it. */
#define SAMPLE_TOKEN_VALID_S	600
/* Maximum validity the warm phase requests, in seconds. Google's ID
 * tokens last an hour. */
#define SAMPLE_TOKEN_VALID_MAX_S	3300
/* The warm phase renews its token when it has less than this left, in
 * seconds. */
#define SAMPLE_TOKEN_RENEW_S	600
/* Seconds between rebuilds of the warm request: implementations reject a
 * signature more than 300 s old, and a renewed token must reach the
 * requests long before the old one expires. */
#define SAMPLE_WARM_REFRESH_S	10

struct sample_headers {
	char		 lines[SERVICETYPE_HEADERS_MAX][SAMPLE_HEADER_LINE_MAX];
	char		 auth[SAMPLE_AUTH_LINE_MAX];	/* "" with none */
	const char	*ptrs[SERVICETYPE_HEADERS_MAX + 1];
	size_t		 n;
};

static void
sample_header_lines(const struct servicetype_request *req,
    struct sample_headers *h)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		snprintf(h->lines[i], sizeof(h->lines[i]), "%s: %s",
		    req->headers[i].name, req->headers[i].value);
		h->ptrs[i] = h->lines[i];
	}
	h->n = req->nheaders;
}

/*
 * Asks deployd, which caches tokens, for an ID token valid for at least
 * valid_s more seconds. Its audience is the service's URL, as Cloud Run's
 * invoker check expects. Writes the token into buf and the seconds it has
 * left into *left (valid_s when deployd does not know). Returns 0, 1
 * when deployd answered with an error (the metadata server refused), or -1
 * when deployd did not answer, with err set.
 */
static int
sample_token(const char *url, long valid_s, char *buf, size_t size,
    long *left, char *err, size_t errlen)
{
	const char *token;
	json_t *body, *result = NULL, *v;
	int rc;

	if (valid_s > SAMPLE_TOKEN_VALID_MAX_S)
		valid_s = SAMPLE_TOKEN_VALID_MAX_S;
	body = json_pack("{s:s, s:I}", "audience", url != NULL ? url : "",
	    "min_valid_s", (json_int_t)valid_s);
	rc = peer_call("deployd", MSG_ID_TOKEN, body, 60000, &result, err,
	    errlen);
	json_decref(body);
	if (rc != 0) {
		json_decref(result);
		return rc;
	}
	token = json_string_value(json_object_get(result, "token"));
	if (token == NULL || strlen(token) >= size) {
		json_decref(result);
		snprintf(err, errlen, "the identity token is missing or longer "
		    "than the header allows");
		return 1;
	}
	memcpy(buf, token, strlen(token) + 1);
	v = json_object_get(result, "valid_s");
	*left = json_is_integer(v) && json_integer_value(v) >= 0 ?
	    (long)json_integer_value(v) : valid_s;
	json_decref(result);
	return 0;
}

/* The header that carries the token: a request (may be NULL) with an
 * Authorization of its own gets it in X-Serverless-Authorization, which
 * Cloud Run checks instead. */
static const char *
sample_auth_header(const struct servicetype_request *req)
{
	if (req != NULL && servicetype_request_header(req,
	    "Authorization") != NULL)
		return "X-Serverless-Authorization";
	return "Authorization";
}

/*
 * Gets an ID token for the service into buf, of SAMPLE_TOKEN_SIZE bytes,
 * valid for at least valid_s more seconds, and the seconds it has left
 * into *left. deployd may be restarting, so a failure to reach it is tried
 * up to tries times, 5 s apart. Returns -1, with the error recorded under
 * phase, when there is no token (or the job stops).
 */
static int
sample_get_token(struct measure_job *job, json_t *service, const char *phase,
    long valid_s, int tries, char *buf, long *left)
{
	char err[512];
	int rc, attempt;

	for (attempt = 1;; attempt++) {
		rc = sample_token(json_string_value(json_object_get(service,
		    "service_url")), valid_s, buf, SAMPLE_TOKEN_SIZE, left,
		    err, sizeof(err));
		if (rc != -1 || attempt >= tries)
			break;
		if (measure_sleep(job, 5) == -1)
			return -1;
	}
	if (rc == 0)
		return 0;
	/* Only a rejection by the metadata server suggests public
	 * services. A deployd that did not reply is a fault of the agent. */
	measure_error(job, service, phase, rc == -1 ? "cannot get an "
	    "identity token for the service: deployd did not reply" :
	    "cannot get an identity token for the service (set "
	    "PUBLIC_SERVICES=1 for services open to all)", err);
	return -1;
}

/*
 * Fills h->auth with the header that carries an ID token for the service,
 * valid for at least valid_s more seconds, or leaves it empty when
 * services are public. Returns -1, with the error recorded under phase,
 * when there is no token.
 */
static int
sample_auth(struct measure_job *job, json_t *service,
    const struct servicetype_request *req, const char *phase, long valid_s,
    struct sample_headers *h)
{
	char token[SAMPLE_TOKEN_SIZE];
	long left;

	h->auth[0] = '\0';
	if (settings_bool(CFG_PUBLIC_SERVICES))
		return 0;
	if (sample_get_token(job, service, phase, valid_s, 1, token,
	    &left) == -1)
		return -1;
	snprintf(h->auth, sizeof(h->auth), "%s: Bearer %s",
	    sample_auth_header(req), token);
	explicit_bzero(token, sizeof(token));
	return 0;
}

/* Fills h with the test request's header lines and, unless services are
 * public, the identity token's. */
static int
sample_headers(struct measure_job *job, json_t *service,
    const struct servicetype_request *req, const char *phase, long valid_s,
    struct sample_headers *h)
{
	if (sample_auth(job, service, req, phase, valid_s, h) == -1)
		return -1;
	sample_header_lines(req, h);
	if (h->auth[0] != '\0')
		h->ptrs[h->n++] = h->auth;
	return 0;
}

/* Wipes the token from the stack before the frame is left. */
static void
sample_headers_clear(struct sample_headers *h)
{
	explicit_bzero(h->auth, sizeof(h->auth));
}

static const char *
sample_name(json_t *service)
{
	const char *name = json_string_value(json_object_get(service,
	    "service_name"));

	return name != NULL ? name : "";
}

static const char *
sample_cafile(void)
{
	const char *ca = settings_str(CFG_CA_FILE);

	return ca[0] != '\0' ? ca : NULL;
}

/* Asks deployd for the instance count of a service and, with since >= 0,
 * the instances that served requests since then. *instances is -1 when
 * the window held no Monitoring sample at all. */
static int
sample_scale_state(const char *name, time_t since, long *instances,
    json_t **served, char *err, size_t errlen)
{
	json_t *body, *result = NULL;
	int rc;

	body = json_pack("{s:s}", "service_name", name);
	if (since >= 0)
		json_object_set_new(body, "since", json_integer(since));
	rc = peer_call("deployd", MSG_SCALE_STATE, body, 60000, &result, err,
	    errlen);
	json_decref(body);
	if (rc != 0) {
		json_decref(result);
		return -1;
	}
	*instances = json_is_false(json_object_get(result, "points")) ? -1 :
	    (long)json_integer_value(json_object_get(result, "instances"));
	if (served != NULL)
		*served = json_incref(json_object_get(result, "served"));
	json_decref(result);
	return 0;
}

/*
 * Returns the last time the service is known to have run an instance: when
 * its deploy made it ready, or the end of the agent's last request phase
 * on it, whichever is later; 0 when neither is recorded.
 */
static time_t
sample_last_activity(json_t *service, json_t *record)
{
	const char *when[2];
	time_t latest = 0, t;
	int i;

	when[0] = json_string_value(json_object_get(service, "deployed_at"));
	when[1] = json_string_value(json_object_get(record,
	    "last_request_at"));
	for (i = 0; i < 2; i++)
		if (when[i] != NULL && timefmt_parse(when[i], &t) == 0 &&
		    t > latest)
			latest = t;
	return latest;
}

/*
 * Waits until the service reports zero instances: 0 when it does, 1 when
 * it did not within the wait, -1 on error or stop. A window without any
 * Monitoring sample counts as zero only once the service has had no
 * activity for the whole window: the metric lags, so a new service or one
 * just called may have instances that no sample shows yet.
 */
static int
sample_wait_zero(struct measure_job *job, json_t *service, json_t *record,
    long *last, char *err, size_t errlen)
{
	long wait = settings_int(CFG_SCALE_WAIT), waited = 0;
	long interval = wait >= 120 ? 10 : 1;
	time_t active = sample_last_activity(service, record);

	for (;;) {
		if (sample_scale_state(sample_name(service), -1, last, NULL,
		    err, errlen) == -1)
			return -1;
		if (*last == 0 || (*last == -1 && time(NULL) - active >
		    settings_int(CFG_SCALE_WINDOW))) {
			*last = 0;
			return 0;
		}
		if (waited >= wait)
			return 1;
		if (measure_sleep(job, interval) == -1) {
			snprintf(err, errlen, "stopped");
			return -1;
		}
		waited += interval;
	}
}

static json_t *
sample_attempt(struct measure_job *job, const char *outcome)
{
	return json_pack("{s:I, s:s, s:o}", "round", (json_int_t)job->round,
	    "outcome", outcome, "at", measure_now_json());
}

static json_t *
sample_phases(const struct cold_result *res)
{
	const struct cold_phases *p = &res->phases;

	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}",
	    "dns_ms", p->dns_ns < 0 ? json_null() : stats_ms_json(p->dns_ns),
	    "tcp_connect_ms", p->tcp_connect_ns < 0 ? json_null() :
	    stats_ms_json(p->tcp_connect_ns),
	    "tls_ms", p->tls_ns < 0 ? json_null() : stats_ms_json(p->tls_ns),
	    "request_sent_ms", p->request_sent_ns < 0 ? json_null() :
	    stats_ms_json(p->request_sent_ns),
	    "first_byte_ms", p->first_byte_ns < 0 ? json_null() :
	    stats_ms_json(p->first_byte_ns),
	    "total_ms", p->total_ns < 0 ? json_null() :
	    stats_ms_json(p->total_ns));
}

/* Returns the first instance id of ids that is not in seen, or NULL. */
static json_t *
sample_new_instance(json_t *ids, json_t *seen)
{
	json_t *id, *have;
	size_t i, j;

	json_array_foreach(ids, i, id) {
		json_array_foreach(seen, j, have)
			if (json_equal(have, id))
				break;
		if (j == json_array_size(seen))
			return id;
	}
	return NULL;
}

/*
 * Looks up the instance that served the sample in the request log: a cold
 * sample is one served by an instance not seen before. The log may still
 * hold the previous round's requests of the same second, and the sample's
 * own entry may appear late, so this polls until a new id shows up or the
 * wait is over.
 */
static json_t *
sample_confirm(struct measure_job *job, json_t *service, json_t *record,
    time_t since, json_t *attempt)
{
	json_t *served = NULL, *entry, *ids = NULL, *fresh = NULL;
	long instances, waited, limit = MEASURE_LOG_WAIT_S;
	char err[512];
	size_t i;

	if (settings_bool(CFG_LOCAL) && limit > 10)
		limit = 10;
	for (waited = 0; ; waited++) {
		if (sample_scale_state(sample_name(service), since, &instances,
		    &served, err, sizeof(err)) == 0) {
			json_decref(ids);
			ids = json_array();
			json_array_foreach(served, i, entry)
				json_array_append(ids, json_object_get(entry,
				    "instance_id"));
			json_decref(served);
			served = NULL;
			fresh = sample_new_instance(ids, json_object_get(record,
			    "seen_instances"));
		}
		if (fresh != NULL || waited >= limit ||
		    measure_sleep(job, 1) == -1)
			break;
	}
	if (ids == NULL)
		ids = json_array();
	json_object_set_new(attempt, "instances", ids);
	if (fresh != NULL) {
		json_object_set(attempt, "instance_id", fresh);
		json_object_set_new(attempt, "outcome", json_string("sample"));
		return attempt;
	}
	json_object_set_new(attempt, "outcome", json_string(
	    json_array_size(ids) == 0 ? "unconfirmed" : "not_cold"));
	measure_error(job, service, "cold_start", json_array_size(ids) == 0 ?
	    "no request log entry names the instance that served the cold "
	    "sample; sample discarded and retried" : "the cold sample was "
	    "served by an instance that served earlier requests; sample "
	    "discarded and retried", NULL);
	return attempt;
}

json_t *
measure_cold(struct measure_job *job, json_t *service, json_t *record)
{
	struct servicetype_request req;
	struct servicetype_response resp;
	struct sample_headers headers;
	struct cold_request creq;
	struct cold_result res;
	char url[CONTRACT_URL_MAX + SERVICETYPE_PATH_MAX], err[512], why[256];
	json_t *attempt;
	long instances;
	time_t since;
	int rc;

	rc = sample_wait_zero(job, service, record, &instances, err,
	    sizeof(err));
	if (rc == -1 && (*job->stop || job->lost))
		return NULL;
	if (rc != 0) {
		if (instances == -1)
			snprintf(why, sizeof(why), "no instance count sample "
			    "after %ld s, and the service was active less than "
			    "%ld s ago", settings_int(CFG_SCALE_WAIT),
			    settings_int(CFG_SCALE_WINDOW));
		else
			snprintf(why, sizeof(why), "%ld instances after %ld s",
			    instances, settings_int(CFG_SCALE_WAIT));
		measure_error(job, service, "scale_to_zero", rc == 1 ?
		    "service did not scale to zero" : "cannot read the instance "
		    "count", rc == 1 ? why : err);
		return sample_attempt(job, rc == 1 ? "not_zero" : "error");
	}

	if (job->type->test_request(job->type_state, time(NULL), &req) == -1) {
		measure_error(job, service, "internal", "cannot build the test "
		    "request", NULL);
		return sample_attempt(job, "error");
	}
	if (sample_headers(job, service, &req, "cold_start",
	    SAMPLE_TOKEN_VALID_S, &headers) == -1)
		return sample_attempt(job, "error");
	snprintf(url, sizeof(url), "%s%s", json_string_value(json_object_get(
	    service, "service_url")), req.path);
	memset(&creq, 0, sizeof(creq));
	creq.method = req.method;
	creq.url = url;
	creq.headers = headers.ptrs;
	creq.nheaders = headers.n;
	creq.body = req.body;
	creq.body_len = req.body_len;
	creq.cafile = sample_cafile();
	creq.timeout_ns = (int64_t)MEASURE_COLD_TIMEOUT_MS * 1000000;
	creq.expect_status = 200;
	creq.stop = job->stop;

	/* A second of slack: log timestamps and our clock may differ. */
	since = time(NULL) - 1;
	rc = cold_sample(&creq, &res);
	sample_headers_clear(&headers);
	if (*job->stop) {
		/* Not an attempt: the next /measure takes it again. */
		cold_result_free(&res);
		return NULL;
	}
	attempt = sample_attempt(job, "error");
	json_object_set_new(attempt, "status", json_integer(res.status));
	if ((res.status == 401 || res.status == 403) &&
	    strncasecmp(res.content_type, "text/html", 9) == 0) {
		/* Cloud Run's invoker check replies with an HTML page, and
		 * every later attempt would get the same response. An
		 * implementation's own 401 is a contract failure, retried. */
		json_object_set_new(attempt, "outcome", json_string("denied"));
		snprintf(why, sizeof(why), "HTTP %ld: the agent's service "
		    "account needs the Cloud Run invoker role on the service, "
		    "or PUBLIC_SERVICES must match how the run was deployed",
		    (long)res.status);
		measure_error(job, service, "cold_start", "the service refused "
		    "the agent's request; no more cold attempts", why);
		cold_result_free(&res);
		return attempt;
	}
	if (rc == -1 || !res.ok) {
		json_object_set_new(attempt, "error_kind", json_string(
		    stats_error_kind_name(res.error_kind)));
		measure_error(job, service, "cold_start", "cold request failed",
		    res.error);
		cold_result_free(&res);
		return attempt;
	}
	resp.status = (int)res.status;
	resp.content_type = res.content_type[0] != '\0' ? res.content_type :
	    NULL;
	resp.content_type_len = strlen(res.content_type);
	resp.body = (const unsigned char *)res.body;
	resp.body_len = res.body_len;
	if (job->type->check_response(job->type_state, &resp, why,
	    sizeof(why)) == -1) {
		json_object_set_new(attempt, "error_kind",
		    json_string("contract"));
		measure_error(job, service, "cold_start", "the cold response "
		    "fails the contract", why);
		cold_result_free(&res);
		return attempt;
	}
	json_object_set_new(attempt, "total_ns", json_integer(
	    res.client_total_ns));
	json_object_set_new(attempt, "total_ms", stats_ms_json(
	    res.client_total_ns));
	json_object_set_new(attempt, "phases", sample_phases(&res));
	cold_result_free(&res);
	return sample_confirm(job, service, record, since, attempt);
}

json_t *
measure_contract(struct measure_job *job, json_t *service)
{
	struct contract_options opts;
	struct sample_headers headers;
	json_t *report, *failure;
	char err[512], message[128], *details;
	size_t i, len = 0, cap = 2048;
	double compliance;

	memset(&opts, 0, sizeof(opts));
	opts.base_url = json_string_value(json_object_get(service,
	    "service_url"));
	opts.cafile = sample_cafile();
	if (sample_auth(job, service, NULL, "contract_validation",
	    SAMPLE_TOKEN_VALID_S, &headers) == -1)
		return json_pack("{s:f, s:s}", "contract_compliance", 0.0,
		    "error", "no identity token for the service");
	opts.extra_header = headers.auth[0] != '\0' ? headers.auth : NULL;
	opts.stop = job->stop;
	report = contract_run(job->type, job->type_state, job->vectors, &opts,
	    err, sizeof(err));
	sample_headers_clear(&headers);
	if (report == NULL && *job->stop)
		return NULL;
	if (report == NULL) {
		measure_error(job, service, "contract_validation", "cannot run "
		    "the contract tests", err);
		return json_pack("{s:f, s:s}", "contract_compliance", 0.0,
		    "error", err);
	}
	json_object_del(report, "results");
	compliance = json_number_value(json_object_get(report,
	    "contract_compliance"));
	if (compliance >= 100.0)
		return report;

	/* Names every failing vector with its reason. */
	if ((details = malloc(cap)) == NULL)
		return report;
	details[0] = '\0';
	json_array_foreach(json_object_get(report, "failures"), i, failure) {
		const char *name = json_string_value(json_object_get(failure,
		    "name"));
		const char *reason = json_string_value(json_object_get(failure,
		    "reason"));
		int n = snprintf(details + len, cap - len, "%s%s: %s",
		    i > 0 ? "; " : "", name ? name : "?", reason ? reason : "?");

		if (n < 0 || (size_t)n >= cap - len)
			break;
		len += (size_t)n;
	}
	snprintf(message, sizeof(message), "%lld of %lld contract tests failed",
	    (long long)json_integer_value(json_object_get(report, "failed")),
	    (long long)json_integer_value(json_object_get(report, "counted")));
	measure_error(job, service, "contract_validation", message, details);
	free(details);
	return report;
}

/* Returns the seconds the warm phase's first identity token should last:
 * an open loop's duration plus a request timeout and a minute, a closed
 * loop's (not known in advance) the maximum. The token is renewed during
 * the phase when it runs longer. */
static long
sample_warm_seconds(json_t *bc)
{
	const char *mode = json_string_value(json_object_get(bc, "warm_mode"));
	double seconds;

	if (mode == NULL || strcmp(mode, "open") != 0)
		return SAMPLE_TOKEN_VALID_MAX_S;
	seconds = json_number_value(json_object_get(bc, "warm_duration_s")) +
	    MEASURE_WARM_TIMEOUT_MS / 1000.0 + 60;
	return seconds > SAMPLE_TOKEN_VALID_MAX_S ? SAMPLE_TOKEN_VALID_MAX_S :
	    (long)seconds;
}

/*
 * A renewal of the warm phase's token, on a detached thread so that
 * neither the engine's loop nor the end of the phase waits for deployd,
 * which may take a minute to reply. The phase and the thread each hold a
 * reference; the last to let go frees it.
 */
struct sample_renewal {
	pthread_mutex_t	 lock;
	int		 refs;
	int		 done;
	int		 ok;
	char		 url[CONTRACT_URL_MAX];
	char		 token[SAMPLE_TOKEN_SIZE];
	long		 left;		/* seconds the token has left */
	char		 err[512];
};

static void
sample_renewal_release(struct sample_renewal *r)
{
	int last;

	pthread_mutex_lock(&r->lock);
	last = --r->refs == 0;
	pthread_mutex_unlock(&r->lock);
	if (!last)
		return;
	explicit_bzero(r->token, sizeof(r->token));
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static void *
sample_renewal_run(void *arg)
{
	struct sample_renewal *r = arg;
	char token[SAMPLE_TOKEN_SIZE], err[512];
	long left = 0;
	int ok;

	ok = sample_token(r->url, SAMPLE_TOKEN_VALID_MAX_S, token,
	    sizeof(token), &left, err, sizeof(err)) == 0;
	pthread_mutex_lock(&r->lock);
	if (ok)
		memcpy(r->token, token, sizeof(token));
	else
		memcpy(r->err, err, sizeof(err));
	r->left = left;
	r->ok = ok;
	r->done = 1;
	pthread_mutex_unlock(&r->lock);
	explicit_bzero(token, sizeof(token));
	sample_renewal_release(r);
	return NULL;
}

/*
 * The warm phase's request, rebuilt every SAMPLE_WARM_REFRESH_S by the
 * engine: a signed request carries its time, which implementations accept
 * for 300 s, and the ID token expires after an hour while a phase may run
 * longer. Every field is used on the measurement thread only.
 */
struct sample_warm {
	struct measure_job	*job;
	json_t			*service;
	char			 url[CONTRACT_URL_MAX];	/* without the path */
	struct warm_request	*built;	/* every request handed out */
	size_t			 nbuilt;
	size_t			 cap;
	char			 token[SAMPLE_TOKEN_SIZE];	/* "": none */
	int64_t			 token_expiry_ns;	/* CLOCK_MONOTONIC */
	struct sample_renewal	*renewal;	/* NULL when none runs */
};

/* Takes the token of a finished renewal, and starts one when the token
 * has less than SAMPLE_TOKEN_RENEW_S left and none runs. */
static void
sample_warm_renew(struct sample_warm *w)
{
	struct sample_renewal *r = w->renewal;
	pthread_attr_t attr;
	pthread_t thread;
	int done;

	if (r != NULL) {
		pthread_mutex_lock(&r->lock);
		if ((done = r->done) && r->ok) {
			memcpy(w->token, r->token, sizeof(w->token));
			w->token_expiry_ns = clock_now_ns() +
			    (int64_t)r->left * 1000000000;
		} else if (done)
			log_warnx("run %s: %s: cannot renew the identity token "
			    "of the warm requests; trying again: %s",
			    w->job->run_id, sample_name(w->service), r->err);
		pthread_mutex_unlock(&r->lock);
		if (!done)
			return;
		sample_renewal_release(r);
		w->renewal = NULL;
	}
	if (w->token[0] == '\0' || w->token_expiry_ns - clock_now_ns() >
	    (int64_t)SAMPLE_TOKEN_RENEW_S * 1000000000)
		return;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return;
	pthread_mutex_init(&r->lock, NULL);
	r->refs = 2;
	snprintf(r->url, sizeof(r->url), "%s", w->url);
	if (pthread_attr_init(&attr) != 0) {
		pthread_mutex_destroy(&r->lock);
		free(r);
		return;
	}
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, sample_renewal_run, r) != 0) {
		pthread_mutex_destroy(&r->lock);
		free(r);
	} else
		w->renewal = r;
	pthread_attr_destroy(&attr);
}

/* Builds a freshly signed request with the current token; NULL after a
 * failure described in err. */
static struct warm_request *
sample_warm_build(struct sample_warm *w, char *err, size_t errlen)
{
	struct servicetype_request req;
	struct sample_headers h;
	struct warm_request *out, *grown;
	char url[CONTRACT_URL_MAX + SERVICETYPE_PATH_MAX];
	int rc;

	if (w->nbuilt == w->cap) {
		grown = realloc(w->built, (w->cap ? 2 * w->cap : 8) *
		    sizeof(*grown));
		if (grown == NULL) {
			snprintf(err, errlen, "out of memory");
			return NULL;
		}
		w->built = grown;
		w->cap = w->cap ? 2 * w->cap : 8;
	}
	if (w->job->type->test_request(w->job->type_state, time(NULL),
	    &req) == -1) {
		snprintf(err, errlen, "cannot build the test request");
		return NULL;
	}
	sample_warm_renew(w);
	sample_header_lines(&req, &h);
	h.auth[0] = '\0';
	if (w->token[0] != '\0')
		snprintf(h.auth, sizeof(h.auth), "%s: Bearer %s",
		    sample_auth_header(&req), w->token);
	if (h.auth[0] != '\0')
		h.ptrs[h.n++] = h.auth;
	snprintf(url, sizeof(url), "%s%s", w->url, req.path);
	out = &w->built[w->nbuilt];
	rc = warm_request_build(req.method, url, h.ptrs, h.n, req.body,
	    req.body_len, out, err, errlen);
	sample_headers_clear(&h);
	if (rc == -1)
		return NULL;
	w->nbuilt++;
	return out;
}

/* The engine's refresh: a new request, or -1 to keep the last one. */
static int
sample_warm_refresh(void *arg, const char **request, size_t *len)
{
	struct sample_warm *w = arg;
	struct warm_request *req;
	char err[512];

	if ((req = sample_warm_build(w, err, sizeof(err))) == NULL) {
		log_warnx("run %s: %s: cannot rebuild the warm request: %s",
		    w->job->run_id, sample_name(w->service), err);
		return -1;
	}
	*request = req->bytes;
	*len = req->len;
	return 0;
}

/* Frees the phase's requests; a renewal still running frees itself. */
static void
sample_warm_free(struct sample_warm *w)
{
	size_t i;

	if (w->renewal != NULL)
		sample_renewal_release(w->renewal);
	for (i = 0; i < w->nbuilt; i++)
		warm_request_free(&w->built[i]);
	free(w->built);
	explicit_bzero(w->token, sizeof(w->token));
}

/* Gets the warm phase's first token, unless services are public; a
 * deployd that does not reply is tried three times. Returns 0, or -1 with
 * the error recorded (or the job stopping). */
static int
sample_warm_token(struct sample_warm *w, json_t *bc)
{
	long left;

	if (settings_bool(CFG_PUBLIC_SERVICES))
		return 0;
	if (sample_get_token(w->job, w->service, "warm_requests",
	    sample_warm_seconds(bc), 3, w->token, &left) == -1)
		return -1;
	w->token_expiry_ns = clock_now_ns() + (int64_t)left * 1000000000;
	return 0;
}

json_t *
measure_warm(struct measure_job *job, json_t *service)
{
	struct sample_warm w;
	struct warm_request *first;
	struct warm_config cfg;
	struct warm_result res;
	json_t *report, *bc = json_object_get(job->request, "benchmark_config");
	const char *mode = json_string_value(json_object_get(bc, "warm_mode"));
	char err[512], message[128], *details;
	uint64_t failed;
	int rc;

	memset(&w, 0, sizeof(w));
	w.job = job;
	w.service = service;
	snprintf(w.url, sizeof(w.url), "%s", json_string_value(
	    json_object_get(service, "service_url")) ? json_string_value(
	    json_object_get(service, "service_url")) : "");
	if (sample_warm_token(&w, bc) == -1) {
		sample_warm_free(&w);
		if (*job->stop)
			return NULL;
		return json_pack("{s:s}", "error", "no identity token for the "
		    "service");
	}
	if ((first = sample_warm_build(&w, err, sizeof(err))) == NULL) {
		measure_error(job, service, "warm_requests", "cannot build the "
		    "warm request", err);
		sample_warm_free(&w);
		return json_pack("{s:s}", "error", err);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.host = first->host;
	cfg.port = first->port;
	cfg.tls = first->tls;
	cfg.cafile = sample_cafile();
	cfg.request = first->bytes;
	cfg.request_len = first->len;
	cfg.refresh = sample_warm_refresh;
	cfg.refresh_arg = &w;
	cfg.refresh_ns = (int64_t)SAMPLE_WARM_REFRESH_S * 1000000000;
	cfg.count = (uint64_t)json_integer_value(json_object_get(bc,
	    "warm_request_count"));
	cfg.concurrency = (unsigned)json_integer_value(json_object_get(bc,
	    "warm_request_concurrency"));
	cfg.expect_status = 200;
	cfg.timeout_ns = (int64_t)MEASURE_WARM_TIMEOUT_MS * 1000000;
	if (mode != NULL && strcmp(mode, "open") == 0) {
		cfg.rate_rps = json_number_value(json_object_get(bc,
		    "warm_rate_rps"));
		cfg.duration_ns = (int64_t)(json_number_value(json_object_get(
		    bc, "warm_duration_s")) * 1e9);
	}

	cfg.stop = job->stop;
	rc = warm_run(&cfg, &res);
	if (rc == -1 && *job->stop) {
		/* The phase runs again in full on the next /measure. */
		warm_result_free(&res);
		sample_warm_free(&w);
		return NULL;
	}
	if (rc == -1) {
		measure_error(job, service, "warm_requests", "warm requests "
		    "failed to run", res.error);
		report = json_pack("{s:s}", "error", res.error);
	} else {
		report = warm_result_to_json(&res);
		failed = res.attempted - res.succeeded;
		if (failed > 0) {
			snprintf(message, sizeof(message), "%llu of %llu warm "
			    "requests failed", (unsigned long long)failed,
			    (unsigned long long)res.attempted);
			details = json_dumps(json_object_get(report, "errors"),
			    JSON_COMPACT);
			measure_error(job, service, "warm_requests", message,
			    details);
			free(details);
		}
	}
	warm_result_free(&res);
	sample_warm_free(&w);
	return report;
}

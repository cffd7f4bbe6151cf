/* One service's measurements: cold attempt, contract, warm requests. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cold.h"
#include "contract.h"
#include "log.h"
#include "measure_int.h"
#include "peer.h"
#include "proto.h"
#include "settings.h"
#include "stats.h"
#include "warm.h"

/* Bytes of one "Name: value" header line. */
#define SAMPLE_HEADER_LINE_MAX	(SERVICETYPE_HEADER_NAME_MAX + \
	SERVICETYPE_HEADER_VALUE_MAX + 4)
/* Bytes of the identity token's header line; Google's ID tokens take
 * about 1 KiB. */
#define SAMPLE_AUTH_LINE_MAX	8192
/* Seconds an identity token must stay valid after the cold and contract
 * requests that carry it. */
#define SAMPLE_TOKEN_VALID_S	600
/* Maximum validity the warm phase requests, in seconds. Google's ID
 * tokens last an hour. */
#define SAMPLE_TOKEN_VALID_MAX_S	3300

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
 * Fills h->auth with the header that carries an ID token for the service,
 * the audience being the service's URL as Cloud Run's invoker check wants,
 * valid for at least valid_s more seconds; leaves it empty when services
 * are public. The token comes from deployd, which caches it. A request
 * (req, may be NULL) with an Authorization of its own gets the token in
 * X-Serverless-Authorization, which Cloud Run checks instead. Returns -1,
 * with the error recorded under phase, when there is no token.
 */
static int
sample_auth(struct measure_job *job, json_t *service,
    const struct servicetype_request *req, const char *phase, long valid_s,
    struct sample_headers *h)
{
	const char *url = json_string_value(json_object_get(service,
	    "service_url"));
	const char *token, *name = "Authorization";
	json_t *body, *result = NULL;
	char err[512];
	int n;

	h->auth[0] = '\0';
	if (settings_bool(CFG_PUBLIC_SERVICES))
		return 0;
	if (req != NULL && servicetype_request_header(req, name) != NULL)
		name = "X-Serverless-Authorization";
	if (valid_s > SAMPLE_TOKEN_VALID_MAX_S)
		valid_s = SAMPLE_TOKEN_VALID_MAX_S;
	body = json_pack("{s:s, s:I}", "audience", url != NULL ? url : "",
	    "min_valid_s", (json_int_t)valid_s);
	if (peer_call("deployd", MSG_ID_TOKEN, body, 60000, &result, err,
	    sizeof(err)) != 0) {
		json_decref(body);
		json_decref(result);
		measure_error(job, service, phase, "cannot get an identity "
		    "token for the service (set PUBLIC_SERVICES=1 for services "
		    "open to all)", err);
		return -1;
	}
	json_decref(body);
	token = json_string_value(json_object_get(result, "token"));
	n = snprintf(h->auth, sizeof(h->auth), "%s: Bearer %s", name,
	    token != NULL ? token : "");
	json_decref(result);
	if (token == NULL || n < 0 || (size_t)n >= sizeof(h->auth)) {
		explicit_bzero(h->auth, sizeof(h->auth));
		h->auth[0] = '\0';
		measure_error(job, service, phase, "the identity token is "
		    "missing or longer than the header allows", NULL);
		return -1;
	}
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
 * the instances that served requests since then. */
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
	*instances = (long)json_integer_value(json_object_get(result,
	    "instances"));
	if (served != NULL)
		*served = json_incref(json_object_get(result, "served"));
	json_decref(result);
	return 0;
}

/* Waits until the service reports zero instances: 0 when it does, 1 when
 * it did not within the wait, -1 on error or stop. */
static int
sample_wait_zero(struct measure_job *job, const char *name, long *last,
    char *err, size_t errlen)
{
	long wait = settings_int(CFG_SCALE_WAIT), waited = 0;
	long interval = wait >= 120 ? 10 : 1;

	for (;;) {
		if (sample_scale_state(name, -1, last, NULL, err, errlen) == -1)
			return -1;
		if (*last == 0)
			return 0;
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

	rc = sample_wait_zero(job, sample_name(service), &instances, err,
	    sizeof(err));
	if (rc == -1 && (*job->stop || job->lost))
		return NULL;
	if (rc != 0) {
		snprintf(why, sizeof(why), "%ld instances after %ld s", instances,
		    settings_int(CFG_SCALE_WAIT));
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

/* Returns the seconds the warm phase's identity token must last. An open
 * loop needs its duration plus a request timeout and a minute. A closed
 * loop's duration is not known in advance, so it gets the maximum. */
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

json_t *
measure_warm(struct measure_job *job, json_t *service)
{
	struct servicetype_request req;
	struct sample_headers headers;
	struct warm_request wreq;
	struct warm_config cfg;
	struct warm_result res;
	json_t *report, *bc = json_object_get(job->request, "benchmark_config");
	const char *mode = json_string_value(json_object_get(bc, "warm_mode"));
	char url[CONTRACT_URL_MAX + SERVICETYPE_PATH_MAX], err[512];
	char message[128], *details;
	uint64_t failed;
	int rc;

	if (job->type->test_request(job->type_state, time(NULL), &req) == -1) {
		measure_error(job, service, "warm_requests", "cannot build the "
		    "test request", NULL);
		return json_pack("{s:s}", "error", "cannot build the request");
	}
	if (sample_headers(job, service, &req, "warm_requests",
	    sample_warm_seconds(bc), &headers) == -1)
		return json_pack("{s:s}", "error", "no identity token for the "
		    "service");
	snprintf(url, sizeof(url), "%s%s", json_string_value(json_object_get(
	    service, "service_url")), req.path);
	rc = warm_request_build(req.method, url, headers.ptrs, headers.n,
	    req.body, req.body_len, &wreq, err, sizeof(err));
	sample_headers_clear(&headers);
	if (rc == -1) {
		measure_error(job, service, "warm_requests", "cannot build the "
		    "warm request", err);
		return json_pack("{s:s}", "error", err);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.host = wreq.host;
	cfg.port = wreq.port;
	cfg.tls = wreq.tls;
	cfg.cafile = sample_cafile();
	cfg.request = wreq.bytes;
	cfg.request_len = wreq.len;
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
		warm_request_free(&wreq);
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
	warm_request_free(&wreq);
	return report;
}

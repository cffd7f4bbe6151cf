/*
 * Request validation tests: a table of malformed bodies, each with the
 * status, code and field it must produce, then the valid requests and
 * their normalized form. Bodies are written with ' for " to stay readable.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifest.h"
#include "frontd/validate.h"

enum endpoint {
	EP_DEPLOY,
	EP_MEASURE,
	EP_CLEANUP,
	EP_BENCHMARK,
};

struct bad_case {
	const char	*name;
	enum endpoint	 endpoint;
	const char	*body;
	int		 status;
	const char	*code;
	const char	*field;
};

/* Pieces of a valid /deploy body. */
#define RUN	"'run_id':'r1'"
#define BC	"'benchmark_config':{'cold_start_iterations':10," \
		"'warm_request_count':100,'warm_request_concurrency':10}"
#define AC	"'agent_config':{'implementations':['go-gin','rust-actix']}"
#define BC_WITH(extra) "'benchmark_config':{'cold_start_iterations':10," \
		"'warm_request_count':100,'warm_request_concurrency':10," \
		extra "}"
#define AC_MATRIX(m) "'agent_config':{'implementations':['go-gin']," \
		"'test_matrix':{" m "}}"
#define DEPLOY(...)	"{" RUN "," BC "," AC "," __VA_ARGS__ "}"
#define LEGACY_CFG	"'config':{'cold_start_iterations':2," \
		"'warm_request_count':10,'warm_request_concurrency':2}"

static struct bad_case bad_cases[] = {
	/* Parsing and the body as a whole. */
	{ "truncated object", EP_DEPLOY, "{", 400, "invalid_json", "" },
	{ "empty body", EP_DEPLOY, "", 400, "invalid_json", "" },
	{ "trailing garbage", EP_DEPLOY, "{}x", 400, "invalid_json", "" },
	{ "duplicate key", EP_DEPLOY, "{'run_id':'a','run_id':'b'}", 400,
	    "invalid_json", "" },
	{ "invalid utf-8", EP_DEPLOY, "{'run_id':'\xff'}", 400,
	    "invalid_json", "" },
	{ "nul escape", EP_DEPLOY, "{'run_id':'a\\u0000b'}", 400,
	    "invalid_json", "" },
	{ "integer too big", EP_DEPLOY, "{'run_id':'a','x':"
	    "99999999999999999999999}", 400, "invalid_json", "" },
	{ "array body", EP_DEPLOY, "[]", 400, "invalid_body", "" },
	{ "string body", EP_DEPLOY, "'x'", 400, "invalid_body", "" },
	{ "null body", EP_DEPLOY, "null", 400, "invalid_body", "" },
	{ "unknown top-level field", EP_DEPLOY, DEPLOY("'extra':1"), 400,
	    "unknown_field", "extra" },

	/* run_id. */
	{ "run_id missing", EP_DEPLOY, "{" BC "," AC "}", 400,
	    "missing_field", "run_id" },
	{ "run_id integer", EP_DEPLOY, "{'run_id':7," BC "," AC "}", 400,
	    "invalid_type", "run_id" },
	{ "run_id null", EP_DEPLOY, "{'run_id':null," BC "," AC "}", 400,
	    "invalid_type", "run_id" },
	{ "run_id empty", EP_DEPLOY, "{'run_id':''," BC "," AC "}", 400,
	    "invalid_value", "run_id" },
	{ "run_id leading hyphen", EP_DEPLOY, "{'run_id':'-a'," BC "," AC "}",
	    400, "invalid_value", "run_id" },
	{ "run_id leading dot", EP_DEPLOY, "{'run_id':'.a'," BC "," AC "}",
	    400, "invalid_value", "run_id" },
	{ "run_id slash", EP_DEPLOY, "{'run_id':'a/b'," BC "," AC "}", 400,
	    "invalid_value", "run_id" },
	{ "run_id space", EP_DEPLOY, "{'run_id':'a b'," BC "," AC "}", 400,
	    "invalid_value", "run_id" },
	{ "run_id 64 characters", EP_DEPLOY, "{'run_id':'"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',"
	    BC "," AC "}", 400, "invalid_value", "run_id" },

	/* benchmark_config. */
	{ "benchmark_config missing", EP_DEPLOY, "{" RUN "," AC "}", 400,
	    "missing_field", "benchmark_config" },
	{ "benchmark_config array", EP_DEPLOY, "{" RUN ",'benchmark_config':[],"
	    AC "}", 400, "invalid_type", "benchmark_config" },
	{ "benchmark_config unknown field", EP_DEPLOY, "{" RUN ","
	    BC_WITH("'profile':'x'") "," AC "}", 400, "unknown_field",
	    "benchmark_config.profile" },
	{ "iterations missing", EP_DEPLOY, "{" RUN ",'benchmark_config':{"
	    "'warm_request_count':100,'warm_request_concurrency':10}," AC "}",
	    400, "missing_field", "benchmark_config.cold_start_iterations" },
	{ "iterations zero", EP_DEPLOY, "{" RUN ",'benchmark_config':{"
	    "'cold_start_iterations':0,'warm_request_count':100,"
	    "'warm_request_concurrency':10}," AC "}", 400, "out_of_range",
	    "benchmark_config.cold_start_iterations" },
	{ "iterations 1001", EP_DEPLOY, "{" RUN ",'benchmark_config':{"
	    "'cold_start_iterations':1001,'warm_request_count':100,"
	    "'warm_request_concurrency':10}," AC "}", 400, "out_of_range",
	    "benchmark_config.cold_start_iterations" },
	{ "iterations real", EP_DEPLOY, "{" RUN ",'benchmark_config':{"
	    "'cold_start_iterations':10.0,'warm_request_count':100,"
	    "'warm_request_concurrency':10}," AC "}", 400, "invalid_type",
	    "benchmark_config.cold_start_iterations" },
	{ "iterations string", EP_DEPLOY, "{" RUN ",'benchmark_config':{"
	    "'cold_start_iterations':'10','warm_request_count':100,"
	    "'warm_request_concurrency':10}," AC "}", 400, "invalid_type",
	    "benchmark_config.cold_start_iterations" },
	{ "iterations negative", EP_DEPLOY, "{" RUN ",'benchmark_config':{"
	    "'cold_start_iterations':-1,'warm_request_count':100,"
	    "'warm_request_concurrency':10}," AC "}", 400, "out_of_range",
	    "benchmark_config.cold_start_iterations" },
	{ "request count zero", EP_DEPLOY, "{" RUN ",'benchmark_config':{"
	    "'cold_start_iterations':1,'warm_request_count':0,"
	    "'warm_request_concurrency':1}," AC "}", 400, "out_of_range",
	    "benchmark_config.warm_request_count" },
	{ "request count over a million", EP_DEPLOY, "{" RUN
	    ",'benchmark_config':{'cold_start_iterations':1,"
	    "'warm_request_count':1000001,'warm_request_concurrency':1},"
	    AC "}", 400, "out_of_range", "benchmark_config.warm_request_count" },
	{ "concurrency zero", EP_DEPLOY, "{" RUN ",'benchmark_config':{"
	    "'cold_start_iterations':1,'warm_request_count':10,"
	    "'warm_request_concurrency':0}," AC "}", 400, "out_of_range",
	    "benchmark_config.warm_request_concurrency" },
	{ "concurrency 1001", EP_DEPLOY, "{" RUN ",'benchmark_config':{"
	    "'cold_start_iterations':1,'warm_request_count':5000,"
	    "'warm_request_concurrency':1001}," AC "}", 400, "out_of_range",
	    "benchmark_config.warm_request_concurrency" },
	{ "concurrency over count", EP_DEPLOY, "{" RUN ",'benchmark_config':{"
	    "'cold_start_iterations':1,'warm_request_count':5,"
	    "'warm_request_concurrency':10}," AC "}", 400, "out_of_range",
	    "benchmark_config.warm_request_concurrency" },
	{ "concurrency missing", EP_DEPLOY, "{" RUN ",'benchmark_config':{"
	    "'cold_start_iterations':1,'warm_request_count':5}," AC "}", 400,
	    "missing_field", "benchmark_config.warm_request_concurrency" },
	{ "strategy unknown", EP_DEPLOY, "{" RUN ","
	    BC_WITH("'cold_start_strategy':'parallel'") "," AC "}", 400,
	    "invalid_value", "benchmark_config.cold_start_strategy" },
	{ "warm_mode integer", EP_DEPLOY, "{" RUN "," BC_WITH("'warm_mode':1")
	    "," AC "}", 400, "invalid_type", "benchmark_config.warm_mode" },
	{ "open without rate", EP_DEPLOY, "{" RUN ","
	    BC_WITH("'warm_mode':'open','warm_duration_s':10") "," AC "}",
	    400, "missing_field", "benchmark_config.warm_rate_rps" },
	{ "open rate zero", EP_DEPLOY, "{" RUN "," BC_WITH("'warm_mode':'open',"
	    "'warm_rate_rps':0,'warm_duration_s':10") "," AC "}", 400,
	    "out_of_range", "benchmark_config.warm_rate_rps" },
	{ "open rate string", EP_DEPLOY, "{" RUN ","
	    BC_WITH("'warm_mode':'open','warm_rate_rps':'5',"
	    "'warm_duration_s':10") "," AC "}", 400, "invalid_type",
	    "benchmark_config.warm_rate_rps" },
	{ "open without duration", EP_DEPLOY, "{" RUN ","
	    BC_WITH("'warm_mode':'open','warm_rate_rps':5") "," AC "}", 400,
	    "missing_field", "benchmark_config.warm_duration_s" },
	{ "open duration 3601", EP_DEPLOY, "{" RUN ","
	    BC_WITH("'warm_mode':'open','warm_rate_rps':5,"
	    "'warm_duration_s':3601") "," AC "}", 400, "out_of_range",
	    "benchmark_config.warm_duration_s" },
	{ "closed with rate", EP_DEPLOY, "{" RUN ","
	    BC_WITH("'warm_rate_rps':5") "," AC "}", 400,
	    "invalid_combination", "benchmark_config.warm_rate_rps" },
	{ "closed with duration", EP_DEPLOY, "{" RUN ","
	    BC_WITH("'warm_mode':'closed','warm_duration_s':5") "," AC "}",
	    400, "invalid_combination", "benchmark_config.warm_duration_s" },

	/* agent_config and implementations. */
	{ "agent_config missing", EP_DEPLOY, "{" RUN "," BC "}", 400,
	    "missing_field", "agent_config" },
	{ "agent_config string", EP_DEPLOY, "{" RUN "," BC ",'agent_config':'x'}",
	    400, "invalid_type", "agent_config" },
	{ "agent_config unknown field", EP_DEPLOY, "{" RUN "," BC
	    ",'agent_config':{'implementations':['a'],'services':[]}}", 400,
	    "unknown_field", "agent_config.services" },
	{ "implementations missing", EP_DEPLOY, "{" RUN "," BC
	    ",'agent_config':{}}", 400, "missing_field",
	    "agent_config.implementations" },
	{ "implementations empty", EP_DEPLOY, "{" RUN "," BC
	    ",'agent_config':{'implementations':[]}}", 400, "out_of_range",
	    "agent_config.implementations" },
	{ "implementations string", EP_DEPLOY, "{" RUN "," BC
	    ",'agent_config':{'implementations':'go-gin'}}", 400,
	    "invalid_type", "agent_config.implementations" },
	{ "implementation integer", EP_DEPLOY, "{" RUN "," BC
	    ",'agent_config':{'implementations':[1]}}", 400, "invalid_type",
	    "agent_config.implementations[0]" },
	{ "implementation uppercase", EP_DEPLOY, "{" RUN "," BC
	    ",'agent_config':{'implementations':['Go-Gin']}}", 400,
	    "invalid_value", "agent_config.implementations[0]" },
	{ "implementation leading digit", EP_DEPLOY, "{" RUN "," BC
	    ",'agent_config':{'implementations':['a','1a']}}", 400,
	    "invalid_value", "agent_config.implementations[1]" },
	{ "implementation repeated", EP_DEPLOY, "{" RUN "," BC
	    ",'agent_config':{'implementations':['a','b','a']}}", 400,
	    "duplicate_value", "agent_config.implementations[2]" },

	/* test_matrix. */
	{ "matrix array", EP_DEPLOY, "{" RUN "," BC ",'agent_config':{"
	    "'implementations':['a'],'test_matrix':[]}}", 400, "invalid_type",
	    "agent_config.test_matrix" },
	{ "matrix null", EP_DEPLOY, "{" RUN "," BC ",'agent_config':{"
	    "'implementations':['a'],'test_matrix':null}}", 400,
	    "invalid_type", "agent_config.test_matrix" },
	{ "matrix unknown dimension", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'region':['us']") "}", 400, "unknown_field",
	    "agent_config.test_matrix.region" },
	{ "cpu not array", EP_DEPLOY, "{" RUN "," BC "," AC_MATRIX("'cpu':'1'")
	    "}", 400, "invalid_type", "agent_config.test_matrix.cpu" },
	{ "cpu empty", EP_DEPLOY, "{" RUN "," BC "," AC_MATRIX("'cpu':[]") "}",
	    400, "out_of_range", "agent_config.test_matrix.cpu" },
	{ "cpu integer", EP_DEPLOY, "{" RUN "," BC "," AC_MATRIX("'cpu':[1]")
	    "}", 400, "invalid_type", "agent_config.test_matrix.cpu[0]" },
	{ "cpu three", EP_DEPLOY, "{" RUN "," BC "," AC_MATRIX("'cpu':['3']")
	    "}", 400, "invalid_value", "agent_config.test_matrix.cpu[0]" },
	{ "cpu millicpu", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'cpu':['1','1000m']") "}", 400, "invalid_value",
	    "agent_config.test_matrix.cpu[1]" },
	{ "cpu repeated", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'cpu':['1','1']") "}", 400, "duplicate_value",
	    "agent_config.test_matrix.cpu[1]" },
	{ "cpu nine values", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'cpu':['1','2','4','8','1','2','4','8','1']") "}", 400,
	    "out_of_range", "agent_config.test_matrix.cpu" },
	{ "memory in MB", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'memory':['512MB']") "}", 400, "invalid_value",
	    "agent_config.test_matrix.memory[0]" },
	{ "memory leading zero", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'memory':['0512Mi']") "}", 400, "invalid_value",
	    "agent_config.test_matrix.memory[0]" },
	{ "memory fraction", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'memory':['1.5Gi']") "}", 400, "invalid_value",
	    "agent_config.test_matrix.memory[0]" },
	{ "memory below 128Mi", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'memory':['64Mi']") "}", 400, "out_of_range",
	    "agent_config.test_matrix.memory[0]" },
	{ "memory above 32Gi", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'cpu':['8'],'memory':['33Gi']") "}", 400,
	    "out_of_range", "agent_config.test_matrix.memory[0]" },
	{ "memory same amount twice", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'memory':['1Gi','1024Mi']") "}", 400,
	    "duplicate_value", "agent_config.test_matrix.memory[1]" },
	{ "startup_boost string", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'startup_boost':['true']") "}", 400, "invalid_type",
	    "agent_config.test_matrix.startup_boost[0]" },
	{ "startup_boost repeated", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'startup_boost':[true,true]") "}", 400,
	    "duplicate_value", "agent_config.test_matrix.startup_boost[1]" },
	{ "concurrency dimension zero", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'concurrency':[0]") "}", 400, "out_of_range",
	    "agent_config.test_matrix.concurrency[0]" },
	{ "concurrency dimension 1001", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'concurrency':[80,1001]") "}", 400, "out_of_range",
	    "agent_config.test_matrix.concurrency[1]" },
	{ "execution_environment gen3", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'execution_environment':['gen3']") "}", 400,
	    "invalid_value", "agent_config.test_matrix.execution_environment[0]"
	},
	{ "max_instances zero", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'max_instances':[0]") "}", 400, "out_of_range",
	    "agent_config.test_matrix.max_instances[0]" },
	{ "max_instances fraction", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'max_instances':[1.5]") "}", 400, "invalid_type",
	    "agent_config.test_matrix.max_instances[0]" },
	{ "cpu 4 with default memory", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'cpu':['4']") "}", 400, "invalid_combination",
	    "agent_config.test_matrix" },
	{ "cpu 4 in a mixed matrix", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'cpu':['1','4'],'memory':['1Gi','2Gi']") "}", 400,
	    "invalid_combination", "agent_config.test_matrix" },
	{ "cpu 8 with 2Gi", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'cpu':['8'],'memory':['2Gi']") "}", 400,
	    "invalid_combination", "agent_config.test_matrix" },
	{ "8Gi with one cpu", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'memory':['8Gi']") "}", 400, "invalid_combination",
	    "agent_config.test_matrix" },
	{ "256Mi on gen2", EP_DEPLOY, "{" RUN "," BC ","
	    AC_MATRIX("'memory':['256Mi']") "}", 400, "invalid_combination",
	    "agent_config.test_matrix" },
	{ "matrix over 200 services", EP_DEPLOY, "{" RUN "," BC
	    ",'agent_config':{'implementations':['a','b'],'test_matrix':{"
	    "'cpu':['1','2'],'memory':['512Mi','640Mi','768Mi','1Gi',"
	    "'1280Mi','1536Mi','2Gi','4Gi'],"
	    "'concurrency':[1,2,4,8,16,32,64,80]}}}", 400,
	    "too_many_services", "agent_config" },
	{ "replicas over 200 services", EP_DEPLOY, "{" RUN
	    ",'benchmark_config':{'cold_start_iterations':101,"
	    "'warm_request_count':10,'warm_request_concurrency':1,"
	    "'cold_start_strategy':'replicas'}," AC "}", 400,
	    "too_many_services", "agent_config" },

	/* schedule. */
	{ "schedule string", EP_DEPLOY, DEPLOY("'schedule':'soon'"), 400,
	    "invalid_type", "schedule" },
	{ "schedule unknown field", EP_DEPLOY, DEPLOY("'schedule':{'delay':1}"),
	    400, "unknown_field", "schedule.delay" },
	{ "delay minutes negative", EP_DEPLOY,
	    DEPLOY("'schedule':{'measure_delay_minutes':-1}"), 400,
	    "out_of_range", "schedule.measure_delay_minutes" },
	{ "delay minutes 1441", EP_DEPLOY,
	    DEPLOY("'schedule':{'measure_delay_minutes':1441}"), 400,
	    "out_of_range", "schedule.measure_delay_minutes" },
	{ "delay seconds 86401", EP_DEPLOY,
	    DEPLOY("'schedule':{'measure_delay_seconds':86401}"), 400,
	    "out_of_range", "schedule.measure_delay_seconds" },
	{ "round delay string", EP_DEPLOY,
	    DEPLOY("'schedule':{'round_delay_seconds':'10'}"), 400,
	    "invalid_type", "schedule.round_delay_seconds" },
	{ "round delay with replicas", EP_DEPLOY, "{" RUN ","
	    BC_WITH("'cold_start_strategy':'replicas'") "," AC
	    ",'schedule':{'round_delay_seconds':60}}", 400,
	    "invalid_combination", "schedule.round_delay_seconds" },

	/* /measure and /cleanup. */
	{ "measure unknown field", EP_MEASURE,
	    "{'run_id':'r1','implementations':[]}", 400, "unknown_field",
	    "implementations" },
	{ "measure run_id missing", EP_MEASURE, "{}", 400, "missing_field",
	    "run_id" },
	{ "measure array body", EP_MEASURE, "['r1']", 400, "invalid_body", "" },
	{ "measure invalid json", EP_MEASURE, "{'run_id':}", 400,
	    "invalid_json", "" },
	{ "cleanup run_id invalid", EP_CLEANUP, "{'run_id':'a:b'}", 400,
	    "invalid_value", "run_id" },
	{ "cleanup unknown field", EP_CLEANUP, "{'run_id':'a','force':true}",
	    400, "unknown_field", "force" },

	/* /benchmark. */
	{ "benchmark config missing", EP_BENCHMARK, "{'run_id':'r1'}", 400,
	    "missing_field", "config" },
	{ "benchmark unknown field", EP_BENCHMARK, "{'run_id':'r1'," BC "}",
	    400, "unknown_field", "benchmark_config" },
	{ "benchmark profile unknown", EP_BENCHMARK, "{'run_id':'r1','config':{"
	    "'cold_start_iterations':2,'warm_request_count':10,"
	    "'warm_request_concurrency':2,'profile':'fast'}}", 400,
	    "invalid_value", "config.profile" },
	{ "benchmark profile integer", EP_BENCHMARK, "{'run_id':'r1','config':{"
	    "'cold_start_iterations':2,'warm_request_count':10,"
	    "'warm_request_concurrency':2,'profile':1}}", 400,
	    "invalid_type", "config.profile" },
	{ "benchmark extension in config", EP_BENCHMARK, "{'run_id':'r1',"
	    "'config':{'cold_start_iterations':2,'warm_request_count':10,"
	    "'warm_request_concurrency':2,'cold_start_strategy':'rounds'}}",
	    400, "unknown_field", "config.cold_start_strategy" },
	{ "benchmark concurrency over count", EP_BENCHMARK, "{'run_id':'r1',"
	    "'config':{'cold_start_iterations':2,'warm_request_count':3,"
	    "'warm_request_concurrency':4}}", 400, "out_of_range",
	    "config.warm_request_concurrency" },
	{ "benchmark implementations object", EP_BENCHMARK, "{'run_id':'r1',"
	    "'implementations':{}," LEGACY_CFG "}", 400, "invalid_type",
	    "implementations" },
	{ "benchmark implementation repeated", EP_BENCHMARK, "{'run_id':'r1',"
	    "'implementations':['a','a']," LEGACY_CFG "}", 400,
	    "duplicate_value", "implementations[1]" },
	{ "benchmark run_id invalid", EP_BENCHMARK, "{'run_id':'a b',"
	    LEGACY_CFG "}", 400, "invalid_value", "run_id" },
};

/* Returns a copy of s with every ' turned into ". */
static char *
unquote(const char *s)
{
	char *copy = strdup(s), *p;

	assert_non_null(copy);
	for (p = copy; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return copy;
}

static json_t *
call(enum endpoint ep, const char *body, size_t len, struct api_error *err)
{
	memset(err, 0, sizeof(*err));
	switch (ep) {
	case EP_DEPLOY:
		return validate_deploy(body, len, err);
	case EP_MEASURE:
		return validate_measure(body, len, err);
	case EP_CLEANUP:
		return validate_cleanup(body, len, err);
	case EP_BENCHMARK:
		return validate_benchmark(body, len, err);
	}
	return NULL;
}

/* Checks that the error is well formed: the server puts every part of it
 * into a JSON reply, so each must be valid UTF-8. */
static void
check_error_text(const struct api_error *err)
{
	json_t *s;

	assert_true(err->message[0] != '\0');
	s = json_pack("{s:s, s:s, s:s}", "code", err->code, "field",
	    err->field, "message", err->message);
	assert_non_null(s);
	json_decref(s);
}

static void
expect_error(const char *name, enum endpoint ep, const char *body,
    size_t len, int status, const char *code, const char *field)
{
	struct api_error err;
	json_t *out;

	out = call(ep, body, len, &err);
	if (out != NULL) {
		json_decref(out);
		fail_msg("%s: accepted, expected %d %s at \"%s\"", name, status,
		    code, field);
	}
	if (err.status != status || strcmp(err.code, code) != 0 ||
	    strcmp(err.field, field) != 0)
		fail_msg("%s: got %d %s at \"%s\" (%s), expected %d %s at "
		    "\"%s\"", name, err.status, err.code, err.field,
		    err.message, status, code, field);
	check_error_text(&err);
}

static void
test_bad_case(void **state)
{
	const struct bad_case *c = *state;
	char *body = unquote(c->body);

	expect_error(c->name, c->endpoint, body, strlen(body), c->status,
	    c->code, c->field);
	free(body);
}

/* Validates a body that must pass; returns the normalized object. */
static json_t *
accept(enum endpoint ep, const char *quoted)
{
	struct api_error err;
	char *body = unquote(quoted);
	json_t *out;

	out = call(ep, body, strlen(body), &err);
	if (out == NULL)
		fail_msg("rejected %s: %d %s at \"%s\": %s", body, err.status,
		    err.code, err.field, err.message);
	free(body);
	return out;
}

/* Compares a normalized object with the expected JSON (' for "). */
static void
assert_normalized(const json_t *got, const char *quoted)
{
	char *text = unquote(quoted), *want_dump, *got_dump;
	json_error_t jerr;
	json_t *want;

	want = json_loads(text, 0, &jerr);
	if (want == NULL)
		fail_msg("bad expected JSON in the test: %s", jerr.text);
	want_dump = validate_canonical_dump(want);
	got_dump = validate_canonical_dump(got);
	if (strcmp(want_dump, got_dump) != 0)
		fail_msg("normalized\n  got  %s\n  want %s", got_dump, want_dump);
	free(want_dump);
	free(got_dump);
	json_decref(want);
	free(text);
}

/* A /deploy request: two implementations, two cpu values, boost on. */
static const char spec_deploy[] =
    "{'run_id': '2026-01-24-abc123',"
    " 'benchmark_config': {'cold_start_iterations': 10,"
    "   'warm_request_count': 100, 'warm_request_concurrency': 10},"
    " 'agent_config': {'implementations': ['go-gin', 'rust-actix'],"
    "   'test_matrix': {'cpu': ['1', '2'], 'startup_boost': [true]}},"
    " 'schedule': {'measure_delay_minutes': 20}}";

static void
test_deploy_two_by_two(void **state)
{
	json_t *out = accept(EP_DEPLOY, spec_deploy);

	assert_normalized(out, "{'run_id':'2026-01-24-abc123',"
	    "'benchmark_config':{'cold_start_iterations':10,"
	    "'warm_request_count':100,'warm_request_concurrency':10,"
	    "'cold_start_strategy':'rounds','warm_mode':'closed'},"
	    "'agent_config':{'implementations':['go-gin','rust-actix'],"
	    "'test_matrix':{'cpu':['1','2'],'startup_boost':[true]}},"
	    "'schedule':{'measure_delay_seconds':1200,"
	    "'measure_delay_minutes':20,'round_delay_seconds':1200}}");
	assert_int_equal(validate_service_count(out), 4);
	json_decref(out);
}

static void
test_deploy_defaults(void **state)
{
	json_t *out = accept(EP_DEPLOY, "{" RUN "," BC "," AC "}");

	assert_normalized(out, "{'run_id':'r1','benchmark_config':{"
	    "'cold_start_iterations':10,'warm_request_count':100,"
	    "'warm_request_concurrency':10,'cold_start_strategy':'rounds',"
	    "'warm_mode':'closed'},'agent_config':{'implementations':"
	    "['go-gin','rust-actix'],'test_matrix':{}},'schedule':{"
	    "'measure_delay_seconds':1200,'measure_delay_minutes':20,"
	    "'round_delay_seconds':1200}}");
	assert_int_equal(validate_service_count(out), 2);
	json_decref(out);
}

static void
test_deploy_delay_seconds_wins(void **state)
{
	json_t *out = accept(EP_DEPLOY, DEPLOY("'schedule':{"
	    "'measure_delay_minutes':5,'measure_delay_seconds':90}"));

	assert_normalized(json_object_get(out, "schedule"),
	    "{'measure_delay_seconds':90,'measure_delay_minutes':1,"
	    "'round_delay_seconds':90}");
	json_decref(out);
	out = accept(EP_DEPLOY, DEPLOY("'schedule':{'measure_delay_minutes':0,"
	    "'round_delay_seconds':600}"));
	assert_normalized(json_object_get(out, "schedule"),
	    "{'measure_delay_seconds':0,'measure_delay_minutes':0,"
	    "'round_delay_seconds':600}");
	json_decref(out);
}

static void
test_deploy_extensions(void **state)
{
	json_t *out;

	out = accept(EP_DEPLOY, "{" RUN "," BC_WITH("'warm_mode':'open',"
	    "'warm_rate_rps':50,'warm_duration_s':30,"
	    "'cold_start_strategy':'replicas'") "," AC "}");
	assert_normalized(json_object_get(out, "benchmark_config"),
	    "{'cold_start_iterations':10,'warm_request_count':100,"
	    "'warm_request_concurrency':10,'cold_start_strategy':'replicas',"
	    "'warm_mode':'open','warm_rate_rps':50.0,'warm_duration_s':30}");
	/* Replicas: no round delay; 2 implementations x 10 replicas. */
	assert_normalized(json_object_get(out, "schedule"),
	    "{'measure_delay_seconds':1200,'measure_delay_minutes':20}");
	assert_int_equal(validate_service_count(out), 20);
	json_decref(out);
}

static void
test_deploy_valid_limits(void **state)
{
	json_t *out;

	/* A run id of the maximum length, with every allowed punctuation. */
	json_decref(accept(EP_DEPLOY, "{'run_id':'A.b_c-"
	    "01234567890123456789012345678901234567890123456789"
	    "0123456'," BC "," AC "}"));
	json_decref(accept(EP_DEPLOY, "{" RUN "," BC "," AC_MATRIX(
	    "'cpu':['4','8'],'memory':['4Gi','16Gi']") "}"));
	json_decref(accept(EP_DEPLOY, "{" RUN "," BC "," AC_MATRIX(
	    "'cpu':['8'],'memory':['32Gi'],'execution_environment':['gen2']")
	    "}"));
	json_decref(accept(EP_DEPLOY, "{" RUN "," BC "," AC_MATRIX(
	    "'memory':['128Mi'],'execution_environment':['gen1']") "}"));
	json_decref(accept(EP_DEPLOY, "{" RUN "," BC "," AC_MATRIX(
	    "'startup_boost':[true,false],'concurrency':[1,1000],"
	    "'max_instances':[1,1000]") "}"));
	/* Exactly 200 services: 2 implementations x 100 replicas. */
	out = accept(EP_DEPLOY, "{" RUN ",'benchmark_config':{"
	    "'cold_start_iterations':100,'warm_request_count':1000000,"
	    "'warm_request_concurrency':1000,'cold_start_strategy':"
	    "'replicas'}," AC "}");
	assert_int_equal(validate_service_count(out), 200);
	json_decref(out);
}

static void
test_deploy_65_implementations(void **state)
{
	char body[4096] = "{" RUN "," BC ",'agent_config':{'implementations':[";
	char *json;
	size_t len;
	int i;

	for (i = 0; i < 65; i++) {
		len = strlen(body);
		snprintf(body + len, sizeof(body) - len, "%s'impl-%d'",
		    i > 0 ? "," : "", i);
	}
	len = strlen(body);
	snprintf(body + len, sizeof(body) - len, "]}}");
	json = unquote(body);
	expect_error("65 implementations", EP_DEPLOY, json, strlen(json), 400,
	    "out_of_range", "agent_config.implementations");
	free(json);
}

/* Writes {"run_id":"a","x":[[...]]} with the given number of arrays. */
static void
nested_body(char *buf, size_t size, int arrays)
{
	size_t len;
	int i;

	snprintf(buf, size, "{\"run_id\":\"a\",\"x\":");
	for (i = 0; i < 2 * arrays; i++) {
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s", i < arrays ? "[" : "]");
	}
	len = strlen(buf);
	snprintf(buf + len, size - len, "}");
}

static void
test_body_too_deep(void **state)
{
	char body[256], field[256] = "x";
	size_t len;
	int i;

	/* The root is level 1 and the array under "x" level 2, so the 32nd
	 * array, at x[0]...[0] (31 indexes), is level 33. */
	for (i = 0; i < 31; i++) {
		len = strlen(field);
		snprintf(field + len, sizeof(field) - len, "[0]");
	}
	nested_body(body, sizeof(body), 32);
	expect_error("33 levels", EP_MEASURE, body, strlen(body), 400,
	    "too_deep", field);

	/* 32 levels pass the limit and fail later, on the unknown field. */
	nested_body(body, sizeof(body), 31);
	expect_error("32 levels", EP_MEASURE, body, strlen(body), 400,
	    "unknown_field", "x");
}

static void
test_string_too_long(void **state)
{
	char *body = malloc(8192), key[2048];
	struct api_error err;
	json_t *out;

	assert_non_null(body);
	snprintf(body, 8192, "{\"run_id\":\"%4097d\"}", 1);
	expect_error("4097-byte value", EP_MEASURE, body, strlen(body), 400,
	    "string_too_long", "run_id");

	/* A 4096-byte value passes the limit and fails the run_id pattern. */
	snprintf(body, 8192, "{\"run_id\":\"%4096d\"}", 1);
	expect_error("4096-byte value", EP_MEASURE, body, strlen(body), 400,
	    "invalid_value", "run_id");

	/* A long key of two-byte characters: the field and message quote an
	 * excerpt cut on a character boundary. */
	memset(key, 0, sizeof(key));
	for (int i = 0; i < 1000; i++)
		memcpy(key + 2 * i, "\xc3\xa9", 2);
	snprintf(body, 8192, "{\"run_id\":\"a\",\"%s\":1}", key);
	out = validate_cleanup(body, strlen(body), &err);
	assert_null(out);
	assert_string_equal(err.code, "unknown_field");
	check_error_text(&err);
	assert_true(strlen(err.field) <= 64 + 3);

	snprintf(body, 8192, "{\"run_id\":\"a\",\"%04100d\":1}", 7);
	expect_error("4100-byte key", EP_CLEANUP, body, strlen(body), 400,
	    "string_too_long", "");
	free(body);
}

static void
test_invalid_json_position(void **state)
{
	const char body[] = "{\n  \"run_id\": ,\n}";
	struct api_error err;

	assert_null(validate_measure(body, sizeof(body) - 1, &err));
	assert_string_equal(err.code, "invalid_json");
	assert_non_null(strstr(err.message, "line 2"));
	assert_non_null(strstr(err.message, "column"));
	assert_non_null(strstr(err.message, "byte"));
}

static void
test_run_only_bodies(void **state)
{
	json_t *out;

	out = accept(EP_MEASURE, "{'run_id':'2026-01-24-abc123'}");
	assert_normalized(out, "{'run_id':'2026-01-24-abc123'}");
	json_decref(out);
	out = accept(EP_CLEANUP, "{'run_id':'Run_1.x'}");
	assert_normalized(out, "{'run_id':'Run_1.x'}");
	json_decref(out);
}

static void
test_run_id_function(void **state)
{
	struct api_error err;

	assert_int_equal(validate_run_id("a", &err), 0);
	assert_int_equal(validate_run_id("0.-_", &err), 0);
	assert_int_equal(validate_run_id("_a", &err), -1);
	assert_string_equal(err.field, "run_id");
	assert_int_equal(validate_run_id("a%2Fb", &err), -1);
	assert_int_equal(validate_run_id("", &err), -1);
}

static void
test_canonical_dump(void **state)
{
	json_t *a, *b, *c, *d;
	char *da, *db, *dc, *dd;

	a = accept(EP_DEPLOY, spec_deploy);
	/* Keys reordered, whitespace added, the default delay left out. */
	b = accept(EP_DEPLOY, "{ 'agent_config': {'test_matrix': "
	    "{'startup_boost': [true], 'cpu': ['1', '2']}, 'implementations': "
	    "['go-gin', 'rust-actix']}, 'benchmark_config': "
	    "{'warm_request_concurrency': 10, 'warm_request_count': 100, "
	    "'cold_start_iterations': 10}, 'run_id': '2026-01-24-abc123' }");
	c = accept(EP_DEPLOY, "{'run_id':'2026-01-24-abc123',"
	    "'benchmark_config':{'cold_start_iterations':10,"
	    "'warm_request_count':100,'warm_request_concurrency':9},"
	    "'agent_config':{'implementations':['go-gin','rust-actix'],"
	    "'test_matrix':{'cpu':['1','2'],'startup_boost':[true]}}}");
	d = accept(EP_DEPLOY, "{" RUN "," BC_WITH("'warm_mode':'open',"
	    "'warm_rate_rps':50.0,'warm_duration_s':30") "," AC "}");
	da = validate_canonical_dump(a);
	db = validate_canonical_dump(b);
	dc = validate_canonical_dump(c);
	dd = validate_canonical_dump(d);
	assert_string_equal(da, db);
	assert_string_not_equal(da, dc);
	/* Sorted keys, no whitespace. */
	assert_true(strncmp(da, "{\"agent_config\":{\"implementations\":",
	    35) == 0);
	assert_null(strchr(da, ' '));
	/* 50 and 50.0 normalize to the same rate. */
	assert_non_null(strstr(dd, "\"warm_rate_rps\":50.0"));
	free(da);
	free(db);
	free(dc);
	free(dd);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	json_decref(d);
}

/* A manifest like the agent's, with one disabled implementation. */
static const char test_manifest[] =
    "schema_version: \"1.0\"\n"
    "service_type: discord-webhook\n"
    "enabled: true\n"
    "agent:\n"
    "  endpoint: https://agent.example.invalid\n"
    "  type: cloud_run_service\n"
    "implementations:\n"
    "  - name: go-gin\n"
    "    status: active\n"
    "  - name: rust-actix\n"
    "    status: active\n"
    "  - name: java-spring3\n"
    "    status: disabled\n"
    "    reason: Known cold start regression\n";

static struct manifest *
load_manifest(const char *yaml)
{
	struct manifest *m;
	char err[512];

	m = manifest_load_buffer("test.yaml", yaml, strlen(yaml), err,
	    sizeof(err));
	if (m == NULL)
		fail_msg("test manifest: %s", err);
	return m;
}

static void
test_implementations_against_manifest(void **state)
{
	struct manifest *m = load_manifest(test_manifest);
	struct api_error err;
	json_t *out;

	out = accept(EP_DEPLOY, spec_deploy);
	assert_int_equal(validate_implementations(out, m, &err), 0);
	json_decref(out);

	out = accept(EP_DEPLOY, "{" RUN "," BC ",'agent_config':{"
	    "'implementations':['go-gin','php-laravel']}}");
	assert_int_equal(validate_implementations(out, m, &err), -1);
	assert_int_equal(err.status, 400);
	assert_string_equal(err.code, "unknown_implementation");
	assert_string_equal(err.field, "agent_config.implementations[1]");
	assert_non_null(strstr(err.message, "php-laravel"));
	assert_non_null(strstr(err.message, "go-gin, rust-actix, "
	    "java-spring3"));
	json_decref(out);

	out = accept(EP_DEPLOY, "{" RUN "," BC ",'agent_config':{"
	    "'implementations':['java-spring3']}}");
	assert_int_equal(validate_implementations(out, m, &err), -1);
	assert_string_equal(err.code, "implementation_disabled");
	assert_string_equal(err.field, "agent_config.implementations[0]");
	assert_non_null(strstr(err.message, "Known cold start regression"));
	json_decref(out);
	manifest_free(m);
}

static void
test_benchmark_to_deploy(void **state)
{
	struct manifest *m = load_manifest(test_manifest);
	struct api_error err;
	json_t *bench, *deploy;

	/* A /benchmark request naming two implementations. */
	bench = accept(EP_BENCHMARK, "{'run_id': '2026-01-24-abc123',"
	    " 'implementations': ['go-gin', 'rust-actix'],"
	    " 'config': {'cold_start_iterations': 10,"
	    "  'warm_request_count': 100, 'warm_request_concurrency': 10,"
	    "  'profile': 'default'}}");
	assert_normalized(bench, "{'run_id':'2026-01-24-abc123',"
	    "'implementations':['go-gin','rust-actix'],'config':{"
	    "'cold_start_iterations':10,'warm_request_count':100,"
	    "'warm_request_concurrency':10,'profile':'default'}}");
	deploy = validate_benchmark_to_deploy(bench, m, &err);
	assert_non_null(deploy);
	assert_normalized(deploy, "{'run_id':'2026-01-24-abc123',"
	    "'benchmark_config':{'cold_start_iterations':10,"
	    "'warm_request_count':100,'warm_request_concurrency':10,"
	    "'cold_start_strategy':'rounds','warm_mode':'closed'},"
	    "'agent_config':{'implementations':['go-gin','rust-actix'],"
	    "'test_matrix':{}},'schedule':{'measure_delay_seconds':1200,"
	    "'measure_delay_minutes':20,'round_delay_seconds':1200}}");
	json_decref(deploy);
	json_decref(bench);

	/* No implementations: every active one, in manifest order. */
	bench = accept(EP_BENCHMARK, "{'run_id':'t'," LEGACY_CFG "}");
	assert_normalized(json_object_get(bench, "config"),
	    "{'cold_start_iterations':2,'warm_request_count':10,"
	    "'warm_request_concurrency':2,'profile':'default'}");
	deploy = validate_benchmark_to_deploy(bench, m, &err);
	assert_non_null(deploy);
	assert_normalized(json_object_get(json_object_get(deploy,
	    "agent_config"), "implementations"), "['go-gin','rust-actix']");
	json_decref(deploy);
	json_decref(bench);

	bench = accept(EP_BENCHMARK, "{'run_id':'t','implementations':"
	    "['java-spring3']," LEGACY_CFG "}");
	assert_null(validate_benchmark_to_deploy(bench, m, &err));
	assert_string_equal(err.code, "implementation_disabled");
	assert_string_equal(err.field, "implementations[0]");
	json_decref(bench);

	bench = accept(EP_BENCHMARK, "{'run_id':'t','implementations':"
	    "['go-gin','nope']," LEGACY_CFG "}");
	assert_null(validate_benchmark_to_deploy(bench, m, &err));
	assert_string_equal(err.code, "unknown_implementation");
	assert_string_equal(err.field, "implementations[1]");
	json_decref(bench);
	manifest_free(m);
}

static void
test_benchmark_no_active(void **state)
{
	struct manifest *m = load_manifest(
	    "schema_version: \"1.0\"\nservice_type: rest-crud\nenabled: true\n"
	    "agent: {endpoint: 'https://a.example.invalid', type: "
	    "cloud_run_service}\nimplementations:\n"
	    "  - {name: a, status: disabled}\n");
	struct api_error err;
	json_t *bench;

	bench = accept(EP_BENCHMARK, "{'run_id':'t','implementations':[],"
	    LEGACY_CFG "}");
	assert_null(validate_benchmark_to_deploy(bench, m, &err));
	assert_int_equal(err.status, 400);
	assert_string_equal(err.code, "no_implementations");
	assert_string_equal(err.field, "implementations");
	json_decref(bench);
	manifest_free(m);
}

int
main(void)
{
	const size_t nbad = sizeof(bad_cases) / sizeof(bad_cases[0]);
	const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_deploy_two_by_two),
		cmocka_unit_test(test_deploy_defaults),
		cmocka_unit_test(test_deploy_delay_seconds_wins),
		cmocka_unit_test(test_deploy_extensions),
		cmocka_unit_test(test_deploy_valid_limits),
		cmocka_unit_test(test_deploy_65_implementations),
		cmocka_unit_test(test_body_too_deep),
		cmocka_unit_test(test_string_too_long),
		cmocka_unit_test(test_invalid_json_position),
		cmocka_unit_test(test_run_only_bodies),
		cmocka_unit_test(test_run_id_function),
		cmocka_unit_test(test_canonical_dump),
		cmocka_unit_test(test_implementations_against_manifest),
		cmocka_unit_test(test_benchmark_to_deploy),
		cmocka_unit_test(test_benchmark_no_active),
	};
	const size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	struct CMUnitTest *tests;
	size_t i;
	int rc;

	/* One named test per table row, then the fixed tests. */
	tests = calloc(nbad + nfixed, sizeof(*tests));
	if (tests == NULL)
		return 1;
	for (i = 0; i < nbad; i++) {
		tests[i].name = bad_cases[i].name;
		tests[i].test_func = test_bad_case;
		tests[i].initial_state = &bad_cases[i];
	}
	memcpy(tests + nbad, fixed, sizeof(fixed));
	rc = _cmocka_run_group_tests("validate", tests, nbad + nfixed, NULL,
	    NULL);
	free(tests);
	return rc;
}

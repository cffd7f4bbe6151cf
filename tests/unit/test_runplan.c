/*
 * Deployment plan tests: matrix expansion, Cloud Run service names (valid,
 * unique and stable for odd run ids), labels, images and create bodies.
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
#include "runplan.h"
#include "frontd/validate.h"

#define REGISTRY	"us-central1-docker.pkg.dev/project/repo"

static const char manifest_yaml[] =
    "schema_version: \"1.0\"\n"
    "service_type: discord-webhook\n"
    "enabled: true\n"
    "agent: {endpoint: 'https://agent.example.invalid', "
    "type: cloud_run_service}\n"
    "implementations:\n"
    "  - {name: go-gin, status: active, service_name: discord-go-gin}\n"
    "  - {name: rust-actix, status: active, service_name: "
    "discord-rust-actix}\n"
    "  - {name: go, status: active}\n"
    "  - {name: a, status: active}\n"
    "  - {name: a-very-long-implementation-name-for-truncation, "
    "status: active}\n";

static const struct runplan_options production = { REGISTRY, "v7", 0 };
static const struct runplan_options local = { NULL, NULL, 1 };

static int
setup(void **state)
{
	char err[512];

	*state = manifest_load_buffer("test.yaml", manifest_yaml,
	    strlen(manifest_yaml), err, sizeof(err));
	if (*state == NULL)
		fail_msg("test manifest: %s", err);
	return 0;
}

static int
teardown(void **state)
{
	manifest_free(*state);
	return 0;
}

/* Validates a /deploy body written with ' for " and returns it. */
static json_t *
deploy_request(const char *quoted)
{
	struct api_error err;
	char *body = strdup(quoted), *p;
	json_t *out;

	assert_non_null(body);
	for (p = body; *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	out = validate_deploy(body, strlen(body), &err);
	if (out == NULL)
		fail_msg("request rejected: %s: %s", err.field, err.message);
	free(body);
	return out;
}

/* Builds the plan of a deploy body; fails the test on error. */
static void
build(struct runplan *plan, const struct manifest *m, const char *quoted,
    const struct runplan_options *opt)
{
	json_t *req = deploy_request(quoted);
	char err[256];

	if (runplan_build(plan, req, m, opt, err, sizeof(err)) == -1)
		fail_msg("runplan_build: %s", err);
	assert_int_equal(plan->count, validate_service_count(req));
	json_decref(req);
}

/* Cloud Run service id rules: [a-z0-9-], a letter first, no '-' last,
 * fewer than 50 characters. */
static int
valid_service_name(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= 49 && s[0] >= 'a' && s[0] <= 'z' &&
	    s[len - 1] != '-' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == len;
}

/* Cloud Run label values: [a-z0-9_-], at most 63 characters. */
static int
valid_label_value(const char *s)
{
	size_t len = strlen(s);

	return len <= 63 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

/* Checks that name is "<readable>-<8 base32 characters>". */
static void
assert_name_shape(const char *name, const char *readable)
{
	size_t len = strlen(name), rlen = strlen(readable);

	if (!valid_service_name(name))
		fail_msg("invalid service name \"%s\"", name);
	assert_int_equal(len, rlen + 1 + RUNPLAN_HASH_CHARS);
	if (strncmp(name, readable, rlen) != 0 || name[rlen] != '-')
		fail_msg("\"%s\" does not start with \"%s-\"", name, readable);
	assert_int_equal(strspn(name + rlen + 1,
	    "abcdefghijklmnopqrstuvwxyz234567"), RUNPLAN_HASH_CHARS);
}

static const char spec_deploy[] =
    "{'run_id':'2026-01-24-abc123','benchmark_config':{"
    "'cold_start_iterations':10,'warm_request_count':100,"
    "'warm_request_concurrency':10},'agent_config':{'implementations':"
    "['go-gin','rust-actix'],'test_matrix':{'cpu':['1','2'],"
    "'startup_boost':[true]}},'schedule':{'measure_delay_minutes':20}}";

static void
test_two_by_two_services(void **state)
{
	struct runplan plan;
	static const struct {
		const char *impl, *cpu, *readable;
	} want[] = {
		{ "go-gin", "1", "discord-go-gin-2026-01-24-abc123-cpu1" },
		{ "go-gin", "2", "discord-go-gin-2026-01-24-abc123-cpu2" },
		/* Too long by one: the run id gives up its last character. */
		{ "rust-actix", "1", "discord-rust-actix-2026-01-24-abc12-cpu1" },
		{ "rust-actix", "2", "discord-rust-actix-2026-01-24-abc12-cpu2" },
	};
	size_t i;

	build(&plan, *state, spec_deploy, &production);
	assert_int_equal(plan.count, 4);
	assert_string_equal(plan.service_type, "discord-webhook");
	for (i = 0; i < 4; i++) {
		const struct runplan_entry *e = &plan.entries[i];

		assert_string_equal(e->implementation, want[i].impl);
		assert_string_equal(e->cpu, want[i].cpu);
		assert_string_equal(e->memory, "512Mi");
		assert_int_equal(e->startup_boost, 1);
		assert_int_equal(e->concurrency, 80);
		assert_string_equal(e->execution_environment, "gen2");
		assert_int_equal(e->max_instances, 1);
		assert_int_equal(e->replica, 0);
		assert_name_shape(e->service_name, want[i].readable);
	}
	assert_string_equal(plan.entries[0].image,
	    REGISTRY "/discord-go-gin:v7");
	assert_string_equal(plan.entries[3].image,
	    REGISTRY "/discord-rust-actix:v7");
	runplan_free(&plan);
}

static void
test_entry_json(void **state)
{
	struct runplan plan;
	json_t *services, *want;
	json_error_t jerr;

	build(&plan, *state, spec_deploy, &production);
	services = runplan_services_json(&plan);
	assert_non_null(services);
	assert_int_equal(json_array_size(services), 4);
	want = json_loads("{\"implementation\":\"rust-actix\",\"cpu\":\"2\","
	    "\"memory\":\"512Mi\",\"startup_boost\":true,\"concurrency\":80,"
	    "\"execution_environment\":\"gen2\",\"max_instances\":1}", 0,
	    &jerr);
	assert_non_null(want);
	assert_true(json_equal(json_object_get(json_array_get(services, 3),
	    "dimensions"), want));
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(services, 3), "service_name")),
	    plan.entries[3].service_name);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(services, 3), "image")), plan.entries[3].image);
	json_decref(want);
	json_decref(services);
	runplan_free(&plan);
}

static void
test_names_stable(void **state)
{
	struct runplan a, b;
	size_t i;

	build(&a, *state, spec_deploy, &production);
	build(&b, *state, spec_deploy, &local);
	assert_int_equal(a.count, b.count);
	for (i = 0; i < a.count; i++)
		assert_string_equal(a.entries[i].service_name,
		    b.entries[i].service_name);
	runplan_free(&a);
	runplan_free(&b);
}

/* Fails unless the names of plan are pairwise distinct. */
static void
assert_unique_names(char (*names)[RUNPLAN_NAME_MAX + 1], size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (!valid_service_name(names[i]))
			fail_msg("invalid service name \"%s\"", names[i]);
		for (j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				fail_msg("names %zu and %zu are both \"%s\"",
				    j, i, names[i]);
	}
}

static void
test_names_long_and_odd_run_ids(void **state)
{
	static const char *const run_ids[] = {
		"A",
		"a",
		"a.b",
		"a-b",
		"a_b",
		"A-B",
		"a..b",
		"a--b",
		"a.",
		"a_",
		"a-",
		"0run",
		"RUN.With_Mixed-Case.2026",
		"run.with_mixed-case.2026",
		/* 63 characters, the longest run id. */
		"X23456789012345678901234567890123456789012345678901234567890123",
		"x23456789012345678901234567890123456789012345678901234567890123",
		"x23456789012345678901234567890123456789012345678901234567890124",
		"x2345678901234567890123456789012345678901234567890123456789012",
	};
	const size_t nruns = sizeof(run_ids) / sizeof(run_ids[0]);
	char (*names)[RUNPLAN_NAME_MAX + 1];
	char body[1024];
	struct runplan plan;
	size_t i, j, n = 0, cap;

	cap = nruns * 8;
	names = calloc(cap, sizeof(*names));
	assert_non_null(names);
	for (i = 0; i < nruns; i++) {
		snprintf(body, sizeof(body), "{'run_id':'%s','benchmark_config':"
		    "{'cold_start_iterations':1,'warm_request_count':1,"
		    "'warm_request_concurrency':1},'agent_config':{"
		    "'implementations':['a-very-long-implementation-name-"
		    "for-truncation','a'],'test_matrix':{'cpu':['1','2'],"
		    "'memory':['1Gi','2Gi'],'startup_boost':[true]}}}",
		    run_ids[i]);
		build(&plan, *state, body, &local);
		assert_int_equal(plan.count, 8);
		for (j = 0; j < plan.count; j++)
			memcpy(names[n++], plan.entries[j].service_name,
			    RUNPLAN_NAME_MAX + 1);
		runplan_free(&plan);
	}
	assert_unique_names(names, n);
	free(names);
}

/* Readable parts that collide must still give distinct names. */
static void
test_names_ambiguous_joins(void **state)
{
	static const struct {
		const char *impl, *run, *key, *suffix;
	} cases[] = {
		{ "go-gin", "x", "k", "" },
		{ "go", "gin-x", "k", "" },
		{ "go", "gin.x", "k", "" },
		{ "go", "GIN_X", "k", "" },
		{ "go-gin-x", "y", "k", "" },
		{ "go-gin", "x-y", "k", "" },
		{ "go-gin", "x", "k2", "" },
		{ "go-gin", "x", "k", "cpu1" },
		{ "go-gin", "x-cpu1", "k", "" },
		{ "go-gin", "x", "cpu=1\nmemory=512Mi", "cpu1" },
		{ "go-gin", "x", "cpu=1\nmemory=1Gi", "cpu1" },
	};
	const size_t n = sizeof(cases) / sizeof(cases[0]);
	char names[sizeof(cases) / sizeof(cases[0])][RUNPLAN_NAME_MAX + 1];
	char again[RUNPLAN_NAME_MAX + 1];
	size_t i;

	for (i = 0; i < n; i++) {
		assert_int_equal(runplan_service_name(names[i],
		    sizeof(names[i]), "discord-webhook", cases[i].impl,
		    cases[i].run, cases[i].key, cases[i].suffix), 0);
		assert_int_equal(runplan_service_name(again, sizeof(again),
		    "discord-webhook", cases[i].impl, cases[i].run,
		    cases[i].key, cases[i].suffix), 0);
		assert_string_equal(names[i], again);
	}
	assert_unique_names(names, n);
	/* The same readable part, distinguished by the hash alone. */
	assert_int_equal(strncmp(names[0], names[1], strlen(names[0]) -
	    RUNPLAN_HASH_CHARS), 0);
}

static void
test_name_truncation(void **state)
{
	char name[RUNPLAN_NAME_MAX + 1];
	const char *run =
	    "x23456789012345678901234567890123456789012345678901234567890123";

	/* A long implementation and run id with a cell suffix: the prefix
	 * keeps 24 characters, the suffix whole tokens that leave the run id
	 * 8, and the run id the rest. */
	assert_int_equal(runplan_service_name(name, sizeof(name),
	    "discord-webhook", "a-very-long-implementation-name", run, "k",
	    "cpu2-mem1gi-boost-c80-gen1-max3-r12"), 0);
	assert_name_shape(name, "discord-a-very-long-impl-x234567890-cpu2");
	assert_int_equal(strlen(name), RUNPLAN_NAME_MAX);
	/* The run id gets what the suffix leaves. */
	assert_int_equal(runplan_service_name(name, sizeof(name),
	    "discord-webhook", "go", run, "k", "cpu2"), 0);
	assert_name_shape(name, "discord-go-x23456789012345678901234-cpu2");
	/* Without a suffix; a cut never leaves "--". */
	assert_int_equal(runplan_service_name(name, sizeof(name),
	    "discord-webhook", "go", "abcdefghijklmnopqrstuvwxyz01-b-c",
	    "k", ""), 0);
	assert_name_shape(name, "discord-go-abcdefghijklmnopqrstuvwxyz01");
	/* Too small a buffer. */
	assert_int_equal(runplan_service_name(name, 10, "discord-webhook",
	    "go", "x", "k", ""), -1);
}

static void
test_replicas(void **state)
{
	struct runplan plan;
	size_t i;
	char (*names)[RUNPLAN_NAME_MAX + 1];
	json_t *dims;

	build(&plan, *state, "{'run_id':'rep','benchmark_config':{"
	    "'cold_start_iterations':3,'warm_request_count':10,"
	    "'warm_request_concurrency':1,'cold_start_strategy':'replicas'},"
	    "'agent_config':{'implementations':['go-gin','go'],"
	    "'test_matrix':{'cpu':['1']}}}", &production);
	assert_int_equal(plan.count, 6);
	names = calloc(plan.count, sizeof(*names));
	assert_non_null(names);
	for (i = 0; i < plan.count; i++) {
		assert_int_equal(plan.entries[i].replica, (int)(i % 3) + 1);
		assert_string_equal(plan.entries[i].implementation,
		    i < 3 ? "go-gin" : "go");
		memcpy(names[i], plan.entries[i].service_name,
		    sizeof(names[i]));
	}
	assert_unique_names(names, plan.count);
	assert_name_shape(plan.entries[1].service_name,
	    "discord-go-gin-rep-r2");
	/* Without service_name: "<type prefix>-<implementation>". */
	assert_string_equal(plan.entries[3].image, REGISTRY "/discord-go:v7");
	dims = runplan_dimensions(&plan.entries[2]);
	assert_int_equal(json_integer_value(json_object_get(dims, "replica")),
	    3);
	json_decref(dims);
	free(names);
	runplan_free(&plan);

	/* One iteration under replicas is still a replica. */
	build(&plan, *state, "{'run_id':'rep','benchmark_config':{"
	    "'cold_start_iterations':1,'warm_request_count':10,"
	    "'warm_request_concurrency':1,'cold_start_strategy':'replicas'},"
	    "'agent_config':{'implementations':['go']}}", &production);
	assert_int_equal(plan.count, 1);
	assert_int_equal(plan.entries[0].replica, 1);
	assert_name_shape(plan.entries[0].service_name, "discord-go-rep-r1");
	runplan_free(&plan);
}

static void
test_matrix_order(void **state)
{
	struct runplan plan;

	build(&plan, *state, "{'run_id':'m','benchmark_config':{"
	    "'cold_start_iterations':1,'warm_request_count':10,"
	    "'warm_request_concurrency':1},'agent_config':{'implementations':"
	    "['a'],'test_matrix':{'max_instances':[1,2],'cpu':['1','2'],"
	    "'memory':['512Mi','1Gi'],'execution_environment':['gen1',"
	    "'gen2'],'concurrency':[1,80],'startup_boost':[false,true]}}}",
	    &local);
	assert_int_equal(plan.count, 64);
	/* cpu varies slowest and max_instances fastest. */
	assert_string_equal(plan.entries[0].cpu, "1");
	assert_string_equal(plan.entries[32].cpu, "2");
	assert_int_equal(plan.entries[0].max_instances, 1);
	assert_int_equal(plan.entries[1].max_instances, 2);
	assert_string_equal(plan.entries[2].execution_environment, "gen2");
	assert_int_equal(plan.entries[4].concurrency, 80);
	assert_int_equal(plan.entries[8].startup_boost, 1);
	assert_string_equal(plan.entries[16].memory, "1Gi");
	/* The suffix loses its last token to fit. */
	assert_name_shape(plan.entries[63].service_name,
	    "discord-a-m-cpu2-mem1gi-boost-c80-gen2");
	assert_string_equal(plan.entries[0].image, "local/discord-webhook/a");
	runplan_free(&plan);
}

static void
test_create_body(void **state)
{
	struct runplan plan;
	json_t *env, *body, *want;
	char err[256], *dump;

	build(&plan, *state, "{'run_id':'Run.1','benchmark_config':{"
	    "'cold_start_iterations':1,'warm_request_count':10,"
	    "'warm_request_concurrency':1},'agent_config':{'implementations':"
	    "['go-gin'],'test_matrix':{'cpu':['2'],'memory':['1Gi'],"
	    "'concurrency':[5],'execution_environment':['gen1'],"
	    "'max_instances':[3]}}}", &production);
	env = json_pack("[{s:s, s:s}]", "name", "DISCORD_PUBLIC_KEY", "value",
	    "ab12");
	body = runplan_create_body(&plan, &plan.entries[0], env, err,
	    sizeof(err));
	if (body == NULL)
		fail_msg("create body: %s", err);
	want = json_pack("{s:{s:s, s:s, s:s}, s:s, s:{s:{s:i, s:i}, s:i, s:s, "
	    "s:[{s:s, s:[{s:s, s:s}], s:{s:{s:s, s:s}, s:b, s:b}}]}}",
	    "labels", "perf-agent-run", plan.run_label, "perf-agent-type",
	    "discord-webhook", "perf-agent-impl", "go-gin",
	    "ingress", "INGRESS_TRAFFIC_ALL",
	    "template", "scaling", "minInstanceCount", 0, "maxInstanceCount", 3,
	    "maxInstanceRequestConcurrency", 5,
	    "executionEnvironment", "EXECUTION_ENVIRONMENT_GEN1",
	    "containers", "image", REGISTRY "/discord-go-gin:v7",
	    "env", "name", "DISCORD_PUBLIC_KEY", "value", "ab12",
	    "resources", "limits", "cpu", "2", "memory", "1Gi",
	    "cpuIdle", 1, "startupCpuBoost", 0);
	assert_non_null(want);
	if (!json_equal(body, want)) {
		dump = json_dumps(body, JSON_SORT_KEYS);
		fail_msg("create body %s", dump);
	}
	assert_true(valid_label_value(plan.run_label));
	assert_int_not_equal(strcmp(plan.run_label, "run.1"), 0);
	json_decref(body);
	json_decref(want);
	json_decref(env);
	runplan_free(&plan);
}

static void
test_create_body_defaults(void **state)
{
	struct runplan plan;
	json_t *body, *resources, *tmpl;
	char err[256];
	size_t i;

	build(&plan, *state, spec_deploy, &production);
	for (i = 0; i < plan.count; i++) {
		body = runplan_create_body(&plan, &plan.entries[i], NULL, err,
		    sizeof(err));
		assert_non_null(body);
		tmpl = json_object_get(body, "template");
		resources = json_object_get(json_array_get(json_object_get(tmpl,
		    "containers"), 0), "resources");
		assert_true(json_is_true(json_object_get(resources,
		    "cpuIdle")));
		assert_true(json_is_true(json_object_get(resources,
		    "startupCpuBoost")));
		assert_int_equal(json_integer_value(json_object_get(
		    json_object_get(tmpl, "scaling"), "minInstanceCount")), 0);
		assert_int_equal(json_integer_value(json_object_get(
		    json_object_get(tmpl, "scaling"), "maxInstanceCount")), 1);
		assert_int_equal(json_integer_value(json_object_get(tmpl,
		    "maxInstanceRequestConcurrency")), 80);
		assert_string_equal(json_string_value(json_object_get(tmpl,
		    "executionEnvironment")), "EXECUTION_ENVIRONMENT_GEN2");
		/* No env list: no env key. */
		assert_null(json_object_get(json_array_get(json_object_get(tmpl,
		    "containers"), 0), "env"));
		assert_string_equal(json_string_value(json_object_get(
		    json_object_get(body, "labels"), "perf-agent-run")),
		    "2026-01-24-abc123");
		json_decref(body);
	}
	runplan_free(&plan);
}

static void
test_create_body_bad_env(void **state)
{
	static const char *const bad[] = {
		"[{\"name\":\"PORT\",\"value\":\"1\"}]",
		"[{\"name\":\"K_SERVICE\",\"value\":\"1\"}]",
		"[{\"name\":\"1X\",\"value\":\"1\"}]",
		"[{\"name\":\"A-B\",\"value\":\"1\"}]",
		"[{\"name\":\"A\",\"value\":1}]",
		"[{\"name\":\"A\"}]",
		"[{\"name\":\"A\",\"value\":\"1\",\"extra\":\"x\"}]",
		"{\"A\":\"1\"}",
	};
	struct runplan plan;
	json_t *env;
	char err[256];
	size_t i;

	build(&plan, *state, spec_deploy, &production);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env = json_loads(bad[i], 0, NULL);
		assert_non_null(env);
		err[0] = '\0';
		if (runplan_create_body(&plan, &plan.entries[0], env, err,
		    sizeof(err)) != NULL)
			fail_msg("env %s accepted", bad[i]);
		assert_true(err[0] != '\0');
		json_decref(env);
	}
	runplan_free(&plan);
}

static void
test_build_errors(void **state)
{
	static const struct runplan_options no_registry = { NULL, NULL, 0 };
	struct runplan plan;
	json_t *req;
	char err[256];

	req = deploy_request(spec_deploy);
	assert_int_equal(runplan_build(&plan, req, *state, &no_registry, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "registry"));
	assert_null(plan.entries);
	json_decref(req);

	/* An implementation the manifest does not list. */
	req = deploy_request("{'run_id':'r','benchmark_config':{"
	    "'cold_start_iterations':1,'warm_request_count':1,"
	    "'warm_request_concurrency':1},'agent_config':{"
	    "'implementations':['nope']}}");
	assert_int_equal(runplan_build(&plan, req, *state, &local, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "nope"));
	json_decref(req);

	/* Not a normalized request. */
	req = json_pack("{s:s}", "run_id", "r");
	assert_int_equal(runplan_build(&plan, req, *state, &local, err,
	    sizeof(err)), -1);
	json_decref(req);
}

static void
test_label_values(void **state)
{
	static const char *const inputs[] = {
		"run-1", "run_1", "Run-1", "run.1", "RUN.1", "r", "R",
		"X23456789012345678901234567890123456789012345678901234567890123",
		"x23456789012345678901234567890123456789012345678901234567890123",
	};
	const size_t n = sizeof(inputs) / sizeof(inputs[0]);
	char labels[sizeof(inputs) / sizeof(inputs[0])][RUNPLAN_LABEL_MAX + 1];
	size_t i, j;

	for (i = 0; i < n; i++) {
		assert_int_equal(runplan_label_value(labels[i],
		    sizeof(labels[i]), inputs[i]), 0);
		if (!valid_label_value(labels[i]))
			fail_msg("invalid label \"%s\" for \"%s\"", labels[i],
			    inputs[i]);
		for (j = 0; j < i; j++)
			if (strcmp(labels[i], labels[j]) == 0)
				fail_msg("\"%s\" and \"%s\" share label %s",
				    inputs[i], inputs[j], labels[i]);
	}
	/* Values that already qualify are kept. */
	assert_string_equal(labels[0], "run-1");
	assert_string_equal(labels[1], "run_1");
	assert_string_equal(labels[8], inputs[8]);
	assert_int_equal(strncmp(labels[2], "run-1-", 6), 0);
}

static void
test_memory_mib(void **state)
{
	static const struct {
		const char *text;
		long mib;	/* -1: rejected */
	} cases[] = {
		{ "512Mi", 512 }, { "1Gi", 1024 }, { "32Gi", 32768 },
		{ "128Mi", 128 }, { "999999Mi", 999999 }, { "1000000Mi", -1 },
		{ "0Mi", -1 }, { "0512Mi", -1 }, { "512M", -1 }, { "512mi", -1 },
		{ "1.5Gi", -1 }, { "Gi", -1 }, { "", -1 }, { "-1Gi", -1 },
		{ "1Gi ", -1 }, { "1Ti", -1 },
	};
	size_t i;
	long mib;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].mib == -1) {
			if (runplan_memory_mib(cases[i].text, &mib) != -1)
				fail_msg("\"%s\" accepted", cases[i].text);
			continue;
		}
		if (runplan_memory_mib(cases[i].text, &mib) != 0)
			fail_msg("\"%s\" rejected", cases[i].text);
		assert_int_equal(mib, cases[i].mib);
	}
}

static void
test_check_resources(void **state)
{
	static const struct {
		const char *cpu;
		long mib;
		const char *env;
		int ok;
	} cases[] = {
		{ "1", 512, "gen2", 1 }, { "1", 128, "gen1", 1 },
		{ "1", 256, "gen2", 0 }, { "1", 4096, "gen2", 1 },
		{ "1", 4097, "gen2", 0 }, { "2", 8192, "gen2", 1 },
		{ "2", 8193, "gen2", 0 }, { "4", 2047, "gen2", 0 },
		{ "4", 2048, "gen2", 1 }, { "4", 16384, "gen2", 1 },
		{ "4", 16385, "gen2", 0 }, { "8", 4095, "gen2", 0 },
		{ "8", 4096, "gen2", 1 }, { "8", 32768, "gen2", 1 },
		{ "8", 32769, "gen2", 0 }, { "1", 127, "gen1", 0 },
		{ "3", 1024, "gen2", 0 }, { "0.5", 512, "gen1", 0 },
	};
	char why[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why[0] = '\0';
		if ((runplan_check_resources(cases[i].cpu, cases[i].mib,
		    cases[i].env, why, sizeof(why)) == 0) != cases[i].ok)
			fail_msg("cpu %s, %ldMi, %s: expected %s (%s)",
			    cases[i].cpu, cases[i].mib, cases[i].env,
			    cases[i].ok ? "ok" : "rejected", why);
		if (!cases[i].ok)
			assert_true(why[0] != '\0');
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_by_two_services),
		cmocka_unit_test(test_entry_json),
		cmocka_unit_test(test_names_stable),
		cmocka_unit_test(test_names_long_and_odd_run_ids),
		cmocka_unit_test(test_names_ambiguous_joins),
		cmocka_unit_test(test_name_truncation),
		cmocka_unit_test(test_replicas),
		cmocka_unit_test(test_matrix_order),
		cmocka_unit_test(test_create_body),
		cmocka_unit_test(test_create_body_defaults),
		cmocka_unit_test(test_create_body_bad_env),
		cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_label_values),
		cmocka_unit_test(test_memory_mib),
		cmocka_unit_test(test_check_resources),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

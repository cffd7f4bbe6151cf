/*
 * Manifest loader tests: the repository's manifest.yaml, YAML 1.2 scalar
 * typing against a golden JSON, the GET /implementations body, and a table
 * of broken manifests with the file:line and problem each must report.
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

/* The head every test manifest shares: the fields the loader requires. */
#define HEAD \
	"schema_version: \"1.0\"\n" \
	"service_type: discord-webhook\n" \
	"enabled: true\n" \
	"agent:\n" \
	"  endpoint: https://agent.example.invalid\n" \
	"  type: cloud_run_service\n"

#define ENTRY \
	"  - name: go-gin\n" \
	"    status: active\n"

#define IMPLS "implementations:\n" ENTRY

static struct manifest *
load(const char *yaml, char *err, size_t errlen)
{
	return manifest_load_buffer("test.yaml", yaml, strlen(yaml), err,
	    errlen);
}

static void
test_repository_manifest(void **state)
{
	static const char *const names[] = { "c-libevent", "python", "node",
	    "node-discord-interactions", "broken-accepts-any" };
	struct manifest_impl impl;
	struct manifest *m;
	json_t *active;
	char err[512];
	size_t i;

	m = manifest_load_file(ABS_TOP_SRCDIR "/manifest.yaml", err,
	    sizeof(err));
	if (m == NULL)
		fail_msg("%s", err);
	assert_string_equal(manifest_service_type(m), "discord-webhook");
	assert_int_equal(manifest_impl_count(m), 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(manifest_impl_at(m, i, &impl), 0);
		assert_string_equal(impl.name, names[i]);
	}
	assert_int_equal(manifest_impl_find(m, "c-libevent", &impl), 0);
	assert_true(impl.active);
	assert_string_equal(impl.service_name, "discord-c-libevent");
	assert_null(impl.reason);
	assert_int_equal(manifest_impl_find(m, "broken-accepts-any", &impl), 0);
	assert_false(impl.active);
	assert_string_equal(impl.status, "disabled");
	assert_non_null(impl.reason);
	assert_non_null(strstr(impl.reason, "signature"));
	assert_int_equal(manifest_impl_find(m, "go-gin", &impl), -1);

	active = manifest_active_names(m);
	assert_int_equal(json_array_size(active), 4);
	assert_string_equal(json_string_value(json_array_get(active, 3)),
	    "node-discord-interactions");
	json_decref(active);

	/* Version strings stay strings; the timestamp too. */
	assert_string_equal(json_string_value(json_object_get(m->doc,
	    "schema_version")), "1.0");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(m->doc, "agent"), "version")), "0.1.0");
	assert_true(json_is_true(json_object_get(m->doc, "enabled")));
	manifest_free(m);
}

static void
test_scalar_types(void **state)
{
	static const char yaml[] = HEAD IMPLS
	    "metadata:\n"
	    "  bool_plain: true\n"
	    "  bool_title: False\n"
	    "  bool_quoted: \"true\"\n"
	    "  yes_is_text: yes\n"
	    "  on_is_text: on\n"
	    "  int_plain: 42\n"
	    "  int_signed: -7\n"
	    "  int_plus: +3\n"
	    "  int_zero_padded: 007\n"
	    "  int_hex: 0x1F\n"
	    "  int_octal: 0o17\n"
	    "  int_quoted: '42'\n"
	    "  int_underscore: 1_000\n"
	    "  real: 1.5\n"
	    "  real_exp: 1e3\n"
	    "  real_dot: .5\n"
	    "  version_plain: 1.0\n"
	    "  null_word: null\n"
	    "  null_tilde: ~\n"
	    "  null_empty:\n"
	    "  empty_quoted: \"\"\n"
	    "  tagged_str: !!str 12\n"
	    "  tagged_int: !!int \"12\"\n"
	    "  timestamp: 2026-01-24T14:30:00Z\n"
	    "  block: |\n"
	    "    line one\n"
	    "    line two\n"
	    "  folded: >-\n"
	    "    a\n"
	    "    b\n"
	    "  flow: {a: [1, \"2\", x], b: {}}\n"
	    "  unicode: \"caf\\u00e9\"\n";
	static const char golden[] =
	    "{\"bool_plain\":true,\"bool_title\":false,\"bool_quoted\":\"true\","
	    "\"yes_is_text\":\"yes\",\"on_is_text\":\"on\",\"int_plain\":42,"
	    "\"int_signed\":-7,\"int_plus\":3,\"int_zero_padded\":7,"
	    "\"int_hex\":31,\"int_octal\":15,\"int_quoted\":\"42\","
	    "\"int_underscore\":\"1_000\",\"real\":1.5,\"real_exp\":1000.0,"
	    "\"real_dot\":0.5,\"version_plain\":1.0,\"null_word\":null,"
	    "\"null_tilde\":null,\"null_empty\":null,\"empty_quoted\":\"\","
	    "\"tagged_str\":\"12\",\"tagged_int\":12,"
	    "\"timestamp\":\"2026-01-24T14:30:00Z\","
	    "\"block\":\"line one\\nline two\\n\",\"folded\":\"a b\","
	    "\"flow\":{\"a\":[1,\"2\",\"x\"],\"b\":{}},"
	    "\"unicode\":\"caf\\u00e9\"}";
	struct manifest *m;
	json_t *want, *got;
	char err[512], *dump;

	m = load(yaml, err, sizeof(err));
	if (m == NULL)
		fail_msg("%s", err);
	want = json_loads(golden, 0, NULL);
	assert_non_null(want);
	got = json_object_get(m->doc, "metadata");
	if (!json_equal(got, want)) {
		dump = json_dumps(got, JSON_SORT_KEYS);
		fail_msg("got %s", dump);
	}
	/* Integers and reals keep their JSON types. */
	assert_true(json_is_integer(json_object_get(got, "int_hex")));
	assert_true(json_is_real(json_object_get(got, "version_plain")));
	json_decref(want);
	manifest_free(m);
}

static void
test_line_numbers(void **state)
{
	struct manifest *m;
	char err[512];

	m = load(HEAD IMPLS "  - name: rust\n    status: disabled\n", err,
	    sizeof(err));
	assert_non_null(m);
	assert_int_equal(manifest_line(m, ""), 1);
	assert_int_equal(manifest_line(m, "/service_type"), 2);
	assert_int_equal(manifest_line(m, "/agent/type"), 6);
	assert_int_equal(manifest_line(m, "/implementations/1"), 10);
	assert_int_equal(manifest_line(m, "/implementations/1/status"), 11);
	assert_int_equal(manifest_line(m, "/nowhere"), 0);
	manifest_free(m);

	/* "~" and "/" in keys are escaped in the pointer. */
	m = load(HEAD IMPLS "metadata:\n  a/b~c: 1\n", err, sizeof(err));
	assert_non_null(m);
	assert_int_equal(manifest_line(m, "/metadata/a~1b~0c"), 11);
	manifest_free(m);
}

static void
test_implementations_response(void **state)
{
	static const char yaml[] = HEAD IMPLS
	    "  - name: rust-actix\n"
	    "    status: active\n"
	    "  - name: java-spring3\n"
	    "    status: disabled\n"
	    "    reason: \"Known issue #123\"\n"
	    "  - name: php\n"
	    "    status: disabled\n";
	struct manifest *m;
	json_t *urls, *got, *want;
	char err[512], *dump;

	m = load(yaml, err, sizeof(err));
	assert_non_null(m);
	urls = json_pack("{s:s, s:s}", "go-gin", "https://go.example.invalid",
	    "php", "https://php.example.invalid");
	got = manifest_implementations_response(m, urls);
	want = json_loads("{\"service_type\":\"discord-webhook\","
	    "\"implementations\":["
	    "{\"name\":\"go-gin\",\"status\":\"active\","
	    "\"service_url\":\"https://go.example.invalid\"},"
	    "{\"name\":\"rust-actix\",\"status\":\"active\"},"
	    "{\"name\":\"java-spring3\",\"status\":\"disabled\","
	    "\"reason\":\"Known issue #123\"},"
	    "{\"name\":\"php\",\"status\":\"disabled\","
	    "\"service_url\":\"https://php.example.invalid\"}]}", 0, NULL);
	assert_non_null(want);
	if (!json_equal(got, want)) {
		dump = json_dumps(got, 0);
		fail_msg("got %s", dump);
	}
	json_decref(got);
	json_decref(want);

	/* Without URLs. */
	got = manifest_implementations_response(m, NULL);
	assert_null(json_object_get(json_array_get(json_object_get(got,
	    "implementations"), 0), "service_url"));
	json_decref(got);
	json_decref(urls);
	manifest_free(m);
}

struct bad_manifest {
	const char	*name;
	const char	*yaml;
	const char	*where;		/* expected start of the message */
	const char	*problem;	/* expected part of the message */
};

static const struct bad_manifest bad_manifests[] = {
	{ "empty file", "", "test.yaml:", "the file is empty" },
	{ "comment only", "# nothing\n", "test.yaml:", "the file is empty" },
	{ "bad indentation", HEAD "implementations:\n  - name: a\n"
	    " status: active\n", "test.yaml:9:", "" },
	{ "unclosed flow", HEAD "implementations: [\n", "test.yaml:8:", "" },
	{ "tab indentation", HEAD "implementations:\n\t- name: a\n",
	    "test.yaml:8:", "" },
	{ "duplicate key", HEAD HEAD IMPLS, "test.yaml:7:1:",
	    "duplicate key \"schema_version\"" },
	{ "alias", HEAD "x: &a 1\ny: *a\n" IMPLS, "test.yaml:7:",
	    "anchors are not supported" },
	{ "alias without anchor", HEAD "y: *a\n" IMPLS, "test.yaml:7:", "" },
	{ "two documents", HEAD IMPLS "---\na: 1\n", "test.yaml:10:",
	    "more than one YAML document" },
	{ "complex key", HEAD "? [a]\n: 1\n" IMPLS, "test.yaml:7:",
	    "mapping keys must be scalars" },
	{ "infinity", HEAD IMPLS "metadata: {x: .inf}\n", "test.yaml:10:",
	    "has no JSON form" },
	{ "nan", HEAD IMPLS "metadata: {x: .nan}\n", "test.yaml:10:",
	    "has no JSON form" },
	{ "integer overflow", HEAD IMPLS "metadata: {x: 99999999999999999999}\n",
	    "test.yaml:10:", "integer 99999999999999999999 is out of range" },
	{ "binary tag", HEAD IMPLS "metadata: {x: !!binary aGk=}\n",
	    "test.yaml:10:", "tag:yaml.org,2002:binary is not supported" },
	{ "int tag on text", HEAD IMPLS "metadata: {x: !!int abc}\n",
	    "test.yaml:10:", "does not match its tag" },
	{ "top-level sequence", "- a\n- b\n", "test.yaml:1:",
	    "the manifest must be a mapping" },
	{ "top-level scalar", "hello\n", "test.yaml:1:",
	    "the manifest must be a mapping" },
	{ "schema_version number", "schema_version: 1.0\n"
	    "service_type: x\nenabled: true\n", "test.yaml:1:",
	    "schema_version must be a string \"1.N\"" },
	{ "schema_version 2", "schema_version: \"2.0\"\n", "test.yaml:1:",
	    "schema_version must be" },
	{ "service_type missing", "schema_version: \"1.0\"\nenabled: true\n",
	    "test.yaml:", "service_type must be" },
	{ "service_type uppercase", "schema_version: \"1.0\"\n"
	    "service_type: Discord\n", "test.yaml:2:", "service_type must be" },
	{ "enabled as text", "schema_version: \"1.0\"\nservice_type: x\n"
	    "enabled: yes\n", "test.yaml:3:", "enabled must be true or false" },
	{ "agent missing", "schema_version: \"1.0\"\nservice_type: x\n"
	    "enabled: true\n" IMPLS, "test.yaml:", "agent must be a mapping" },
	{ "agent type unknown", "schema_version: \"1.0\"\nservice_type: x\n"
	    "enabled: true\nagent: {endpoint: e, type: vm}\n" IMPLS,
	    "test.yaml:4:", "agent.type must be" },
	{ "implementations missing", HEAD, "test.yaml:",
	    "implementations must be a sequence" },
	{ "implementations mapping", HEAD "implementations: {a: 1}\n",
	    "test.yaml:7:", "implementations must be a sequence" },
	{ "implementation scalar", HEAD "implementations:\n  - go-gin\n",
	    "test.yaml:8:", "implementations[0] must be a mapping" },
	{ "status enum", HEAD IMPLS "  - name: b\n    status: enabled\n",
	    "test.yaml:10:", "implementations[1].status must be \"active\" "
	    "or \"disabled\"" },
	{ "status missing", HEAD "implementations:\n  - name: b\n",
	    "test.yaml:8:", "implementations[0].status must be" },
	{ "name uppercase", HEAD "implementations:\n  - name: Go\n"
	    "    status: active\n", "test.yaml:8:",
	    "implementations[0].name must be" },
	{ "name missing", HEAD "implementations:\n  - status: active\n",
	    "test.yaml:8:", "implementations[0].name must be" },
	{ "name listed twice", HEAD IMPLS ENTRY, "test.yaml:10:",
	    "implementation \"go-gin\" is listed twice" },
	{ "reason not text", HEAD IMPLS "    reason: [a]\n", "test.yaml:8:",
	    "implementations[0].reason must be a string" },
	{ "service_name invalid", HEAD IMPLS "    service_name: Go_Gin\n",
	    "test.yaml:8:", "implementations[0].service_name must be" },
	{ "invalid utf-8", HEAD IMPLS "metadata: {x: \"\xff\"}\n", "test.yaml:",
	    "" },
};

static void
test_bad_manifests(void **state)
{
	const struct bad_manifest *c;
	struct manifest *m;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(bad_manifests) / sizeof(bad_manifests[0]);
	    i++) {
		c = &bad_manifests[i];
		err[0] = '\0';
		m = load(c->yaml, err, sizeof(err));
		if (m != NULL) {
			manifest_free(m);
			fail_msg("%s: loaded", c->name);
		}
		if (strncmp(err, c->where, strlen(c->where)) != 0 ||
		    strstr(err, c->problem) == NULL)
			fail_msg("%s: got \"%s\", expected \"%s...%s\"", c->name,
			    err, c->where, c->problem);
	}
}

static void
test_limits(void **state)
{
	char *yaml, err[512];
	size_t len, size = MANIFEST_MAX_BYTES + 2;
	int i;

	yaml = malloc(size);
	assert_non_null(yaml);

	/* Depth: each flow sequence opens a level; the document is level 1. */
	snprintf(yaml, size, HEAD IMPLS "metadata: ");
	for (i = 0; i < MANIFEST_MAX_DEPTH; i++) {
		len = strlen(yaml);
		snprintf(yaml + len, size - len, "[");
	}
	for (i = 0; i < MANIFEST_MAX_DEPTH; i++) {
		len = strlen(yaml);
		snprintf(yaml + len, size - len, "]");
	}
	len = strlen(yaml);
	snprintf(yaml + len, size - len, "\n");
	assert_null(load(yaml, err, sizeof(err)));
	assert_non_null(strstr(err, "nested deeper than 32 levels"));
	assert_int_equal(strncmp(err, "test.yaml:10:", 13), 0);

	/* Nodes: a sequence of more than MANIFEST_MAX_NODES items. */
	snprintf(yaml, size, HEAD IMPLS "metadata: [");
	for (i = 0; i < MANIFEST_MAX_NODES; i++) {
		len = strlen(yaml);
		snprintf(yaml + len, size - len, "%s1", i > 0 ? "," : "");
	}
	len = strlen(yaml);
	snprintf(yaml + len, size - len, "]\n");
	assert_null(load(yaml, err, sizeof(err)));
	assert_non_null(strstr(err, "more than 20000 nodes"));

	/* Size: one byte over the limit. */
	memset(yaml, '#', MANIFEST_MAX_BYTES + 1);
	assert_null(manifest_load_buffer("big.yaml", yaml,
	    MANIFEST_MAX_BYTES + 1, err, sizeof(err)));
	assert_string_equal(err, "big.yaml: larger than 1048576 bytes");
	free(yaml);
}

static void
test_file_errors(void **state)
{
	char err[512];

	assert_null(manifest_load_file("/nonexistent/manifest.yaml", err,
	    sizeof(err)));
	assert_string_equal(err, "/nonexistent/manifest.yaml: No such file or "
	    "directory");
	assert_null(manifest_load_file("/", err, sizeof(err)));
	assert_non_null(strstr(err, "not a regular file"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_repository_manifest),
		cmocka_unit_test(test_scalar_types),
		cmocka_unit_test(test_line_numbers),
		cmocka_unit_test(test_implementations_response),
		cmocka_unit_test(test_bad_manifests),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_file_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Tests of the test-vector loader: the shipped discord-webhook vectors load
 * and every one can be prepared, and malformed files written into a
 * scratch folder are rejected with a message naming the file and field.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "measured/discord.h"
#include "measured/servicetype.h"
#include "measured/vectors.h"

/* A valid vector; each case below changes one or two fields of it. */
static const char base_vector[] =
    "{\"name\": \"ping\", \"description\": \"A signed PING.\","
    " \"request\": {\"method\": \"POST\", \"path\": \"/interactions\","
    "  \"headers\": {\"Content-Type\": \"application/json\"},"
    "  \"body\": \"{\\\"type\\\":1}\", \"sign\": {\"mode\": \"valid\"}},"
    " \"expect\": {\"status\": 200,"
    "  \"body\": {\"exact\": \"{\\\"type\\\":1}\"},"
    "  \"headers\": {\"Content-Type\": \"application/json\"}}}";

/* Sets (or, with json NULL, deletes) a dotted field of the base vector. */
struct change {
	const char	*field;
	const char	*json;
};

struct bad_case {
	const char	*name;
	struct change	 changes[2];
	const char	*field;		/* in the message */
	const char	*message;	/* start of the text after the field */
};

static const struct bad_case bad_cases[] = {
	{ "status string", { { "expect.status", "\"200\"" } },
	    "expect.status", "must be an integer 100-599" },
	{ "status 600", { { "expect.status", "600" } },
	    "expect.status", "must be an integer 100-599" },
	{ "status 99", { { "expect.status", "99" } },
	    "expect.status", "must be an integer 100-599" },
	{ "status real", { { "expect.status", "200.0" } },
	    "expect.status", "must be an integer 100-599" },
	{ "status empty list", { { "expect.status", "[]" } },
	    "expect.status", "must not be an empty array" },
	{ "status list item", { { "expect.status", "[400, \"x\"]" } },
	    "expect.status[1]", "must be an integer 100-599" },
	{ "status list long",
	    { { "expect.status", "[200,201,202,203,204,205,206,207,208]" } },
	    "expect.status", "must list at most 8 statuses" },
	{ "status missing", { { "expect.status", NULL } },
	    "expect.status", "is required" },
	{ "name missing", { { "name", NULL } }, "name", "is required" },
	{ "name space", { { "name", "\"bad name\"" } },
	    "name", "must be 1-63 letters" },
	{ "name hyphen first", { { "name", "\"-x\"" } },
	    "name", "must be 1-63 letters" },
	{ "name number", { { "name", "7" } }, "name", "must be 1-63 letters" },
	{ "unknown field", { { "optinal", "true" } },
	    "optinal", "unknown field" },
	{ "optional string", { { "optional", "\"yes\"" } },
	    "optional", "must be true or false" },
	{ "description missing", { { "description", NULL } },
	    "description", "is required" },
	{ "description number", { { "description", "5" } },
	    "description", "must be a string" },
	{ "request not object", { { "request", "[]" } },
	    "request", "must be an object" },
	{ "request unknown field", { { "request.url", "\"/x\"" } },
	    "request.url", "unknown field" },
	{ "method missing", { { "request.method", NULL } },
	    "request.method", "is required" },
	{ "method space", { { "request.method", "\"PO ST\"" } },
	    "request.method", "must be an HTTP method" },
	{ "method long", { { "request.method", "\"ABCDEFGHIJKLMNOPQ\"" } },
	    "request.method", "must be at most 15 bytes" },
	{ "path relative", { { "request.path", "\"interactions\"" } },
	    "request.path", "must begin with /" },
	{ "path space", { { "request.path", "\"/a b\"" } },
	    "request.path", "must begin with /" },
	{ "headers array", { { "request.headers", "[]" } },
	    "request.headers", "must be an object" },
	{ "header value number",
	    { { "request.headers.Content-Type", "1" } },
	    "request.headers.Content-Type", "must be a string" },
	{ "header name space", { { "request.headers.Bad Name", "\"x\"" } },
	    "request.headers.Bad Name", "must be an HTTP header name" },
	{ "header value newline",
	    { { "request.headers.X-Evil", "\"a\\r\\nInjected: b\"" } },
	    "request.headers.X-Evil", "must contain only printable ASCII" },
	{ "body missing", { { "request.body", NULL } },
	    "request.body", "is required" },
	{ "body number", { { "request.body", "1" } },
	    "request.body", "must be a string" },
	{ "sign missing", { { "request.sign", NULL } },
	    "request.sign", "is required" },
	{ "sign string", { { "request.sign", "\"valid\"" } },
	    "request.sign", "must be an object" },
	{ "sign mode missing", { { "request.sign.mode", NULL } },
	    "request.sign.mode", "is required" },
	{ "sign mode unknown", { { "request.sign.mode", "\"sometimes\"" } },
	    "request.sign.mode", "must be one of none, valid" },
	{ "sign unknown field", { { "request.sign.key", "\"x\"" } },
	    "request.sign.key", "unknown field" },
	{ "flip without bit", { { "request.sign.mode", "\"flip_bit\"" } },
	    "request.sign.bit", "is required with mode \"flip_bit\"" },
	{ "bit without flip", { { "request.sign.bit", "3" } },
	    "request.sign.bit", "is only allowed with mode \"flip_bit\"" },
	{ "bit negative", { { "request.sign.mode", "\"flip_bit\"" },
	    { "request.sign.bit", "-1" } },
	    "request.sign.bit", "must be an integer 0-4095" },
	{ "body_changed without signed_body",
	    { { "request.sign.mode", "\"body_changed\"" } },
	    "request.sign.signed_body", "is required with mode" },
	{ "signed_body number", { { "request.sign.mode", "\"body_changed\"" },
	    { "request.sign.signed_body", "1" } },
	    "request.sign.signed_body", "must be a string" },
	{ "hex_length negative", { { "request.sign.mode", "\"resized\"" },
	    { "request.sign.hex_length", "-1" } },
	    "request.sign.hex_length", "must be an integer 0-511" },
	{ "literal without signature",
	    { { "request.sign.mode", "\"literal\"" } },
	    "request.sign.signature", "is required with mode \"literal\"" },
	{ "literal newline", { { "request.sign.mode", "\"literal\"" },
	    { "request.sign.signature", "\"ab\\ncd\"" } },
	    "request.sign.signature", "must contain only printable ASCII" },
	{ "offset without timestamp",
	    { { "request.sign.mode", "\"omit_both\"" },
	    { "request.sign.timestamp_offset", "-600" } },
	    "request.sign.timestamp_offset",
	    "mode \"omit_both\" sends no timestamp" },
	{ "offset and timestamp", { { "request.sign.timestamp_offset", "1" },
	    { "request.sign.timestamp", "\"1\"" } },
	    "request.sign.timestamp", "must not be given together" },
	{ "offset too large",
	    { { "request.sign.timestamp_offset", "99999999999" } },
	    "request.sign.timestamp_offset", "must be an integer" },
	{ "timestamp control", { { "request.sign.timestamp", "\"1\\t2\"" } },
	    "request.sign.timestamp", "must contain only printable ASCII" },
	{ "expect missing", { { "expect", NULL } }, "expect", "is required" },
	{ "expect array", { { "expect", "[]" } },
	    "expect", "must be an object" },
	{ "expect unknown field", { { "expect.latency", "1" } },
	    "expect.latency", "unknown field" },
	{ "body two matches",
	    { { "expect.body", "{\"exact\": \"a\", \"json_subset\": {}}" } },
	    "expect.body", "must be an object with exactly one of" },
	{ "body unknown match", { { "expect.body", "{\"regex\": \"a\"}" } },
	    "expect.body.regex", "unknown field" },
	{ "body exact number", { { "expect.body", "{\"exact\": 1}" } },
	    "expect.body.exact", "must be a string" },
	{ "subset_any empty", { { "expect.body", "{\"json_subset_any\": []}" } },
	    "expect.body.json_subset_any", "must be a non-empty array" },
	{ "expect headers string", { { "expect.headers", "\"json\"" } },
	    "expect.headers", "must be an object" },
	{ "expect header number",
	    { { "expect.headers.Content-Type", "true" } },
	    "expect.headers.Content-Type", "must be a string" },
};

static char scratch[PATH_MAX];

/* Creates an empty scratch folder for one case. */
static void
make_scratch(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(scratch, sizeof(scratch), "%s/test_vectors.XXXXXX",
	    tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	assert_non_null(mkdtemp(scratch));
}

static void
remove_scratch(void)
{
	char path[PATH_MAX + 256];
	struct dirent *de;
	DIR *d;

	assert_non_null(d = opendir(scratch));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", scratch, de->d_name);
		if (unlink(path) == -1)
			assert_int_equal(rmdir(path), 0);
	}
	closedir(d);
	assert_int_equal(rmdir(scratch), 0);
}

static void
write_file(const char *name, const char *text)
{
	char path[PATH_MAX + 256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", scratch, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
write_json(const char *name, json_t *value)
{
	char path[PATH_MAX + 256];

	snprintf(path, sizeof(path), "%s/%s", scratch, name);
	assert_int_equal(json_dump_file(value, path, JSON_INDENT(2)), 0);
}

/* Writes the base vector with its name replaced and optional set. */
static void
write_named(const char *file, const char *name, int optional)
{
	json_t *v;

	assert_non_null(v = json_loads(base_vector, 0, NULL));
	assert_int_equal(json_object_set_new(v, "name", json_string(name)), 0);
	if (optional)
		assert_int_equal(json_object_set_new(v, "optional",
		    json_true()), 0);
	write_json(file, v);
	json_decref(v);
}

/* Applies one change to the base vector: walks the dotted field path. */
static void
apply_change(json_t *root, const struct change *c)
{
	char path[128], *dot, *key = path;
	json_t *parent = root, *value;

	snprintf(path, sizeof(path), "%s", c->field);
	while ((dot = strchr(key, '.')) != NULL) {
		*dot = '\0';
		parent = json_object_get(parent, key);
		assert_non_null(parent);
		key = dot + 1;
	}
	if (c->json == NULL) {
		assert_int_equal(json_object_del(parent, key), 0);
		return;
	}
	value = json_loads(c->json, JSON_DECODE_ANY, NULL);
	assert_non_null(value);
	assert_int_equal(json_object_set_new(parent, key, value), 0);
}

/* Loads dir and checks that the message begins with expected. */
static void
expect_folder_rejected(const char *dir, const char *case_name,
    const char *expected)
{
	char err[VECTORS_ERROR_MAX];
	struct vector_set *set;

	err[0] = '\0';
	set = vectors_load(dir, err, sizeof(err));
	if (set != NULL) {
		vectors_free(set);
		fail_msg("case %s: loaded, expected \"%s\"", case_name,
		    expected);
	}
	if (strncmp(err, expected, strlen(expected)) != 0)
		fail_msg("case %s: message \"%s\", expected it to begin with "
		    "\"%s\"", case_name, err, expected);
}

/* Loads the scratch folder and checks the message begins with expected. */
static void
expect_rejected(const char *case_name, const char *expected)
{
	expect_folder_rejected(scratch, case_name, expected);
}

static void
malformed_fields_named(void **state)
{
	char expected[PATH_MAX + 512];
	json_t *root;
	size_t i, j;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		make_scratch();
		root = json_loads(base_vector, 0, NULL);
		assert_non_null(root);
		for (j = 0; j < 2 && bad_cases[i].changes[j].field != NULL; j++)
			apply_change(root, &bad_cases[i].changes[j]);
		write_json("case.json", root);
		json_decref(root);

		snprintf(expected, sizeof(expected), "vectors: %s/case.json: "
		    "field \"%s\": %s", scratch, bad_cases[i].field,
		    bad_cases[i].message);
		expect_rejected(bad_cases[i].name, expected);
		remove_scratch();
	}
}

static void
description_too_long(void **state)
{
	char expected[PATH_MAX + 512], text[VECTORS_DESCRIPTION_MAX + 1];
	json_t *root;

	memset(text, 'd', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	make_scratch();
	assert_non_null(root = json_loads(base_vector, 0, NULL));
	assert_int_equal(json_object_set_new(root, "description",
	    json_string(text)), 0);
	write_json("case.json", root);
	json_decref(root);
	snprintf(expected, sizeof(expected), "vectors: %s/case.json: field "
	    "\"description\": must be at most 1023 bytes", scratch);
	expect_rejected("description too long", expected);
	remove_scratch();
}

struct raw_case {
	const char	*name;
	const char	*text;
	const char	*message;	/* after "vectors: FILE: " */
};

static void
malformed_files_named(void **state)
{
	static const struct raw_case cases[] = {
		{ "array", "[]", "must contain one JSON object" },
		{ "string", "\"ping\"", "invalid JSON at line 1" },
		{ "cut short", "{\"name\": ", "invalid JSON at line 1" },
		{ "empty", "", "invalid JSON at line" },
		{ "duplicate key", "{\"name\": \"a\", \"name\": \"b\"}",
		    "invalid JSON at line 1" },
	};
	char expected[PATH_MAX + 512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		make_scratch();
		write_file("case.json", cases[i].text);
		snprintf(expected, sizeof(expected), "vectors: %s/case.json: "
		    "%s", scratch, cases[i].message);
		expect_rejected(cases[i].name, expected);
		remove_scratch();
	}
}

static void
file_size_limit(void **state)
{
	char expected[PATH_MAX + 512], *text;

	/* A valid JSON string one byte over the limit. */
	text = malloc(VECTORS_FILE_SIZE_MAX + 2);
	assert_non_null(text);
	memset(text, ' ', VECTORS_FILE_SIZE_MAX + 1);
	text[0] = '"';
	text[VECTORS_FILE_SIZE_MAX] = '"';
	text[VECTORS_FILE_SIZE_MAX + 1] = '\0';
	make_scratch();
	write_file("big.json", text);
	free(text);
	snprintf(expected, sizeof(expected), "vectors: %s/big.json: larger "
	    "than %d bytes", scratch, VECTORS_FILE_SIZE_MAX);
	expect_rejected("file too large", expected);
	remove_scratch();
}

static void
folder_errors(void **state)
{
	char expected[2 * PATH_MAX + 512], name[32], path[PATH_MAX + 64];
	int i;

	make_scratch();
	snprintf(expected, sizeof(expected), "vectors: %s: no *.json files",
	    scratch);
	write_file("notes.txt", "not a vector");
	expect_rejected("empty folder", expected);

	write_named("a.json", "a", 1);
	snprintf(expected, sizeof(expected), "vectors: %s: every vector is "
	    "optional", scratch);
	expect_rejected("only optional", expected);

	write_named("b.json", "a", 0);
	snprintf(expected, sizeof(expected), "vectors: %s/b.json: field "
	    "\"name\": \"a\" is already used by %s/a.json", scratch, scratch);
	expect_rejected("duplicate name", expected);
	remove_scratch();

	make_scratch();
	snprintf(path, sizeof(path), "%s/sub.json", scratch);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(expected, sizeof(expected), "vectors: %s/sub.json: not a "
	    "regular file", scratch);
	expect_rejected("folder named .json", expected);
	remove_scratch();

	make_scratch();
	for (i = 0; i <= VECTORS_FILES_MAX; i++) {
		snprintf(name, sizeof(name), "v%03d.json", i);
		write_file(name, "{}");
	}
	snprintf(expected, sizeof(expected), "vectors: %s: more than %d "
	    "vector files", scratch, VECTORS_FILES_MAX);
	expect_rejected("too many files", expected);
	remove_scratch();

	snprintf(path, sizeof(path), "%s/missing", scratch);
	snprintf(expected, sizeof(expected), "vectors: %s: No such file",
	    path);
	expect_folder_rejected(path, "missing folder", expected);
}

static void
order_and_skipped_files(void **state)
{
	char err[VECTORS_ERROR_MAX];
	struct vector_set *set;

	make_scratch();
	write_named("b.json", "b", 0);
	write_named("a.json", "a", 1);
	write_named("10.json", "ten", 0);
	write_file(".hidden.json", "not JSON");
	write_file("notes.txt", "not JSON");
	write_file("c.json~", "not JSON");

	set = vectors_load(scratch, err, sizeof(err));
	if (set == NULL)
		fail_msg("load failed: %s", err);
	assert_int_equal(set->count, 3);
	assert_int_equal(set->required, 2);
	assert_string_equal(set->vectors[0].name, "ten");
	assert_string_equal(set->vectors[1].name, "a");
	assert_true(set->vectors[1].optional);
	assert_string_equal(set->vectors[2].name, "b");
	vectors_free(set);
	remove_scratch();
}

/* Every field of a vector that sets all of them lands in the struct. */
static void
fields_parsed(void **state)
{
	static const char text[] =
	    "{\"name\": \"full.v1_x\", \"description\": \"All fields.\","
	    " \"optional\": false,"
	    " \"request\": {\"method\": \"PUT\", \"path\": \"/a?b=c\","
	    "  \"headers\": {\"X-One\": \"1\", \"X-Empty\": \"\"},"
	    "  \"body\": \"a\\u0000b\\u00e9\","
	    "  \"sign\": {\"mode\": \"body_changed\", \"signed_body\": \"x\","
	    "   \"timestamp_offset\": -600}},"
	    " \"expect\": {\"status\": [400, 401],"
	    "  \"body\": {\"json_subset_any\": [{\"type\": 4}, {\"type\": 5}]},"
	    "  \"headers\": {\"Content-Type\": \"application/json\"}}}";
	char err[VECTORS_ERROR_MAX], path[PATH_MAX + 64];
	struct vector v;

	make_scratch();
	write_file("full.json", text);
	snprintf(path, sizeof(path), "%s/full.json", scratch);
	if (vectors_load_file(path, &v, err, sizeof(err)) == -1)
		fail_msg("load failed: %s", err);
	assert_string_equal(v.file, path);
	assert_string_equal(v.name, "full.v1_x");
	assert_string_equal(v.description, "All fields.");
	assert_false(v.optional);
	assert_string_equal(v.request.method, "PUT");
	assert_string_equal(v.request.path, "/a?b=c");
	assert_int_equal(v.request.nheaders, 2);
	assert_string_equal(v.request.headers[1].name, "X-Empty");
	assert_string_equal(v.request.headers[1].value, "");
	/* The body keeps its NUL and the two UTF-8 bytes of U+00E9. */
	assert_int_equal(v.request.body_len, 5);
	assert_memory_equal(v.request.body, "a\0b\xc3\xa9", 5);
	assert_int_equal(v.request.sign.mode, VECTOR_SIGN_BODY_CHANGED);
	assert_int_equal(v.request.sign.signed_body_len, 1);
	assert_int_equal(v.request.sign.timestamp_offset, -600);
	assert_null(v.request.sign.timestamp);
	assert_int_equal(v.expect.nstatus, 2);
	assert_int_equal(v.expect.status[1], 401);
	assert_int_equal(v.expect.body_match, VECTOR_BODY_JSON_SUBSET_ANY);
	assert_int_equal(json_array_size(v.expect.json), 2);
	assert_int_equal(v.expect.nheaders, 1);
	vectors_clear(&v);
	remove_scratch();
}

/* The folder of the shipped discord-webhook vectors, in the source tree. */
static void
shipped_folder(char *buf, size_t size)
{
	const char *top = getenv("PERF_AGENT_SRCDIR");

	snprintf(buf, size, "%s/contract/discord-webhook/test-vectors",
	    top != NULL && top[0] != '\0' ? top : TOP_SRCDIR);
}

static size_t
count_json_files(const char *dir)
{
	struct dirent *de;
	size_t n = 0, len;
	DIR *d;

	assert_non_null(d = opendir(dir));
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (de->d_name[0] != '.' && len > 5 &&
		    strcmp(de->d_name + len - 5, ".json") == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
shipped_vectors_load(void **state)
{
	static struct servicetype_request req;
	char dir[PATH_MAX], err[VECTORS_ERROR_MAX];
	unsigned int modes = 0;
	struct vector_set *set;
	const struct vector *ping;
	void *discord;
	size_t i;

	shipped_folder(dir, sizeof(dir));
	set = vectors_load(dir, err, sizeof(err));
	if (set == NULL)
		fail_msg("shipped vectors: %s", err);
	assert_int_equal(set->count, count_json_files(dir));
	assert_true(set->required >= 20);
	assert_true(set->required < set->count);

	/* The first file is the plain signed PING. */
	ping = &set->vectors[0];
	assert_string_equal(ping->name, "ping");
	assert_int_equal(ping->request.sign.mode, VECTOR_SIGN_VALID);
	assert_int_equal(ping->expect.nstatus, 1);
	assert_int_equal(ping->expect.status[0], 200);
	assert_int_equal(ping->expect.body_match, VECTOR_BODY_EXACT);
	assert_int_equal(ping->expect.body_len, 10);
	assert_memory_equal(ping->expect.body, "{\"type\":1}", 10);

	/* Every vector can be prepared, and together they use every mode
	 * but "none". */
	assert_non_null(discord = discord_servicetype.create(NULL, 0, err,
	    sizeof(err)));
	for (i = 0; i < set->count; i++) {
		if (discord_servicetype.prepare_vector(discord,
		    &set->vectors[i], 1700000000, &req, err, sizeof(err)) == -1)
			fail_msg("vector %s: %s", set->vectors[i].name, err);
		modes |= 1u << set->vectors[i].request.sign.mode;
	}
	discord_servicetype.destroy(discord);
	assert_int_equal(modes, ((1u << (VECTOR_SIGN_LITERAL + 1)) - 1) &
	    ~(1u << VECTOR_SIGN_NONE));
	vectors_free(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shipped_vectors_load),
		cmocka_unit_test(fields_parsed),
		cmocka_unit_test(order_and_skipped_files),
		cmocka_unit_test(malformed_fields_named),
		cmocka_unit_test(description_too_long),
		cmocka_unit_test(malformed_files_named),
		cmocka_unit_test(file_size_limit),
		cmocka_unit_test(folder_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

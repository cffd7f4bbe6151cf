/* Validation and normalization of Agent API request bodies. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runplan.h"
#include "validate.h"

/* Bytes of a client-supplied key or value quoted in a message or field. */
#define EXCERPT_MAX	64

/* A field path being built, like "agent_config.test_matrix.cpu[2]". */
struct path {
	char	buf[256];
	size_t	len;
};

static const char *const run_id_keys[] = { "run_id", NULL };

/* Drops a UTF-8 sequence cut short at the end of s. */
static void
utf8_trim_end(char *s)
{
	size_t len = strlen(s), start = len, need;
	unsigned char c;

	while (start > 0 && ((unsigned char)s[start - 1] & 0xc0) == 0x80 &&
	    len - start < 3)
		start--;
	if (start == 0)
		return;
	c = (unsigned char)s[start - 1];
	if (c < 0x80)
		return;
	if (c >= 0xf0)
		need = 4;
	else if (c >= 0xe0)
		need = 3;
	else
		need = 2;
	if (len - (start - 1) < need)
		s[start - 1] = '\0';
}

/* Copies at most EXCERPT_MAX bytes of s into buf, whole UTF-8 sequences
 * only, with "..." when cut. */
static const char *
excerpt(char *buf, size_t size, const char *s)
{
	snprintf(buf, size, "%.*s", EXCERPT_MAX, s);
	utf8_trim_end(buf);
	if (strlen(s) > strlen(buf) && strlen(buf) + 4 <= size)
		memcpy(buf + strlen(buf), "...", 4);
	return buf;
}

/* Fills err and returns -1. */
static int __attribute__((format(printf, 4, 5)))
api_fail(struct api_error *err, const char *code, const char *field,
    const char *fmt, ...)
{
	va_list ap;

	err->status = 400;
	snprintf(err->code, sizeof(err->code), "%s", code);
	snprintf(err->field, sizeof(err->field), "%s", field);
	utf8_trim_end(err->field);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	utf8_trim_end(err->message);
	return -1;
}

/* Fills err with a 500 for a failed allocation and returns -1. */
static int
api_nomem(struct api_error *err)
{
	api_fail(err, "internal", "", "out of memory");
	err->status = 500;
	return -1;
}

/* Sets obj[key] to value (stolen). A NULL value means its parser already
 * filled err. */
static int
put(json_t *obj, const char *key, json_t *value, struct api_error *err)
{
	if (value == NULL)
		return -1;
	if (json_object_set_new(obj, key, value) == -1)
		return api_nomem(err);
	return 0;
}

static void
path_set(struct path *p, const char *s)
{
	snprintf(p->buf, sizeof(p->buf), "%s", s);
	p->len = strlen(p->buf);
}

/* Appends ".key" (or "key" at the top level); returns the old length. */
static size_t
path_key(struct path *p, const char *key)
{
	size_t saved = p->len;
	char part[EXCERPT_MAX + 4];

	snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "%s%s",
	    p->len > 0 ? "." : "", excerpt(part, sizeof(part), key));
	p->len = strlen(p->buf);
	return saved;
}

/* Appends "[index]"; returns the old length. */
static size_t
path_index(struct path *p, size_t index)
{
	size_t saved = p->len;

	snprintf(p->buf + p->len, sizeof(p->buf) - p->len, "[%zu]", index);
	p->len = strlen(p->buf);
	return saved;
}

static void
path_pop(struct path *p, size_t saved)
{
	p->len = saved;
	p->buf[saved] = '\0';
}

static const char *
type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		break;
	}
	return "null";
}

/* Rejects containers nested deeper than VALIDATE_MAX_DEPTH and strings or
 * keys longer than VALIDATE_MAX_STRING bytes. */
static int
check_limits(json_t *v, int depth, struct path *p,
    struct api_error *err)
{
	const char *key;
	json_t *item;
	size_t i, saved;

	if ((json_is_object(v) || json_is_array(v)) &&
	    depth > VALIDATE_MAX_DEPTH)
		return api_fail(err, "too_deep", p->buf, "the body is nested "
		    "deeper than %d levels", VALIDATE_MAX_DEPTH);
	if (json_is_string(v) && json_string_length(v) > VALIDATE_MAX_STRING)
		return api_fail(err, "string_too_long", p->buf, "strings may "
		    "have at most %d bytes", VALIDATE_MAX_STRING);
	if (json_is_object(v)) {
		json_object_foreach(v, key, item) {
			if (strlen(key) > VALIDATE_MAX_STRING)
				return api_fail(err, "string_too_long", p->buf,
				    "object keys may have at most %d bytes",
				    VALIDATE_MAX_STRING);
			saved = path_key(p, key);
			if (check_limits(item, depth + 1, p, err) == -1)
				return -1;
			path_pop(p, saved);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item) {
			saved = path_index(p, i);
			if (check_limits(item, depth + 1, p, err) == -1)
				return -1;
			path_pop(p, saved);
		}
	}
	return 0;
}

/* Replaces every non-ASCII byte of s with '?' unless s is valid UTF-8. */
static void
text_make_utf8(char *s)
{
	json_t *v;

	if ((v = json_string(s)) != NULL) {
		json_decref(v);
		return;
	}
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			*s = '?';
}

/* Parses a body that must be one JSON object within the limits. */
static json_t *
parse_body(const char *body, size_t len, struct api_error *err)
{
	struct path p = { "", 0 };
	json_error_t jerr;
	json_t *root;

	root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
	    &jerr);
	if (root == NULL) {
		/* jansson quotes the bytes near the error, which may be a
		 * piece of a UTF-8 sequence, and the message must stay valid
		 * UTF-8 to go into a JSON error body. */
		text_make_utf8(jerr.text);
		api_fail(err, "invalid_json", "", "invalid JSON at line %d, "
		    "column %d (byte %d): %s", jerr.line, jerr.column,
		    jerr.position, jerr.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		api_fail(err, "invalid_body", "", "the body must be a JSON "
		    "object, not %s", type_name(root));
		json_decref(root);
		return NULL;
	}
	if (check_limits(root, 1, &p, err) == -1) {
		json_decref(root);
		return NULL;
	}
	return root;
}

/* Rejects any key of obj that allowed (NULL-terminated) does not list. */
static int
check_known_keys(json_t *obj, const char *path,
    const char *const *allowed, const char *what, struct api_error *err)
{
	char list[256] = "", quoted[EXCERPT_MAX + 4];
	const char *key;
	json_t *item;
	struct path p;
	size_t i;

	json_object_foreach(obj, key, item) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] != NULL)
			continue;
		for (i = 0; allowed[i] != NULL; i++)
			snprintf(list + strlen(list), sizeof(list) -
			    strlen(list), "%s%s", i > 0 ? ", " : "",
			    allowed[i]);
		path_set(&p, path);
		path_key(&p, key);
		return api_fail(err, "unknown_field", p.buf, "unknown %s "
		    "\"%s\"; allowed: %s", what, excerpt(quoted,
		    sizeof(quoted), key), list);
	}
	return 0;
}

/*
 * Looks a member up. Returns 1 when present, 0 when absent and optional,
 * -1 with missing_field when absent and required.
 */
static int
member(const json_t *obj, const char *path, const char *key, int required,
    json_t **out, struct api_error *err)
{
	struct path p;

	*out = json_object_get(obj, key);
	if (*out != NULL)
		return 1;
	if (!required)
		return 0;
	path_set(&p, path);
	path_key(&p, key);
	return api_fail(err, "missing_field", p.buf, "%s is required", p.buf);
}

/* Checks that v is an integer in [min, max]. */
static int
check_int(const json_t *v, const char *field, json_int_t min, json_int_t max,
    struct api_error *err)
{
	if (!json_is_integer(v))
		return api_fail(err, "invalid_type", field, "%s must be an "
		    "integer, not %s", field, type_name(v));
	if (json_integer_value(v) < min || json_integer_value(v) > max)
		return api_fail(err, "out_of_range", field, "%s must be between "
		    "%" JSON_INTEGER_FORMAT " and %" JSON_INTEGER_FORMAT
		    ", not %" JSON_INTEGER_FORMAT, field, min, max,
		    json_integer_value(v));
	return 0;
}

/*
 * Reads an integer member in [min, max] into *out, or def when it is
 * absent and optional. Returns 1 when present, 0 when absent, -1 on error.
 */
static int
get_int(const json_t *obj, const char *path, const char *key, int required,
    json_int_t min, json_int_t max, json_int_t def, json_int_t *out,
    struct api_error *err)
{
	struct path p;
	json_t *v;
	int rc;

	*out = def;
	if ((rc = member(obj, path, key, required, &v, err)) != 1)
		return rc;
	path_set(&p, path);
	path_key(&p, key);
	if (check_int(v, p.buf, min, max, err) == -1)
		return -1;
	*out = json_integer_value(v);
	return 1;
}

/* Checks that v is one of the strings in values (NULL-terminated). */
static int
check_enum(const json_t *v, const char *field, const char *const *values,
    struct api_error *err)
{
	char list[128] = "", quoted[EXCERPT_MAX + 4];
	size_t i;

	if (!json_is_string(v))
		return api_fail(err, "invalid_type", field, "%s must be a "
		    "string, not %s", field, type_name(v));
	for (i = 0; values[i] != NULL; i++)
		if (strcmp(json_string_value(v), values[i]) == 0)
			return 0;
	for (i = 0; values[i] != NULL; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    "%s\"%s\"", i == 0 ? "" : values[i + 1] == NULL ? " or " :
		    ", ", values[i]);
	return api_fail(err, "invalid_value", field, "%s must be %s, not "
	    "\"%s\"", field, list, excerpt(quoted, sizeof(quoted),
	    json_string_value(v)));
}

/* Reads an optional enum member, def when absent; returns the value. */
static const char *
get_enum(const json_t *obj, const char *path, const char *key,
    const char *const *values, const char *def, struct api_error *err)
{
	struct path p;
	json_t *v;

	if ((v = json_object_get(obj, key)) == NULL)
		return def;
	path_set(&p, path);
	path_key(&p, key);
	if (check_enum(v, p.buf, values, err) == -1)
		return NULL;
	return json_string_value(v);
}

/* Gets a member that must be an object; 0 when absent and optional. */
static int
get_object(const json_t *obj, const char *path, const char *key,
    int required, json_t **out, struct api_error *err)
{
	struct path p;
	int rc;

	if ((rc = member(obj, path, key, required, out, err)) != 1)
		return rc;
	if (json_is_object(*out))
		return 1;
	path_set(&p, path);
	path_key(&p, key);
	return api_fail(err, "invalid_type", p.buf, "%s must be an object, "
	    "not %s", p.buf, type_name(*out));
}

/* Matches ^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$. */
int
validate_run_id(const char *run_id, struct api_error *err)
{
	size_t len = strlen(run_id);
	char quoted[EXCERPT_MAX + 4];

	if (len >= 1 && len <= VALIDATE_RUN_ID_MAX &&
	    strchr(".-_", run_id[0]) == NULL && strspn(run_id,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	    "._-") == len)
		return 0;
	return api_fail(err, "invalid_value", "run_id", "run_id must be 1 to "
	    "%d letters, digits, '.', '_' or '-' starting with a letter or "
	    "digit, not \"%s\"", VALIDATE_RUN_ID_MAX, excerpt(quoted,
	    sizeof(quoted), run_id));
}

/* Copies the required run_id of in into out after checking it. */
static int
take_run_id(const json_t *in, json_t *out, struct api_error *err)
{
	json_t *v;

	if (member(in, "", "run_id", 1, &v, err) == -1)
		return -1;
	if (!json_is_string(v))
		return api_fail(err, "invalid_type", "run_id", "run_id must be a "
		    "string, not %s", type_name(v));
	if (validate_run_id(json_string_value(v), err) == -1)
		return -1;
	if (json_object_set(out, "run_id", v) == -1)
		return api_nomem(err);
	return 0;
}

/* Matches ^[a-z][a-z0-9-]*$ with at most MANIFEST_NAME_MAX characters. */
static int
is_impl_name(const char *s)
{
	size_t len = strlen(s);

	return len >= 1 && len <= MANIFEST_NAME_MAX && s[0] >= 'a' &&
	    s[0] <= 'z' && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-")
	    == len;
}

/* Checks an implementations array of min to 64 unique names; returns a
 * copy of it. */
static json_t *
parse_impl_list(const json_t *v, const char *field, size_t min,
    struct api_error *err)
{
	char quoted[EXCERPT_MAX + 4];
	json_t *item;
	struct path p;
	size_t i, j;

	if (!json_is_array(v)) {
		api_fail(err, "invalid_type", field, "%s must be an array of "
		    "strings, not %s", field, type_name(v));
		return NULL;
	}
	if (json_array_size(v) < min ||
	    json_array_size(v) > VALIDATE_MAX_IMPLEMENTATIONS) {
		api_fail(err, "out_of_range", field, "%s must list %zu to %d "
		    "implementations, not %zu", field, min,
		    VALIDATE_MAX_IMPLEMENTATIONS, json_array_size(v));
		return NULL;
	}
	path_set(&p, field);
	json_array_foreach(v, i, item) {
		path_index(&p, i);
		if (!json_is_string(item)) {
			api_fail(err, "invalid_type", p.buf, "%s must be a "
			    "string, not %s", p.buf, type_name(item));
			return NULL;
		}
		if (!is_impl_name(json_string_value(item))) {
			api_fail(err, "invalid_value", p.buf, "%s must be 1 to "
			    "%d lowercase letters, digits or '-' starting with "
			    "a letter, not \"%s\"", p.buf, MANIFEST_NAME_MAX,
			    excerpt(quoted, sizeof(quoted),
			    json_string_value(item)));
			return NULL;
		}
		for (j = 0; j < i; j++)
			if (json_equal(item, json_array_get(v, j))) {
				api_fail(err, "duplicate_value", p.buf,
				    "implementation \"%s\" is listed twice",
				    json_string_value(item));
				return NULL;
			}
		path_set(&p, field);
	}
	return json_deep_copy(v);
}

/* The counts shared by /deploy's benchmark_config and /benchmark's config. */
static int
parse_counts(const json_t *sec, const char *path, json_t *out,
    struct api_error *err)
{
	json_int_t iterations, count, concurrency;
	struct path p;

	if (get_int(sec, path, "cold_start_iterations", 1, 1, 1000, 0,
	    &iterations, err) == -1 ||
	    get_int(sec, path, "warm_request_count", 1, 1, 1000000, 0, &count,
	    err) == -1 ||
	    get_int(sec, path, "warm_request_concurrency", 1, 1, 1000, 0,
	    &concurrency, err) == -1)
		return -1;
	if (concurrency > count) {
		path_set(&p, path);
		path_key(&p, "warm_request_concurrency");
		return api_fail(err, "out_of_range", p.buf, "%s (%"
		    JSON_INTEGER_FORMAT ") must not exceed warm_request_count "
		    "(%" JSON_INTEGER_FORMAT ")", p.buf, concurrency, count);
	}
	if (json_object_set_new(out, "cold_start_iterations",
	    json_integer(iterations)) == -1 ||
	    json_object_set_new(out, "warm_request_count",
	    json_integer(count)) == -1 ||
	    json_object_set_new(out, "warm_request_concurrency",
	    json_integer(concurrency)) == -1)
		return api_nomem(err);
	return 0;
}

/* Reads the open-loop fields, which only warm_mode "open" allows. */
static int
parse_warm_mode(const json_t *sec, const char *mode, json_t *out,
    struct api_error *err)
{
	const char *path = "benchmark_config";
	json_int_t duration;
	json_t *rate;
	struct path p;

	if (strcmp(mode, "closed") == 0) {
		if (json_object_get(sec, "warm_rate_rps") != NULL ||
		    json_object_get(sec, "warm_duration_s") != NULL) {
			path_set(&p, path);
			path_key(&p, json_object_get(sec, "warm_rate_rps") !=
			    NULL ? "warm_rate_rps" : "warm_duration_s");
			return api_fail(err, "invalid_combination", p.buf,
			    "%s is only allowed with warm_mode \"open\"",
			    p.buf);
		}
		return 0;
	}
	if (member(sec, path, "warm_rate_rps", 1, &rate, err) == -1)
		return -1;
	if (!json_is_number(rate))
		return api_fail(err, "invalid_type",
		    "benchmark_config.warm_rate_rps", "benchmark_config."
		    "warm_rate_rps must be a number, not %s", type_name(rate));
	if (!(json_number_value(rate) > 0) ||
	    json_number_value(rate) > 100000)
		return api_fail(err, "out_of_range",
		    "benchmark_config.warm_rate_rps", "benchmark_config."
		    "warm_rate_rps must be above 0 and at most 100000");
	if (get_int(sec, path, "warm_duration_s", 1, 1, 3600, 0, &duration,
	    err) == -1)
		return -1;
	/* A real, so that 50 and 50.0 normalize alike. */
	if (json_object_set_new(out, "warm_rate_rps",
	    json_real(json_number_value(rate))) == -1 ||
	    json_object_set_new(out, "warm_duration_s",
	    json_integer(duration)) == -1)
		return api_nomem(err);
	return 0;
}

/* Parses /deploy's benchmark_config with its extensions. */
static json_t *
parse_benchmark_config(const json_t *in, struct api_error *err)
{
	static const char *const keys[] = { "cold_start_iterations",
	    "warm_request_count", "warm_request_concurrency",
	    "cold_start_strategy", "warm_mode", "warm_rate_rps",
	    "warm_duration_s", NULL };
	static const char *const strategies[] = { "rounds", "replicas", NULL };
	static const char *const modes[] = { "closed", "open", NULL };
	const char *strategy, *mode;
	json_t *sec, *out;

	if (get_object(in, "", "benchmark_config", 1, &sec, err) == -1 ||
	    check_known_keys(sec, "benchmark_config", keys, "field",
	    err) == -1)
		return NULL;
	if ((out = json_object()) == NULL) {
		api_nomem(err);
		return NULL;
	}
	if (parse_counts(sec, "benchmark_config", out, err) == -1)
		goto fail;
	if ((strategy = get_enum(sec, "benchmark_config",
	    "cold_start_strategy", strategies, "rounds", err)) == NULL ||
	    (mode = get_enum(sec, "benchmark_config", "warm_mode", modes,
	    "closed", err)) == NULL)
		goto fail;
	if (json_object_set_new(out, "cold_start_strategy",
	    json_string(strategy)) == -1 || json_object_set_new(out,
	    "warm_mode", json_string(mode)) == -1) {
		api_nomem(err);
		goto fail;
	}
	if (parse_warm_mode(sec, mode, out, err) == -1)
		goto fail;
	return out;

fail:
	json_decref(out);
	return NULL;
}

enum dim_kind {
	KIND_ENUM,
	KIND_MEMORY,
	KIND_BOOLEAN,
	KIND_INTEGER,
};

static const char *const cpu_values[] = { "1", "2", "4", "8", NULL };
static const char *const environment_values[] = { "gen1", "gen2", NULL };

/* The test_matrix dimensions and the values each accepts. cpu lists the
 * CPU limits Cloud Run allows for services whose CPU is allocated only
 * during requests. */
static const struct dim_rule {
	const char		*name;
	enum dim_kind		 kind;
	json_int_t		 min, max;
	const char *const	*values;
} dim_rules[] = {
	{ "cpu", KIND_ENUM, 0, 0, cpu_values },
	{ "memory", KIND_MEMORY, 128, 32 * 1024, NULL },
	{ "startup_boost", KIND_BOOLEAN, 0, 0, NULL },
	{ "concurrency", KIND_INTEGER, 1, 1000, NULL },
	{ "execution_environment", KIND_ENUM, 0, 0, environment_values },
	{ "max_instances", KIND_INTEGER, 1, 1000, NULL },
};

static const char *const dim_names[] = { "cpu", "memory", "startup_boost",
    "concurrency", "execution_environment", "max_instances", NULL };

/* Checks one value of a dimension. */
static int
check_dim_value(const struct dim_rule *rule, const json_t *v,
    const char *field, struct api_error *err)
{
	char quoted[EXCERPT_MAX + 4];
	long mib;

	switch (rule->kind) {
	case KIND_ENUM:
		return check_enum(v, field, rule->values, err);
	case KIND_BOOLEAN:
		if (json_is_boolean(v))
			return 0;
		return api_fail(err, "invalid_type", field, "%s must be a "
		    "boolean, not %s", field, type_name(v));
	case KIND_INTEGER:
		return check_int(v, field, rule->min, rule->max, err);
	case KIND_MEMORY:
		break;
	}
	if (!json_is_string(v))
		return api_fail(err, "invalid_type", field, "%s must be a "
		    "string like \"512Mi\" or \"2Gi\", not %s", field,
		    type_name(v));
	if (runplan_memory_mib(json_string_value(v), &mib) == -1)
		return api_fail(err, "invalid_value", field, "%s must be a "
		    "whole number followed by Mi or Gi, like \"512Mi\" or "
		    "\"2Gi\", not \"%s\"", field, excerpt(quoted,
		    sizeof(quoted), json_string_value(v)));
	if (mib < rule->min || mib > rule->max)
		return api_fail(err, "out_of_range", field, "%s must be "
		    "between 128Mi and 32Gi, not %s", field,
		    json_string_value(v));
	return 0;
}

/* Compares two values of a dimension; memory compares the amounts, so
 * "1Gi" and "1024Mi" are the same value. */
static int
dim_values_equal(const struct dim_rule *rule, const json_t *a,
    const json_t *b)
{
	long ma, mb;

	if (rule->kind != KIND_MEMORY)
		return json_equal(a, b);
	return runplan_memory_mib(json_string_value(a), &ma) == 0 &&
	    runplan_memory_mib(json_string_value(b), &mb) == 0 && ma == mb;
}

/* Checks one dimension's array of 1 to VALIDATE_MAX_DIMENSION_VALUES
 * distinct values. */
static int
check_dimension(const struct dim_rule *rule, const json_t *values,
    struct api_error *err)
{
	struct path p;
	json_t *v;
	size_t i, j, saved;

	path_set(&p, "agent_config.test_matrix");
	path_key(&p, rule->name);
	if (!json_is_array(values))
		return api_fail(err, "invalid_type", p.buf, "%s must be an "
		    "array, not %s", p.buf, type_name(values));
	if (json_array_size(values) < 1 ||
	    json_array_size(values) > VALIDATE_MAX_DIMENSION_VALUES)
		return api_fail(err, "out_of_range", p.buf, "%s must list 1 to "
		    "%d values, not %zu", p.buf, VALIDATE_MAX_DIMENSION_VALUES,
		    json_array_size(values));
	json_array_foreach(values, i, v) {
		saved = path_index(&p, i);
		if (check_dim_value(rule, v, p.buf, err) == -1)
			return -1;
		for (j = 0; j < i; j++)
			if (dim_values_equal(rule, v, json_array_get(values,
			    j)))
				return api_fail(err, "duplicate_value", p.buf,
				    "%s repeats the value of %s[%zu]", p.buf,
				    rule->name, j);
		path_pop(&p, saved);
	}
	return 0;
}

/* Parses agent_config.test_matrix; returns a copy ({} when absent). */
static json_t *
parse_matrix(const json_t *ac, struct api_error *err)
{
	json_t *matrix, *values;
	size_t i;
	int rc;

	rc = get_object(ac, "agent_config", "test_matrix", 0, &matrix, err);
	if (rc == -1)
		return NULL;
	if (rc == 0)
		return json_object();
	if (check_known_keys(matrix, "agent_config.test_matrix", dim_names,
	    "test_matrix dimension", err) == -1)
		return NULL;
	for (i = 0; i < sizeof(dim_rules) / sizeof(dim_rules[0]); i++) {
		values = json_object_get(matrix, dim_rules[i].name);
		if (values != NULL && check_dimension(&dim_rules[i], values,
		    err) == -1)
			return NULL;
	}
	return json_deep_copy(matrix);
}

/* Parses /deploy's agent_config. */
static json_t *
parse_agent_config(const json_t *in, struct api_error *err)
{
	static const char *const keys[] = { "implementations", "test_matrix",
	    NULL };
	json_t *ac, *impls, *out;

	if (get_object(in, "", "agent_config", 1, &ac, err) == -1 ||
	    check_known_keys(ac, "agent_config", keys, "field", err) == -1 ||
	    member(ac, "agent_config", "implementations", 1, &impls,
	    err) == -1)
		return NULL;
	if ((out = json_object()) == NULL) {
		api_nomem(err);
		return NULL;
	}
	if (put(out, "implementations", parse_impl_list(impls,
	    "agent_config.implementations", 1, err), err) == -1 ||
	    put(out, "test_matrix", parse_matrix(ac, err), err) == -1) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/*
 * Parses the optional schedule. measure_delay_seconds, when given, wins
 * over measure_delay_minutes. The normalized object carries the effective
 * delay in both units, with the minutes rounded down. Under the rounds
 * strategy it also carries round_delay_seconds, which defaults to the
 * measure delay.
 */
static json_t *
parse_schedule(const json_t *in, const char *strategy, struct api_error *err)
{
	static const char *const keys[] = { "measure_delay_minutes",
	    "measure_delay_seconds", "round_delay_seconds", NULL };
	json_int_t minutes, seconds, round;
	json_t *sec = NULL;
	int rounds = strcmp(strategy, "rounds") == 0, rc;

	if (get_object(in, "", "schedule", 0, &sec, err) == -1 ||
	    (sec != NULL && check_known_keys(sec, "schedule", keys, "field",
	    err) == -1))
		return NULL;
	if (get_int(sec, "schedule", "measure_delay_minutes", 0, 0, 1440,
	    VALIDATE_DEFAULT_DELAY_MINUTES, &minutes, err) == -1 ||
	    (rc = get_int(sec, "schedule", "measure_delay_seconds", 0, 0,
	    86400, 0, &seconds, err)) == -1)
		return NULL;
	if (rc == 0)
		seconds = minutes * 60;
	if ((rc = get_int(sec, "schedule", "round_delay_seconds", 0, 0, 86400,
	    seconds, &round, err)) == -1)
		return NULL;
	if (rc == 1 && !rounds) {
		api_fail(err, "invalid_combination",
		    "schedule.round_delay_seconds", "schedule."
		    "round_delay_seconds is only allowed with "
		    "cold_start_strategy \"rounds\"");
		return NULL;
	}
	if (rounds)
		return json_pack("{s:I, s:I, s:I}", "measure_delay_seconds",
		    (json_int_t)seconds, "measure_delay_minutes",
		    (json_int_t)(seconds / 60), "round_delay_seconds",
		    (json_int_t)round);
	return json_pack("{s:I, s:I}", "measure_delay_seconds",
	    (json_int_t)seconds, "measure_delay_minutes",
	    (json_int_t)(seconds / 60));
}

/* Counts the services a normalized deploy request expands to:
 * implementations x matrix cells x replicas (saturating at SIZE_MAX). */
size_t
validate_service_count(const json_t *deploy)
{
	json_t *ac, *bc, *matrix, *values;
	const char *key, *strategy;
	uint64_t total;

	ac = json_object_get(deploy, "agent_config");
	bc = json_object_get(deploy, "benchmark_config");
	matrix = json_object_get(ac, "test_matrix");
	total = json_array_size(json_object_get(ac, "implementations"));
	/* Each factor is at most 1000, so checking before each product
	 * keeps the total far from overflowing. */
	json_object_foreach(matrix, key, values)
		if (total <= SIZE_MAX / 1000)
			total *= json_array_size(values);
	strategy = json_string_value(json_object_get(bc,
	    "cold_start_strategy"));
	if (strategy != NULL && strcmp(strategy, "replicas") == 0 &&
	    total <= SIZE_MAX / 1000)
		total *= (uint64_t)json_integer_value(json_object_get(bc,
		    "cold_start_iterations"));
	return total > SIZE_MAX ? SIZE_MAX : (size_t)total;
}

/* Rejects a request that expands to more than VALIDATE_MAX_SERVICES. */
static int
check_service_count(const json_t *deploy, struct api_error *err)
{
	size_t n = validate_service_count(deploy);

	if (n <= VALIDATE_MAX_SERVICES)
		return 0;
	return api_fail(err, "too_many_services", "agent_config", "the "
	    "request expands to %zu services (implementations x test_matrix "
	    "cells x replicas); at most %d are allowed", n,
	    VALIDATE_MAX_SERVICES);
}

/* Returns a dimension's values, or a new one-element array of def. */
static json_t *
values_or_default(const json_t *matrix, const char *name, const char *def)
{
	json_t *v = json_object_get(matrix, name);

	return v != NULL ? json_incref(v) : json_pack("[s]", def);
}

/*
 * Rejects a matrix with a cell Cloud Run cannot deploy (for example cpu "4"
 * with less than 2Gi of memory). Every combination of the listed values is
 * a cell, so one bad pair rejects the request.
 */
static int
check_cells(const json_t *deploy, struct api_error *err)
{
	const json_t *matrix;
	json_t *cpus, *mems, *envs;
	const char *cpu, *mem, *env;
	char why[128];
	size_t i, j, k;
	long mib;
	int rc = 0;

	matrix = json_object_get(json_object_get(deploy, "agent_config"),
	    "test_matrix");
	cpus = values_or_default(matrix, "cpu", RUNPLAN_DEFAULT_CPU);
	mems = values_or_default(matrix, "memory", RUNPLAN_DEFAULT_MEMORY);
	envs = values_or_default(matrix, "execution_environment",
	    RUNPLAN_DEFAULT_EXECUTION_ENVIRONMENT);
	if (cpus == NULL || mems == NULL || envs == NULL) {
		rc = api_nomem(err);
		goto done;
	}
	for (i = 0; i < json_array_size(cpus) && rc == 0; i++)
	for (j = 0; j < json_array_size(mems) && rc == 0; j++)
	for (k = 0; k < json_array_size(envs) && rc == 0; k++) {
		cpu = json_string_value(json_array_get(cpus, i));
		mem = json_string_value(json_array_get(mems, j));
		env = json_string_value(json_array_get(envs, k));
		if (runplan_memory_mib(mem, &mib) == 0 &&
		    runplan_check_resources(cpu, mib, env, why,
		    sizeof(why)) == 0)
			continue;
		rc = api_fail(err, "invalid_combination",
		    "agent_config.test_matrix", "the test_matrix cell cpu "
		    "\"%s\", memory \"%s\", execution_environment \"%s\" "
		    "cannot be deployed: %s. Every combination of the listed "
		    "values is deployed, so list only values that fit "
		    "together, or split them over several runs", cpu, mem,
		    env, why);
	}

done:
	json_decref(cpus);
	json_decref(mems);
	json_decref(envs);
	return rc;
}

/* Parses and normalizes a POST /deploy body. */
json_t *
validate_deploy(const char *body, size_t len, struct api_error *err)
{
	static const char *const keys[] = { "run_id", "benchmark_config",
	    "agent_config", "schedule", NULL };
	json_t *in, *out = NULL, *bc;
	const char *strategy;

	if ((in = parse_body(body, len, err)) == NULL)
		return NULL;
	if (check_known_keys(in, "", keys, "field", err) == -1)
		goto fail;
	if ((out = json_object()) == NULL) {
		api_nomem(err);
		goto fail;
	}
	if (take_run_id(in, out, err) == -1)
		goto fail;
	bc = parse_benchmark_config(in, err);
	if (put(out, "benchmark_config", bc, err) == -1)
		goto fail;
	strategy = json_string_value(json_object_get(bc,
	    "cold_start_strategy"));
	if (put(out, "agent_config", parse_agent_config(in, err), err) == -1 ||
	    put(out, "schedule", parse_schedule(in, strategy, err),
	    err) == -1 ||
	    check_service_count(out, err) == -1 ||
	    check_cells(out, err) == -1)
		goto fail;
	json_decref(in);
	return out;

fail:
	json_decref(out);
	json_decref(in);
	return NULL;
}

/* Parses a body that holds only a run_id. */
static json_t *
validate_run_only(const char *body, size_t len, struct api_error *err)
{
	json_t *in, *out = NULL;

	if ((in = parse_body(body, len, err)) == NULL)
		return NULL;
	if (check_known_keys(in, "", run_id_keys, "field", err) == -1)
		goto fail;
	if ((out = json_object()) == NULL) {
		api_nomem(err);
		goto fail;
	}
	if (take_run_id(in, out, err) == -1)
		goto fail;
	json_decref(in);
	return out;

fail:
	json_decref(out);
	json_decref(in);
	return NULL;
}

/* Parses a POST /measure body. */
json_t *
validate_measure(const char *body, size_t len, struct api_error *err)
{
	return validate_run_only(body, len, err);
}

/* Parses a POST /cleanup body. */
json_t *
validate_cleanup(const char *body, size_t len, struct api_error *err)
{
	return validate_run_only(body, len, err);
}

/* Parses the legacy /benchmark config object. */
static json_t *
parse_legacy_config(const json_t *in, struct api_error *err)
{
	static const char *const keys[] = { "cold_start_iterations",
	    "warm_request_count", "warm_request_concurrency", "profile",
	    NULL };
	static const char *const profiles[] = { VALIDATE_DEFAULT_PROFILE,
	    NULL };
	const char *profile;
	json_t *sec, *out;

	if (get_object(in, "", "config", 1, &sec, err) == -1 ||
	    check_known_keys(sec, "config", keys, "field", err) == -1)
		return NULL;
	if ((out = json_object()) == NULL) {
		api_nomem(err);
		return NULL;
	}
	/* Only the profile "default" (the default test_matrix) is defined. */
	if (parse_counts(sec, "config", out, err) == -1 ||
	    (profile = get_enum(sec, "config", "profile", profiles,
	    VALIDATE_DEFAULT_PROFILE, err)) == NULL ||
	    put(out, "profile", json_string(profile), err) == -1) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* Parses and normalizes a POST /benchmark (legacy) body. */
json_t *
validate_benchmark(const char *body, size_t len, struct api_error *err)
{
	static const char *const keys[] = { "run_id", "implementations",
	    "config", NULL };
	json_t *in, *out = NULL, *impls, *list;

	if ((in = parse_body(body, len, err)) == NULL)
		return NULL;
	if (check_known_keys(in, "", keys, "field", err) == -1)
		goto fail;
	if ((out = json_object()) == NULL) {
		api_nomem(err);
		goto fail;
	}
	if (take_run_id(in, out, err) == -1)
		goto fail;
	impls = json_object_get(in, "implementations");
	list = impls != NULL ? parse_impl_list(impls, "implementations", 0,
	    err) : json_array();
	if (put(out, "implementations", list, err) == -1 ||
	    put(out, "config", parse_legacy_config(in, err), err) == -1)
		goto fail;
	json_decref(in);
	return out;

fail:
	json_decref(out);
	json_decref(in);
	return NULL;
}

/* Checks each listed implementation against the manifest. */
static int
check_against_manifest(const json_t *impls, const struct manifest *m,
    const char *field, struct api_error *err)
{
	struct manifest_impl impl;
	char known[256] = "";
	struct path p;
	const char *name;
	size_t i, j;

	for (i = 0; i < json_array_size(impls); i++) {
		name = json_string_value(json_array_get(impls, i));
		path_set(&p, field);
		path_index(&p, i);
		if (name == NULL)
			return api_fail(err, "invalid_type", p.buf, "%s must be "
			    "a string", p.buf);
		if (manifest_impl_find(m, name, &impl) == -1) {
			for (j = 0; j < manifest_impl_count(m); j++)
				if (manifest_impl_at(m, j, &impl) == 0)
					snprintf(known + strlen(known),
					    sizeof(known) - strlen(known),
					    "%s%s", j > 0 ? ", " : "",
					    impl.name);
			return api_fail(err, "unknown_implementation", p.buf,
			    "unknown implementation \"%s\" for service type "
			    "%s; known: %s", name, manifest_service_type(m),
			    known);
		}
		if (!impl.active)
			return api_fail(err, "implementation_disabled", p.buf,
			    "implementation \"%s\" is disabled: %s", name,
			    impl.reason != NULL ? impl.reason :
			    "no reason given");
	}
	return 0;
}

/* Checks the implementations of a normalized /deploy request against the
 * manifest: each must be listed and active. */
int
validate_implementations(const json_t *deploy, const struct manifest *m,
    struct api_error *err)
{
	return check_against_manifest(json_object_get(json_object_get(deploy,
	    "agent_config"), "implementations"), m,
	    "agent_config.implementations", err);
}

/*
 * Converts a normalized /benchmark request into the normalized /deploy
 * shape: an empty implementations list means every active one, the
 * test_matrix is empty (every dimension at its default), and the strategy,
 * warm mode and schedule take their defaults.
 */
json_t *
validate_benchmark_to_deploy(const json_t *bench, const struct manifest *m,
    struct api_error *err)
{
	const json_t *config = json_object_get(bench, "config");
	json_t *impls, *deploy;

	impls = json_object_get(bench, "implementations");
	if (json_array_size(impls) == 0) {
		if ((impls = manifest_active_names(m)) == NULL) {
			api_nomem(err);
			return NULL;
		}
		if (json_array_size(impls) == 0) {
			json_decref(impls);
			api_fail(err, "no_implementations", "implementations",
			    "service type %s has no active implementation",
			    manifest_service_type(m));
			return NULL;
		}
	} else {
		if (check_against_manifest(impls, m, "implementations",
		    err) == -1)
			return NULL;
		json_incref(impls);
	}
	deploy = json_pack("{s:O, s:{s:O, s:O, s:O, s:s, s:s}, "
	    "s:{s:o, s:{}}, s:{s:I, s:I, s:I}}",
	    "run_id", json_object_get(bench, "run_id"),
	    "benchmark_config",
	    "cold_start_iterations", json_object_get(config,
	    "cold_start_iterations"),
	    "warm_request_count", json_object_get(config,
	    "warm_request_count"),
	    "warm_request_concurrency", json_object_get(config,
	    "warm_request_concurrency"),
	    "cold_start_strategy", "rounds", "warm_mode", "closed",
	    "agent_config", "implementations", impls, "test_matrix",
	    "schedule",
	    "measure_delay_seconds",
	    (json_int_t)VALIDATE_DEFAULT_DELAY_MINUTES * 60,
	    "measure_delay_minutes", (json_int_t)VALIDATE_DEFAULT_DELAY_MINUTES,
	    "round_delay_seconds",
	    (json_int_t)VALIDATE_DEFAULT_DELAY_MINUTES * 60);
	if (deploy == NULL) {
		api_fail(err, "internal", "", "the benchmark request is not "
		    "normalized");
		err->status = 500;
		return NULL;
	}
	if (check_service_count(deploy, err) == -1) {
		json_decref(deploy);
		return NULL;
	}
	return deploy;
}

/* Returns the canonical text of a normalized request (keys sorted, no
 * whitespace), for comparing two requests of one run; free() it. */
char *
validate_canonical_dump(const json_t *normalized)
{
	return json_dumps(normalized, JSON_COMPACT | JSON_SORT_KEYS);
}

/*
 * Loader of contract test vectors. Each file contains one JSON object. Every
 * field is checked for type, range and size, and unknown fields are
 * rejected so that a misspelt field never passes silently. The first
 * problem found is reported with the file and the field.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "servicetype.h"
#include "vectors.h"

/* Request headers a vector may set, leaving room for the signer's. */
#define VECTORS_HEADERS_MAX	(SERVICETYPE_HEADERS_MAX - 4)
#define VECTORS_BIT_MAX		4095	/* highest bit a flip may name */
#define VECTORS_OFFSET_MAX	31536000L	/* seconds, one year */
#define VECTORS_TIMESTAMP_MAX	64	/* bytes of a timestamp, with NUL */
#define VECTORS_FIELD_MAX	160	/* bytes of a dotted field path */

/* The file being parsed and where its error message goes. */
struct parse {
	const char	*path;
	char		*err;
	size_t		 errlen;
};

struct sign_mode_info {
	const char		*name;
	enum vector_sign_mode	 mode;
	int			 sends_timestamp;
};

static const struct sign_mode_info sign_modes[] = {
	{ "none",		VECTOR_SIGN_NONE,		0 },
	{ "valid",		VECTOR_SIGN_VALID,		1 },
	{ "other_key",		VECTOR_SIGN_OTHER_KEY,		1 },
	{ "flip_bit",		VECTOR_SIGN_FLIP_BIT,		1 },
	{ "body_changed",	VECTOR_SIGN_BODY_CHANGED,	1 },
	{ "omit_timestamp",	VECTOR_SIGN_OMIT_TIMESTAMP,	0 },
	{ "omit_signature",	VECTOR_SIGN_OMIT_SIGNATURE,	1 },
	{ "omit_both",		VECTOR_SIGN_OMIT_BOTH,		0 },
	{ "resized",		VECTOR_SIGN_RESIZED,		1 },
	{ "literal",		VECTOR_SIGN_LITERAL,		1 },
};

#define NSIGN_MODES (sizeof(sign_modes) / sizeof(sign_modes[0]))

static const char *const vector_keys[] = {
	"name", "description", "optional", "request", "expect", NULL
};
static const char *const request_keys[] = {
	"method", "path", "headers", "body", "sign", NULL
};
static const char *const sign_keys[] = {
	"mode", "bit", "signed_body", "hex_length", "signature",
	"timestamp_offset", "timestamp", NULL
};
static const char *const expect_keys[] = {
	"status", "body", "headers", NULL
};
static const char *const body_keys[] = {
	"exact", "json_subset", "json_subset_any", NULL
};

static int
parse_error(struct parse *p, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the message for a bad field and returns -1. */
static int
parse_error(struct parse *p, const char *field, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "vectors: %s: field \"%s\": %s",
	    p->path, field, msg);
	return -1;
}

static void
field_path(char *buf, size_t size, const char *prefix, const char *key)
{
	if (prefix[0] == '\0')
		snprintf(buf, size, "%s", key);
	else
		snprintf(buf, size, "%s.%s", prefix, key);
}

/* Rejects every key of obj that is not in allowed. */
static int
check_keys(struct parse *p, json_t *obj, const char *prefix,
    const char *const allowed[])
{
	char field[VECTORS_FIELD_MAX];
	const char *key;
	json_t *value;
	size_t i;

	json_object_foreach(obj, key, value) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL) {
			field_path(field, sizeof(field), prefix, key);
			return parse_error(p, field, "unknown field");
		}
	}
	return 0;
}

static void *
memdup(const void *src, size_t len)
{
	unsigned char *dst;

	/* One extra NUL so that text copies are also C strings. */
	if ((dst = malloc(len + 1)) == NULL)
		return NULL;
	if (len > 0)
		memcpy(dst, src, len);
	dst[len] = '\0';
	return dst;
}

/* Accepts printable ASCII and, when tab is set, horizontal tabs. */
static int
is_printable(const char *s, size_t len, int tab)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 || c > 0x7e) && !(tab && c == '\t'))
			return 0;
	}
	return 1;
}

/* An HTTP token: the characters allowed in methods and header names. */
static int
is_token(const char *s, size_t len)
{
	static const char extra[] = "!#$%&'*+-.^_`|~";
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || (c != '\0' &&
		    strchr(extra, c) != NULL)))
			return 0;
	}
	return 1;
}

static int
is_vector_name(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len >= VECTORS_NAME_MAX || s[0] == '.' ||
	    s[0] == '_' || s[0] == '-')
		return 0;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/*
 * Copies the string at field into *out (with a trailing NUL) and its length
 * into *len. Text fields (binary 0) may not contain NUL bytes; max is the
 * largest accepted length in bytes.
 */
static int
get_string(struct parse *p, json_t *value, const char *field, size_t max,
    int binary, char **out, size_t *len)
{
	const char *s;
	size_t n;

	if (!json_is_string(value))
		return parse_error(p, field, "must be a string");
	s = json_string_value(value);
	n = json_string_length(value);
	if (n > max)
		return parse_error(p, field, "must be at most %zu bytes", max);
	if (!binary && memchr(s, '\0', n) != NULL)
		return parse_error(p, field, "must not contain NUL");
	if ((*out = memdup(s, n)) == NULL)
		return parse_error(p, field, "out of memory");
	if (len != NULL)
		*len = n;
	return 0;
}

/* Reads an integer in [min, max] into *out. */
static int
get_integer(struct parse *p, json_t *value, const char *field, long min,
    long max, long *out)
{
	json_int_t n;

	if (!json_is_integer(value))
		return parse_error(p, field, "must be an integer %ld-%ld",
		    min, max);
	n = json_integer_value(value);
	if (n < min || n > max)
		return parse_error(p, field, "must be an integer %ld-%ld",
		    min, max);
	*out = (long)n;
	return 0;
}

/* Parses an object of header names to string values. */
static int
parse_headers(struct parse *p, json_t *obj, const char *prefix, size_t max,
    struct vector_header **out, size_t *count)
{
	char field[VECTORS_FIELD_MAX];
	const char *key;
	json_t *value;
	size_t n = 0, len;

	if (!json_is_object(obj))
		return parse_error(p, prefix, "must be an object of header "
		    "names to string values");
	if (json_object_size(obj) > max)
		return parse_error(p, prefix, "must have at most %zu headers",
		    max);
	if (json_object_size(obj) == 0)
		return 0;
	*out = calloc(json_object_size(obj), sizeof(**out));
	if (*out == NULL)
		return parse_error(p, prefix, "out of memory");

	json_object_foreach(obj, key, value) {
		field_path(field, sizeof(field), prefix, key);
		if (!is_token(key, strlen(key)) ||
		    strlen(key) >= SERVICETYPE_HEADER_NAME_MAX)
			return parse_error(p, field, "must be an HTTP header "
			    "name of 1-%d token characters",
			    SERVICETYPE_HEADER_NAME_MAX - 1);
		if (get_string(p, value, field,
		    SERVICETYPE_HEADER_VALUE_MAX - 1, 0, &(*out)[n].value,
		    &len) == -1)
			return -1;
		*count = ++n;
		if (!is_printable((*out)[n - 1].value, len, 1))
			return parse_error(p, field, "must contain only "
			    "printable ASCII and tabs");
		if (((*out)[n - 1].name = memdup(key, strlen(key))) == NULL)
			return parse_error(p, field, "out of memory");
	}
	return 0;
}

static const struct sign_mode_info *
find_sign_mode(const char *name)
{
	size_t i;

	for (i = 0; i < NSIGN_MODES; i++)
		if (strcmp(sign_modes[i].name, name) == 0)
			return &sign_modes[i];
	return NULL;
}

const char *
vectors_sign_mode_name(enum vector_sign_mode mode)
{
	size_t i;

	for (i = 0; i < NSIGN_MODES; i++)
		if (sign_modes[i].mode == mode)
			return sign_modes[i].name;
	return "unknown";
}

/*
 * Fetches the mode-specific field key of sign: required when the mode is
 * `wanted`, rejected with any other mode. *value is NULL when absent.
 */
static int
mode_field(struct parse *p, json_t *sign, const char *key,
    const struct sign_mode_info *info, enum vector_sign_mode wanted,
    json_t **value)
{
	char field[VECTORS_FIELD_MAX];

	field_path(field, sizeof(field), "request.sign", key);
	*value = json_object_get(sign, key);
	if (info->mode == wanted && *value == NULL)
		return parse_error(p, field, "is required with mode \"%s\"",
		    info->name);
	if (info->mode != wanted && *value != NULL)
		return parse_error(p, field, "is only allowed with mode "
		    "\"%s\"", vectors_sign_mode_name(wanted));
	return 0;
}

/* Parses the timestamp options, which every mode that sends one takes. */
static int
parse_sign_timestamp(struct parse *p, json_t *sign,
    const struct sign_mode_info *info, struct vector_sign *s)
{
	json_t *offset, *stamp;
	size_t len;

	offset = json_object_get(sign, "timestamp_offset");
	stamp = json_object_get(sign, "timestamp");
	if ((offset != NULL || stamp != NULL) && !info->sends_timestamp)
		return parse_error(p, offset != NULL ?
		    "request.sign.timestamp_offset" : "request.sign.timestamp",
		    "mode \"%s\" sends no timestamp", info->name);
	if (offset != NULL && stamp != NULL)
		return parse_error(p, "request.sign.timestamp",
		    "must not be given together with timestamp_offset");
	if (offset != NULL && get_integer(p, offset,
	    "request.sign.timestamp_offset", -VECTORS_OFFSET_MAX,
	    VECTORS_OFFSET_MAX, &s->timestamp_offset) == -1)
		return -1;
	if (stamp != NULL) {
		if (get_string(p, stamp, "request.sign.timestamp",
		    VECTORS_TIMESTAMP_MAX - 1, 0, &s->timestamp, &len) == -1)
			return -1;
		if (!is_printable(s->timestamp, len, 0))
			return parse_error(p, "request.sign.timestamp",
			    "must contain only printable ASCII");
	}
	return 0;
}

static int
parse_sign(struct parse *p, json_t *sign, struct vector_sign *s)
{
	const struct sign_mode_info *info;
	json_t *mode, *value;
	char *bytes;
	size_t len;
	long n;

	if (!json_is_object(sign))
		return parse_error(p, "request.sign", "must be an object");
	if (check_keys(p, sign, "request.sign", sign_keys) == -1)
		return -1;
	mode = json_object_get(sign, "mode");
	if (mode == NULL)
		return parse_error(p, "request.sign.mode", "is required");
	if (!json_is_string(mode) ||
	    (info = find_sign_mode(json_string_value(mode))) == NULL)
		return parse_error(p, "request.sign.mode", "must be one of "
		    "none, valid, other_key, flip_bit, body_changed, "
		    "omit_timestamp, omit_signature, omit_both, resized, "
		    "literal");
	s->mode = info->mode;

	if (mode_field(p, sign, "bit", info, VECTOR_SIGN_FLIP_BIT,
	    &value) == -1)
		return -1;
	if (value != NULL) {
		if (get_integer(p, value, "request.sign.bit", 0,
		    VECTORS_BIT_MAX, &n) == -1)
			return -1;
		s->bit = (unsigned int)n;
	}
	if (mode_field(p, sign, "signed_body", info, VECTOR_SIGN_BODY_CHANGED,
	    &value) == -1)
		return -1;
	if (value != NULL) {
		if (get_string(p, value, "request.sign.signed_body",
		    SERVICETYPE_BODY_MAX, 1, &bytes, &s->signed_body_len) == -1)
			return -1;
		s->signed_body = (unsigned char *)bytes;
	}
	if (mode_field(p, sign, "hex_length", info, VECTOR_SIGN_RESIZED,
	    &value) == -1)
		return -1;
	if (value != NULL) {
		if (get_integer(p, value, "request.sign.hex_length", 0,
		    SERVICETYPE_HEADER_VALUE_MAX - 1, &n) == -1)
			return -1;
		s->hex_length = (size_t)n;
	}
	if (mode_field(p, sign, "signature", info, VECTOR_SIGN_LITERAL,
	    &value) == -1)
		return -1;
	if (value != NULL) {
		if (get_string(p, value, "request.sign.signature",
		    SERVICETYPE_HEADER_VALUE_MAX - 1, 0, &s->signature,
		    &len) == -1)
			return -1;
		if (!is_printable(s->signature, len, 0))
			return parse_error(p, "request.sign.signature",
			    "must contain only printable ASCII");
	}
	return parse_sign_timestamp(p, sign, info, s);
}

/* Fetches a required member of obj, or writes "is required". */
static json_t *
require(struct parse *p, json_t *obj, const char *prefix, const char *key)
{
	char field[VECTORS_FIELD_MAX];
	json_t *value;

	if ((value = json_object_get(obj, key)) == NULL) {
		field_path(field, sizeof(field), prefix, key);
		parse_error(p, field, "is required");
	}
	return value;
}

static int
parse_request(struct parse *p, json_t *req, struct vector_request *r)
{
	json_t *value;
	char *bytes;
	size_t len;

	if (!json_is_object(req))
		return parse_error(p, "request", "must be an object");
	if (check_keys(p, req, "request", request_keys) == -1)
		return -1;

	if ((value = require(p, req, "request", "method")) == NULL ||
	    get_string(p, value, "request.method", SERVICETYPE_METHOD_MAX - 1,
	    0, &r->method, &len) == -1)
		return -1;
	if (!is_token(r->method, len))
		return parse_error(p, "request.method", "must be an HTTP "
		    "method such as POST");

	if ((value = require(p, req, "request", "path")) == NULL ||
	    get_string(p, value, "request.path", SERVICETYPE_PATH_MAX - 1, 0,
	    &r->path, &len) == -1)
		return -1;
	if (r->path[0] != '/' || !is_printable(r->path, len, 0) ||
	    strchr(r->path, ' ') != NULL)
		return parse_error(p, "request.path", "must begin with / and "
		    "contain only printable ASCII without spaces");

	if ((value = json_object_get(req, "headers")) != NULL &&
	    parse_headers(p, value, "request.headers", VECTORS_HEADERS_MAX,
	    &r->headers, &r->nheaders) == -1)
		return -1;

	if ((value = require(p, req, "request", "body")) == NULL ||
	    get_string(p, value, "request.body", SERVICETYPE_BODY_MAX, 1,
	    &bytes, &r->body_len) == -1)
		return -1;
	r->body = (unsigned char *)bytes;

	if ((value = require(p, req, "request", "sign")) == NULL)
		return -1;
	return parse_sign(p, value, &r->sign);
}

static int
parse_status(struct parse *p, json_t *status, struct vector_expect *e)
{
	char field[VECTORS_FIELD_MAX];
	json_t *item;
	size_t i;
	long n;

	if (!json_is_array(status)) {
		if (get_integer(p, status, "expect.status", 100, 599,
		    &n) == -1)
			return -1;
		e->status[0] = (int)n;
		e->nstatus = 1;
		return 0;
	}
	if (json_array_size(status) == 0)
		return parse_error(p, "expect.status", "must not be an empty "
		    "array");
	if (json_array_size(status) > VECTORS_STATUS_MAX)
		return parse_error(p, "expect.status", "must list at most %d "
		    "statuses", VECTORS_STATUS_MAX);
	json_array_foreach(status, i, item) {
		snprintf(field, sizeof(field), "expect.status[%zu]", i);
		if (get_integer(p, item, field, 100, 599, &n) == -1)
			return -1;
		e->status[i] = (int)n;
		e->nstatus = i + 1;
	}
	return 0;
}

static int
parse_expect_body(struct parse *p, json_t *body, struct vector_expect *e)
{
	json_t *value;
	char *bytes;

	if (!json_is_object(body) || json_object_size(body) != 1)
		return parse_error(p, "expect.body", "must be an object with "
		    "exactly one of exact, json_subset, json_subset_any");
	if (check_keys(p, body, "expect.body", body_keys) == -1)
		return -1;

	if ((value = json_object_get(body, "exact")) != NULL) {
		e->body_match = VECTOR_BODY_EXACT;
		if (get_string(p, value, "expect.body.exact",
		    SERVICETYPE_BODY_MAX, 1, &bytes, &e->body_len) == -1)
			return -1;
		e->body = (unsigned char *)bytes;
		return 0;
	}
	if ((value = json_object_get(body, "json_subset")) != NULL) {
		e->body_match = VECTOR_BODY_JSON_SUBSET;
		e->json = json_incref(value);
		return 0;
	}
	value = json_object_get(body, "json_subset_any");
	if (!json_is_array(value) || json_array_size(value) == 0)
		return parse_error(p, "expect.body.json_subset_any",
		    "must be a non-empty array of JSON values");
	e->body_match = VECTOR_BODY_JSON_SUBSET_ANY;
	e->json = json_incref(value);
	return 0;
}

static int
parse_expect(struct parse *p, json_t *expect, struct vector_expect *e)
{
	json_t *value;

	if (!json_is_object(expect))
		return parse_error(p, "expect", "must be an object");
	if (check_keys(p, expect, "expect", expect_keys) == -1)
		return -1;
	if ((value = require(p, expect, "expect", "status")) == NULL ||
	    parse_status(p, value, e) == -1)
		return -1;
	if ((value = json_object_get(expect, "body")) != NULL &&
	    parse_expect_body(p, value, e) == -1)
		return -1;
	if ((value = json_object_get(expect, "headers")) != NULL &&
	    parse_headers(p, value, "expect.headers", SERVICETYPE_HEADERS_MAX,
	    &e->headers, &e->nheaders) == -1)
		return -1;
	return 0;
}

static int
parse_vector(struct parse *p, json_t *root, struct vector *v)
{
	json_t *value;

	if (!json_is_object(root)) {
		snprintf(p->err, p->errlen, "vectors: %s: must contain one "
		    "JSON object", p->path);
		return -1;
	}
	if (check_keys(p, root, "", vector_keys) == -1)
		return -1;

	if ((value = require(p, root, "", "name")) == NULL)
		return -1;
	if (!json_is_string(value) || !is_vector_name(json_string_value(value),
	    json_string_length(value)))
		return parse_error(p, "name", "must be 1-%d letters, digits, "
		    "dots, underscores or hyphens, starting with a letter or "
		    "digit", VECTORS_NAME_MAX - 1);
	if (get_string(p, value, "name", VECTORS_NAME_MAX - 1, 0, &v->name,
	    NULL) == -1)
		return -1;

	if ((value = require(p, root, "", "description")) == NULL ||
	    get_string(p, value, "description", VECTORS_DESCRIPTION_MAX - 1,
	    0, &v->description, NULL) == -1)
		return -1;

	if ((value = json_object_get(root, "optional")) != NULL) {
		if (!json_is_boolean(value))
			return parse_error(p, "optional", "must be true or "
			    "false");
		v->optional = json_is_true(value);
	}

	if ((value = require(p, root, "", "request")) == NULL ||
	    parse_request(p, value, &v->request) == -1)
		return -1;
	if ((value = require(p, root, "", "expect")) == NULL)
		return -1;
	return parse_expect(p, value, &v->expect);
}

/* Reads the whole regular file at path, refusing one over the size limit. */
static char *
read_vector_file(const char *path, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t used = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "vectors: %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "vectors: %s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > VECTORS_FILE_SIZE_MAX) {
		snprintf(err, errlen, "vectors: %s: larger than %d bytes",
		    path, VECTORS_FILE_SIZE_MAX);
		goto fail;
	}
	/* One byte more than the limit, to notice a file that grew. */
	if ((text = malloc(VECTORS_FILE_SIZE_MAX + 1)) == NULL) {
		snprintf(err, errlen, "vectors: %s: out of memory", path);
		goto fail;
	}
	while (used <= VECTORS_FILE_SIZE_MAX) {
		n = read(fd, text + used, VECTORS_FILE_SIZE_MAX + 1 - used);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "vectors: %s: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > VECTORS_FILE_SIZE_MAX) {
		snprintf(err, errlen, "vectors: %s: larger than %d bytes",
		    path, VECTORS_FILE_SIZE_MAX);
		goto fail;
	}
	close(fd);
	*len = used;
	return text;

fail:
	free(text);
	close(fd);
	return NULL;
}

int
vectors_load_file(const char *path, struct vector *v, char *err,
    size_t errlen)
{
	char *text;
	size_t len;
	int rc;

	memset(v, 0, sizeof(*v));
	if ((text = read_vector_file(path, &len, err, errlen)) == NULL)
		return -1;
	rc = vectors_load_buffer(path, text, len, v, err, errlen);
	free(text);
	return rc;
}

int
vectors_load_buffer(const char *path, const char *text, size_t len,
    struct vector *v, char *err, size_t errlen)
{
	struct parse p = { path, err, errlen };
	json_error_t jerr;
	json_t *root = NULL;

	memset(v, 0, sizeof(*v));
	if (len > VECTORS_FILE_SIZE_MAX) {
		snprintf(err, errlen, "vectors: %s: larger than %d bytes",
		    path, VECTORS_FILE_SIZE_MAX);
		return -1;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	    &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "vectors: %s: invalid JSON at line %d, "
		    "column %d: %s", path, jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if ((v->file = strdup(path)) == NULL) {
		snprintf(err, errlen, "vectors: %s: out of memory", path);
		goto fail;
	}
	if (parse_vector(&p, root, v) == -1)
		goto fail;
	json_decref(root);
	return 0;

fail:
	json_decref(root);
	vectors_clear(v);
	return -1;
}

static void
free_headers(struct vector_header *h, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

void
vectors_clear(struct vector *v)
{
	free(v->file);
	free(v->name);
	free(v->description);
	free(v->request.method);
	free(v->request.path);
	free_headers(v->request.headers, v->request.nheaders);
	free(v->request.body);
	free(v->request.sign.signed_body);
	free(v->request.sign.signature);
	free(v->request.sign.timestamp);
	free(v->expect.body);
	json_decref(v->expect.json);
	free_headers(v->expect.headers, v->expect.nheaders);
	memset(v, 0, sizeof(*v));
}

void
vectors_free(struct vector_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->count; i++)
		vectors_clear(&set->vectors[i]);
	free(set->vectors);
	free(set->dir);
	free(set);
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
is_vector_file(const char *name)
{
	size_t len = strlen(name);

	return name[0] != '.' && len > 5 &&
	    strcmp(name + len - 5, ".json") == 0;
}

/*
 * Lists the vector files of dir into names, sorted. Returns how many, or
 * -1 with err set; the caller frees the names.
 */
static int
list_files(const char *dir, char **names, char *err, size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "vectors: %s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (!is_vector_file(de->d_name))
			continue;
		if (n == VECTORS_FILES_MAX) {
			snprintf(err, errlen, "vectors: %s: more than %d "
			    "vector files", dir, VECTORS_FILES_MAX);
			goto fail;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			snprintf(err, errlen, "vectors: %s: out of memory",
			    dir);
			goto fail;
		}
		n++;
	}
	closedir(d);
	qsort(names, (size_t)n, sizeof(*names), compare_names);
	return n;

fail:
	while (n > 0)
		free(names[--n]);
	closedir(d);
	return -1;
}

/* Rejects a vector whose name an earlier vector of the set already has. */
static int
check_unique(const struct vector_set *set, const struct vector *v, char *err,
    size_t errlen)
{
	size_t i;

	for (i = 0; i < set->count; i++)
		if (strcmp(set->vectors[i].name, v->name) == 0) {
			snprintf(err, errlen, "vectors: %s: field \"name\": "
			    "\"%s\" is already used by %s", v->file, v->name,
			    set->vectors[i].file);
			return -1;
		}
	return 0;
}

/* Loads the listed files into set; stops at the first bad file. */
static int
load_files(struct vector_set *set, char **names, int n, char *err,
    size_t errlen)
{
	char path[PATH_MAX];
	const char *sep;
	struct vector *v;
	int i, len;

	sep = set->dir[0] != '\0' && set->dir[strlen(set->dir) - 1] == '/' ?
	    "" : "/";
	for (i = 0; i < n; i++) {
		len = snprintf(path, sizeof(path), "%s%s%s", set->dir, sep,
		    names[i]);
		if (len < 0 || (size_t)len >= sizeof(path)) {
			snprintf(err, errlen, "vectors: %s: path too long",
			    names[i]);
			return -1;
		}
		v = &set->vectors[set->count];
		if (vectors_load_file(path, v, err, errlen) == -1)
			return -1;
		if (check_unique(set, v, err, errlen) == -1) {
			vectors_clear(v);
			return -1;
		}
		set->count++;
		if (!v->optional)
			set->required++;
	}
	return 0;
}

struct vector_set *
vectors_load(const char *dir, char *err, size_t errlen)
{
	char *names[VECTORS_FILES_MAX];
	struct vector_set *set;
	int i, n;

	if ((set = calloc(1, sizeof(*set))) == NULL ||
	    (set->dir = strdup(dir)) == NULL) {
		snprintf(err, errlen, "vectors: %s: out of memory", dir);
		free(set);
		return NULL;
	}
	if ((n = list_files(dir, names, err, errlen)) == -1)
		goto fail;
	if (n == 0) {
		snprintf(err, errlen, "vectors: %s: no *.json files", dir);
		goto fail;
	}
	if ((set->vectors = calloc((size_t)n, sizeof(*set->vectors))) == NULL) {
		snprintf(err, errlen, "vectors: %s: out of memory", dir);
		goto fail_names;
	}
	if (load_files(set, names, n, err, errlen) == -1)
		goto fail_names;
	if (set->required == 0) {
		snprintf(err, errlen, "vectors: %s: every vector is optional, "
		    "so none would count towards compliance", dir);
		goto fail_names;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	return set;

fail_names:
	for (i = 0; i < n; i++)
		free(names[i]);
fail:
	vectors_free(set);
	return NULL;
}

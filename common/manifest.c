/* Loading and querying the registration manifest. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "manifest.h"

/* Maximum length of the JSON pointers that map nodes to lines, in bytes. */
#define POINTER_MAX	1024

struct loader {
	yaml_parser_t	 parser;
	yaml_event_t	 event;
	int		 have_event;
	const char	*source;
	char		*err;
	size_t		 errlen;
	size_t		 nodes;
	json_t		*lines;
	char		 pointer[POINTER_MAX];
	size_t		 pointer_len;
};

static json_t	*load_node(struct loader *, int depth);

/* Formats "source:line:column: message" into the loader's error buffer. */
static void __attribute__((format(printf, 3, 4)))
loader_error(struct loader *ld, const yaml_mark_t *mark, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (mark != NULL)
		snprintf(ld->err, ld->errlen, "%s:%lu:%lu: %s", ld->source,
		    (unsigned long)mark->line + 1,
		    (unsigned long)mark->column + 1, msg);
	else
		snprintf(ld->err, ld->errlen, "%s: %s", ld->source, msg);
}

/* Replaces the current event with the next one from the parser. */
static int
next_event(struct loader *ld)
{
	const yaml_parser_t *p = &ld->parser;

	if (ld->have_event) {
		yaml_event_delete(&ld->event);
		ld->have_event = 0;
	}
	if (!yaml_parser_parse(&ld->parser, &ld->event)) {
		if (p->context != NULL)
			loader_error(ld, &p->problem_mark, "%s %s",
			    p->problem ? p->problem : "invalid YAML",
			    p->context);
		else
			loader_error(ld, &p->problem_mark, "%s",
			    p->problem ? p->problem : "invalid YAML");
		return -1;
	}
	ld->have_event = 1;
	return 0;
}

/* Appends one JSON pointer segment, escaping '~' and '/' as RFC 6901 requires. */
static int
pointer_push(struct loader *ld, const char *segment, size_t *saved)
{
	size_t len = ld->pointer_len;
	const char *s;

	*saved = len;
	if (len + 1 >= sizeof(ld->pointer))
		return -1;
	ld->pointer[len++] = '/';
	for (s = segment; *s != '\0'; s++) {
		if (len + 3 >= sizeof(ld->pointer))
			return -1;
		if (*s == '~' || *s == '/') {
			ld->pointer[len++] = '~';
			ld->pointer[len++] = *s == '~' ? '0' : '1';
		} else
			ld->pointer[len++] = *s;
	}
	ld->pointer[len] = '\0';
	ld->pointer_len = len;
	return 0;
}

static void
pointer_pop(struct loader *ld, size_t saved)
{
	ld->pointer_len = saved;
	ld->pointer[saved] = '\0';
}

/* Counts a node against the limit and records the line it starts on. */
static int
note_node(struct loader *ld)
{
	const yaml_mark_t *mark = &ld->event.start_mark;
	json_t *line;

	if (++ld->nodes > MANIFEST_MAX_NODES) {
		loader_error(ld, mark, "more than %d nodes",
		    MANIFEST_MAX_NODES);
		return -1;
	}
	line = json_integer((json_int_t)mark->line + 1);
	if (line == NULL || json_object_set_new(ld->lines, ld->pointer,
	    line) == -1) {
		loader_error(ld, mark, "out of memory");
		return -1;
	}
	return 0;
}

static int
match_word(const char *s, const char *const *words)
{
	for (; *words != NULL; words++)
		if (strcmp(s, *words) == 0)
			return 1;
	return 0;
}

/* Matches [-+]?[0-9]+ (whole string). */
static int
is_decimal_integer(const char *s)
{
	if (*s == '-' || *s == '+')
		s++;
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Matches [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? (whole). */
static int
is_float(const char *s)
{
	int digits = 0;

	if (*s == '-' || *s == '+')
		s++;
	while (*s >= '0' && *s <= '9') {
		s++;
		digits++;
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			s++;
			digits++;
		}
	}
	if (digits == 0)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '-' || *s == '+')
			s++;
		if (*s < '0' || *s > '9')
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* Matches a prefix ("0x" or "0o") followed by at least one digit of base. */
static int
is_prefixed_integer(const char *s, const char *prefix, int base)
{
	size_t plen = strlen(prefix);
	const char *d;

	if (strncmp(s, prefix, plen) != 0 || s[plen] == '\0')
		return 0;
	for (d = s + plen; *d != '\0'; d++) {
		if (base == 16 && !((*d >= '0' && *d <= '9') ||
		    (*d >= 'a' && *d <= 'f') || (*d >= 'A' && *d <= 'F')))
			return 0;
		if (base == 8 && (*d < '0' || *d > '7'))
			return 0;
	}
	return 1;
}

/* Converts integer text (already matched) into a JSON integer. */
static json_t *
make_integer(struct loader *ld, const char *text, const char *digits,
    int base)
{
	long long v;
	char *end;

	errno = 0;
	v = strtoll(digits, &end, base);
	if (errno != 0 || *end != '\0') {
		loader_error(ld, &ld->event.start_mark,
		    "integer %s is out of range", text);
		return NULL;
	}
	return json_integer((json_int_t)v);
}

/* Resolves a plain scalar by the YAML 1.2 core schema. */
static json_t *
resolve_plain(struct loader *ld, const char *s, size_t len)
{
	static const char *const nulls[] = { "null", "Null", "NULL", "~",
	    "", NULL };
	static const char *const trues[] = { "true", "True", "TRUE", NULL };
	static const char *const falses[] = { "false", "False", "FALSE", NULL };
	static const char *const specials[] = { ".inf", ".Inf", ".INF",
	    "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
	    ".NaN", ".NAN", NULL };
	double d;
	char *end;

	if (match_word(s, nulls))
		return json_null();
	if (match_word(s, trues))
		return json_true();
	if (match_word(s, falses))
		return json_false();
	if (is_decimal_integer(s))
		return make_integer(ld, s, s, 10);
	if (is_prefixed_integer(s, "0x", 16))
		return make_integer(ld, s, s + 2, 16);
	if (is_prefixed_integer(s, "0o", 8))
		return make_integer(ld, s, s + 2, 8);
	if (match_word(s, specials)) {
		loader_error(ld, &ld->event.start_mark,
		    "%s has no JSON form; quote it to make it a string", s);
		return NULL;
	}
	if (is_float(s)) {
		errno = 0;
		d = strtod(s, &end);
		if (errno != 0 || *end != '\0' || !isfinite(d)) {
			loader_error(ld, &ld->event.start_mark,
			    "number %s is out of range", s);
			return NULL;
		}
		return json_real(d);
	}
	return json_stringn(s, len);
}

/* Converts the current scalar event into a JSON value. */
static json_t *
load_scalar(struct loader *ld)
{
	const char *s = (const char *)ld->event.data.scalar.value;
	size_t len = ld->event.data.scalar.length;
	const char *tag = (const char *)ld->event.data.scalar.tag;
	json_t *v;

	if (strlen(s) != len) {
		loader_error(ld, &ld->event.start_mark,
		    "scalar contains a NUL character");
		return NULL;
	}
	if (tag != NULL && strcmp(tag, "!") != 0 &&
	    strcmp(tag, YAML_STR_TAG) != 0) {
		/* Only plain scalars may carry a type tag we resolve. */
		if (strcmp(tag, YAML_NULL_TAG) != 0 &&
		    strcmp(tag, YAML_BOOL_TAG) != 0 &&
		    strcmp(tag, YAML_INT_TAG) != 0 &&
		    strcmp(tag, YAML_FLOAT_TAG) != 0) {
			loader_error(ld, &ld->event.start_mark,
			    "tag %s is not supported", tag);
			return NULL;
		}
		v = resolve_plain(ld, s, len);
		if (v != NULL && json_is_string(v)) {
			json_decref(v);
			loader_error(ld, &ld->event.start_mark,
			    "\"%s\" does not match its tag %s", s, tag);
			return NULL;
		}
		return v;
	}
	if (tag == NULL && ld->event.data.scalar.style ==
	    YAML_PLAIN_SCALAR_STYLE)
		v = resolve_plain(ld, s, len);
	else
		v = json_stringn(s, len);
	if (v == NULL && ld->err[0] == '\0')
		loader_error(ld, &ld->event.start_mark,
		    "scalar is not valid UTF-8");
	return v;
}

/* Reads mapping entries up to the matching end event. */
static json_t *
load_mapping(struct loader *ld, int depth)
{
	json_t *obj, *value;
	char *key = NULL;
	size_t saved;

	if ((obj = json_object()) == NULL)
		goto nomem;
	for (;;) {
		if (next_event(ld) == -1)
			goto fail;
		if (ld->event.type == YAML_MAPPING_END_EVENT)
			return obj;
		if (ld->event.type != YAML_SCALAR_EVENT) {
			loader_error(ld, &ld->event.start_mark,
			    "mapping keys must be scalars");
			goto fail;
		}
		if ((key = strdup((const char *)
		    ld->event.data.scalar.value)) == NULL)
			goto nomem;
		if (json_object_get(obj, key) != NULL) {
			loader_error(ld, &ld->event.start_mark,
			    "duplicate key \"%s\"", key);
			goto fail;
		}
		if (pointer_push(ld, key, &saved) == -1) {
			loader_error(ld, &ld->event.start_mark,
			    "key path longer than %d bytes", POINTER_MAX - 1);
			goto fail;
		}
		if (next_event(ld) == -1 ||
		    (value = load_node(ld, depth + 1)) == NULL)
			goto fail;
		pointer_pop(ld, saved);
		if (json_object_set_new(obj, key, value) == -1) {
			loader_error(ld, &ld->event.start_mark,
			    "key \"%s\" is not valid UTF-8", key);
			goto fail;
		}
		free(key);
		key = NULL;
	}

nomem:
	loader_error(ld, NULL, "out of memory");
fail:
	free(key);
	json_decref(obj);
	return NULL;
}

/* Reads sequence items up to the matching end event. */
static json_t *
load_sequence(struct loader *ld, int depth)
{
	char index[32];
	json_t *array, *item;
	size_t saved;

	if ((array = json_array()) == NULL) {
		loader_error(ld, NULL, "out of memory");
		return NULL;
	}
	for (;;) {
		if (next_event(ld) == -1)
			goto fail;
		if (ld->event.type == YAML_SEQUENCE_END_EVENT)
			return array;
		snprintf(index, sizeof(index), "%zu", json_array_size(array));
		if (pointer_push(ld, index, &saved) == -1) {
			loader_error(ld, &ld->event.start_mark,
			    "key path longer than %d bytes", POINTER_MAX - 1);
			goto fail;
		}
		if ((item = load_node(ld, depth + 1)) == NULL)
			goto fail;
		pointer_pop(ld, saved);
		if (json_array_append_new(array, item) == -1) {
			loader_error(ld, NULL, "out of memory");
			goto fail;
		}
	}

fail:
	json_decref(array);
	return NULL;
}

/* Converts the node that starts at the current event. */
static json_t *
load_node(struct loader *ld, int depth)
{
	const yaml_event_t *ev = &ld->event;

	if (depth > MANIFEST_MAX_DEPTH) {
		loader_error(ld, &ev->start_mark, "nested deeper than %d levels",
		    MANIFEST_MAX_DEPTH);
		return NULL;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		loader_error(ld, &ev->start_mark, "aliases are not supported");
		return NULL;
	case YAML_SCALAR_EVENT:
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		break;
	default:
		loader_error(ld, &ev->start_mark, "unexpected YAML event %d",
		    (int)ev->type);
		return NULL;
	}
	if ((ev->type == YAML_SCALAR_EVENT && ev->data.scalar.anchor != NULL) ||
	    (ev->type == YAML_MAPPING_START_EVENT &&
	    ev->data.mapping_start.anchor != NULL) ||
	    (ev->type == YAML_SEQUENCE_START_EVENT &&
	    ev->data.sequence_start.anchor != NULL)) {
		loader_error(ld, &ev->start_mark, "anchors are not supported");
		return NULL;
	}
	if (note_node(ld) == -1)
		return NULL;
	if (ev->type == YAML_SCALAR_EVENT)
		return load_scalar(ld);
	if (ev->type == YAML_MAPPING_START_EVENT)
		return load_mapping(ld, depth);
	return load_sequence(ld, depth);
}

/* Parses the whole stream: exactly one document. */
static json_t *
load_stream(struct loader *ld)
{
	json_t *doc = NULL;

	if (next_event(ld) == -1)
		return NULL;
	if (ld->event.type != YAML_STREAM_START_EVENT) {
		loader_error(ld, &ld->event.start_mark, "no YAML stream");
		return NULL;
	}
	if (next_event(ld) == -1)
		return NULL;
	if (ld->event.type != YAML_DOCUMENT_START_EVENT) {
		loader_error(ld, &ld->event.start_mark, "the file is empty");
		return NULL;
	}
	if (next_event(ld) == -1 || (doc = load_node(ld, 1)) == NULL)
		return NULL;
	if (next_event(ld) == -1)
		goto fail;
	if (ld->event.type != YAML_DOCUMENT_END_EVENT) {
		loader_error(ld, &ld->event.start_mark,
		    "unexpected content after the document");
		goto fail;
	}
	if (next_event(ld) == -1)
		goto fail;
	if (ld->event.type != YAML_STREAM_END_EVENT) {
		loader_error(ld, &ld->event.start_mark,
		    "more than one YAML document");
		goto fail;
	}
	return doc;

fail:
	json_decref(doc);
	return NULL;
}

/* Reports a check failure at the line of a JSON pointer. */
static int __attribute__((format(printf, 5, 6)))
check_error(const struct manifest *m, const char *pointer, char *err,
    size_t errlen, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int line;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	line = manifest_line(m, pointer);
	if (line > 0)
		snprintf(err, errlen, "%s:%d: %s", m->source, line, msg);
	else
		snprintf(err, errlen, "%s: %s", m->source, msg);
	return -1;
}

/* Matches ^[a-z][a-z0-9-]*$ with a maximum length. */
static int
is_lower_name(const char *s, size_t max)
{
	size_t i;

	if (s[0] < 'a' || s[0] > 'z')
		return 0;
	for (i = 1; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return i <= max;
}

/* Checks one implementation entry; names seen so far are in seen. */
static int
check_impl(const struct manifest *m, size_t i, json_t *seen, char *err,
    size_t errlen)
{
	json_t *impl = json_array_get(json_object_get(m->doc,
	    "implementations"), i);
	const char *name, *status;
	json_t *v;
	char ptr[64];

	snprintf(ptr, sizeof(ptr), "/implementations/%zu", i);
	if (!json_is_object(impl))
		return check_error(m, ptr, err, errlen,
		    "implementations[%zu] must be a mapping", i);
	name = json_string_value(json_object_get(impl, "name"));
	if (name == NULL || !is_lower_name(name, MANIFEST_NAME_MAX))
		return check_error(m, ptr, err, errlen,
		    "implementations[%zu].name must be a string of lowercase "
		    "letters, digits and hyphens starting with a letter, at "
		    "most %d characters", i, MANIFEST_NAME_MAX);
	if (json_object_get(seen, name) != NULL)
		return check_error(m, ptr, err, errlen,
		    "implementation \"%s\" is listed twice", name);
	if (json_object_set(seen, name, json_true()) == -1)
		return check_error(m, ptr, err, errlen, "out of memory");
	status = json_string_value(json_object_get(impl, "status"));
	if (status == NULL || (strcmp(status, "active") != 0 &&
	    strcmp(status, "disabled") != 0))
		return check_error(m, ptr, err, errlen,
		    "implementations[%zu].status must be \"active\" or "
		    "\"disabled\"", i);
	if ((v = json_object_get(impl, "reason")) != NULL &&
	    !json_is_string(v))
		return check_error(m, ptr, err, errlen,
		    "implementations[%zu].reason must be a string", i);
	if ((v = json_object_get(impl, "service_name")) != NULL &&
	    (!json_is_string(v) || !is_lower_name(json_string_value(v),
	    MANIFEST_NAME_MAX)))
		return check_error(m, ptr, err, errlen,
		    "implementations[%zu].service_name must be a string of "
		    "lowercase letters, digits and hyphens starting with a "
		    "letter, at most %d characters", i, MANIFEST_NAME_MAX);
	return 0;
}

/*
 * Checks the fields the agent relies on. The JSON Schema in schemas/ is the
 * full contract; this is the subset whose absence would break the agent.
 */
static int
manifest_check(const struct manifest *m, char *err, size_t errlen)
{
	const json_t *doc = m->doc, *agent, *impls;
	const char *s, *type;
	json_t *seen;
	size_t i;
	int rc = 0;

	if (!json_is_object(doc))
		return check_error(m, "", err, errlen,
		    "the manifest must be a mapping");
	s = json_string_value(json_object_get(doc, "schema_version"));
	if (s == NULL || strncmp(s, "1.", 2) != 0 || !is_decimal_integer(s + 2)
	    || s[2] == '-' || s[2] == '+')
		return check_error(m, "/schema_version", err, errlen,
		    "schema_version must be a string \"1.N\" (this agent "
		    "reads version 1 manifests)");
	s = json_string_value(json_object_get(doc, "service_type"));
	if (s == NULL || !is_lower_name(s, MANIFEST_NAME_MAX))
		return check_error(m, "/service_type", err, errlen,
		    "service_type must be a string of lowercase letters, "
		    "digits and hyphens starting with a letter");
	if (!json_is_boolean(json_object_get(doc, "enabled")))
		return check_error(m, "/enabled", err, errlen,
		    "enabled must be true or false");
	agent = json_object_get(doc, "agent");
	if (!json_is_object(agent) ||
	    !json_is_string(json_object_get(agent, "endpoint")))
		return check_error(m, "/agent", err, errlen,
		    "agent must be a mapping with a string endpoint");
	type = json_string_value(json_object_get(agent, "type"));
	if (type == NULL || (strcmp(type, "cloud_run_service") != 0 &&
	    strcmp(type, "cloud_run_job") != 0))
		return check_error(m, "/agent", err, errlen,
		    "agent.type must be \"cloud_run_service\" or "
		    "\"cloud_run_job\"");
	impls = json_object_get(doc, "implementations");
	if (!json_is_array(impls))
		return check_error(m, "/implementations", err, errlen,
		    "implementations must be a sequence");
	if ((seen = json_object()) == NULL)
		return check_error(m, "", err, errlen, "out of memory");
	for (i = 0; i < json_array_size(impls) && rc == 0; i++)
		rc = check_impl(m, i, seen, err, errlen);
	json_decref(seen);
	return rc;
}

/*
 * Parses YAML text into a manifest and checks it. source names the text in
 * error messages ("file:line:column: problem").
 */
struct manifest *
manifest_load_buffer(const char *source, const char *data, size_t len,
    char *err, size_t errlen)
{
	struct manifest *m = NULL;
	struct loader ld;

	memset(&ld, 0, sizeof(ld));
	err[0] = '\0';
	ld.source = source;
	ld.err = err;
	ld.errlen = errlen;
	if (len > MANIFEST_MAX_BYTES) {
		loader_error(&ld, NULL, "larger than %d bytes",
		    MANIFEST_MAX_BYTES);
		return NULL;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (ld.lines = json_object()) == NULL) {
		loader_error(&ld, NULL, "out of memory");
		goto fail;
	}
	snprintf(m->source, sizeof(m->source), "%s", source);
	if (!yaml_parser_initialize(&ld.parser)) {
		loader_error(&ld, NULL, "out of memory");
		goto fail;
	}
	yaml_parser_set_input_string(&ld.parser, (const unsigned char *)data,
	    len);
	m->doc = load_stream(&ld);
	if (ld.have_event)
		yaml_event_delete(&ld.event);
	yaml_parser_delete(&ld.parser);
	if (m->doc == NULL)
		goto fail;
	m->lines = ld.lines;
	ld.lines = NULL;
	if (manifest_check(m, err, errlen) == -1)
		goto fail;
	return m;

fail:
	json_decref(ld.lines);
	manifest_free(m);
	return NULL;
}

/* Reads a manifest file of at most MANIFEST_MAX_BYTES and loads it. */
struct manifest *
manifest_load_file(const char *path, char *err, size_t errlen)
{
	struct manifest *m = NULL;
	struct stat st;
	char *data = NULL;
	size_t off = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MANIFEST_MAX_BYTES) {
		snprintf(err, errlen, "%s: not a regular file of at most %d "
		    "bytes", path, MANIFEST_MAX_BYTES);
		goto done;
	}
	/* One byte more than allowed, to notice a file that grew. */
	if ((data = malloc(MANIFEST_MAX_BYTES + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto done;
	}
	while (off <= MANIFEST_MAX_BYTES) {
		n = read(fd, data + off, MANIFEST_MAX_BYTES + 1 - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	m = manifest_load_buffer(path, data, off, err, errlen);

done:
	free(data);
	close(fd);
	return m;
}

void
manifest_free(struct manifest *m)
{
	if (m == NULL)
		return;
	json_decref(m->doc);
	json_decref(m->lines);
	free(m);
}

const char *
manifest_service_type(const struct manifest *m)
{
	return json_string_value(json_object_get(m->doc, "service_type"));
}

size_t
manifest_impl_count(const struct manifest *m)
{
	return json_array_size(json_object_get(m->doc, "implementations"));
}

/* Fills impl from entry index; the loader has checked the entry's types. */
int
manifest_impl_at(const struct manifest *m, size_t index,
    struct manifest_impl *impl)
{
	json_t *e;

	e = json_array_get(json_object_get(m->doc, "implementations"), index);
	if (e == NULL)
		return -1;
	impl->name = json_string_value(json_object_get(e, "name"));
	impl->status = json_string_value(json_object_get(e, "status"));
	impl->reason = json_string_value(json_object_get(e, "reason"));
	impl->service_name = json_string_value(json_object_get(e,
	    "service_name"));
	impl->active = strcmp(impl->status, "active") == 0;
	return 0;
}

/* Looks an implementation up by name; -1 when the manifest has none. */
int
manifest_impl_find(const struct manifest *m, const char *name,
    struct manifest_impl *impl)
{
	size_t i, n = manifest_impl_count(m);

	for (i = 0; i < n; i++)
		if (manifest_impl_at(m, i, impl) == 0 &&
		    strcmp(impl->name, name) == 0)
			return 0;
	return -1;
}

/* Returns a new array of the active implementations' names, in order. */
json_t *
manifest_active_names(const struct manifest *m)
{
	struct manifest_impl impl;
	json_t *names;
	size_t i, n = manifest_impl_count(m);

	if ((names = json_array()) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (manifest_impl_at(m, i, &impl) == -1 || !impl.active)
			continue;
		if (json_array_append_new(names,
		    json_string(impl.name)) == -1) {
			json_decref(names);
			return NULL;
		}
	}
	return names;
}

/*
 * Builds the GET /implementations body. service_urls (an object of name to
 * URL, or NULL) supplies the service_url of the implementations it lists;
 * reason appears on disabled entries that have one.
 */
json_t *
manifest_implementations_response(const struct manifest *m,
    const json_t *service_urls)
{
	struct manifest_impl impl;
	json_t *body, *list, *e;
	const char *url;
	size_t i, n = manifest_impl_count(m);

	body = json_pack("{s:s, s:[]}", "service_type",
	    manifest_service_type(m), "implementations");
	if (body == NULL)
		return NULL;
	list = json_object_get(body, "implementations");
	for (i = 0; i < n; i++) {
		if (manifest_impl_at(m, i, &impl) == -1)
			goto fail;
		e = json_pack("{s:s, s:s}", "name", impl.name, "status",
		    impl.status);
		if (e == NULL || json_array_append_new(list, e) == -1)
			goto fail;
		if (!impl.active && impl.reason != NULL &&
		    json_object_set_new(e, "reason",
		    json_string(impl.reason)) == -1)
			goto fail;
		url = json_string_value(json_object_get(service_urls,
		    impl.name));
		if (url != NULL && json_object_set_new(e, "service_url",
		    json_string(url)) == -1)
			goto fail;
	}
	return body;

fail:
	json_decref(body);
	return NULL;
}

/* Returns the line a node (by JSON pointer) starts on, or 0 if unknown. */
int
manifest_line(const struct manifest *m, const char *pointer)
{
	return (int)json_integer_value(json_object_get(m->lines, pointer));
}

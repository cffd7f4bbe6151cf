/*
 * perf-agent-ctl register: publishes the registration manifest. It sets
 * agent.endpoint and metadata.last_updated by editing the text of those two
 * values only, so comments and layout stay as written, checks that the
 * result reads back as the same manifest with the two new values, and
 * uploads it through stated to the registry bucket as
 * agents/<service_type>.yaml.
 *
 *	perf-agent-ctl register --endpoint https://x-perf-agent-abc-uc.a.run.app
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <yaml.h>

#include "ipc.h"
#include "manifest.h"
#include "proto.h"
#include "register.h"
#include "settings.h"
#include "timefmt.h"

/* Time stated gets for the upload, in milliseconds. It retries Cloud
 * Storage errors with backoff within that time. */
#define REGISTER_TIMEOUT_MS	60000
/* Maximum length of an endpoint URL, in bytes. */
#define REGISTER_URL_MAX	2048
/* Bytes of one edit's new text: a key, a quoted value and indentation. */
#define REGISTER_EDIT_MAX	(REGISTER_URL_MAX + 256)
/* Number of targets, and so of edits per manifest. */
#define REGISTER_TARGETS	2

/* Form of a node in the YAML text, as far as the edits care. */
enum reg_kind {
	REG_ABSENT,
	REG_BLOCK_MAPPING,
	REG_FLOW_MAPPING,
	REG_EMPTY_SCALAR,	/* "key:" with no value, read as null */
	REG_SCALAR,		/* plain, single- or double-quoted */
	REG_OTHER,		/* block scalar, sequence or alias */
};

/*
 * One value to set: the scalar at parent.key, where parent is a key of the
 * root mapping. The scan fills in where the parent and the value are, as
 * character indexes of libyaml marks.
 */
struct reg_target {
	const char	*parent;
	const char	*key;
	const char	*value;
	enum reg_kind	 parent_kind;
	size_t		 parent_start;
	int		 parent_has_keys;
	size_t		 first_key_start;
	enum reg_kind	 value_kind;
	size_t		 value_start, value_end;
};

/* Replacement of the remove bytes at offset by text. */
struct reg_edit {
	size_t	 offset;
	size_t	 remove;
	char	 text[REGISTER_EDIT_MAX];
};

struct reg_scan {
	yaml_parser_t	 parser;
	yaml_event_t	 event;
	int		 have_event;
	enum reg_kind	 root_kind;
	char		*err;
	size_t		 errlen;
};

static void
register_usage(FILE *out)
{
	fprintf(out,
"Usage: perf-agent-ctl register [--endpoint URL] [--runtime-dir DIR]\n"
"                               [--manifest FILE] [--dry-run]\n"
"Sets agent.endpoint and metadata.last_updated (now, UTC) in the\n"
"registration manifest and uploads it through the running agent's stated\n"
"to the registry bucket as agents/SERVICE_TYPE.yaml.\n\n"
"  --endpoint URL      the agent's base URL (default $AGENT_URL)\n"
"  --runtime-dir DIR   folder of the agent's worker sockets (default\n"
"                      $RUNTIME_DIRECTORY, else the agent's default)\n"
"  --manifest FILE     the manifest (default manifest.yaml in\n"
"                      $PERF_AGENT_DATA_DIR or the installed data folder)\n"
"  --dry-run           print the manifest that would be uploaded, and\n"
"                      upload nothing (no running agent needed)\n");
}

/* Accepts an absolute http or https URL made of the characters RFC 3986
 * allows, so that it needs no escaping inside a double-quoted scalar. */
static int
register_valid_url(const char *url)
{
	static const char extra[] = "-._~:/?#[]@!$&'()*+,;=%";
	const char *host, *p;
	size_t len = strlen(url);

	if (len == 0 || len > REGISTER_URL_MAX)
		return 0;
	if (strncmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncmp(url, "http://", 7) == 0)
		host = url + 7;
	else
		return 0;
	if (*host == '\0' || *host == '/' || *host == '?' || *host == '#')
		return 0;
	for (p = url; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr(extra, *p) != NULL))
			return 0;
	return 1;
}

/* Reads a whole file of at most MANIFEST_MAX_BYTES. Returns NULL with err
 * set on failure. */
static char *
register_read_file(const char *path, size_t *lenp, char *err, size_t errlen)
{
	char *data = NULL;
	size_t len = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	/* Reading one byte past the limit detects a file that is too large. */
	if ((data = malloc(MANIFEST_MAX_BYTES + 2)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	while (len <= MANIFEST_MAX_BYTES) {
		n = read(fd, data + len, MANIFEST_MAX_BYTES + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "cannot read %s: %s", path,
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > MANIFEST_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
		    MANIFEST_MAX_BYTES);
		goto fail;
	}
	if (memchr(data, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte; a manifest is "
		    "UTF-8 text", path);
		goto fail;
	}
	data[len] = '\0';
	close(fd);
	*lenp = len;
	return data;

fail:
	free(data);
	close(fd);
	return NULL;
}

static int
scan_next(struct reg_scan *s)
{
	if (s->have_event) {
		yaml_event_delete(&s->event);
		s->have_event = 0;
	}
	if (!yaml_parser_parse(&s->parser, &s->event)) {
		snprintf(s->err, s->errlen, "invalid YAML at line %lu: %s",
		    (unsigned long)s->parser.problem_mark.line + 1,
		    s->parser.problem ? s->parser.problem : "parse error");
		return -1;
	}
	s->have_event = 1;
	return 0;
}

/* Consumes the node that starts with the current event. */
static int
scan_skip_node(struct reg_scan *s)
{
	int depth = 0;

	for (;;) {
		switch (s->event.type) {
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			depth++;
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (depth == 0)
			return 0;
		if (scan_next(s) == -1)
			return -1;
	}
}

/* Classifies the node that starts with the current event. */
static enum reg_kind
scan_kind(const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_MAPPING_START_EVENT:
		return ev->data.mapping_start.style ==
		    YAML_FLOW_MAPPING_STYLE ? REG_FLOW_MAPPING :
		    REG_BLOCK_MAPPING;
	case YAML_SCALAR_EVENT:
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
		    ev->data.scalar.length == 0)
			return REG_EMPTY_SCALAR;
		if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ||
		    ev->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
		    ev->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE)
			return REG_SCALAR;
		return REG_OTHER;
	default:
		return REG_OTHER;
	}
}

static int
scan_is_key(const yaml_event_t *ev, const char *name)
{
	return ev->type == YAML_SCALAR_EVENT &&
	    strcmp((const char *)ev->data.scalar.value, name) == 0;
}

/* Scans the value of a root key that is the parent of target t. */
static int
scan_parent(struct reg_scan *s, struct reg_target *t)
{
	int is_target;

	t->parent_kind = scan_kind(&s->event);
	t->parent_start = s->event.start_mark.index;
	if (t->parent_kind != REG_BLOCK_MAPPING &&
	    t->parent_kind != REG_FLOW_MAPPING)
		return scan_skip_node(s);
	for (;;) {
		if (scan_next(s) == -1)
			return -1;
		if (s->event.type == YAML_MAPPING_END_EVENT)
			return 0;
		if (!t->parent_has_keys) {
			t->parent_has_keys = 1;
			t->first_key_start = s->event.start_mark.index;
		}
		is_target = scan_is_key(&s->event, t->key);
		if (scan_skip_node(s) == -1 || scan_next(s) == -1)
			return -1;
		if (is_target) {
			t->value_kind = scan_kind(&s->event);
			t->value_start = s->event.start_mark.index;
			t->value_end = s->event.end_mark.index;
		}
		if (scan_skip_node(s) == -1)
			return -1;
	}
}

/*
 * Walks the manifest's events and records where each target's parent and
 * value are. The manifest loader has already accepted the text, so the
 * root is a mapping without duplicate keys.
 */
static int
scan_manifest(const char *text, size_t len, struct reg_target *targets,
    size_t ntargets, enum reg_kind *root_kind, char *err, size_t errlen)
{
	struct reg_scan s;
	size_t i;
	int rc = -1, matched;

	memset(&s, 0, sizeof(s));
	s.err = err;
	s.errlen = errlen;
	if (!yaml_parser_initialize(&s.parser)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&s.parser, (const unsigned char *)text,
	    len);
	/* Stream start, document start, then the root mapping. */
	if (scan_next(&s) == -1 || scan_next(&s) == -1 || scan_next(&s) == -1)
		goto done;
	*root_kind = scan_kind(&s.event);
	if (s.event.type != YAML_MAPPING_START_EVENT) {
		snprintf(err, errlen, "the manifest is not a mapping");
		goto done;
	}
	for (;;) {
		if (scan_next(&s) == -1)
			goto done;
		if (s.event.type == YAML_MAPPING_END_EVENT)
			break;
		matched = -1;
		for (i = 0; i < ntargets; i++)
			if (scan_is_key(&s.event, targets[i].parent))
				matched = (int)i;
		if (scan_skip_node(&s) == -1 || scan_next(&s) == -1)
			goto done;
		if (matched >= 0) {
			if (scan_parent(&s, &targets[matched]) == -1)
				goto done;
		} else if (scan_skip_node(&s) == -1)
			goto done;
	}
	rc = 0;
done:
	if (s.have_event)
		yaml_event_delete(&s.event);
	yaml_parser_delete(&s.parser);
	return rc;
}

/* Converts a libyaml mark index, which counts characters after any byte
 * order mark, into a byte offset into UTF-8 text. */
static size_t
register_byte_offset(const char *text, size_t len, size_t index)
{
	size_t off = 0, chars = 0;

	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		off = 3;
	for (; off < len; off++) {
		/* Continuation bytes (10xxxxxx) do not start a character. */
		if (((unsigned char)text[off] & 0xc0) == 0x80)
			continue;
		if (chars++ == index)
			return off;
	}
	return len;
}

/* Plans the edit that sets one target. Returns -1 with err set when the
 * manifest writes the target in a form the edit cannot change safely. */
static int
plan_edit(const char *text, size_t len, const struct reg_target *t,
    enum reg_kind root_kind, struct reg_edit *e, char *err, size_t errlen)
{
	size_t start, line;

	e->remove = 0;
	switch (t->value_kind) {
	case REG_SCALAR:
		e->offset = register_byte_offset(text, len, t->value_start);
		e->remove = register_byte_offset(text, len, t->value_end) -
		    e->offset;
		snprintf(e->text, sizeof(e->text), "\"%s\"", t->value);
		return 0;
	case REG_EMPTY_SCALAR:
		e->offset = register_byte_offset(text, len, t->value_start);
		snprintf(e->text, sizeof(e->text), " \"%s\"", t->value);
		return 0;
	case REG_ABSENT:
		break;
	default:
		snprintf(err, errlen, "%s.%s must be a plain or quoted "
		    "string, not a block scalar, sequence or mapping",
		    t->parent, t->key);
		return -1;
	}

	/* The key is missing: add it to its parent, or add the parent. */
	switch (t->parent_kind) {
	case REG_BLOCK_MAPPING:
		if (!t->parent_has_keys)
			break;
		/* A new first line with the indentation of the first key. */
		start = register_byte_offset(text, len, t->first_key_start);
		for (line = start; line > 0 && text[line - 1] != '\n'; line--)
			if (text[line - 1] != ' ')
				break;
		if (line > 0 && text[line - 1] != '\n') {
			snprintf(err, errlen, "cannot add %s.%s: the first key "
			    "of %s does not start its line; add \"%s:\" to "
			    "the manifest", t->parent, t->key, t->parent,
			    t->key);
			return -1;
		}
		e->offset = line;
		snprintf(e->text, sizeof(e->text), "%.*s%s: \"%s\"\n",
		    (int)(start - line), text + line, t->key, t->value);
		return 0;
	case REG_FLOW_MAPPING:
		e->offset = register_byte_offset(text, len, t->parent_start);
		if (e->offset >= len || text[e->offset] != '{') {
			snprintf(err, errlen, "cannot add %s.%s: add \"%s:\" "
			    "to the manifest", t->parent, t->key, t->key);
			return -1;
		}
		e->offset++;
		snprintf(e->text, sizeof(e->text), "%s: \"%s\"%s", t->key,
		    t->value, t->parent_has_keys ? ", " : "");
		return 0;
	case REG_EMPTY_SCALAR:
		e->offset = register_byte_offset(text, len, t->parent_start);
		snprintf(e->text, sizeof(e->text), " {%s: \"%s\"}", t->key,
		    t->value);
		return 0;
	case REG_ABSENT:
		if (root_kind != REG_BLOCK_MAPPING)
			break;
		e->offset = len;
		snprintf(e->text, sizeof(e->text), "%s%s:\n  %s: \"%s\"\n",
		    len > 0 && text[len - 1] != '\n' ? "\n" : "", t->parent,
		    t->key, t->value);
		return 0;
	default:
		break;
	}
	snprintf(err, errlen, "%s must be a mapping to hold %s", t->parent,
	    t->key);
	return -1;
}

/* Applies edits, sorted by descending offset, to a copy of text. */
static char *
apply_edits(const char *text, size_t len, struct reg_edit *edits,
    size_t nedits)
{
	struct reg_edit tmp;
	size_t i, j, newlen = len, pos;
	char *out;

	for (i = 1; i < nedits; i++)
		for (j = i; j > 0 && edits[j - 1].offset < edits[j].offset;
		    j--) {
			tmp = edits[j];
			edits[j] = edits[j - 1];
			edits[j - 1] = tmp;
		}
	for (i = 0; i < nedits; i++)
		newlen += strlen(edits[i].text);
	if ((out = malloc(newlen + 1)) == NULL)
		return NULL;
	memcpy(out, text, len + 1);
	/* From the end, so that earlier offsets stay valid. */
	for (i = 0; i < nedits; i++) {
		size_t add = strlen(edits[i].text);

		pos = edits[i].offset;
		len = len - edits[i].remove + add;
		memmove(out + pos + add, out + pos + edits[i].remove,
		    len - pos - add + 1);
		memcpy(out + pos, edits[i].text, add);
	}
	return out;
}

/*
 * Checks that edited reads back as orig with only the targets changed, so
 * that no edit can publish a manifest that differs in any other value.
 */
static int
verify_edit(const struct manifest *orig, const char *edited,
    const struct reg_target *targets, size_t ntargets, char *err,
    size_t errlen)
{
	struct manifest *m;
	json_t *expected, *parent;
	size_t i;
	int rc = -1;

	if ((m = manifest_load_buffer("edited manifest", edited,
	    strlen(edited), err, errlen)) == NULL)
		return -1;
	if ((expected = json_deep_copy(orig->doc)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (i = 0; i < ntargets; i++) {
		parent = json_object_get(expected, targets[i].parent);
		if (!json_is_object(parent)) {
			parent = json_object();
			json_object_set_new(expected, targets[i].parent,
			    parent);
		}
		json_object_set_new(parent, targets[i].key,
		    json_string(targets[i].value));
	}
	if (!json_equal(expected, m->doc)) {
		snprintf(err, errlen, "the edited manifest does not read back "
		    "as the original with the two new values; set "
		    "agent.endpoint and metadata.last_updated as plain "
		    "strings and try again");
		goto done;
	}
	rc = 0;
done:
	json_decref(expected);
	manifest_free(m);
	return rc;
}

/* Returns the edited manifest text, or NULL with err set. */
static char *
register_edit(const char *text, size_t len, const struct manifest *orig,
    struct reg_target *targets, size_t ntargets, char *err, size_t errlen)
{
	struct reg_edit edits[REGISTER_TARGETS];
	enum reg_kind root_kind = REG_ABSENT;
	char *edited;
	size_t i;

	if (ntargets > REGISTER_TARGETS) {
		snprintf(err, errlen, "too many targets");
		return NULL;
	}
	if (scan_manifest(text, len, targets, ntargets, &root_kind, err,
	    errlen) == -1)
		return NULL;
	for (i = 0; i < ntargets; i++)
		if (plan_edit(text, len, &targets[i], root_kind, &edits[i],
		    err, errlen) == -1)
			return NULL;
	if ((edited = apply_edits(text, len, edits, ntargets)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (verify_edit(orig, edited, targets, ntargets, err, errlen) == -1) {
		free(edited);
		return NULL;
	}
	return edited;
}

/* Uploads the manifest through stated and returns the exit status. */
static int
register_upload(const char *runtime_dir, const char *service_type,
    const char *text)
{
	char path[256], object[128], err[512];
	json_t *body, *result = NULL;
	int rc;

	if (ipc_socket_path(path, sizeof(path), runtime_dir, "stated") == -1) {
		fprintf(stderr, "perf-agent-ctl: runtime folder path is too "
		    "long: %s; use a shorter --runtime-dir\n", runtime_dir);
		return 2;
	}
	snprintf(object, sizeof(object), "agents/%s.yaml", service_type);
	body = json_pack("{s:s, s:s, s:s, s:s}", "bucket", "registry",
	    "object", object, "content_type", "application/yaml", "text",
	    text);
	if (body == NULL) {
		fprintf(stderr, "perf-agent-ctl: out of memory\n");
		return 2;
	}
	/* A stated that closes the connection mid-request then fails the
	 * write with EPIPE, reported below, instead of killing this process. */
	signal(SIGPIPE, SIG_IGN);
	rc = ipc_call_sync(path, "stated", MSG_STATE_UPLOAD, body,
	    REGISTER_TIMEOUT_MS, &result, err, sizeof(err));
	json_decref(body);
	if (rc == -1) {
		fprintf(stderr, "perf-agent-ctl: %s; is the agent running "
		    "with --runtime-dir %s?\n", err, runtime_dir);
		return 2;
	}
	if (rc == 1) {
		fprintf(stderr, "perf-agent-ctl: upload of %s failed: %s\n",
		    object, err);
		json_decref(result);
		return 1;
	}
	printf("registered gs://%s/%s generation %s\n",
	    json_string_value(json_object_get(result, "bucket")) ?
	    json_string_value(json_object_get(result, "bucket")) : "?",
	    object, json_string_value(json_object_get(result, "generation")) ?
	    json_string_value(json_object_get(result, "generation")) : "?");
	json_decref(result);
	return 0;
}

/* Returns the value of an environment variable, or NULL when unset or
 * empty. */
static const char *
register_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

int
register_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "runtime-dir", required_argument, NULL, 'r' },
		{ "manifest", required_argument, NULL, 'm' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct reg_target targets[REGISTER_TARGETS];
	const char *endpoint, *runtime_dir, *manifest_path = NULL;
	char default_manifest[4096], now[TIMEFMT_MAX], err[1024];
	struct manifest *m = NULL;
	char *text = NULL, *edited = NULL;
	size_t len;
	int ch, dry_run = 0, rc = 2;

	endpoint = register_env("AGENT_URL");
	runtime_dir = register_env("RUNTIME_DIRECTORY");
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (ch) {
		case 'e':
			endpoint = optarg;
			break;
		case 'r':
			runtime_dir = optarg;
			break;
		case 'm':
			manifest_path = optarg;
			break;
		case 'n':
			dry_run = 1;
			break;
		case 'h':
			register_usage(stdout);
			return 0;
		default:
			ctl_option_error(ch, argv, opts);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "perf-agent-ctl: register takes no argument "
		    "\"%s\"; see perf-agent-ctl register --help\n",
		    argv[optind]);
		return 2;
	}
	if (endpoint == NULL) {
		fprintf(stderr, "perf-agent-ctl: register needs --endpoint URL "
		    "or $AGENT_URL, the agent's base URL\n");
		return 2;
	}
	if (!register_valid_url(endpoint)) {
		fprintf(stderr, "perf-agent-ctl: invalid --endpoint "
		    "\"%.100s\": must be an http:// or https:// URL of at "
		    "most %d characters without spaces or quotes\n",
		    endpoint, REGISTER_URL_MAX);
		return 2;
	}
	if (runtime_dir == NULL)
		runtime_dir = settings_runtime_dir();
	if (manifest_path == NULL) {
		snprintf(default_manifest, sizeof(default_manifest),
		    "%s/manifest.yaml", register_env("PERF_AGENT_DATA_DIR") ?
		    register_env("PERF_AGENT_DATA_DIR") : settings_data_dir());
		manifest_path = default_manifest;
	}

	if ((text = register_read_file(manifest_path, &len, err,
	    sizeof(err))) == NULL ||
	    (m = manifest_load_buffer(manifest_path, text, len, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "perf-agent-ctl: %s\n", err);
		goto done;
	}
	timefmt_utc(now, sizeof(now), time(NULL));
	targets[0] = (struct reg_target){ .parent = "agent",
	    .key = "endpoint", .value = endpoint };
	targets[1] = (struct reg_target){ .parent = "metadata",
	    .key = "last_updated", .value = now };
	if ((edited = register_edit(text, len, m, targets, REGISTER_TARGETS,
	    err, sizeof(err))) == NULL) {
		fprintf(stderr, "perf-agent-ctl: %s: %s\n", manifest_path, err);
		goto done;
	}

	if (dry_run) {
		fputs(edited, stdout);
		rc = fflush(stdout) == 0 ? 0 : 2;
	} else
		rc = register_upload(runtime_dir, manifest_service_type(m),
		    edited);
done:
	free(edited);
	manifest_free(m);
	free(text);
	return rc;
}

/*
 * Service bodies: type checks of the fields localcloud reads, and the
 * revision (executable, environment, limits) a template describes.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "localcloud.h"
#include "revision.h"
#include "run.h"

/* Cloud Run's defaults: 100 instances, and 80 requests per instance with
 * at least one CPU or 1 below that. */
#define REVISION_DEFAULT_MAX_INSTANCES	100
#define REVISION_DEFAULT_CONCURRENCY	80
#define REVISION_MAX_CONCURRENCY	1000
#define REVISION_MAX_ENV		1000	/* variables per container */
#define REVISION_IMAGE_PREFIX		"local/"

struct run_revision *
run_revision_ref(struct run_revision *rev)
{
	rev->refs++;
	return rev;
}

void
run_revision_unref(struct run_revision *rev)
{
	char **e;

	if (rev == NULL || --rev->refs > 0)
		return;
	if (rev->env != NULL)
		for (e = rev->env; *e != NULL; e++)
			free(*e);
	free(rev->env);
	free(rev->name);
	free(rev->run_path);
	free(rev->work_dir);
	free(rev);
}

/* Writes the Google wording for a field of the wrong type. */
static int
type_error(char *err, size_t size, const char *field, const char *type,
    json_t *value)
{
	char *text = json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);

	snprintf(err, size, "Invalid value at '%s' (%s), %.64s", field, type,
	    text != NULL ? text : "?");
	free(text);
	return -1;
}

/* Checks that obj[key], when present, is of the JSON type wanted. */
static int
check_field(json_t *obj, const char *key, json_type want,
    const char *prefix, char *err, size_t size)
{
	static const char *const names[] = {
		[JSON_OBJECT] = "TYPE_MESSAGE", [JSON_ARRAY] = "TYPE_LIST",
		[JSON_STRING] = "TYPE_STRING", [JSON_INTEGER] = "TYPE_INT32",
		[JSON_REAL] = "TYPE_DOUBLE", [JSON_TRUE] = "TYPE_BOOL",
		[JSON_FALSE] = "TYPE_BOOL", [JSON_NULL] = "TYPE_NULL",
	};
	json_t *v = json_object_get(obj, key);
	char field[256];

	if (v == NULL || json_is_null(v))
		return 0;
	if (want == JSON_TRUE && json_is_boolean(v))
		return 0;
	if (want == JSON_INTEGER && json_is_string(v)) {
		/* proto3 JSON accepts integers as strings too. */
		const char *s = json_string_value(v);
		char *end;

		errno = 0;
		(void)strtol(s, &end, 10);
		if (*s != '\0' && *end == '\0' && errno == 0)
			return 0;
	}
	if (json_typeof(v) == want)
		return 0;
	snprintf(field, sizeof(field), "%s.%s", prefix, key);
	return type_error(err, size, field, names[want], v);
}

/* Reads an optional integer field (number or decimal string). */
static int
get_int(json_t *obj, const char *key, long min, long max, long dflt,
    long *out, const char *prefix, char *err, size_t size)
{
	json_t *v = json_object_get(obj, key);
	long long n;
	char *end;

	*out = dflt;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else if (json_is_string(v)) {
		errno = 0;
		n = strtoll(json_string_value(v), &end, 10);
		if (*json_string_value(v) == '\0' || *end != '\0' || errno != 0)
			goto bad;
	} else {
		goto bad;
	}
	if (n < min || n > max) {
		snprintf(err, size, "%s.%s must be between %ld and %ld, not "
		    "%lld.", prefix, key, min, max, n);
		return -1;
	}
	*out = (long)n;
	return 0;

bad:
	{
		char field[256];

		snprintf(field, sizeof(field), "%s.%s", prefix, key);
		return type_error(err, size, field, "TYPE_INT32", v);
	}
}

/* Checks a labels or annotations map: string values, and no key in the
 * namespaces Cloud Run v2 reserves. */
static int
check_labels(json_t *obj, const char *key, const char *prefix,
    char *err, size_t size)
{
	static const char *const reserved[] = { "run.googleapis.com",
	    "cloud.googleapis.com", "serving.knative.dev",
	    "autoscaling.knative.dev", NULL };
	json_t *map = json_object_get(obj, key), *v;
	const char *k;
	char field[256];
	int i;

	if (check_field(obj, key, JSON_OBJECT, prefix, err, size) == -1)
		return -1;
	if (map == NULL)
		return 0;
	json_object_foreach(map, k, v) {
		snprintf(field, sizeof(field), "%s.%s[%s]", prefix, key, k);
		if (!json_is_string(v))
			return type_error(err, size, field, "TYPE_STRING", v);
		for (i = 0; reserved[i] != NULL; i++) {
			size_t n = strlen(reserved[i]);

			if (strncmp(k, reserved[i], n) == 0 &&
			    (k[n] == '/' || k[n] == '\0')) {
				snprintf(err, size, "%s: the key '%.64s' is in "
				    "the reserved namespace %s.", field, k,
				    reserved[i]);
				return -1;
			}
		}
	}
	return 0;
}

int
revision_parse_cpu(const char *text, unsigned long *millis)
{
	char *end;
	double v;

	errno = 0;
	if (text == NULL || !isdigit((unsigned char)*text))
		return -1;
	v = strtod(text, &end);
	if (errno != 0 || v <= 0)
		return -1;
	if (strcmp(end, "m") == 0)
		v /= 1000;
	else if (*end != '\0')
		return -1;
	if (v > 1024)
		return -1;
	*millis = (unsigned long)(v * 1000 + 0.5);
	return *millis > 0 ? 0 : -1;
}

int
revision_parse_memory(const char *text, uint64_t *bytes)
{
	static const struct {
		const char	*suffix;
		uint64_t	 mult;
	} units[] = {
		{ "", 1 }, { "k", 1000 }, { "K", 1000 }, { "M", 1000000 },
		{ "G", 1000000000ULL }, { "T", 1000000000000ULL },
		{ "Ki", 1ULL << 10 }, { "Mi", 1ULL << 20 }, { "Gi", 1ULL << 30 },
		{ "Ti", 1ULL << 40 },
	};
	unsigned long long v;
	char *end;
	size_t i;

	if (text == NULL || !isdigit((unsigned char)*text))
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno != 0 || v == 0)
		return -1;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return -1;
		*bytes = v * units[i].mult;
		return 0;
	}
	return -1;
}

/* Checks one entry of template.containers. */
static int
check_container(json_t *c, int index, char *err, size_t size)
{
	json_t *env, *res, *limits, *ports, *v;
	const char *k;
	char prefix[128], field[192];
	unsigned long millis;
	uint64_t bytes;
	size_t i;

	snprintf(prefix, sizeof(prefix), "service.template.containers[%d]",
	    index);
	if (!json_is_object(c))
		return type_error(err, size, prefix, "TYPE_MESSAGE", c);
	if (check_field(c, "image", JSON_STRING, prefix, err, size) == -1 ||
	    check_field(c, "name", JSON_STRING, prefix, err, size) == -1 ||
	    check_field(c, "command", JSON_ARRAY, prefix, err, size) == -1 ||
	    check_field(c, "args", JSON_ARRAY, prefix, err, size) == -1 ||
	    check_field(c, "env", JSON_ARRAY, prefix, err, size) == -1 ||
	    check_field(c, "ports", JSON_ARRAY, prefix, err, size) == -1 ||
	    check_field(c, "resources", JSON_OBJECT, prefix, err, size) == -1)
		return -1;
	if (index == 0 && !json_is_string(json_object_get(c, "image"))) {
		snprintf(err, size, "%s.image: the container image is "
		    "required.", prefix);
		return -1;
	}

	env = json_object_get(c, "env");
	if (json_array_size(env) > REVISION_MAX_ENV) {
		snprintf(err, size, "%s.env: more than %d variables.", prefix,
		    REVISION_MAX_ENV);
		return -1;
	}
	json_array_foreach(env, i, v) {
		snprintf(field, sizeof(field), "%s.env[%zu]", prefix, i);
		if (!json_is_object(v))
			return type_error(err, size, field, "TYPE_MESSAGE", v);
		if (check_field(v, "name", JSON_STRING, field, err, size) ==
		    -1 || check_field(v, "value", JSON_STRING, field, err,
		    size) == -1)
			return -1;
		k = json_string_value(json_object_get(v, "name"));
		if (k == NULL || *k == '\0' || strchr(k, '=') != NULL) {
			snprintf(err, size, "%s.name: a variable name is "
			    "required and must not contain '='.", field);
			return -1;
		}
		if (strcmp(k, "PORT") == 0 || strncmp(k, "K_", 2) == 0) {
			snprintf(err, size, "%s.name: %s is reserved and set "
			    "by Cloud Run.", field, k);
			return -1;
		}
	}

	ports = json_object_get(c, "ports");
	json_array_foreach(ports, i, v) {
		snprintf(field, sizeof(field), "%s.ports[%zu]", prefix, i);
		if (!json_is_object(v))
			return type_error(err, size, field, "TYPE_MESSAGE", v);
		if (check_field(v, "name", JSON_STRING, field, err, size) ==
		    -1 || check_field(v, "containerPort", JSON_INTEGER, field,
		    err, size) == -1)
			return -1;
	}

	res = json_object_get(c, "resources");
	snprintf(field, sizeof(field), "%s.resources", prefix);
	if (check_field(res, "limits", JSON_OBJECT, field, err, size) == -1 ||
	    check_field(res, "cpuIdle", JSON_TRUE, field, err, size) == -1 ||
	    check_field(res, "startupCpuBoost", JSON_TRUE, field, err,
	    size) == -1)
		return -1;
	limits = json_object_get(res, "limits");
	json_object_foreach(limits, k, v) {
		snprintf(field, sizeof(field), "%s.resources.limits[%s]",
		    prefix, k);
		if (!json_is_string(v))
			return type_error(err, size, field, "TYPE_STRING", v);
	}
	if ((v = json_object_get(limits, "cpu")) != NULL &&
	    revision_parse_cpu(json_string_value(v), &millis) == -1) {
		snprintf(err, size, "%s.resources.limits.cpu: invalid CPU "
		    "value '%.32s'; use a number of CPUs such as \"1\" or "
		    "\"0.5\", or millicpus such as \"500m\".", prefix,
		    json_string_value(v));
		return -1;
	}
	if ((v = json_object_get(limits, "memory")) != NULL &&
	    revision_parse_memory(json_string_value(v), &bytes) == -1) {
		snprintf(err, size, "%s.resources.limits.memory: invalid "
		    "memory value '%.32s'; use a quantity such as \"512Mi\" "
		    "or \"2Gi\".", prefix, json_string_value(v));
		return -1;
	}
	return 0;
}

int
revision_validate(json_t *service, char *err, size_t size)
{
	json_t *tmpl, *containers, *v, *scaling;
	const char *s;
	long n;
	size_t i;

	if (check_labels(service, "labels", "service", err, size) == -1 ||
	    check_labels(service, "annotations", "service", err, size) == -1 ||
	    check_field(service, "description", JSON_STRING, "service", err,
	    size) == -1 || check_field(service, "ingress", JSON_STRING,
	    "service", err, size) == -1 || check_field(service, "traffic",
	    JSON_ARRAY, "service", err, size) == -1 ||
	    check_field(service, "scaling", JSON_OBJECT, "service", err,
	    size) == -1 || check_field(service, "invokerIamDisabled",
	    JSON_TRUE, "service", err, size) == -1 ||
	    check_field(service, "template", JSON_OBJECT, "service", err,
	    size) == -1)
		return -1;
	if ((s = json_string_value(json_object_get(service, "description")))
	    != NULL && strlen(s) > 512) {
		snprintf(err, size, "service.description is longer than 512 "
		    "characters.");
		return -1;
	}
	scaling = json_object_get(service, "scaling");
	if (get_int(scaling, "minInstanceCount", 0, 1000, 0, &n,
	    "service.scaling", err, size) == -1 ||
	    get_int(scaling, "maxInstanceCount", 0, 1000, 0, &n,
	    "service.scaling", err, size) == -1)
		return -1;

	if ((tmpl = json_object_get(service, "template")) == NULL) {
		snprintf(err, size, "service.template is required.");
		return -1;
	}
	if (check_labels(tmpl, "labels", "service.template", err, size) ==
	    -1 || check_labels(tmpl, "annotations", "service.template", err,
	    size) == -1 || check_field(tmpl, "revision", JSON_STRING,
	    "service.template", err, size) == -1 ||
	    check_field(tmpl, "timeout", JSON_STRING, "service.template",
	    err, size) == -1 || check_field(tmpl, "serviceAccount",
	    JSON_STRING, "service.template", err, size) == -1 ||
	    check_field(tmpl, "executionEnvironment", JSON_STRING,
	    "service.template", err, size) == -1 ||
	    check_field(tmpl, "scaling", JSON_OBJECT, "service.template", err,
	    size) == -1 || check_field(tmpl, "containers", JSON_ARRAY,
	    "service.template", err, size) == -1)
		return -1;
	if (get_int(tmpl, "maxInstanceRequestConcurrency", 0,
	    REVISION_MAX_CONCURRENCY, 0, &n, "service.template", err,
	    size) == -1)
		return -1;
	scaling = json_object_get(tmpl, "scaling");
	if (get_int(scaling, "minInstanceCount", 0, 1000, 0, &n,
	    "service.template.scaling", err, size) == -1 ||
	    get_int(scaling, "maxInstanceCount", 0, 1000, 0, &n,
	    "service.template.scaling", err, size) == -1)
		return -1;
	if ((s = json_string_value(json_object_get(tmpl,
	    "executionEnvironment"))) != NULL &&
	    strcmp(s, "EXECUTION_ENVIRONMENT_UNSPECIFIED") != 0 &&
	    strcmp(s, "EXECUTION_ENVIRONMENT_GEN1") != 0 &&
	    strcmp(s, "EXECUTION_ENVIRONMENT_GEN2") != 0) {
		snprintf(err, size, "Invalid value at "
		    "'service.template.execution_environment' (type.googleapis."
		    "com/google.cloud.run.v2.ExecutionEnvironment), \"%.64s\"",
		    s);
		return -1;
	}

	containers = json_object_get(tmpl, "containers");
	if (json_array_size(containers) == 0) {
		snprintf(err, size, "service.template.containers: one "
		    "container is required.");
		return -1;
	}
	json_array_foreach(containers, i, v)
		if (check_container(v, (int)i, err, size) == -1)
			return -1;
	return 0;
}

/* Checks one image name component: letters, digits, '.', '_', '-', and
 * not "." or "..", so that it stays one directory level. */
static int
image_component_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > 128 || (len <= 2 && s[0] == '.' &&
	    (len == 1 || s[1] == '.')))
		return 0;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' &&
		    s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/*
 * Finds DIR/TYPE/NAME/run for the image "local/TYPE/NAME[:tag|@digest]" in
 * the implementations path. Fills reason and message for the operation
 * error when the image cannot run.
 */
static int
resolve_image(const char *paths, const char *image, char *run_path,
    size_t path_size, char *reason, size_t reason_size, char *msg,
    size_t msg_size)
{
	const char *type, *name, *end, *dir, *next;
	size_t type_len, name_len, dir_len;
	struct stat st;
	int found_noexec = 0;

	if (strncmp(image, REVISION_IMAGE_PREFIX,
	    strlen(REVISION_IMAGE_PREFIX)) != 0)
		goto bad_name;
	type = image + strlen(REVISION_IMAGE_PREFIX);
	if ((name = strchr(type, '/')) == NULL)
		goto bad_name;
	type_len = (size_t)(name - type);
	name++;
	end = name + strcspn(name, ":@");
	name_len = (size_t)(end - name);
	if (!image_component_ok(type, type_len) ||
	    !image_component_ok(name, name_len))
		goto bad_name;

	for (dir = paths; dir != NULL && *dir != '\0'; dir = next) {
		next = strchr(dir, ':');
		dir_len = next != NULL ? (size_t)(next - dir) : strlen(dir);
		if (next != NULL)
			next++;
		if (dir_len == 0)
			continue;
		if (snprintf(run_path, path_size, "%.*s/%.*s/%.*s/run",
		    (int)dir_len, dir, (int)type_len, type, (int)name_len,
		    name) >= (int)path_size)
			continue;
		if (stat(run_path, &st) == -1)
			continue;
		if (S_ISREG(st.st_mode) && access(run_path, X_OK) == 0)
			return 0;
		found_noexec = 1;
	}
	if (found_noexec) {
		snprintf(reason, reason_size, "CONTAINER_PERMISSION_DENIED");
		snprintf(msg, msg_size, "Image '%s' is not runnable: %.*s/%.*s"
		    "/run exists but is not an executable file.", image,
		    (int)type_len, type, (int)name_len, name);
		return -1;
	}
	snprintf(reason, reason_size, "CONTAINER_MISSING");
	snprintf(msg, msg_size, "Image '%s' not found: no executable %.*s/"
	    "%.*s/run in the implementations path '%s'.", image,
	    (int)type_len, type, (int)name_len, name, paths);
	return -1;

bad_name:
	snprintf(reason, reason_size, "CONTAINER_MISSING");
	snprintf(msg, msg_size, "Image '%s' not found: localcloud runs only "
	    "images named local/<service-type>/<name>.", image);
	return -1;
}

/* Builds the NULL-terminated "NAME=VALUE" list of a container's env. */
static char **
build_env(json_t *env)
{
	json_t *v;
	const char *name, *value;
	char **list;
	size_t i, n = 0;

	if ((list = calloc(json_array_size(env) + 1, sizeof(*list))) == NULL)
		return NULL;
	json_array_foreach(env, i, v) {
		name = json_string_value(json_object_get(v, "name"));
		value = json_string_value(json_object_get(v, "value"));
		if (name == NULL)
			continue;
		if (asprintf(&list[n], "%s=%s", name, value ? value : "") ==
		    -1) {
			list[n] = NULL;
			while (n > 0)
				free(list[--n]);
			free(list);
			return NULL;
		}
		n++;
	}
	return list;
}

struct run_revision *
revision_build(struct lc *lc, json_t *service, const char *name,
    char *reason, size_t reason_size, char *msg, size_t msg_size)
{
	json_t *tmpl, *c, *limits, *port, *scaling;
	struct run_revision *rev;
	char path[LC_PATH_MAX], *slash;
	unsigned long millis = 1000;
	const char *s;
	long n;
	char err[8];
	size_t i;

	tmpl = json_object_get(service, "template");
	c = json_array_get(json_object_get(tmpl, "containers"), 0);
	if (resolve_image(lc->implementations,
	    json_string_value(json_object_get(c, "image")), path,
	    sizeof(path), reason, reason_size, msg, msg_size) == -1)
		return NULL;

	if ((rev = calloc(1, sizeof(*rev))) == NULL)
		goto nomem;
	rev->refs = 1;
	/* Absolute, because the instance runs in the run file's folder. */
	if ((rev->name = strdup(name)) == NULL ||
	    (rev->run_path = realpath(path, NULL)) == NULL ||
	    (rev->work_dir = strdup(rev->run_path)) == NULL ||
	    (rev->env = build_env(json_object_get(c, "env"))) == NULL)
		goto nomem;
	if ((slash = strrchr(rev->work_dir, '/')) != NULL)
		*slash = '\0';

	/* Validated already, so the parsers succeed where a value is set. */
	limits = json_object_get(json_object_get(c, "resources"), "limits");
	if ((s = json_string_value(json_object_get(limits, "cpu"))) != NULL)
		(void)revision_parse_cpu(s, &millis);
	rev->cpus = (unsigned int)((millis + 999) / 1000);
	if ((s = json_string_value(json_object_get(limits, "memory"))) != NULL)
		(void)revision_parse_memory(s, &rev->memory_bytes);

	(void)get_int(tmpl, "maxInstanceRequestConcurrency", 0,
	    REVISION_MAX_CONCURRENCY, 0, &n, "", err, sizeof(err));
	if (n == 0)
		n = millis < 1000 ? 1 : REVISION_DEFAULT_CONCURRENCY;
	rev->concurrency = (unsigned int)n;

	/* The template's maximum wins over the service-level one. */
	scaling = json_object_get(tmpl, "scaling");
	(void)get_int(scaling, "maxInstanceCount", 0, 1000, 0, &n, "", err,
	    sizeof(err));
	if (n == 0) {
		scaling = json_object_get(service, "scaling");
		(void)get_int(scaling, "maxInstanceCount", 0, 1000, 0, &n, "",
		    err, sizeof(err));
	}
	rev->max_instances = n > 0 ? (unsigned int)n :
	    REVISION_DEFAULT_MAX_INSTANCES;

	json_array_foreach(json_object_get(c, "ports"), i, port)
		if ((s = json_string_value(json_object_get(port, "name"))) !=
		    NULL && strcmp(s, "h2c") == 0)
			rev->h2c = 1;
	return rev;

nomem:
	run_revision_unref(rev);
	snprintf(reason, reason_size, "INTERNAL");
	snprintf(msg, msg_size, "Out of memory building the revision.");
	return NULL;
}

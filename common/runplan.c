/* Expansion of a deploy request into Cloud Run services. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "runplan.h"

/* Characters of a service name before "-<hash>". */
#define READABLE_MAX	(RUNPLAN_NAME_MAX - 1 - RUNPLAN_HASH_CHARS)
/* Maximum length of the "<type>-<implementation>" start of a name. */
#define PREFIX_MAX	24
/* Minimum run id characters kept when a name has to be shortened. */
#define RUN_MIN		8
/* Maximum length of the service type prefix ("discord" of
 * "discord-webhook"). */
#define TYPE_SHORT_MAX	16

enum dimension {
	DIM_CPU,
	DIM_MEMORY,
	DIM_STARTUP_BOOST,
	DIM_CONCURRENCY,
	DIM_EXECUTION_ENVIRONMENT,
	DIM_MAX_INSTANCES,
	DIM_COUNT
};

/* test_matrix keys, in the order the plan varies them (last fastest). */
static const char *const dimension_names[DIM_COUNT] = {
	"cpu", "memory", "startup_boost", "concurrency",
	"execution_environment", "max_instances",
};

/*
 * Copies s into out (of size outlen) with ASCII letters lowercased, every
 * character other than [a-z0-9] turned into '-', runs of '-' collapsed and
 * leading and trailing '-' removed.
 */
static void
sanitize(char *out, size_t outlen, const char *s)
{
	size_t n = 0;
	char c;

	for (; *s != '\0' && n + 1 < outlen; s++) {
		c = *s;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		if (c == '-' && (n == 0 || out[n - 1] == '-'))
			continue;
		out[n++] = c;
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
}

/* Cuts s to at most max characters and drops the '-' left at its end. */
static void
truncate_part(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n > max)
		n = max;
	while (n > 0 && s[n - 1] == '-')
		n--;
	s[n] = '\0';
}

/* Cuts s to at most max characters at the end of a '-' separated token,
 * or anywhere when its first token is longer than max. */
static void
truncate_tokens(char *s, size_t max)
{
	char *dash;

	if (strlen(s) <= max)
		return;
	s[max] = '\0';
	if ((dash = strrchr(s, '-')) != NULL)
		*dash = '\0';
	truncate_part(s, max);
}

/* Writes the first RUNPLAN_HASH_CHARS base32 characters of a BLAKE2b hash. */
static int
hash_base32(char *out, size_t outlen, const char *data, size_t len)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char digest[16];
	unsigned int bits = 0, acc = 0;
	size_t i = 0, n = 0;

	if (outlen < RUNPLAN_HASH_CHARS + 1 || sodium_init() == -1)
		return -1;
	if (crypto_generichash(digest, sizeof(digest),
	    (const unsigned char *)data, len, NULL, 0) != 0)
		return -1;
	while (n < RUNPLAN_HASH_CHARS) {
		if (bits < 5) {
			acc = (acc << 8) | digest[i++];
			bits += 8;
		}
		out[n++] = alphabet[(acc >> (bits - 5)) & 31];
		bits -= 5;
	}
	out[n] = '\0';
	return 0;
}

/*
 * Builds the Cloud Run service id of one service. The readable part
 * "<type>-<implementation>-<run>-<cell_suffix>" is lossy: case is folded,
 * '.' and '_' become '-', and hyphens inside the parts make the joins
 * ambiguous. So every name ends with a hash of the exact logical name
 * (service type, implementation, run id and cell_key). The hash, not the
 * readable part, keeps two runs or cells apart. With 40 bits a collision
 * is possible in principle but not expected in practice.
 */
int
runplan_service_name(char *out, size_t outlen, const char *service_type,
    const char *implementation, const char *run_id, const char *cell_key,
    const char *cell_suffix)
{
	char type_short[TYPE_SHORT_MAX + 1], prefix[PREFIX_MAX * 2 + 2];
	char run[128], suffix[READABLE_MAX + 1], hash[RUNPLAN_HASH_CHARS + 1];
	char logical[512], readable[sizeof(prefix) + sizeof(run) + READABLE_MAX + 3];
	size_t len, room, keep;
	int n;

	/* The logical name: fields joined by '\n', which none may contain. */
	n = snprintf(logical, sizeof(logical), "perf-agent-service-v1\n%s\n%s\n"
	    "%s\n%s", service_type, implementation, run_id, cell_key);
	if (n < 0 || (size_t)n >= sizeof(logical) ||
	    hash_base32(hash, sizeof(hash), logical, (size_t)n) == -1)
		return -1;

	/* "discord" of "discord-webhook": the start up to the first '-'. */
	len = strcspn(service_type, "-");
	if (len > TYPE_SHORT_MAX)
		len = TYPE_SHORT_MAX;
	memcpy(type_short, service_type, len);
	type_short[len] = '\0';
	snprintf(prefix, sizeof(prefix), "%s-%s", type_short, implementation);
	sanitize(prefix, sizeof(prefix), prefix);
	truncate_part(prefix, PREFIX_MAX);
	if (prefix[0] < 'a' || prefix[0] > 'z')
		return -1;
	sanitize(run, sizeof(run), run_id);
	sanitize(suffix, sizeof(suffix), cell_suffix);

	/*
	 * When the parts do not fit, the cell suffix keeps what is left after
	 * RUN_MIN characters of the run id (cut after a whole "-" separated
	 * token), and the run id gets the rest.
	 */
	room = READABLE_MAX - strlen(prefix) - 1;
	len = strlen(suffix);
	if (strlen(run) + (len > 0 ? len + 1 : 0) > room) {
		keep = strlen(run) < RUN_MIN ? strlen(run) : RUN_MIN;
		truncate_tokens(suffix, room > keep + 1 ? room - keep - 1 : 0);
		len = strlen(suffix);
		truncate_part(run, room - (len > 0 ? len + 1 : 0));
	}

	snprintf(readable, sizeof(readable), "%s%s%s%s%s", prefix,
	    run[0] != '\0' ? "-" : "", run, suffix[0] != '\0' ? "-" : "",
	    suffix);
	n = snprintf(out, outlen, "%s-%s", readable, hash);
	if (n < 0 || (size_t)n >= outlen || n > RUNPLAN_NAME_MAX)
		return -1;
	return 0;
}

/*
 * Makes a Cloud Run label value (lowercase letters, digits, '_' and '-',
 * at most 63 characters) from value. A value that already qualifies is
 * kept. Any other gets its sanitized form plus a hash of the original, so
 * that "Run.1" and "run-1" get different labels.
 */
int
runplan_label_value(char *out, size_t outlen, const char *value)
{
	char hash[RUNPLAN_HASH_CHARS + 1], clean[RUNPLAN_LABEL_MAX + 1];
	size_t len = strlen(value), i;
	int n;

	if (len <= RUNPLAN_LABEL_MAX && strspn(value,
	    "abcdefghijklmnopqrstuvwxyz0123456789_-") == len) {
		n = snprintf(out, outlen, "%s", value);
		return n < 0 || (size_t)n >= outlen ? -1 : 0;
	}
	if (hash_base32(hash, sizeof(hash), value, len) == -1)
		return -1;
	for (i = 0; i < len && i < sizeof(clean) - 1; i++) {
		clean[i] = value[i];
		if (clean[i] >= 'A' && clean[i] <= 'Z')
			clean[i] = (char)(clean[i] - 'A' + 'a');
		if (strchr("abcdefghijklmnopqrstuvwxyz0123456789_-",
		    clean[i]) == NULL || clean[i] == '\0')
			clean[i] = '_';
	}
	clean[i] = '\0';
	truncate_part(clean, RUNPLAN_LABEL_MAX - 1 - RUNPLAN_HASH_CHARS);
	n = snprintf(out, outlen, "%s-%s", clean, hash);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Parses a memory limit "<N>Mi" or "<N>Gi" (N without leading zeros) into
 * MiB; -1 for any other syntax. */
int
runplan_memory_mib(const char *memory, long *mib)
{
	long v = 0;
	size_t i;

	if (memory[0] < '1' || memory[0] > '9')
		return -1;
	for (i = 0; memory[i] >= '0' && memory[i] <= '9'; i++) {
		if (i >= 6)
			return -1;
		v = v * 10 + (memory[i] - '0');
	}
	if (strcmp(memory + i, "Mi") == 0)
		*mib = v;
	else if (strcmp(memory + i, "Gi") == 0)
		*mib = v * 1024;
	else
		return -1;
	return 0;
}

/*
 * Checks one cpu, memory and execution environment combination against
 * Cloud Run's limits, from cloud.google.com/run/docs/configuring/services/
 * memory-limits. Memory is 128Mi to 32Gi, at least 512Mi on gen2. 4 CPUs
 * need 2Gi and 8 CPUs 4Gi. More than 4, 8, 16 or 24 GiB need at least 2,
 * 4, 6 or 8 CPUs.
 */
int
runplan_check_resources(const char *cpu, long memory_mib,
    const char *execution_environment, char *why, size_t whylen)
{
	static const struct {
		long	above_mib;
		int	min_cpu;
	} memory_rules[] = {
		{ 24 * 1024, 8 }, { 16 * 1024, 6 }, { 8 * 1024, 4 },
		{ 4 * 1024, 2 },
	};
	int cpus;
	size_t i;

	if (strcmp(cpu, "1") == 0 || strcmp(cpu, "2") == 0 ||
	    strcmp(cpu, "4") == 0 || strcmp(cpu, "8") == 0)
		cpus = cpu[0] - '0';
	else {
		snprintf(why, whylen, "cpu must be \"1\", \"2\", \"4\" or "
		    "\"8\"");
		return -1;
	}
	if (memory_mib < 128 || memory_mib > 32 * 1024) {
		snprintf(why, whylen, "memory must be between 128Mi and 32Gi");
		return -1;
	}
	if (strcmp(execution_environment, "gen2") == 0 && memory_mib < 512) {
		snprintf(why, whylen, "the gen2 execution environment needs at "
		    "least 512Mi of memory");
		return -1;
	}
	if ((cpus == 4 && memory_mib < 2048) || (cpus == 8 &&
	    memory_mib < 4096)) {
		snprintf(why, whylen, "%d CPUs need at least %dGi of memory",
		    cpus, cpus == 4 ? 2 : 4);
		return -1;
	}
	for (i = 0; i < sizeof(memory_rules) / sizeof(memory_rules[0]); i++)
		if (memory_mib > memory_rules[i].above_mib &&
		    cpus < memory_rules[i].min_cpu) {
			snprintf(why, whylen, "more than %ldGi of memory needs "
			    "at least %d CPUs", memory_rules[i].above_mib / 1024,
			    memory_rules[i].min_cpu);
			return -1;
		}
	return 0;
}

/* Returns the values of one dimension: the request's array, or a new
 * one-element array holding the default. */
static json_t *
dimension_values(const json_t *matrix, enum dimension d)
{
	json_t *v = json_object_get(matrix, dimension_names[d]);

	if (v != NULL)
		return json_incref(v);
	switch (d) {
	case DIM_CPU:
		return json_pack("[s]", RUNPLAN_DEFAULT_CPU);
	case DIM_MEMORY:
		return json_pack("[s]", RUNPLAN_DEFAULT_MEMORY);
	case DIM_STARTUP_BOOST:
		return json_pack("[b]", RUNPLAN_DEFAULT_STARTUP_BOOST);
	case DIM_CONCURRENCY:
		return json_pack("[i]", RUNPLAN_DEFAULT_CONCURRENCY);
	case DIM_EXECUTION_ENVIRONMENT:
		return json_pack("[s]", RUNPLAN_DEFAULT_EXECUTION_ENVIRONMENT);
	case DIM_MAX_INSTANCES:
		return json_pack("[i]", RUNPLAN_DEFAULT_MAX_INSTANCES);
	case DIM_COUNT:
		break;
	}
	return NULL;
}

/* Copies a JSON string of at most size - 1 bytes into buf. */
static int
copy_string(char *buf, size_t size, const json_t *v)
{
	const char *s = json_string_value(v);

	if (s == NULL || strlen(s) >= size)
		return -1;
	memcpy(buf, s, strlen(s) + 1);
	return 0;
}

/* Sets one dimension of e from value v; -1 when v has the wrong type. */
static int
set_dimension(struct runplan_entry *e, enum dimension d, const json_t *v)
{
	switch (d) {
	case DIM_CPU:
		return copy_string(e->cpu, sizeof(e->cpu), v);
	case DIM_MEMORY:
		return copy_string(e->memory, sizeof(e->memory), v);
	case DIM_STARTUP_BOOST:
		if (!json_is_boolean(v))
			return -1;
		e->startup_boost = json_is_true(v);
		return 0;
	case DIM_CONCURRENCY:
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 1000)
			return -1;
		e->concurrency = (int)json_integer_value(v);
		return 0;
	case DIM_EXECUTION_ENVIRONMENT:
		return copy_string(e->execution_environment,
		    sizeof(e->execution_environment), v);
	case DIM_MAX_INSTANCES:
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 1000)
			return -1;
		e->max_instances = (int)json_integer_value(v);
		return 0;
	case DIM_COUNT:
		break;
	}
	return -1;
}

/* Appends the readable form of one dimension value to a cell suffix. */
static void
append_suffix(char *buf, size_t size, const struct runplan_entry *e,
    enum dimension d)
{
	size_t len = strlen(buf);
	const char *sep = len > 0 ? "-" : "";

	switch (d) {
	case DIM_CPU:
		snprintf(buf + len, size - len, "%scpu%s", sep, e->cpu);
		break;
	case DIM_MEMORY:
		snprintf(buf + len, size - len, "%smem%s", sep, e->memory);
		break;
	case DIM_STARTUP_BOOST:
		snprintf(buf + len, size - len, "%s%s", sep,
		    e->startup_boost ? "boost" : "noboost");
		break;
	case DIM_CONCURRENCY:
		snprintf(buf + len, size - len, "%sc%d", sep, e->concurrency);
		break;
	case DIM_EXECUTION_ENVIRONMENT:
		snprintf(buf + len, size - len, "%s%s", sep,
		    e->execution_environment);
		break;
	case DIM_MAX_INSTANCES:
		snprintf(buf + len, size - len, "%smax%d", sep,
		    e->max_instances);
		break;
	case DIM_COUNT:
		break;
	}
}

/* Fills the image reference of an entry. */
static int
set_image(struct runplan_entry *e, const char *service_type,
    const struct manifest *m, const struct runplan_options *opt, char *err,
    size_t errlen)
{
	struct manifest_impl impl;
	char base[MANIFEST_NAME_MAX + TYPE_SHORT_MAX + 2];
	size_t len;
	int n;

	if (manifest_impl_find(m, e->implementation, &impl) == -1) {
		snprintf(err, errlen, "implementation \"%s\" is not in the "
		    "manifest", e->implementation);
		return -1;
	}
	if (opt->local) {
		n = snprintf(e->image, sizeof(e->image), "local/%s/%s",
		    service_type, e->implementation);
	} else {
		if (opt->registry == NULL || opt->registry[0] == '\0') {
			snprintf(err, errlen, "no image registry is set");
			return -1;
		}
		/* Without a service_name: "<type prefix>-<implementation>". */
		if (impl.service_name != NULL)
			snprintf(base, sizeof(base), "%s", impl.service_name);
		else {
			len = strcspn(service_type, "-");
			snprintf(base, sizeof(base), "%.*s-%s", (int)len,
			    service_type, e->implementation);
		}
		n = snprintf(e->image, sizeof(e->image), "%s/%s:%s",
		    opt->registry, base, opt->tag != NULL ? opt->tag :
		    "latest");
	}
	if (n < 0 || (size_t)n >= sizeof(e->image)) {
		snprintf(err, errlen, "image reference of \"%s\" is longer "
		    "than %zu bytes", e->implementation, sizeof(e->image) - 1);
		return -1;
	}
	return 0;
}

/* Names an entry: cell_key lists every dimension, the suffix only those
 * that vary within the run. */
static int
name_entry(struct runplan_entry *e, const char *service_type,
    const char *run_id, const size_t counts[DIM_COUNT])
{
	char key[256], suffix[128] = "";
	enum dimension d;
	int n;

	n = snprintf(key, sizeof(key), "cpu=%s\nmemory=%s\nstartup_boost=%d\n"
	    "concurrency=%d\nexecution_environment=%s\nmax_instances=%d\n"
	    "replica=%d", e->cpu, e->memory, e->startup_boost,
	    e->concurrency, e->execution_environment, e->max_instances,
	    e->replica);
	if (n < 0 || (size_t)n >= sizeof(key))
		return -1;
	for (d = 0; d < DIM_COUNT; d++)
		if (counts[d] > 1)
			append_suffix(suffix, sizeof(suffix), e, d);
	if (e->replica > 0) {
		n = (int)strlen(suffix);
		snprintf(suffix + n, sizeof(suffix) - (size_t)n, "%sr%d",
		    n > 0 ? "-" : "", e->replica);
	}
	return runplan_service_name(e->service_name, sizeof(e->service_name),
	    service_type, e->implementation, run_id, key, suffix);
}

/* Fills the entries of one implementation: every cell, and under the
 * replicas strategy (replicas > 0) every replica of each cell. */
static int
expand_implementation(struct runplan *plan, const char *impl,
    json_t *values[DIM_COUNT], const size_t counts[DIM_COUNT],
    int replicas, const struct manifest *m,
    const struct runplan_options *opt, char *err, size_t errlen)
{
	struct runplan_entry *e;
	size_t cells = 1, cell, rest;
	enum dimension d;
	int r;

	for (d = 0; d < DIM_COUNT; d++)
		cells *= counts[d];
	for (cell = 0; cell < cells; cell++) {
		for (r = 1; r <= (replicas > 0 ? replicas : 1); r++) {
			e = &plan->entries[plan->count];
			memset(e, 0, sizeof(*e));
			snprintf(e->implementation, sizeof(e->implementation),
			    "%s", impl);
			/* The last dimension varies fastest. */
			rest = cell;
			for (d = DIM_COUNT; d-- > 0;) {
				if (set_dimension(e, d, json_array_get(
				    values[d], rest % counts[d])) == -1) {
					snprintf(err, errlen, "test_matrix.%s "
					    "has an invalid value",
					    dimension_names[d]);
					return -1;
				}
				rest /= counts[d];
			}
			e->replica = replicas > 0 ? r : 0;
			if (set_image(e, plan->service_type, m, opt, err,
			    errlen) == -1)
				return -1;
			if (name_entry(e, plan->service_type, plan->run_id,
			    counts) == -1) {
				snprintf(err, errlen, "cannot name a service "
				    "of \"%s\"", impl);
				return -1;
			}
			plan->count++;
		}
	}
	return 0;
}

/*
 * Expands a normalized deploy request into its services: implementations
 * in request order, then the cartesian product of the test_matrix values
 * (cpu varying slowest, max_instances fastest), then, under the replicas
 * strategy, one copy per cold-start iteration.
 */
int
runplan_build(struct runplan *plan, const json_t *deploy,
    const struct manifest *m, const struct runplan_options *opt, char *err,
    size_t errlen)
{
	json_t *values[DIM_COUNT] = { NULL }, *impls, *matrix, *bc;
	char impl[MANIFEST_NAME_MAX + 1];
	size_t counts[DIM_COUNT], total, i;
	json_int_t iterations;
	const char *run_id, *strategy;
	enum dimension d;
	int replicas = 0, rc = -1;

	memset(plan, 0, sizeof(*plan));
	if (opt == NULL) {
		snprintf(err, errlen, "no image options are given");
		return -1;
	}
	run_id = json_string_value(json_object_get(deploy, "run_id"));
	bc = json_object_get(deploy, "benchmark_config");
	impls = json_object_get(json_object_get(deploy, "agent_config"),
	    "implementations");
	matrix = json_object_get(json_object_get(deploy, "agent_config"),
	    "test_matrix");
	if (run_id == NULL || strlen(run_id) >= sizeof(plan->run_id) ||
	    !json_is_array(impls) || manifest_service_type(m) == NULL) {
		snprintf(err, errlen, "the deploy request is not normalized");
		return -1;
	}
	snprintf(plan->run_id, sizeof(plan->run_id), "%s", run_id);
	snprintf(plan->service_type, sizeof(plan->service_type), "%s",
	    manifest_service_type(m));
	if (runplan_label_value(plan->run_label, sizeof(plan->run_label),
	    run_id) == -1) {
		snprintf(err, errlen, "cannot make a label of the run id");
		return -1;
	}
	strategy = json_string_value(json_object_get(bc,
	    "cold_start_strategy"));
	if (strategy != NULL && strcmp(strategy, "replicas") == 0) {
		iterations = json_integer_value(json_object_get(bc,
		    "cold_start_iterations"));
		if (iterations < 1 || iterations > RUNPLAN_MAX_SERVICES) {
			snprintf(err, errlen, "the replicas strategy needs 1 to "
			    "%d cold_start_iterations", RUNPLAN_MAX_SERVICES);
			return -1;
		}
		replicas = (int)iterations;
	}

	/* Count first: the product is checked before anything is allocated. */
	total = json_array_size(impls) * (size_t)(replicas > 0 ? replicas : 1);
	for (d = 0; d < DIM_COUNT; d++) {
		values[d] = dimension_values(matrix, d);
		counts[d] = json_array_size(values[d]);
		if (counts[d] == 0) {
			snprintf(err, errlen, "test_matrix.%s has no values",
			    dimension_names[d]);
			goto done;
		}
		if (total > RUNPLAN_MAX_SERVICES)
			break;
		total *= counts[d];
	}
	if (total == 0 || total > RUNPLAN_MAX_SERVICES) {
		snprintf(err, errlen, "the run must have 1 to %d services",
		    RUNPLAN_MAX_SERVICES);
		goto done;
	}
	if ((plan->entries = calloc(total, sizeof(*plan->entries))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	for (i = 0; i < json_array_size(impls); i++) {
		if (copy_string(impl, sizeof(impl),
		    json_array_get(impls, i)) == -1) {
			snprintf(err, errlen, "implementations[%zu] is not a "
			    "valid name", i);
			goto done;
		}
		if (expand_implementation(plan, impl, values, counts, replicas,
		    m, opt, err, errlen) == -1)
			goto done;
	}
	rc = 0;

done:
	for (d = 0; d < DIM_COUNT; d++)
		json_decref(values[d]);
	if (rc == -1)
		runplan_free(plan);
	return rc;
}

void
runplan_free(struct runplan *plan)
{
	free(plan->entries);
	plan->entries = NULL;
	plan->count = 0;
}

/* Returns the dimensions object of a service, as the deployment manifest
 * records it. */
json_t *
runplan_dimensions(const struct runplan_entry *e)
{
	json_t *dims;

	dims = json_pack("{s:s, s:s, s:s, s:b, s:i, s:s, s:i}",
	    "implementation", e->implementation, "cpu", e->cpu,
	    "memory", e->memory, "startup_boost", e->startup_boost,
	    "concurrency", e->concurrency,
	    "execution_environment", e->execution_environment,
	    "max_instances", e->max_instances);
	if (dims != NULL && e->replica > 0 && json_object_set_new(dims,
	    "replica", json_integer(e->replica)) == -1) {
		json_decref(dims);
		return NULL;
	}
	return dims;
}

/* Returns {implementation, service_name, image, dimensions}. */
json_t *
runplan_entry_json(const struct runplan_entry *e)
{
	json_t *dims;

	if ((dims = runplan_dimensions(e)) == NULL)
		return NULL;
	return json_pack("{s:s, s:s, s:s, s:o}", "implementation",
	    e->implementation, "service_name", e->service_name, "image",
	    e->image, "dimensions", dims);
}

/* Returns the array of every entry's JSON, in plan order. */
json_t *
runplan_services_json(const struct runplan *plan)
{
	json_t *list;
	size_t i;

	if ((list = json_array()) == NULL)
		return NULL;
	for (i = 0; i < plan->count; i++)
		if (json_array_append_new(list,
		    runplan_entry_json(&plan->entries[i])) == -1) {
			json_decref(list);
			return NULL;
		}
	return list;
}

/* Matches an environment variable name Cloud Run accepts and does not
 * reserve for itself. */
static int
env_name_ok(const char *name)
{
	static const char *const reserved[] = { "PORT", "K_SERVICE",
	    "K_REVISION", "K_CONFIGURATION", NULL };
	size_t i;

	if (!((name[0] >= 'A' && name[0] <= 'Z') ||
	    (name[0] >= 'a' && name[0] <= 'z') || name[0] == '_'))
		return 0;
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_") != strlen(name))
		return 0;
	for (i = 0; reserved[i] != NULL; i++)
		if (strcmp(name, reserved[i]) == 0)
			return 0;
	return 1;
}

/* Copies env (an array of {"name", "value"} strings, or NULL) into a new
 * array after checking it. */
static json_t *
copy_env(const json_t *env, char *err, size_t errlen)
{
	json_t *out, *item;
	const char *name, *value;
	size_t i;

	if (env != NULL && (!json_is_array(env) ||
	    json_array_size(env) > RUNPLAN_MAX_ENV)) {
		snprintf(err, errlen, "env must be an array of at most %d "
		    "variables", RUNPLAN_MAX_ENV);
		return NULL;
	}
	if ((out = json_array()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	json_array_foreach(env, i, item) {
		name = json_string_value(json_object_get(item, "name"));
		value = json_string_value(json_object_get(item, "value"));
		if (name == NULL || value == NULL || json_object_size(item) != 2
		    || !env_name_ok(name)) {
			snprintf(err, errlen, "env[%zu] must be {\"name\", "
			    "\"value\"} strings with a name of letters, digits "
			    "and '_' that Cloud Run does not reserve", i);
			json_decref(out);
			return NULL;
		}
		if (json_array_append_new(out, json_pack("{s:s, s:s}", "name",
		    name, "value", value)) == -1) {
			snprintf(err, errlen, "out of memory");
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* Returns {"perf-agent-run", "perf-agent-type", "perf-agent-impl"}. */
static json_t *
service_labels(const struct runplan *plan, const struct runplan_entry *e)
{
	return json_pack("{s:s, s:s, s:s}", "perf-agent-run", plan->run_label,
	    "perf-agent-type", plan->service_type, "perf-agent-impl",
	    e->implementation);
}

/*
 * Builds the Cloud Run Admin API v2 Service body of services.create
 * (POST .../services?serviceId=<service_name>). resources.cpuIdle is
 * always true: a body that sets resources.limits without it gets CPU
 * allocated all the time, billed per instance, which also changes how the
 * service scales. Scaling starts at zero instances so that cold starts
 * can be measured.
 */
json_t *
runplan_create_body(const struct runplan *plan, const struct runplan_entry *e,
    const json_t *env, char *err, size_t errlen)
{
	json_t *body, *container, *labels, *env_copy;
	const char *exec_env;

	exec_env = strcmp(e->execution_environment, "gen1") == 0 ?
	    "EXECUTION_ENVIRONMENT_GEN1" : "EXECUTION_ENVIRONMENT_GEN2";
	if ((env_copy = copy_env(env, err, errlen)) == NULL)
		return NULL;
	if ((labels = service_labels(plan, e)) == NULL) {
		json_decref(env_copy);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	container = json_pack("{s:s, s:{s:{s:s, s:s}, s:b, s:b}}",
	    "image", e->image, "resources", "limits", "cpu", e->cpu,
	    "memory", e->memory, "cpuIdle", 1, "startupCpuBoost",
	    e->startup_boost);
	if (container == NULL)
		goto nomem;
	if (json_array_size(env_copy) > 0 &&
	    json_object_set(container, "env", env_copy) == -1)
		goto nomem;
	body = json_pack("{s:O, s:s, s:{s:{s:i, s:i}, s:i, s:s, s:[O]}}",
	    "labels", labels, "ingress", "INGRESS_TRAFFIC_ALL", "template",
	    "scaling", "minInstanceCount", 0, "maxInstanceCount",
	    e->max_instances, "maxInstanceRequestConcurrency",
	    e->concurrency, "executionEnvironment", exec_env, "containers",
	    container);
	if (body == NULL)
		goto nomem;
	json_decref(container);
	json_decref(labels);
	json_decref(env_copy);
	return body;

nomem:
	snprintf(err, errlen, "out of memory");
	json_decref(container);
	json_decref(labels);
	json_decref(env_copy);
	return NULL;
}

/* Settings from flags and environment variables. */
#include "config.h"
#include "settings.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum setting_type {
	SETTING_STRING,
	SETTING_INT,
	SETTING_BOOL,
};

struct setting {
	const char		*flag;
	const char		*env;
	enum setting_type	 type;
	const char		*def;
	long			 min, max;	/* for SETTING_INT */
	const char		*help;
};

/* Indexed by enum setting_key. */
static const struct setting setting_table[CFG_COUNT] = {
	[CFG_PORT] = { "port", "PORT", SETTING_INT, "8080", 1, 65535,
	    "TCP port of the Agent API" },
	[CFG_LISTEN_ADDRESS] = { "listen-address", "LISTEN_ADDRESS",
	    SETTING_STRING, "0.0.0.0", 0, 0,
	    "IP address the Agent API listens on (127.0.0.1 in local mode)" },
	[CFG_RUNTIME_DIR] = { "runtime-dir", "RUNTIME_DIRECTORY",
	    SETTING_STRING, "", 0, 0,
	    "folder of the workers' sockets (default $XDG_RUNTIME_DIR/"
	    "perf-agent or /tmp/perf-agent-UID)" },
	[CFG_DATA_DIR] = { "data-dir", "PERF_AGENT_DATA_DIR", SETTING_STRING,
	    "", 0, 0, "folder holding manifest.yaml, contract/ and "
	    "implementations/ (default: the source tree or " PKGDATADIR ")" },
	[CFG_LIBEXEC_DIR] = { "libexec-dir", "PERF_AGENT_LIBEXEC_DIR",
	    SETTING_STRING, "", 0, 0, "folder of the worker programs "
	    "(default: the build tree or " PKGLIBEXECDIR ")" },
	[CFG_SERVICE_TYPE] = { "service-type", "SERVICE_TYPE", SETTING_STRING,
	    "discord-webhook", 0, 0, "service type this agent benchmarks" },
	[CFG_PROJECT] = { "project", "GCP_PROJECT_ID", SETTING_STRING, "",
	    0, 0, "Google Cloud project id (local mode: local-project)" },
	[CFG_REGION] = { "region", "GCP_REGION", SETTING_STRING,
	    "us-central1", 0, 0, "Cloud Run region of the services" },
	[CFG_STATE_BUCKET] = { "state-bucket", "STATE_BUCKET", SETTING_STRING,
	    "perf-benchmark-state", 0, 0, "Cloud Storage bucket of run state" },
	[CFG_REGISTRY_BUCKET] = { "registry-bucket", "REGISTRY_BUCKET",
	    SETTING_STRING, "perf-agent-registry", 0, 0,
	    "Cloud Storage bucket of agent registration manifests" },
	[CFG_AGENT_URL] = { "agent-url", "AGENT_URL", SETTING_STRING, "", 0,
	    0, "base URL the scheduler calls back and the OIDC audience "
	    "(local mode: http://127.0.0.1:PORT)" },
	[CFG_SERVICE_ACCOUNT] = { "service-account", "SERVICE_ACCOUNT",
	    SETTING_STRING, "", 0, 0, "service account whose OIDC token "
	    "the scheduler sends to /measure" },
	[CFG_ALLOWED_INVOKERS] = { "allowed-invokers", "ALLOWED_INVOKERS",
	    SETTING_STRING, "", 0, 0, "comma-separated emails allowed to "
	    "call the Agent API" },
	[CFG_AUTH_DISABLED] = { "auth-disabled", "AUTH_DISABLED",
	    SETTING_BOOL, "0", 0, 1,
	    "accept Agent API requests without a token (logged at start)" },
	[CFG_LOCAL] = { "local", "PERF_AGENT_LOCAL", SETTING_BOOL, "0", 0, 1,
	    "run offline against localcloud on loopback" },
	[CFG_LOG_FORMAT] = { "log-format", "LOG_FORMAT", SETTING_STRING,
	    "auto", 0, 0, "log lines as json, text or auto (text on a "
	    "terminal)" },
	[CFG_DEBUG] = { "debug", "PERF_AGENT_DEBUG", SETTING_BOOL, "0", 0, 1,
	    "log debug lines" },
	[CFG_RUN_ENDPOINT] = { "run-endpoint", "CLOUD_RUN_ENDPOINT",
	    SETTING_STRING, "https://run.googleapis.com", 0, 0,
	    "Cloud Run Admin API base URL" },
	[CFG_STORAGE_ENDPOINT] = { "storage-endpoint",
	    "STORAGE_EMULATOR_HOST", SETTING_STRING,
	    "https://storage.googleapis.com", 0, 0, "Cloud Storage base URL "
	    "(host:port means http://host:port)" },
	[CFG_SCHEDULER_ENDPOINT] = { "scheduler-endpoint",
	    "CLOUD_SCHEDULER_ENDPOINT", SETTING_STRING,
	    "https://cloudscheduler.googleapis.com", 0, 0,
	    "Cloud Scheduler API base URL" },
	[CFG_TASKS_ENDPOINT] = { "tasks-endpoint", "CLOUD_TASKS_ENDPOINT",
	    SETTING_STRING, "https://cloudtasks.googleapis.com", 0, 0,
	    "Cloud Tasks API base URL" },
	[CFG_MONITORING_ENDPOINT] = { "monitoring-endpoint",
	    "CLOUD_MONITORING_ENDPOINT", SETTING_STRING,
	    "https://monitoring.googleapis.com", 0, 0,
	    "Cloud Monitoring API base URL" },
	[CFG_LOGGING_ENDPOINT] = { "logging-endpoint",
	    "CLOUD_LOGGING_ENDPOINT", SETTING_STRING,
	    "https://logging.googleapis.com", 0, 0,
	    "Cloud Logging API base URL" },
	[CFG_METADATA_HOST] = { "metadata-host", "GCE_METADATA_HOST",
	    SETTING_STRING, "metadata.google.internal", 0, 0,
	    "metadata server host[:port]" },
	[CFG_CERTS_URL] = { "certs-url", "GOOGLE_CERTS_URL", SETTING_STRING,
	    "https://www.googleapis.com/oauth2/v3/certs", 0, 0,
	    "JWKS URL of the keys that sign Google ID tokens" },
	[CFG_CA_FILE] = { "ca-file", "CA_FILE", SETTING_STRING, "", 0, 0,
	    "extra CA certificate file trusted for services under test "
	    "(local mode: localcloud's CA)" },
	[CFG_MEASURE_TRIGGER] = { "measure-trigger", "MEASURE_TRIGGER",
	    SETTING_STRING, "scheduler", 0, 0,
	    "what calls /measure: scheduler (Cloud Scheduler) or tasks "
	    "(Cloud Tasks)" },
	[CFG_TASKS_QUEUE] = { "tasks-queue", "CLOUD_TASKS_QUEUE",
	    SETTING_STRING, "perf-measure-queue", 0, 0,
	    "Cloud Tasks queue of measure tasks" },
	[CFG_IMAGE_REGISTRY] = { "image-registry", "IMAGE_REGISTRY",
	    SETTING_STRING, "", 0, 0, "registry prefix of implementation "
	    "images, e.g. us-central1-docker.pkg.dev/PROJECT/REPO" },
	[CFG_IMAGE_TAG] = { "image-tag", "IMAGE_TAG", SETTING_STRING,
	    "latest", 0, 0, "tag of implementation images" },
	[CFG_LOCALCLOUD_PORT] = { "localcloud-port", "LOCALCLOUD_PORT",
	    SETTING_INT, "8086", 1, 65535, "TCP port of localcloud's APIs "
	    "in local mode" },
	[CFG_IDLE_TIMEOUT] = { "idle-timeout", "LOCALCLOUD_IDLE_TIMEOUT",
	    SETTING_INT, "3", 1, 3600, "seconds before localcloud stops an "
	    "idle instance in local mode" },
	[CFG_MAX_RESTARTS] = { "max-restarts", "SUPERVISOR_MAX_RESTARTS",
	    SETTING_INT, "5", 1, 1000, "worker deaths within the restart "
	    "window after which the supervisor gives up" },
	[CFG_RESTART_WINDOW] = { "restart-window",
	    "SUPERVISOR_RESTART_WINDOW", SETTING_INT, "60", 1, 86400,
	    "seconds over which worker deaths are counted" },
	/* auto by default: the warm-request timings are what the agent is
	 * for, and a worker or a local service that preempts the engine's
	 * thread adds its run time to the latencies. measured needs one CPU,
	 * because the engine is one thread. With one CPU allowed, auto does
	 * nothing. */
	[CFG_MEASURE_CPU] = { "measure-cpu", "MEASURE_CPU", SETTING_STRING,
	    "auto", 0, 0, "CPU reserved for measured: auto (the last CPU of "
	    "the affinity mask, when it has two or more), a CPU number, or "
	    "off; the other workers, localcloud and its services get the "
	    "remaining CPUs" },
	[CFG_SOCKET] = { "socket", "PERF_AGENT_SOCKET", SETTING_STRING, "",
	    0, 0, "socket path of a worker started by hand (default "
	    "RUNTIME_DIR/NAME.sock); never passed on to children" },
	[CFG_LOCALCLOUD_DIR] = { "localcloud-dir", "LOCALCLOUD_DATA_DIR",
	    SETTING_STRING, "", 0, 0, "folder of localcloud's objects, "
	    "jobs, services and keys in local mode (default "
	    "RUNTIME_DIR/localcloud)" },
	[CFG_SCALE_WAIT] = { "scale-to-zero-wait", "SCALE_TO_ZERO_WAIT",
	    SETTING_INT, "300", 1, 3600, "seconds a cold sample waits for "
	    "its service to report zero instances (local mode: 3 idle "
	    "timeouts plus 5)" },
	[CFG_TRIGGER_GRACE] = { "trigger-grace", "TRIGGER_GRACE",
	    SETTING_INT, "90", 5, 3600, "seconds past its time after which "
	    "a measure trigger that has not come counts as lost, and "
	    "measured starts the round itself (local mode: 10)" },
	[CFG_SCALE_WINDOW] = { "scale-to-zero-window", "SCALE_TO_ZERO_WINDOW",
	    SETTING_INT, "300", 1, 3600, "seconds of Cloud Monitoring "
	    "samples that must all show zero instances before a cold sample; "
	    "the metric lags minutes (local mode: 2)" },
	[CFG_PUBLIC_SERVICES] = { "public-services", "PUBLIC_SERVICES",
	    SETTING_BOOL, "0", 0, 1, "deploy services with Cloud Run's "
	    "invoker check off (invokerIamDisabled), open to all, and call "
	    "them without an identity token (default: private services, "
	    "called with an ID token)" },
};

/* Effective values; NULL means the default. */
static char *values[CFG_COUNT];

const char *
settings_env_name(enum setting_key key)
{
	return setting_table[key].env;
}

const char *
settings_str(enum setting_key key)
{
	return values[key] != NULL ? values[key] : setting_table[key].def;
}

long
settings_int(enum setting_key key)
{
	const char *s = settings_str(key);
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	/* settings_load validated every integer setting. */
	if (errno != 0 || end == s || *end != '\0')
		return setting_table[key].min;
	return v;
}

int
settings_is_set(enum setting_key key)
{
	return values[key] != NULL;
}

int
settings_bool(enum setting_key key)
{
	const char *s = settings_str(key);

	return strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 ||
	    strcasecmp(s, "yes") == 0 || strcasecmp(s, "on") == 0;
}

static int
settings_valid(enum setting_key key, const char *value, char *err,
    size_t errlen)
{
	const struct setting *s = &setting_table[key];
	char *end;
	long v;

	switch (s->type) {
	case SETTING_INT:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0' ||
		    v < s->min || v > s->max) {
			snprintf(err, errlen, "must be an integer from %ld to "
			    "%ld", s->min, s->max);
			return -1;
		}
		return 0;
	case SETTING_BOOL:
		if (strcmp(value, "0") && strcmp(value, "1") &&
		    strcasecmp(value, "true") && strcasecmp(value, "false") &&
		    strcasecmp(value, "yes") && strcasecmp(value, "no") &&
		    strcasecmp(value, "on") && strcasecmp(value, "off")) {
			snprintf(err, errlen, "use 1, true, yes or on to turn "
			    "it on, and 0, false, no or off to turn it off");
			return -1;
		}
		return 0;
	case SETTING_STRING:
		if (strlen(value) > 4096) {
			snprintf(err, errlen, "longer than 4096 bytes");
			return -1;
		}
		return 0;
	}
	return -1;
}

int
settings_set(enum setting_key key, const char *value)
{
	char *copy, err[128];

	if (settings_valid(key, value, err, sizeof(err)) == -1)
		return -1;
	if ((copy = strdup(value)) == NULL)
		return -1;
	free(values[key]);
	values[key] = copy;
	return 0;
}

static void
settings_usage(FILE *out, const char *program, const char *summary)
{
	int i;

	fprintf(out, "Usage: %s [options]\n%s\n\nOptions (each also read from "
	    "the environment variable shown):\n", program, summary);
	for (i = 0; i < CFG_COUNT; i++) {
		const struct setting *s = &setting_table[i];
		char flag[64];

		snprintf(flag, sizeof(flag), "--%s%s", s->flag,
		    s->type == SETTING_BOOL ? "" : s->type == SETTING_INT ?
		    " N" : " VALUE");
		fprintf(out, "  %-28s %s\n  %-28s %s", flag, s->help, "",
		    s->env);
		if (s->def[0] != '\0' && s->type != SETTING_BOOL)
			fprintf(out, " (default %s)", s->def);
		fputc('\n', out);
	}
	fprintf(out, "  %-28s %s\n  %-28s %s\n", "--help", "print this help",
	    "--version", "print the version");
}

static void
settings_fail(const char *program, enum setting_key key, int from_flag,
    const char *value, const char *why)
{
	if (from_flag)
		fprintf(stderr, "%s: invalid --%s \"%.100s\": %s\n", program,
		    setting_table[key].flag, value, why);
	else
		fprintf(stderr, "%s: invalid environment variable %s=\"%.100s\" "
		    "(flag --%s): %s\n", program, setting_table[key].env, value,
		    setting_table[key].flag, why);
	exit(2);
}

int
settings_load(int argc, char **argv, const char *program, const char *summary)
{
	struct option longopts[CFG_COUNT + 3];
	char err[128];
	const char *env;
	int i, ch;

	/* Environment first, so that flags override it. */
	for (i = 0; i < CFG_COUNT; i++) {
		env = getenv(setting_table[i].env);
		/* An empty number or switch is unset, as deployment tools
		 * write a variable they have no value for. */
		if (env == NULL || (env[0] == '\0' &&
		    setting_table[i].type != SETTING_STRING))
			continue;
		if (settings_valid(i, env, err, sizeof(err)) == -1)
			settings_fail(program, i, 0, env, err);
		settings_set(i, env);
	}

	for (i = 0; i < CFG_COUNT; i++) {
		longopts[i].name = setting_table[i].flag;
		longopts[i].has_arg = setting_table[i].type == SETTING_BOOL ?
		    no_argument : required_argument;
		longopts[i].flag = NULL;
		longopts[i].val = 256 + i;
	}
	longopts[CFG_COUNT] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[CFG_COUNT + 1] =
	    (struct option){ "version", no_argument, NULL, 'V' };
	longopts[CFG_COUNT + 2] = (struct option){ NULL, 0, NULL, 0 };

	optind = 1;
	while ((ch = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		if (ch == 'h') {
			settings_usage(stdout, program, summary);
			exit(0);
		}
		if (ch == 'V') {
			printf("%s %s\n", program, PACKAGE_VERSION);
			exit(0);
		}
		if (ch < 256 || ch >= 256 + CFG_COUNT) {
			fprintf(stderr, "Run '%s --help' for the options.\n",
			    program);
			exit(2);
		}
		i = ch - 256;
		if (setting_table[i].type == SETTING_BOOL)
			settings_set(i, "1");
		else if (settings_valid(i, optarg, err, sizeof(err)) == -1)
			settings_fail(program, i, 1, optarg, err);
		else
			settings_set(i, optarg);
	}
	return optind;
}

int
settings_export(void)
{
	int i;

	for (i = 0; i < CFG_COUNT; i++) {
		if (i == CFG_SOCKET) {
			unsetenv(setting_table[i].env);
			continue;
		}
		if (setenv(setting_table[i].env, settings_str(i), 1) == -1)
			return -1;
	}
	return 0;
}

const char *
settings_instance_id(void)
{
	static char id[96];
	const char *env = getenv("PERF_AGENT_INSTANCE");
	char host[64];

	if (env != NULL && env[0] != '\0' && strlen(env) < sizeof(id))
		return env;
	if (id[0] == '\0') {
		if (gethostname(host, sizeof(host)) == -1)
			snprintf(host, sizeof(host), "host");
		host[sizeof(host) - 1] = '\0';
		snprintf(id, sizeof(id), "%s-%ld", host, (long)getpid());
	}
	return id;
}

const char *
settings_runtime_dir(void)
{
	static char dir[256];
	const char *xdg;

	if (settings_str(CFG_RUNTIME_DIR)[0] != '\0')
		return settings_str(CFG_RUNTIME_DIR);
	if (dir[0] == '\0') {
		xdg = getenv("XDG_RUNTIME_DIR");
		if (xdg != NULL && xdg[0] == '/' && strlen(xdg) < 200)
			snprintf(dir, sizeof(dir), "%s/perf-agent", xdg);
		else
			snprintf(dir, sizeof(dir), "/tmp/perf-agent-%ld",
			    (long)getuid());
	}
	return dir;
}

/* Returns 1 when this program runs from the build tree. */
static int
settings_in_build_tree(void)
{
	char exe[PATH_MAX];
	ssize_t n;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = '\0';
	return strncmp(exe, ABS_TOP_BUILDDIR "/",
	    strlen(ABS_TOP_BUILDDIR) + 1) == 0;
}

const char *
settings_data_dir(void)
{
	if (settings_str(CFG_DATA_DIR)[0] != '\0')
		return settings_str(CFG_DATA_DIR);
	return settings_in_build_tree() ? ABS_TOP_SRCDIR : PKGDATADIR;
}

const char *
settings_libexec_dir(void)
{
	if (settings_str(CFG_LIBEXEC_DIR)[0] != '\0')
		return settings_str(CFG_LIBEXEC_DIR);
	return settings_in_build_tree() ? ABS_TOP_BUILDDIR : PKGLIBEXECDIR;
}

/* Returns 1 when the URL or host[:port] names a loopback host. */
static int
settings_is_loopback(const char *value)
{
	const char *host = value, *p;
	size_t len;

	if ((p = strstr(value, "://")) != NULL)
		host = p + 3;
	len = strcspn(host, ":/");
	if (host[0] == '[')
		return strncmp(host, "[::1]", 5) == 0;
	return (len == 9 && strncmp(host, "localhost", 9) == 0) ||
	    (len >= 4 && strncmp(host, "127.", 4) == 0);
}

int
settings_check_loopback(char *err, size_t errlen)
{
	static const enum setting_key endpoints[] = {
		CFG_RUN_ENDPOINT, CFG_STORAGE_ENDPOINT, CFG_SCHEDULER_ENDPOINT,
		CFG_TASKS_ENDPOINT, CFG_MONITORING_ENDPOINT,
		CFG_LOGGING_ENDPOINT, CFG_METADATA_HOST, CFG_CERTS_URL,
		CFG_AGENT_URL,
	};
	size_t i;

	for (i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
		const char *v = settings_str(endpoints[i]);

		if (!settings_is_loopback(v)) {
			snprintf(err, errlen, "%s=%s is not a loopback address, "
			    "but local mode sends nothing beyond 127.0.0.1",
			    setting_table[endpoints[i]].env, v);
			return -1;
		}
	}
	return 0;
}

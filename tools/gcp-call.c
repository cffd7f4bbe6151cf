/*
 * perf-agent-gcp: calls one function of the Google API clients (common/gcp.h)
 * and prints its outcome as JSON, for tests and for debugging against
 * localcloud or Google:
 *
 *	perf-agent-gcp --storage-endpoint 127.0.0.1:8086 \
 *	    --metadata-host 127.0.0.1:8086 gcs-list perf-benchmark-state runs/
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "gcp.h"
#include "log.h"
#include "settings.h"

#define TOOL_NAME	"perf-agent-gcp"
/* Most threads and sequential repeats of one command. */
#define TOOL_THREADS_MAX	64
#define TOOL_REPEAT_MAX		1000
/* Exit status of a call that returned the positive outcome N. */
#define TOOL_EXIT_OUTCOME	10

/* A command's input file, read once before any call. */
static char *tool_input;
static size_t tool_input_len;
static pthread_mutex_t tool_output_lock = PTHREAD_MUTEX_INITIALIZER;

typedef int (*tool_fn)(char **args, int nargs, json_t **result,
    struct gcp_error *);

struct tool_command {
	const char	*name;
	int		 min_args, max_args;
	int		 file_arg;	/* index of a FILE argument, or -1 */
	tool_fn		 fn;
	const char	*usage;
};

/* Reads a whole file ("-" is standard input) of at most
 * GCP_RESPONSE_MAX bytes into tool_input. */
static int
tool_read_input(const char *path)
{
	FILE *f;
	size_t n;

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "%s: cannot open %s: %s\n", TOOL_NAME, path,
		    strerror(errno));
		return -1;
	}
	if ((tool_input = malloc(GCP_RESPONSE_MAX + 1)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", TOOL_NAME);
		goto fail;
	}
	n = fread(tool_input, 1, GCP_RESPONSE_MAX + 1, f);
	if (ferror(f) || n > GCP_RESPONSE_MAX) {
		fprintf(stderr, "%s: cannot read %s, or it is over %d bytes\n",
		    TOOL_NAME, path, GCP_RESPONSE_MAX);
		goto fail;
	}
	tool_input[n] = '\0';
	tool_input_len = n;
	if (f != stdin)
		fclose(f);
	return 0;
fail:
	free(tool_input);
	tool_input = NULL;
	if (f != stdin)
		fclose(f);
	return -1;
}

/* Parses the JSON object of the input file. */
static json_t *
tool_input_json(struct gcp_error *err)
{
	json_error_t jerr;
	json_t *root;

	root = json_loadb(tool_input, tool_input_len, 0, &jerr);
	if (json_is_object(root))
		return root;
	json_decref(root);
	err->http_status = 0;
	snprintf(err->status, sizeof(err->status), "INVALID_ARGUMENT");
	snprintf(err->message, sizeof(err->message), "input is not a JSON "
	    "object: %s", jerr.text);
	return NULL;
}

static int
tool_int64(const char *text, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
tool_usage_error(struct gcp_error *err, const char *what)
{
	err->http_status = 0;
	snprintf(err->status, sizeof(err->status), "INVALID_ARGUMENT");
	snprintf(err->message, sizeof(err->message), "%s", what);
	return -1;
}

static json_t *
tool_generation(int64_t generation)
{
	char text[32];

	snprintf(text, sizeof(text), "%" PRId64, generation);
	return json_pack("{s:s}", "generation", text);
}

/* Commands: each calls one function and builds its result. */

static int
cmd_run_create(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	json_t *service;
	int rc;

	if ((service = tool_input_json(err)) == NULL)
		return -1;
	rc = run_create_service(args[0], service, result, err);
	json_decref(service);
	return rc;
}

static int
cmd_run_get_operation(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	return run_get_operation(args[0], result, err);
}

static int
cmd_run_wait(char **args, int nargs, json_t **result, struct gcp_error *err)
{
	int64_t timeout;

	if (tool_int64(args[1], &timeout) == -1 || timeout < 0 ||
	    timeout > 3600)
		return tool_usage_error(err, "TIMEOUT_S must be 0 to 3600");
	return run_wait_operation(args[0], (int)timeout, result, err);
}

static int
cmd_run_get(char **args, int nargs, json_t **result, struct gcp_error *err)
{
	return run_get_service(args[0], result, err);
}

static int
cmd_run_delete(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	return run_delete_service(args[0], result, err);
}

static int
cmd_run_list(char **args, int nargs, json_t **result, struct gcp_error *err)
{
	return run_list_services(result, err);
}

/* Prints a malloc'd name, or fails when the builder rejected the id. */
static int
tool_name(char *name, json_t **result, struct gcp_error *err)
{
	if (name == NULL)
		return tool_usage_error(err, "invalid id, or no project");
	*result = json_pack("{s:s}", "name", name);
	free(name);
	return 0;
}

static int
cmd_run_service_name(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	return tool_name(run_service_name(args[0]), result, err);
}

/* Describes downloaded bytes: as text when they are UTF-8, else as
 * base64. */
static json_t *
tool_content(const char *data, size_t len)
{
	json_t *text;
	char *b64;
	size_t size;

	if ((text = json_stringn(data, len)) != NULL)
		return text;
	size = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	if ((b64 = malloc(size)) == NULL)
		return NULL;
	sodium_bin2base64(b64, size, (const unsigned char *)data, len,
	    sodium_base64_VARIANT_ORIGINAL);
	text = json_pack("{s:s}", "base64", b64);
	free(b64);
	return text;
}

static int
cmd_gcs_download(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	char *data;
	size_t len;
	int64_t generation;
	FILE *f;
	int rc;

	rc = gcs_download(args[0], args[1], &data, &len, &generation, err);
	if (rc != 0)
		return rc;
	*result = tool_generation(generation);
	json_object_set_new(*result, "size", json_integer((json_int_t)len));
	if (nargs == 3) {
		if ((f = fopen(args[2], "wb")) == NULL ||
		    fwrite(data, 1, len, f) != len || fclose(f) == EOF)
			rc = tool_usage_error(err, "cannot write OUTFILE");
	} else
		json_object_set_new(*result, "content",
		    tool_content(data, len));
	free(data);
	return rc;
}

static int
cmd_gcs_upload(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	int64_t match = -1, generation;
	int rc;

	if (nargs == 5 && tool_int64(args[4], &match) == -1)
		return tool_usage_error(err, "IF_GENERATION_MATCH must be an "
		    "integer");
	rc = gcs_upload(args[0], args[1], args[2], tool_input, tool_input_len,
	    match, &generation, err);
	if (rc == 0)
		*result = tool_generation(generation);
	return rc;
}

static int
cmd_gcs_list(char **args, int nargs, json_t **result, struct gcp_error *err)
{
	return gcs_list(args[0], nargs == 2 ? args[1] : NULL, result, err);
}

static int
cmd_gcs_delete(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	int64_t match = -1;

	if (nargs == 3 && tool_int64(args[2], &match) == -1)
		return tool_usage_error(err, "IF_GENERATION_MATCH must be an "
		    "integer");
	return gcs_delete(args[0], args[1], match, err);
}

static int
cmd_scheduler_create(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	json_t *job;
	int rc;

	if ((job = tool_input_json(err)) == NULL)
		return -1;
	rc = scheduler_create_job(job, err);
	json_decref(job);
	return rc;
}

static int
cmd_scheduler_get(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	return scheduler_get_job(args[0], result, err);
}

static int
cmd_scheduler_delete(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	return scheduler_delete_job(args[0], err);
}

static int
cmd_scheduler_job_name(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	return tool_name(scheduler_job_name(args[0]), result, err);
}

static int
cmd_tasks_create(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	json_t *task;
	int rc;

	if ((task = tool_input_json(err)) == NULL)
		return -1;
	rc = tasks_create_task(task, err);
	json_decref(task);
	return rc;
}

static int
cmd_tasks_delete(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	return tasks_delete_task(args[0], err);
}

static int
cmd_tasks_task_name(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	return tool_name(tasks_task_name(args[0]), result, err);
}

static int
cmd_monitoring(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	int64_t start, end;
	long active, idle;
	int rc;

	if (tool_int64(args[1], &start) == -1 ||
	    tool_int64(args[2], &end) == -1)
		return tool_usage_error(err, "START and END must be Unix "
		    "seconds");
	rc = monitoring_instance_count(args[0], (time_t)start, (time_t)end,
	    &active, &idle, err);
	if (rc >= 0)
		*result = json_pack("{s:i,s:i}", "active", (json_int_t)active,
		    "idle", (json_int_t)idle);
	return rc;
}

static int
cmd_logging(char **args, int nargs, json_t **result, struct gcp_error *err)
{
	int64_t since;

	if (tool_int64(args[1], &since) == -1)
		return tool_usage_error(err, "SINCE must be Unix seconds");
	return logging_request_instances(args[0], (time_t)since, result, err);
}

static int
cmd_access_token(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	char token[4096];
	int rc;

	rc = metadata_access_token(token, sizeof(token), err);
	if (rc == 0)
		*result = json_pack("{s:s}", "access_token", token);
	explicit_bzero(token, sizeof(token));
	return rc;
}

static int
cmd_identity_token(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	char *token;
	int rc;

	rc = metadata_identity_token(args[0], 0, &token, NULL, err);
	if (rc == 0) {
		*result = json_pack("{s:s}", "id_token", token);
		free(token);
	}
	return rc;
}

static int
cmd_project_id(char **args, int nargs, json_t **result,
    struct gcp_error *err)
{
	char id[256];
	int rc;

	rc = metadata_project_id(id, sizeof(id), err);
	if (rc == 0)
		*result = json_pack("{s:s}", "project_id", id);
	return rc;
}

static const struct tool_command tool_commands[] = {
	{ "run-create", 2, 2, 1, cmd_run_create, "SERVICE_ID FILE" },
	{ "run-get-operation", 1, 1, -1, cmd_run_get_operation, "NAME" },
	{ "run-wait", 2, 2, -1, cmd_run_wait, "NAME TIMEOUT_S" },
	{ "run-get", 1, 1, -1, cmd_run_get, "SERVICE_ID" },
	{ "run-delete", 1, 1, -1, cmd_run_delete, "SERVICE_ID" },
	{ "run-list", 0, 0, -1, cmd_run_list, "" },
	{ "run-service-name", 1, 1, -1, cmd_run_service_name, "SERVICE_ID" },
	{ "gcs-download", 2, 3, -1, cmd_gcs_download,
	    "BUCKET OBJECT [OUTFILE]" },
	{ "gcs-upload", 4, 5, 3, cmd_gcs_upload,
	    "BUCKET OBJECT CONTENT_TYPE FILE [IF_GENERATION_MATCH]" },
	{ "gcs-list", 1, 2, -1, cmd_gcs_list, "BUCKET [PREFIX]" },
	{ "gcs-delete", 2, 3, -1, cmd_gcs_delete,
	    "BUCKET OBJECT [IF_GENERATION_MATCH]" },
	{ "scheduler-create", 1, 1, 0, cmd_scheduler_create, "FILE" },
	{ "scheduler-get", 1, 1, -1, cmd_scheduler_get, "JOB_ID" },
	{ "scheduler-delete", 1, 1, -1, cmd_scheduler_delete, "JOB_ID" },
	{ "scheduler-job-name", 1, 1, -1, cmd_scheduler_job_name, "JOB_ID" },
	{ "tasks-create", 1, 1, 0, cmd_tasks_create, "FILE" },
	{ "tasks-delete", 1, 1, -1, cmd_tasks_delete, "TASK_ID" },
	{ "tasks-task-name", 1, 1, -1, cmd_tasks_task_name, "TASK_ID" },
	{ "monitoring-instance-count", 3, 3, -1, cmd_monitoring,
	    "SERVICE START END" },
	{ "logging-request-instances", 2, 2, -1, cmd_logging,
	    "SERVICE SINCE" },
	{ "metadata-access-token", 0, 0, -1, cmd_access_token, "" },
	{ "metadata-identity-token", 1, 1, -1, cmd_identity_token,
	    "AUDIENCE" },
	{ "metadata-project-id", 0, 0, -1, cmd_project_id, "" },
	{ NULL, 0, 0, 0, NULL, NULL }
};

/* One thread's share of the calls. */
struct tool_job {
	const struct tool_command	*cmd;
	char				**args;
	int				  nargs;
	int				  repeat;
	int				  last_rc;
	pthread_t			  thread;
};

/* Prints one call's outcome as a JSON line. */
static void
tool_print(int rc, json_t *result, const struct gcp_error *err)
{
	json_t *line;
	char *text;

	if (rc == -1)
		line = json_pack("{s:i,s:{s:i,s:s,s:s}}", "rc", rc, "error",
		    "http_status", (json_int_t)err->http_status, "status",
		    err->status, "message", err->message);
	else
		line = json_pack("{s:i,s:O?}", "rc", rc, "result", result);
	text = line != NULL ? json_dumps(line, JSON_COMPACT) : NULL;
	pthread_mutex_lock(&tool_output_lock);
	if (text != NULL)
		printf("%s\n", text);
	else
		printf("{\"rc\":%d,\"result\":null}\n", rc);
	fflush(stdout);
	pthread_mutex_unlock(&tool_output_lock);
	free(text);
	json_decref(line);
}

static void *
tool_run(void *arg)
{
	struct tool_job *job = arg;
	struct gcp_error err;
	json_t *result;
	int i;

	for (i = 0; i < job->repeat; i++) {
		result = NULL;
		memset(&err, 0, sizeof(err));
		job->last_rc = job->cmd->fn(job->args, job->nargs, &result,
		    &err);
		tool_print(job->last_rc, result, &err);
		json_decref(result);
	}
	return NULL;
}

static void
tool_summary(char *buf, size_t size)
{
	const struct tool_command *c;
	size_t off;

	off = (size_t)snprintf(buf, size, "Calls one Google API client "
	    "function and prints a JSON line per call:\n"
	    "{\"rc\": 0, \"result\": ...}, {\"rc\": N} for the expected "
	    "outcome N\n(not found, already exists, precondition failed), or "
	    "{\"rc\": -1, \"error\": {...}}.\nExit status: 0, 1 on error, 2 on "
	    "usage errors, %d+N for outcome N.\n\n"
	    "Usage: " TOOL_NAME " [options] [--timeout-ms MS] "
	    "[--connect-timeout-ms MS]\n    [--attempts N] [--threads N] "
	    "[--repeat N] COMMAND [ARGS]\n(--threads runs the command in N "
	    "threads at once, each --repeat times.\nFILE may be - for "
	    "standard input.)\n\nCommands:\n", TOOL_EXIT_OUTCOME);
	for (c = tool_commands; c->name != NULL && off < size; c++)
		off += (size_t)snprintf(buf + off, size - off, "  %s%s%s\n",
		    c->name, c->usage[0] != '\0' ? " " : "", c->usage);
}

/* Removes the tool's own options from argv, which settings_load would
 * reject; returns -1 on an invalid value. */
static int
tool_options(int *argc, char **argv, long *values)
{
	static const char *const names[] = { "--timeout-ms",
	    "--connect-timeout-ms", "--attempts", "--threads", "--repeat" };
	static const long max[] = { 3600000, 3600000, 20, TOOL_THREADS_MAX,
	    TOOL_REPEAT_MAX };
	int i, j, out = 1;
	int64_t v;

	for (i = 1; i < *argc; i++) {
		for (j = 0; j < 5; j++)
			if (strcmp(argv[i], names[j]) == 0)
				break;
		if (j == 5) {
			argv[out++] = argv[i];
			continue;
		}
		if (i + 1 >= *argc || tool_int64(argv[i + 1], &v) == -1 ||
		    v < 1 || v > max[j]) {
			fprintf(stderr, "%s: %s needs an integer from 1 to "
			    "%ld\n", TOOL_NAME, names[j], max[j]);
			return -1;
		}
		values[j] = (long)v;
		i++;
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

int
main(int argc, char **argv)
{
	static char summary[4096];
	struct tool_job jobs[TOOL_THREADS_MAX];
	const struct tool_command *cmd;
	long opts[5] = { 0, 0, 0, 1, 1 };
	int first, nargs, i, started = 0, status = 0;

	if (tool_options(&argc, argv, opts) == -1)
		return 2;
	tool_summary(summary, sizeof(summary));
	first = settings_load(argc, argv, TOOL_NAME, summary);
	log_init(TOOL_NAME, LOG_FORMAT_TEXT, settings_bool(CFG_DEBUG));
	if (first >= argc) {
		fprintf(stderr, "%s: missing COMMAND; see --help\n", TOOL_NAME);
		return 2;
	}
	for (cmd = tool_commands; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, argv[first]) == 0)
			break;
	nargs = argc - first - 1;
	if (cmd->name == NULL || nargs < cmd->min_args ||
	    nargs > cmd->max_args) {
		fprintf(stderr, "%s: unknown command or wrong arguments; "
		    "see --help\n", TOOL_NAME);
		return 2;
	}
	if (cmd->file_arg >= 0 &&
	    tool_read_input(argv[first + 1 + cmd->file_arg]) == -1)
		return 2;

	if (gcp_init() == -1)
		return 1;
	gcp_set_timeouts(opts[1], opts[0]);
	if (opts[2] != 0)
		gcp_set_max_attempts((int)opts[2]);

	for (i = 0; i < opts[3]; i++) {
		jobs[i].cmd = cmd;
		jobs[i].args = argv + first + 1;
		jobs[i].nargs = nargs;
		jobs[i].repeat = (int)opts[4];
		jobs[i].last_rc = -1;
	}
	if (opts[3] == 1)
		tool_run(&jobs[0]);
	else {
		for (i = 0; i < opts[3]; i++, started++)
			if (pthread_create(&jobs[i].thread, NULL, tool_run,
			    &jobs[i]) != 0) {
				fprintf(stderr, "%s: cannot start a thread\n",
				    TOOL_NAME);
				status = 1;
				break;
			}
		for (i = 0; i < started; i++)
			pthread_join(jobs[i].thread, NULL);
	}

	for (i = 0; i < (opts[3] == 1 ? 1 : started); i++) {
		if (jobs[i].last_rc == -1)
			status = 1;
		else if (jobs[i].last_rc > 0 && status == 0)
			status = TOOL_EXIT_OUTCOME + jobs[i].last_rc;
	}
	gcp_cleanup();
	free(tool_input);
	return status;
}

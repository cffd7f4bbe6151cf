/*
 * perf-agent-ctl: a command-line client of the Agent API.
 *
 *	perf-agent-ctl --url http://127.0.0.1:8080 deploy RUN --cpu 1,2
 *	perf-agent-ctl wait RUN
 *	perf-agent-ctl table RUN
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "register.h"	/* register command (tools/register.c) */

/* Largest API response read, in bytes. */
#define CTL_RESPONSE_MAX	(32 * 1024 * 1024)
/* Interval of the progress polls of wait, in seconds. */
#define CTL_POLL_S		2

struct ctl {
	const char	*url;
	char		*token;
	const char	*metadata_host;	/* fetch an ID token from it */
	long		 timeout_s;	/* per HTTP request */
};

struct ctl_buf {
	char	*data;
	size_t	 len;
};

static size_t
ctl_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct ctl_buf *b = arg;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > CTL_RESPONSE_MAX)
		return 0;
	if ((p = realloc(b->data, b->len + n + 1)) == NULL)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

/*
 * Fetches an OIDC ID token for the agent's URL from the metadata server,
 * as the Perf Manager's runtime does; -1 when it cannot.
 */
static int
ctl_fetch_token(struct ctl *c)
{
	struct curl_slist *headers = NULL;
	struct ctl_buf buf = { NULL, 0 };
	char url[2048], *audience;
	long status = 0;
	CURLcode rc;
	CURL *curl;

	if ((curl = curl_easy_init()) == NULL)
		return -1;
	audience = curl_easy_escape(curl, c->url, 0);
	snprintf(url, sizeof(url), "http://%s/computeMetadata/v1/instance/"
	    "service-accounts/default/identity?audience=%s&format=full",
	    c->metadata_host, audience ? audience : "");
	curl_free(audience);
	headers = curl_slist_append(headers, "Metadata-Flavor: Google");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, ctl_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	if (rc != CURLE_OK || status != 200 || buf.data == NULL) {
		fprintf(stderr, "perf-agent-ctl: cannot get an ID token from "
		    "the metadata server %s: %s\n", c->metadata_host,
		    rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP error");
		free(buf.data);
		return -1;
	}
	buf.data[strcspn(buf.data, "\r\n")] = '\0';
	free(c->token);
	c->token = buf.data;
	return 0;
}

/*
 * Sends one request to the agent. Returns the HTTP status with *reply set
 * to the parsed JSON body (or NULL), or -1 when the agent did not answer.
 */
static long
ctl_request(struct ctl *c, const char *method, const char *path,
    json_t *body, json_t **reply)
{
	struct curl_slist *headers = NULL;
	struct ctl_buf buf = { NULL, 0 };
	char url[2048], auth[8192], *text = NULL;
	long status = -1;
	CURLcode rc;
	CURL *curl;

	*reply = NULL;
	if ((curl = curl_easy_init()) == NULL)
		return -1;
	snprintf(url, sizeof(url), "%s%s", c->url, path);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, ctl_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, c->timeout_s);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT);
		headers = curl_slist_append(headers,
		    "Content-Type: application/json");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, text);
	}
	if (c->token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    c->token);
		headers = curl_slist_append(headers, auth);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
		if (buf.data != NULL)
			*reply = json_loadb(buf.data, buf.len, 0, NULL);
	} else
		fprintf(stderr, "perf-agent-ctl: %s %s: %s\n", method, url,
		    curl_easy_strerror(rc));
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	free(text);
	free(buf.data);
	return status;
}

/* Prints a reply; on an error status prints the API's error message. */
static int
ctl_print(long status, json_t *reply)
{
	json_t *error = json_object_get(reply, "error");

	if (status < 0)
		return 2;
	if (status >= 400) {
		const char *message = json_string_value(json_object_get(error,
		    "message"));
		const char *field = json_string_value(json_object_get(error,
		    "field"));

		/* The field goes in brackets unless the message names it. */
		if (field != NULL && message != NULL &&
		    strstr(message, field) != NULL)
			field = NULL;
		fprintf(stderr, "perf-agent-ctl: HTTP %ld: %s%s%s%s\n", status,
		    message != NULL ? message : "no message",
		    field != NULL ? " (field " : "", field != NULL ? field : "",
		    field != NULL ? ")" : "");
		json_decref(reply);
		return 1;
	}
	if (reply != NULL)
		json_dumpf(reply, stdout, JSON_INDENT(2) |
		    JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(reply);
	return 0;
}

/* Splits "a,b,c" into a JSON array of strings, or of booleans. */
static json_t *
ctl_list(const char *s, int booleans)
{
	json_t *array = json_array();
	const char *p = s;
	char item[256];
	size_t n;

	while (*p != '\0') {
		n = strcspn(p, ",");
		if (n >= sizeof(item))
			n = sizeof(item) - 1;
		memcpy(item, p, n);
		item[n] = '\0';
		if (booleans && strcmp(item, "true") != 0 &&
		    strcmp(item, "false") != 0) {
			fprintf(stderr, "perf-agent-ctl: invalid --startup-boost "
			    "value \"%s\": use true, false or true,false\n",
			    item);
			json_decref(array);
			return NULL;
		}
		if (booleans)
			json_array_append_new(array, json_boolean(
			    strcmp(item, "true") == 0));
		else if (item[0] != '\0')
			json_array_append_new(array, json_string(item));
		p += strcspn(p, ",");
		if (*p == ',')
			p++;
	}
	return array;
}

static int
ctl_number(const char *name, const char *s, long min, long max, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *out < min ||
	    *out > max) {
		fprintf(stderr, "perf-agent-ctl: invalid --%s \"%s\": must be "
		    "an integer from %ld to %ld\n", name, s, min, max);
		return -1;
	}
	return 0;
}

/* Lists the active implementations from GET /implementations. */
static json_t *
ctl_active(struct ctl *c)
{
	json_t *reply, *impl, *names = json_array();
	size_t i;

	if (ctl_request(c, "GET", "/implementations", NULL, &reply) != 200) {
		json_decref(reply);
		return names;
	}
	json_array_foreach(json_object_get(reply, "implementations"), i,
	    impl) {
		const char *status = json_string_value(json_object_get(impl,
		    "status"));

		if (status != NULL && strcmp(status, "active") == 0)
			json_array_append(names, json_object_get(impl, "name"));
	}
	json_decref(reply);
	return names;
}

/* Builds the /deploy body from the command's flags. */
static json_t *
ctl_deploy_body(struct ctl *c, const char *run_id, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "implementations", required_argument, NULL, 'i' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "memory", required_argument, NULL, 'm' },
		{ "startup-boost", required_argument, NULL, 'b' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "warm-count", required_argument, NULL, 'w' },
		{ "concurrency", required_argument, NULL, 'C' },
		{ "delay-minutes", required_argument, NULL, 'D' },
		{ "delay-seconds", required_argument, NULL, 'S' },
		{ "round-delay", required_argument, NULL, 'R' },
		{ "strategy", required_argument, NULL, 's' },
		{ "file", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	json_t *body, *matrix = json_object(), *impls = NULL, *schedule;
	json_t *v_list;
	long iterations = 3, count = 100, concurrency = 10, v;
	const char *strategy = NULL;
	json_error_t jerr;
	int ch;

	schedule = json_object();
	optind = 1;
	/* getopt names argv[0], the run id here, in its messages. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			json_decref(matrix);
			json_decref(schedule);
			json_decref(impls);
			body = json_load_file(optarg, 0, &jerr);
			if (body == NULL)
				fprintf(stderr, "perf-agent-ctl: %s: %s at line "
				    "%d\n", optarg, jerr.text, jerr.line);
			return body;
		case 'i':
			json_decref(impls);
			impls = strcmp(optarg, "all") == 0 ? NULL :
			    ctl_list(optarg, 0);
			break;
		case 'c':
			json_object_set_new(matrix, "cpu", ctl_list(optarg, 0));
			break;
		case 'm':
			json_object_set_new(matrix, "memory",
			    ctl_list(optarg, 0));
			break;
		case 'b':
			if ((v_list = ctl_list(optarg, 1)) == NULL)
				goto fail;
			json_object_set_new(matrix, "startup_boost", v_list);
			break;
		case 'n':
			if (ctl_number("iterations", optarg, 1, 1000,
			    &iterations) == -1)
				goto fail;
			break;
		case 'w':
			if (ctl_number("warm-count", optarg, 1, 1000000,
			    &count) == -1)
				goto fail;
			break;
		case 'C':
			if (ctl_number("concurrency", optarg, 1, 1000,
			    &concurrency) == -1)
				goto fail;
			break;
		case 'D':
			if (ctl_number("delay-minutes", optarg, 0, 1440,
			    &v) == -1)
				goto fail;
			json_object_set_new(schedule, "measure_delay_minutes",
			    json_integer(v));
			break;
		case 'S':
			if (ctl_number("delay-seconds", optarg, 0, 86400,
			    &v) == -1)
				goto fail;
			json_object_set_new(schedule, "measure_delay_seconds",
			    json_integer(v));
			break;
		case 'R':
			if (ctl_number("round-delay", optarg, 0, 86400,
			    &v) == -1)
				goto fail;
			json_object_set_new(schedule, "round_delay_seconds",
			    json_integer(v));
			break;
		case 's':
			strategy = optarg;
			break;
		case ':':
			fprintf(stderr, "perf-agent-ctl: %s needs a value\n",
			    argv[optind - 1]);
			goto fail;
		default:
			fprintf(stderr, "perf-agent-ctl: unknown option %s; "
			    "run perf-agent-ctl --help for the deploy "
			    "options\n", argv[optind - 1]);
			goto fail;
		}
	}
	if (impls == NULL)
		impls = ctl_active(c);
	body = json_pack("{s:s, s:{s:I, s:I, s:I}, s:{s:o, s:o}, s:o}",
	    "run_id", run_id, "benchmark_config", "cold_start_iterations",
	    (json_int_t)iterations, "warm_request_count", (json_int_t)count,
	    "warm_request_concurrency", (json_int_t)concurrency,
	    "agent_config", "implementations", impls, "test_matrix", matrix,
	    "schedule", schedule);
	if (strategy != NULL)
		json_object_set_new(json_object_get(body, "benchmark_config"),
		    "cold_start_strategy", json_string(strategy));
	return body;
fail:
	json_decref(matrix);
	json_decref(schedule);
	json_decref(impls);
	return NULL;
}

static json_t *
ctl_run_body(const char *run_id)
{
	return json_pack("{s:s}", "run_id", run_id);
}

static void
ctl_ms(char *buf, size_t size, json_t *v)
{
	if (json_is_number(v))
		snprintf(buf, size, "%.3f", json_number_value(v));
	else
		snprintf(buf, size, "-");
}

/* Prints one line per result: the numbers a reader compares first. */
static void
ctl_print_table(json_t *results)
{
	char c50[32], c90[32], w50[32], w99[32], rps[32], err[32], cc[16];
	json_t *r, *cold, *warm, *dims;
	size_t i;

	printf("%-26s %-4s %-7s %8s %10s %10s %9s %9s %10s %7s\n",
	    "implementation", "cpu", "memory", "contract", "cold p50",
	    "cold p90", "warm p50", "warm p99", "req/s", "errors");
	json_array_foreach(json_object_get(results, "results"), i, r) {
		cold = json_object_get(json_object_get(r, "cold_start"),
		    "statistics");
		warm = json_object_get(r, "warm_requests");
		dims = json_object_get(json_object_get(r, "metadata"),
		    "dimensions");
		ctl_ms(c50, sizeof(c50), json_object_get(cold, "p50_ms"));
		ctl_ms(c90, sizeof(c90), json_object_get(cold, "p90_ms"));
		ctl_ms(w50, sizeof(w50), json_object_get(json_object_get(warm,
		    "statistics"), "p50_ms"));
		ctl_ms(w99, sizeof(w99), json_object_get(json_object_get(warm,
		    "statistics"), "p99_ms"));
		snprintf(rps, sizeof(rps), "%.1f", json_number_value(
		    json_object_get(warm, "throughput_rps")));
		snprintf(err, sizeof(err), "%.2f%%", 100 * json_number_value(
		    json_object_get(warm, "error_rate")));
		snprintf(cc, sizeof(cc), "%.1f%%", json_number_value(
		    json_object_get(r, "contract_compliance")));
		printf("%-26s %-4s %-7s %8s %10s %10s %9s %9s %10s %7s\n",
		    json_string_value(json_object_get(r, "implementation")),
		    json_string_value(json_object_get(dims, "cpu")) ?
		    json_string_value(json_object_get(dims, "cpu")) : "-",
		    json_string_value(json_object_get(dims, "memory")) ?
		    json_string_value(json_object_get(dims, "memory")) : "-",
		    cc, c50, c90, w50, w99, rps, err);
	}
	printf("(times in ms; cold: %s; warm: after one warm-up request per "
	    "connection)\n", "one request to a service at zero instances");
	json_array_foreach(json_object_get(results, "errors"), i, r)
		printf("error: %s [%s] %s: %s\n", json_string_value(
		    json_object_get(r, "implementation")), json_string_value(
		    json_object_get(r, "phase")), json_string_value(
		    json_object_get(r, "message")), json_string_value(
		    json_object_get(r, "details")) ? json_string_value(
		    json_object_get(r, "details")) : "");
}

/* Polls /status until the run completes or fails, printing changes. */
static int
ctl_wait(struct ctl *c, const char *run_id, long timeout_s)
{
	char path[512], line[512], last[512] = "";
	time_t deadline = time(NULL) + timeout_s;
	json_t *reply, *progress;
	const char *phase = NULL;
	long status;

	snprintf(path, sizeof(path), "/status/%s", run_id);
	while (time(NULL) < deadline) {
		status = ctl_request(c, "GET", path, NULL, &reply);
		if (status != 200)
			return ctl_print(status, reply);
		phase = json_string_value(json_object_get(reply, "phase"));
		progress = json_object_get(reply, "progress");
		snprintf(line, sizeof(line), "%s: deployed %lld/%lld, measured "
		    "%lld, round %lld of %lld, %zu errors", phase ? phase : "?",
		    json_integer_value(json_object_get(progress, "deployed")),
		    json_integer_value(json_object_get(progress,
		    "total_services")), json_integer_value(json_object_get(
		    progress, "measured")), json_integer_value(json_object_get(
		    reply, "round")), json_integer_value(json_object_get(reply,
		    "rounds_planned")), json_array_size(json_object_get(reply,
		    "errors")));
		if (strcmp(line, last) != 0) {
			char now[16];
			time_t t = time(NULL);
			struct tm tm;

			localtime_r(&t, &tm);
			strftime(now, sizeof(now), "%H:%M:%S", &tm);
			printf("[%s] %s %s\n", now, run_id, line);
			fflush(stdout);
			snprintf(last, sizeof(last), "%s", line);
		}
		json_decref(reply);
		if (phase != NULL && (strcmp(last, "") != 0) &&
		    (strncmp(line, "completed", 9) == 0 ||
		    strncmp(line, "failed", 6) == 0))
			return strncmp(line, "completed", 9) == 0 ? 0 : 1;
		sleep(CTL_POLL_S);
	}
	fprintf(stderr, "perf-agent-ctl: run %s did not finish within %ld s\n",
	    run_id, timeout_s);
	return 1;
}

static void
usage(FILE *out)
{
	fprintf(out,
"Usage: perf-agent-ctl [--url URL] [--token TOKEN | --metadata-host HOST]\n"
"                      COMMAND [ARGS]\n"
"Calls the perf-agent Agent API (default URL http://127.0.0.1:8080, or\n"
"$PERF_AGENT_URL). Requests carry the token given, or $PERF_AGENT_TOKEN,\n"
"or an OIDC ID token for the URL fetched from the metadata server HOST\n"
"(or $GCE_METADATA_HOST).\n\n"
"Commands:\n"
"  health                    GET /health\n"
"  implementations           GET /implementations\n"
"  deploy RUN_ID [flags]     POST /deploy; flags: --implementations a,b|all\n"
"                            --cpu 1,2 --memory 512Mi,1Gi --startup-boost\n"
"                            true,false --iterations N --warm-count N\n"
"                            --concurrency N --delay-minutes M\n"
"                            --delay-seconds S --round-delay S\n"
"                            --strategy rounds|replicas, or --file F\n"
"  measure RUN_ID            POST /measure\n"
"  status RUN_ID             GET /status/RUN_ID\n"
"  wait RUN_ID [SECONDS]     print progress until the run ends (default\n"
"                            3600 s); exits 0 when it completed\n"
"  results RUN_ID            GET /results/RUN_ID, the results.json document\n"
"  table RUN_ID              the results as a table\n"
"  cleanup RUN_ID            POST /cleanup\n"
"  benchmark RUN_ID [flags]  POST /benchmark (legacy, waits in the call)\n"
/* register command (tools/register.c): usage lines. */
"  register [flags]          upload manifest.yaml with its endpoint set,\n"
"                            through the local agent's stated; flags:\n"
"                            --endpoint URL --runtime-dir DIR\n"
"                            --manifest FILE --dry-run (see register\n"
"                            --help)\n");
}

static int
ctl_results(struct ctl *c, const char *run_id, int table)
{
	char path[512];
	json_t *reply;
	long status;

	snprintf(path, sizeof(path), "/results/%s", run_id);
	status = ctl_request(c, "GET", path, NULL, &reply);
	if (status != 200 || !table)
		return ctl_print(status, reply);
	ctl_print_table(reply);
	json_decref(reply);
	return 0;
}

static int
ctl_command(struct ctl *c, const char *cmd, const char *run_id, int argc,
    char **argv)
{
	char path[512];
	json_t *body, *reply;
	long status, seconds = 3600;
	int rc;

	if (strcmp(cmd, "health") == 0 || strcmp(cmd, "implementations") == 0) {
		snprintf(path, sizeof(path), "/%s", cmd);
		status = ctl_request(c, "GET", path, NULL, &reply);
		return ctl_print(status, reply);
	}
	if (run_id == NULL) {
		fprintf(stderr, "perf-agent-ctl: %s needs a RUN_ID\n", cmd);
		return 2;
	}
	if (strcmp(cmd, "deploy") == 0 || strcmp(cmd, "benchmark") == 0) {
		if ((body = ctl_deploy_body(c, run_id, argc, argv)) == NULL)
			return 2;
		if (strcmp(cmd, "benchmark") == 0) {
			json_t *bc = json_object_get(body, "benchmark_config");

			body = json_pack("{s:s, s:O, s:O}", "run_id", run_id,
			    "implementations", json_object_get(json_object_get(
			    body, "agent_config"), "implementations"), "config",
			    bc);
			c->timeout_s = 1800;
		}
		status = ctl_request(c, "POST", strcmp(cmd, "deploy") == 0 ?
		    "/deploy" : "/benchmark", body, &reply);
		json_decref(body);
		return ctl_print(status, reply);
	}
	if (strcmp(cmd, "measure") == 0 || strcmp(cmd, "cleanup") == 0) {
		body = ctl_run_body(run_id);
		snprintf(path, sizeof(path), "/%s", cmd);
		status = ctl_request(c, "POST", path, body, &reply);
		json_decref(body);
		return ctl_print(status, reply);
	}
	if (strcmp(cmd, "status") == 0) {
		snprintf(path, sizeof(path), "/status/%s", run_id);
		status = ctl_request(c, "GET", path, NULL, &reply);
		return ctl_print(status, reply);
	}
	if (strcmp(cmd, "wait") == 0) {
		if (argc > 1 && ctl_number("wait", argv[1], 1, 86400,
		    &seconds) == -1)
			return 2;
		rc = ctl_wait(c, run_id, seconds);
		return rc;
	}
	if (strcmp(cmd, "results") == 0)
		return ctl_results(c, run_id, 0);
	if (strcmp(cmd, "table") == 0)
		return ctl_results(c, run_id, 1);
	fprintf(stderr, "perf-agent-ctl: unknown command \"%s\"; run "
	    "perf-agent-ctl --help\n", cmd);
	return 2;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 't' },
		{ "metadata-host", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl c = { "http://127.0.0.1:8080", NULL, NULL, 120 };
	const char *env;
	int ch, rc;

	if ((env = getenv("PERF_AGENT_URL")) != NULL && env[0] != '\0')
		c.url = env;
	if ((env = getenv("PERF_AGENT_TOKEN")) != NULL && env[0] != '\0')
		c.token = strdup(env);
	if ((env = getenv("GCE_METADATA_HOST")) != NULL && env[0] != '\0')
		c.metadata_host = env;
	/* Global options stop at the command. */
	while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			c.url = optarg;
			break;
		case 't':
			free(c.token);
			c.token = strdup(optarg);
			break;
		case 'm':
			c.metadata_host = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("perf-agent-ctl %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	/* register command (tools/register.c): talks to stated over IPC,
	 * not to the Agent API, so it needs neither curl nor a token. */
	if (strcmp(argv[optind], "register") == 0) {
		free(c.token);
		return register_main(argc - optind, argv + optind);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (c.token == NULL && c.metadata_host != NULL &&
	    ctl_fetch_token(&c) == -1) {
		curl_global_cleanup();
		return 2;
	}
	/* The command's own flags are parsed from RUN_ID on. */
	rc = ctl_command(&c, argv[optind], optind + 1 < argc ?
	    argv[optind + 1] : NULL, argc - optind - 1, argv + optind + 1);
	curl_global_cleanup();
	free(c.token);
	return rc;
}

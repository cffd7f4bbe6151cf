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

#include "log.h"
#include "register.h"	/* register command (tools/register.c) */

/* Largest API response read, in bytes. */
#define CTL_RESPONSE_MAX	(32 * 1024 * 1024)
/* Largest deploy body read by --file, in bytes. */
#define CTL_FILE_MAX		(1024 * 1024)
/* Maximum length of an item of a comma-separated list option, in bytes. */
#define CTL_ITEM_MAX		255
/* Size of the buffer an argument is escaped into for a message, in bytes. */
#define CTL_QUOTE_MAX		1024
/* Printed after an error in the command line itself. */
#define CTL_HINT		"Run 'perf-agent-ctl --help' for usage.\n"
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

/*
 * Escapes control and non-ASCII bytes of a command-line argument into buf,
 * of CTL_QUOTE_MAX bytes, so that a message quoting it stays on one line.
 * A longer argument is cut.
 */
static const char *
ctl_escape(char *buf, const char *s)
{
	return log_escape(buf, CTL_QUOTE_MAX, s, strlen(s));
}

/*
 * Splits "a,b,c", the value of option --name, into a JSON array of strings,
 * or of booleans. An empty list, an empty item and an item longer than
 * CTL_ITEM_MAX bytes are rejected with a message that ends with accepted.
 */
static json_t *
ctl_list(const char *name, const char *accepted, const char *s,
    int booleans)
{
	char item[CTL_ITEM_MAX + 1], q[CTL_QUOTE_MAX], qi[CTL_QUOTE_MAX];
	const char *p = s;
	json_t *array, *v;
	size_t n, i;

	if ((array = json_array()) == NULL) {
		fprintf(stderr, "perf-agent-ctl: out of memory\n");
		return NULL;
	}
	for (i = 1;; i++) {
		n = strcspn(p, ",");
		if (n == 0) {
			fprintf(stderr, "perf-agent-ctl: invalid --%s list "
			    "\"%s\": %s; use %s\n", name, ctl_escape(q, s),
			    *s == '\0' ? "empty list" : "empty item", accepted);
			goto fail;
		}
		if (n > CTL_ITEM_MAX) {
			fprintf(stderr, "perf-agent-ctl: invalid --%s list "
			    "\"%s\": item %zu is %zu bytes long, more than the "
			    "limit of %d bytes\n", name, ctl_escape(q, s), i, n,
			    CTL_ITEM_MAX);
			goto fail;
		}
		memcpy(item, p, n);
		item[n] = '\0';

		if (!booleans)
			v = json_string(item);
		else if (strcmp(item, "true") == 0)
			v = json_true();
		else if (strcmp(item, "false") == 0)
			v = json_false();
		else {
			fprintf(stderr, "perf-agent-ctl: invalid --%s list "
			    "\"%s\": item \"%s\" is not a boolean; use %s\n",
			    name, ctl_escape(q, s), ctl_escape(qi, item),
			    accepted);
			goto fail;
		}
		/* json_string() accepts only UTF-8. */
		if (v == NULL) {
			fprintf(stderr, "perf-agent-ctl: invalid --%s list "
			    "\"%s\": item %zu is not valid UTF-8; use %s\n",
			    name, ctl_escape(q, s), i, accepted);
			goto fail;
		}
		if (json_array_append_new(array, v) == -1) {
			fprintf(stderr, "perf-agent-ctl: out of memory\n");
			goto fail;
		}

		p += n;
		if (*p == '\0')
			break;
		p++;	/* the comma */
	}
	return array;
fail:
	json_decref(array);
	return NULL;
}

/*
 * Parses s, the argument described by name ("--iterations"), as an integer
 * from min to max into *out; -1 with a message when it is not one.
 */
static int
ctl_number(const char *name, const char *s, long min, long max, long *out)
{
	char q[CTL_QUOTE_MAX], *end;

	/* Digits only: strtol would take a sign and leading spaces. */
	errno = 0;
	*out = strtol(s, &end, 10);
	if (s[0] < '0' || s[0] > '9' || errno != 0 || *end != '\0' ||
	    *out < min || *out > max) {
		fprintf(stderr, "perf-agent-ctl: invalid %s \"%s\": must be "
		    "an integer from %ld to %ld\n", name, ctl_escape(q, s), min,
		    max);
		return -1;
	}
	return 0;
}

/*
 * Prints the error getopt_long() returned as ch (':' for a missing value,
 * '?' otherwise) for the option just read, then the usage hint. opts is the
 * table of long options that getopt_long() was given.
 */
void
ctl_option_error(int ch, char **argv, const struct option *opts)
{
	const char *arg = argv[optind - 1], *name = arg + 2;
	const struct option *match = NULL, *o;
	size_t len = strcspn(name, "="), matches = 0;
	char q[CTL_QUOTE_MAX];

	/* getopt_long() names neither the long option nor the ambiguity. */
	if (strncmp(arg, "--", 2) == 0)
		for (o = opts; o->name != NULL; o++) {
			if (strncmp(o->name, name, len) != 0)
				continue;
			matches++;
			match = o;
			if (strlen(o->name) == len) {
				matches = 1;
				break;
			}
		}

	/*
	 * optopt is the short option, or the val of the long option that was
	 * found. A short option inside a group ("-xh") leaves optind on its
	 * argument, so arg is then the argument before.
	 */
	if (matches != 1)
		match = NULL;
	if (optopt != 0 && (match == NULL || match->val != optopt))
		fprintf(stderr, "perf-agent-ctl: %s -%c\n", ch == ':' ?
		    "missing value for option" : "unknown option", optopt);
	else if (match != NULL && ch == ':')
		fprintf(stderr, "perf-agent-ctl: missing value for option "
		    "--%s\n", match->name);
	else if (match != NULL && optopt != 0)
		fprintf(stderr, "perf-agent-ctl: option --%s takes no value, "
		    "but was given \"%s\"\n", match->name, ctl_escape(q, arg));
	else if (matches > 1) {
		fprintf(stderr, "perf-agent-ctl: ambiguous option \"%s\"; it "
		    "could be", ctl_escape(q, arg));
		for (o = opts; o->name != NULL; o++)
			if (strncmp(o->name, name, len) == 0)
				fprintf(stderr, " --%s", o->name);
		fputc('\n', stderr);
	} else
		fprintf(stderr, "perf-agent-ctl: unknown option \"%s\"\n",
		    ctl_escape(q, arg));
	fputs(CTL_HINT, stderr);
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

/* The deploy and benchmark flags, as read so far. */
struct ctl_deploy {
	json_t		*matrix;	/* test_matrix */
	json_t		*schedule;
	json_t		*impls;		/* NULL: the active ones */
	long		 iterations;
	long		 count;		/* warm requests */
	long		 concurrency;
	const char	*strategy;
	const char	*file;		/* --file: the whole body */
	int		 flags;		/* number given, --file included */
};

/*
 * Reads the deploy body of --file: a JSON object. A file that cannot be
 * read is reported with the system's error, invalid JSON with its line and
 * column.
 */
static json_t *
ctl_load_file(const char *path)
{
	char q[CTL_QUOTE_MAX], *buf = NULL;
	json_t *body = NULL;
	json_error_t jerr;
	size_t len = 0, n;
	FILE *fp;

	ctl_escape(q, path);
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "perf-agent-ctl: cannot read %s: %s\n", q,
		    strerror(errno));
		return NULL;
	}
	/* Reading one byte past the limit detects a file that is too large. */
	if ((buf = malloc(CTL_FILE_MAX + 1)) == NULL) {
		fprintf(stderr, "perf-agent-ctl: out of memory\n");
		goto done;
	}
	while ((n = fread(buf + len, 1, CTL_FILE_MAX + 1 - len, fp)) > 0 &&
	    len + n <= CTL_FILE_MAX)
		len += n;
	if (ferror(fp)) {
		fprintf(stderr, "perf-agent-ctl: cannot read %s: %s\n", q,
		    strerror(errno));
		goto done;
	}
	if (n > 0) {
		fprintf(stderr, "perf-agent-ctl: cannot read %s: larger than "
		    "the limit of %d bytes\n", q, CTL_FILE_MAX);
		goto done;
	}

	if ((body = json_loadb(buf, len, 0, &jerr)) == NULL)
		fprintf(stderr, "perf-agent-ctl: invalid JSON in %s at line "
		    "%d, column %d: %s\n", q, jerr.line, jerr.column,
		    jerr.text);
	else if (!json_is_object(body)) {
		fprintf(stderr, "perf-agent-ctl: invalid deploy body in %s: "
		    "must be a JSON object\n", q);
		json_decref(body);
		body = NULL;
	}
done:
	free(buf);
	fclose(fp);
	return body;
}

/* Applies one deploy flag, ch as getopt_long() returned it; -1 when its
 * value is invalid. */
/* Sets the measure delay from --delay-minutes (minutes set) or
 * --delay-seconds; the agent takes one of the two. */
static int
ctl_deploy_delay(struct ctl_deploy *d, int minutes, const char *arg)
{
	const char *key = minutes ? "measure_delay_minutes" :
	    "measure_delay_seconds";
	long n;

	if (json_object_get(d->schedule, minutes ? "measure_delay_seconds" :
	    "measure_delay_minutes") != NULL) {
		fprintf(stderr, "perf-agent-ctl: --delay-minutes and "
		    "--delay-seconds exclude each other; give one\n");
		return -1;
	}
	if (ctl_number(minutes ? "--delay-minutes" : "--delay-seconds", arg,
	    0, minutes ? 1440 : 86400, &n) == -1)
		return -1;
	return json_object_set_new(d->schedule, key, json_integer(n));
}

static int
ctl_deploy_option(struct ctl_deploy *d, int ch, const char *arg)
{
	const char *key;
	json_t *v;
	char q[CTL_QUOTE_MAX];
	long n;

	d->flags++;
	switch (ch) {
	case 'f':
		d->file = arg;
		return 0;
	case 'i':
		json_decref(d->impls);
		d->impls = NULL;
		if (strcmp(arg, "all") == 0)
			return 0;
		d->impls = ctl_list("implementations", "implementation names "
		    "separated by commas, or all", arg, 0);
		return d->impls != NULL ? 0 : -1;
	case 'n':
		return ctl_number("--iterations", arg, 1, 1000, &d->iterations);
	case 'w':
		return ctl_number("--warm-count", arg, 1, 1000000, &d->count);
	case 'C':
		return ctl_number("--concurrency", arg, 1, 1000,
		    &d->concurrency);
	case 'D':
	case 'S':
		return ctl_deploy_delay(d, ch == 'D', arg);
	case 'R':
		if (ctl_number("--round-delay", arg, 0, 86400, &n) == -1)
			return -1;
		return json_object_set_new(d->schedule, "round_delay_seconds",
		    json_integer(n));
	case 's':
		if (strcmp(arg, "rounds") != 0 && strcmp(arg, "replicas") != 0) {
			fprintf(stderr, "perf-agent-ctl: invalid --strategy "
			    "\"%s\": use rounds or replicas\n",
			    ctl_escape(q, arg));
			return -1;
		}
		d->strategy = arg;
		return 0;
	}

	/* The lists of the test matrix. */
	switch (ch) {
	case 'c':
		key = "cpu";
		v = ctl_list("cpu", "CPU counts separated by commas, such as "
		    "1,2", arg, 0);
		break;
	case 'm':
		key = "memory";
		v = ctl_list("memory", "memory sizes separated by commas, such "
		    "as 512Mi,1Gi", arg, 0);
		break;
	case 'b':
		key = "startup_boost";
		v = ctl_list("startup-boost", "true, false or true,false", arg,
		    1);
		break;
	default:
		return -1;
	}
	if (v == NULL)
		return -1;
	return json_object_set_new(d->matrix, key, v);
}

/*
 * Builds the /deploy body from the command's flags; argv[0] is the run id.
 * Sets *active when the active implementations are still to be put in it.
 * Prints why and returns NULL when the flags are invalid.
 */
static json_t *
ctl_deploy_body(const char *run_id, int argc, char **argv, int *active)
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
	struct ctl_deploy d = { json_object(), json_object(), NULL, 3, 100, 10,
	    NULL, NULL, 0 };
	char q[CTL_QUOTE_MAX];
	json_t *body = NULL;
	int ch;

	if (d.matrix == NULL || d.schedule == NULL) {
		fprintf(stderr, "perf-agent-ctl: out of memory\n");
		goto done;
	}
	optind = 1;
	/* getopt names argv[0], the run id here, in its messages. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		if (ch == ':' || ch == '?') {
			ctl_option_error(ch, argv, opts);
			goto done;
		}
		if (ctl_deploy_option(&d, ch, optarg) == -1)
			goto done;
	}
	if (optind < argc) {
		fprintf(stderr, "perf-agent-ctl: unexpected argument \"%s\" "
		    "after RUN_ID; only flags may follow it\n",
		    ctl_escape(q, argv[optind]));
		goto done;
	}

	if (d.file != NULL) {
		if (d.flags > 1) {
			fprintf(stderr, "perf-agent-ctl: --file cannot be "
			    "combined with other deploy flags; put their "
			    "values in the file\n");
			goto done;
		}
		body = ctl_load_file(d.file);
		goto done;
	}

	/* The agent is asked for them once the command line is checked. */
	if (d.impls == NULL) {
		*active = 1;
		d.impls = json_array();
	}
	body = json_pack("{s:s, s:{s:I, s:I, s:I}, s:{s:O, s:O}, s:O}",
	    "run_id", run_id, "benchmark_config", "cold_start_iterations",
	    (json_int_t)d.iterations, "warm_request_count", (json_int_t)d.count,
	    "warm_request_concurrency", (json_int_t)d.concurrency,
	    "agent_config", "implementations", d.impls, "test_matrix",
	    d.matrix, "schedule", d.schedule);
	if (body == NULL)
		fprintf(stderr, "perf-agent-ctl: out of memory\n");
	else if (d.strategy != NULL)
		json_object_set_new(json_object_get(body, "benchmark_config"),
		    "cold_start_strategy", json_string(d.strategy));
done:
	json_decref(d.impls);
	json_decref(d.schedule);
	json_decref(d.matrix);
	return body;
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
"                            --strategy rounds|replicas; or alone --file F,\n"
"                            a JSON file with the whole body\n"
"  measure RUN_ID            POST /measure\n"
"  status RUN_ID             GET /status/RUN_ID\n"
"  wait RUN_ID [SECONDS]     print progress until the run ends or SECONDS\n"
"                            (1 to 86400, default 3600) pass; exits 0 when\n"
"                            it completed\n"
"  results RUN_ID            GET /results/RUN_ID, the results.json document\n"
"  table RUN_ID              the results as a table\n"
"  cleanup RUN_ID            POST /cleanup\n"
"  benchmark RUN_ID [flags]  POST /benchmark (legacy, waits in the call)\n"
/* register command (tools/register.c): usage lines. */
"  register [flags]          upload manifest.yaml with its endpoint set,\n"
"                            through the local agent's stated; flags:\n"
"                            --endpoint URL --runtime-dir DIR\n"
"                            --manifest FILE --dry-run (see register\n"
"                            --help)\n\n"
"Exit status: 0 on success, 1 on an HTTP error or a failed run, 2 on an\n"
"invalid command line or when the agent or metadata server cannot be\n"
"reached.\n");
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

/* The Agent API commands; register is run by register_main(). */
static const struct ctl_cmd {
	const char	*name;
	const char	*args;		/* synopsis of the arguments */
	int		 run_id;	/* 1: RUN_ID follows the name */
	int		 max_args;	/* after RUN_ID, or -1 for flags */
} ctl_cmds[] = {
	{ "health", "", 0, 0 },
	{ "implementations", "", 0, 0 },
	{ "deploy", " RUN_ID [flags]", 1, -1 },
	{ "measure", " RUN_ID", 1, 0 },
	{ "status", " RUN_ID", 1, 0 },
	{ "wait", " RUN_ID [SECONDS]", 1, 1 },
	{ "results", " RUN_ID", 1, 0 },
	{ "table", " RUN_ID", 1, 0 },
	{ "cleanup", " RUN_ID", 1, 0 },
	{ "benchmark", " RUN_ID [flags]", 1, -1 },
	{ NULL, NULL, 0, 0 }
};

/* A command line checked by ctl_parse(), ready to be sent. */
struct ctl_call {
	const struct ctl_cmd	*cmd;
	const char		*run_id;
	long			 seconds;	/* wait: time limit, in s */
	json_t			*body;		/* deploy, benchmark */
	int			 active;	/* body takes the active
						 * implementations */
};

/* Prints the commands, for a command line that names none or a wrong one. */
static void
ctl_print_commands(void)
{
	const struct ctl_cmd *cmd;

	fprintf(stderr, "the commands are");
	for (cmd = ctl_cmds; cmd->name != NULL; cmd++)
		fprintf(stderr, " %s,", cmd->name);
	fprintf(stderr, " register\n");
}

/*
 * Checks the command line from the command name on, argv[0], without
 * contacting the agent. Returns -1 with a message when it is invalid.
 */
static int
ctl_parse(struct ctl_call *call, int argc, char **argv)
{
	const struct ctl_cmd *cmd;
	char q[CTL_QUOTE_MAX];
	int first;

	for (cmd = ctl_cmds; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, argv[0]) == 0)
			break;
	if (cmd->name == NULL) {
		fprintf(stderr, "perf-agent-ctl: unknown command \"%s\"; ",
		    ctl_escape(q, argv[0]));
		ctl_print_commands();
		return -1;
	}
	call->cmd = cmd;

	/* The agent's rule for run ids, checked here too because RUN_ID
	 * becomes part of a URL path ("../x" would name another path). */
	if (cmd->run_id && argc < 2) {
		fprintf(stderr, "perf-agent-ctl: missing RUN_ID; use "
		    "perf-agent-ctl %s%s\n", cmd->name, cmd->args);
		return -1;
	}
	if (cmd->run_id && (argv[1][0] == '\0' ||
	    strchr(".-_", argv[1][0]) != NULL || strlen(argv[1]) > 63 ||
	    strspn(argv[1], "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(argv[1]))) {
		fprintf(stderr, "perf-agent-ctl: invalid RUN_ID \"%s\": use 1 "
		    "to 63 letters, digits, '.', '_' or '-', starting with a "
		    "letter or digit\n", ctl_escape(q, argv[1]));
		return -1;
	}
	call->run_id = cmd->run_id ? argv[1] : NULL;

	first = cmd->run_id ? 2 : 1;
	if (cmd->max_args >= 0 && argc > first + cmd->max_args) {
		fprintf(stderr, "perf-agent-ctl: unexpected argument \"%s\"; "
		    "use perf-agent-ctl %s%s\n", ctl_escape(q,
		    argv[first + cmd->max_args]), cmd->name, cmd->args);
		return -1;
	}
	if (strcmp(cmd->name, "wait") == 0 && argc > 2 &&
	    ctl_number("wait SECONDS", argv[2], 1, 86400, &call->seconds) == -1)
		return -1;
	if (cmd->max_args == -1 && (call->body = ctl_deploy_body(call->run_id,
	    argc - 1, argv + 1, &call->active)) == NULL)
		return -1;
	return 0;
}

/* Sends the deploy or benchmark request of call. */
static int
ctl_deploy(struct ctl *c, struct ctl_call *call)
{
	json_t *body = call->body, *reply;
	long status;

	if (call->active)
		json_object_set_new(json_object_get(body, "agent_config"),
		    "implementations", ctl_active(c));
	if (strcmp(call->cmd->name, "benchmark") == 0) {
		body = json_pack("{s:s, s:O, s:O}", "run_id", call->run_id,
		    "implementations", json_object_get(json_object_get(
		    call->body, "agent_config"), "implementations"), "config",
		    json_object_get(call->body, "benchmark_config"));
		if (body == NULL) {
			fprintf(stderr, "perf-agent-ctl: benchmark --file "
			    "needs agent_config.implementations and "
			    "benchmark_config in the file\n");
			return 2;
		}
		c->timeout_s = 1800;
	}
	status = ctl_request(c, "POST", strcmp(call->cmd->name, "deploy") == 0 ?
	    "/deploy" : "/benchmark", body, &reply);
	if (body != call->body)
		json_decref(body);
	return ctl_print(status, reply);
}

/* Runs the command of call; returns the exit status. */
static int
ctl_command(struct ctl *c, struct ctl_call *call)
{
	const char *cmd = call->cmd->name;
	char path[512];
	json_t *body, *reply;
	long status;

	if (strcmp(cmd, "health") == 0 || strcmp(cmd, "implementations") == 0) {
		snprintf(path, sizeof(path), "/%s", cmd);
		status = ctl_request(c, "GET", path, NULL, &reply);
		return ctl_print(status, reply);
	}
	if (strcmp(cmd, "deploy") == 0 || strcmp(cmd, "benchmark") == 0)
		return ctl_deploy(c, call);
	if (strcmp(cmd, "measure") == 0 || strcmp(cmd, "cleanup") == 0) {
		body = ctl_run_body(call->run_id);
		snprintf(path, sizeof(path), "/%s", cmd);
		status = ctl_request(c, "POST", path, body, &reply);
		json_decref(body);
		return ctl_print(status, reply);
	}
	if (strcmp(cmd, "status") == 0) {
		snprintf(path, sizeof(path), "/status/%s", call->run_id);
		status = ctl_request(c, "GET", path, NULL, &reply);
		return ctl_print(status, reply);
	}
	if (strcmp(cmd, "wait") == 0)
		return ctl_wait(c, call->run_id, call->seconds);
	if (strcmp(cmd, "results") == 0)
		return ctl_results(c, call->run_id, 0);
	return ctl_results(c, call->run_id, 1);
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
	struct ctl_call call = { NULL, NULL, 3600, NULL, 0 };
	const char *env;
	int ch, rc = 2;

	if ((env = getenv("PERF_AGENT_URL")) != NULL && env[0] != '\0')
		c.url = env;
	if ((env = getenv("GCE_METADATA_HOST")) != NULL && env[0] != '\0')
		c.metadata_host = env;
	/* Global options stop at the command. getopt would name argv[0],
	 * the path the program was run by, in its own messages. */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			c.url = optarg;
			break;
		case 't':
			free(c.token);
			if ((c.token = strdup(optarg)) == NULL) {
				fprintf(stderr, "perf-agent-ctl: out of "
				    "memory\n");
				goto done;
			}
			break;
		case 'm':
			c.metadata_host = optarg;
			break;
		case 'h':
			usage(stdout);
			rc = 0;
			goto done;
		case 'V':
			printf("perf-agent-ctl %s\n", PACKAGE_VERSION);
			rc = 0;
			goto done;
		default:
			ctl_option_error(ch, argv, longopts);
			goto done;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "perf-agent-ctl: missing command; ");
		ctl_print_commands();
		fputs(CTL_HINT, stderr);
		goto done;
	}
	/* register command (tools/register.c): talks to stated over IPC,
	 * not to the Agent API, so it needs neither curl nor a token. */
	if (strcmp(argv[optind], "register") == 0) {
		rc = register_main(argc - optind, argv + optind);
		goto done;
	}
	if (ctl_parse(&call, argc - optind, argv + optind) == -1)
		goto done;
	if (c.token == NULL && (env = getenv("PERF_AGENT_TOKEN")) != NULL &&
	    env[0] != '\0' && (c.token = strdup(env)) == NULL) {
		fprintf(stderr, "perf-agent-ctl: out of memory\n");
		goto done;
	}

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (c.token == NULL && c.metadata_host != NULL &&
	    ctl_fetch_token(&c) == -1)
		rc = 2;
	else
		rc = ctl_command(&c, &call);
	curl_global_cleanup();
done:
	json_decref(call.body);
	free(c.token);
	return rc;
}

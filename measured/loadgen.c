/*
 * perf-agent-load: runs the measurement engine once from the command line
 * and prints the result as one JSON object on stdout. Benchmarks and tests
 * drive the engine through it.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "clock.h"
#include "cold.h"
#include "log.h"
#include "stats.h"
#include "warm.h"

#define BODY_FILE_MAX	(16 * 1024 * 1024)

struct options {
	const char	*url;
	const char	*method;
	const char	*headers[WARM_MAX_HEADERS];
	size_t		 nheaders;
	const char	*body_file;
	const char	*cafile;
	uint64_t	 requests;
	unsigned	 concurrency;
	int		 expect_status;
	int64_t		 timeout_ns;
	double		 rate;
	int64_t		 duration_ns;
	int		 cold;
	int		 test_nagle;
	int64_t		 refresh_ns;
};

/* Requests rebuilt by --refresh-ms, kept until the run ends. */
struct refresh {
	const struct options	*o;
	const char		*body;
	size_t			 body_len;
	struct warm_request	 built[64];
	unsigned		 n;
};

static void
usage(FILE *out)
{
	fprintf(out,
"usage: perf-agent-load --url URL [options]\n"
"  --url URL            http:// or https:// target (required)\n"
"  --requests N         closed loop: measured requests (default 100)\n"
"  --concurrency N      keep-alive connections (default 1)\n"
"  --method M           request method (default GET, POST with a body)\n"
"  --header 'N: V'      request header, repeatable (at most 64)\n"
"  --body-file PATH     request body bytes (at most 16 MiB)\n"
"  --cafile PATH        CA certificates for https (default: system CAs)\n"
"  --expect-status N    status counted as success (default 200)\n"
"  --timeout SECONDS    per-request timeout (default 10)\n"
"  --rate N             open loop: requests per second\n"
"  --duration SECONDS   open loop: length of the schedule\n"
"  --cold               one request on a fresh connection (libcurl)\n"
"  --refresh-ms N       rebuild the request every N ms (at most 63 times),\n"
"                       with a header X-Request-Generation counting them\n"
"  --help               print this help\n"
"Each connection's first request is a warm-up, reported apart. Prints one\n"
"JSON object; exits 0 when the run took place, even if requests failed.\n");
}

static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || s[0] == '-' ||
	    v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_double(const char *s, double min, double max, double *out)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
	    v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Parses one option with a value into opts; exits on an invalid value. */
static void
parse_value(int ch, const char *arg, struct options *o)
{
	uint64_t	u;
	double		d;

	switch (ch) {
	case 'n':
		if (parse_u64(arg, 1, UINT64_C(1) << 40, &o->requests) == -1)
			fatalx("invalid --requests %s: expected 1 to 2^40",
			    arg);
		break;
	case 'c':
		if (parse_u64(arg, 1, WARM_MAX_CONCURRENCY, &u) == -1)
			fatalx("invalid --concurrency %s: expected 1 to %d",
			    arg, WARM_MAX_CONCURRENCY);
		o->concurrency = (unsigned)u;
		break;
	case 's':
		if (parse_u64(arg, 100, 599, &u) == -1)
			fatalx("invalid --expect-status %s: expected 100 to "
			    "599", arg);
		o->expect_status = (int)u;
		break;
	case 't':
		if (parse_double(arg, 0.001, 3600, &d) == -1)
			fatalx("invalid --timeout %s: expected 0.001 to 3600 "
			    "seconds", arg);
		o->timeout_ns = (int64_t)(d * 1e9);
		break;
	case 'r':
		if (parse_double(arg, 0.001, 1e7, &o->rate) == -1)
			fatalx("invalid --rate %s: expected 0.001 to 1e7 per "
			    "second", arg);
		break;
	case 'd':
		if (parse_double(arg, 0.001, 86400, &d) == -1)
			fatalx("invalid --duration %s: expected 0.001 to "
			    "86400 seconds", arg);
		o->duration_ns = (int64_t)(d * 1e9);
		break;
	case 'R':
		if (parse_u64(arg, 1, 3600000, &u) == -1)
			fatalx("invalid --refresh-ms %s: expected 1 to 3600000",
			    arg);
		o->refresh_ns = (int64_t)u * 1000000;
		break;
	case 'H':
		if (o->nheaders == WARM_MAX_HEADERS)
			fatalx("more than %d --header options",
			    WARM_MAX_HEADERS);
		o->headers[o->nheaders++] = arg;
		break;
	}
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "requests", required_argument, NULL, 'n' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "method", required_argument, NULL, 'm' },
		{ "header", required_argument, NULL, 'H' },
		{ "body-file", required_argument, NULL, 'b' },
		{ "cafile", required_argument, NULL, 'a' },
		{ "expect-status", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "cold", no_argument, NULL, 'C' },
		{ "test-nagle", no_argument, NULL, 'N' },
		{ "refresh-ms", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	ch;

	memset(o, 0, sizeof(*o));
	o->requests = 100;
	o->concurrency = 1;
	o->expect_status = 200;
	o->timeout_ns = WARM_TIMEOUT_DEFAULT_NS;
	while ((ch = getopt_long(argc, argv, "u:n:c:m:H:b:a:s:t:r:d:h",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': o->url = optarg; break;
		case 'm': o->method = optarg; break;
		case 'b': o->body_file = optarg; break;
		case 'a': o->cafile = optarg; break;
		case 'C': o->cold = 1; break;
		case 'N': o->test_nagle = 1; break;
		case 'h': usage(stdout); exit(0);
		case '?': usage(stderr); exit(2);
		default: parse_value(ch, optarg, o); break;
		}
	}
	if (optind != argc || o->url == NULL) {
		usage(stderr);
		exit(2);
	}
	if ((o->rate > 0) != (o->duration_ns > 0))
		fatalx("--rate and --duration go together (open loop)");
}

/* Reads the whole body file, at most BODY_FILE_MAX bytes. */
static char *
read_body(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf;
	size_t	 n;

	if ((f = fopen(path, "rb")) == NULL)
		fatal("cannot open --body-file %s", path);
	if ((buf = malloc(BODY_FILE_MAX + 1)) == NULL)
		fatal("malloc");
	n = fread(buf, 1, BODY_FILE_MAX + 1, f);
	if (ferror(f))
		fatal("cannot read --body-file %s", path);
	(void)fclose(f);
	if (n > BODY_FILE_MAX)
		fatalx("--body-file %s is over %d bytes", path,
		    BODY_FILE_MAX);
	*len = n;
	return buf;
}

static int64_t
cpu_ns(void)
{
	struct rusage	ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return -1;
	return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
	    CLOCK_NS_PER_S + ((int64_t)ru.ru_utime.tv_usec +
	    ru.ru_stime.tv_usec) * CLOCK_NS_PER_US;
}

static json_t *
run_cold(const struct options *o, const char *body, size_t body_len)
{
	struct cold_request	req;
	struct cold_result	res;
	json_t			*out;

	memset(&req, 0, sizeof(req));
	req.method = o->method != NULL ? o->method :
	    (body != NULL ? "POST" : "GET");
	req.url = o->url;
	req.headers = o->headers;
	req.nheaders = o->nheaders;
	req.body = body;
	req.body_len = body_len;
	req.cafile = o->cafile;
	req.timeout_ns = o->timeout_ns;
	req.expect_status = o->expect_status;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx("curl_global_init failed");
	if (cold_sample(&req, &res) == -1)
		fatalx("invalid cold request for %s", o->url);
	out = cold_result_to_json(&res);
	cold_result_free(&res);
	curl_global_cleanup();
	return out;
}

/* Adds the client's CPU time over the run, per measured request too. */
static void
add_cpu(json_t *out, int64_t cpu, uint64_t requests)
{
	json_t	*o;

	o = json_pack("{s:o s:o}",
	    "cpu_ms", stats_ms_json((double)cpu),
	    "cpu_us_per_request", requests > 0 ?
	    json_real(round((double)cpu / (double)requests) / 1e3) :
	    json_null());
	if (o != NULL)
		(void)json_object_set_new(out, "client", o);
}

/* The engine's refresh: the same request with the next generation. */
static int
refresh_request(void *arg, const char **request, size_t *len)
{
	struct refresh	*r = arg;
	const char	*headers[WARM_MAX_HEADERS + 1];
	char		 generation[64], err[256];
	struct warm_request *req;
	size_t		 i;

	if (r->n == sizeof(r->built) / sizeof(r->built[0]))
		return -1;
	for (i = 0; i < r->o->nheaders; i++)
		headers[i] = r->o->headers[i];
	(void)snprintf(generation, sizeof(generation),
	    "X-Request-Generation: %u", r->n);
	headers[i++] = generation;
	req = &r->built[r->n];
	if (warm_request_build(r->o->method != NULL ? r->o->method :
	    (r->body != NULL ? "POST" : "GET"), r->o->url, headers, i,
	    r->body, r->body_len, req, err, sizeof(err)) == -1) {
		log_warnx("cannot rebuild the request: %s", err);
		return -1;
	}
	r->n++;
	*request = req->bytes;
	*len = req->len;
	return 0;
}

static json_t *
run_warm(const struct options *o, const char *body, size_t body_len)
{
	struct refresh		 r;
	unsigned		 i;
	struct warm_request	 req;
	struct warm_config	 cfg;
	struct warm_result	 res;
	char			 err[256];
	json_t			*out;
	int64_t			 cpu0, cpu1;

	if (warm_request_build(o->method != NULL ? o->method :
	    (body != NULL ? "POST" : "GET"), o->url, o->headers, o->nheaders,
	    body, body_len, &req, err, sizeof(err)) == -1)
		fatalx("%s", err);
	memset(&cfg, 0, sizeof(cfg));
	cfg.host = req.host;
	cfg.port = req.port;
	cfg.tls = req.tls;
	cfg.cafile = o->cafile;
	cfg.request = req.bytes;
	cfg.request_len = req.len;
	cfg.count = o->requests;
	cfg.concurrency = o->concurrency;
	cfg.expect_status = o->expect_status;
	cfg.timeout_ns = o->timeout_ns;
	cfg.rate_rps = o->rate;
	cfg.duration_ns = o->duration_ns;
	cfg.test_nagle = o->test_nagle;
	memset(&r, 0, sizeof(r));
	r.o = o;
	r.body = body;
	r.body_len = body_len;
	r.n = 1;	/* generation 0 is the first request, without the header */
	if (o->refresh_ns > 0) {
		cfg.refresh = refresh_request;
		cfg.refresh_arg = &r;
		cfg.refresh_ns = o->refresh_ns;
	}

	cpu0 = cpu_ns();
	if (warm_run(&cfg, &res) == -1)
		fatalx("%s", res.error);
	cpu1 = cpu_ns();
	out = warm_result_to_json(&res);
	if (out != NULL)
		add_cpu(out, cpu1 - cpu0, res.attempted + res.first.count +
		    res.warmup_failed);
	warm_result_free(&res);
	warm_request_free(&req);
	for (i = 1; i < r.n; i++)
		warm_request_free(&r.built[i]);
	return out;
}

int
main(int argc, char **argv)
{
	struct options	 o;
	char		*body = NULL;
	size_t		 body_len = 0;
	json_t		*out;

	log_init("perf-agent-load", LOG_FORMAT_AUTO, 0);
	parse_options(argc, argv, &o);
	/* OpenSSL writes with write(2): a reset peer must not kill us. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal");
	if (o.body_file != NULL)
		body = read_body(o.body_file, &body_len);

	out = o.cold ? run_cold(&o, body, body_len) :
	    run_warm(&o, body, body_len);
	if (out == NULL)
		fatalx("cannot build the JSON result");
	if (json_dumpf(out, stdout, STATS_JSON_FLAGS) == -1 ||
	    fputc('\n', stdout) == EOF || fflush(stdout) == EOF)
		fatal("cannot write the result");
	json_decref(out);
	free(body);
	return 0;
}

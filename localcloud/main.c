/*
 * localcloud: settings, the API listener, the module table and the request
 * dispatcher. Every API shares one HTTP port on 127.0.0.1.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>

#include "log.h"
#include "localcloud.h"
#include "tokens.h"

/*
 * The modules, tried in this order for every request. Their paths do not
 * overlap: Run owns /v2/projects/{p}/locations/{l}/services and
 * .../operations, Tasks .../queues, Logging /v2/entries:list, Monitoring
 * /v3/projects/{p}/timeSeries, Scheduler /v1/projects/..., Storage
 * /storage/v1 and /upload/storage/v1, metadata /computeMetadata/v1.
 */
static const struct lc_module *const lc_modules[] = {
	&run_module,
	&monitoring_module,
	&logging_module,
	/*
	 * Storage, Scheduler, Tasks and metadata modules go here, one line
	 * each (&storage_module, ...), once their sources are in local.mk.
	 */
	&storage_module,
	&scheduler_module,
	&tasks_module,
	&metadata_module,
	NULL
};

#define LC_DEFAULT_PORT			8085
#define LC_DEFAULT_PROJECT		"local-project"
#define LC_DEFAULT_REGION		"local-region"
#define LC_DEFAULT_DATA_DIR		"localcloud-data"
#define LC_DEFAULT_IMPLEMENTATIONS	PKGDATADIR "/implementations"
#define LC_DEFAULT_IDLE_TIMEOUT		5	/* seconds */
#define LC_DEFAULT_STARTUP_TIMEOUT	30	/* seconds */
#define LC_LISTEN_BACKLOG		128

static void
usage(FILE *out)
{
	fprintf(out,
"usage: localcloud [options]\n"
"\n"
"Serves on 127.0.0.1 the Google APIs perf-agent calls: Cloud Run Admin v2\n"
"with a scale-to-zero data plane, Cloud Monitoring v3 (instance_count),\n"
"Cloud Logging v2 (request logs), and the modules built in (Storage,\n"
"Scheduler, Tasks, metadata). Each option has an environment variable;\n"
"the option wins.\n"
"\n"
"  --port N             API port on 127.0.0.1, 0 for any free one\n"
"                       (LOCALCLOUD_PORT, default %d)\n"
"  --data-dir DIR       persistent state, created if missing\n"
"                       (LOCALCLOUD_DATA_DIR, default ./%s)\n"
"  --project ID         project id (LOCALCLOUD_PROJECT, default %s)\n"
"  --region NAME        region (LOCALCLOUD_REGION, default %s)\n"
"  --implementations P  ':'-separated directories; image local/TYPE/NAME\n"
"                       runs DIR/TYPE/NAME/run (LOCALCLOUD_IMPLEMENTATIONS,\n"
"                       default %s)\n"
"  --idle-timeout SEC   stop an instance idle this many seconds\n"
"                       (LOCALCLOUD_IDLE_TIMEOUT, default %d)\n"
"  --startup-timeout SEC  wait this long for an instance to listen\n"
"                       (LOCALCLOUD_STARTUP_TIMEOUT, default %d)\n"
"  --metrics-lag SEC    hide the newest SEC seconds of Monitoring samples,\n"
"                       as the real metric lags (LOCALCLOUD_METRICS_LAG,\n"
"                       default 0)\n"
"  --token-lifetime SEC seconds the ID and access tokens last, 60 to 86400\n"
"                       (LOCALCLOUD_TOKEN_LIFETIME, default %d)\n"
"  --plain-http         service URLs are http:// instead of https://\n"
"                       (LOCALCLOUD_PLAIN_HTTP=1)\n"
"  --invoker-iam        enforce Cloud Run's invoker check: a request to a\n"
"                       service that is not public needs an ID token\n"
"                       signed by localcloud for the service's URL\n"
"                       (LOCALCLOUD_INVOKER_IAM=1)\n"
"  --log-format F       auto, json or text (LOCALCLOUD_LOG_FORMAT)\n"
"  --debug              log debug lines (LOCALCLOUD_DEBUG=1)\n"
"  --help               print this help and exit\n"
"  --version            print the version and exit\n"
"\n"
"Service URLs use a certificate issued by the CA in DIR/ca.pem.\n",
	    LC_DEFAULT_PORT, LC_DEFAULT_DATA_DIR, LC_DEFAULT_PROJECT,
	    LC_DEFAULT_REGION, LC_DEFAULT_IMPLEMENTATIONS,
	    LC_DEFAULT_IDLE_TIMEOUT, LC_DEFAULT_STARTUP_TIMEOUT,
	    TOKENS_LIFETIME);
}

/* Parses a decimal number in [min, max]; -1 when invalid. */
static int
parse_uint(const char *text, unsigned long min, unsigned long max,
    unsigned long *out)
{
	char *end;
	unsigned long v;

	if (text == NULL || *text == '\0' || *text == '-' || *text == '+')
		return -1;
	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Reads a boolean environment variable: 1/true/yes is on. */
static int
env_flag(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && (strcmp(v, "1") == 0 ||
	    strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0);
}

enum {
	OPT_PORT = 256,
	OPT_DATA_DIR,
	OPT_PROJECT,
	OPT_REGION,
	OPT_IMPLEMENTATIONS,
	OPT_IDLE_TIMEOUT,
	OPT_STARTUP_TIMEOUT,
	OPT_METRICS_LAG,
	OPT_TOKEN_LIFETIME,
	OPT_PLAIN_HTTP,
	OPT_INVOKER_IAM,
	OPT_LOG_FORMAT,
	OPT_DEBUG,
	OPT_HELP,
	OPT_VERSION,
};

static const struct option long_options[] = {
	{ "port", required_argument, NULL, OPT_PORT },
	{ "data-dir", required_argument, NULL, OPT_DATA_DIR },
	{ "project", required_argument, NULL, OPT_PROJECT },
	{ "region", required_argument, NULL, OPT_REGION },
	{ "implementations", required_argument, NULL, OPT_IMPLEMENTATIONS },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "startup-timeout", required_argument, NULL, OPT_STARTUP_TIMEOUT },
	{ "metrics-lag", required_argument, NULL, OPT_METRICS_LAG },
	{ "token-lifetime", required_argument, NULL, OPT_TOKEN_LIFETIME },
	{ "plain-http", no_argument, NULL, OPT_PLAIN_HTTP },
	{ "invoker-iam", no_argument, NULL, OPT_INVOKER_IAM },
	{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
	{ "debug", no_argument, NULL, OPT_DEBUG },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* Settings as text, from the environment and then the command line. */
struct settings {
	const char	*port;
	const char	*idle_timeout;
	const char	*startup_timeout;
	const char	*metrics_lag;
	const char	*token_lifetime;
	const char	*log_format;
};

/* Fills lc and s from the environment, then from argv (which wins).
 * Returns 0, 1 for an early successful exit (--help, --version), or -1. */
static int
settings_parse(struct lc *lc, struct settings *s, int argc, char **argv)
{
	const char *v;
	int ch;

	s->port = getenv("LOCALCLOUD_PORT");
	s->idle_timeout = getenv("LOCALCLOUD_IDLE_TIMEOUT");
	s->startup_timeout = getenv("LOCALCLOUD_STARTUP_TIMEOUT");
	s->metrics_lag = getenv("LOCALCLOUD_METRICS_LAG");
	s->token_lifetime = getenv("LOCALCLOUD_TOKEN_LIFETIME");
	s->log_format = getenv("LOCALCLOUD_LOG_FORMAT");
	lc->data_dir = (v = getenv("LOCALCLOUD_DATA_DIR")) ? v :
	    LC_DEFAULT_DATA_DIR;
	lc->project = (v = getenv("LOCALCLOUD_PROJECT")) ? v :
	    LC_DEFAULT_PROJECT;
	lc->region = (v = getenv("LOCALCLOUD_REGION")) ? v :
	    LC_DEFAULT_REGION;
	lc->implementations = (v = getenv("LOCALCLOUD_IMPLEMENTATIONS")) ? v :
	    LC_DEFAULT_IMPLEMENTATIONS;
	lc->tls = !env_flag("LOCALCLOUD_PLAIN_HTTP");
	lc->invoker_iam = env_flag("LOCALCLOUD_INVOKER_IAM");
	lc->debug = env_flag("LOCALCLOUD_DEBUG");

	while ((ch = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (ch) {
		case OPT_PORT:
			s->port = optarg;
			break;
		case OPT_DATA_DIR:
			lc->data_dir = optarg;
			break;
		case OPT_PROJECT:
			lc->project = optarg;
			break;
		case OPT_REGION:
			lc->region = optarg;
			break;
		case OPT_IMPLEMENTATIONS:
			lc->implementations = optarg;
			break;
		case OPT_IDLE_TIMEOUT:
			s->idle_timeout = optarg;
			break;
		case OPT_STARTUP_TIMEOUT:
			s->startup_timeout = optarg;
			break;
		case OPT_METRICS_LAG:
			s->metrics_lag = optarg;
			break;
		case OPT_TOKEN_LIFETIME:
			s->token_lifetime = optarg;
			break;
		case OPT_PLAIN_HTTP:
			lc->tls = 0;
			break;
		case OPT_INVOKER_IAM:
			lc->invoker_iam = 1;
			break;
		case OPT_LOG_FORMAT:
			s->log_format = optarg;
			break;
		case OPT_DEBUG:
			lc->debug = 1;
			break;
		case OPT_HELP:
			usage(stdout);
			return 1;
		case OPT_VERSION:
			printf("localcloud %s\n", PACKAGE_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "localcloud: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Converts the text settings to numbers, naming the bad one. */
static int
settings_check(struct lc *lc, const struct settings *s)
{
	unsigned long v;

	v = LC_DEFAULT_PORT;
	if (s->port != NULL && parse_uint(s->port, 0, 65535, &v) == -1) {
		log_warnx("invalid port '%s': expected 0 to 65535", s->port);
		return -1;
	}
	lc->port = (uint16_t)v;
	v = LC_DEFAULT_IDLE_TIMEOUT;
	if (s->idle_timeout != NULL &&
	    parse_uint(s->idle_timeout, 1, 86400, &v) == -1) {
		log_warnx("invalid idle timeout '%s': expected 1 to 86400 "
		    "seconds", s->idle_timeout);
		return -1;
	}
	lc->idle_timeout = (unsigned int)v;
	v = LC_DEFAULT_STARTUP_TIMEOUT;
	if (s->startup_timeout != NULL &&
	    parse_uint(s->startup_timeout, 1, 3600, &v) == -1) {
		log_warnx("invalid startup timeout '%s': expected 1 to 3600 "
		    "seconds", s->startup_timeout);
		return -1;
	}
	lc->startup_timeout = (unsigned int)v;
	v = 0;
	if (s->metrics_lag != NULL &&
	    parse_uint(s->metrics_lag, 0, 3600, &v) == -1) {
		log_warnx("invalid metrics lag '%s': expected 0 to 3600 "
		    "seconds", s->metrics_lag);
		return -1;
	}
	lc->metrics_lag = (unsigned int)v;
	v = TOKENS_LIFETIME;
	if (s->token_lifetime != NULL &&
	    parse_uint(s->token_lifetime, 60, 86400, &v) == -1) {
		log_warnx("invalid token lifetime '%s': expected 60 to 86400 "
		    "seconds", s->token_lifetime);
		return -1;
	}
	lc->token_lifetime = (unsigned int)v;
	if (*lc->project == '\0' || *lc->region == '\0' ||
	    *lc->data_dir == '\0') {
		log_warnx("the project, region and data dir must not be empty");
		return -1;
	}
	return 0;
}

/* Creates dir and its missing parents with mode 0700. */
static int
mkdir_parents(const char *dir)
{
	char path[LC_PATH_MAX];
	size_t i, len = strlen(dir);

	if (len == 0 || len >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			return -1;
		path[i] = i < len ? '/' : '\0';
	}
	return 0;
}

/* Binds the API socket on 127.0.0.1 and hands it to evhttp. */
static int
api_listen(struct lc *lc)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	evutil_socket_t fd;
	int one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1) {
		log_warn("socket");
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		log_warn("SO_REUSEADDR on the API socket");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(lc->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		log_warn("cannot listen on %s:%u", lc->listen_addr, lc->port);
		goto fail;
	}
	if (listen(fd, LC_LISTEN_BACKLOG) == -1) {
		log_warn("listen on %s:%u", lc->listen_addr, lc->port);
		goto fail;
	}
	if (getsockname(fd, (struct sockaddr *)&sin, &slen) == -1) {
		log_warn("getsockname");
		goto fail;
	}
	lc->port = ntohs(sin.sin_port);
	if (evhttp_accept_socket(lc->http, fd) == -1) {
		log_warnx("evhttp cannot accept on the API socket");
		goto fail;
	}
	snprintf(lc->api_url, sizeof(lc->api_url), "http://%s:%u",
	    lc->listen_addr, lc->port);
	return 0;

fail:
	close(fd);
	return -1;
}

/* Sends each request to the first module that claims its path. */
static void
dispatch(struct evhttp_request *req, void *arg)
{
	struct lc *lc = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *raw, *query;
	char *path;
	size_t len;
	int i;

	raw = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (raw == NULL || *raw == '\0')
		raw = "/";
	query = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	if ((path = evhttp_uridecode(raw, 0, &len)) == NULL) {
		lc_reply_google_error(req, 500, "INTERNAL",
		    "Out of memory decoding the request path.");
		return;
	}
	if (strlen(path) != len) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "The request path contains a NUL byte.");
		free(path);
		return;
	}
	/* Query values are read as C strings, which a NUL would cut short:
	 * "serviceId=a%00b" would name service "a". */
	if (query != NULL && strstr(query, "%00") != NULL) {
		lc_reply_google_error(req, 400, "INVALID_ARGUMENT",
		    "The query string contains an encoded NUL byte (%%00).");
		free(path);
		return;
	}
	log_debug("%s %s", lc_method_name(evhttp_request_get_command(req)),
	    evhttp_request_get_uri(req));

	for (i = 0; lc_modules[i] != NULL; i++)
		if (lc_modules[i]->route(lc, req, path, query))
			break;
	if (lc_modules[i] == NULL)
		lc_reply_google_error(req, 404, "NOT_FOUND",
		    "The requested URL %s was not found on this server.", raw);
	free(path);
}

static void
on_signal(evutil_socket_t sig, short events, void *arg)
{
	struct lc *lc = arg;

	log_info("received signal %d, stopping", (int)sig);
	event_base_loopexit(lc->base, NULL);
}

int
main(int argc, char **argv)
{
	struct lc lc;
	struct settings s;
	struct event *ev_term = NULL, *ev_int = NULL;
	enum log_format format = LOG_FORMAT_AUTO;
	int i, n = 0, rc, status = 1;

	memset(&lc, 0, sizeof(lc));
	memset(&s, 0, sizeof(s));
	lc.listen_addr = "127.0.0.1";
	log_init("localcloud", LOG_FORMAT_AUTO, 0);
	if ((rc = settings_parse(&lc, &s, argc, argv)) != 0)
		return rc == 1 ? 0 : 2;
	if (s.log_format != NULL &&
	    log_format_parse(s.log_format, &format) == -1) {
		fprintf(stderr, "localcloud: invalid log format '%s': "
		    "expected auto, json or text\n", s.log_format);
		return 2;
	}
	log_init("localcloud", format, lc.debug);
	if (settings_check(&lc, &s) == -1)
		return 2;

	/* Writes to a closed connection must fail, not kill the process. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		fatal("signal SIGPIPE");
	if (mkdir_parents(lc.data_dir) == -1)
		fatal("cannot create the data dir %s", lc.data_dir);
	if (snprintf(lc.ca_cert_path, sizeof(lc.ca_cert_path), "%s/ca.pem",
	    lc.data_dir) >= (int)sizeof(lc.ca_cert_path) ||
	    snprintf(lc.ca_key_path, sizeof(lc.ca_key_path), "%s/ca-key.pem",
	    lc.data_dir) >= (int)sizeof(lc.ca_key_path))
		fatalx("the data dir path is too long: %s", lc.data_dir);

	if ((lc.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	if ((lc.http = evhttp_new(lc.base)) == NULL)
		fatalx("evhttp_new failed");
	evhttp_set_allowed_methods(lc.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_max_body_size(lc.http, LC_HTTP_BODY_MAX);
	evhttp_set_max_headers_size(lc.http, LC_HTTP_HEADERS_MAX);
	evhttp_set_timeout(lc.http, LC_HTTP_TIMEOUT_S);
	evhttp_set_gencb(lc.http, dispatch, &lc);
	if (api_listen(&lc) == -1)
		goto out;

	for (n = 0; lc_modules[n] != NULL; n++) {
		if (lc_modules[n]->init(&lc) == -1) {
			log_warnx("the %s module failed to start",
			    lc_modules[n]->name);
			goto out;
		}
	}

	ev_term = evsignal_new(lc.base, SIGTERM, on_signal, &lc);
	ev_int = evsignal_new(lc.base, SIGINT, on_signal, &lc);
	if (ev_term == NULL || ev_int == NULL ||
	    evsignal_add(ev_term, NULL) == -1 ||
	    evsignal_add(ev_int, NULL) == -1)
		fatalx("cannot install the SIGTERM and SIGINT handlers");

	log_info("listening on %s (data dir %s, project %s, region %s, "
	    "service URLs %s, invoker IAM %s)", lc.api_url, lc.data_dir,
	    lc.project, lc.region, lc.tls ? "https" : "http",
	    lc.invoker_iam ? "enforced" : "not enforced");
	if (event_base_dispatch(lc.base) == -1)
		log_warnx("the event loop failed");
	else
		status = 0;

out:
	/* Only the modules whose init succeeded are shut down, newest first. */
	for (i = n - 1; i >= 0; i--)
		lc_modules[i]->shutdown(&lc);
	if (ev_term != NULL)
		event_free(ev_term);
	if (ev_int != NULL)
		event_free(ev_int);
	evhttp_free(lc.http);
	event_base_free(lc.base);
	log_info("stopped");
	return status;
}

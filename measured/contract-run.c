/*
 * perf-agent-contract: runs the contract test vectors of a service type
 * against one running service and prints the report as JSON. Used by the
 * tests, and by hand to check an implementation before it is benchmarked.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "contract.h"
#include "log.h"
#include "servicetype.h"
#include "vectors.h"

#define EXIT_FAILED_VECTORS	1
#define EXIT_USAGE		2

struct options {
	const char	*type;
	const char	*vectors;
	const char	*url;
	const char	*cafile;
	const char	*secret_file;
	const char	*public_key_out;
	const char	*env_out;
	const char	*token_file;
	long		 timeout_ms;
	int		 debug;
};

static void
usage(FILE *out)
{
	char types[256];

	servicetype_list(types, sizeof(types));
	fprintf(out,
"usage: perf-agent-contract --type TYPE [--vectors DIR --url URL] [options]\n"
"\n"
"Runs the contract test vectors of a service type against one running\n"
"service, signing each request as it is sent, and prints the report as\n"
"JSON on standard output.\n"
"\n"
"  --type TYPE            service type: %s\n"
"  --vectors DIR          folder of *.json test vectors\n"
"  --url URL              base URL of the service, http:// or https://\n"
"  --cafile FILE          PEM CA bundle to verify an https service with\n"
"  --timeout-ms MS        timeout of each request in milliseconds\n"
"                         (default %d, at most %d)\n"
"  --token-file FILE      send the ID token in FILE as Authorization: Bearer,\n"
"                         for a private Cloud Run service (for example from\n"
"                         gcloud auth print-identity-token)\n"
"  --secret-file FILE     take the per-run secret from FILE, as hex, instead\n"
"                         of generating a new one; for discord-webhook the\n"
"                         32-byte Ed25519 seed as 64 hex characters. For\n"
"                         tests only, since it keeps a secret key in a file.\n"
"  --public-key-out FILE  write DISCORD_PUBLIC_KEY (64 hex characters and a\n"
"                         newline) to FILE\n"
"  --env-out FILE         write the environment the service needs to FILE,\n"
"                         one NAME=VALUE line each\n"
"  -d, --debug            log debug messages\n"
"  -h, --help             print this help\n"
"\n"
"Without --url it only writes the files of --public-key-out and --env-out,\n"
"so that a test can start the service with the key before the run; give\n"
"the same --secret-file to both calls.\n"
"\n"
"Exit status: 0 when every counted vector passed, 1 when one failed, 2 on\n"
"a usage error or a vector folder that does not load.\n",
	    types, CONTRACT_TIMEOUT_MS_DEFAULT, CONTRACT_TIMEOUT_MS_MAX);
}

static int
parse_timeout(const char *s, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || n < 1 ||
	    n > CONTRACT_TIMEOUT_MS_MAX)
		return -1;
	*out = n;
	return 0;
}

static int
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "type",		required_argument, NULL, 't' },
		{ "vectors",		required_argument, NULL, 'v' },
		{ "url",		required_argument, NULL, 'u' },
		{ "cafile",		required_argument, NULL, 'c' },
		{ "timeout-ms",		required_argument, NULL, 'T' },
		{ "secret-file",	required_argument, NULL, 's' },
		{ "public-key-out",	required_argument, NULL, 'p' },
		{ "env-out",		required_argument, NULL, 'e' },
		{ "token-file",		required_argument, NULL, 'k' },
		{ "debug",		no_argument,	   NULL, 'd' },
		{ "help",		no_argument,	   NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "dh", longopts, NULL)) != -1) {
		switch (ch) {
		case 't': o->type = optarg; break;
		case 'v': o->vectors = optarg; break;
		case 'u': o->url = optarg; break;
		case 'c': o->cafile = optarg; break;
		case 's': o->secret_file = optarg; break;
		case 'p': o->public_key_out = optarg; break;
		case 'e': o->env_out = optarg; break;
		case 'k': o->token_file = optarg; break;
		case 'd': o->debug = 1; break;
		case 'T':
			if (parse_timeout(optarg, &o->timeout_ms) == -1) {
				fprintf(stderr, "perf-agent-contract: invalid "
				    "--timeout-ms %s: must be 1-%d\n", optarg,
				    CONTRACT_TIMEOUT_MS_MAX);
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc || o->type == NULL) {
		usage(stderr);
		return -1;
	}
	if ((o->url == NULL) != (o->vectors == NULL)) {
		fprintf(stderr, "perf-agent-contract: --url and --vectors go "
		    "together\n");
		return -1;
	}
	if (o->url == NULL && o->public_key_out == NULL && o->env_out == NULL) {
		fprintf(stderr, "perf-agent-contract: nothing to do: give "
		    "--url and --vectors, --public-key-out or --env-out\n");
		return -1;
	}
	return 0;
}

/*
 * Reads the hex secret of path into secret (exactly len bytes). The
 * buffers that held it are wiped before returning.
 */
static int
read_secret(const char *path, unsigned char *secret, size_t len)
{
	char hex[2 * SERVICETYPE_SECRET_MAX + 3];
	size_t used = 0, bin_len = 0;
	ssize_t n;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("secret file %s", path);
		return -1;
	}
	while (used < sizeof(hex) - 1) {
		n = read(fd, hex + used, sizeof(hex) - 1 - used);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		used += (size_t)n;
	}
	close(fd);
	while (used > 0 && (hex[used - 1] == '\n' || hex[used - 1] == '\r' ||
	    hex[used - 1] == ' '))
		used--;
	hex[used] = '\0';
	if (used != 2 * len || sodium_hex2bin(secret, len, hex, used, NULL,
	    &bin_len, NULL) != 0 || bin_len != len)
		log_warnx("invalid secret file %s: expected %zu hex "
		    "characters", path, 2 * len);
	else
		rc = 0;
	sodium_memzero(hex, sizeof(hex));
	return rc;
}

/* Writes the service environment to the files the options name. */
static int
write_env_files(const struct options *o, json_t *env)
{
	const char *name;
	json_t *value, *key;
	FILE *f;

	if (o->public_key_out != NULL) {
		key = json_object_get(env, "DISCORD_PUBLIC_KEY");
		if (!json_is_string(key)) {
			log_warnx("service type %s has no public key", o->type);
			return -1;
		}
		if ((f = fopen(o->public_key_out, "w")) == NULL) {
			log_warn("%s", o->public_key_out);
			return -1;
		}
		fprintf(f, "%s\n", json_string_value(key));
		if (fclose(f) == EOF) {
			log_warn("%s", o->public_key_out);
			return -1;
		}
	}
	if (o->env_out != NULL) {
		if ((f = fopen(o->env_out, "w")) == NULL) {
			log_warn("%s", o->env_out);
			return -1;
		}
		json_object_foreach(env, name, value)
			fprintf(f, "%s=%s\n", name, json_string_value(value));
		if (fclose(f) == EOF) {
			log_warn("%s", o->env_out);
			return -1;
		}
	}
	return 0;
}

/* Reads an ID token from path into an "Authorization: Bearer" line. The
 * file holds one line of visible ASCII and may end with a line feed. */
static int
read_token(const char *path, char *line, size_t size)
{
	static const char prefix[] = "Authorization: Bearer ";
	size_t len, i;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		log_warn("--token-file %s", path);
		return -1;
	}
	memcpy(line, prefix, sizeof(prefix) - 1);
	len = fread(line + sizeof(prefix) - 1, 1, size - sizeof(prefix), f);
	if (ferror(f) || !feof(f)) {
		log_warnx("--token-file %s: unreadable or longer than %zu bytes",
		    path, size - sizeof(prefix) - 1);
		fclose(f);
		return -1;
	}
	fclose(f);
	len += sizeof(prefix) - 1;
	while (len > sizeof(prefix) - 1 && (line[len - 1] == '\n' ||
	    line[len - 1] == '\r'))
		len--;
	line[len] = '\0';
	for (i = sizeof(prefix) - 1; i < len; i++)
		if (line[i] <= ' ' || line[i] > '~')
			break;
	if (len == sizeof(prefix) - 1 || i < len) {
		log_warnx("--token-file %s: not one line of visible ASCII; "
		    "write the token alone into the file", path);
		return -1;
	}
	return 0;
}

/* Loads the vectors, runs them, prints the report and returns the exit
 * status. */
static int
run(const struct options *o, const struct servicetype *type, void *state)
{
	struct contract_options copts = { o->url, o->cafile, o->timeout_ms,
	    NULL, NULL };
	char err[VECTORS_ERROR_MAX], auth[8192];
	struct vector_set *set;
	json_t *report;
	int status;

	if (o->token_file != NULL) {
		if (read_token(o->token_file, auth, sizeof(auth)) == -1)
			return EXIT_USAGE;
		copts.extra_header = auth;
	}
	if ((set = vectors_load(o->vectors, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		return EXIT_USAGE;
	}
	log_debug("loaded %zu vectors from %s", set->count, o->vectors);
	if ((report = contract_run(type, state, set, &copts, err,
	    sizeof(err))) == NULL) {
		log_warnx("%s", err);
		vectors_free(set);
		return EXIT_USAGE;
	}
	status = json_integer_value(json_object_get(report, "failed")) == 0 ?
	    0 : EXIT_FAILED_VECTORS;
	if (json_dumpf(report, stdout, JSON_INDENT(2)) == -1 ||
	    fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
		log_warn("writing the report");
		status = EXIT_USAGE;
	}
	json_decref(report);
	vectors_free(set);
	return status;
}

int
main(int argc, char **argv)
{
	struct options o = { .timeout_ms = CONTRACT_TIMEOUT_MS_DEFAULT };
	unsigned char secret[SERVICETYPE_SECRET_MAX];
	const struct servicetype *type;
	char err[VECTORS_ERROR_MAX];
	void *state = NULL;
	json_t *env = NULL;
	int status = EXIT_USAGE;

	if (parse_options(argc, argv, &o) == -1)
		return EXIT_USAGE;
	log_init("perf-agent-contract", LOG_FORMAT_AUTO, o.debug);
	if ((type = servicetype_find(o.type)) == NULL) {
		log_warnx("unknown service type %s", o.type);
		return EXIT_USAGE;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_warnx("libcurl failed to start");
		return EXIT_USAGE;
	}

	if (o.secret_file != NULL) {
		if (type->secret_len == 0 || type->secret_len > sizeof(secret)) {
			log_warnx("service type %s takes no secret", o.type);
			goto done;
		}
		if (read_secret(o.secret_file, secret, type->secret_len) == -1)
			goto done;
	}
	state = type->create(o.secret_file != NULL ? secret : NULL,
	    type->secret_len, err, sizeof(err));
	sodium_memzero(secret, sizeof(secret));
	if (state == NULL) {
		log_warnx("%s", err);
		goto done;
	}
	if ((env = json_object()) == NULL || type->service_env(state, env) ==
	    -1 || write_env_files(&o, env) == -1)
		goto done;
	status = o.url != NULL ? run(&o, type, state) : 0;

done:
	json_decref(env);
	if (state != NULL)
		type->destroy(state);
	curl_global_cleanup();
	return status;
}

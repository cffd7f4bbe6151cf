/*
 * perf-agent-ipc: sends one message, written as JSON, to a worker socket and
 * prints the reply as JSON. For debugging a worker started by hand:
 *
 *	perf-agent-ipc /run/perf-agent/stated.sock '{"type":"ping","body":{}}'
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ipc.h"
#include "proto.h"

/* Default time the worker gets to reply, in milliseconds. */
#define IPC_TOOL_TIMEOUT_MS	30000

static void
usage(FILE *out)
{
	fprintf(out, "Usage: perf-agent-ipc [--timeout MS] SOCKET MESSAGE\n"
	    "Sends MESSAGE, a JSON object {\"type\": NAME, \"body\": {...}}, "
	    "to the worker\nlistening on SOCKET and prints the reply as JSON. "
	    "Exits 0 on an ok reply,\n1 on an error reply and 2 when the call "
	    "fails.\n\n"
	    "  --timeout MS   time the worker gets to reply (default %d)\n",
	    IPC_TOOL_TIMEOUT_MS);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	json_t *message, *body, *result = NULL;
	json_error_t jerr;
	const char *name;
	char err[512], *end;
	uint32_t type;
	long timeout = IPC_TOOL_TIMEOUT_MS;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't':
			timeout = strtol(optarg, &end, 10);
			if (*end != '\0' || end == optarg || timeout < 1 ||
			    timeout > 3600000) {
				fprintf(stderr, "perf-agent-ipc: invalid "
				    "--timeout \"%s\": must be 1 to 3600000 "
				    "ms\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("perf-agent-ipc %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	message = json_loads(argv[optind + 1], 0, &jerr);
	if (message == NULL) {
		fprintf(stderr, "perf-agent-ipc: MESSAGE is not JSON: %s at "
		    "line %d column %d\n", jerr.text, jerr.line, jerr.column);
		return 2;
	}
	name = json_string_value(json_object_get(message, "type"));
	body = json_object_get(message, "body");
	if (name == NULL || (type = proto_type_from_name(name)) == 0) {
		fprintf(stderr, "perf-agent-ipc: MESSAGE needs \"type\" set "
		    "to a message name such as \"ping\"\n");
		json_decref(message);
		return 2;
	}
	if (body != NULL && !json_is_object(body)) {
		fprintf(stderr, "perf-agent-ipc: \"body\" must be an object\n");
		json_decref(message);
		return 2;
	}

	rc = ipc_call_sync(argv[optind], "worker", type, body, (int)timeout,
	    &result, err, sizeof(err));
	json_decref(message);
	if (rc == -1) {
		fprintf(stderr, "perf-agent-ipc: %s\n", err);
		return 2;
	}
	message = json_pack("{s:s, s:o}", "type", rc == 0 ? "ok" : "error",
	    "body", result);
	json_dumpf(message, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(message);
	return rc == 0 ? 0 : 1;
}

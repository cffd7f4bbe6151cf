/* Blocking calls to sibling workers with retries across restarts. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ipc.h"
#include "log.h"
#include "peer.h"
#include "proto.h"
#include "settings.h"

/* First pause between attempts and its cap, in milliseconds. */
#define PEER_BACKOFF_MIN_MS	50
#define PEER_BACKOFF_MAX_MS	2000

static int64_t
peer_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
peer_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1)
		;
}

int
peer_call(const char *name, uint32_t type, json_t *body, int timeout_ms,
    json_t **result, char *err, size_t errlen)
{
	int64_t deadline = peer_now_ms() + PEER_RETRY_MS;
	long backoff = PEER_BACKOFF_MIN_MS;
	char path[256];
	int rc, attempts = 0;

	if (ipc_socket_path(path, sizeof(path), settings_runtime_dir(),
	    name) == -1) {
		snprintf(err, errlen, "%s: socket path too long", name);
		return -1;
	}
	for (;;) {
		attempts++;
		rc = ipc_call_sync(path, name, type, body, timeout_ms, result,
		    err, errlen);
		if (rc != -1)
			return rc;
		if (peer_now_ms() + backoff > deadline)
			break;
		if (attempts == 1)
			log_warnx("%s failed (%s); retrying for up to %d s",
			    proto_type_name(type), err, PEER_RETRY_MS / 1000);
		peer_sleep_ms(backoff);
		backoff = backoff * 2 > PEER_BACKOFF_MAX_MS ?
		    PEER_BACKOFF_MAX_MS : backoff * 2;
	}
	log_warnx("%s to %s failed after %d attempts: %s",
	    proto_type_name(type), name, attempts, err);
	return -1;
}

const char *
peer_error_code(json_t *error_body)
{
	const char *code;

	code = json_string_value(json_object_get(error_body, "code"));
	return code != NULL ? code : "";
}

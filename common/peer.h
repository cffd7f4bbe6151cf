/*
 * Blocking calls from one worker's thread to another worker, which ride out
 * a restart of the peer: a call that cannot reach the peer is retried for a
 * bounded time, because the supervisor brings a dead worker back within
 * seconds. Error replies are not retried.
 */
#ifndef PEER_H
#define PEER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* How long a call keeps trying to reach a restarting peer, in ms. */
#define PEER_RETRY_MS		30000

/*
 * Sends body (borrowed) to the worker called name. Returns 0 with *result
 * set to the reply, 1 with *result set to the error body and err holding
 * "code: message", or -1 when the peer could not be reached in time.
 */
int	peer_call(const char *name, uint32_t type, json_t *body,
	    int timeout_ms, json_t **result, char *err, size_t errlen);
/* Returns the "code" of an error body, or "" when there is none. */
const char *peer_error_code(json_t *error_body);

#endif

/*
 * The contract runner: sends every vector of a set to one deployed service
 * and reports which behaved as the contract requires. It is synchronous (one
 * libcurl easy handle, one request at a time) because it runs on measured's
 * measurement thread between measurements, never on an event loop.
 */
#ifndef CONTRACT_H
#define CONTRACT_H

#include <jansson.h>

#include "servicetype.h"
#include "vectors.h"

#define CONTRACT_TIMEOUT_MS_DEFAULT	10000	/* per request, connect included */
#define CONTRACT_TIMEOUT_MS_MAX		600000
#define CONTRACT_URL_MAX		2048	/* bytes of the base URL */
#define CONTRACT_BODY_MAX		65536	/* response body bytes kept */
#define CONTRACT_HEADERS_MAX		16384	/* response header bytes kept */
#define CONTRACT_EXCERPT_MAX		256	/* body bytes quoted in a report */

struct contract_options {
	const char	*base_url;	/* http:// or https://, path prefix allowed */
	const char	*cafile;	/* PEM bundle for https, NULL: system */
	long		 timeout_ms;	/* per request; 0: the default */
	const char	*extra_header;	/* "Name: value" sent with every
					 * request, e.g. an identity token;
					 * NULL: none */
	const volatile int *stop;	/* non-zero ends the run with an
					 * error; NULL: never */
};

/*
 * Runs every vector of set against opts->base_url, signing with the
 * service type's state, and returns the report:
 *
 *   { "service_type", "url", "vectors", "counted", "passed", "failed",
 *     "optional", "optional_passed", "contract_compliance",
 *     "failures": [...], "optional_failures": [...], "results": [...] }
 *
 * contract_compliance is passed / counted x 100, where counted leaves out
 * the optional vectors. Each failure names the vector with its reason, the
 * expected status, body and headers and the actual ones. A refused
 * connection or a timeout fails that vector only. Returns NULL with err set
 * only when the run cannot start (an invalid URL, no memory, libcurl).
 * The program must have called curl_global_init() before, once, while it
 * had a single thread.
 */
json_t	*contract_run(const struct servicetype *type, void *state,
	    const struct vector_set *set, const struct contract_options *opts,
	    char *err, size_t errlen);

/* Returns 1 when actual contains expected: objects as subsets, recursively;
 * arrays element by element with the same length; other values equal. */
int	 contract_json_contains(json_t *actual, json_t *expected);

#endif

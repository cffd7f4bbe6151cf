/*
 * Validation of Agent API request bodies. Each function parses raw bytes,
 * checks every field (type, range, pattern, unknown fields) and returns a
 * new normalized object with the defaults filled in, or NULL with an
 * api_error naming the field and the rule. The functions do no I/O; the
 * caller enforces the body size limit (413) before calling them.
 *
 * Error codes with status 400: invalid_json, invalid_body, too_deep,
 * string_too_long, unknown_field, missing_field, invalid_type, out_of_range,
 * invalid_value, duplicate_value, invalid_combination, too_many_services,
 * unknown_implementation, implementation_disabled, no_implementations.
 * A failed allocation gives status 500 with code internal.
 *
 * A normalized /deploy request (also what validate_benchmark_to_deploy
 * returns) has every field, defaults included:
 *   {"run_id",
 *    "benchmark_config": {cold_start_iterations, warm_request_count,
 *        warm_request_concurrency, cold_start_strategy ("rounds" or
 *        "replicas"), warm_mode ("closed" or "open"), and with "open"
 *        warm_rate_rps (a real) and warm_duration_s},
 *    "agent_config": {implementations, test_matrix (only the dimensions
 *        the request lists; {} for none)},
 *    "schedule": {measure_delay_seconds (the effective delay),
 *        measure_delay_minutes (the same, rounded down), and under the
 *        rounds strategy round_delay_seconds}}
 */
#ifndef VALIDATE_H
#define VALIDATE_H

#include <stddef.h>

#include <jansson.h>

#include "manifest.h"

/* Nesting levels a body may have; the top-level object is level 1. */
#define VALIDATE_MAX_DEPTH		32
/* Longest string value or object key, in bytes. */
#define VALIDATE_MAX_STRING		4096
/* Services one request may expand to (implementations x cells x
 * replicas); each is a Cloud Run service, and a region holds 1000. */
#define VALIDATE_MAX_SERVICES		200
#define VALIDATE_MAX_IMPLEMENTATIONS	64
/* Values one test_matrix dimension may list. */
#define VALIDATE_MAX_DIMENSION_VALUES	8
#define VALIDATE_RUN_ID_MAX		63

/* Defaults of the fields a request may leave out. */
#define VALIDATE_DEFAULT_DELAY_MINUTES	20
#define VALIDATE_DEFAULT_PROFILE	"default"

struct api_error {
	int	status;		/* HTTP status */
	char	code[32];	/* machine-readable, e.g. "out_of_range" */
	char	field[128];	/* e.g. "benchmark_config.cold_start_iterations" */
	char	message[512];
};

json_t	*validate_deploy(const char *body, size_t len, struct api_error *);
json_t	*validate_measure(const char *body, size_t len, struct api_error *);
json_t	*validate_cleanup(const char *body, size_t len, struct api_error *);
json_t	*validate_benchmark(const char *body, size_t len,
	    struct api_error *);
json_t	*validate_benchmark_to_deploy(const json_t *benchmark,
	    const struct manifest *, struct api_error *);
int	 validate_implementations(const json_t *deploy,
	    const struct manifest *, struct api_error *);
int	 validate_run_id(const char *run_id, struct api_error *);
size_t	 validate_service_count(const json_t *deploy);
char	*validate_canonical_dump(const json_t *normalized);

#endif

/*
 * Fuzzing harness of the Agent API request validation. The input is a
 * request body, given to the /deploy, /measure, /cleanup and /benchmark
 * validators in turn. Every rejection must be a 400 whose field and
 * message are valid UTF-8, because frontd puts them into a JSON error
 * body. A normalized /deploy request must validate again to the same
 * canonical text, and a /benchmark request converted to the /deploy shape
 * must itself be a valid /deploy request.
 */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "frontd/validate.h"
#include "fuzz.h"

/* The manifest of the source tree, loaded on the first input. */
static struct manifest *manifest;

static void
load_manifest(void)
{
	const char *dir = getenv("PERF_AGENT_SRCDIR");
	char path[4096], err[512];

	if (manifest != NULL)
		return;
	snprintf(path, sizeof(path), "%s/manifest.yaml",
	    dir != NULL && dir[0] != '\0' ? dir : ABS_TOP_SRCDIR);
	if ((manifest = manifest_load_file(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_validate: %s\n", err);
		abort();
	}
}

static int
is_utf8(const char *s)
{
	json_t *v = json_string(s);

	json_decref(v);
	return v != NULL;
}

/* Checks a rejection: a 400 with a code, and field and message in UTF-8. */
static void
check_rejection(const struct api_error *err)
{
	FUZZ_CHECK(err->status == 400);
	FUZZ_CHECK(err->code[0] != '\0');
	FUZZ_CHECK(is_utf8(err->field));
	FUZZ_CHECK(is_utf8(err->message));
}

/*
 * Validates the canonical text of a normalized /deploy request again and
 * requires the same canonical text back.
 */
static void
check_deploy_stable(const json_t *deploy)
{
	struct api_error err;
	json_t *again;
	char *text, *text2;

	FUZZ_CHECK(validate_service_count(deploy) <= VALIDATE_MAX_SERVICES);
	text = validate_canonical_dump(deploy);
	FUZZ_CHECK(text != NULL);
	memset(&err, 0, sizeof(err));
	again = validate_deploy(text, strlen(text), &err);
	if (again == NULL)
		fprintf(stderr, "rejected: %s %s: %s\nbody: %s\n", err.code,
		    err.field, err.message, text);
	FUZZ_CHECK(again != NULL);
	text2 = validate_canonical_dump(again);
	FUZZ_CHECK(text2 != NULL);
	FUZZ_CHECK(strcmp(text, text2) == 0);
	free(text2);
	json_decref(again);
	free(text);
}

static void
fuzz_deploy(const char *body, size_t len)
{
	struct api_error err;
	json_t *deploy;

	memset(&err, 0, sizeof(err));
	if ((deploy = validate_deploy(body, len, &err)) == NULL) {
		check_rejection(&err);
		return;
	}
	check_deploy_stable(deploy);
	memset(&err, 0, sizeof(err));
	if (validate_implementations(deploy, manifest, &err) == -1)
		check_rejection(&err);
	json_decref(deploy);
}

/* /measure and /cleanup take a body holding a valid run_id only. */
static void
fuzz_run_only(json_t *(*validate)(const char *, size_t,
    struct api_error *), const char *body, size_t len)
{
	struct api_error err;
	json_t *out;

	memset(&err, 0, sizeof(err));
	if ((out = validate(body, len, &err)) == NULL) {
		check_rejection(&err);
		return;
	}
	FUZZ_CHECK(json_object_size(out) == 1);
	FUZZ_CHECK(json_is_string(json_object_get(out, "run_id")));
	FUZZ_CHECK(validate_run_id(json_string_value(json_object_get(out,
	    "run_id")), &err) == 0);
	json_decref(out);
}

static void
fuzz_benchmark(const char *body, size_t len)
{
	struct api_error err;
	json_t *bench, *deploy;

	memset(&err, 0, sizeof(err));
	if ((bench = validate_benchmark(body, len, &err)) == NULL) {
		check_rejection(&err);
		return;
	}
	memset(&err, 0, sizeof(err));
	deploy = validate_benchmark_to_deploy(bench, manifest, &err);
	if (deploy == NULL)
		check_rejection(&err);
	else {
		check_deploy_stable(deploy);
		memset(&err, 0, sizeof(err));
		FUZZ_CHECK(validate_implementations(deploy, manifest,
		    &err) == 0);
		json_decref(deploy);
	}
	json_decref(bench);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;

	load_manifest();
	fuzz_deploy(body, size);
	fuzz_run_only(validate_measure, body, size);
	fuzz_run_only(validate_cleanup, body, size);
	fuzz_benchmark(body, size);
	return 0;
}

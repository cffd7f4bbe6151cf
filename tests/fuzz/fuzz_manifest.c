/*
 * Fuzzing harness of the registration manifest loader. The input is the
 * YAML text. A rejected manifest must come with a message that names the
 * source. An accepted one is queried the way frontd and deployd query it,
 * and every implementation entry must have the fields the loader checked.
 */
#include "config.h"

#include <string.h>

#include <jansson.h>

#include "common/manifest.h"
#include "fuzz.h"

#define FUZZ_SOURCE	"fuzz.yaml"

static void
check_manifest(const struct manifest *m)
{
	struct manifest_impl impl, found;
	json_t *names, *body;
	size_t i, n, active = 0;

	FUZZ_CHECK(manifest_service_type(m) != NULL);
	n = manifest_impl_count(m);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(manifest_impl_at(m, i, &impl) == 0);
		FUZZ_CHECK(impl.name != NULL && impl.status != NULL);
		FUZZ_CHECK(strlen(impl.name) <= MANIFEST_NAME_MAX);
		FUZZ_CHECK(manifest_impl_find(m, impl.name, &found) == 0);
		FUZZ_CHECK(found.name == impl.name);
		if (impl.active)
			active++;
	}
	FUZZ_CHECK(manifest_impl_at(m, n, &impl) == -1);

	names = manifest_active_names(m);
	FUZZ_CHECK(names != NULL && json_array_size(names) == active);
	json_decref(names);
	body = manifest_implementations_response(m, NULL);
	FUZZ_CHECK(body != NULL);
	FUZZ_CHECK(json_array_size(json_object_get(body,
	    "implementations")) == n);
	json_decref(body);
	FUZZ_CHECK(manifest_line(m, "") >= 1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest *m;
	char err[512];

	m = manifest_load_buffer(FUZZ_SOURCE, (const char *)data, size, err,
	    sizeof(err));
	if (m == NULL) {
		FUZZ_CHECK(strncmp(err, FUZZ_SOURCE ":",
		    strlen(FUZZ_SOURCE ":")) == 0);
		return 0;
	}
	check_manifest(m);
	manifest_free(m);
	return 0;
}

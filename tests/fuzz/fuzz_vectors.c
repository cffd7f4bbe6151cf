/*
 * Fuzzing harness of the contract test-vector loader. The input is the
 * text of one vector file. A loaded vector must have every required field
 * within its limits. A rejected one must leave the vector empty, and its
 * message must name the file.
 */
#include "config.h"

#include <string.h>

#include "measured/vectors.h"
#include "fuzz.h"

#define FUZZ_PATH	"fuzz/vector.json"

static void
check_headers(const struct vector_header *h, size_t n)
{
	size_t i;

	FUZZ_CHECK(n == 0 || h != NULL);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(h[i].name != NULL && h[i].name[0] != '\0');
		FUZZ_CHECK(h[i].value != NULL);
	}
}

static void
check_vector(const struct vector *v)
{
	const struct vector_request *r = &v->request;
	const struct vector_expect *e = &v->expect;
	size_t i;

	FUZZ_CHECK(v->file != NULL && strcmp(v->file, FUZZ_PATH) == 0);
	FUZZ_CHECK(v->name != NULL && v->name[0] != '\0');
	FUZZ_CHECK(strlen(v->name) < VECTORS_NAME_MAX);
	FUZZ_CHECK(v->description != NULL);
	FUZZ_CHECK(strlen(v->description) < VECTORS_DESCRIPTION_MAX);
	FUZZ_CHECK(r->method != NULL && r->method[0] != '\0');
	FUZZ_CHECK(r->path != NULL && r->path[0] == '/');
	FUZZ_CHECK(r->body != NULL);
	check_headers(r->headers, r->nheaders);
	FUZZ_CHECK(strcmp(vectors_sign_mode_name(r->sign.mode),
	    "unknown") != 0);
	FUZZ_CHECK(e->nstatus >= 1 && e->nstatus <= VECTORS_STATUS_MAX);
	for (i = 0; i < e->nstatus; i++)
		FUZZ_CHECK(e->status[i] >= 100 && e->status[i] <= 599);
	switch (e->body_match) {
	case VECTOR_BODY_ANY:
		FUZZ_CHECK(e->body == NULL && e->json == NULL);
		break;
	case VECTOR_BODY_EXACT:
		FUZZ_CHECK(e->body != NULL && e->json == NULL);
		break;
	case VECTOR_BODY_JSON_SUBSET:
	case VECTOR_BODY_JSON_SUBSET_ANY:
		FUZZ_CHECK(e->body == NULL && e->json != NULL);
		break;
	}
	check_headers(e->headers, e->nheaders);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct vector empty;
	struct vector v;
	char err[VECTORS_ERROR_MAX];

	err[0] = '\0';
	if (vectors_load_buffer(FUZZ_PATH, (const char *)data, size, &v, err,
	    sizeof(err)) == 0) {
		check_vector(&v);
		vectors_clear(&v);
	} else {
		FUZZ_CHECK(strncmp(err, "vectors: " FUZZ_PATH ": ",
		    strlen("vectors: " FUZZ_PATH ": ")) == 0);
		FUZZ_CHECK(memcmp(&v, &empty, sizeof(v)) == 0);
	}
	return 0;
}

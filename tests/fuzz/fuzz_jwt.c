/*
 * Fuzzing harness of the JSON Web Token parser and verifier. The input is
 * a compact token, checked by jwt_verify_token against a fixed JWKS and
 * policy, and also taken apart with jwt_parse, jwt_verify and
 * jwt_check_claims, which must agree with jwt_verify_token. An input of
 * three newline-separated parts is also encoded into a token, and an input
 * that is a JSON object also goes to jwt_check_claims directly, because
 * the fuzzer rarely turns raw bytes into base64url of valid JSON.
 *
 * The key pair was made once with Python's cryptography package; its
 * private half signed the tokens of corpus/jwt and was then discarded.
 */
#include "config.h"

#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "common/jwt.h"
#include "fuzz.h"

/* The public key of the corpus tokens, RSA 2048, kid "fuzz-key-1". */
static const char jwks_text[] =
    "{\"keys\": [{\"kty\": \"RSA\", \"kid\": \"fuzz-key-1\", \"use\": \"sig\","
    " \"alg\": \"RS256\", \"e\": \"AQAB\", \"n\": \""
    "qPg1EubF08Urwek02V01HdcHP4mu7bZkBjq4dRzXs0SJnhcwcEKxlvIB"
    "fJ2z9bBxG0310PvbMSWGF81DlzvwN8V9fKvOTsPFG0hr-Z5uyw8n-sLw"
    "7KCZuZBpTf6dzqngww2qEocH_a1e980LvHWGww_TgGmbarQgk5G4X1SF"
    "8bw9AhVHy-miHeLfAjlzWF9t_xWB2Vidm04oQ24Cyozm1A4u5UZSkA_u"
    "jH6QzMROfGMZu8uXBDyo_jt9M4W8x0gNcSmV4Ua9u8Yb6xswAtu9cNrr"
    "ikd2bi9HSLKAh0NxSr-lcqoHNSl9Zx_cb6wyy2OC5dAkLd1gMSjOnC8i"
    "hq_MNw"
    "\"}]}";

static const char *const issuers[] = {
	"https://accounts.google.com", "accounts.google.com"
};

/* 2026-01-01T00:00:00Z, the time the corpus tokens are valid at. */
#define FUZZ_NOW	1767225600
/* Clock skew allowed, in seconds, as frontd allows. */
#define FUZZ_SKEW	10

#define B64URL	sodium_base64_VARIANT_URLSAFE_NO_PADDING

static json_t *jwks;

static void
load_jwks(void)
{
	json_error_t jerr;

	if (jwks != NULL)
		return;
	if ((jwks = json_loads(jwks_text, 0, &jerr)) == NULL) {
		fprintf(stderr, "fuzz_jwt: JWKS: %s\n", jerr.text);
		abort();
	}
}

/* Checks a status is one of the enum, with its own message. */
static void
check_status(enum jwt_status st)
{
	FUZZ_CHECK((unsigned int)st <= JWT_ERR_INTERNAL);
	FUZZ_CHECK(strcmp(jwt_strerror(st), "unknown error") != 0);
}

/* Verifies a token in one call and step by step, and compares. */
static void
check_token(const char *token, size_t size, const struct jwt_policy *policy)
{
	enum jwt_status st, parsed, verified, checked;
	json_t *claims = NULL;
	struct jwt jwt;

	st = jwt_verify_token(token, size, jwks, policy, &claims);
	check_status(st);
	FUZZ_CHECK((st == JWT_OK) == json_is_object(claims));
	FUZZ_CHECK(st == JWT_OK || claims == NULL);
	json_decref(claims);

	/* The same steps one by one must reach the same verdict. */
	parsed = jwt_parse(token, size, &jwt);
	check_status(parsed);
	if (parsed != JWT_OK) {
		FUZZ_CHECK(st == parsed);
		FUZZ_CHECK(jwt.header == NULL && jwt.claims == NULL &&
		    jwt.signing_input == NULL && jwt.signature == NULL);
	} else {
		FUZZ_CHECK(json_is_object(jwt.header));
		FUZZ_CHECK(json_is_object(jwt.claims));
		FUZZ_CHECK(jwt.signing_input_len < size);
		FUZZ_CHECK(memcmp(jwt.signing_input, token,
		    jwt.signing_input_len) == 0);
		verified = jwt_verify(&jwt, jwks);
		checked = jwt_check_claims(jwt.claims, policy);
		check_status(verified);
		check_status(checked);
		FUZZ_CHECK(st == (verified != JWT_OK ? verified : checked));
		jwt_clear(&jwt);
	}
}

/*
 * Builds a compact token from an input of three parts separated by the
 * first two newlines (header JSON, claims JSON, raw signature), so that
 * the mutations reach the JSON without breaking its base64url form.
 * Returns NULL for an input with fewer than two newlines.
 */
static char *
encode_parts(const uint8_t *data, size_t size, size_t *len)
{
	const uint8_t *part = data, *end = data + size, *nl;
	size_t n, max, used = 0;
	char *token;
	int i;

	max = 3 * sodium_base64_ENCODED_LEN(size, B64URL) + 3;
	if ((token = malloc(max)) == NULL)
		return NULL;
	for (i = 0; i < 3; i++) {
		nl = i < 2 ? memchr(part, '\n', (size_t)(end - part)) : end;
		if (nl == NULL) {
			free(token);
			return NULL;
		}
		n = (size_t)(nl - part);
		sodium_bin2base64(token + used, max - used, part, n, B64URL);
		used += strlen(token + used);
		if (i < 2)
			token[used++] = '.';
		part = nl + (i < 2);
	}
	*len = used;
	return token;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *token = (const char *)data;
	struct jwt_policy policy;
	char *encoded;
	size_t len;
	json_t *obj;

	load_jwks();
	memset(&policy, 0, sizeof(policy));
	policy.issuers = issuers;
	policy.issuer_count = sizeof(issuers) / sizeof(issuers[0]);
	policy.audience = "https://agent.example.invalid";
	policy.skew = FUZZ_SKEW;
	policy.now = FUZZ_NOW;

	check_token(token, size, &policy);
	if ((encoded = encode_parts(data, size, &len)) != NULL) {
		check_token(encoded, len, &policy);
		free(encoded);
	}

	obj = json_loadb(token, size, JSON_REJECT_DUPLICATES, NULL);
	if (json_is_object(obj))
		check_status(jwt_check_claims(obj, &policy));
	json_decref(obj);
	return 0;
}

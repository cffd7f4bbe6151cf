/* Unit tests of common/jwt: RS256 signing, parsing, JWKS verification. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "jwt.h"

#define KID		"test-key-1"
#define ISSUER		"https://accounts.google.com"
#define AUDIENCE	"http://127.0.0.1:8080"
#define NOW		1700000000

/* Two RSA keys, generated once: the signer and an impostor. */
static EVP_PKEY *key_a;
static EVP_PKEY *key_b;

static int
setup_keys(void **state)
{
	key_a = EVP_RSA_gen(2048);
	key_b = EVP_RSA_gen(2048);
	return key_a != NULL && key_b != NULL ? 0 : -1;
}

static int
teardown_keys(void **state)
{
	EVP_PKEY_free(key_b);
	EVP_PKEY_free(key_a);
	return 0;
}

static json_t *
make_claims(json_int_t iat, json_int_t exp)
{
	json_t *claims = json_pack("{s:s, s:s, s:s, s:s, s:b, s:I, s:I}",
	    "iss", ISSUER, "aud", AUDIENCE, "sub", "1234567890",
	    "email", "perf-agent@local-project.iam.gserviceaccount.com",
	    "email_verified", 1, "iat", iat, "exp", exp);

	assert_non_null(claims);
	return claims;
}

/* Signs standard claims (iat NOW, exp NOW + 3600) with key_a. */
static char *
sign_default(void)
{
	json_t *claims = make_claims(NOW, NOW + 3600);
	char *token = NULL;

	assert_int_equal(jwt_sign_rs256(key_a, KID, claims, &token), JWT_OK);
	json_decref(claims);
	return token;
}

static const struct jwt_policy default_policy = {
	.issuers = (const char *const[]){ "accounts.google.com", ISSUER },
	.issuer_count = 2,
	.audience = AUDIENCE,
	.skew = 10,
	.now = NOW,
};

/* Parses and verifies token against jwks, returning the first failure. */
static enum jwt_status
parse_and_verify(const char *token, const json_t *jwks)
{
	struct jwt jwt;
	enum jwt_status st;

	if ((st = jwt_parse(token, strlen(token), &jwt)) != JWT_OK)
		return st;
	st = jwt_verify(&jwt, jwks);
	jwt_clear(&jwt);
	return st;
}

static char *
b64url(const void *data, size_t len)
{
	size_t size = sodium_base64_ENCODED_LEN(len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = malloc(size);

	assert_non_null(out);
	sodium_bin2base64(out, size, data, len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

/* Joins two strings with a dot into a new string. */
static char *
join2(const char *a, const char *b)
{
	size_t size = strlen(a) + strlen(b) + 2;
	char *out = malloc(size);

	assert_non_null(out);
	snprintf(out, size, "%s.%s", a, b);
	return out;
}

/* Joins three strings with dots into a new token. */
static char *
join3(const char *a, const char *b, const char *c)
{
	size_t size = strlen(a) + strlen(b) + strlen(c) + 3;
	char *out = malloc(size);

	assert_non_null(out);
	snprintf(out, size, "%s.%s.%s", a, b, c);
	return out;
}

static void
test_round_trip(void **state)
{
	json_t *jwks = jwt_jwks_from_key(key_a, KID);
	char *token = sign_default();
	json_t *claims = NULL;
	struct jwt jwt;

	assert_non_null(jwks);
	assert_int_equal(jwt_parse(token, strlen(token), &jwt), JWT_OK);
	assert_string_equal(json_string_value(json_object_get(jwt.header,
	    "alg")), "RS256");
	assert_string_equal(json_string_value(json_object_get(jwt.header,
	    "kid")), KID);
	assert_int_equal(jwt.signature_len, 256);
	assert_int_equal(jwt_verify(&jwt, jwks), JWT_OK);
	jwt_clear(&jwt);

	assert_int_equal(jwt_verify_token(token, strlen(token), jwks,
	    &default_policy, &claims), JWT_OK);
	assert_non_null(claims);
	assert_string_equal(json_string_value(json_object_get(claims,
	    "email")), "perf-agent@local-project.iam.gserviceaccount.com");
	assert_true(json_is_true(json_object_get(claims, "email_verified")));
	json_decref(claims);
	free(token);
	json_decref(jwks);
}

static void
test_jwks_shape(void **state)
{
	json_t *jwks = jwt_jwks_from_key(key_a, KID);
	json_t *jwk = json_array_get(json_object_get(jwks, "keys"), 0);

	assert_non_null(jwk);
	assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 1);
	assert_string_equal(json_string_value(json_object_get(jwk, "kty")),
	    "RSA");
	assert_string_equal(json_string_value(json_object_get(jwk, "kid")),
	    KID);
	assert_string_equal(json_string_value(json_object_get(jwk, "use")),
	    "sig");
	assert_string_equal(json_string_value(json_object_get(jwk, "alg")),
	    "RS256");
	/* 65537 is 0x010001, which is "AQAB" in base64url. */
	assert_string_equal(json_string_value(json_object_get(jwk, "e")),
	    "AQAB");
	/* A 2048-bit modulus is 256 bytes: 342 base64url characters. */
	assert_int_equal(strlen(json_string_value(json_object_get(jwk, "n"))),
	    342);
	json_decref(jwks);
}

static void
test_wrong_key(void **state)
{
	json_t *jwks = jwt_jwks_from_key(key_b, KID);
	char *token = sign_default();

	assert_int_equal(parse_and_verify(token, jwks), JWT_ERR_SIGNATURE);
	free(token);
	json_decref(jwks);
}

static void
test_unknown_kid(void **state)
{
	json_t *jwks = jwt_jwks_from_key(key_a, "other-kid");
	char *token = sign_default();

	assert_int_equal(parse_and_verify(token, jwks), JWT_ERR_KID);
	free(token);
	json_decref(jwks);
}

static void
test_missing_kid(void **state)
{
	json_t *jwks = jwt_jwks_from_key(key_a, KID);
	const char *header = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	char *token = sign_default();
	char *h64 = b64url(header, strlen(header));
	char *dot = strchr(token, '.');
	char *forged = join2(h64, dot + 1);

	assert_int_equal(parse_and_verify(forged, jwks), JWT_ERR_KID);
	free(forged);
	free(h64);
	free(token);
	json_decref(jwks);
}

static void
test_alg_none(void **state)
{
	json_t *jwks = jwt_jwks_from_key(key_a, KID);
	const char *header = "{\"alg\":\"none\",\"kid\":\"" KID "\"}";
	char *claims_text, *h64, *c64, *token;
	json_t *claims = make_claims(NOW, NOW + 3600);

	claims_text = json_dumps(claims, JSON_COMPACT);
	h64 = b64url(header, strlen(header));
	c64 = b64url(claims_text, strlen(claims_text));
	token = join3(h64, c64, "");
	assert_int_equal(parse_and_verify(token, jwks), JWT_ERR_ALG);
	assert_int_equal(jwt_verify_token(token, strlen(token), jwks,
	    &default_policy, NULL), JWT_ERR_ALG);
	free(token);
	free(c64);
	free(h64);
	free(claims_text);
	json_decref(claims);
	json_decref(jwks);
}

/* The classic confusion attack: HS256 keyed with the public key's PEM. */
static void
test_hs256_with_public_key(void **state)
{
	json_t *jwks = jwt_jwks_from_key(key_a, KID);
	const char *header = "{\"alg\":\"HS256\",\"kid\":\"" KID "\"}";
	json_t *claims = make_claims(NOW, NOW + 3600);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	char *claims_text, *h64, *c64, *input, *s64, *token, *pem;
	BIO *bio = BIO_new(BIO_s_mem());
	long pem_len;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PUBKEY(bio, key_a), 1);
	pem_len = BIO_get_mem_data(bio, &pem);
	claims_text = json_dumps(claims, JSON_COMPACT);
	h64 = b64url(header, strlen(header));
	c64 = b64url(claims_text, strlen(claims_text));
	input = join2(h64, c64);
	assert_non_null(HMAC(EVP_sha256(), pem, (int)pem_len,
	    (const unsigned char *)input, strlen(input), mac, &mac_len));
	s64 = b64url(mac, mac_len);
	token = join3(h64, c64, s64);

	assert_int_equal(parse_and_verify(token, jwks), JWT_ERR_ALG);
	free(token);
	free(s64);
	free(input);
	free(c64);
	free(h64);
	free(claims_text);
	BIO_free(bio);
	json_decref(claims);
	json_decref(jwks);
}

static void
test_crit_header_rejected(void **state)
{
	json_t *jwks = jwt_jwks_from_key(key_a, KID);
	const char *header =
	    "{\"alg\":\"RS256\",\"kid\":\"" KID "\",\"crit\":[\"exp\"]}";
	char *token = sign_default();
	char *h64 = b64url(header, strlen(header));
	char *forged = join2(h64, strchr(token, '.') + 1);

	assert_int_equal(parse_and_verify(forged, jwks), JWT_ERR_ALG);
	free(forged);
	free(h64);
	free(token);
	json_decref(jwks);
}

/* Flips one signature character well inside the part, so the result is
 * still valid base64url but a different signature. */
static void
test_bad_signature(void **state)
{
	json_t *jwks = jwt_jwks_from_key(key_a, KID);
	char *token = sign_default();
	char *sig = strrchr(token, '.') + 1;

	sig[20] = sig[20] == 'A' ? 'B' : 'A';
	assert_int_equal(parse_and_verify(token, jwks), JWT_ERR_SIGNATURE);
	free(token);
	json_decref(jwks);
}

/* Changes the claims of a valid token and keeps its signature. */
static void
test_tampered_claims(void **state)
{
	json_t *jwks = jwt_jwks_from_key(key_a, KID);
	json_t *claims = make_claims(NOW, NOW + 7200);
	char *token = sign_default();
	char *text = json_dumps(claims, JSON_COMPACT);
	char *c64 = b64url(text, strlen(text));
	char *dot1 = strchr(token, '.'), *forged;

	*dot1 = '\0';
	forged = join3(token, c64, strrchr(dot1 + 1, '.') + 1);
	assert_int_equal(parse_and_verify(forged, jwks), JWT_ERR_SIGNATURE);
	free(forged);
	free(c64);
	free(text);
	free(token);
	json_decref(claims);
	json_decref(jwks);
}

/* Re-encodes the signature without its last byte: valid base64url, but
 * shorter than the modulus. */
static void
test_truncated_signature(void **state)
{
	json_t *jwks = jwt_jwks_from_key(key_a, KID);
	char *token = sign_default();
	char *dot2 = strrchr(token, '.');
	unsigned char sig[512];
	size_t sig_len = 0;
	char *s64, *forged;

	assert_int_equal(sodium_base642bin(sig, sizeof(sig), dot2 + 1,
	    strlen(dot2 + 1), NULL, &sig_len, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	assert_int_equal(sig_len, 256);
	s64 = b64url(sig, sig_len - 1);
	*dot2 = '\0';
	forged = join2(token, s64);
	assert_int_equal(parse_and_verify(forged, jwks), JWT_ERR_SIGNATURE);
	free(forged);
	free(s64);
	free(token);
	json_decref(jwks);
}

/* A table of malformed tokens and the status jwt_parse must return. The
 * JSON parts are "{}" = e30, "[1]" = WzFd, {"a":1,"a":2} below. */
static void
test_malformed(void **state)
{
	static const struct {
		const char	*name;
		const char	*token;
		enum jwt_status	 expected;
	} cases[] = {
		{ "empty", "", JWT_ERR_SIZE },
		{ "one part", "e30", JWT_ERR_FORMAT },
		{ "two parts", "e30.e30", JWT_ERR_FORMAT },
		{ "four parts", "e30.e30.AAAA.AAAA", JWT_ERR_FORMAT },
		{ "only dots", "..", JWT_ERR_FORMAT },
		{ "empty header", ".e30.AAAA", JWT_ERR_FORMAT },
		{ "empty claims", "e30..AAAA", JWT_ERR_FORMAT },
		{ "padding", "e30=.e30.AAAA", JWT_ERR_BASE64 },
		{ "standard alphabet", "e30.e30.AA+/", JWT_ERR_BASE64 },
		{ "bad character", "e3*.e30.AAAA", JWT_ERR_BASE64 },
		{ "space", "e30 .e30.AAAA", JWT_ERR_BASE64 },
		{ "impossible length", "e30.e30.A", JWT_ERR_BASE64 },
		{ "non-zero trailing bits", "e31.e30.AAAA", JWT_ERR_BASE64 },
		{ "header is array", "WzFd.e30.AAAA", JWT_ERR_JSON },
		{ "claims is array", "e30.WzFd.AAAA", JWT_ERR_JSON },
		{ "header not JSON", "YWJj.e30.AAAA", JWT_ERR_JSON },
		{ "duplicate claim", "e30.eyJhIjoxLCJhIjoyfQ.AAAA",
		    JWT_ERR_JSON },
	};
	struct jwt jwt;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum jwt_status st = jwt_parse(cases[i].token,
		    strlen(cases[i].token), &jwt);

		if (st != cases[i].expected)
			fail_msg("case \"%s\": got \"%s\", expected \"%s\"",
			    cases[i].name, jwt_strerror(st),
			    jwt_strerror(cases[i].expected));
		assert_null(jwt.header);
		assert_null(jwt.claims);
	}
}

static void
test_embedded_nul(void **state)
{
	static const char token[] = "e30.e30\0.AAAA";
	struct jwt jwt;

	assert_int_equal(jwt_parse(token, sizeof(token) - 1, &jwt),
	    JWT_ERR_FORMAT);
}

static void
test_oversize(void **state)
{
	size_t len = JWT_MAX_TOKEN_LEN + 1;
	char *token = malloc(len + 1);
	struct jwt jwt;

	/* A well-formed shape, so only the size can fail it. */
	assert_non_null(token);
	memset(token, 'A', len);
	memcpy(token, "e30.e30.", 8);
	token[len] = '\0';
	assert_int_equal(jwt_parse(token, len, &jwt), JWT_ERR_SIZE);
	free(token);
}

static void
test_valid_minimal_parse(void **state)
{
	struct jwt jwt;

	assert_int_equal(jwt_parse("e30.e30.AAAA", 12, &jwt), JWT_OK);
	assert_int_equal(jwt.signing_input_len, 7);
	assert_string_equal(jwt.signing_input, "e30.e30");
	assert_int_equal(jwt.signature_len, 3);
	jwt_clear(&jwt);
}

/* A JWKS entry that names another use or algorithm must not verify. */
static void
test_jwk_restrictions(void **state)
{
	static const struct {
		const char *member;
		const char *value;
	} cases[] = {
		{ "alg", "HS256" },
		{ "alg", "RS512" },
		{ "use", "enc" },
		{ "kty", "EC" },
	};
	char *token = sign_default();
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *jwks = jwt_jwks_from_key(key_a, KID);
		json_t *jwk = json_array_get(json_object_get(jwks, "keys"), 0);

		json_object_set_new(jwk, cases[i].member,
		    json_string(cases[i].value));
		if (parse_and_verify(token, jwks) != JWT_ERR_KEY)
			fail_msg("case %s=%s was accepted", cases[i].member,
			    cases[i].value);
		json_decref(jwks);
	}
	free(token);
}

static void
test_small_key_rejected(void **state)
{
	EVP_PKEY *small = EVP_RSA_gen(1024);
	json_t *claims = make_claims(NOW, NOW + 3600);
	json_t *jwks;
	char *token = NULL;

	assert_non_null(small);
	assert_int_equal(jwt_sign_rs256(small, KID, claims, &token),
	    JWT_ERR_KEY);
	assert_null(token);

	/* A published 1024-bit key is refused at verification too. */
	jwks = jwt_jwks_from_key(small, KID);
	assert_non_null(jwks);
	token = sign_default();
	assert_int_equal(parse_and_verify(token, jwks), JWT_ERR_KEY);
	free(token);
	json_decref(jwks);
	json_decref(claims);
	EVP_PKEY_free(small);
}

static void
test_claims_checks(void **state)
{
	static const struct {
		const char	*name;
		const char	*iss;
		const char	*aud;
		json_int_t	 iat;
		json_int_t	 exp;
		enum jwt_status	 expected;
	} cases[] = {
		{ "valid", ISSUER, AUDIENCE, NOW, NOW + 3600, JWT_OK },
		{ "legacy issuer", "accounts.google.com", AUDIENCE, NOW,
		    NOW + 3600, JWT_OK },
		{ "foreign issuer", "https://evil.example", AUDIENCE, NOW,
		    NOW + 3600, JWT_ERR_ISSUER },
		{ "wrong audience", ISSUER, "http://127.0.0.1:9", NOW,
		    NOW + 3600, JWT_ERR_AUDIENCE },
		{ "audience prefix", ISSUER, AUDIENCE "/measure", NOW,
		    NOW + 3600, JWT_ERR_AUDIENCE },
		{ "expired", ISSUER, AUDIENCE, NOW - 7200, NOW - 11,
		    JWT_ERR_EXPIRED },
		{ "expired within skew", ISSUER, AUDIENCE, NOW - 7200,
		    NOW - 10, JWT_OK },
		{ "issued in future", ISSUER, AUDIENCE, NOW + 11, NOW + 3600,
		    JWT_ERR_NOT_YET_VALID },
		{ "future within skew", ISSUER, AUDIENCE, NOW + 10,
		    NOW + 3600, JWT_OK },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *claims = json_pack("{s:s, s:s, s:I, s:I}", "iss",
		    cases[i].iss, "aud", cases[i].aud, "iat", cases[i].iat,
		    "exp", cases[i].exp);
		enum jwt_status st = jwt_check_claims(claims,
		    &default_policy);

		if (st != cases[i].expected)
			fail_msg("case \"%s\": got \"%s\", expected \"%s\"",
			    cases[i].name, jwt_strerror(st),
			    jwt_strerror(cases[i].expected));
		json_decref(claims);
	}
}

static void
test_claims_types(void **state)
{
	static const char *const bad[] = {
		"{\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE "\","
		    "\"iat\":1700000000}",
		"{\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE "\","
		    "\"iat\":1700000000,\"exp\":\"1700003600\"}",
		"{\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE "\","
		    "\"iat\":1700000000.5,\"exp\":1700003600}",
		"{\"iss\":\"" ISSUER "\",\"aud\":\"" AUDIENCE "\","
		    "\"iat\":1700000000,\"exp\":1700003600,\"nbf\":null}",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *claims = json_loads(bad[i], 0, NULL);

		assert_non_null(claims);
		if (jwt_check_claims(claims, &default_policy) !=
		    JWT_ERR_CLAIM)
			fail_msg("claims %s were accepted", bad[i]);
		json_decref(claims);
	}
}

static void
test_audience_array_rejected(void **state)
{
	json_t *claims = json_pack("{s:s, s:[s], s:I, s:I}", "iss", ISSUER,
	    "aud", AUDIENCE, "iat", (json_int_t)NOW,
	    "exp", (json_int_t)NOW + 3600);

	assert_int_equal(jwt_check_claims(claims, &default_policy),
	    JWT_ERR_AUDIENCE);
	json_decref(claims);
}

static void
test_thumbprint(void **state)
{
	char a1[64], a2[64], b[64];

	assert_int_equal(jwt_key_thumbprint(key_a, a1, sizeof(a1)), 0);
	assert_int_equal(jwt_key_thumbprint(key_a, a2, sizeof(a2)), 0);
	assert_int_equal(jwt_key_thumbprint(key_b, b, sizeof(b)), 0);
	assert_string_equal(a1, a2);
	assert_string_not_equal(a1, b);
	/* SHA-256 is 32 bytes: 43 base64url characters. */
	assert_int_equal(strlen(a1), 43);
	assert_int_equal(jwt_key_thumbprint(key_a, a2, 20), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_jwks_shape),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_unknown_kid),
		cmocka_unit_test(test_missing_kid),
		cmocka_unit_test(test_alg_none),
		cmocka_unit_test(test_hs256_with_public_key),
		cmocka_unit_test(test_crit_header_rejected),
		cmocka_unit_test(test_bad_signature),
		cmocka_unit_test(test_tampered_claims),
		cmocka_unit_test(test_truncated_signature),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_valid_minimal_parse),
		cmocka_unit_test(test_jwk_restrictions),
		cmocka_unit_test(test_small_key_rejected),
		cmocka_unit_test(test_claims_checks),
		cmocka_unit_test(test_claims_types),
		cmocka_unit_test(test_audience_array_rejected),
		cmocka_unit_test(test_thumbprint),
	};

	return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}

/* RS256 JSON Web Tokens: signing, parsing, JWKS verification, claims. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <sodium.h>

#include "jwt.h"

/* Maximum RSA modulus accepted in a JWKS, in bits, which bounds the cost
 * of one verification. */
#define JWT_MAX_RSA_BITS	8192

/* Maximum clock skew, in seconds. A bigger one is a caller bug. */
#define JWT_MAX_SKEW		3600

#define B64URL	sodium_base64_VARIANT_URLSAFE_NO_PADDING

static const char *const jwt_messages[] = {
	[JWT_OK] = "valid",
	[JWT_ERR_SIZE] = "token is empty or too long",
	[JWT_ERR_FORMAT] = "token is not three dot-separated parts",
	[JWT_ERR_BASE64] = "token part is not valid base64url",
	[JWT_ERR_JSON] = "token header or claims are not a JSON object",
	[JWT_ERR_ALG] = "token algorithm is not RS256",
	[JWT_ERR_KID] = "token key id is missing or unknown",
	[JWT_ERR_KEY] = "signing key is unusable",
	[JWT_ERR_SIGNATURE] = "token signature is invalid",
	[JWT_ERR_ISSUER] = "token issuer is not accepted",
	[JWT_ERR_AUDIENCE] = "token audience does not match",
	[JWT_ERR_EXPIRED] = "token has expired",
	[JWT_ERR_NOT_YET_VALID] = "token is not valid yet",
	[JWT_ERR_CLAIM] = "token exp or iat claim is missing or invalid",
	[JWT_ERR_INTERNAL] = "internal error",
};

const char *
jwt_strerror(enum jwt_status status)
{
	if ((size_t)status >= sizeof(jwt_messages) / sizeof(jwt_messages[0]))
		return "unknown error";
	return jwt_messages[status];
}

/* Encodes len bytes as unpadded base64url into a new string. */
static char *
b64url_encode(const unsigned char *bin, size_t len)
{
	size_t size = sodium_base64_ENCODED_LEN(len, B64URL);
	char *out;

	if ((out = malloc(size)) == NULL)
		return NULL;
	sodium_bin2base64(out, size, bin, len, B64URL);
	return out;
}

/*
 * Decodes unpadded base64url into a new buffer. libsodium rejects padding,
 * characters outside the alphabet and non-zero trailing bits, so each byte
 * string has exactly one accepted encoding.
 */
static int
b64url_decode(const char *b64, size_t len, unsigned char **bin,
    size_t *bin_len)
{
	size_t max = len / 4 * 3 + 3;
	unsigned char *buf;

	if ((buf = malloc(max)) == NULL)
		return -1;
	if (sodium_base642bin(buf, max, b64, len, NULL, bin_len, NULL,
	    B64URL) != 0) {
		free(buf);
		return -1;
	}
	*bin = buf;
	return 0;
}

/* Encodes a big number as unpadded base64url of its big-endian bytes. */
static char *
bn_to_b64url(const BIGNUM *bn)
{
	int n = BN_num_bytes(bn);
	unsigned char *bin;
	char *out;

	if (n <= 0 || (bin = malloc((size_t)n)) == NULL)
		return NULL;
	BN_bn2bin(bn, bin);
	out = b64url_encode(bin, (size_t)n);
	free(bin);
	return out;
}

/* Decodes a base64url JWK member into a big number. */
static BIGNUM *
b64url_to_bn(const char *b64)
{
	unsigned char *bin;
	size_t len;
	BIGNUM *bn;

	if (b64url_decode(b64, strlen(b64), &bin, &len) == -1)
		return NULL;
	bn = len > 0 && len <= INT_MAX ? BN_bin2bn(bin, (int)len, NULL) :
	    NULL;
	free(bin);
	return bn;
}

/* Accepts only RSA keys of at least JWT_MIN_RSA_BITS for signing. */
static int
key_usable(EVP_PKEY *key)
{
	return EVP_PKEY_is_a(key, "RSA") &&
	    EVP_PKEY_get_bits(key) >= JWT_MIN_RSA_BITS;
}

/* Serializes a JSON object compactly and encodes it as base64url. */
static char *
json_to_b64url(const json_t *obj)
{
	char *text, *out;

	if ((text = json_dumps(obj, JSON_COMPACT)) == NULL)
		return NULL;
	out = b64url_encode((const unsigned char *)text, strlen(text));
	free(text);
	return out;
}

/* Signs data with RSASSA-PKCS1-v1_5 and SHA-256 into a new buffer. */
static int
rs256_sign(EVP_PKEY *key, const char *data, size_t len,
    unsigned char **sig, size_t *sig_len)
{
	EVP_MD_CTX *ctx;
	unsigned char *buf = NULL;
	size_t size = 0;
	int rc = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1)
		goto done;
	if (EVP_DigestSign(ctx, NULL, &size, (const unsigned char *)data,
	    len) != 1)
		goto done;
	if ((buf = malloc(size)) == NULL)
		goto done;
	if (EVP_DigestSign(ctx, buf, &size, (const unsigned char *)data,
	    len) != 1)
		goto done;
	*sig = buf;
	*sig_len = size;
	buf = NULL;
	rc = 0;
done:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* Creates a compact RS256 token with the header {alg, kid, typ}. */
enum jwt_status
jwt_sign_rs256(EVP_PKEY *key, const char *kid, const json_t *claims,
    char **token)
{
	json_t *header = NULL;
	char *h64 = NULL, *c64 = NULL, *s64 = NULL, *input = NULL;
	unsigned char *sig = NULL;
	size_t sig_len, input_len, size;
	enum jwt_status st = JWT_ERR_INTERNAL;

	*token = NULL;
	if (!key_usable(key))
		return JWT_ERR_KEY;
	if (!json_is_object(claims))
		return JWT_ERR_JSON;

	header = json_pack("{s:s, s:s, s:s}", "alg", "RS256", "kid", kid,
	    "typ", "JWT");
	if (header == NULL)
		goto done;
	if ((h64 = json_to_b64url(header)) == NULL ||
	    (c64 = json_to_b64url(claims)) == NULL)
		goto done;

	/* The signature covers "header.claims", and the token appends it. */
	input_len = strlen(h64) + 1 + strlen(c64);
	if ((input = malloc(input_len + 1)) == NULL)
		goto done;
	snprintf(input, input_len + 1, "%s.%s", h64, c64);
	if (rs256_sign(key, input, input_len, &sig, &sig_len) == -1)
		goto done;
	if ((s64 = b64url_encode(sig, sig_len)) == NULL)
		goto done;
	size = input_len + 1 + strlen(s64) + 1;
	if ((*token = malloc(size)) == NULL)
		goto done;
	snprintf(*token, size, "%s.%s", input, s64);
	st = JWT_OK;
done:
	ERR_clear_error();
	free(s64);
	free(sig);
	free(input);
	free(c64);
	free(h64);
	json_decref(header);
	return st;
}

/* Decodes one base64url part holding a JSON object. */
static enum jwt_status
parse_json_part(const char *b64, size_t len, json_t **out)
{
	unsigned char *bin;
	size_t bin_len;
	json_t *obj;

	if (len == 0)
		return JWT_ERR_FORMAT;
	if (b64url_decode(b64, len, &bin, &bin_len) == -1)
		return JWT_ERR_BASE64;
	obj = json_loadb((const char *)bin, bin_len, JSON_REJECT_DUPLICATES,
	    NULL);
	free(bin);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return JWT_ERR_JSON;
	}
	*out = obj;
	return JWT_OK;
}

/*
 * Splits a compact token into its decoded header and claims, the signing
 * input and the raw signature. It checks the form only, so neither the
 * signature nor a claim is trusted until jwt_verify() and
 * jwt_check_claims() accept them.
 */
enum jwt_status
jwt_parse(const char *token, size_t len, struct jwt *jwt)
{
	const char *dot1, *dot2, *end = token + len;
	enum jwt_status st;

	memset(jwt, 0, sizeof(*jwt));
	if (len == 0 || len > JWT_MAX_TOKEN_LEN)
		return JWT_ERR_SIZE;
	if (memchr(token, '\0', len) != NULL)
		return JWT_ERR_FORMAT;
	if ((dot1 = memchr(token, '.', len)) == NULL)
		return JWT_ERR_FORMAT;
	if ((dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1))) == NULL)
		return JWT_ERR_FORMAT;
	if (memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL)
		return JWT_ERR_FORMAT;

	if ((st = parse_json_part(token, (size_t)(dot1 - token),
	    &jwt->header)) != JWT_OK)
		goto fail;
	if ((st = parse_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1),
	    &jwt->claims)) != JWT_OK)
		goto fail;

	/* An empty signature parses, so that "alg":"none" reaches the
	 * algorithm check and is rejected there by name. */
	if (b64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), &jwt->signature,
	    &jwt->signature_len) == -1) {
		st = JWT_ERR_BASE64;
		goto fail;
	}
	jwt->signing_input_len = (size_t)(dot2 - token);
	if ((jwt->signing_input = strndup(token,
	    jwt->signing_input_len)) == NULL) {
		st = JWT_ERR_INTERNAL;
		goto fail;
	}
	return JWT_OK;
fail:
	jwt_clear(jwt);
	return st;
}

void
jwt_clear(struct jwt *jwt)
{
	json_decref(jwt->header);
	json_decref(jwt->claims);
	free(jwt->signing_input);
	free(jwt->signature);
	memset(jwt, 0, sizeof(*jwt));
}

/* Returns the string member name of obj, or NULL. */
static const char *
member_string(const json_t *obj, const char *name)
{
	return json_string_value(json_object_get(obj, name));
}

/* Finds the JWKS entry whose kid equals kid. */
static const json_t *
jwks_find(const json_t *jwks, const char *kid)
{
	const json_t *keys, *jwk;
	const char *k;
	size_t i;

	keys = json_object_get(jwks, "keys");
	if (!json_is_array(keys))
		return NULL;
	json_array_foreach(keys, i, jwk) {
		if ((k = member_string(jwk, "kid")) != NULL &&
		    strcmp(k, kid) == 0)
			return jwk;
	}
	return NULL;
}

/* Builds an RSA public key from a JWK's n and e members. */
static EVP_PKEY *
jwk_to_key(const json_t *jwk)
{
	const char *kty, *use, *alg, *n64, *e64;
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;

	/* A key published for another use or algorithm must not verify an
	 * RS256 signature, even when its numbers would. */
	kty = member_string(jwk, "kty");
	use = member_string(jwk, "use");
	alg = member_string(jwk, "alg");
	if (kty == NULL || strcmp(kty, "RSA") != 0)
		return NULL;
	if (json_object_get(jwk, "use") != NULL &&
	    (use == NULL || strcmp(use, "sig") != 0))
		return NULL;
	if (json_object_get(jwk, "alg") != NULL &&
	    (alg == NULL || strcmp(alg, "RS256") != 0))
		return NULL;
	if ((n64 = member_string(jwk, "n")) == NULL ||
	    (e64 = member_string(jwk, "e")) == NULL)
		return NULL;

	if ((n = b64url_to_bn(n64)) == NULL || (e = b64url_to_bn(e64)) == NULL)
		goto done;
	if (BN_num_bits(n) < JWT_MIN_RSA_BITS ||
	    BN_num_bits(n) > JWT_MAX_RSA_BITS)
		goto done;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto done;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
done:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(e);
	BN_free(n);
	return key;
}

/*
 * Verifies the signature of a parsed token with the JWKS key named by the
 * header's kid. Only "alg":"RS256" is accepted, so a token cannot choose
 * "none" or an HMAC keyed with the public key.
 */
enum jwt_status
jwt_verify(const struct jwt *jwt, const json_t *jwks)
{
	const char *alg, *kid;
	const json_t *jwk;
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY *key;
	enum jwt_status st = JWT_ERR_SIGNATURE;

	alg = member_string(jwt->header, "alg");
	if (alg == NULL || strcmp(alg, "RS256") != 0)
		return JWT_ERR_ALG;
	/* No header extension is understood, so a critical one fails. */
	if (json_object_get(jwt->header, "crit") != NULL)
		return JWT_ERR_ALG;
	if ((kid = member_string(jwt->header, "kid")) == NULL ||
	    (jwk = jwks_find(jwks, kid)) == NULL)
		return JWT_ERR_KID;
	if ((key = jwk_to_key(jwk)) == NULL) {
		ERR_clear_error();
		return JWT_ERR_KEY;
	}

	if (jwt->signature_len != (size_t)EVP_PKEY_get_size(key))
		goto done;
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		st = JWT_ERR_INTERNAL;
		goto done;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) != 1) {
		st = JWT_ERR_INTERNAL;
		goto done;
	}
	if (EVP_DigestVerify(ctx, jwt->signature, jwt->signature_len,
	    (const unsigned char *)jwt->signing_input,
	    jwt->signing_input_len) == 1)
		st = JWT_OK;
done:
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	return st;
}

/* Reads an integer time claim. Google emits NumericDate values as
 * integers, so a fraction or a string is rejected. */
static int
time_claim(const json_t *claims, const char *name, json_int_t *value)
{
	const json_t *v = json_object_get(claims, name);

	if (!json_is_integer(v))
		return -1;
	*value = json_integer_value(v);
	return 0;
}

/* Checks iss, aud, exp, iat and, when present, nbf against a policy. */
enum jwt_status
jwt_check_claims(const json_t *claims, const struct jwt_policy *policy)
{
	const char *iss, *aud;
	json_int_t exp, iat, nbf, now = (json_int_t)policy->now;
	json_int_t skew = policy->skew;
	size_t i;

	if (skew < 0 || skew > JWT_MAX_SKEW)
		return JWT_ERR_INTERNAL;

	iss = member_string(claims, "iss");
	for (i = 0; iss != NULL && i < policy->issuer_count; i++)
		if (strcmp(iss, policy->issuers[i]) == 0)
			break;
	if (iss == NULL || i == policy->issuer_count)
		return JWT_ERR_ISSUER;

	/* aud may be an array in general JWTs. Google's ID tokens carry one
	 * string, and accepting arrays would need azp rules we do not use. */
	aud = member_string(claims, "aud");
	if (aud == NULL || policy->audience == NULL ||
	    strcmp(aud, policy->audience) != 0)
		return JWT_ERR_AUDIENCE;

	if (time_claim(claims, "exp", &exp) == -1 ||
	    time_claim(claims, "iat", &iat) == -1)
		return JWT_ERR_CLAIM;
	if (exp < now - skew)
		return JWT_ERR_EXPIRED;
	if (iat > now + skew)
		return JWT_ERR_NOT_YET_VALID;
	if (json_object_get(claims, "nbf") != NULL) {
		if (time_claim(claims, "nbf", &nbf) == -1)
			return JWT_ERR_CLAIM;
		if (nbf > now + skew)
			return JWT_ERR_NOT_YET_VALID;
	}
	return JWT_OK;
}

/* Parses, verifies and checks a token. On success, *claims holds a new
 * reference to its claims when claims is not NULL. */
enum jwt_status
jwt_verify_token(const char *token, size_t len, const json_t *jwks,
    const struct jwt_policy *policy, json_t **claims)
{
	struct jwt jwt;
	enum jwt_status st;

	if ((st = jwt_parse(token, len, &jwt)) != JWT_OK)
		return st;
	if ((st = jwt_verify(&jwt, jwks)) == JWT_OK &&
	    (st = jwt_check_claims(jwt.claims, policy)) == JWT_OK &&
	    claims != NULL)
		*claims = json_incref(jwt.claims);
	jwt_clear(&jwt);
	return st;
}

/* Reads an RSA public key's modulus and exponent as base64url. */
static int
key_numbers(EVP_PKEY *key, char **n64, char **e64)
{
	BIGNUM *n = NULL, *e = NULL;
	int rc = -1;

	*n64 = *e64 = NULL;
	if (!EVP_PKEY_is_a(key, "RSA"))
		return -1;
	if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
		goto done;
	if ((*n64 = bn_to_b64url(n)) == NULL ||
	    (*e64 = bn_to_b64url(e)) == NULL)
		goto done;
	rc = 0;
done:
	if (rc == -1) {
		free(*n64);
		*n64 = NULL;
	}
	ERR_clear_error();
	BN_free(e);
	BN_free(n);
	return rc;
}

/* Builds the public JWK of an RSA key, for signature use with RS256. */
json_t *
jwt_jwk_from_key(EVP_PKEY *key, const char *kid)
{
	char *n64, *e64;
	json_t *jwk;

	if (key_numbers(key, &n64, &e64) == -1)
		return NULL;
	jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "RSA",
	    "kid", kid, "use", "sig", "alg", "RS256", "n", n64, "e", e64);
	free(e64);
	free(n64);
	return jwk;
}

/* Builds a JWKS document, {"keys": [jwk]}, holding one RSA public key. */
json_t *
jwt_jwks_from_key(EVP_PKEY *key, const char *kid)
{
	json_t *jwk;

	if ((jwk = jwt_jwk_from_key(key, kid)) == NULL)
		return NULL;
	return json_pack("{s:[o]}", "keys", jwk);
}

/*
 * Writes the RFC 7638 thumbprint of an RSA public key (base64url of the
 * SHA-256 of {"e","kty","n"} in that order, without spaces), a key id that
 * stays the same for as long as the key does.
 */
int
jwt_key_thumbprint(EVP_PKEY *key, char *buf, size_t size)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len;
	char *n64, *e64, *text = NULL;
	int len, rc = -1;

	if (key_numbers(key, &n64, &e64) == -1)
		return -1;
	len = snprintf(NULL, 0, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}",
	    e64, n64);
	if (len < 0 || (text = malloc((size_t)len + 1)) == NULL)
		goto done;
	snprintf(text, (size_t)len + 1,
	    "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", e64, n64);
	if (EVP_Digest(text, (size_t)len, md, &md_len, EVP_sha256(),
	    NULL) != 1)
		goto done;
	if (size < sodium_base64_ENCODED_LEN(md_len, B64URL))
		goto done;
	sodium_bin2base64(buf, size, md, md_len, B64URL);
	rc = 0;
done:
	free(text);
	free(e64);
	free(n64);
	return rc;
}

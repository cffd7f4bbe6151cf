/*
 * JSON Web Tokens signed with RS256 (RSASSA-PKCS1-v1_5 with SHA-256), the
 * algorithm of Google's OIDC ID tokens. The module signs tokens, parses the
 * compact form strictly, verifies against the JWKS key named by the kid,
 * and makes the claim checks of an OIDC relying party (iss, aud, exp,
 * iat). Every other algorithm, "none" and HS256 included, is rejected.
 */
#ifndef JWT_H
#define JWT_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

/* Maximum length of a compact token, in bytes. Google ID tokens are about
 * 1 KiB, and the cap bounds the work an unauthenticated request causes. */
#define JWT_MAX_TOKEN_LEN	8192

/* Minimum RSA modulus for signing or verifying, in bits. */
#define JWT_MIN_RSA_BITS	2048

enum jwt_status {
	JWT_OK = 0,
	JWT_ERR_SIZE,		/* empty, or longer than JWT_MAX_TOKEN_LEN */
	JWT_ERR_FORMAT,		/* not three dot-separated parts */
	JWT_ERR_BASE64,		/* a part is not valid unpadded base64url */
	JWT_ERR_JSON,		/* header or claims not a JSON object */
	JWT_ERR_ALG,		/* alg missing or not RS256, or crit present */
	JWT_ERR_KID,		/* kid missing, or no such key in the JWKS */
	JWT_ERR_KEY,		/* the JWKS entry or the key is unusable */
	JWT_ERR_SIGNATURE,	/* the signature does not verify */
	JWT_ERR_ISSUER,
	JWT_ERR_AUDIENCE,
	JWT_ERR_EXPIRED,	/* now > exp + skew */
	JWT_ERR_NOT_YET_VALID,	/* now < iat - skew */
	JWT_ERR_CLAIM,		/* exp or iat missing or not an integer */
	JWT_ERR_INTERNAL,	/* allocation or OpenSSL failure */
};

/* A parsed compact token. The signing input is the first two parts as
 * received (header "." claims), which is what the signature covers. */
struct jwt {
	json_t		*header;
	json_t		*claims;
	char		*signing_input;
	size_t		 signing_input_len;
	unsigned char	*signature;
	size_t		 signature_len;
};

/* Requirements that jwt_check_claims() applies to a token's claims. */
struct jwt_policy {
	const char *const *issuers;	/* iss must equal one of these */
	size_t		 issuer_count;
	const char	*audience;	/* aud must be this exact string */
	long		 skew;		/* allowed clock difference, seconds */
	time_t		 now;		/* Unix time of the check */
};

const char	*jwt_strerror(enum jwt_status status);

enum jwt_status	 jwt_sign_rs256(EVP_PKEY *key, const char *kid,
		    const json_t *claims, char **token);
enum jwt_status	 jwt_parse(const char *token, size_t len, struct jwt *jwt);
void		 jwt_clear(struct jwt *jwt);
enum jwt_status	 jwt_verify(const struct jwt *jwt, const json_t *jwks);
enum jwt_status	 jwt_check_claims(const json_t *claims,
		    const struct jwt_policy *policy);
enum jwt_status	 jwt_verify_token(const char *token, size_t len,
		    const json_t *jwks, const struct jwt_policy *policy,
		    json_t **claims);

json_t		*jwt_jwk_from_key(EVP_PKEY *key, const char *kid);
json_t		*jwt_jwks_from_key(EVP_PKEY *key, const char *kid);
int		 jwt_key_thumbprint(EVP_PKEY *key, char *buf, size_t size);

#endif

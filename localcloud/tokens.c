/*
 * localcloud's RSA signing key, the JWKS and OpenID discovery documents,
 * and the ID and access tokens that the metadata server, Cloud Scheduler
 * and Cloud Tasks hand out.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "durable.h"
#include "jwt.h"
#include "log.h"
#include "localcloud.h"
#include "tokens.h"

#define TOKENS_KEY_FILE		"signing-key.pem"
#define TOKENS_KEY_BITS		2048
#define TOKENS_KEY_FILE_MAX	(64 * 1024)	/* bytes */
/* How long clients may cache the JWKS, in seconds. */
#define TOKENS_JWKS_MAX_AGE	300
#define TOKENS_ISSUER		"https://accounts.google.com"
/* Digits in a project number and in a service account's unique id, the
 * lengths Google uses. */
#define TOKENS_PROJECT_DIGITS	12
#define TOKENS_UNIQUE_ID_DIGITS	21

/* Process-wide state, because every token-issuing module shares the one
 * key. refs counts the modules that opened it. */
static struct {
	int		 refs;
	EVP_PKEY	*key;
	char		 kid[64];
	char		 email[256];
	char		 project_number[TOKENS_PROJECT_DIGITS + 1];
	json_t		*jwks;
	char		 api_url[LC_URL_MAX];
	unsigned int	 lifetime;	/* seconds */
} tokens;

/* Writes a stable decimal number of digits characters derived from text,
 * with no leading zero. */
static void
derive_number(const char *text, char *buf, size_t digits)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256((const unsigned char *)text, strlen(text), md);
	for (i = 0; i < digits; i++)
		buf[i] = (char)('0' + md[i % sizeof(md)] % 10);
	if (buf[0] == '0')
		buf[0] = '1';
	buf[digits] = '\0';
}

/* Loads the PEM key at path, or returns NULL with errno ENOENT. */
static EVP_PKEY *
load_key(const char *path)
{
	struct stat st;
	EVP_PKEY *key;
	BIO *bio;
	char *pem;
	size_t len;

	if ((pem = durable_read(path, TOKENS_KEY_FILE_MAX, &len)) == NULL)
		return NULL;
	if (stat(path, &st) == 0 && (st.st_mode & 077) != 0) {
		log_warnx("%s was readable by group or others, so its mode "
		    "is now 0600", path);
		if (chmod(path, 0600) == -1)
			log_warn("cannot set mode 0600 on %s", path);
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) :
	    NULL;
	BIO_free(bio);
	OPENSSL_cleanse(pem, len);
	free(pem);
	if (key == NULL) {
		ERR_clear_error();
		log_warnx("%s is not a PEM private key", path);
		errno = EINVAL;
	}
	return key;
}

/* Generates a new RSA key and stores it as PEM with mode 0600. */
static EVP_PKEY *
create_key(const char *dir)
{
	EVP_PKEY *key;
	BIO *bio;
	char *pem;
	long len;

	if ((key = EVP_RSA_gen(TOKENS_KEY_BITS)) == NULL) {
		log_warnx("cannot generate an RSA key");
		return NULL;
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
	    NULL) != 1) {
		log_warnx("cannot encode the signing key as PEM");
		goto fail;
	}
	len = BIO_get_mem_data(bio, &pem);
	if (durable_write(dir, TOKENS_KEY_FILE, pem, (size_t)len, 0600) ==
	    -1) {
		log_warn("cannot write %s/%s", dir, TOKENS_KEY_FILE);
		goto fail;
	}
	BIO_free(bio);
	log_info("created signing key %s/%s", dir, TOKENS_KEY_FILE);
	return key;

fail:
	ERR_clear_error();
	BIO_free(bio);
	EVP_PKEY_free(key);
	return NULL;
}

/* Loads or creates the signing key. Each module that signs calls this
 * from its init, and the first call does the work. */
int
tokens_open(struct lc *lc)
{
	char dir[LC_PATH_MAX], path[LC_PATH_MAX];
	const char *email = getenv("LOCALCLOUD_SERVICE_ACCOUNT");

	if (tokens.refs > 0) {
		tokens.refs++;
		return 0;
	}
	tokens.lifetime = lc->token_lifetime > 0 ? lc->token_lifetime :
	    TOKENS_LIFETIME;
	if (snprintf(dir, sizeof(dir), "%s/oauth2", lc->data_dir) >=
	    (int)sizeof(dir) || snprintf(path, sizeof(path), "%s/%s", dir,
	    TOKENS_KEY_FILE) >= (int)sizeof(path)) {
		log_warnx("the data dir path is too long");
		return -1;
	}
	if (durable_mkdir(dir) == -1) {
		log_warn("cannot create %s", dir);
		return -1;
	}
	if ((tokens.key = load_key(path)) == NULL) {
		if (errno != ENOENT)
			return -1;
		if ((tokens.key = create_key(dir)) == NULL)
			return -1;
	}
	if (EVP_PKEY_get_bits(tokens.key) < JWT_MIN_RSA_BITS) {
		log_warnx("%s: the key has fewer than %d bits", path,
		    JWT_MIN_RSA_BITS);
		return -1;
	}
	if (jwt_key_thumbprint(tokens.key, tokens.kid,
	    sizeof(tokens.kid)) == -1 ||
	    (tokens.jwks = jwt_jwks_from_key(tokens.key, tokens.kid)) ==
	    NULL) {
		log_warnx("%s: cannot derive the public key", path);
		return -1;
	}

	/* The service account the metadata server hands out. */
	if (email != NULL && *email != '\0')
		snprintf(tokens.email, sizeof(tokens.email), "%s", email);
	else if (snprintf(tokens.email, sizeof(tokens.email),
	    "perf-agent@%s.iam.gserviceaccount.com", lc->project) >=
	    (int)sizeof(tokens.email)) {
		log_warnx("the project id is too long");
		return -1;
	}
	derive_number(lc->project, tokens.project_number,
	    TOKENS_PROJECT_DIGITS);
	snprintf(tokens.api_url, sizeof(tokens.api_url), "%s", lc->api_url);
	log_info("signing key id %s, service account %s", tokens.kid,
	    tokens.email);
	tokens.refs = 1;
	return 0;
}

/* Releases one tokens_open(), and the last release frees the key. */
void
tokens_close(void)
{
	if (tokens.refs == 0 || --tokens.refs > 0)
		return;
	json_decref(tokens.jwks);
	EVP_PKEY_free(tokens.key);
	memset(&tokens, 0, sizeof(tokens));
}

const char *
tokens_service_account(void)
{
	return tokens.email;
}

/* The JWKS of the signing key, which verifies the tokens made here. It is
 * NULL until tokens_open(). */
const json_t *
tokens_jwks(void)
{
	return tokens.jwks;
}

/* The project number: 12 digits derived from the project id, stable
 * across restarts. */
const char *
tokens_project_number(void)
{
	return tokens.project_number;
}

/* Writes the numeric unique id of a service account (the sub claim), a
 * stable 21-digit number derived from its email. */
int
tokens_unique_id(const char *email, char *buf, size_t size)
{
	if (size < TOKENS_UNIQUE_ID_DIGITS + 1)
		return -1;
	derive_number(email, buf, TOKENS_UNIQUE_ID_DIGITS);
	return 0;
}

unsigned int
tokens_lifetime(void)
{
	return tokens.lifetime > 0 ? tokens.lifetime : TOKENS_LIFETIME;
}

/* Signs an OIDC ID token for email with the given audience, valid for
 * tokens_lifetime() seconds from now. */
int
tokens_id_token(const char *audience, const char *email, char **token)
{
	char sub[TOKENS_UNIQUE_ID_DIGITS + 1];
	json_int_t now = (json_int_t)time(NULL);
	json_t *claims;
	enum jwt_status st;

	*token = NULL;
	if (tokens.key == NULL || audience == NULL || *audience == '\0' ||
	    strlen(audience) > TOKENS_AUDIENCE_MAX)
		return -1;
	if (tokens_unique_id(email, sub, sizeof(sub)) == -1)
		return -1;
	claims = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:I}",
	    "iss", TOKENS_ISSUER, "aud", audience, "azp", sub, "sub", sub,
	    "email", email, "email_verified", 1, "iat", now,
	    "exp", now + (json_int_t)tokens_lifetime());
	if (claims == NULL)
		return -1;
	st = jwt_sign_rs256(tokens.key, tokens.kid, claims, token);
	json_decref(claims);
	if (st != JWT_OK) {
		log_warnx("cannot sign an ID token: %s", jwt_strerror(st));
		return -1;
	}
	return 0;
}

/* Writes a random opaque access token. Nothing in localcloud checks
 * these tokens, and the "ya29." prefix is the one Google's carry. */
int
tokens_access_token(char *buf, size_t size)
{
	unsigned char rnd[32];
	char b64[sodium_base64_ENCODED_LEN(32,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -1;
	sodium_bin2base64(b64, sizeof(b64), rnd, sizeof(rnd),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if (snprintf(buf, size, "ya29.local.%s", b64) >= (int)size)
		return -1;
	return 0;
}

/* Builds the OpenID Connect discovery document. */
static json_t *
discovery_document(void)
{
	char jwks_uri[LC_URL_MAX + 32];

	snprintf(jwks_uri, sizeof(jwks_uri), "%s/oauth2/v3/certs",
	    tokens.api_url);
	return json_pack("{s:s, s:s, s:[s], s:[s], s:[s], s:[s, s, s, s, s, "
	    "s, s, s]}",
	    "issuer", TOKENS_ISSUER,
	    "jwks_uri", jwks_uri,
	    "response_types_supported", "id_token",
	    "subject_types_supported", "public",
	    "id_token_signing_alg_values_supported", "RS256",
	    "claims_supported", "aud", "azp", "email", "email_verified",
	    "exp", "iat", "iss", "sub");
}

/* Serves the JWKS at Google's path and the OpenID discovery document.
 * Returns 0 for any other path. */
int
tokens_route(struct lc *lc, struct evhttp_request *req, const char *path,
    const char *query)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	char cache[64];

	if (strcmp(path, "/oauth2/v3/certs") != 0 &&
	    strcmp(path, "/.well-known/openid-configuration") != 0)
		return 0;
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		lc_reply_google_error(req, 405, "INVALID_ARGUMENT",
		    "Method %s is not allowed on %s.", lc_method_name(method),
		    path);
		return 1;
	}
	snprintf(cache, sizeof(cache), "public, max-age=%d",
	    TOKENS_JWKS_MAX_AGE);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", cache);
	if (strcmp(path, "/oauth2/v3/certs") == 0)
		lc_reply_json(req, 200, json_deep_copy(tokens.jwks));
	else
		lc_reply_json(req, 200, discovery_document());
	return 1;
}

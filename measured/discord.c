/*
 * The discord-webhook service type: its key pair, the signing of requests
 * over the exact bytes sent, the test request (a signed PING) and the
 * preparation of contract vectors with their tamper modes.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "discord.h"
#include "servicetype.h"
#include "vectors.h"

#define HEADER_SIGNATURE	"X-Signature-Ed25519"
#define HEADER_TIMESTAMP	"X-Signature-Timestamp"

/* The PING interaction, the cheapest request every implementation serves. */
static const char ping_body[] = "{\"type\":1}";

/* The run's key pairs and a buffer for the signed message. */
struct discord_state {
	struct discord_key	 key;
	struct discord_key	 other;		/* signs "other_key" vectors */
	unsigned char		*message;	/* timestamp + body */
	size_t			 message_size;
};

int
discord_key_generate(struct discord_key *key)
{
	if (sodium_init() < 0)
		return -1;
	key->secret_key = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (key->secret_key == NULL)
		return -1;
	if (crypto_sign_keypair(key->public_key, key->secret_key) != 0) {
		discord_key_clear(key);
		return -1;
	}
	return 0;
}

int
discord_key_from_seed(struct discord_key *key, const unsigned char *seed,
    size_t len)
{
	if (len != DISCORD_SEED_LEN || sodium_init() < 0)
		return -1;
	key->secret_key = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	if (key->secret_key == NULL)
		return -1;
	if (crypto_sign_seed_keypair(key->public_key, key->secret_key,
	    seed) != 0) {
		discord_key_clear(key);
		return -1;
	}
	return 0;
}

int
discord_key_seed(const struct discord_key *key, unsigned char *out,
    size_t size)
{
	if (key->secret_key == NULL || size < DISCORD_SEED_LEN)
		return -1;
	return crypto_sign_ed25519_sk_to_seed(out, key->secret_key) == 0 ?
	    0 : -1;
}

void
discord_key_clear(struct discord_key *key)
{
	/* sodium_free() wipes the memory before releasing it. */
	sodium_free(key->secret_key);
	key->secret_key = NULL;
	sodium_memzero(key->public_key, sizeof(key->public_key));
}

int
discord_key_public_hex(const struct discord_key *key, char *out, size_t size)
{
	if (size < DISCORD_PUBLIC_KEY_HEX_SIZE)
		return -1;
	sodium_bin2hex(out, size, key->public_key, sizeof(key->public_key));
	return 0;
}

/*
 * Builds timestamp || body in buf (size bytes) and returns its length, or
 * -1 when it does not fit.
 */
static ssize_t
build_message(unsigned char *buf, size_t size, const char *timestamp,
    const unsigned char *body, size_t body_len)
{
	size_t tlen = strlen(timestamp);

	if (tlen > size || body_len > size - tlen)
		return -1;
	memcpy(buf, timestamp, tlen);
	if (body_len > 0)
		memcpy(buf + tlen, body, body_len);
	return (ssize_t)(tlen + body_len);
}

/* Signs with buf as scratch space for the message. */
static int
sign_in(const struct discord_key *key, unsigned char *buf, size_t size,
    const char *timestamp, const unsigned char *body, size_t body_len,
    unsigned char *sig)
{
	ssize_t len;

	if (key->secret_key == NULL)
		return -1;
	if ((len = build_message(buf, size, timestamp, body, body_len)) == -1)
		return -1;
	return crypto_sign_detached(sig, NULL, buf, (unsigned long long)len,
	    key->secret_key) == 0 ? 0 : -1;
}

int
discord_sign(const struct discord_key *key, const char *timestamp,
    const unsigned char *body, size_t body_len, unsigned char *sig)
{
	unsigned char *buf;
	size_t size;
	int rc;

	size = strlen(timestamp) + body_len;
	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		return -1;
	rc = sign_in(key, buf, size, timestamp, body, body_len, sig);
	free(buf);
	return rc;
}

int
discord_verify(const unsigned char *public_key, const char *timestamp,
    const unsigned char *body, size_t body_len, const unsigned char *sig)
{
	unsigned char *buf;
	size_t size;
	ssize_t len;
	int rc = -1;

	if (sodium_init() < 0)
		return -1;
	size = strlen(timestamp) + body_len;
	if ((buf = malloc(size > 0 ? size : 1)) == NULL)
		return -1;
	len = build_message(buf, size, timestamp, body, body_len);
	if (len != -1 && crypto_sign_verify_detached(sig, buf,
	    (unsigned long long)len, public_key) == 0)
		rc = 0;
	free(buf);
	return rc;
}

static void
discord_destroy(void *arg)
{
	struct discord_state *st = arg;

	if (st == NULL)
		return;
	discord_key_clear(&st->key);
	discord_key_clear(&st->other);
	if (st->message != NULL)
		sodium_memzero(st->message, st->message_size);
	free(st->message);
	free(st);
}

static void *
discord_create(const unsigned char *secret, size_t secret_len, char *err,
    size_t errlen)
{
	struct discord_state *st;

	if (sodium_init() < 0) {
		snprintf(err, errlen, "discord: libsodium failed to start");
		return NULL;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		goto nomem;
	st->message_size = DISCORD_TIMESTAMP_MAX + SERVICETYPE_BODY_MAX;
	if ((st->message = malloc(st->message_size)) == NULL)
		goto nomem;
	if (secret != NULL) {
		if (discord_key_from_seed(&st->key, secret, secret_len) == -1) {
			snprintf(err, errlen, "discord: the secret must be a "
			    "%d-byte Ed25519 seed", DISCORD_SEED_LEN);
			goto fail;
		}
	} else if (discord_key_generate(&st->key) == -1)
		goto nomem;
	if (discord_key_generate(&st->other) == -1)
		goto nomem;
	return st;

nomem:
	snprintf(err, errlen, "discord: out of memory for the key pairs");
fail:
	discord_destroy(st);
	return NULL;
}

static int
discord_export_secret(void *arg, unsigned char *out, size_t size)
{
	struct discord_state *st = arg;

	return discord_key_seed(&st->key, out, size);
}

static int
discord_service_env(void *arg, json_t *env)
{
	struct discord_state *st = arg;
	char hex[DISCORD_PUBLIC_KEY_HEX_SIZE];

	if (discord_key_public_hex(&st->key, hex, sizeof(hex)) == -1)
		return -1;
	return json_object_set_new(env, "DISCORD_PUBLIC_KEY",
	    json_string(hex));
}

/* Signs req's body at timestamp and appends both signature headers. */
static int
add_signature(struct discord_state *st, const struct discord_key *key,
    const char *timestamp, struct servicetype_request *req)
{
	unsigned char sig[DISCORD_SIGNATURE_LEN];
	char hex[DISCORD_SIGNATURE_HEX_SIZE];

	if (sign_in(key, st->message, st->message_size, timestamp, req->body,
	    req->body_len, sig) == -1)
		return -1;
	sodium_bin2hex(hex, sizeof(hex), sig, sizeof(sig));
	if (servicetype_request_add_header(req, HEADER_SIGNATURE, hex) == -1 ||
	    servicetype_request_add_header(req, HEADER_TIMESTAMP,
	    timestamp) == -1)
		return -1;
	return 0;
}

static int
discord_test_request(void *arg, time_t now, struct servicetype_request *req)
{
	struct discord_state *st = arg;
	char timestamp[DISCORD_TIMESTAMP_MAX];

	snprintf(timestamp, sizeof(timestamp), "%lld", (long long)now);
	if (servicetype_request_init(req, "POST", DISCORD_PATH) == -1 ||
	    servicetype_request_add_header(req, "Content-Type",
	    "application/json") == -1 ||
	    servicetype_request_add_header(req, "User-Agent",
	    "perf-agent") == -1 ||
	    servicetype_request_set_body(req, ping_body,
	    sizeof(ping_body) - 1) == -1)
		return -1;
	return add_signature(st, &st->key, timestamp, req);
}

/* Returns 1 when a Content-Type value names the media type application/json. */
static int
is_json_media_type(const char *value, size_t len)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;

	if (len < n || strncasecmp(value, json, n) != 0)
		return 0;
	return len == n || value[n] == ';' || value[n] == ' ' ||
	    value[n] == '\t';
}

static int
discord_check_response(void *arg, const struct servicetype_response *resp,
    char *why, size_t whylen)
{
	static const char pong[] = "{\"type\":1}";
	size_t i, n = 0;

	if (resp->status != 200) {
		snprintf(why, whylen, "status %d, expected 200", resp->status);
		return -1;
	}
	if (resp->content_type == NULL ||
	    !is_json_media_type(resp->content_type, resp->content_type_len)) {
		snprintf(why, whylen, "Content-Type is not application/json");
		return -1;
	}

	/* Compares with the PONG while skipping JSON whitespace, which
	 * cannot occur inside the expected body's tokens. */
	for (i = 0; i < resp->body_len; i++) {
		unsigned char c = resp->body[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (n >= sizeof(pong) - 1 || c != (unsigned char)pong[n])
			break;
		n++;
	}
	if (i != resp->body_len || n != sizeof(pong) - 1) {
		snprintf(why, whylen, "body is not the PONG {\"type\":1}");
		return -1;
	}
	return 0;
}

/* Writes the timestamp of a vector's sign options into buf. */
static void
vector_timestamp(const struct vector_sign *sign, time_t now, char *buf,
    size_t size)
{
	if (sign->timestamp != NULL)
		snprintf(buf, size, "%s", sign->timestamp);
	else
		snprintf(buf, size, "%lld",
		    (long long)now + sign->timestamp_offset);
}

/*
 * Computes the X-Signature-Ed25519 value of a signing vector into hex: the
 * signature over the body or signed_body, tampered as the mode requires.
 */
static int
vector_signature(struct discord_state *st, const struct vector *v,
    const char *timestamp, char *hex, size_t hexsize, char *err,
    size_t errlen)
{
	const struct vector_sign *sign = &v->request.sign;
	const struct discord_key *key = &st->key;
	const unsigned char *body = v->request.body;
	size_t body_len = v->request.body_len;
	unsigned char sig[DISCORD_SIGNATURE_LEN];
	size_t len;

	if (sign->mode == VECTOR_SIGN_LITERAL) {
		snprintf(hex, hexsize, "%s", sign->signature);
		return 0;
	}
	if (sign->mode == VECTOR_SIGN_OTHER_KEY)
		key = &st->other;
	if (sign->mode == VECTOR_SIGN_BODY_CHANGED) {
		body = sign->signed_body;
		body_len = sign->signed_body_len;
	}
	if (sign_in(key, st->message, st->message_size, timestamp, body,
	    body_len, sig) == -1) {
		snprintf(err, errlen, "%s: signing failed", v->name);
		return -1;
	}
	if (sign->mode == VECTOR_SIGN_FLIP_BIT) {
		if (sign->bit >= 8 * DISCORD_SIGNATURE_LEN) {
			snprintf(err, errlen, "%s: bit %u is outside the "
			    "%d-bit signature", v->name, sign->bit,
			    8 * DISCORD_SIGNATURE_LEN);
			return -1;
		}
		sig[sign->bit / 8] ^= (unsigned char)(1u << (sign->bit % 8));
	}
	sodium_bin2hex(hex, hexsize, sig, sizeof(sig));

	/* A resized signature is cut short or padded with '0' digits. */
	if (sign->mode == VECTOR_SIGN_RESIZED) {
		if (sign->hex_length >= hexsize) {
			snprintf(err, errlen, "%s: hex_length %zu is too "
			    "long", v->name, sign->hex_length);
			return -1;
		}
		for (len = strlen(hex); len < sign->hex_length; len++)
			hex[len] = '0';
		hex[sign->hex_length] = '\0';
	}
	return 0;
}

/* Copies the vector's own method, path, headers and body into req. */
static int
vector_base(const struct vector *v, struct servicetype_request *req,
    char *err, size_t errlen)
{
	const struct vector_header *h;
	size_t i;

	if (servicetype_request_init(req, v->request.method,
	    v->request.path) == -1 ||
	    servicetype_request_set_body(req, v->request.body,
	    v->request.body_len) == -1) {
		snprintf(err, errlen, "%s: method, path or body does not fit "
		    "a request", v->name);
		return -1;
	}
	for (i = 0; i < v->request.nheaders; i++) {
		h = &v->request.headers[i];
		if (v->request.sign.mode != VECTOR_SIGN_NONE &&
		    (strcasecmp(h->name, HEADER_SIGNATURE) == 0 ||
		    strcasecmp(h->name, HEADER_TIMESTAMP) == 0)) {
			snprintf(err, errlen, "%s: header %s is set by the "
			    "signer; use sign mode \"none\" or \"literal\"",
			    v->name, h->name);
			return -1;
		}
		if (servicetype_request_add_header(req, h->name,
		    h->value) == -1) {
			snprintf(err, errlen, "%s: header %s does not fit a "
			    "request", v->name, h->name);
			return -1;
		}
	}
	return 0;
}

static int
discord_prepare_vector(void *arg, const struct vector *v, time_t now,
    struct servicetype_request *req, char *err, size_t errlen)
{
	struct discord_state *st = arg;
	enum vector_sign_mode mode = v->request.sign.mode;
	char hex[SERVICETYPE_HEADER_VALUE_MAX];
	char timestamp[DISCORD_TIMESTAMP_MAX];

	if (vector_base(v, req, err, errlen) == -1)
		return -1;
	if (mode == VECTOR_SIGN_NONE)
		return 0;

	vector_timestamp(&v->request.sign, now, timestamp, sizeof(timestamp));
	if (vector_signature(st, v, timestamp, hex, sizeof(hex), err,
	    errlen) == -1)
		return -1;
	if (mode != VECTOR_SIGN_OMIT_SIGNATURE && mode != VECTOR_SIGN_OMIT_BOTH &&
	    servicetype_request_add_header(req, HEADER_SIGNATURE, hex) == -1)
		goto toomany;
	if (mode != VECTOR_SIGN_OMIT_TIMESTAMP && mode != VECTOR_SIGN_OMIT_BOTH &&
	    servicetype_request_add_header(req, HEADER_TIMESTAMP,
	    timestamp) == -1)
		goto toomany;
	return 0;

toomany:
	snprintf(err, errlen, "%s: too many headers for one request", v->name);
	return -1;
}

const struct servicetype discord_servicetype = {
	.name = "discord-webhook",
	.secret_len = DISCORD_SEED_LEN,
	.create = discord_create,
	.destroy = discord_destroy,
	.export_secret = discord_export_secret,
	.service_env = discord_service_env,
	.test_request = discord_test_request,
	.check_response = discord_check_response,
	.prepare_vector = discord_prepare_vector,
};

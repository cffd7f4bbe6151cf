/*
 * Tests of the discord-webhook service type: Ed25519 against RFC 8032
 * section 7.1 (TEST 1 and TEST 2), signing over exactly the bytes sent,
 * the test request and its response check, and every tamper mode of a
 * contract vector.
 */
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
#include <sodium.h>

#include "measured/discord.h"
#include "measured/servicetype.h"
#include "measured/vectors.h"

/* RFC 8032, section 7.1, TEST 1: an empty message. */
static const char test1_seed[] =
    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
static const char test1_public[] =
    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static const char test1_signature[] =
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8"
    "821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";

/* RFC 8032, section 7.1, TEST 2: the one-byte message 0x72. */
static const char test2_seed[] =
    "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
static const char test2_public[] =
    "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
static const char test2_signature[] =
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085a"
    "c1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

/* The TEST 1 key signing what Discord signs: timestamp 1700000000 followed
 * by the body {"type":1}, the message 1700000000{"type":1}. */
#define DISCORD_TIMESTAMP	"1700000000"
#define DISCORD_NOW		1700000000
#define PING			"{\"type\":1}"
static const char discord_signature[] =
    "1695961a47c91a1ec033b819b7e87e3dbc583dd0cee6d1fd0216f58ac87b6228ae53"
    "1ddbf91fb7bc28d7edf7f08604da16f54624f38a6bc0614e4dc13cd47f0f";

static void
hex_to_bin(const char *hex, unsigned char *out, size_t len)
{
	size_t bin_len = 0;

	assert_int_equal(strlen(hex), 2 * len);
	assert_int_equal(sodium_hex2bin(out, len, hex, strlen(hex), NULL,
	    &bin_len, NULL), 0);
	assert_int_equal(bin_len, len);
}

static void
key_from_hex_seed(struct discord_key *key, const char *seed_hex)
{
	unsigned char seed[DISCORD_SEED_LEN];

	hex_to_bin(seed_hex, seed, sizeof(seed));
	assert_int_equal(discord_key_from_seed(key, seed, sizeof(seed)), 0);
}

static void
assert_signature_hex(const unsigned char *sig, const char *expected)
{
	char hex[DISCORD_SIGNATURE_HEX_SIZE];

	sodium_bin2hex(hex, sizeof(hex), sig, DISCORD_SIGNATURE_LEN);
	assert_string_equal(hex, expected);
}

static void
rfc8032_test1(void **state)
{
	struct discord_key key = { { 0 }, NULL };
	unsigned char sig[DISCORD_SIGNATURE_LEN];
	char hex[DISCORD_PUBLIC_KEY_HEX_SIZE];

	key_from_hex_seed(&key, test1_seed);
	assert_int_equal(discord_key_public_hex(&key, hex, sizeof(hex)), 0);
	assert_string_equal(hex, test1_public);

	assert_int_equal(discord_sign(&key, "", NULL, 0, sig), 0);
	assert_signature_hex(sig, test1_signature);
	assert_int_equal(discord_verify(key.public_key, "", NULL, 0, sig), 0);
	discord_key_clear(&key);
}

static void
rfc8032_test2(void **state)
{
	static const unsigned char message[] = { 0x72 };
	struct discord_key key = { { 0 }, NULL };
	unsigned char sig[DISCORD_SIGNATURE_LEN];
	char hex[DISCORD_PUBLIC_KEY_HEX_SIZE];

	key_from_hex_seed(&key, test2_seed);
	assert_int_equal(discord_key_public_hex(&key, hex, sizeof(hex)), 0);
	assert_string_equal(hex, test2_public);

	assert_int_equal(discord_sign(&key, "", message, 1, sig), 0);
	assert_signature_hex(sig, test2_signature);

	/* The byte 0x72 is "r": given as the timestamp it signs the same
	 * message, since nothing separates timestamp and body. */
	assert_int_equal(discord_sign(&key, "r", NULL, 0, sig), 0);
	assert_signature_hex(sig, test2_signature);
	discord_key_clear(&key);
}

static void
discord_style_vector(void **state)
{
	struct discord_key key = { { 0 }, NULL };
	unsigned char sig[DISCORD_SIGNATURE_LEN];

	key_from_hex_seed(&key, test1_seed);
	assert_int_equal(discord_sign(&key, DISCORD_TIMESTAMP,
	    (const unsigned char *)PING, strlen(PING), sig), 0);
	assert_signature_hex(sig, discord_signature);

	/* Moving the split between timestamp and body keeps the bytes. */
	assert_int_equal(discord_sign(&key, "17000",
	    (const unsigned char *)"00000" PING, strlen("00000" PING), sig), 0);
	assert_signature_hex(sig, discord_signature);
	discord_key_clear(&key);
}

static void
verify_rejects_changed_bytes(void **state)
{
	static const char *const bodies[] = {
		"{\"type\": 1}", PING "\n", " " PING, "{\"type\":2}", "",
	};
	unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
	unsigned char sig[DISCORD_SIGNATURE_LEN];
	size_t i;

	hex_to_bin(test1_public, public_key, sizeof(public_key));
	hex_to_bin(discord_signature, sig, sizeof(sig));
	assert_int_equal(discord_verify(public_key, DISCORD_TIMESTAMP,
	    (const unsigned char *)PING, strlen(PING), sig), 0);

	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
		assert_int_equal(discord_verify(public_key, DISCORD_TIMESTAMP,
		    (const unsigned char *)bodies[i], strlen(bodies[i]), sig),
		    -1);
	assert_int_equal(discord_verify(public_key, "1700000001",
	    (const unsigned char *)PING, strlen(PING), sig), -1);

	/* Every single flipped bit of the signature invalidates it. */
	for (i = 0; i < 8 * sizeof(sig); i++) {
		sig[i / 8] ^= (unsigned char)(1u << (i % 8));
		if (discord_verify(public_key, DISCORD_TIMESTAMP,
		    (const unsigned char *)PING, strlen(PING), sig) != -1)
			fail_msg("signature with bit %zu flipped verified", i);
		sig[i / 8] ^= (unsigned char)(1u << (i % 8));
	}
}

static void
key_generate_is_random(void **state)
{
	struct discord_key a = { { 0 }, NULL }, b = { { 0 }, NULL };
	unsigned char seed[DISCORD_SEED_LEN];
	struct discord_key c = { { 0 }, NULL };

	assert_int_equal(discord_key_generate(&a), 0);
	assert_int_equal(discord_key_generate(&b), 0);
	assert_memory_not_equal(a.public_key, b.public_key,
	    sizeof(a.public_key));

	/* The exported seed restores the same key pair. */
	assert_int_equal(discord_key_seed(&a, seed, sizeof(seed)), 0);
	assert_int_equal(discord_key_from_seed(&c, seed, sizeof(seed)), 0);
	assert_memory_equal(a.public_key, c.public_key, sizeof(a.public_key));
	assert_int_equal(discord_key_from_seed(&c, seed, sizeof(seed) - 1),
	    -1);

	discord_key_clear(&a);
	discord_key_clear(&b);
	discord_key_clear(&c);
	discord_key_clear(&c);
	assert_null(a.secret_key);
}

/* A discord-webhook state with the TEST 1 key pair. */
static int
setup_state(void **state)
{
	unsigned char seed[DISCORD_SEED_LEN];
	char err[256];

	hex_to_bin(test1_seed, seed, sizeof(seed));
	*state = discord_servicetype.create(seed, sizeof(seed), err,
	    sizeof(err));
	return *state == NULL ? -1 : 0;
}

static int
teardown_state(void **state)
{
	discord_servicetype.destroy(*state);
	return 0;
}

static void
servicetype_table(void **state)
{
	unsigned char seed[DISCORD_SEED_LEN], expected[DISCORD_SEED_LEN];
	json_t *env;
	char err[256];

	assert_ptr_equal(servicetype_find("discord-webhook"),
	    &discord_servicetype);
	assert_null(servicetype_find("discord"));
	assert_int_equal(discord_servicetype.secret_len, DISCORD_SEED_LEN);

	env = json_object();
	assert_non_null(env);
	assert_int_equal(discord_servicetype.service_env(*state, env), 0);
	assert_string_equal(json_string_value(json_object_get(env,
	    "DISCORD_PUBLIC_KEY")), test1_public);
	json_decref(env);

	assert_int_equal(discord_servicetype.export_secret(*state, seed,
	    sizeof(seed)), 0);
	hex_to_bin(test1_seed, expected, sizeof(expected));
	assert_memory_equal(seed, expected, sizeof(seed));

	/* A secret of the wrong size is rejected with a reason. */
	assert_null(discord_servicetype.create(seed, 31, err, sizeof(err)));
	assert_non_null(strstr(err, "32-byte"));
}

static void
test_request_is_signed_ping(void **state)
{
	static struct servicetype_request req;
	static char raw[SERVICETYPE_BODY_MAX + 4096];
	char expected[1024];
	ssize_t len;

	assert_int_equal(discord_servicetype.test_request(*state, DISCORD_NOW,
	    &req), 0);
	assert_string_equal(req.method, "POST");
	assert_string_equal(req.path, "/interactions");
	assert_int_equal(req.body_len, strlen(PING));
	assert_memory_equal(req.body, PING, req.body_len);
	assert_string_equal(servicetype_request_header(&req,
	    "x-signature-timestamp"), DISCORD_TIMESTAMP);
	assert_string_equal(servicetype_request_header(&req,
	    "X-Signature-Ed25519"), discord_signature);

	len = servicetype_format_http1(&req, "127.0.0.1:8080", raw,
	    sizeof(raw));
	snprintf(expected, sizeof(expected),
	    "POST /interactions HTTP/1.1\r\n"
	    "Host: 127.0.0.1:8080\r\n"
	    "Content-Type: application/json\r\n"
	    "User-Agent: perf-agent\r\n"
	    "X-Signature-Ed25519: %s\r\n"
	    "X-Signature-Timestamp: " DISCORD_TIMESTAMP "\r\n"
	    "Content-Length: 10\r\n"
	    "\r\n" PING, discord_signature);
	assert_int_equal(len, (ssize_t)strlen(expected));
	assert_string_equal(raw, expected);

	/* Too small a buffer is an error, never a cut request. */
	assert_int_equal(servicetype_format_http1(&req, "h", raw, 100), -1);
	assert_int_equal(servicetype_format_http1(&req, "h", raw,
	    strlen(expected) - 20), -1);
}

struct response_case {
	const char	*name;
	int		 status;
	const char	*content_type;
	const char	*body;
	int		 ok;
};

static void
check_response_cases(void **state)
{
	static const struct response_case cases[] = {
		{ "pong", 200, "application/json", PING, 1 },
		{ "charset", 200, "application/json; charset=utf-8", PING, 1 },
		{ "upper case type", 200, "Application/JSON", PING, 1 },
		{ "spaces", 200, "application/json", "{ \"type\": 1 }\n", 1 },
		{ "status 401", 401, "application/json", PING, 0 },
		{ "status 500", 500, "application/json", PING, 0 },
		{ "no content type", 200, NULL, PING, 0 },
		{ "text/plain", 200, "text/plain", PING, 0 },
		{ "json suffix", 200, "application/jsonx", PING, 0 },
		{ "deferred", 200, "application/json", "{\"type\":5}", 0 },
		{ "type 11", 200, "application/json", "{\"type\":11}", 0 },
		{ "trailing text", 200, "application/json", PING "x", 0 },
		{ "cut short", 200, "application/json", "{\"type\":1", 0 },
		{ "empty", 200, "application/json", "", 0 },
	};
	struct servicetype_response resp;
	char why[256];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		resp.status = cases[i].status;
		resp.content_type = cases[i].content_type;
		resp.content_type_len = cases[i].content_type != NULL ?
		    strlen(cases[i].content_type) : 0;
		resp.body = (const unsigned char *)cases[i].body;
		resp.body_len = strlen(cases[i].body);
		why[0] = '\0';
		rc = discord_servicetype.check_response(*state, &resp, why,
		    sizeof(why));
		if (rc != (cases[i].ok ? 0 : -1))
			fail_msg("case %s: check returned %d", cases[i].name,
			    rc);
		if (!cases[i].ok && why[0] == '\0')
			fail_msg("case %s: no reason given", cases[i].name);
	}
}

/*
 * Writable copies of the strings the hand-built vectors point to, since
 * struct vector contains the loader's own (non-const) copies.
 */
static char name_ping[] = "ping";
static char text_test[] = "test";
static char method_post[] = "POST";
static char path_interactions[] = "/interactions";
static unsigned char body_ping[] = PING;
static unsigned char body_extra_space[] = "{\"type\": 1}";
static char header_content_type[] = "Content-Type";
static char value_json[] = "application/json";
static char header_signature[] = "x-signature-ed25519";
static char value_00[] = "00";
static char text_empty[] = "";
static char text_not_hex[] = "not-valid-hex!";
static char text_not_timestamp[] = "not-a-timestamp";

/* A PING vector signed in the given mode, built without the loader. */
static void
ping_vector(struct vector *v, enum vector_sign_mode mode)
{
	static struct vector_header header = { header_content_type,
	    value_json };

	memset(v, 0, sizeof(*v));
	v->name = name_ping;
	v->description = text_test;
	v->request.method = method_post;
	v->request.path = path_interactions;
	v->request.headers = &header;
	v->request.nheaders = 1;
	v->request.body = body_ping;
	v->request.body_len = strlen(PING);
	v->request.sign.mode = mode;
}

static struct servicetype_request prepared;

/* Prepares v at DISCORD_NOW and returns the request. */
static struct servicetype_request *
prepare(void **state, const struct vector *v)
{
	char err[256];

	if (discord_servicetype.prepare_vector(*state, v, DISCORD_NOW,
	    &prepared, err, sizeof(err)) == -1)
		fail_msg("prepare failed: %s", err);
	return &prepared;
}

static const char *
signature_header(const struct servicetype_request *req)
{
	return servicetype_request_header(req, "X-Signature-Ed25519");
}

static const char *
timestamp_header(const struct servicetype_request *req)
{
	return servicetype_request_header(req, "X-Signature-Timestamp");
}

static void
vector_valid_and_none(void **state)
{
	struct servicetype_request *req;
	struct vector v;

	ping_vector(&v, VECTOR_SIGN_VALID);
	req = prepare(state, &v);
	assert_string_equal(signature_header(req), discord_signature);
	assert_string_equal(timestamp_header(req), DISCORD_TIMESTAMP);
	assert_string_equal(servicetype_request_header(req, "Content-Type"),
	    "application/json");
	assert_memory_equal(req->body, PING, req->body_len);

	ping_vector(&v, VECTOR_SIGN_NONE);
	req = prepare(state, &v);
	assert_null(signature_header(req));
	assert_null(timestamp_header(req));
	assert_int_equal(req->nheaders, 1);
}

static void
vector_flip_bit(void **state)
{
	unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
	unsigned char sig[DISCORD_SIGNATURE_LEN];
	struct servicetype_request *req;
	char err[256];
	struct vector v;

	ping_vector(&v, VECTOR_SIGN_FLIP_BIT);
	v.request.sign.bit = 0;
	req = prepare(state, &v);
	/* Bit 0 of the first byte: 0x16 becomes 0x17, the rest is kept. */
	assert_int_equal(strncmp(signature_header(req), "17", 2), 0);
	assert_string_equal(signature_header(req) + 2, discord_signature + 2);
	assert_string_equal(timestamp_header(req), DISCORD_TIMESTAMP);

	hex_to_bin(test1_public, public_key, sizeof(public_key));
	hex_to_bin(signature_header(req), sig, sizeof(sig));
	assert_int_equal(discord_verify(public_key, DISCORD_TIMESTAMP,
	    req->body, req->body_len, sig), -1);

	/* Bit 511 is the top bit of the last byte, 0x0f becomes 0x8f. */
	v.request.sign.bit = 511;
	req = prepare(state, &v);
	assert_string_equal(signature_header(req) + 126, "8f");
	assert_int_equal(strncmp(signature_header(req), discord_signature,
	    126), 0);

	v.request.sign.bit = 512;
	assert_int_equal(discord_servicetype.prepare_vector(*state, &v,
	    DISCORD_NOW, &prepared, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bit 512"));
}

static void
vector_body_changed(void **state)
{
	static const char sent[] = "{\"type\": 1}";
	struct servicetype_request *req;
	struct vector v;

	ping_vector(&v, VECTOR_SIGN_BODY_CHANGED);
	v.request.body = body_extra_space;
	v.request.body_len = strlen(sent);
	v.request.sign.signed_body = body_ping;
	v.request.sign.signed_body_len = strlen(PING);
	req = prepare(state, &v);

	/* Signed over {"type":1}, sent with the extra space. */
	assert_string_equal(signature_header(req), discord_signature);
	assert_int_equal(req->body_len, strlen(sent));
	assert_memory_equal(req->body, sent, strlen(sent));
}

static void
vector_other_key(void **state)
{
	unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
	unsigned char sig[DISCORD_SIGNATURE_LEN];
	struct servicetype_request *req;
	struct vector v;

	ping_vector(&v, VECTOR_SIGN_OTHER_KEY);
	req = prepare(state, &v);
	assert_string_not_equal(signature_header(req), discord_signature);
	hex_to_bin(test1_public, public_key, sizeof(public_key));
	hex_to_bin(signature_header(req), sig, sizeof(sig));
	assert_int_equal(discord_verify(public_key, DISCORD_TIMESTAMP,
	    req->body, req->body_len, sig), -1);
}

static void
vector_omissions(void **state)
{
	struct servicetype_request *req;
	struct vector v;

	ping_vector(&v, VECTOR_SIGN_OMIT_TIMESTAMP);
	req = prepare(state, &v);
	assert_string_equal(signature_header(req), discord_signature);
	assert_null(timestamp_header(req));

	ping_vector(&v, VECTOR_SIGN_OMIT_SIGNATURE);
	req = prepare(state, &v);
	assert_null(signature_header(req));
	assert_string_equal(timestamp_header(req), DISCORD_TIMESTAMP);

	ping_vector(&v, VECTOR_SIGN_OMIT_BOTH);
	req = prepare(state, &v);
	assert_null(signature_header(req));
	assert_null(timestamp_header(req));
}

static void
vector_resized_and_literal(void **state)
{
	struct servicetype_request *req;
	char padded[DISCORD_SIGNATURE_HEX_SIZE + 2];
	struct vector v;

	ping_vector(&v, VECTOR_SIGN_RESIZED);
	v.request.sign.hex_length = 126;
	req = prepare(state, &v);
	assert_int_equal(strlen(signature_header(req)), 126);
	assert_int_equal(strncmp(signature_header(req), discord_signature,
	    126), 0);

	v.request.sign.hex_length = 130;
	req = prepare(state, &v);
	snprintf(padded, sizeof(padded), "%s00", discord_signature);
	assert_string_equal(signature_header(req), padded);

	ping_vector(&v, VECTOR_SIGN_LITERAL);
	v.request.sign.signature = text_empty;
	req = prepare(state, &v);
	assert_non_null(signature_header(req));
	assert_string_equal(signature_header(req), "");
	assert_string_equal(timestamp_header(req), DISCORD_TIMESTAMP);

	v.request.sign.signature = text_not_hex;
	req = prepare(state, &v);
	assert_string_equal(signature_header(req), "not-valid-hex!");
}

static void
vector_timestamps(void **state)
{
	unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
	unsigned char sig[DISCORD_SIGNATURE_LEN];
	struct servicetype_request *req;
	struct vector v;

	hex_to_bin(test1_public, public_key, sizeof(public_key));

	ping_vector(&v, VECTOR_SIGN_VALID);
	v.request.sign.timestamp_offset = -600;
	req = prepare(state, &v);
	assert_string_equal(timestamp_header(req), "1699999400");
	hex_to_bin(signature_header(req), sig, sizeof(sig));
	assert_int_equal(discord_verify(public_key, "1699999400", req->body,
	    req->body_len, sig), 0);

	ping_vector(&v, VECTOR_SIGN_VALID);
	v.request.sign.timestamp = text_not_timestamp;
	req = prepare(state, &v);
	assert_string_equal(timestamp_header(req), "not-a-timestamp");
	hex_to_bin(signature_header(req), sig, sizeof(sig));
	assert_int_equal(discord_verify(public_key, "not-a-timestamp",
	    req->body, req->body_len, sig), 0);
}

static void
vector_own_signature_header_rejected(void **state)
{
	static struct vector_header header = { header_signature, value_00 };
	char err[256];
	struct vector v;

	ping_vector(&v, VECTOR_SIGN_VALID);
	v.request.headers = &header;
	assert_int_equal(discord_servicetype.prepare_vector(*state, &v,
	    DISCORD_NOW, &prepared, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "set by the signer"));

	/* With mode none the vector's own header is sent as written. */
	ping_vector(&v, VECTOR_SIGN_NONE);
	v.request.headers = &header;
	assert_string_equal(signature_header(prepare(state, &v)), "00");
}

static void
request_header_limits(void **state)
{
	static struct servicetype_request req;
	char long_value[SERVICETYPE_HEADER_VALUE_MAX + 1];
	size_t i;

	assert_int_equal(servicetype_request_init(&req, "POST", "/x"), 0);
	assert_int_equal(servicetype_request_init(&req, "POST", "x"), -1);
	assert_int_equal(servicetype_request_init(&req, "PO ST", "/x"), -1);
	assert_int_equal(servicetype_request_init(&req, "POST", "/x"), 0);
	assert_int_equal(servicetype_request_add_header(&req, "A", "b\r\nC: d"),
	    -1);
	assert_int_equal(servicetype_request_add_header(&req, "A:", "b"), -1);
	memset(long_value, 'v', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	assert_int_equal(servicetype_request_add_header(&req, "A", long_value),
	    -1);
	for (i = 0; i < SERVICETYPE_HEADERS_MAX; i++)
		assert_int_equal(servicetype_request_add_header(&req, "A", "b"),
		    0);
	assert_int_equal(servicetype_request_add_header(&req, "A", "b"), -1);
	assert_int_equal(servicetype_request_set_body(&req, long_value,
	    SERVICETYPE_BODY_MAX + 1), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rfc8032_test1),
		cmocka_unit_test(rfc8032_test2),
		cmocka_unit_test(discord_style_vector),
		cmocka_unit_test(verify_rejects_changed_bytes),
		cmocka_unit_test(key_generate_is_random),
		cmocka_unit_test_setup_teardown(servicetype_table,
		    setup_state, teardown_state),
		cmocka_unit_test_setup_teardown(test_request_is_signed_ping,
		    setup_state, teardown_state),
		cmocka_unit_test_setup_teardown(check_response_cases,
		    setup_state, teardown_state),
		cmocka_unit_test_setup_teardown(vector_valid_and_none,
		    setup_state, teardown_state),
		cmocka_unit_test_setup_teardown(vector_flip_bit,
		    setup_state, teardown_state),
		cmocka_unit_test_setup_teardown(vector_body_changed,
		    setup_state, teardown_state),
		cmocka_unit_test_setup_teardown(vector_other_key,
		    setup_state, teardown_state),
		cmocka_unit_test_setup_teardown(vector_omissions,
		    setup_state, teardown_state),
		cmocka_unit_test_setup_teardown(vector_resized_and_literal,
		    setup_state, teardown_state),
		cmocka_unit_test_setup_teardown(vector_timestamps,
		    setup_state, teardown_state),
		cmocka_unit_test_setup_teardown(
		    vector_own_signature_header_rejected, setup_state,
		    teardown_state),
		cmocka_unit_test(request_header_limits),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

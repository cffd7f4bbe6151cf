/* Frame codec tests: table-driven cases over hand-built msgpack frames. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame.h"
#include "proto.h"

/* Appends the 4-byte length of the payload that follows it in sb. */
static void
finish_frame(msgpack_sbuffer *sb, size_t start)
{
	size_t size = sb->size - start - FRAME_HEADER_SIZE;

	sb->data[start] = (char)(size >> 24);
	sb->data[start + 1] = (char)(size >> 16);
	sb->data[start + 2] = (char)(size >> 8);
	sb->data[start + 3] = (char)size;
}

enum variant {
	V_VALID,
	V_BAD_VERSION,
	V_TYPE_STRING,
	V_UNKNOWN_TYPE,
	V_NO_ID,
	V_BODY_ARRAY,
	V_TRUNCATED_MAP,
	V_TRAILING_BYTE,
	V_BAD_UTF8,
	V_NOT_MAP,
};

/* Builds one frame of the given variant into sb. */
static void
build_frame(msgpack_sbuffer *sb, enum variant v)
{
	static const char zero[FRAME_HEADER_SIZE];
	msgpack_packer pk;
	size_t start = sb->size;

	msgpack_sbuffer_write(sb, zero, sizeof(zero));
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (v == V_NOT_MAP) {
		msgpack_pack_array(&pk, 0);
		finish_frame(sb, start);
		return;
	}
	msgpack_pack_map(&pk, v == V_NO_ID ? 3 : 4);
	msgpack_pack_str_with_body(&pk, "v", 1);
	msgpack_pack_uint32(&pk, v == V_BAD_VERSION ? 99 : PROTO_VERSION);
	msgpack_pack_str_with_body(&pk, "t", 1);
	if (v == V_TYPE_STRING)
		msgpack_pack_str_with_body(&pk, "ping", 4);
	else
		msgpack_pack_uint32(&pk, v == V_UNKNOWN_TYPE ? 9999 : MSG_PING);
	if (v != V_NO_ID) {
		msgpack_pack_str_with_body(&pk, "id", 2);
		msgpack_pack_uint64(&pk, 42);
	}
	msgpack_pack_str_with_body(&pk, "body", 4);
	if (v == V_BODY_ARRAY) {
		msgpack_pack_array(&pk, 0);
	} else if (v == V_TRUNCATED_MAP) {
		/* Announces two entries and carries one. */
		msgpack_pack_map(&pk, 2);
		msgpack_pack_str_with_body(&pk, "a", 1);
		msgpack_pack_int(&pk, 1);
	} else {
		msgpack_pack_map(&pk, 1);
		msgpack_pack_str_with_body(&pk, "name", 4);
		if (v == V_BAD_UTF8)
			msgpack_pack_str_with_body(&pk, "\xff\xfe", 2);
		else
			msgpack_pack_str_with_body(&pk, "stated", 6);
	}
	if (v == V_TRAILING_BYTE)
		msgpack_pack_nil(&pk);
	finish_frame(sb, start);
}

struct invalid_case {
	const char	*name;
	enum variant	 variant;
	int		 has_id;
	const char	*message;	/* expected part of the error */
};

static const struct invalid_case invalid_cases[] = {
	{ "version mismatch", V_BAD_VERSION, 1, "protocol version 99" },
	{ "type of wrong kind", V_TYPE_STRING, 1, "field \"t\"" },
	{ "unknown type", V_UNKNOWN_TYPE, 1, "unknown message type 9999" },
	{ "missing id", V_NO_ID, 0, "field \"id\"" },
	{ "body not a map", V_BODY_ARRAY, 1, "field \"body\"" },
	{ "truncated msgpack", V_TRUNCATED_MAP, 0, "truncated msgpack" },
	{ "byte after the map", V_TRAILING_BYTE, 0, "after the msgpack map" },
	{ "string not UTF-8", V_BAD_UTF8, 1, "UTF-8" },
	{ "envelope not a map", V_NOT_MAP, 0, "not a msgpack map" },
};

static void
test_invalid_frames(void **state)
{
	size_t i, consumed;

	for (i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]);
	    i++) {
		const struct invalid_case *c = &invalid_cases[i];
		msgpack_sbuffer sb;
		struct frame f;
		char err[256] = "";

		print_message("case: %s\n", c->name);
		msgpack_sbuffer_init(&sb);
		build_frame(&sb, c->variant);
		assert_int_equal(frame_parse((uint8_t *)sb.data, sb.size,
		    &consumed, &f, err, sizeof(err)), FRAME_INVALID);
		assert_int_equal(consumed, sb.size);
		assert_int_equal(f.has_id, c->has_id);
		if (c->has_id)
			assert_int_equal(f.id, 42);
		assert_non_null(strstr(err, c->message));
		assert_null(f.body);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void
test_valid_frame(void **state)
{
	msgpack_sbuffer sb;
	struct frame f;
	size_t consumed;
	char err[256];

	msgpack_sbuffer_init(&sb);
	build_frame(&sb, V_VALID);
	assert_int_equal(frame_parse((uint8_t *)sb.data, sb.size, &consumed,
	    &f, err, sizeof(err)), FRAME_DECODED);
	assert_int_equal(consumed, sb.size);
	assert_int_equal(f.type, MSG_PING);
	assert_int_equal(f.id, 42);
	assert_string_equal(json_string_value(json_object_get(f.body,
	    "name")), "stated");
	frame_clear(&f);
	msgpack_sbuffer_destroy(&sb);
}

/* Two frames in one buffer, cut at every byte: nothing decodes before its
 * last byte arrives, and both decode once everything is there. */
static void
test_split_at_every_byte(void **state)
{
	json_t *body = json_pack("{s:s}", "object", "runs/a/results.json");
	msgpack_sbuffer sb;
	struct frame f;
	size_t cut, consumed, first;
	char err[256];

	msgpack_sbuffer_init(&sb);
	build_frame(&sb, V_VALID);
	first = sb.size;
	assert_int_equal(frame_encode(&sb, MSG_STATE_GET, 7, body), 0);
	json_decref(body);	/* frame_encode takes no reference */

	for (cut = 0; cut < first; cut++)
		assert_int_equal(frame_parse((uint8_t *)sb.data, cut,
		    &consumed, &f, err, sizeof(err)), FRAME_INCOMPLETE);
	for (cut = first; cut <= sb.size; cut++) {
		assert_int_equal(frame_parse((uint8_t *)sb.data, cut,
		    &consumed, &f, err, sizeof(err)), FRAME_DECODED);
		assert_int_equal(consumed, first);
		frame_clear(&f);
		if (cut < sb.size)
			assert_int_equal(frame_parse((uint8_t *)sb.data + first,
			    cut - first, &consumed, &f, err, sizeof(err)),
			    FRAME_INCOMPLETE);
	}
	assert_int_equal(frame_parse((uint8_t *)sb.data + first,
	    sb.size - first, &consumed, &f, err, sizeof(err)), FRAME_DECODED);
	assert_int_equal(f.type, MSG_STATE_GET);
	assert_int_equal(f.id, 7);
	assert_string_equal(json_string_value(json_object_get(f.body,
	    "object")), "runs/a/results.json");
	frame_clear(&f);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_length_limits(void **state)
{
	static const uint8_t zero[] = { 0, 0, 0, 0, 0x80 };
	uint8_t over[FRAME_HEADER_SIZE];
	uint32_t size = FRAME_MAX_SIZE + 1;
	struct frame f;
	size_t consumed;
	char err[256];

	assert_int_equal(frame_parse(zero, sizeof(zero), &consumed, &f, err,
	    sizeof(err)), FRAME_BROKEN);
	assert_non_null(strstr(err, "zero-length"));

	/* The oversize length is rejected from the header alone. */
	over[0] = (uint8_t)(size >> 24);
	over[1] = (uint8_t)(size >> 16);
	over[2] = (uint8_t)(size >> 8);
	over[3] = (uint8_t)size;
	assert_int_equal(frame_parse(over, sizeof(over), &consumed, &f, err,
	    sizeof(err)), FRAME_BROKEN);
	assert_non_null(strstr(err, "exceeds the limit"));
}

static void
test_round_trip_types(void **state)
{
	json_t *body = json_pack("{s:i, s:I, s:f, s:b, s:n, s:[s, {s:s}], "
	    "s:s}", "small", -5, "large", (json_int_t)1 << 40, "real", 146.5,
	    "flag", 1, "none", "list", "a", "k", "v", "utf8", "caf\xc3\xa9");
	msgpack_sbuffer sb;
	struct frame f;
	size_t consumed;
	char err[256];

	msgpack_sbuffer_init(&sb);
	assert_int_equal(frame_encode(&sb, MSG_STATE_PUT, UINT64_MAX, body),
	    0);
	assert_int_equal(frame_parse((uint8_t *)sb.data, sb.size, &consumed,
	    &f, err, sizeof(err)), FRAME_DECODED);
	assert_int_equal(f.id, UINT64_MAX);
	assert_true(json_equal(f.body, body));
	frame_clear(&f);
	json_decref(body);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_encode_rejects_non_object(void **state)
{
	json_t *array = json_array();
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	assert_int_equal(frame_encode(&sb, MSG_PING, 1, array), -1);
	assert_int_equal(sb.size, 0);
	json_decref(array);
	msgpack_sbuffer_destroy(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_frame),
		cmocka_unit_test(test_invalid_frames),
		cmocka_unit_test(test_split_at_every_byte),
		cmocka_unit_test(test_length_limits),
		cmocka_unit_test(test_round_trip_types),
		cmocka_unit_test(test_encode_rejects_non_object),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

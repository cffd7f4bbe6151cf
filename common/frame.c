/* IPC frame encoding and decoding. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "frame.h"
#include "jsonpack.h"
#include "proto.h"

uint32_t
frame_length(const uint8_t *buf)
{
	return (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
	    (uint32_t)buf[2] << 8 | (uint32_t)buf[3];
}

void
frame_clear(struct frame *frame)
{
	json_decref(frame->body);
	memset(frame, 0, sizeof(*frame));
}

static int
frame_key_is(const msgpack_object *key, const char *name)
{
	size_t len = strlen(name);

	return key->type == MSGPACK_OBJECT_STR && key->via.str.size == len &&
	    memcmp(key->via.str.ptr, name, len) == 0;
}

/* Reads an unsigned integer field; -1 when it has another type. */
static int
frame_uint(const msgpack_object *o, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return -1;
	*out = o->via.u64;
	return 0;
}

/* Checks the envelope map and fills frame from it. */
static int
frame_decode_envelope(const msgpack_object *root, struct frame *frame,
    char *err, size_t errlen)
{
	const msgpack_object *version = NULL, *type = NULL, *id = NULL;
	const msgpack_object *body = NULL;
	uint64_t v, t;
	uint32_t i;

	if (root->type != MSGPACK_OBJECT_MAP) {
		snprintf(err, errlen, "frame is not a msgpack map");
		return -1;
	}
	for (i = 0; i < root->via.map.size; i++) {
		const msgpack_object_kv *kv = &root->via.map.ptr[i];

		if (frame_key_is(&kv->key, "v"))
			version = &kv->val;
		else if (frame_key_is(&kv->key, "t"))
			type = &kv->val;
		else if (frame_key_is(&kv->key, "id"))
			id = &kv->val;
		else if (frame_key_is(&kv->key, "body"))
			body = &kv->val;
	}
	if (id != NULL && frame_uint(id, &frame->id) == 0)
		frame->has_id = 1;
	if (type != NULL && frame_uint(type, &t) == 0 && t <= UINT32_MAX)
		frame->type = (uint32_t)t;

	if (version == NULL || frame_uint(version, &v) == -1) {
		snprintf(err, errlen, "field \"v\" missing or not an "
		    "unsigned integer");
		return -1;
	}
	if (v != PROTO_VERSION) {
		snprintf(err, errlen, "protocol version %llu, expected %d",
		    (unsigned long long)v, PROTO_VERSION);
		return -1;
	}
	if (!frame->has_id) {
		snprintf(err, errlen, "field \"id\" missing or not an "
		    "unsigned integer");
		return -1;
	}
	if (type == NULL || frame_uint(type, &t) == -1 || t > UINT32_MAX) {
		snprintf(err, errlen, "field \"t\" missing or not a 32-bit "
		    "unsigned integer");
		return -1;
	}
	if (proto_type_name(frame->type) == NULL) {
		snprintf(err, errlen, "unknown message type %u", frame->type);
		return -1;
	}
	if (body == NULL || body->type != MSGPACK_OBJECT_MAP) {
		snprintf(err, errlen, "field \"body\" missing or not a map");
		return -1;
	}
	frame->body = jsonpack_unpack(body, err, errlen);
	return frame->body == NULL ? -1 : 0;
}

/* Reads a big-endian unsigned integer of width bytes at *pos. */
static int
frame_read_be(const uint8_t *p, size_t len, size_t *pos, size_t width,
    uint64_t *value)
{
	size_t i;

	if (len - *pos < width)
		return -1;
	*value = 0;
	for (i = 0; i < width; i++)
		*value = *value << 8 | p[(*pos)++];
	return 0;
}

/*
 * msgpack-c allocates the elements of an array or map as soon as it reads
 * the header, so five bytes declaring 2^32 - 1 elements make it allocate
 * about 100 GiB. This walk reads only the type headers, in order, and
 * rejects a payload whose containers declare more elements than bytes
 * remain, since every element takes at least one byte. A payload that
 * passes makes msgpack-c allocate at most one element per payload byte.
 * Truncated or malformed payloads return 0 here; msgpack-c rejects them.
 */
static int
frame_check_counts(const uint8_t *p, size_t len)
{
	/* Payload bytes after the header of fixext 1, 2, 4, 8 and 16. */
	static const uint8_t fixext[] = { 2, 3, 5, 9, 17 };
	uint64_t pending = 1, n, v;
	size_t pos = 0, width;
	uint8_t c;

	while (pending > 0) {
		if (pos >= len)
			return 0;
		c = p[pos++];
		pending--;
		n = 0;
		v = 0;
		if (c <= 0x7f || c >= 0xe0 || (c >= 0xc0 && c <= 0xc3))
			;	/* fixint, nil, never used, false, true */
		else if (c <= 0x8f)
			n = 2 * (uint64_t)(c & 0x0f);
		else if (c <= 0x9f)
			n = c & 0x0f;
		else if (c <= 0xbf)
			v = c & 0x1f;
		else if (c >= 0xc4 && c <= 0xc6) {	/* bin 8, 16, 32 */
			width = (size_t)1 << (c - 0xc4);
			if (frame_read_be(p, len, &pos, width, &v) == -1)
				return 0;
		} else if (c >= 0xc7 && c <= 0xc9) {	/* ext 8, 16, 32 */
			width = (size_t)1 << (c - 0xc7);
			if (frame_read_be(p, len, &pos, width, &v) == -1)
				return 0;
			v++;
		} else if (c == 0xca)
			v = 4;
		else if (c == 0xcb)
			v = 8;
		else if (c >= 0xcc && c <= 0xd3)	/* (u)int 8-64 */
			v = (uint64_t)1 << ((c - 0xcc) % 4);
		else if (c >= 0xd4 && c <= 0xd8)
			v = fixext[c - 0xd4];
		else if (c >= 0xd9 && c <= 0xdb) {	/* str 8, 16, 32 */
			width = (size_t)1 << (c - 0xd9);
			if (frame_read_be(p, len, &pos, width, &v) == -1)
				return 0;
		} else {			/* array or map 16, 32 */
			width = c == 0xdc || c == 0xde ? 2 : 4;
			if (frame_read_be(p, len, &pos, width, &n) == -1)
				return 0;
			if (c >= 0xde)
				n *= 2;
		}
		if (v > len - pos)
			return 0;
		pos += (size_t)v;
		pending += n;
		if (pending > len - pos)
			return -1;
	}
	return 0;
}

enum frame_result
frame_parse(const uint8_t *buf, size_t len, size_t *consumed,
    struct frame *frame, char *err, size_t errlen)
{
	msgpack_unpacked unpacked;
	msgpack_unpack_return ret;
	size_t offset = 0;
	uint32_t size;
	int rc;

	memset(frame, 0, sizeof(*frame));
	*consumed = 0;
	if (len < FRAME_HEADER_SIZE)
		return FRAME_INCOMPLETE;
	size = frame_length(buf);
	if (size == 0) {
		snprintf(err, errlen, "zero-length frame");
		return FRAME_BROKEN;
	}
	if (size > FRAME_MAX_SIZE) {
		snprintf(err, errlen, "frame of %u bytes exceeds the limit of "
		    "%u bytes", size, FRAME_MAX_SIZE);
		return FRAME_BROKEN;
	}
	if (len - FRAME_HEADER_SIZE < size)
		return FRAME_INCOMPLETE;
	*consumed = FRAME_HEADER_SIZE + (size_t)size;
	if (frame_check_counts(buf + FRAME_HEADER_SIZE, size) == -1) {
		snprintf(err, errlen, "truncated msgpack in a frame of %u "
		    "bytes: its containers declare more elements than bytes "
		    "remain", size);
		return FRAME_INVALID;
	}

	msgpack_unpacked_init(&unpacked);
	ret = msgpack_unpack_next(&unpacked,
	    (const char *)buf + FRAME_HEADER_SIZE, size, &offset);
	if (ret == MSGPACK_UNPACK_CONTINUE) {
		snprintf(err, errlen, "truncated msgpack in a frame of %u "
		    "bytes", size);
		rc = -1;
	} else if (ret != MSGPACK_UNPACK_SUCCESS &&
	    ret != MSGPACK_UNPACK_EXTRA_BYTES) {
		snprintf(err, errlen, "malformed msgpack in a frame of %u "
		    "bytes", size);
		rc = -1;
	} else if (offset != size) {
		snprintf(err, errlen, "%zu bytes after the msgpack map",
		    size - offset);
		rc = -1;
	} else
		rc = frame_decode_envelope(&unpacked.data, frame, err, errlen);
	msgpack_unpacked_destroy(&unpacked);
	if (rc == -1) {
		json_decref(frame->body);
		frame->body = NULL;
		return FRAME_INVALID;
	}
	return FRAME_DECODED;
}

int
frame_encode(msgpack_sbuffer *out, uint32_t type, uint64_t id,
    json_t *body)
{
	msgpack_packer pk;
	size_t start = out->size, size;
	static const char zero[FRAME_HEADER_SIZE];
	json_t *empty = NULL;
	int rc = -1;

	/* Reserve the length prefix, then fill it in once the size is known. */
	if (msgpack_sbuffer_write(out, zero, sizeof(zero)) != 0)
		return -1;
	msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
	if (body == NULL && (body = empty = json_object()) == NULL)
		goto done;
	if (!json_is_object(body))
		goto done;
	if (msgpack_pack_map(&pk, 4) != 0 ||
	    msgpack_pack_str_with_body(&pk, "v", 1) != 0 ||
	    msgpack_pack_uint32(&pk, PROTO_VERSION) != 0 ||
	    msgpack_pack_str_with_body(&pk, "t", 1) != 0 ||
	    msgpack_pack_uint32(&pk, type) != 0 ||
	    msgpack_pack_str_with_body(&pk, "id", 2) != 0 ||
	    msgpack_pack_uint64(&pk, id) != 0 ||
	    msgpack_pack_str_with_body(&pk, "body", 4) != 0 ||
	    jsonpack_pack(&pk, body) != 0)
		goto done;
	size = out->size - start - FRAME_HEADER_SIZE;
	if (size > FRAME_MAX_SIZE)
		goto done;
	out->data[start] = (char)(size >> 24);
	out->data[start + 1] = (char)(size >> 16);
	out->data[start + 2] = (char)(size >> 8);
	out->data[start + 3] = (char)size;
	rc = 0;
done:
	json_decref(empty);
	if (rc == -1)
		out->size = start;
	return rc;
}

/*
 * Fuzzing harness of the IPC frame decoder and of the msgpack to JSON
 * conversion under it. The input is a byte stream of frames. It is parsed
 * twice: all at once, and as if it arrived one byte at a time. The calls
 * that may decode get an exact-size copy of the unconsumed bytes, so that
 * AddressSanitizer detects a read past them. Both passes must give the
 * same sequence of results. Every decoded frame must encode again and
 * decode to the same type, id and body.
 */
#include "config.h"

#include <string.h>

#include <jansson.h>
#include <msgpack.h>

#include "common/frame.h"
#include "common/proto.h"
#include "fuzz.h"

/* Results kept per pass; a frame takes at least 5 bytes of input. */
#define RESULTS_MAX	4096

struct result {
	enum frame_result	 result;
	size_t			 consumed;
	uint32_t		 type;
	uint64_t		 id;
	int			 has_id;
	json_t			*body;	/* NULL unless decoded */
};

struct pass {
	struct result	results[RESULTS_MAX];
	size_t		count;
};

/*
 * Calls frame_parse on len bytes of buf, through an exact-size copy when
 * the call may read more than the length prefix: when the prefix itself is
 * incomplete, or when the whole frame is there. Copying every prefix of a
 * long frame would make the byte-by-byte pass quadratic in the input size.
 */
static enum frame_result
parse_copy(const uint8_t *buf, size_t len, size_t *consumed,
    struct frame *frame)
{
	enum frame_result r;
	char err[256] = "";
	uint8_t *copy = NULL;

	if (len < FRAME_HEADER_SIZE ||
	    len - FRAME_HEADER_SIZE >= frame_length(buf)) {
		copy = malloc(len > 0 ? len : 1);
		FUZZ_CHECK(copy != NULL);
		if (len > 0)
			memcpy(copy, buf, len);
		buf = copy;
	}
	r = frame_parse(buf, len, consumed, frame, err, sizeof(err));
	free(copy);

	/* A rejected frame always carries a reason. */
	if (r == FRAME_INVALID || r == FRAME_BROKEN)
		FUZZ_CHECK(err[0] != '\0');
	if (r == FRAME_DECODED) {
		FUZZ_CHECK(json_is_object(frame->body));
		FUZZ_CHECK(frame->has_id);
		FUZZ_CHECK(proto_type_name(frame->type) != NULL);
	} else
		FUZZ_CHECK(frame->body == NULL);
	if (r == FRAME_DECODED || r == FRAME_INVALID)
		FUZZ_CHECK(*consumed > FRAME_HEADER_SIZE && *consumed <= len);
	else
		FUZZ_CHECK(*consumed == 0);
	return r;
}

static void
record(struct pass *p, enum frame_result r, size_t consumed,
    struct frame *frame)
{
	struct result *res;

	FUZZ_CHECK(p->count < RESULTS_MAX);
	res = &p->results[p->count++];
	res->result = r;
	res->consumed = consumed;
	res->type = frame->type;
	res->id = frame->id;
	res->has_id = frame->has_id;
	res->body = json_incref(frame->body);
}

/* Parses the stream with all of its bytes available. */
static void
parse_whole(const uint8_t *data, size_t size, struct pass *p)
{
	struct frame frame;
	enum frame_result r;
	size_t off = 0, consumed;

	for (;;) {
		r = parse_copy(data + off, size - off, &consumed, &frame);
		record(p, r, consumed, &frame);
		frame_clear(&frame);
		if (r == FRAME_INCOMPLETE || r == FRAME_BROKEN)
			return;
		off += consumed;
	}
}

/* Parses the stream as it would arrive one byte per read. */
static void
parse_bytewise(const uint8_t *data, size_t size, struct pass *p)
{
	struct frame frame;
	enum frame_result r = FRAME_INCOMPLETE;
	size_t avail, off = 0, consumed;

	for (avail = 0; avail <= size; avail++) {
		for (;;) {
			r = parse_copy(data + off, avail - off, &consumed,
			    &frame);
			if (r == FRAME_INCOMPLETE)
				break;
			record(p, r, consumed, &frame);
			frame_clear(&frame);
			if (r == FRAME_BROKEN)
				return;
			off += consumed;
		}
	}
	/* The stream ends inside a frame, as the whole pass also saw. */
	record(p, r, 0, &frame);
}

/* Encodes a decoded frame again and requires the same frame back. */
static void
check_round_trip(const struct result *res)
{
	msgpack_sbuffer sbuf;
	struct frame again;
	enum frame_result r;
	size_t consumed;
	char err[256] = "";

	msgpack_sbuffer_init(&sbuf);
	FUZZ_CHECK(frame_encode(&sbuf, res->type, res->id, res->body) == 0);
	r = frame_parse((const uint8_t *)sbuf.data, sbuf.size, &consumed,
	    &again, err, sizeof(err));
	if (r != FRAME_DECODED)
		fprintf(stderr, "re-encoded frame rejected: %s\n", err);
	FUZZ_CHECK(r == FRAME_DECODED);
	FUZZ_CHECK(consumed == sbuf.size);
	FUZZ_CHECK(again.type == res->type && again.id == res->id);
	FUZZ_CHECK(json_equal(again.body, res->body));
	frame_clear(&again);
	msgpack_sbuffer_destroy(&sbuf);
}

static void
pass_clear(struct pass *p)
{
	size_t i;

	for (i = 0; i < p->count; i++)
		json_decref(p->results[i].body);
	p->count = 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pass whole, bytewise;
	const struct result *a, *b;
	size_t i;

	parse_whole(data, size, &whole);
	parse_bytewise(data, size, &bytewise);

	FUZZ_CHECK(whole.count == bytewise.count);
	for (i = 0; i < whole.count; i++) {
		a = &whole.results[i];
		b = &bytewise.results[i];
		FUZZ_CHECK(a->result == b->result);
		FUZZ_CHECK(a->consumed == b->consumed);
		FUZZ_CHECK(a->type == b->type && a->id == b->id &&
		    a->has_id == b->has_id);
		FUZZ_CHECK((a->body == NULL) == (b->body == NULL));
		FUZZ_CHECK(a->body == NULL || json_equal(a->body, b->body));
		if (a->result == FRAME_DECODED)
			check_round_trip(a);
	}
	pass_clear(&whole);
	pass_clear(&bytewise);
	return 0;
}

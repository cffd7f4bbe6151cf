/*
 * IPC frame codec: a 4-byte big-endian length, then one msgpack map with the
 * protocol version, message type, request id and body (see proto.h).
 * frame_parse works on plain bytes so that it can be tested on every split
 * of a stream; ipc.c feeds it from libevent buffers.
 */
#ifndef FRAME_H
#define FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

struct frame {
	uint32_t	 type;
	uint64_t	 id;
	int		 has_id;	/* id was readable, even if invalid */
	json_t		*body;		/* owned; NULL unless decoded */
};

enum frame_result {
	FRAME_INCOMPLETE,	/* more bytes are needed */
	FRAME_DECODED,		/* *frame is filled, *consumed bytes used */
	FRAME_INVALID,		/* a whole frame was consumed but is not a
				   valid message; answer it with an error */
	FRAME_BROKEN,		/* the stream cannot be resynchronised */
};

enum frame_result frame_parse(const uint8_t *buf, size_t len,
	    size_t *consumed, struct frame *frame, char *err, size_t errlen);
/* Reads the length prefix of buf, which must hold FRAME_HEADER_SIZE bytes. */
uint32_t	 frame_length(const uint8_t *buf);
int		 frame_encode(msgpack_sbuffer *out, uint32_t type, uint64_t id,
	    json_t *body);
void		 frame_clear(struct frame *frame);

#endif

/*
 * Conversion between jansson values and msgpack, for frame bodies.
 * Integers stay integers, reals stay reals; msgpack maps need string keys
 * and strings must be UTF-8, because JSON cannot hold anything else.
 */
#ifndef JSONPACK_H
#define JSONPACK_H

#include <stddef.h>

#include <jansson.h>
#include <msgpack.h>

/* Deepest nesting accepted either way. */
#define JSONPACK_MAX_DEPTH	32

int	 jsonpack_pack(msgpack_packer *pk, json_t *value);
json_t	*jsonpack_unpack(const msgpack_object *object, char *err,
	    size_t errlen);

#endif

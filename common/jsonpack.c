/* Conversion between jansson values and msgpack objects. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "jsonpack.h"

static int
jsonpack_pack_depth(msgpack_packer *pk, json_t *v, int depth)
{
	const char *key;
	json_t *item;
	size_t i, len;

	if (depth > JSONPACK_MAX_DEPTH)
		return -1;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (msgpack_pack_map(pk, json_object_size(v)) != 0)
			return -1;
		json_object_foreach(v, key, item) {
			len = strlen(key);
			if (msgpack_pack_str(pk, len) != 0 ||
			    msgpack_pack_str_body(pk, key, len) != 0 ||
			    jsonpack_pack_depth(pk, item, depth + 1) != 0)
				return -1;
		}
		return 0;
	case JSON_ARRAY:
		if (msgpack_pack_array(pk, json_array_size(v)) != 0)
			return -1;
		json_array_foreach(v, i, item)
			if (jsonpack_pack_depth(pk, item, depth + 1) != 0)
				return -1;
		return 0;
	case JSON_STRING:
		len = json_string_length(v);
		if (msgpack_pack_str(pk, len) != 0 ||
		    msgpack_pack_str_body(pk, json_string_value(v), len) != 0)
			return -1;
		return 0;
	case JSON_INTEGER:
		return msgpack_pack_int64(pk, json_integer_value(v));
	case JSON_REAL:
		return msgpack_pack_double(pk, json_real_value(v));
	case JSON_TRUE:
		return msgpack_pack_true(pk);
	case JSON_FALSE:
		return msgpack_pack_false(pk);
	case JSON_NULL:
		return msgpack_pack_nil(pk);
	}
	return -1;
}

int
jsonpack_pack(msgpack_packer *pk, json_t *value)
{
	return jsonpack_pack_depth(pk, value, 0);
}

static json_t *
jsonpack_unpack_map(const msgpack_object_map *map, int depth, char *err,
    size_t errlen);

static json_t *
jsonpack_unpack_depth(const msgpack_object *o, int depth, char *err,
    size_t errlen)
{
	json_t *array, *item;
	uint32_t i;

	if (depth > JSONPACK_MAX_DEPTH) {
		snprintf(err, errlen, "nested deeper than %d levels",
		    JSONPACK_MAX_DEPTH);
		return NULL;
	}
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)LLONG_MAX) {
			snprintf(err, errlen, "integer out of range");
			return NULL;
		}
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		item = json_real(o->via.f64);
		if (item == NULL)
			snprintf(err, errlen, "number is not finite");
		return item;
	case MSGPACK_OBJECT_STR:
		item = json_stringn(o->via.str.ptr, o->via.str.size);
		if (item == NULL)
			snprintf(err, errlen, "string is not valid UTF-8");
		return item;
	case MSGPACK_OBJECT_ARRAY:
		if ((array = json_array()) == NULL)
			goto nomem;
		for (i = 0; i < o->via.array.size; i++) {
			item = jsonpack_unpack_depth(&o->via.array.ptr[i],
			    depth + 1, err, errlen);
			if (item == NULL || json_array_append_new(array,
			    item) == -1) {
				json_decref(array);
				return NULL;
			}
		}
		return array;
	case MSGPACK_OBJECT_MAP:
		return jsonpack_unpack_map(&o->via.map, depth, err, errlen);
	default:
		snprintf(err, errlen, "msgpack type %d has no JSON form",
		    (int)o->type);
		return NULL;
	}
nomem:
	snprintf(err, errlen, "out of memory");
	return NULL;
}

static json_t *
jsonpack_unpack_map(const msgpack_object_map *map, int depth, char *err,
    size_t errlen)
{
	char key[256];
	json_t *object, *item;
	uint32_t i;

	if ((object = json_object()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (i = 0; i < map->size; i++) {
		const msgpack_object *k = &map->ptr[i].key;

		if (k->type != MSGPACK_OBJECT_STR ||
		    k->via.str.size >= sizeof(key) ||
		    memchr(k->via.str.ptr, '\0', k->via.str.size) != NULL) {
			snprintf(err, errlen, "map key is not a string of "
			    "at most %zu bytes", sizeof(key) - 1);
			goto fail;
		}
		memcpy(key, k->via.str.ptr, k->via.str.size);
		key[k->via.str.size] = '\0';
		item = jsonpack_unpack_depth(&map->ptr[i].val, depth + 1, err,
		    errlen);
		if (item == NULL)
			goto fail;
		/* json_object_set_new rejects keys that are not UTF-8. */
		if (json_object_set_new(object, key, item) == -1) {
			snprintf(err, errlen, "map key is not valid UTF-8");
			goto fail;
		}
	}
	return object;
fail:
	json_decref(object);
	return NULL;
}

json_t *
jsonpack_unpack(const msgpack_object *object, char *err, size_t errlen)
{
	return jsonpack_unpack_depth(object, 0, err, errlen);
}

/*
 * Cloud Storage JSON API v1: buckets, and objects with generations,
 * metagenerations and the ifGeneration and ifMetageneration preconditions.
 * Paths: /storage/v1/b[/BUCKET[/o[/OBJECT]]] for metadata, lists, patches
 * and deletes (?alt=media downloads), /upload/storage/v1/b/BUCKET/o for
 * uploads (uploadType=media or multipart) and /download/storage/v1/... for
 * downloads. Errors use the GCS envelope. Clients reach it through
 * STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT.
 *
 * Every handler runs to completion on the single event-loop thread and
 * never yields between reading an object's generation and writing the
 * next one. A precondition check and the write it guards are therefore
 * atomic, and of two concurrent create-only uploads exactly one succeeds.
 */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <sodium.h>

#include "log.h"
#include "localcloud.h"
#include "objstore.h"
#include "tokens.h"

/* Limits of an object's custom metadata, in bytes, as Cloud Storage sets
 * them: each key, each value, and all keys and values together. */
#define STORAGE_META_KEY_MAX	1024
#define STORAGE_META_VALUE_MAX	4096
#define STORAGE_META_TOTAL_MAX	8192
/* Maximum JSON body (bucket insert, object patch), in bytes. */
#define STORAGE_JSON_MAX	(1024 * 1024)
/* Default and maximum maxResults of a list. */
#define STORAGE_LIST_MAX	1000
/* Maximum length of a multipart boundary, in bytes (RFC 2046). */
#define STORAGE_BOUNDARY_MAX	70
#define STORAGE_DEFAULT_TYPE	"application/octet-stream"
#define B64URL	sodium_base64_VARIANT_URLSAFE_NO_PADDING

struct storage {
	struct lc	*lc;
	struct objstore	*store;
};

/* The ifGeneration* and ifMetageneration* query parameters. */
struct preconditions {
	int	has_generation_match;
	int	has_generation_not_match;
	int	has_metageneration_match;
	int	has_metageneration_not_match;
	int64_t	generation_match;
	int64_t	generation_not_match;
	int64_t	metageneration_match;
	int64_t	metageneration_not_match;
};

/* Returns the decoded value of a query parameter with its length, so that
 * an encoded NUL (%00) is seen rather than cutting the value short. */
static char *
query_bytes(const char *query, const char *key, size_t *len)
{
	char *encoded, *decoded;
	const char *p, *end, *eq;
	size_t klen = strlen(key);

	if (query == NULL)
		return NULL;
	for (p = query; *p != '\0'; p = *end == '&' ? end + 1 : end) {
		end = strchr(p, '&');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL || (size_t)(eq - p) != klen ||
		    strncmp(p, key, klen) != 0)
			continue;
		if ((encoded = strndup(eq + 1, (size_t)(end - eq - 1))) ==
		    NULL)
			return NULL;
		decoded = evhttp_uridecode(encoded, 1, len);
		free(encoded);
		return decoded;
	}
	return NULL;
}

/* Parses a non-negative decimal int64 query value. */
static int
parse_int64(const char *text, int64_t *out)
{
	char *end;
	long long v;

	if (text == NULL || !isdigit((unsigned char)*text))
		return -1;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Reads one precondition parameter. Replies 400 and returns -1 when it
 * is not a number. */
static int
read_precondition(struct evhttp_request *req, const char *query,
    const char *key, int *has, int64_t *value)
{
	char *text = lc_query_get(query, key);

	*has = 0;
	if (text == NULL)
		return 0;
	if (parse_int64(text, value) == -1) {
		lc_reply_gcs_error(req, 400, "invalid",
		    "Invalid argument for %s: expected a non-negative "
		    "integer.", key);
		free(text);
		return -1;
	}
	free(text);
	*has = 1;
	return 0;
}

static int
read_preconditions(struct evhttp_request *req, const char *query,
    struct preconditions *pc)
{
	memset(pc, 0, sizeof(*pc));
	if (read_precondition(req, query, "ifGenerationMatch",
	    &pc->has_generation_match, &pc->generation_match) == -1 ||
	    read_precondition(req, query, "ifGenerationNotMatch",
	    &pc->has_generation_not_match, &pc->generation_not_match) == -1 ||
	    read_precondition(req, query, "ifMetagenerationMatch",
	    &pc->has_metageneration_match, &pc->metageneration_match) == -1 ||
	    read_precondition(req, query, "ifMetagenerationNotMatch",
	    &pc->has_metageneration_not_match,
	    &pc->metageneration_not_match) == -1)
		return -1;
	return 0;
}

/* Checks the preconditions against the live object, or against
 * generation and metageneration 0 when there is none (so that
 * ifGenerationMatch=0 means "create only"). */
static int
preconditions_hold(const struct preconditions *pc, const struct object *obj)
{
	int64_t gen = obj != NULL ? obj->generation : 0;
	int64_t meta = obj != NULL ? obj->metageneration : 0;

	if (pc->has_generation_match && gen != pc->generation_match)
		return 0;
	if (pc->has_generation_not_match && gen == pc->generation_not_match)
		return 0;
	if (pc->has_metageneration_match &&
	    meta != pc->metageneration_match)
		return 0;
	if (pc->has_metageneration_not_match &&
	    meta == pc->metageneration_not_match)
		return 0;
	return 1;
}

static void
reply_precondition_failed(struct evhttp_request *req)
{
	lc_reply_gcs_error(req, 412, "conditionNotMet",
	    "At least one of the pre-conditions you specified did not hold.");
}

/* Percent-encodes an object name for a URL path segment ('/' too). */
static char *
encode_name(const char *name)
{
	return evhttp_uriencode(name, (ev_ssize_t)strlen(name), 0);
}

/* Builds an opaque etag from the generation and metageneration. */
static void
object_etag(const struct object *obj, char *buf, size_t size)
{
	unsigned char raw[16];
	int i;

	for (i = 0; i < 8; i++) {
		raw[i] = (unsigned char)((uint64_t)obj->generation >>
		    (56 - 8 * i));
		raw[8 + i] = (unsigned char)((uint64_t)obj->metageneration >>
		    (56 - 8 * i));
	}
	sodium_bin2base64(buf, size, raw, sizeof(raw),
	    sodium_base64_VARIANT_ORIGINAL);
}

/* Builds the Object resource. int64 fields are strings, as in the API. */
static json_t *
object_json(const struct storage *s, const struct bucket *b,
    const struct object *obj)
{
	char gen[24], meta[24], size[24], created[40], updated[40];
	char etag[32], *enc, *id = NULL, *self = NULL, *media = NULL;
	json_t *out = NULL;

	if ((enc = encode_name(obj->name)) == NULL)
		return NULL;
	snprintf(gen, sizeof(gen), "%" PRId64, obj->generation);
	snprintf(meta, sizeof(meta), "%" PRId64, obj->metageneration);
	snprintf(size, sizeof(size), "%" PRId64, obj->size);
	object_etag(obj, etag, sizeof(etag));
	if (lc_format_time(&obj->created, created, sizeof(created)) == -1 ||
	    lc_format_time(&obj->updated, updated, sizeof(updated)) == -1)
		goto done;
	if (asprintf(&id, "%s/%s/%s", b->name, obj->name, gen) == -1) {
		id = NULL;
		goto done;
	}
	if (asprintf(&self, "%s/storage/v1/b/%s/o/%s", s->lc->api_url,
	    b->name, enc) == -1) {
		self = NULL;
		goto done;
	}
	if (asprintf(&media, "%s/download/storage/v1/b/%s/o/%s?generation=%s"
	    "&alt=media", s->lc->api_url, b->name, enc, gen) == -1) {
		media = NULL;
		goto done;
	}
	out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "kind", "storage#object", "id", id, "selfLink", self,
	    "mediaLink", media, "name", obj->name, "bucket", b->name,
	    "generation", gen, "metageneration", meta,
	    "contentType", obj->content_type, "storageClass", "STANDARD",
	    "size", size, "md5Hash", obj->md5, "crc32c", obj->crc32c,
	    "etag", etag, "timeCreated", created, "updated", updated,
	    "timeStorageClassUpdated", created);
	if (out != NULL && obj->metadata != NULL)
		json_object_set(out, "metadata", obj->metadata);
done:
	free(media);
	free(self);
	free(id);
	free(enc);
	return out;
}

/* Builds the Bucket resource. */
static json_t *
bucket_json(const struct storage *s, const struct bucket *b)
{
	char created[40], self[LC_URL_MAX + OBJSTORE_BUCKET_NAME_MAX + 32];

	if (lc_format_time(&b->created, created, sizeof(created)) == -1)
		return NULL;
	snprintf(self, sizeof(self), "%s/storage/v1/b/%s", s->lc->api_url,
	    b->name);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
	    "s:s, s:s}",
	    "kind", "storage#bucket", "id", b->name, "selfLink", self,
	    "projectNumber", tokens_project_number(), "name", b->name,
	    "timeCreated", created, "updated", created,
	    "metageneration", "1", "location", "US",
	    "storageClass", "STANDARD", "etag", "CAE=");
}

static void
reply_no_bucket(struct evhttp_request *req)
{
	lc_reply_gcs_error(req, 404, "notFound",
	    "The specified bucket does not exist.");
}

/* Replies with an object not found error naming it. */
static void
reply_no_object(struct evhttp_request *req, const char *bucket,
    const char *name)
{
	char esc[256];

	log_escape(esc, sizeof(esc), name, strlen(name));
	lc_reply_gcs_error(req, 404, "notFound", "No such object: %s/%s",
	    bucket, esc);
}

/* Reports a failed store write: the limit as 400, the rest as 500. */
static void
reply_store_error(struct evhttp_request *req, const char *what)
{
	if (errno == ENOSPC)
		lc_reply_gcs_error(req, 400, "invalid",
		    "Cannot %s: localcloud holds at most %d objects per "
		    "bucket and %d buckets.", what, OBJSTORE_MAX_OBJECTS,
		    OBJSTORE_MAX_BUCKETS);
	else {
		log_warn("cannot %s", what);
		lc_reply_gcs_error(req, 500, "internalError",
		    "Cannot %s: %s.", what, strerror(errno));
	}
}

/* Checks a content type: printable ASCII of bounded length. */
static int
valid_content_type(const char *type)
{
	size_t len = strlen(type), i;

	if (len == 0 || len > OBJSTORE_CONTENT_TYPE_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (type[i] < 0x20 || type[i] > 0x7e)
			return 0;
	return 1;
}

/* Checks user metadata: an object whose values are all strings. */
static int
valid_metadata(json_t *meta)
{
	const char *key;
	json_t *value;

	if (!json_is_object(meta))
		return 0;
	json_object_foreach(meta, key, value)
		if (!json_is_string(value))
			return 0;
	return 1;
}

/* Returns why custom metadata exceeds Cloud Storage's limits, or NULL.
 * Every value must be a string already. */
static const char *
metadata_too_large(json_t *meta)
{
	const char *key;
	json_t *value;
	size_t klen, vlen, total = 0;

	json_object_foreach(meta, key, value) {
		klen = strlen(key);
		vlen = json_string_length(value);
		if (klen > STORAGE_META_KEY_MAX)
			return "Invalid metadata: a key is longer than 1024 "
			    "bytes.";
		if (vlen > STORAGE_META_VALUE_MAX)
			return "Invalid metadata: a value is longer than 4096 "
			    "bytes.";
		total += klen + vlen;
	}
	if (total > STORAGE_META_TOTAL_MAX)
		return "Invalid metadata: its keys and values total more "
		    "than 8192 bytes.";
	return NULL;
}

/* One part of a multipart/related body. */
struct part {
	const char	*headers;
	size_t		 headers_len;
	const char	*data;
	size_t		 len;
};

/* Copies the boundary parameter of a multipart Content-Type. */
static int
multipart_boundary(const char *type, char *buf, size_t size)
{
	const char *p;
	size_t len;

	if (type == NULL || strncasecmp(type, "multipart/related", 17) != 0)
		return -1;
	if ((p = strcasestr(type, "boundary=")) == NULL)
		return -1;
	p += 9;
	if (*p == '"') {
		p++;
		len = strcspn(p, "\"");
		if (p[len] != '"')
			return -1;
	} else
		len = strcspn(p, "; \t");
	if (len == 0 || len > STORAGE_BOUNDARY_MAX || len >= size)
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return 0;
}

/*
 * Splits a multipart/related body into exactly two parts (the JSON
 * metadata and the media), as the JSON API's multipart upload sends.
 */
static int
multipart_split(const char *body, size_t len, const char *boundary,
    struct part parts[2])
{
	char delim[STORAGE_BOUNDARY_MAX + 5];
	const char *p, *end = body + len, *hdr_end, *next;
	size_t dlen;
	int n = 0;

	dlen = (size_t)snprintf(delim, sizeof(delim), "--%s", boundary);
	if ((p = memmem(body, len, delim, dlen)) == NULL)
		return -1;
	for (;;) {
		p += dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return n == 2 ? 0 : -1;
		if (n == 2 || end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return -1;
		p += 2;
		if ((hdr_end = memmem(p, (size_t)(end - p), "\r\n\r\n",
		    4)) == NULL)
			return -1;
		parts[n].headers = p;
		parts[n].headers_len = (size_t)(hdr_end - p);
		p = hdr_end + 4;
		/* The part ends at CRLF followed by the delimiter. */
		for (next = p;; next++) {
			next = memmem(next, (size_t)(end - next), delim, dlen);
			if (next == NULL)
				return -1;
			if (next - p >= 2 && next[-2] == '\r' &&
			    next[-1] == '\n')
				break;
		}
		parts[n].data = p;
		parts[n].len = (size_t)(next - 2 - p);
		n++;
		p = next;
	}
}

/* Copies the Content-Type of a part's headers, or "" when absent. */
static void
part_content_type(const struct part *part, char *buf, size_t size)
{
	const char *p = part->headers, *end = part->headers +
	    part->headers_len, *eol;
	size_t len;

	buf[0] = '\0';
	while (p < end) {
		eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > 13 &&
		    strncasecmp(p, "content-type:", 13) == 0) {
			p += 13;
			while (p < eol && (*p == ' ' || *p == '\t'))
				p++;
			len = (size_t)(eol - p);
			if (len >= size)
				len = size - 1;
			memcpy(buf, p, len);
			buf[len] = '\0';
			return;
		}
		p = eol + 2;
	}
}

/* Contents of an upload: the name, bytes, type and user metadata. */
struct upload {
	char		*name;
	size_t		 name_len;
	const char	*data;
	size_t		 len;
	char		 content_type[OBJSTORE_CONTENT_TYPE_MAX + 1];
	json_t		*metadata;
};

/* Reads a multipart upload's metadata part and media part. Replies 400
 * and returns -1 when the body is malformed. */
static int
parse_multipart(struct evhttp_request *req, const char *body, size_t len,
    const char *query, struct upload *up)
{
	const char *type = evhttp_find_header(
	    evhttp_request_get_input_headers(req), "Content-Type");
	char boundary[STORAGE_BOUNDARY_MAX + 1];
	struct part parts[2];
	json_t *meta, *v;
	const char *reason;

	if (multipart_boundary(type, boundary, sizeof(boundary)) == -1 ||
	    multipart_split(body, len, boundary, parts) == -1) {
		lc_reply_gcs_error(req, 400, "invalid",
		    "Invalid multipart upload: expected multipart/related with "
		    "a boundary and two parts (metadata, media).");
		return -1;
	}
	meta = json_loadb(parts[0].data, parts[0].len, 0, NULL);
	if (!json_is_object(meta)) {
		json_decref(meta);
		lc_reply_gcs_error(req, 400, "invalid",
		    "Invalid multipart upload: the first part must be the "
		    "object metadata as a JSON object.");
		return -1;
	}
	if ((v = json_object_get(meta, "name")) != NULL &&
	    json_is_string(v)) {
		up->name_len = json_string_length(v);
		up->name = strndup(json_string_value(v), up->name_len);
	} else
		up->name = query_bytes(query, "name", &up->name_len);
	if ((v = json_object_get(meta, "contentType")) != NULL &&
	    json_is_string(v))
		snprintf(up->content_type, sizeof(up->content_type), "%s",
		    json_string_value(v));
	else
		part_content_type(&parts[1], up->content_type,
		    sizeof(up->content_type));
	if ((v = json_object_get(meta, "metadata")) != NULL &&
	    !json_is_null(v)) {
		if (!valid_metadata(v)) {
			json_decref(meta);
			lc_reply_gcs_error(req, 400, "invalid",
			    "Invalid metadata: expected an object of string "
			    "values.");
			return -1;
		}
		if ((reason = metadata_too_large(v)) != NULL) {
			json_decref(meta);
			lc_reply_gcs_error(req, 400, "invalid", "%s", reason);
			return -1;
		}
		up->metadata = json_incref(v);
	}
	json_decref(meta);
	up->data = parts[1].data;
	up->len = parts[1].len;
	return 0;
}

/* Finds a bucket, creating it on first write because localcloud's
 * buckets need no setup. Replies and returns NULL on failure. */
static struct bucket *
bucket_for_write(struct storage *s, struct evhttp_request *req,
    const char *name)
{
	struct bucket *b;

	if ((b = objstore_bucket(s->store, name)) != NULL)
		return b;
	if (objstore_bucket_create(s->store, name, &b) == -1) {
		reply_store_error(req, "create the bucket");
		return NULL;
	}
	log_info("created bucket %s on first write", name);
	return b;
}

/* POST /upload/storage/v1/b/BUCKET/o?uploadType=media|multipart. */
static void
handle_upload(struct storage *s, struct evhttp_request *req,
    const char *bucket_name, const char *query)
{
	struct upload up;
	struct preconditions pc;
	struct bucket *b;
	struct object *obj;
	const char *why, *type;
	char *upload_type, *body = NULL;
	size_t len;

	memset(&up, 0, sizeof(up));
	upload_type = lc_query_get(query, "uploadType");
	if (upload_type != NULL && strcmp(upload_type, "media") != 0 &&
	    strcmp(upload_type, "multipart") != 0) {
		if (strcmp(upload_type, "resumable") == 0)
			lc_reply_gcs_error(req, 501, "notImplemented",
			    "localcloud supports uploadType=media and "
			    "multipart, not resumable.");
		else
			lc_reply_gcs_error(req, 400, "invalid",
			    "Invalid uploadType: expected media or "
			    "multipart.");
		goto done;
	}
	if (read_preconditions(req, query, &pc) == -1)
		goto done;
	if ((body = lc_read_body(req, LC_HTTP_BODY_MAX, &len)) == NULL) {
		reply_store_error(req, "read the request body");
		goto done;
	}

	if (upload_type != NULL && strcmp(upload_type, "multipart") == 0) {
		if (parse_multipart(req, body, len, query, &up) == -1)
			goto done;
	} else {
		up.name = query_bytes(query, "name", &up.name_len);
		up.data = body;
		up.len = len;
		type = evhttp_find_header(evhttp_request_get_input_headers(
		    req), "Content-Type");
		snprintf(up.content_type, sizeof(up.content_type), "%s",
		    type != NULL ? type : "");
	}
	if (up.content_type[0] == '\0')
		snprintf(up.content_type, sizeof(up.content_type), "%s",
		    STORAGE_DEFAULT_TYPE);
	if (up.name == NULL) {
		lc_reply_gcs_error(req, 400, "required",
		    "Required parameter: name");
		goto done;
	}
	if ((why = objstore_invalid_object_name(up.name, up.name_len)) !=
	    NULL) {
		lc_reply_gcs_error(req, 400, "invalid", "%s", why);
		goto done;
	}
	if (!valid_content_type(up.content_type)) {
		lc_reply_gcs_error(req, 400, "invalid",
		    "Invalid Content-Type: expected printable ASCII of at "
		    "most %d bytes.", OBJSTORE_CONTENT_TYPE_MAX);
		goto done;
	}

	/* Check and write with no yield in between: see the file header. */
	if ((b = bucket_for_write(s, req, bucket_name)) == NULL)
		goto done;
	if (!preconditions_hold(&pc, objstore_find(b, up.name))) {
		reply_precondition_failed(req);
		goto done;
	}
	if (objstore_put(s->store, b, up.name, up.data, up.len,
	    up.content_type, up.metadata, &obj) == -1) {
		reply_store_error(req, "store the object");
		goto done;
	}
	lc_reply_json(req, 200, object_json(s, b, obj));
done:
	json_decref(up.metadata);
	free(up.name);
	free(body);
	free(upload_type);
}

/* Sends the object's bytes with the headers GCS sets on a download. */
static void
send_media(struct evhttp_request *req, const struct bucket *b,
    const struct object *obj)
{
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	char path[LC_PATH_MAX], text[128], etag[32];
	struct evbuffer *buf = NULL;
	int fd;

	if (objstore_data_path(b, obj, path, sizeof(path)) == -1 ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		log_warn("cannot open the data of %s", b->name);
		lc_reply_gcs_error(req, 500, "internalError",
		    "Cannot read the object data.");
		return;
	}
	if ((buf = evbuffer_new()) == NULL || (obj->size > 0 &&
	    evbuffer_add_file(buf, fd, 0, obj->size) == -1)) {
		close(fd);
		if (buf != NULL)
			evbuffer_free(buf);
		lc_reply_gcs_error(req, 500, "internalError",
		    "Cannot send the object data.");
		return;
	}
	/* evbuffer_add_file owns fd from here, except for an empty file. */
	if (obj->size == 0)
		close(fd);
	evhttp_add_header(headers, "Content-Type", obj->content_type);
	snprintf(text, sizeof(text), "%" PRId64, obj->generation);
	evhttp_add_header(headers, "X-Goog-Generation", text);
	snprintf(text, sizeof(text), "%" PRId64, obj->metageneration);
	evhttp_add_header(headers, "X-Goog-Metageneration", text);
	snprintf(text, sizeof(text), "%" PRId64, obj->size);
	evhttp_add_header(headers, "X-Goog-Stored-Content-Length", text);
	snprintf(text, sizeof(text), "crc32c=%s,md5=%s", obj->crc32c,
	    obj->md5);
	evhttp_add_header(headers, "X-Goog-Hash", text);
	object_etag(obj, etag, sizeof(etag));
	evhttp_add_header(headers, "ETag", etag);
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

/* Finds the object a request names, checking ?generation= and the
 * preconditions. Replies and returns NULL when it cannot be used. */
static struct object *
object_for_request(struct evhttp_request *req, struct bucket *b,
    const char *name, const char *query)
{
	struct preconditions pc;
	struct object *obj;
	char *gen_text;
	int64_t gen;

	if (read_preconditions(req, query, &pc) == -1)
		return NULL;
	if ((obj = objstore_find(b, name)) == NULL) {
		reply_no_object(req, b->name, name);
		return NULL;
	}
	if ((gen_text = lc_query_get(query, "generation")) != NULL) {
		int bad = parse_int64(gen_text, &gen) == -1;

		free(gen_text);
		if (bad) {
			lc_reply_gcs_error(req, 400, "invalid",
			    "Invalid argument for generation: expected a "
			    "non-negative integer.");
			return NULL;
		}
		/* Only the live generation is kept. */
		if (gen != obj->generation) {
			reply_no_object(req, b->name, name);
			return NULL;
		}
	}
	if (!preconditions_hold(&pc, obj)) {
		reply_precondition_failed(req);
		return NULL;
	}
	return obj;
}

/* Merges a patch's metadata map into the current one: a null value
 * removes its key, and a null map removes them all. */
static int
merge_metadata(const json_t *current, json_t *patch, json_t **out)
{
	const char *key;
	json_t *value, *merged;

	*out = NULL;
	if (json_is_null(patch))
		return 0;
	if (!json_is_object(patch))
		return -1;
	merged = current != NULL ? json_deep_copy(current) : json_object();
	if (merged == NULL)
		return -1;
	json_object_foreach(patch, key, value) {
		if (json_is_null(value))
			json_object_del(merged, key);
		else if (json_is_string(value))
			json_object_set(merged, key, value);
		else {
			json_decref(merged);
			return -1;
		}
	}
	if (json_object_size(merged) == 0)
		json_decref(merged);
	else
		*out = merged;
	return 0;
}

/* PATCH /storage/v1/b/BUCKET/o/OBJECT: contentType and metadata. */
static void
handle_patch(struct storage *s, struct evhttp_request *req, struct bucket *b,
    const char *name, const char *query)
{
	struct object *obj;
	json_t *body = NULL, *v, *metadata = NULL;
	const char *type, *reason;

	if (lc_read_json(req, STORAGE_JSON_MAX, &body) == -1)
		return;
	if ((obj = object_for_request(req, b, name, query)) == NULL)
		goto done;
	type = obj->content_type;
	if ((v = json_object_get(body, "contentType")) != NULL) {
		if (!json_is_string(v) ||
		    !valid_content_type(json_string_value(v))) {
			lc_reply_gcs_error(req, 400, "invalid",
			    "Invalid contentType.");
			goto done;
		}
		type = json_string_value(v);
	}
	if ((v = json_object_get(body, "metadata")) != NULL) {
		if (merge_metadata(obj->metadata, v, &metadata) == -1) {
			lc_reply_gcs_error(req, 400, "invalid",
			    "Invalid metadata: expected an object of string "
			    "or null values.");
			goto done;
		}
	} else if (obj->metadata != NULL)
		metadata = json_incref(obj->metadata);
	if (metadata != NULL &&
	    (reason = metadata_too_large(metadata)) != NULL) {
		lc_reply_gcs_error(req, 400, "invalid", "%s", reason);
		goto done;
	}
	if (objstore_update(b, obj, type, metadata) == -1) {
		reply_store_error(req, "update the object");
		goto done;
	}
	lc_reply_json(req, 200, object_json(s, b, obj));
done:
	json_decref(metadata);
	json_decref(body);
}

/* Routes a request on one object: metadata, download, patch, delete. */
static void
handle_object(struct storage *s, struct evhttp_request *req,
    const char *bucket_name, const char *name, const char *query,
    int download)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	struct bucket *b;
	struct object *obj;
	const char *why;
	char *alt;
	int media;

	if ((why = objstore_invalid_object_name(name, strlen(name))) != NULL) {
		lc_reply_gcs_error(req, 400, "invalid", "%s", why);
		return;
	}
	if ((b = objstore_bucket(s->store, bucket_name)) == NULL) {
		reply_no_bucket(req);
		return;
	}
	alt = lc_query_get(query, "alt");
	media = download || (alt != NULL && strcmp(alt, "media") == 0);
	free(alt);

	switch (method) {
	case EVHTTP_REQ_GET:
	case EVHTTP_REQ_HEAD:
		if ((obj = object_for_request(req, b, name, query)) == NULL)
			return;
		if (media)
			send_media(req, b, obj);
		else
			lc_reply_json(req, 200, object_json(s, b, obj));
		return;
	case EVHTTP_REQ_PATCH:
		if (!download) {
			handle_patch(s, req, b, name, query);
			return;
		}
		break;
	case EVHTTP_REQ_DELETE:
		if (download)
			break;
		if ((obj = object_for_request(req, b, name, query)) == NULL)
			return;
		if (objstore_delete(b, obj) == -1) {
			reply_store_error(req, "delete the object");
			return;
		}
		evhttp_send_reply(req, 204, "No Content", NULL);
		return;
	default:
		break;
	}
	lc_reply_gcs_error(req, 405, "methodNotAllowed",
	    "Method %s is not allowed here.", lc_method_name(method));
}

/* The paging state of a list: the last item returned, an object name
 * ('o') or a prefix ('p'), encoded as base64url in pageToken. */
static char *
encode_page_token(char kind, const char *key, size_t len)
{
	size_t size = sodium_base64_ENCODED_LEN(len + 1, B64URL);
	char *raw, *out;

	if ((raw = malloc(len + 1)) == NULL)
		return NULL;
	raw[0] = kind;
	memcpy(raw + 1, key, len);
	if ((out = malloc(size)) != NULL)
		sodium_bin2base64(out, size, (unsigned char *)raw, len + 1,
		    B64URL);
	free(raw);
	return out;
}

/* Decodes a pageToken into its kind and a NUL-terminated key. */
static int
decode_page_token(const char *token, char *kind, char **key)
{
	size_t len = strlen(token), max = len / 4 * 3 + 3, bin_len;
	unsigned char *bin;

	if (len == 0 || len > 4 * OBJSTORE_OBJECT_NAME_MAX ||
	    (bin = malloc(max + 1)) == NULL)
		return -1;
	if (sodium_base642bin(bin, max, token, len, NULL, &bin_len, NULL,
	    B64URL) != 0 || bin_len < 2 || (bin[0] != 'o' && bin[0] != 'p') ||
	    memchr(bin + 1, '\0', bin_len - 1) != NULL) {
		free(bin);
		return -1;
	}
	*kind = (char)bin[0];
	bin[bin_len] = '\0';
	memmove(bin, bin + 1, bin_len);
	*key = (char *)bin;
	return 0;
}

/* The parameters of an objects.list request. */
struct list_params {
	char	*prefix;
	char	*delimiter;
	char	*start_offset;
	char	*end_offset;
	char	*token_key;
	char	 token_kind;
	long	 max_results;
};

static void
list_params_free(struct list_params *lp)
{
	free(lp->prefix);
	free(lp->delimiter);
	free(lp->start_offset);
	free(lp->end_offset);
	free(lp->token_key);
}

/* Reads the list parameters. Replies 400 and returns -1 when invalid. */
static int
read_list_params(struct evhttp_request *req, const char *query,
    struct list_params *lp)
{
	char *max, *token, *end;
	size_t len;

	memset(lp, 0, sizeof(*lp));
	lp->max_results = STORAGE_LIST_MAX;
	lp->prefix = query_bytes(query, "prefix", &len);
	if (lp->prefix != NULL && strlen(lp->prefix) != len)
		goto invalid;
	lp->delimiter = query_bytes(query, "delimiter", &len);
	if (lp->delimiter != NULL && (strlen(lp->delimiter) != len ||
	    len == 0))
		goto invalid;
	lp->start_offset = query_bytes(query, "startOffset", &len);
	if (lp->start_offset != NULL && strlen(lp->start_offset) != len)
		goto invalid;
	lp->end_offset = query_bytes(query, "endOffset", &len);
	if (lp->end_offset != NULL && strlen(lp->end_offset) != len)
		goto invalid;
	if ((max = lc_query_get(query, "maxResults")) != NULL) {
		errno = 0;
		lp->max_results = strtol(max, &end, 10);
		if (errno != 0 || end == max || *end != '\0' ||
		    lp->max_results < 1) {
			free(max);
			goto invalid;
		}
		free(max);
		if (lp->max_results > STORAGE_LIST_MAX)
			lp->max_results = STORAGE_LIST_MAX;
	}
	if ((token = lc_query_get(query, "pageToken")) != NULL &&
	    *token != '\0') {
		int bad = decode_page_token(token, &lp->token_kind,
		    &lp->token_key) == -1;

		free(token);
		if (bad)
			goto invalid;
	} else
		free(token);
	return 0;

invalid:
	list_params_free(lp);
	lc_reply_gcs_error(req, 400, "invalid",
	    "Invalid list parameter: check prefix, delimiter, startOffset, "
	    "endOffset, maxResults (a positive integer) and pageToken.");
	return -1;
}

/* Returns the first index a list request looks at. */
static size_t
list_start(const struct bucket *b, const struct list_params *lp)
{
	const char *from = "";
	size_t i, plen;

	if (lp->prefix != NULL && strcmp(lp->prefix, from) > 0)
		from = lp->prefix;
	if (lp->start_offset != NULL && strcmp(lp->start_offset, from) > 0)
		from = lp->start_offset;
	if (lp->token_key != NULL && strcmp(lp->token_key, from) > 0)
		from = lp->token_key;
	i = objstore_lower_bound(b, from);
	if (lp->token_key == NULL)
		return i;

	/* Skip what the previous page returned: the object itself, or
	 * every name under the prefix. */
	plen = strlen(lp->token_key);
	while (i < b->count && (lp->token_kind == 'o' ?
	    strcmp(b->objects[i]->name, lp->token_key) <= 0 :
	    strncmp(b->objects[i]->name, lp->token_key, plen) == 0))
		i++;
	return i;
}

/* GET /storage/v1/b/BUCKET/o: prefix, delimiter, maxResults, pageToken,
 * startOffset and endOffset. Prefixes count towards maxResults. */
static void
handle_list(struct storage *s, struct evhttp_request *req, struct bucket *b,
    const char *query)
{
	struct list_params lp;
	json_t *out, *items, *prefixes;
	const char *name, *delim_at, *last = NULL;
	size_t i, plen, dlen, last_len = 0;
	long count = 0;
	char last_kind = 0, *token;
	int more = 0;

	if (read_list_params(req, query, &lp) == -1)
		return;
	plen = lp.prefix != NULL ? strlen(lp.prefix) : 0;
	dlen = lp.delimiter != NULL ? strlen(lp.delimiter) : 0;
	out = json_pack("{s:s}", "kind", "storage#objects");
	items = json_array();
	prefixes = json_array();
	if (out == NULL || items == NULL || prefixes == NULL)
		goto fail;

	for (i = list_start(b, &lp); i < b->count; i++) {
		name = b->objects[i]->name;
		if (plen > 0 && strncmp(name, lp.prefix, plen) != 0)
			break;
		if (lp.end_offset != NULL && strcmp(name, lp.end_offset) >= 0)
			break;
		delim_at = dlen > 0 ? strstr(name + plen, lp.delimiter) : NULL;
		if (delim_at != NULL) {
			size_t len = (size_t)(delim_at - name) + dlen;

			/* Names under one prefix are adjacent. */
			if (last_kind == 'p' && len == last_len &&
			    strncmp(name, last, len) == 0)
				continue;
			if (count == lp.max_results) {
				more = 1;
				break;
			}
			if (json_array_append_new(prefixes,
			    json_stringn(name, len)) == -1)
				goto fail;
			last_kind = 'p';
			last = name;
			last_len = len;
		} else {
			if (count == lp.max_results) {
				more = 1;
				break;
			}
			if (json_array_append_new(items, object_json(s, b,
			    b->objects[i])) == -1)
				goto fail;
			last_kind = 'o';
			last = name;
			last_len = strlen(name);
		}
		count++;
	}

	if (json_array_size(items) > 0)
		json_object_set(out, "items", items);
	if (json_array_size(prefixes) > 0)
		json_object_set(out, "prefixes", prefixes);
	if (more) {
		if ((token = encode_page_token(last_kind, last, last_len)) ==
		    NULL)
			goto fail;
		json_object_set_new(out, "nextPageToken", json_string(token));
		free(token);
	}
	json_decref(items);
	json_decref(prefixes);
	list_params_free(&lp);
	lc_reply_json(req, 200, out);
	return;

fail:
	json_decref(items);
	json_decref(prefixes);
	json_decref(out);
	list_params_free(&lp);
	lc_reply_gcs_error(req, 500, "internalError",
	    "Out of memory building the list.");
}

/* POST /storage/v1/b: creates the bucket named in the body. */
static void
handle_bucket_insert(struct storage *s, struct evhttp_request *req)
{
	json_t *body;
	const char *name;
	struct bucket *b;

	if (lc_read_json(req, STORAGE_JSON_MAX, &body) == -1)
		return;
	name = json_string_value(json_object_get(body, "name"));
	if (name == NULL || !objstore_valid_bucket_name(name)) {
		lc_reply_gcs_error(req, 400, "invalid",
		    "Invalid bucket name: expected 3 to 63 lowercase letters, "
		    "digits, '-', '_' or '.', starting and ending with a "
		    "letter or digit.");
	} else if (objstore_bucket(s->store, name) != NULL) {
		lc_reply_gcs_error(req, 409, "conflict",
		    "Your previous request to create the named bucket "
		    "succeeded and you already own it.");
	} else if (objstore_bucket_create(s->store, name, &b) == -1) {
		reply_store_error(req, "create the bucket");
	} else
		lc_reply_json(req, 200, bucket_json(s, b));
	json_decref(body);
}

/* GET /storage/v1/b: every bucket, sorted by name. */
static void
handle_bucket_list(struct storage *s, struct evhttp_request *req)
{
	json_t *out, *items;
	size_t i, j;

	out = json_pack("{s:s}", "kind", "storage#buckets");
	items = json_array();
	if (out == NULL || items == NULL) {
		json_decref(items);
		lc_reply_json(req, 200, NULL);
		json_decref(out);
		return;
	}
	for (i = 0; i < s->store->count; i++) {
		const struct bucket *b = s->store->buckets[i];

		/* Insertion sort by name, over at most a thousand. */
		for (j = 0; j < json_array_size(items); j++)
			if (strcmp(json_string_value(json_object_get(
			    json_array_get(items, j), "name")), b->name) > 0)
				break;
		json_array_insert_new(items, j, bucket_json(s, b));
	}
	if (json_array_size(items) > 0)
		json_object_set(out, "items", items);
	json_decref(items);
	lc_reply_json(req, 200, out);
}

/* Routes /storage/v1/b/BUCKET and its object collection. */
static void
handle_bucket_path(struct storage *s, struct evhttp_request *req,
    const char *bucket_name, const char *rest, const char *query)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	struct bucket *b = objstore_bucket(s->store, bucket_name);

	if (*rest == '\0') {
		if (b == NULL) {
			reply_no_bucket(req);
		} else if (method == EVHTTP_REQ_GET) {
			lc_reply_json(req, 200, bucket_json(s, b));
		} else if (method == EVHTTP_REQ_DELETE) {
			if (objstore_bucket_delete(s->store, b) == 0)
				evhttp_send_reply(req, 204, "No Content", NULL);
			else if (errno == ENOTEMPTY)
				lc_reply_gcs_error(req, 409, "conflict",
				    "The bucket you tried to delete is not "
				    "empty.");
			else
				reply_store_error(req, "delete the bucket");
		} else
			lc_reply_gcs_error(req, 405, "methodNotAllowed",
			    "Method %s is not allowed here.",
			    lc_method_name(method));
		return;
	}
	if (strcmp(rest, "/o") == 0 || strcmp(rest, "/o/") == 0) {
		if (method != EVHTTP_REQ_GET)
			lc_reply_gcs_error(req, 400, "invalid",
			    "Uploads go to /upload/storage/v1/b/%s/o.",
			    bucket_name);
		else if (b == NULL)
			reply_no_bucket(req);
		else
			handle_list(s, req, b, query);
		return;
	}
	if (strncmp(rest, "/o/", 3) == 0) {
		handle_object(s, req, bucket_name, rest + 3, query, 0);
		return;
	}
	lc_reply_gcs_error(req, 404, "notFound", "Not Found");
}

/* Splits "/BUCKET/rest" into a checked bucket name and the rest. */
static int
split_bucket(struct evhttp_request *req, const char *p, char *bucket,
    size_t size, const char **rest)
{
	size_t len;

	if (*p != '/') {
		lc_reply_gcs_error(req, 404, "notFound", "Not Found");
		return -1;
	}
	p++;
	len = strcspn(p, "/");
	if (len == 0 || len >= size) {
		lc_reply_gcs_error(req, 400, "invalid",
		    "Invalid bucket name.");
		return -1;
	}
	memcpy(bucket, p, len);
	bucket[len] = '\0';
	if (!objstore_valid_bucket_name(bucket)) {
		lc_reply_gcs_error(req, 400, "invalid",
		    "Invalid bucket name.");
		return -1;
	}
	*rest = p + len;
	return 0;
}

static int
storage_route(struct lc *lc, struct evhttp_request *req, const char *path,
    const char *query)
{
	struct storage *s = lc->storage;
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	char bucket[OBJSTORE_BUCKET_NAME_MAX + 1];
	const char *rest;

	if (strncmp(path, "/storage/v1/b", 13) == 0 &&
	    (path[13] == '\0' || path[13] == '/')) {
		if (path[13] == '\0' || strcmp(path + 13, "/") == 0) {
			if (method == EVHTTP_REQ_POST)
				handle_bucket_insert(s, req);
			else if (method == EVHTTP_REQ_GET)
				handle_bucket_list(s, req);
			else
				lc_reply_gcs_error(req, 405,
				    "methodNotAllowed", "Method %s is not "
				    "allowed here.", lc_method_name(method));
			return 1;
		}
		if (split_bucket(req, path + 13, bucket, sizeof(bucket),
		    &rest) == 0)
			handle_bucket_path(s, req, bucket, rest, query);
		return 1;
	}
	if (strncmp(path, "/upload/storage/v1/b/", 21) == 0) {
		if (split_bucket(req, path + 20, bucket, sizeof(bucket),
		    &rest) == -1)
			return 1;
		if (strcmp(rest, "/o") != 0 || method != EVHTTP_REQ_POST)
			lc_reply_gcs_error(req, 404, "notFound",
			    "Uploads are POST /upload/storage/v1/b/BUCKET/o.");
		else
			handle_upload(s, req, bucket, query);
		return 1;
	}
	if (strncmp(path, "/download/storage/v1/b/", 23) == 0) {
		if (split_bucket(req, path + 22, bucket, sizeof(bucket),
		    &rest) == -1)
			return 1;
		if (strncmp(rest, "/o/", 3) != 0)
			lc_reply_gcs_error(req, 404, "notFound", "Not Found");
		else
			handle_object(s, req, bucket, rest + 3, query, 1);
		return 1;
	}
	return 0;
}

static int
storage_init(struct lc *lc)
{
	struct storage *s;
	char root[LC_PATH_MAX];
	size_t i, n = 0;

	if (snprintf(root, sizeof(root), "%s/storage", lc->data_dir) >=
	    (int)sizeof(root)) {
		log_warnx("the data dir path is too long");
		return -1;
	}
	if (tokens_open(lc) == -1)
		return -1;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		tokens_close();
		return -1;
	}
	s->lc = lc;
	if ((s->store = objstore_open(root)) == NULL) {
		free(s);
		tokens_close();
		return -1;
	}
	for (i = 0; i < s->store->count; i++)
		n += s->store->buckets[i]->count;
	log_info("storage: %zu buckets, %zu objects in %s", s->store->count,
	    n, root);
	lc->storage = s;
	return 0;
}

static void
storage_shutdown(struct lc *lc)
{
	struct storage *s = lc->storage;

	if (s == NULL)
		return;
	objstore_close(s->store);
	free(s);
	lc->storage = NULL;
	tokens_close();
}

const struct lc_module storage_module = {
	"storage", storage_init, storage_route, storage_shutdown
};

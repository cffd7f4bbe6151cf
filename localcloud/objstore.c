/* Buckets and objects on disk and in memory, for the Storage module. */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "durable.h"
#include "log.h"
#include "localcloud.h"
#include "objstore.h"

/* Maximum size of a metadata file read back at start-up, in bytes. */
#define OBJSTORE_META_FILE_MAX	(256 * 1024)
#define B64	sodium_base64_VARIANT_ORIGINAL

/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum GCS
 * reports. None of the project's libraries (OpenSSL, zlib, libsodium)
 * provides it, hence this table-driven version. */
static uint32_t crc32c_table[256];

static void
crc32c_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i;
		for (j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc32c_table[i] = c;
	}
}

/* Extends crc (0 to start) over len bytes of data. */
uint32_t
objstore_crc32c(uint32_t crc, const void *data, size_t len)
{
	const unsigned char *p = data;

	if (crc32c_table[1] == 0)
		crc32c_init();
	crc = ~crc;
	while (len-- > 0)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/*
 * Accepts bucket names as GCS does: 3 to 63 characters of lowercase
 * letters, digits, '-', '_' and '.', starting and ending with a letter or
 * digit. Names with dots may reach 222 characters in parts of at most 63.
 * Such a name is also a safe folder name, with no '/' and never "." or "..".
 */
int
objstore_valid_bucket_name(const char *name)
{
	size_t i, len = strlen(name), part = 0;
	int dots = 0;

	if (len < 3 || len > OBJSTORE_BUCKET_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (c == '.') {
			if (part == 0)
				return 0;
			part = 0;
			dots = 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return 0;
		if (++part > 63)
			return 0;
	}
	if (!dots && len > 63)
		return 0;
	return ((name[0] >= 'a' && name[0] <= 'z') ||
	    (name[0] >= '0' && name[0] <= '9')) &&
	    ((name[len - 1] >= 'a' && name[len - 1] <= 'z') ||
	    (name[len - 1] >= '0' && name[len - 1] <= '9'));
}

/* Returns why an object name is invalid, or NULL when it is valid. */
const char *
objstore_invalid_object_name(const char *name, size_t len)
{
	const char *seg, *end = name + len, *slash;

	if (len == 0)
		return "The object name is empty.";
	if (len > OBJSTORE_OBJECT_NAME_MAX)
		return "The object name is longer than 1024 bytes.";
	if (memchr(name, '\0', len) != NULL)
		return "The object name contains a NUL byte.";
	if (memchr(name, '\r', len) != NULL || memchr(name, '\n', len) != NULL)
		return "The object name contains a carriage return or line "
		    "feed.";
	if (!lc_utf8_valid(name, len))
		return "The object name is not valid UTF-8.";
	for (seg = name; seg <= end; seg = slash + 1) {
		slash = memchr(seg, '/', (size_t)(end - seg));
		if (slash == NULL)
			slash = end;
		if ((slash - seg == 1 && seg[0] == '.') ||
		    (slash - seg == 2 && seg[0] == '.' && seg[1] == '.'))
			return "The object name contains a '.' or '..' "
			    "segment.";
	}
	return NULL;
}

/* Writes the hex SHA-256 of name into hash[65]. */
static void
name_hash(const char *name, char hash[65])
{
	unsigned char md[32];
	unsigned int md_len = 0;

	EVP_Digest(name, strlen(name), md, &md_len, EVP_sha256(), NULL);
	sodium_bin2hex(hash, 65, md, sizeof(md));
}

/* Allocates "a/b". */
static char *
path_join(const char *a, const char *b)
{
	char *out;

	if (asprintf(&out, "%s/%s", a, b) == -1)
		return NULL;
	return out;
}

static void
object_free(struct object *obj)
{
	if (obj == NULL)
		return;
	free(obj->name);
	free(obj->content_type);
	json_decref(obj->metadata);
	free(obj);
}

static void
bucket_free(struct bucket *b)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->count; i++)
		object_free(b->objects[i]);
	free(b->objects);
	free(b->object_dir);
	free(b->dir);
	free(b);
}

int
objstore_data_path(const struct bucket *bucket, const struct object *obj,
    char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s.%" PRId64 ".data",
	    bucket->object_dir, obj->hash, obj->generation);

	return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Returns a generation number: the time in microseconds, as GCS uses,
 * made strictly greater than any handed out before. */
static int64_t
next_generation(struct objstore *store)
{
	struct timespec ts;
	int64_t g;

	clock_gettime(CLOCK_REALTIME, &ts);
	g = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (g <= store->last_generation)
		g = store->last_generation + 1;
	store->last_generation = g;
	return g;
}

/* Parses a decimal int64 string of a stored record. */
static int
parse_int64(const json_t *v, int64_t *out)
{
	const char *s = json_string_value(v);
	char *end;
	long long n;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0)
		return -1;
	*out = n;
	return 0;
}

/* The metadata file contents: the Object resource's stored fields. */
static json_t *
object_record(const struct object *obj)
{
	char gen[24], meta[24], size[24], created[40], updated[40];
	json_t *rec;

	snprintf(gen, sizeof(gen), "%" PRId64, obj->generation);
	snprintf(meta, sizeof(meta), "%" PRId64, obj->metageneration);
	snprintf(size, sizeof(size), "%" PRId64, obj->size);
	if (lc_format_time(&obj->created, created, sizeof(created)) == -1 ||
	    lc_format_time(&obj->updated, updated, sizeof(updated)) == -1)
		return NULL;
	rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
	    "name", obj->name, "generation", gen, "metageneration", meta,
	    "size", size, "contentType", obj->content_type,
	    "md5Hash", obj->md5, "crc32c", obj->crc32c,
	    "timeCreated", created, "updated", updated);
	if (rec != NULL && obj->metadata != NULL)
		json_object_set(rec, "metadata", obj->metadata);
	return rec;
}

/* Builds an object from its metadata file's contents. */
static struct object *
object_from_record(const json_t *rec)
{
	struct object *obj;
	const char *name, *type, *md5, *crc, *created, *updated;
	json_t *meta;

	if ((obj = calloc(1, sizeof(*obj))) == NULL)
		return NULL;
	name = json_string_value(json_object_get(rec, "name"));
	type = json_string_value(json_object_get(rec, "contentType"));
	md5 = json_string_value(json_object_get(rec, "md5Hash"));
	crc = json_string_value(json_object_get(rec, "crc32c"));
	created = json_string_value(json_object_get(rec, "timeCreated"));
	updated = json_string_value(json_object_get(rec, "updated"));
	meta = json_object_get(rec, "metadata");
	if (name == NULL || type == NULL || md5 == NULL || crc == NULL ||
	    created == NULL || updated == NULL ||
	    strlen(md5) >= sizeof(obj->md5) ||
	    strlen(crc) >= sizeof(obj->crc32c) ||
	    (meta != NULL && !json_is_object(meta)) ||
	    objstore_invalid_object_name(name, strlen(name)) != NULL ||
	    parse_int64(json_object_get(rec, "generation"),
	    &obj->generation) == -1 ||
	    parse_int64(json_object_get(rec, "metageneration"),
	    &obj->metageneration) == -1 ||
	    parse_int64(json_object_get(rec, "size"), &obj->size) == -1 ||
	    lc_parse_time(created, &obj->created) == -1 ||
	    lc_parse_time(updated, &obj->updated) == -1)
		goto fail;
	if ((obj->name = strdup(name)) == NULL ||
	    (obj->content_type = strdup(type)) == NULL)
		goto fail;
	snprintf(obj->md5, sizeof(obj->md5), "%s", md5);
	snprintf(obj->crc32c, sizeof(obj->crc32c), "%s", crc);
	obj->metadata = meta != NULL ? json_deep_copy(meta) : NULL;
	name_hash(obj->name, obj->hash);
	return obj;

fail:
	object_free(obj);
	return NULL;
}

static int
compare_objects(const void *a, const void *b)
{
	const struct object *const *x = a, *const *y = b;

	return strcmp((*x)->name, (*y)->name);
}

static int
compare_hashes(const void *a, const void *b)
{
	const struct object *const *x = a, *const *y = b;

	return strcmp((*x)->hash, (*y)->hash);
}

/* Makes room in the bucket's array for one more object. */
static int
bucket_reserve(struct bucket *b)
{
	struct object **grown;
	size_t cap;

	if (b->count == b->cap) {
		if (b->count >= OBJSTORE_MAX_OBJECTS) {
			errno = ENOSPC;
			return -1;
		}
		cap = b->cap == 0 ? 64 : b->cap * 2;
		if (cap > OBJSTORE_MAX_OBJECTS)
			cap = OBJSTORE_MAX_OBJECTS;
		if ((grown = reallocarray(b->objects, cap,
		    sizeof(*grown))) == NULL)
			return -1;
		b->objects = grown;
		b->cap = cap;
	}
	return 0;
}

/* Appends obj to the bucket's array, growing it. The caller sorts. */
static int
bucket_append(struct bucket *b, struct object *obj)
{
	if (bucket_reserve(b) == -1)
		return -1;
	b->objects[b->count++] = obj;
	return 0;
}

/* Reads one H.json file into the bucket. A bad file is logged and
 * skipped, so one damaged record does not hide the rest. */
static void
load_object(struct bucket *b, const char *file)
{
	char *path, *text;
	struct object *obj = NULL;
	json_t *rec = NULL;
	size_t len;

	if ((path = path_join(b->object_dir, file)) == NULL)
		return;
	if ((text = durable_read(path, OBJSTORE_META_FILE_MAX, &len)) ==
	    NULL) {
		log_warn("cannot read %s", path);
		goto done;
	}
	rec = json_loadb(text, len, 0, NULL);
	if (rec == NULL || (obj = object_from_record(rec)) == NULL ||
	    strncmp(obj->hash, file, 64) != 0) {
		log_warnx("%s: not a valid object record, skipped", path);
		goto done;
	}
	if (bucket_append(b, obj) == -1) {
		log_warn("%s: cannot load the object", path);
		goto done;
	}
	obj = NULL;
done:
	object_free(obj);
	json_decref(rec);
	free(text);
	free(path);
}

/* Removes temporary files and data files that no record names: leftovers
 * of a write or delete cut short. */
static void
remove_orphans(struct bucket *b)
{
	struct object **by_hash = NULL, key_obj, *key = &key_obj, **found;
	struct dirent *de;
	DIR *dir;
	char hash[65];
	int64_t gen;
	int n;

	if (b->count > 0) {
		if ((by_hash = calloc(b->count, sizeof(*by_hash))) == NULL)
			return;
		memcpy(by_hash, b->objects, b->count * sizeof(*by_hash));
		qsort(by_hash, b->count, sizeof(*by_hash), compare_hashes);
	}
	if ((dir = opendir(b->object_dir)) == NULL) {
		free(by_hash);
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		int orphan = strncmp(de->d_name, ".tmp.", 5) == 0;

		n = -1;
		if (!orphan && sscanf(de->d_name, "%64[0-9a-f].%" SCNd64
		    ".data%n", hash, &gen, &n) == 2 && n > 0 &&
		    de->d_name[n] == '\0') {
			memcpy(key_obj.hash, hash, sizeof(hash));
			found = by_hash == NULL ? NULL : bsearch(&key, by_hash,
			    b->count, sizeof(*by_hash), compare_hashes);
			orphan = found == NULL || (*found)->generation != gen;
		}
		if (orphan) {
			log_info("removing leftover file %s/%s",
			    b->object_dir, de->d_name);
			if (unlinkat(dirfd(dir), de->d_name, 0) == -1)
				log_warn("cannot remove %s/%s",
				    b->object_dir, de->d_name);
		}
	}
	closedir(dir);
	free(by_hash);
}

/* Allocates a bucket record with its folder paths. */
static struct bucket *
bucket_new(const struct objstore *store, const char *name)
{
	struct bucket *b;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	snprintf(b->name, sizeof(b->name), "%s", name);
	if ((b->dir = path_join(store->root, name)) == NULL ||
	    (b->object_dir = path_join(b->dir, "o")) == NULL) {
		bucket_free(b);
		return NULL;
	}
	return b;
}

/* Loads a bucket folder: its record, its objects, and orphan cleanup. */
static struct bucket *
load_bucket(struct objstore *store, const char *name)
{
	struct bucket *b;
	struct dirent *de;
	json_t *rec = NULL;
	const char *created;
	char *path = NULL, *text = NULL;
	size_t len;
	DIR *dir;

	if ((b = bucket_new(store, name)) == NULL)
		return NULL;
	if ((path = path_join(b->dir, "bucket.json")) == NULL ||
	    (text = durable_read(path, OBJSTORE_META_FILE_MAX, &len)) ==
	    NULL || (rec = json_loadb(text, len, 0, NULL)) == NULL ||
	    (created = json_string_value(json_object_get(rec,
	    "timeCreated"))) == NULL ||
	    lc_parse_time(created, &b->created) == -1) {
		log_warnx("%s/bucket.json is missing or invalid; bucket "
		    "skipped", b->dir);
		goto fail;
	}
	if ((dir = opendir(b->object_dir)) == NULL) {
		log_warn("cannot open %s", b->object_dir);
		goto fail;
	}
	while ((de = readdir(dir)) != NULL) {
		len = strlen(de->d_name);
		if (len == 64 + 5 && strcmp(de->d_name + 64, ".json") == 0)
			load_object(b, de->d_name);
	}
	closedir(dir);
	if (b->count > 0)
		qsort(b->objects, b->count, sizeof(*b->objects),
		    compare_objects);
	remove_orphans(b);
	json_decref(rec);
	free(text);
	free(path);
	return b;

fail:
	json_decref(rec);
	free(text);
	free(path);
	bucket_free(b);
	return NULL;
}

/* Opens the store at root, creating it when missing, and loads every
 * bucket and object into memory. */
struct objstore *
objstore_open(const char *root)
{
	struct objstore *store;
	struct bucket *b;
	struct dirent *de;
	DIR *dir;
	size_t i;

	if ((store = calloc(1, sizeof(*store))) == NULL)
		return NULL;
	if ((store->root = strdup(root)) == NULL ||
	    (store->buckets = calloc(OBJSTORE_MAX_BUCKETS,
	    sizeof(*store->buckets))) == NULL)
		goto fail;
	if (durable_mkdir(root) == -1) {
		log_warn("cannot create %s", root);
		goto fail;
	}
	if ((dir = opendir(root)) == NULL) {
		log_warn("cannot open %s", root);
		goto fail;
	}
	while ((de = readdir(dir)) != NULL) {
		if (!objstore_valid_bucket_name(de->d_name))
			continue;
		if (store->count == OBJSTORE_MAX_BUCKETS) {
			log_warnx("%s: more than %d buckets; the rest are "
			    "ignored", root, OBJSTORE_MAX_BUCKETS);
			break;
		}
		if ((b = load_bucket(store, de->d_name)) != NULL)
			store->buckets[store->count++] = b;
	}
	closedir(dir);

	/* New generations must exceed every stored one, even if the clock
	 * went back since they were written. */
	for (i = 0; i < store->count; i++) {
		size_t j;

		for (j = 0; j < store->buckets[i]->count; j++)
			if (store->buckets[i]->objects[j]->generation >
			    store->last_generation)
				store->last_generation =
				    store->buckets[i]->objects[j]->generation;
	}
	return store;

fail:
	objstore_close(store);
	return NULL;
}

void
objstore_close(struct objstore *store)
{
	size_t i;

	if (store == NULL)
		return;
	for (i = 0; i < store->count; i++)
		bucket_free(store->buckets[i]);
	free(store->buckets);
	free(store->root);
	free(store);
}

struct bucket *
objstore_bucket(struct objstore *store, const char *name)
{
	size_t i;

	for (i = 0; i < store->count; i++)
		if (strcmp(store->buckets[i]->name, name) == 0)
			return store->buckets[i];
	return NULL;
}

/* Creates a bucket folder and record. errno is EEXIST when it exists,
 * EINVAL for an invalid name and ENOSPC at the bucket limit. */
int
objstore_bucket_create(struct objstore *store, const char *name,
    struct bucket **out)
{
	struct bucket *b;
	char created[40];
	struct timespec now;
	json_t *rec;

	if (!objstore_valid_bucket_name(name)) {
		errno = EINVAL;
		return -1;
	}
	if (objstore_bucket(store, name) != NULL) {
		errno = EEXIST;
		return -1;
	}
	if (store->count == OBJSTORE_MAX_BUCKETS) {
		errno = ENOSPC;
		return -1;
	}
	if ((b = bucket_new(store, name)) == NULL)
		return -1;
	clock_gettime(CLOCK_REALTIME, &now);
	b->created = now;
	if (lc_format_time(&now, created, sizeof(created)) == -1 ||
	    (rec = json_pack("{s:s, s:s}", "name", name, "timeCreated",
	    created)) == NULL) {
		bucket_free(b);
		errno = ENOMEM;
		return -1;
	}
	if (durable_mkdir(b->object_dir) == -1 ||
	    durable_write_json(b->dir, "bucket.json", rec) == -1 ||
	    durable_sync_dir(store->root) == -1) {
		int saved = errno;

		json_decref(rec);
		bucket_free(b);
		errno = saved;
		return -1;
	}
	json_decref(rec);
	store->buckets[store->count++] = b;
	if (out != NULL)
		*out = b;
	return 0;
}

/* Deletes an empty bucket. errno is ENOTEMPTY when it has objects. */
int
objstore_bucket_delete(struct objstore *store, struct bucket *bucket)
{
	size_t i;

	if (bucket->count > 0) {
		errno = ENOTEMPTY;
		return -1;
	}
	if (durable_remove(bucket->dir, "bucket.json") == -1)
		return -1;
	if (rmdir(bucket->object_dir) == -1 || rmdir(bucket->dir) == -1 ||
	    durable_sync_dir(store->root) == -1)
		log_warn("cannot remove the folder of bucket %s",
		    bucket->name);
	for (i = 0; i < store->count; i++)
		if (store->buckets[i] == bucket)
			break;
	store->buckets[i] = store->buckets[--store->count];
	bucket_free(bucket);
	return 0;
}

/* Returns the index of the first object whose name is >= name. */
size_t
objstore_lower_bound(const struct bucket *bucket, const char *name)
{
	size_t lo = 0, hi = bucket->count, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcmp(bucket->objects[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct object *
objstore_find(const struct bucket *bucket, const char *name)
{
	size_t i = objstore_lower_bound(bucket, name);

	if (i < bucket->count && strcmp(bucket->objects[i]->name, name) == 0)
		return bucket->objects[i];
	return NULL;
}

/* Computes the base64 MD5 and CRC32C of data into obj. */
static void
object_checksums(struct object *obj, const void *data, size_t len)
{
	unsigned char md5[16], crc_be[4];
	unsigned int md5_len = 0;
	uint32_t crc = objstore_crc32c(0, data, len);

	EVP_Digest(data, len, md5, &md5_len, EVP_md5(), NULL);
	sodium_bin2base64(obj->md5, sizeof(obj->md5), md5, sizeof(md5), B64);
	crc_be[0] = (unsigned char)(crc >> 24);
	crc_be[1] = (unsigned char)(crc >> 16);
	crc_be[2] = (unsigned char)(crc >> 8);
	crc_be[3] = (unsigned char)crc;
	sodium_bin2base64(obj->crc32c, sizeof(obj->crc32c), crc_be,
	    sizeof(crc_be), B64);
}

/* Writes obj's record as H.json, the commit point of a change. */
static int
write_record(const struct bucket *bucket, const struct object *obj)
{
	char file[80];
	json_t *rec;
	int rc;

	snprintf(file, sizeof(file), "%s.json", obj->hash);
	if ((rec = object_record(obj)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = durable_write_json(bucket->object_dir, file, rec);
	json_decref(rec);
	return rc;
}

/* Removes a data file named by its bucket and generation. */
static void
remove_data(const struct bucket *bucket, const struct object *obj)
{
	char path[LC_PATH_MAX];

	if (objstore_data_path(bucket, obj, path, sizeof(path)) == -1)
		return;
	if (unlink(path) == -1 && errno != ENOENT)
		log_warn("cannot remove %s", path);
}

/*
 * Stores a new generation of name with the given bytes, content type and
 * user metadata (or NULL), replacing the live one. The caller has checked
 * the name and the preconditions. errno is ENOSPC at the object limit.
 */
int
objstore_put(struct objstore *store, struct bucket *bucket, const char *name,
    const void *data, size_t len, const char *content_type,
    const json_t *metadata, struct object **out)
{
	struct object *obj, *old;
	char file[100];
	size_t i;

	/* Room in memory first, so nothing can fail after the commit. */
	old = objstore_find(bucket, name);
	if (old == NULL && bucket_reserve(bucket) == -1)
		return -1;
	if ((obj = calloc(1, sizeof(*obj))) == NULL)
		return -1;
	if ((obj->name = strdup(name)) == NULL ||
	    (obj->content_type = strdup(content_type)) == NULL ||
	    (metadata != NULL &&
	    (obj->metadata = json_deep_copy(metadata)) == NULL)) {
		object_free(obj);
		errno = ENOMEM;
		return -1;
	}
	name_hash(name, obj->hash);
	obj->generation = next_generation(store);
	obj->metageneration = 1;
	obj->size = (int64_t)len;
	clock_gettime(CLOCK_REALTIME, &obj->created);
	obj->updated = obj->created;
	object_checksums(obj, data, len);

	/* Data first, then the record that points at it. */
	snprintf(file, sizeof(file), "%s.%" PRId64 ".data", obj->hash,
	    obj->generation);
	if (durable_write(bucket->object_dir, file, data, len, 0600) == -1) {
		object_free(obj);
		return -1;
	}
	if (write_record(bucket, obj) == -1) {
		int saved = errno;

		remove_data(bucket, obj);
		object_free(obj);
		errno = saved;
		return -1;
	}

	if (old != NULL) {
		remove_data(bucket, old);
		i = objstore_lower_bound(bucket, name);
		bucket->objects[i] = obj;
		object_free(old);
	} else {
		i = objstore_lower_bound(bucket, name);
		bucket->count++;
		memmove(bucket->objects + i + 1, bucket->objects + i,
		    (bucket->count - 1 - i) * sizeof(*bucket->objects));
		bucket->objects[i] = obj;
	}
	if (out != NULL)
		*out = obj;
	return 0;
}

/* Replaces an object's content type and user metadata (or NULL) and
 * bumps its metageneration. */
int
objstore_update(struct bucket *bucket, struct object *obj,
    const char *content_type, const json_t *metadata)
{
	struct object next = *obj;
	json_t *meta_copy = NULL;
	char *type_copy;

	if ((type_copy = strdup(content_type)) == NULL)
		return -1;
	if (metadata != NULL && (meta_copy = json_deep_copy(metadata)) ==
	    NULL) {
		free(type_copy);
		errno = ENOMEM;
		return -1;
	}
	next.content_type = type_copy;
	next.metadata = meta_copy;
	next.metageneration++;
	clock_gettime(CLOCK_REALTIME, &next.updated);
	if (write_record(bucket, &next) == -1) {
		int saved = errno;

		json_decref(meta_copy);
		free(type_copy);
		errno = saved;
		return -1;
	}
	free(obj->content_type);
	json_decref(obj->metadata);
	*obj = next;
	return 0;
}

/* Deletes the live object: its record first (the commit point), then its
 * data file. */
int
objstore_delete(struct bucket *bucket, struct object *obj)
{
	char file[80];
	size_t i;

	snprintf(file, sizeof(file), "%s.json", obj->hash);
	if (durable_remove(bucket->object_dir, file) == -1)
		return -1;
	remove_data(bucket, obj);
	i = objstore_lower_bound(bucket, obj->name);
	memmove(bucket->objects + i, bucket->objects + i + 1,
	    (bucket->count - i - 1) * sizeof(*bucket->objects));
	bucket->count--;
	object_free(obj);
	return 0;
}

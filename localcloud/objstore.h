/*
 * The object store behind the Cloud Storage module: buckets and their live
 * objects, kept in memory (sorted by name) and on disk under one root.
 *
 * Layout: ROOT/BUCKET/bucket.json, and per object ROOT/BUCKET/o/H.json
 * (its metadata) and ROOT/BUCKET/o/H.GEN.data (its bytes), where H is the
 * hex SHA-256 of the object name. Hashing makes every name, whatever its
 * bytes, a fixed-length file name that cannot leave the folder. A write
 * stores the new generation's data file first and then replaces H.json,
 * so the metadata rename is the commit point. After a crash, H.json names
 * a data file that exists, and the next start removes data files that no
 * H.json names.
 */
#ifndef LOCALCLOUD_OBJSTORE_H
#define LOCALCLOUD_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#define OBJSTORE_BUCKET_NAME_MAX	222	/* bytes, dotted names */
#define OBJSTORE_OBJECT_NAME_MAX	1024	/* bytes of UTF-8 */
#define OBJSTORE_MAX_BUCKETS		1000
#define OBJSTORE_MAX_OBJECTS		100000	/* per bucket */
#define OBJSTORE_CONTENT_TYPE_MAX	256	/* bytes */

struct object {
	char		*name;
	char		 hash[65];	/* hex SHA-256 of name */
	int64_t		 generation;
	int64_t		 metageneration;
	int64_t		 size;		/* bytes */
	char		*content_type;
	char		 md5[32];	/* base64 of the 16-byte MD5 */
	char		 crc32c[16];	/* base64 of the big-endian CRC32C */
	struct timespec	 created;
	struct timespec	 updated;
	json_t		*metadata;	/* user key/value strings, or NULL */
};

struct bucket {
	char		 name[OBJSTORE_BUCKET_NAME_MAX + 1];
	char		*dir;		/* ROOT/BUCKET */
	char		*object_dir;	/* ROOT/BUCKET/o */
	struct timespec	 created;
	struct object	**objects;	/* sorted by name, bytewise */
	size_t		 count;
	size_t		 cap;
};

struct objstore {
	char		*root;
	struct bucket	**buckets;
	size_t		 count;
	int64_t		 last_generation;
};

int		 objstore_valid_bucket_name(const char *name);
const char	*objstore_invalid_object_name(const char *name, size_t len);
uint32_t	 objstore_crc32c(uint32_t crc, const void *data, size_t len);

struct objstore	*objstore_open(const char *root);
void		 objstore_close(struct objstore *store);
struct bucket	*objstore_bucket(struct objstore *store, const char *name);
int		 objstore_bucket_create(struct objstore *store,
		    const char *name, struct bucket **out);
int		 objstore_bucket_delete(struct objstore *store,
		    struct bucket *bucket);
struct object	*objstore_find(const struct bucket *bucket, const char *name);
size_t		 objstore_lower_bound(const struct bucket *bucket,
		    const char *name);
int		 objstore_put(struct objstore *store, struct bucket *bucket,
		    const char *name, const void *data, size_t len,
		    const char *content_type, const json_t *metadata,
		    struct object **out);
int		 objstore_update(struct bucket *bucket, struct object *obj,
		    const char *content_type, const json_t *metadata);
int		 objstore_delete(struct bucket *bucket, struct object *obj);
int		 objstore_data_path(const struct bucket *bucket,
		    const struct object *obj, char *buf, size_t size);

#endif

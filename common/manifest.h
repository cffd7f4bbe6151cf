/*
 * The registration manifest (manifest.yaml): the service type, the agent's
 * endpoint and the implementations with their status. The YAML is loaded
 * into a jansson document with the types of the YAML 1.2 core schema,
 * which the schema check in tools/schema uses too. Plain true/false are
 * booleans, plain numbers are numbers, plain null and ~ are null, and every
 * quoted or block scalar is a string. Anchors, aliases and tags other than
 * the standard scalar tags are rejected.
 */
#ifndef MANIFEST_H
#define MANIFEST_H

#include <stddef.h>

#include <jansson.h>

/* Limits on what the loader accepts: bytes of YAML, nesting levels of
 * mappings and sequences, nodes (scalars, mappings and sequences). */
#define MANIFEST_MAX_BYTES	(1024 * 1024)
#define MANIFEST_MAX_DEPTH	32
#define MANIFEST_MAX_NODES	20000

/* Maximum length of an implementation or service name, which is also a
 * label value. */
#define MANIFEST_NAME_MAX	63

struct manifest {
	json_t	*doc;		/* the whole manifest as JSON */
	json_t	*lines;		/* JSON pointer of each node -> its line */
	char	 source[256];	/* file name used in error messages */
};

/* One implementation entry; the strings belong to the manifest document. */
struct manifest_impl {
	const char	*name;
	const char	*status;	/* "active" or "disabled" */
	const char	*reason;	/* NULL when the entry has none */
	const char	*service_name;	/* NULL when the entry has none */
	int		 active;
};

struct manifest	*manifest_load_file(const char *path, char *err,
		    size_t errlen);
struct manifest	*manifest_load_buffer(const char *source, const char *data,
		    size_t len, char *err, size_t errlen);
void		 manifest_free(struct manifest *);

const char	*manifest_service_type(const struct manifest *);
size_t		 manifest_impl_count(const struct manifest *);
int		 manifest_impl_at(const struct manifest *, size_t index,
		    struct manifest_impl *);
int		 manifest_impl_find(const struct manifest *, const char *name,
		    struct manifest_impl *);
json_t		*manifest_active_names(const struct manifest *);
json_t		*manifest_implementations_response(const struct manifest *,
		    const json_t *service_urls);
int		 manifest_line(const struct manifest *, const char *pointer);

#endif
